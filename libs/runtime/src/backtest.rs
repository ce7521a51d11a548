//! The backtest driver: market data, the simulated venue and the kernel on
//! one timeline with two clocks.
//!
//! Each data event reaches the matching engine at its exchange time and the
//! kernel at its local time (from the data, or exchange time plus a feed
//! latency sample). Commands reach the engine after the entry latency and
//! reports come back after the response latency (see
//! `veloz_sim::backtest`). At every step the driver takes whatever happens
//! first; at equal times the exchange side goes first, and on the kernel side
//! venue reports go before market data, and market data before timers.
//!
//! Sources are merged by exchange time. Bars are expanded into the intra-bar
//! path the engine matches against (`veloz_sim::backtest::bar_events`) and
//! reach the kernel only when they close. Within one source, events are
//! taken in file order; an event stamped earlier than its predecessor is
//! treated as happening at the predecessor's time (and counted).

use std::collections::VecDeque;

use veloz_core::events::{Command, EventTimes, MarketEvent};
use veloz_core::{Currency, Instrument, InstrumentId, Money, Price, UnixNanos};
use veloz_sim::backtest::{
    bar_events, BacktestVenue, FeedLatency, Latency, TimeQueue, VenueMessage,
};
use veloz_sim::{AccountId, QueueModel, SimConfig, SimExchange};

use crate::input::Input;
use crate::kernel::{FillRecord, Kernel, KernelError, KernelStats, Venue};
use crate::strategy::Strategy;

/// An error from a data source (the catalog's, a CSV reader's, ...).
pub type DataError = Box<dyn std::error::Error + Send + Sync>;

/// A stream of market events in time order.
pub type DataSource = Box<dyn Iterator<Item = Result<MarketEvent, DataError>> + Send>;

/// How the backtest is set up.
#[derive(Debug)]
pub struct BacktestSettings {
    /// Instruments to simulate (with their fees and rules).
    pub instruments: Vec<Instrument>,
    /// Starting balances: a currency used by a spot instrument goes to the
    /// spot wallet, a futures margin asset to the futures wallet (both if both).
    pub balances: Vec<Money>,
    /// Leverage of every futures instrument.
    pub leverage: Option<u32>,
    /// Queue-position model of the matching engine.
    pub queue: Box<dyn QueueModel>,
    /// Order entry latency (kernel → engine).
    pub entry_latency: Box<dyn Latency>,
    /// Response latency (engine → kernel).
    pub response_latency: Box<dyn Latency>,
    /// Feed latency for data without a receive time.
    pub feed_latency: Box<dyn Latency>,
    /// Equity curve sampling interval, nanoseconds (0: only at fills and the end).
    pub equity_interval_nanos: u64,
    /// Kernel settings.
    pub kernel: crate::kernel::KernelConfig,
}

/// Why a backtest stopped.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A data source failed.
    #[error("market data: {0}")]
    Data(DataError),
    /// Data for an instrument the run does not simulate.
    #[error("the data contains {0}, which is not one of the run's instruments; add it to the instruments or filter the data")]
    UnknownInstrument(InstrumentId),
    /// The engine refused the data.
    #[error("the matching engine refused market data: {0}")]
    Sim(#[from] veloz_sim::SimError),
    /// The kernel stopped.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// Setup failed.
    #[error("backtest setup: {0}")]
    Setup(String),
}

/// One point of the equity curve, in the run's account currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EquityPoint {
    /// Local time.
    pub time: UnixNanos,
    /// Equity: starting value + realised + unrealised + funding − fees.
    pub equity: Money,
    /// Realised PnL so far.
    pub realized: Money,
    /// Unrealised PnL at the reference prices.
    pub unrealized: Money,
    /// Fees paid so far (converted at the reference price when charged in the base).
    pub fees: Money,
    /// Funding received so far (negative: paid).
    pub funding: Money,
    /// Gross exposure: Σ |position| × reference price, in the account currency.
    pub exposure: Money,
}

/// A sampled market price (for markouts and price charts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PricePoint {
    /// Local time.
    pub time: UnixNanos,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Mid price (book, else quote), else the last trade or bar close.
    pub price: Price,
}

/// Counters of the driver.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DriverStats {
    /// Market events read from the sources.
    pub data_events: u64,
    /// Events the engine matched against (bars count their path points).
    pub exchange_events: u64,
    /// Inputs the kernel handled.
    pub kernel_inputs: u64,
    /// Events stamped earlier than their predecessor in the same source.
    pub out_of_order: u64,
    /// Commands the venue received.
    pub commands: u64,
}

/// Everything a finished run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// Fills in the order they reached the kernel.
    pub fills: Vec<FillRecord>,
    /// The equity curve.
    pub equity: Vec<EquityPoint>,
    /// Kernel counters.
    pub kernel: KernelStats,
    /// Driver counters.
    pub driver: DriverStats,
    /// First and last local time.
    pub span: (UnixNanos, UnixNanos),
    /// The account currency of the equity curve.
    pub currency: Currency,
    /// Starting equity.
    pub start_equity: Money,
    /// Sampled prices (see [`Backtest::record_prices`]).
    pub prices: Vec<PricePoint>,
}

/// Progress report (for a progress bar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Local time reached.
    pub time: UnixNanos,
    /// Data events read.
    pub events: u64,
    /// Fills so far.
    pub fills: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deliver {
    Exchange,
    Local,
    Both,
}

/// One data source: the iterator and the events read from it but not yet
/// given to the engine, as `(exchange time, slab slot, where to)`.
struct Cursor {
    iter: DataSource,
    buf: Pending,
    last: UnixNanos,
    done: bool,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("buffered", &self.buf.len())
            .field("last", &self.last)
            .field("done", &self.done)
            .finish()
    }
}

/// A cursor's events waiting for the engine: `(exchange time, slab slot,
/// where to)`. Usually one (the next event of the source); a bar adds its
/// intra-bar path, which waits behind the head.
#[derive(Debug, Default)]
struct Pending {
    head: Option<(UnixNanos, u32, Deliver)>,
    rest: VecDeque<(UnixNanos, u32, Deliver)>,
}

impl Pending {
    #[inline]
    fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    #[inline]
    fn push_back(&mut self, item: (UnixNanos, u32, Deliver)) {
        if self.head.is_none() {
            self.head = Some(item);
        } else {
            self.rest.push_back(item);
        }
    }

    #[inline]
    fn front(&self) -> Option<&(UnixNanos, u32, Deliver)> {
        self.head.as_ref()
    }

    #[inline]
    fn pop_front(&mut self) -> Option<(UnixNanos, u32, Deliver)> {
        let h = self.head.take();
        if !self.rest.is_empty() {
            self.head = self.rest.pop_front();
        }
        h
    }
}

/// Events between their source and the kernel. An event is written once into
/// a slot and stays there while the engine and then the kernel read it by
/// reference; the queues move only slot numbers. A released slot keeps its
/// old event until it is reused (at most as many as were ever in flight at
/// once).
#[derive(Debug, Default)]
struct Slab {
    items: Vec<MarketEvent>,
    free: Vec<u32>,
}

impl Slab {
    #[inline]
    fn put(&mut self, ev: MarketEvent) -> u32 {
        if let Some(i) = self.free.pop() {
            if let Some(slot) = self.items.get_mut(i as usize) {
                *slot = ev;
                return i;
            }
        }
        self.items.push(ev);
        (self.items.len() - 1) as u32
    }

    #[inline]
    fn get(&self, i: u32) -> Option<&MarketEvent> {
        self.items.get(i as usize)
    }

    #[inline]
    fn release(&mut self, i: u32) {
        self.free.push(i);
    }
}

/// The simulated venue takes the kernel's commands like any venue.
impl Venue for BacktestVenue {
    fn send(&mut self, command: &Command, now: UnixNanos) {
        BacktestVenue::send(self, command.clone(), now);
    }
}

/// A backtest: kernel, simulated venue and data (see the module docs).
#[derive(Debug)]
pub struct Backtest {
    kernel: Kernel,
    venue: BacktestVenue,
    cursors: Vec<Cursor>,
    feed: FeedLatency,
    slab: Slab,
    local: TimeQueue<u32>,
    /// The earliest source and its next exchange time, while no event was
    /// taken from the sources since it was found (`None`: look again).
    next_data: Option<Option<(usize, UnixNanos)>>,
    trade_seq: u64,
    equity: Vec<EquityPoint>,
    equity_interval: u64,
    next_equity: Option<UnixNanos>,
    stats: DriverStats,
    currency: Currency,
    start_equity_raw: i128,
    base_deposits: Vec<(InstrumentId, i128)>,
    first_time: Option<UnixNanos>,
    last_instrument: Option<(InstrumentId, Price)>,
    price_interval: u64,
    prices: Vec<PricePoint>,
    price_next: Vec<(InstrumentId, UnixNanos, Option<Price>)>,
}

/// The simulated account a backtest trades.
pub const BACKTEST_ACCOUNT: AccountId = AccountId(1);

impl Backtest {
    /// Sets up the venue and the kernel.
    pub fn new(
        settings: BacktestSettings,
        strategies: Vec<(String, Box<dyn Strategy>)>,
        sources: Vec<DataSource>,
    ) -> Result<Self, BacktestError> {
        let BacktestSettings {
            instruments,
            balances,
            leverage,
            queue,
            entry_latency,
            response_latency,
            feed_latency,
            equity_interval_nanos,
            kernel: kcfg,
        } = settings;
        let Some(first) = instruments.first() else {
            return Err(BacktestError::Setup(
                "no instruments: a backtest needs at least one".into(),
            ));
        };
        let currency = match first.contract {
            veloz_core::ContractKind::Spot => first.quote,
            _ => first.margin_asset,
        };
        let mut ex = SimExchange::new(SimConfig::default(), queue);
        ex.open_account(BACKTEST_ACCOUNT);
        let mut kernel = Kernel::new(&kcfg).map_err(|e| BacktestError::Setup(e.to_string()))?;
        for i in &instruments {
            ex.add_instrument(i.clone(), veloz_sim::InstrumentSettings::default())?;
            kernel.add_instrument(i.clone());
        }
        let mut start_equity_raw = 0i128;
        let mut base_deposits = Vec::new();
        for m in &balances {
            let c = m.currency();
            let spot = instruments.iter().any(|i| {
                i.id.kind == veloz_core::MarketKind::Spot && (i.base == c || i.quote == c)
            });
            let fut = instruments
                .iter()
                .any(|i| i.id.kind.is_futures() && i.margin_asset == c);
            if !spot && !fut {
                return Err(BacktestError::Setup(format!(
                    "balance in {c} is not used by any instrument of the run; remove it or add an instrument that trades or settles in {c}"
                )));
            }
            if spot {
                ex.deposit_spot(BACKTEST_ACCOUNT, *m)?;
            }
            if fut {
                ex.deposit_futures(BACKTEST_ACCOUNT, *m)?;
            }
            if c == currency {
                start_equity_raw += m.raw();
            } else if let Some(i) = instruments.iter().find(|i| {
                i.id.kind == veloz_core::MarketKind::Spot && i.base == c && i.quote == currency
            }) {
                base_deposits.push((i.id, m.raw()));
            }
        }
        if let Some(lev) = leverage {
            for i in instruments.iter().filter(|i| i.id.kind.is_futures()) {
                ex.set_leverage(BACKTEST_ACCOUNT, i.id, lev).map_err(|e| {
                    BacktestError::Setup(format!("leverage {lev} on {}: {e}", i.id))
                })?;
            }
        }
        for (name, s) in strategies {
            kernel
                .add_strategy(&name, s)
                .map_err(|e| BacktestError::Setup(e.to_string()))?;
        }
        let venue = BacktestVenue::new(ex, BACKTEST_ACCOUNT, entry_latency, response_latency);
        Ok(Self {
            kernel,
            venue,
            cursors: sources
                .into_iter()
                .map(|iter| Cursor {
                    iter,
                    buf: Pending::default(),
                    last: UnixNanos::ZERO,
                    done: false,
                })
                .collect(),
            feed: FeedLatency::new(feed_latency),
            slab: Slab::default(),
            local: TimeQueue::default(),
            next_data: None,
            trade_seq: 1 << 40,
            equity: Vec::new(),
            equity_interval: equity_interval_nanos,
            next_equity: None,
            stats: DriverStats::default(),
            currency,
            start_equity_raw,
            base_deposits,
            first_time: None,
            last_instrument: None,
            price_interval: 0,
            prices: Vec::new(),
            price_next: Vec::new(),
        })
    }

    /// Records each instrument's mid price (else last price) at most once
    /// per `interval_nanos` of local time, when it changed (0: off, the
    /// default). The samples are in [`RunOutput::prices`].
    pub fn record_prices(&mut self, interval_nanos: u64) {
        self.price_interval = interval_nanos;
    }

    fn sample_price(&mut self, time: UnixNanos, id: InstrumentId) {
        if self.price_interval == 0 {
            return;
        }
        let k = match self.price_next.iter().position(|(i, _, _)| *i == id) {
            Some(k) => k,
            None => {
                self.price_next.push((id, UnixNanos::ZERO, None));
                self.price_next.len() - 1
            }
        };
        let (_, next, last) = self.price_next[k];
        if time < next {
            return;
        }
        let Some(px) = self.kernel.mid_price(id) else {
            return;
        };
        if last == Some(px) {
            return;
        }
        self.prices.push(PricePoint {
            time,
            instrument: id,
            price: px,
        });
        let iv = self.price_interval;
        self.price_next[k] = (id, UnixNanos(time.0 - time.0 % iv + iv), Some(px));
    }

    /// The kernel (state after or during the run).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The kernel, mutably (to install a journal or checks before running).
    pub fn kernel_mut(&mut self) -> &mut Kernel {
        &mut self.kernel
    }

    /// The simulated venue (the venue's view of balances and positions).
    pub fn venue(&self) -> &BacktestVenue {
        &self.venue
    }

    fn refill(&mut self, i: usize) -> Result<(), BacktestError> {
        let c = &mut self.cursors[i];
        while c.buf.is_empty() && !c.done {
            // The event stays where the iterator wrote it until it is moved
            // once, into its slab slot.
            let next = c.iter.next();
            let ev = match &next {
                Some(Ok(ev)) => ev,
                Some(Err(_)) => {
                    return match next {
                        Some(Err(e)) => Err(BacktestError::Data(e)),
                        _ => Ok(()),
                    }
                }
                None => {
                    c.done = true;
                    break;
                }
            };
            self.stats.data_events += 1;
            let id = ev.instrument_ref();
            let tick = match &self.last_instrument {
                Some((last, tick)) if last == id => *tick,
                _ => {
                    let Some(inst) = self.venue.exchange().instrument(*id) else {
                        return Err(BacktestError::UnknownInstrument(*id));
                    };
                    self.last_instrument = Some((*id, inst.tick_size));
                    inst.tick_size
                }
            };
            if let MarketEvent::Bar(b) = ev {
                let b = *b;
                let first_id = self.trade_seq;
                self.trade_seq += 4;
                let close = UnixNanos(
                    b.open_time
                        .0
                        .saturating_add(u64::from(b.interval_secs) * 1_000_000_000),
                );
                for e in bar_events(&b, tick, first_id) {
                    let t = e.times().exchange.max(c.last);
                    if t != e.times().exchange {
                        self.stats.out_of_order += 1;
                    }
                    c.last = t;
                    c.buf.push_back((t, self.slab.put(e), Deliver::Exchange));
                }
                let t = close.max(c.last);
                c.last = t;
                let mut bar = b;
                bar.times = EventTimes {
                    exchange: t,
                    local: t,
                };
                c.buf
                    .push_back((t, self.slab.put(MarketEvent::Bar(bar)), Deliver::Local));
                continue;
            }
            let ts = ev.times().exchange;
            let t = ts.max(c.last);
            if t != ts {
                self.stats.out_of_order += 1;
            }
            c.last = t;
            if let Some(Ok(ev)) = next {
                c.buf.push_back((t, self.slab.put(ev), Deliver::Both));
            }
        }
        Ok(())
    }

    /// The source with the earliest next event.
    #[inline]
    fn next_source(&mut self) -> Result<Option<(usize, UnixNanos)>, BacktestError> {
        if let Some(d) = self.next_data {
            return Ok(d);
        }
        let d = self.find_next_source()?;
        self.next_data = Some(d);
        Ok(d)
    }

    fn find_next_source(&mut self) -> Result<Option<(usize, UnixNanos)>, BacktestError> {
        let mut best: Option<(usize, UnixNanos)> = None;
        for i in 0..self.cursors.len() {
            self.refill(i)?;
            if let Some((t, _, _)) = self.cursors[i].buf.front() {
                if best.is_none_or(|(_, b)| *t < b) {
                    best = Some((i, *t));
                }
            }
        }
        Ok(best)
    }

    /// Bookkeeping before the kernel takes an input at `time`.
    #[inline]
    fn before_input(&mut self, time: UnixNanos) {
        if self.first_time.is_none() {
            self.first_time = Some(time);
        }
        self.sample_equity_until(time);
        self.stats.kernel_inputs += 1;
    }

    fn kernel_input(&mut self, time: UnixNanos, input: Input) -> Result<(), BacktestError> {
        self.before_input(time);
        self.kernel.handle(time, input, &mut self.venue)?;
        Ok(())
    }

    fn sample_equity_until(&mut self, time: UnixNanos) {
        if self.equity_interval == 0 {
            return;
        }
        let next = *self.next_equity.get_or_insert_with(|| {
            UnixNanos(time.0 - time.0 % self.equity_interval + self.equity_interval)
        });
        if time < next {
            return;
        }
        // One point for the last boundary passed (state is unchanged between
        // boundaries without inputs).
        let boundary = UnixNanos(time.0 - time.0 % self.equity_interval);
        let p = self.equity_point(boundary);
        self.equity.push(p);
        self.next_equity = Some(UnixNanos(boundary.0 + self.equity_interval));
    }

    /// Equity now, at the kernel's reference prices.
    pub fn equity_point(&self, time: UnixNanos) -> EquityPoint {
        let cur = self.currency;
        let (mut realized, mut unrealized, mut fees, mut funding, mut exposure) =
            (0i128, 0i128, 0i128, 0i128, 0i128);
        let mut base_value = 0i128;
        for p in self.kernel.portfolio().positions() {
            let reference = self.kernel.reference_price(p.instrument);
            if p.pnl_currency == cur {
                realized += p.realized_raw;
                funding += p.funding_raw;
                if let Some(px) = reference {
                    unrealized += p.unrealized_raw(px).unwrap_or(0);
                    exposure += i128::from(p.qty_raw).abs() * i128::from(px.raw()) / 100_000_000;
                }
            }
            for (c, raw) in &p.fees {
                if *c == cur {
                    fees += raw;
                } else if let Some(px) = reference {
                    fees += raw * i128::from(px.raw()) / 100_000_000;
                }
            }
        }
        for (id, raw) in &self.base_deposits {
            if let Some(px) = self.kernel.reference_price(*id) {
                base_value += raw * i128::from(px.raw()) / 100_000_000;
            }
        }
        let m = |raw| Money::from_raw(raw, cur);
        EquityPoint {
            time,
            equity: m(self.start_equity_raw + base_value + realized + unrealized + funding - fees),
            realized: m(realized),
            unrealized: m(unrealized),
            fees: m(fees),
            funding: m(funding),
            exposure: m(exposure),
        }
    }

    fn deliver_venue(&mut self, t: UnixNanos, msg: VenueMessage) -> Result<(), BacktestError> {
        match Input::from_venue(msg) {
            Some(input) => self.kernel_input(t, input),
            None => Ok(()),
        }
    }

    /// Gives source `i`'s next event to the engine (and queues it for the
    /// kernel at its local time, unless it is a bar's intra-bar path point).
    #[inline]
    fn exchange_data(&mut self, i: usize) -> Result<(), BacktestError> {
        self.next_data = None;
        let Some((t, slot, how)) = self.cursors[i].buf.pop_front() else {
            return Ok(());
        };
        let Some(ev) = self.slab.get(slot) else {
            return Ok(());
        };
        if how != Deliver::Local {
            self.venue.on_market(ev)?;
            self.stats.exchange_events += 1;
        } else {
            self.venue.advance_time(t);
        }
        if how == Deliver::Exchange {
            self.slab.release(slot);
        } else {
            let local = self.feed.local_time(EventTimes {
                exchange: t,
                local: ev.times().local,
            });
            self.local.push(local, slot);
        }
        Ok(())
    }

    /// Runs to the end of the data, then stops the strategies and lets the
    /// venue answer what they sent last. `progress` is called every
    /// `progress_every` data events.
    pub fn run(
        &mut self,
        progress_every: u64,
        mut progress: impl FnMut(Progress),
    ) -> Result<RunOutput, BacktestError> {
        let mut started = false;
        let mut stopped = false;
        let mut last_progress = 0u64;
        loop {
            let data = self.next_source()?;
            if !started {
                let t0 = data.map(|d| d.1).unwrap_or(UnixNanos::ZERO);
                // The starting balances are known before the first event:
                // the kernel gets the venue's setup reports at once.
                let setup = self.venue.exchange_mut().take_reports();
                for r in setup {
                    if let veloz_sim::SimReport::Account { account, mut event } = r {
                        if account == BACKTEST_ACCOUNT {
                            event.set_times(EventTimes {
                                exchange: t0,
                                local: t0,
                            });
                            self.kernel_input(t0, Input::Account(event))?;
                        }
                    }
                }
                self.kernel_input(t0, Input::Start)?;
                started = true;
                continue;
            }
            let te = data.map(|d| d.1);
            let ti = self.venue.next_inbound_time();
            let ex = min_opt(te, ti);
            let tl = self.local.next_time();
            let to = self.venue.next_outbound_time();
            // Timers keep a run going only while there is data: after the
            // last event and the venue's last answer, the run stops.
            let tt = if stopped {
                None
            } else {
                self.kernel.next_timer()
            };
            let data_left = te.is_some() || tl.is_some();
            let venue_busy = ti.is_some() || to.is_some();
            if !data_left && !venue_busy {
                if stopped {
                    break;
                }
                let t = self.kernel.now();
                self.kernel_input(t, Input::Stop)?;
                stopped = true;
                continue;
            }
            let lo = min_opt(min_opt(tl, to), tt);
            let exchange_first = match (ex, lo) {
                (Some(a), Some(b)) => a <= b,
                (Some(_), None) => true,
                _ => false,
            };
            if exchange_first {
                if te.is_some() && (ti.is_none() || te <= ti) {
                    let (mut i, _) = data.unwrap_or((0, UnixNanos::ZERO));
                    loop {
                        self.exchange_data(i)?;
                        if self.stats.data_events >= last_progress.saturating_add(progress_every) {
                            last_progress = self.stats.data_events;
                            progress(Progress {
                                time: self.kernel.now(),
                                events: self.stats.data_events,
                                fills: self.kernel.fills().len(),
                            });
                        }
                        // The next data event goes at once when it is still
                        // the earliest thing: neither the venue's inbound
                        // commands nor the kernel's timers changed meanwhile,
                        // so only the data, local and outbound times are new
                        // (the same choice the loop above would make).
                        let Some((next, te)) = self.next_source()? else {
                            break;
                        };
                        let later = |x: Option<UnixNanos>| x.is_some_and(|x| te > x);
                        if later(self.local.next_time())
                            || later(ti)
                            || later(tt)
                            || later(self.venue.next_outbound_time())
                        {
                            break;
                        }
                        i = next;
                    }
                } else {
                    self.venue.process_inbound();
                }
                continue;
            }
            // Kernel side: venue reports, then market data, then timers.
            let t = lo.unwrap_or(UnixNanos::ZERO);
            if to == Some(t) {
                if let Some((at, msg)) = self.venue.pop_outbound(t) {
                    self.deliver_venue(at, msg)?;
                }
            } else if tl == Some(t) {
                if let Some((_, slot)) = self.local.pop() {
                    self.before_input(t);
                    if let Some(ev) = self.slab.get(slot) {
                        self.kernel.handle_market(t, ev, &mut self.venue)?;
                        if self.price_interval != 0 {
                            let id = ev.instrument();
                            self.sample_price(t, id);
                        }
                    }
                    self.slab.release(slot);
                }
            } else {
                self.kernel_input(t, Input::Timer)?;
            }
        }
        let end = self.kernel.now();
        let last = self.equity_point(end);
        self.equity.push(last);
        self.stats.commands = self.venue.commands_sent();
        Ok(RunOutput {
            fills: self.kernel.fills().to_vec(),
            equity: std::mem::take(&mut self.equity),
            kernel: self.kernel.stats(),
            driver: self.stats,
            span: (self.first_time.unwrap_or(end), end),
            currency: self.currency,
            start_equity: Money::from_raw(self.start_equity_raw, self.currency),
            prices: std::mem::take(&mut self.prices),
        })
    }
}

#[inline]
fn min_opt(a: Option<UnixNanos>, b: Option<UnixNanos>) -> Option<UnixNanos> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
