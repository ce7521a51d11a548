//! The simulated venue as a backtest sees it: [`SimExchange`] behind two
//! latencies, with the exchange's clock and the strategy's clock kept apart.
//!
//! Every event carries two times (see `veloz_core::EventTimes`): when it
//! happened at the exchange and when VeloZ received it. This module owns the
//! exchange side of that split:
//!
//! * market data reaches the matching engine at its **exchange** time
//!   ([`BacktestVenue::on_market`]); the kernel sees the same event later, at
//!   its **local** time (taken from the data, or from a [`Latency`] model
//!   where the data has none: [`FeedLatency`]);
//! * an order command leaves the kernel at local time `t` and reaches the
//!   matching engine at `t + entry latency` ([`BacktestVenue::send`]);
//! * everything the engine reports (acknowledgements, fills, cancels, balance
//!   and position updates, funding) reaches the kernel `response latency`
//!   after it happened ([`BacktestVenue::pop_outbound`]).
//!
//! Latencies are pluggable ([`Latency`]): [`ConstantLatency`] and
//! [`EmpiricalLatency`] (samples drawn with a seeded generator from a recorded
//! distribution file). Bar data is turned into an intra-bar price path the
//! engine can match against ([`bar_path`]).
//!
//! Nothing here reads a clock or does I/O except [`EmpiricalLatency::from_file`].
//! The caller (the runtime's backtest driver) decides the order of events; this
//! type only keeps the two queues.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::Path;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use veloz_core::events::{
    AccountEvent, Bar, Command, EventTimes, Level, MarketEvent, OrderEvent, OrderEventKind, Quote,
    Trade,
};
use veloz_core::{AggressorSide, InstrumentId, Price, Quantity, TradeId, UnixNanos};

use crate::error::{SimError, VenueError};
use crate::exchange::{OrderRef, SimExchange};
use crate::order::AccountId;
use crate::report::{FundingPayment, LiquidationReport, SimReport};

/// A latency model: how long something takes, sampled at a time.
///
/// Implement it to plug in your own model (time-of-day effects, bursts, ...).
/// Implementations must be deterministic for a given seed.
pub trait Latency: fmt::Debug + Send {
    /// Latency in nanoseconds of something that starts at `at`.
    fn sample(&mut self, at: UnixNanos) -> u64;
}

/// The same latency every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstantLatency(pub u64);

impl Latency for ConstantLatency {
    fn sample(&mut self, _at: UnixNanos) -> u64 {
        self.0
    }
}

/// Latencies drawn uniformly (with a seeded generator) from recorded samples.
#[derive(Debug, Clone)]
pub struct EmpiricalLatency {
    samples: Vec<u64>,
    rng: ChaCha8Rng,
}

/// Why a latency distribution could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LatencyFileError {
    /// The file could not be read.
    #[error("cannot read latency file {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A line is not a latency.
    #[error("{path}:{line}: {text:?} is not a latency; write one whole number per line with a unit: `850us`, `2ms`, `300ns` (no decimals: write `1200us`, not `1.2ms`)")]
    BadLine {
        /// File.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The text.
        text: String,
    },
    /// No samples.
    #[error("latency file {path} has no samples; add at least one line such as `500us`")]
    Empty {
        /// File.
        path: String,
    },
}

/// Parses `850us`, `12ms`, `300ns` or a bare integer (nanoseconds).
pub fn parse_duration_nanos(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, mult) = if let Some(d) = t.strip_suffix("ns") {
        (d, 1)
    } else if let Some(d) = t.strip_suffix("us") {
        (d, 1_000)
    } else if let Some(d) = t.strip_suffix("ms") {
        (d, 1_000_000)
    } else if let Some(d) = t.strip_suffix('s') {
        (d, 1_000_000_000)
    } else {
        (t, 1)
    };
    let v: u64 = digits.trim().parse().ok()?;
    v.checked_mul(mult)
}

impl EmpiricalLatency {
    /// From samples (nanoseconds) and a seed.
    pub fn new(samples: Vec<u64>, seed: u64) -> Result<Self, LatencyFileError> {
        if samples.is_empty() {
            return Err(LatencyFileError::Empty {
                path: "<samples>".into(),
            });
        }
        Ok(Self {
            samples,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// Reads a distribution file: one latency per line (`850us`, `2ms`,
    /// `120000ns`, or bare nanoseconds); blank lines and lines starting with
    /// `#` are skipped.
    pub fn from_file(path: &Path, seed: u64) -> Result<Self, LatencyFileError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LatencyFileError::Io {
            path: p.clone(),
            source,
        })?;
        let mut samples = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let v = parse_duration_nanos(l).ok_or_else(|| LatencyFileError::BadLine {
                path: p.clone(),
                line: i + 1,
                text: l.to_string(),
            })?;
            samples.push(v);
        }
        if samples.is_empty() {
            return Err(LatencyFileError::Empty { path: p });
        }
        Ok(Self {
            samples,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// The samples.
    pub fn samples(&self) -> &[u64] {
        &self.samples
    }
}

impl Latency for EmpiricalLatency {
    fn sample(&mut self, _at: UnixNanos) -> u64 {
        let n = self.samples.len() as u64;
        // Rejection sampling keeps the draw uniform for any n.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let r = self.rng.next_u64();
            if r < zone {
                return self.samples[(r % n) as usize];
            }
        }
    }
}

/// Feed latency for data without a receive time: the local time of an event
/// is its exchange time plus a sample of this model. Events that already have
/// a local time later than their exchange time keep it.
#[derive(Debug)]
pub struct FeedLatency {
    model: Box<dyn Latency>,
}

impl FeedLatency {
    /// Wraps a model.
    pub fn new(model: Box<dyn Latency>) -> Self {
        Self { model }
    }

    /// The local receive time of an event.
    #[inline]
    pub fn local_time(&mut self, times: EventTimes) -> UnixNanos {
        if times.local > times.exchange {
            return times.local;
        }
        let d = self.model.sample(times.exchange);
        UnixNanos(times.exchange.0.saturating_add(d))
    }
}

/// A queue of items by time, first in first out among equal times.
///
/// Items pushed in time order (the common case: constant latencies, data in
/// order) go to a ring buffer and cost no search; an item earlier than the
/// last one pushed goes to an ordered map. Popping takes the earlier head of
/// the two, so the order is exact either way.
#[derive(Debug)]
pub struct TimeQueue<T> {
    fifo: VecDeque<(UnixNanos, u64, T)>,
    sorted: BTreeMap<(UnixNanos, u64), T>,
    seq: u64,
    /// Time of the earliest item, kept up to date by `push` and `pop` (the
    /// driver asks for it several times per event).
    next: Option<UnixNanos>,
    /// Time of the ring buffer's last item (while it has any).
    back: UnixNanos,
}

impl<T> Default for TimeQueue<T> {
    fn default() -> Self {
        Self {
            fifo: VecDeque::new(),
            sorted: BTreeMap::new(),
            seq: 0,
            next: None,
            back: UnixNanos::ZERO,
        }
    }
}

impl<T> TimeQueue<T> {
    /// Adds `item` at time `t` (after every item already queued at `t`).
    #[inline]
    pub fn push(&mut self, t: UnixNanos, item: T) {
        self.seq += 1;
        if self.next.is_none_or(|n| t < n) {
            self.next = Some(t);
        }
        if t < self.back && !self.fifo.is_empty() {
            self.sorted.insert((t, self.seq), item);
        } else {
            self.back = t;
            self.fifo.push_back((t, self.seq, item));
        }
    }

    #[inline]
    fn front_key(&self) -> Option<(UnixNanos, u64)> {
        let a = self.fifo.front().map(|f| (f.0, f.1));
        if self.sorted.is_empty() {
            return a;
        }
        let b = self.sorted.keys().next().copied();
        match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, None) => x,
            (None, y) => y,
        }
    }

    /// Time of the earliest item.
    #[inline]
    pub fn next_time(&self) -> Option<UnixNanos> {
        self.next
    }

    /// Takes the earliest item.
    #[inline]
    pub fn pop(&mut self) -> Option<(UnixNanos, T)> {
        if self.sorted.is_empty() {
            // Everything is in the ring buffer, in order.
            let (t, _, v) = self.fifo.pop_front()?;
            self.next = self.fifo.front().map(|f| f.0);
            return Some((t, v));
        }
        self.pop_merged()
    }

    /// [`TimeQueue::pop`] when some items are in the ordered map: the earlier
    /// of the two heads.
    #[inline(never)]
    fn pop_merged(&mut self) -> Option<(UnixNanos, T)> {
        let k = self.front_key()?;
        let item = if self.fifo.front().is_some_and(|f| (f.0, f.1) == k) {
            self.fifo.pop_front().map(|(t, _, v)| (t, v))
        } else {
            self.sorted.remove(&k).map(|v| (k.0, v))
        };
        self.next = self.front_key().map(|k| k.0);
        item
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.fifo.len() + self.sorted.len()
    }

    /// Is the queue empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the venue tells the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueMessage {
    /// An order event (acknowledgement, fill, cancel, reject, ...).
    Order(OrderEvent),
    /// A balance, margin or position update.
    Account(AccountEvent),
    /// A funding payment.
    Funding(FundingPayment),
    /// A liquidation.
    Liquidation(LiquidationReport),
}

/// [`SimExchange`] with an entry latency, a response latency and the two
/// queues between it and the kernel (see the module docs).
#[derive(Debug)]
pub struct BacktestVenue {
    exchange: SimExchange,
    account: AccountId,
    entry: Box<dyn Latency>,
    response: Box<dyn Latency>,
    inbound: TimeQueue<Command>,
    outbound: TimeQueue<VenueMessage>,
    commands: u64,
}

impl BacktestVenue {
    /// A venue trading for `account` on `exchange`.
    pub fn new(
        exchange: SimExchange,
        account: AccountId,
        entry: Box<dyn Latency>,
        response: Box<dyn Latency>,
    ) -> Self {
        Self {
            exchange,
            account,
            entry,
            response,
            inbound: TimeQueue::default(),
            outbound: TimeQueue::default(),
            commands: 0,
        }
    }

    /// The matching engine (balances, positions, open orders: the venue's truth).
    pub fn exchange(&self) -> &SimExchange {
        &self.exchange
    }

    /// The matching engine, mutably (setup: deposits, leverage).
    pub fn exchange_mut(&mut self) -> &mut SimExchange {
        &mut self.exchange
    }

    /// The simulated account the kernel trades.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// How many commands were sent.
    pub fn commands_sent(&self) -> u64 {
        self.commands
    }

    /// A command leaves the kernel at local time `now`; it reaches the engine
    /// after the entry latency.
    pub fn send(&mut self, command: Command, now: UnixNanos) {
        let arrive = UnixNanos(now.0.saturating_add(self.entry.sample(now)));
        self.commands += 1;
        self.inbound.push(arrive, command);
    }

    /// When the next command reaches the engine.
    #[inline]
    pub fn next_inbound_time(&self) -> Option<UnixNanos> {
        self.inbound.next_time()
    }

    /// When the next report reaches the kernel.
    #[inline]
    pub fn next_outbound_time(&self) -> Option<UnixNanos> {
        self.outbound.next_time()
    }

    /// Applies the next command at its arrival time; returns that time.
    pub fn process_inbound(&mut self) -> Option<UnixNanos> {
        let (t, cmd) = self.inbound.pop()?;
        let t = t.max(self.exchange.now());
        let acct = self.account;
        let refused = match &cmd {
            Command::Submit(o) => self
                .exchange
                .submit(acct, o, None, t)
                .err()
                .map(|e| (o.instrument, o.client_order_id, reject_kind(&e))),
            Command::Cancel(c) => {
                let r = match c.venue_order_id {
                    Some(v) => OrderRef::Venue(v),
                    None => OrderRef::Client(c.client_order_id),
                };
                self.exchange
                    .cancel(acct, c.instrument, r, t)
                    .err()
                    .map(|e| {
                        (
                            c.instrument,
                            c.client_order_id,
                            OrderEventKind::CancelRejected {
                                reason: venue_reason(&e),
                            },
                        )
                    })
            }
            Command::CancelAll(c) => {
                // An error here means the instrument or account is unknown;
                // the kernel learns of it from the missing cancels.
                let _ = self.exchange.cancel_all(acct, c.instrument, c.side, t);
                None
            }
            Command::Modify(m) => self.exchange.modify(acct, m, t).err().map(|e| {
                (
                    m.instrument,
                    m.client_order_id,
                    OrderEventKind::ModifyRejected {
                        reason: venue_reason(&e),
                    },
                )
            }),
        };
        if let Some((instrument, client_order_id, kind)) = refused {
            let back = UnixNanos(t.0.saturating_add(self.response.sample(t)));
            self.outbound.push(
                back,
                VenueMessage::Order(OrderEvent {
                    instrument,
                    client_order_id,
                    venue_order_id: None,
                    kind,
                    times: EventTimes {
                        exchange: t,
                        local: back,
                    },
                }),
            );
        }
        self.collect(t);
        Some(t)
    }

    /// Applies a market event at its exchange time. A `MarkPrice` that
    /// carries a funding rate but no next funding time is a historical
    /// settlement record: the mark is applied and funding is settled at once.
    pub fn on_market(&mut self, ev: &MarketEvent) -> Result<(), SimError> {
        // The event's time at the engine is `max(its exchange time, the
        // engine's clock before it)`; it is only needed for a settlement or
        // for reports, so it is computed there.
        let before = self.exchange.now();
        match self.exchange.on_market_event(ev) {
            Ok(()) => {
                self.after_market(ev, before)?;
                Ok(())
            }
            // Out of line: the usual `Ok` is then returned without moving
            // the (large) error type through this frame.
            Err(e) => self.after_market_error(ev, before, e),
        }
    }

    /// What follows a market event the engine took: a historical funding
    /// settlement, then the reports.
    #[inline(always)]
    fn after_market(&mut self, ev: &MarketEvent, before: UnixNanos) -> Result<(), SimError> {
        if let MarketEvent::MarkPrice(mp) = ev {
            if let (Some(rate), None) = (mp.funding_rate, mp.next_funding_time) {
                if mp.instrument.kind.is_futures() && mp.mark.is_positive() {
                    let t = mp.times.exchange.max(before);
                    self.exchange.settle_funding(mp.instrument, rate, t)?;
                }
            }
        }
        if self.exchange.has_reports() {
            self.collect_reports(ev.times().exchange.max(before));
        }
        Ok(())
    }

    /// [`BacktestVenue::on_market`] when the engine refused the event: the
    /// same steps after it, then its error.
    #[cold]
    #[inline(never)]
    fn after_market_error(
        &mut self,
        ev: &MarketEvent,
        before: UnixNanos,
        e: SimError,
    ) -> Result<(), SimError> {
        self.after_market(ev, before)?;
        Err(e)
    }

    /// Moves the engine's clock (GTD expiry, triggers).
    pub fn advance_time(&mut self, now: UnixNanos) {
        if now > self.exchange.now() {
            self.exchange.advance_time(now);
            self.collect(now);
        }
    }

    /// Takes the next report if it has reached the kernel by `now`.
    pub fn pop_outbound(&mut self, now: UnixNanos) -> Option<(UnixNanos, VenueMessage)> {
        if self.outbound.next_time()? > now {
            return None;
        }
        self.outbound.pop()
    }

    /// Queues the engine's reports for our account, each delayed by a sample
    /// of the response latency (one sample per engine call, so reports of one
    /// call keep their order).
    #[inline(always)]
    fn collect(&mut self, t: UnixNanos) {
        if !self.exchange.has_reports() {
            return;
        }
        self.collect_reports(t);
    }

    /// [`BacktestVenue::collect`] when there are reports (kept out of line so
    /// the check stays a few instructions in every caller).
    #[inline(never)]
    fn collect_reports(&mut self, t: UnixNanos) {
        let back = UnixNanos(t.0.saturating_add(self.response.sample(t)));
        let times = EventTimes {
            exchange: t,
            local: back,
        };
        for r in self.exchange.drain_reports() {
            let msg = match r {
                SimReport::Order(o) if o.account == self.account => {
                    let mut ev = o.event;
                    ev.times = times;
                    VenueMessage::Order(ev)
                }
                SimReport::Account { account, mut event } if account == self.account => {
                    event.set_times(times);
                    VenueMessage::Account(event)
                }
                SimReport::Funding(f) if f.account == self.account => VenueMessage::Funding(f),
                SimReport::Liquidation(l) if l.account == self.account => {
                    VenueMessage::Liquidation(l)
                }
                _ => continue,
            };
            self.outbound.push(back, msg);
        }
    }
}

fn venue_reason(e: &VenueError) -> String {
    e.to_string()
}

fn reject_kind(e: &VenueError) -> OrderEventKind {
    OrderEventKind::Rejected {
        code: Some(e.code),
        reason: e.to_string(),
    }
}

/// The intra-bar path used to match orders against bar data: four points
/// (open, then the extreme nearer the open first, then the other extreme,
/// then close), at 0, 1/3, 2/3 of the interval and its last nanosecond.
///
/// A bar that closed up is assumed to have gone open → low → high → close; a
/// bar that closed down, open → high → low → close (the usual convention,
/// and pessimistic for neither side in particular). The path is an
/// assumption; the bar does not say which extreme came first.
pub fn bar_path(bar: &Bar) -> [(UnixNanos, Price); 4] {
    let len = u64::from(bar.interval_secs).saturating_mul(1_000_000_000);
    let t0 = bar.open_time.0;
    let at = |num: u64| UnixNanos(t0.saturating_add(len / 3 * num));
    let end = UnixNanos(t0.saturating_add(len.saturating_sub(1)));
    let (a, b) = if bar.close >= bar.open {
        (bar.low, bar.high)
    } else {
        (bar.high, bar.low)
    };
    [(at(0), bar.open), (at(1), a), (at(2), b), (end, bar.close)]
}

/// The market events the engine matches against for one bar: at each point
/// of [`bar_path`], a quote one tick either side of the price (each side
/// showing the bar's whole volume) and a trade of a quarter of the volume at
/// the price. Trade ids count from `first_trade_id`.
///
/// The kernel never sees these events, only the bar itself at its close, so a
/// strategy cannot look inside a bar before it closes.
pub fn bar_events(bar: &Bar, tick: Price, first_trade_id: u64) -> Vec<MarketEvent> {
    let mut out = Vec::with_capacity(8);
    let vol = bar.volume.raw().max(1);
    let quarter = Quantity::from_raw((vol / 4).max(1), bar.volume.precision());
    let depth = Quantity::from_raw(vol, bar.volume.precision());
    let mut prev: Option<Price> = None;
    for (i, (t, px)) in bar_path(bar).into_iter().enumerate() {
        let times = EventTimes {
            exchange: t,
            local: t,
        };
        let bid = Price::from_raw(px.raw().saturating_sub(tick.raw()), px.precision());
        let ask = Price::from_raw(px.raw().saturating_add(tick.raw()), px.precision());
        out.push(MarketEvent::Quote(Quote {
            instrument: bar.instrument,
            bid: Level {
                price: bid,
                qty: depth,
            },
            ask: Level {
                price: ask,
                qty: depth,
            },
            update_id: None,
            times,
        }));
        let aggressor = match prev {
            Some(p) if px < p => AggressorSide::Seller,
            _ => AggressorSide::Buyer,
        };
        prev = Some(px);
        out.push(MarketEvent::Trade(Trade {
            instrument: bar.instrument,
            trade_id: TradeId(first_trade_id + i as u64),
            price: px,
            qty: quarter,
            aggressor,
            times,
        }));
    }
    out
}

/// The instrument a command is about.
pub fn command_instrument(c: &Command) -> InstrumentId {
    match c {
        Command::Submit(o) => o.instrument,
        Command::Cancel(o) => o.instrument,
        Command::CancelAll(o) => o.instrument,
        Command::Modify(o) => o.instrument,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{Symbol, Venue};

    #[test]
    fn time_queue_orders_by_time_then_arrival() {
        let mut q = TimeQueue::default();
        for (t, v) in [
            (5, 'a'),
            (7, 'b'),
            (6, 'c'),
            (7, 'd'),
            (1, 'e'),
            (9, 'f'),
            (6, 'g'),
        ] {
            q.push(UnixNanos(t), v);
        }
        assert_eq!(q.len(), 7);
        assert_eq!(q.next_time(), Some(UnixNanos(1)));
        let mut order = String::new();
        let mut times = Vec::new();
        while let Some((t, v)) = q.pop() {
            assert!(q.next_time().is_none_or(|n| n >= t));
            order.push(v);
            times.push((t.0, q.next_time().map(|n| n.0)));
        }
        assert_eq!(order, "eacgbdf");
        assert_eq!(
            times,
            [
                (1, Some(5)),
                (5, Some(6)),
                (6, Some(6)),
                (6, Some(7)),
                (7, Some(7)),
                (7, Some(9)),
                (9, None)
            ]
        );
        assert!(q.is_empty());
        q.push(UnixNanos(4), 'h');
        q.push(UnixNanos(3), 'i');
        assert_eq!(q.next_time(), Some(UnixNanos(3)));
        assert_eq!(q.pop(), Some((UnixNanos(3), 'i')));
        assert_eq!(q.next_time(), Some(UnixNanos(4)));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_nanos("850us"), Some(850_000));
        assert_eq!(parse_duration_nanos("12ms"), Some(12_000_000));
        assert_eq!(parse_duration_nanos("300ns"), Some(300));
        assert_eq!(parse_duration_nanos("2s"), Some(2_000_000_000));
        assert_eq!(parse_duration_nanos("77"), Some(77));
        assert_eq!(parse_duration_nanos("1.5ms"), None);
        assert_eq!(parse_duration_nanos("fast"), None);
    }

    #[test]
    fn empirical_latency_is_seeded_and_uses_only_samples() {
        let mut a = EmpiricalLatency::new(vec![1, 2, 3], 7).unwrap();
        let mut b = EmpiricalLatency::new(vec![1, 2, 3], 7).unwrap();
        let xs: Vec<u64> = (0..100).map(|_| a.sample(UnixNanos(0))).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.sample(UnixNanos(0))).collect();
        assert_eq!(xs, ys);
        for v in [1, 2, 3] {
            assert!(xs.contains(&v), "{v} never drawn in 100 draws");
        }
        assert!(EmpiricalLatency::new(vec![], 1).is_err());
    }

    #[test]
    fn latency_file_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("veloz-lat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("lat.txt");
        std::fs::write(&f, "# comment\n500us\n\n2ms\nabc\n").unwrap();
        let e = EmpiricalLatency::from_file(&f, 1).unwrap_err().to_string();
        assert!(e.contains(":5:") && e.contains("abc"), "{e}");
        std::fs::write(&f, "500us\n2ms\n").unwrap();
        let l = EmpiricalLatency::from_file(&f, 1).unwrap();
        assert_eq!(l.samples(), &[500_000, 2_000_000]);
        std::fs::remove_dir_all(&dir).ok();
    }

    fn bar(open: i64, high: i64, low: i64, close: i64) -> Bar {
        let p = |r: i64| Price::from_raw(r * 100_000_000, 2);
        Bar {
            instrument: InstrumentId::new(
                Venue::BINANCE,
                veloz_core::MarketKind::Spot,
                Symbol::from_const("BTCUSDT"),
            ),
            interval_secs: 60,
            open_time: UnixNanos::from_secs(600),
            open: p(open),
            high: p(high),
            low: p(low),
            close: p(close),
            volume: Quantity::from_raw(400_000_000, 3),
            closed: true,
            times: EventTimes::default(),
        }
    }

    #[test]
    fn bar_path_visits_the_nearer_extreme_first() {
        let up = bar_path(&bar(100, 110, 95, 108));
        let px: Vec<i64> = up.iter().map(|p| p.1.raw() / 100_000_000).collect();
        assert_eq!(px, vec![100, 95, 110, 108]);
        let down = bar_path(&bar(100, 103, 90, 92));
        let px: Vec<i64> = down.iter().map(|p| p.1.raw() / 100_000_000).collect();
        assert_eq!(px, vec![100, 103, 90, 92]);
        assert_eq!(up[0].0, UnixNanos::from_secs(600));
        assert_eq!(up[3].0, UnixNanos(UnixNanos::from_secs(660).0 - 1));
        assert!(up.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn bar_events_quote_around_each_point_and_trade_a_quarter() {
        let b = bar(100, 110, 95, 108);
        let tick = Price::from_raw(1_000_000, 2);
        let evs = bar_events(&b, tick, 10);
        assert_eq!(evs.len(), 8);
        match (&evs[2], &evs[3]) {
            (MarketEvent::Quote(q), MarketEvent::Trade(t)) => {
                assert_eq!(q.bid.price.raw(), 95 * 100_000_000 - 1_000_000);
                assert_eq!(q.ask.price.raw(), 95 * 100_000_000 + 1_000_000);
                assert_eq!(t.qty.raw(), 100_000_000);
                assert_eq!(t.trade_id, TradeId(11));
                assert_eq!(t.aggressor, AggressorSide::Seller);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
