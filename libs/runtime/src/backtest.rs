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

use std::collections::{BTreeMap, VecDeque};

use veloz_core::events::{Command, EventTimes, MarketEvent};
use veloz_core::{Currency, Instrument, InstrumentId, Money, Price, UnixNanos};
use veloz_sim::backtest::{bar_events, BacktestVenue, FeedLatency, Latency, VenueMessage};
use veloz_sim::{AccountId, QueueModel, SimConfig, SimExchange};

use crate::input::Input;
use crate::kernel::{FillRecord, Kernel, KernelError, KernelStats, Venue};
use crate::strategy::Strategy;

/// An error from a data source (the catalog's, a CSV reader's, ...).
pub type DataError = Box<dyn std::error::Error + Send + Sync>;

/// A source of market events in time order, read in chunks.
///
/// Any `Iterator<Item = Result<MarketEvent, DataError>> + Send` is one (read
/// one event at a time). A source that holds its data in another form (rows,
/// a decoded file block) can implement [`MarketSource::read`] to hand over
/// many events per call: they are written once, into the buffer the driver
/// keeps them in until the kernel has seen them.
pub trait MarketSource: Send {
    /// Appends up to `max` (at least 1) next events to `out`. Returns
    /// `Ok(false)` when the source has no more events after those appended
    /// (appending none also ends it); the driver does not read it again. An
    /// error stops the run once the events appended before it were replayed.
    fn read(&mut self, out: &mut Vec<MarketEvent>, max: usize) -> Result<bool, DataError>;

    /// Like [`MarketSource::read`], but replaces what `buf` holds: afterwards
    /// `buf` has exactly the (up to `max`, at least 1) next events, also when
    /// the source fails after them. Its events on entry are those of an
    /// earlier chunk (of any source) the driver no longer needs, so a source
    /// can overwrite them in place instead of building every event anew (an
    /// event of the same kind then costs a few field stores). The default
    /// clears `buf` and reads into it.
    fn refill(&mut self, buf: &mut Vec<MarketEvent>, max: usize) -> Result<bool, DataError> {
        buf.clear();
        self.read(buf, max)
    }
}

impl<I> MarketSource for I
where
    I: Iterator<Item = Result<MarketEvent, DataError>> + Send,
{
    fn read(&mut self, out: &mut Vec<MarketEvent>, max: usize) -> Result<bool, DataError> {
        for _ in 0..max {
            match self.next() {
                Some(Ok(ev)) => out.push(ev),
                Some(Err(e)) => return Err(e),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// A data source of a backtest (see [`MarketSource`]).
pub type DataSource = Box<dyn MarketSource>;

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

/// The run loop's next step (see [`Backtest::run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Look at every clock.
    Decide,
    /// Source `i`'s next event goes to the engine.
    Data(usize),
    /// The local event at this time goes to the kernel.
    Local(UnixNanos),
}

/// How [`Backtest::one_source_burst`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Burst {
    /// It made the general loop's decision: this step is next.
    Done(Step),
    /// The source's head is prepared and goes to the engine next (the
    /// general loop takes it: a bar's path, or a chunk's last event).
    Take,
    /// The head was sent and the next event is not prepared: the general
    /// loop prepares it (a bar, another instrument) and decides.
    Prepare,
}

/// What does not change while only the engine works (see
/// [`Backtest::run`]'s data step): the earlier of the venue's next command
/// and the kernel's next timer, and each.
#[derive(Debug, Clone, Copy)]
struct Limits {
    bound: Option<UnixNanos>,
    ti: Option<UnixNanos>,
    tt: Option<UnixNanos>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deliver {
    Exchange,
    Local,
    Both,
}

/// Events read per [`MarketSource::read`] call.
const CHUNK: usize = 128;

/// One data source and where the driver is in it.
///
/// The source's events are read into a chunk of the [`Store`]; `pos` is the
/// next one the engine has not had. The head (the event the source merge
/// compares) is prepared once: its exchange time after the out-of-order
/// clamp, and where it goes. A bar's intra-bar path waits in `path` (the
/// engine only), ahead of the bar itself, which stays in the chunk.
struct Cursor {
    source: DataSource,
    chunk: u32,
    pos: usize,
    head: Option<Head>,
    path: VecDeque<(UnixNanos, MarketEvent)>,
    last: UnixNanos,
    /// The source said it has no more events.
    ended: bool,
    /// The source failed after the events of the current chunk.
    error: Option<DataError>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("chunk", &self.chunk)
            .field("pos", &self.pos)
            .field("head", &self.head)
            .field("path", &self.path.len())
            .field("last", &self.last)
            .field("ended", &self.ended)
            .finish()
    }
}

/// A source's next event, ready for the merge: its exchange time after the
/// out-of-order clamp, its local time as the data has it, and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    time: UnixNanos,
    local: UnixNanos,
    how: Deliver,
}

impl Head {
    /// A point of a bar's intra-bar path (the engine only).
    fn path(time: UnixNanos) -> Self {
        Self {
            time,
            local: time,
            how: Deliver::Exchange,
        }
    }
}

/// Where an event waiting for the kernel is: chunk and index in the [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    chunk: u32,
    index: u32,
}

/// A block of events read from one source.
#[derive(Debug, Default)]
struct Chunk {
    events: Vec<MarketEvent>,
    /// Events of this chunk the engine had and the kernel has not yet.
    waiting: u32,
    /// A cursor still reads from it.
    reading: bool,
}

/// Events between their source and the kernel. A source writes its events
/// into a chunk, and each stays there while the engine and then the kernel
/// read it by reference; the queues move only [`Slot`]s. A chunk is reused
/// once its cursor moved on and the kernel had all of its events (usually
/// two per source are in use: the one being read and the previous one,
/// whose last events are still on their way to the kernel).
#[derive(Debug, Default)]
struct Store {
    chunks: Vec<Chunk>,
    free: Vec<u32>,
}

impl Store {
    fn take_chunk(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            return i;
        }
        self.chunks.push(Chunk::default());
        (self.chunks.len() - 1) as u32
    }

    /// The kernel is done with an event of chunk `c` (number `id`): the
    /// chunk goes back to `free` when it was its last and no cursor reads
    /// from it any more.
    #[inline]
    fn release_in(c: &mut Chunk, id: u32, free: &mut Vec<u32>) {
        c.waiting -= 1;
        if c.waiting == 0 && !c.reading {
            free.push(id);
        }
    }
}

/// Events on their way to the kernel, by local time (first in, first out
/// among equal times).
///
/// With a constant feed latency, or receive times in the data that do not go
/// back, events arrive in the order the engine had them: they go to a ring
/// buffer (a power-of-two array with a head and a length), a store and a
/// load each. An event due before the last one queued goes to an ordered
/// map instead. Whenever the map holds an event the ring does too (the one
/// that was last when it came, which is due after it), and every event
/// queued in the ring since is due after it as well; so at equal times the
/// ring's head was queued first, and taking the earlier head of the two (the
/// ring's on a tie) keeps the order exact.
///
/// This is the algorithm of `veloz_sim::backtest::TimeQueue`, which the
/// venue's command and report queues use, specialised to `Copy` slots: a
/// plain ring without sequence numbers instead of a `VecDeque`. The queue
/// takes every event, and `TimeQueue<Slot>` here (even with these rules)
/// measured 0.8 % more instructions per event in `replay`.
#[derive(Debug, Default)]
struct LocalQueue {
    ring: Vec<(UnixNanos, Slot)>,
    /// `ring.len() - 1` (the ring's length is a power of two, or 0).
    mask: usize,
    head: usize,
    len: usize,
    /// Time of the ring's last event while it has any, else zero (so that
    /// no event is due before it: one comparison finds a late event).
    back: UnixNanos,
    late: BTreeMap<(UnixNanos, u64), Slot>,
    seq: u64,
    /// Time of the earliest event (the driver asks for it several times
    /// per event).
    next: Option<UnixNanos>,
}

impl LocalQueue {
    /// Queues `slot` for local time `t`.
    #[inline]
    fn push(&mut self, t: UnixNanos, slot: Slot) {
        if t < self.back {
            self.push_late(t, slot);
            return;
        }
        if self.len == self.ring.len() {
            self.grow();
        }
        if let Some(x) = self.ring.get_mut((self.head + self.len) & self.mask) {
            *x = (t, slot);
        }
        // An empty ring means an empty map: this is the earliest event.
        if self.len == 0 {
            self.next = Some(t);
        }
        self.len += 1;
        self.back = t;
    }

    #[cold]
    #[inline(never)]
    fn push_late(&mut self, t: UnixNanos, slot: Slot) {
        self.seq += 1;
        self.late.insert((t, self.seq), slot);
        self.next = min_opt(self.next, Some(t));
    }

    /// Doubles the ring (at least 64 places), keeping the order.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let cap = (self.ring.len() * 2).max(64);
        let mut ring = Vec::with_capacity(cap);
        let mask = self.ring.len().wrapping_sub(1);
        for k in 0..self.len {
            if let Some(x) = self.ring.get((self.head + k) & mask) {
                ring.push(*x);
            }
        }
        let empty = Slot { chunk: 0, index: 0 };
        ring.resize(cap, (UnixNanos::ZERO, empty));
        self.ring = ring;
        self.mask = cap - 1;
        self.head = 0;
    }

    /// Time of the earliest event.
    #[inline]
    fn next_time(&self) -> Option<UnixNanos> {
        self.next
    }

    /// Takes the earliest event.
    #[inline]
    fn pop(&mut self) -> Option<(UnixNanos, Slot)> {
        if !self.late.is_empty() {
            return self.pop_merged();
        }
        if self.len == 0 {
            return None;
        }
        let x = *self.ring.get(self.head)?;
        self.head = (self.head + 1) & self.mask;
        self.len -= 1;
        if self.len == 0 {
            self.next = None;
            self.back = UnixNanos::ZERO;
        } else {
            self.next = self.ring.get(self.head).map(|y| y.0);
        }
        Some(x)
    }

    /// [`LocalQueue::pop`] while the ordered map holds events.
    #[cold]
    #[inline(never)]
    fn pop_merged(&mut self) -> Option<(UnixNanos, Slot)> {
        let ring_head = match self.len {
            0 => None,
            _ => self.ring.get(self.head).copied(),
        };
        let late_first = self.late.first_key_value().map(|(k, _)| k.0);
        let x = match (ring_head, late_first) {
            (Some(r), Some(l)) if l < r.0 => self.late.pop_first().map(|((t, _), s)| (t, s)),
            (Some(r), _) => {
                self.head = (self.head + 1) & self.mask;
                self.len -= 1;
                if self.len == 0 {
                    self.back = UnixNanos::ZERO;
                }
                Some(r)
            }
            (None, _) => self.late.pop_first().map(|((t, _), s)| (t, s)),
        };
        let ring_next = match self.len {
            0 => None,
            _ => self.ring.get(self.head).map(|y| y.0),
        };
        self.next = min_opt(ring_next, self.late.first_key_value().map(|(k, _)| k.0));
        x
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
    store: Store,
    local: LocalQueue,
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
        let mut store = Store::default();
        let cursors = sources
            .into_iter()
            .map(|source| Cursor {
                source,
                chunk: store.take_chunk(),
                pos: 0,
                head: None,
                path: VecDeque::new(),
                last: UnixNanos::ZERO,
                ended: false,
                error: None,
            })
            .collect();
        Ok(Self {
            kernel,
            venue,
            cursors,
            feed: FeedLatency::new(feed_latency),
            store,
            local: LocalQueue::default(),
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

    /// Prepares source `i`'s head: the next event of its chunk (reading the
    /// next chunk when this one is used up), checked, clamped and, for a
    /// bar, expanded into its intra-bar path.
    #[inline(always)]
    fn prepare(&mut self, i: usize) -> Result<(), BacktestError> {
        for attempt in 0..2 {
            let Self {
                cursors,
                store,
                stats,
                last_instrument,
                venue,
                trade_seq,
                ..
            } = self;
            let Some(c) = cursors.get_mut(i) else {
                return Ok(());
            };
            if c.head.is_some() {
                return Ok(());
            }
            if let Some(ev) = store
                .chunks
                .get_mut(c.chunk as usize)
                .and_then(|ch| ch.events.get_mut(c.pos))
            {
                let known = KnownInstrument {
                    last: last_instrument,
                    venue,
                };
                return prepare_head(c, ev, stats, known, trade_seq);
            }
            // The chunk is used up: read the next one (once).
            if attempt > 0 || !self.read_chunk(i)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Reads source `i`'s next chunk; `false` at the end of the source.
    #[cold]
    #[inline(never)]
    fn read_chunk(&mut self, i: usize) -> Result<bool, BacktestError> {
        let Self { cursors, store, .. } = self;
        let Some(c) = cursors.get_mut(i) else {
            return Ok(false);
        };
        if let Some(e) = c.error.take() {
            return Err(BacktestError::Data(e));
        }
        if c.ended {
            return Ok(false);
        }
        // The engine had every event of the current chunk: read into it
        // again if the kernel had them too, else into another chunk (this
        // one is freed when the kernel had its last event).
        let id = match store.chunks.get_mut(c.chunk as usize) {
            Some(ch) if ch.waiting == 0 => c.chunk,
            Some(ch) => {
                ch.reading = false;
                store.take_chunk()
            }
            None => store.take_chunk(),
        };
        let Some(ch) = store.chunks.get_mut(id as usize) else {
            return Ok(false);
        };
        ch.reading = true;
        c.chunk = id;
        c.pos = 0;
        match c.source.refill(&mut ch.events, CHUNK) {
            Ok(more) => c.ended = !more,
            // Reported once the events read before it were replayed.
            Err(e) => c.error = Some(e),
        }
        if ch.events.is_empty() {
            c.ended = true;
            if let Some(e) = c.error.take() {
                return Err(BacktestError::Data(e));
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// The source with the earliest next event.
    #[inline(always)]
    fn next_source(&mut self) -> Result<Option<(usize, UnixNanos)>, BacktestError> {
        if let Some(d) = self.next_data {
            return Ok(d);
        }
        self.find_next_data()
    }

    /// [`Backtest::next_source`] when an event was taken since it last looked.
    #[inline(always)]
    fn find_next_data(&mut self) -> Result<Option<(usize, UnixNanos)>, BacktestError> {
        let d = if self.cursors.len() == 1 {
            // One source: nothing to merge.
            self.prepare(0)?;
            self.cursors
                .first()
                .and_then(|c| c.head)
                .map(|h| (0, h.time))
        } else {
            self.find_next_source()?
        };
        self.next_data = Some(d);
        Ok(d)
    }

    fn find_next_source(&mut self) -> Result<Option<(usize, UnixNanos)>, BacktestError> {
        let mut best: Option<(usize, UnixNanos)> = None;
        for i in 0..self.cursors.len() {
            self.prepare(i)?;
            if let Some(Head { time: t, .. }) = self.cursors[i].head {
                if best.is_none_or(|(_, b)| t < b) {
                    best = Some((i, t));
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
        if self.equity_interval != 0 {
            self.sample_equity_until(time);
        }
        self.stats.kernel_inputs += 1;
    }

    fn kernel_input(&mut self, time: UnixNanos, input: Input) -> Result<(), BacktestError> {
        self.before_input(time);
        // The step's audit is dropped where it lies.
        if let Err(e) = self.kernel.handle(time, input, &mut self.venue) {
            return Err(e.into());
        }
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
        let Self {
            cursors,
            store,
            venue,
            feed,
            local,
            stats,
            ..
        } = self;
        let Some(c) = cursors.get_mut(i) else {
            return Ok(());
        };
        let Some(Head {
            time: t,
            local: data_local,
            how,
        }) = c.head.take()
        else {
            return Ok(());
        };
        if how == Deliver::Exchange {
            if let Some((_, ev)) = c.path.pop_front() {
                venue.on_market(&ev)?;
                stats.exchange_events += 1;
            }
            // The path's next point, else the bar itself (at its close).
            c.head = match c.path.front() {
                Some((pt, _)) => Some(Head::path(*pt)),
                None => store
                    .chunks
                    .get(c.chunk as usize)
                    .and_then(|ch| ch.events.get(c.pos))
                    .map(|ev| Head {
                        time: ev.times().exchange,
                        local: ev.times().local,
                        how: Deliver::Local,
                    }),
            };
            return Ok(());
        }
        let slot = Slot {
            chunk: c.chunk,
            index: c.pos as u32,
        };
        c.pos += 1;
        let Some(ch) = store.chunks.get_mut(slot.chunk as usize) else {
            return Ok(());
        };
        let Some(ev) = ch.events.get(slot.index as usize) else {
            return Ok(());
        };
        if how == Deliver::Both {
            venue.on_market(ev)?;
            stats.exchange_events += 1;
        } else {
            venue.advance_time(t);
        }
        let at = feed.local_time(EventTimes {
            exchange: t,
            local: data_local,
        });
        ch.waiting += 1;
        local.push(at, slot);
        Ok(())
    }

    /// [`Step::Data`] with one source (the common case), for as long as its
    /// head is a plain event (not a bar or a bar's path) and the next event
    /// is in the same chunk: the engine gets the head, the kernel's queue
    /// its slot, and the next event becomes the head. It makes the same
    /// moves and the same decision as the general loop of [`Backtest::run`]
    /// (the next data goes at once while it is still the earliest thing,
    /// else the next local event or a full decision), or hands the
    /// source back to the general loop (see [`Burst`]).
    ///
    /// The cursor and the chunk are looked up once; the head and the
    /// position are kept in locals while the burst runs, and written back
    /// when it ends (also when the engine fails). The next event becomes the head here only
    /// when it is a plain event of the instrument seen last (already
    /// checked, and a tick is only needed for a bar); any other is left
    /// unprepared, and the general loop prepares it as ever (a bar's path,
    /// an instrument to look up, or the error of an unknown one).
    #[inline(always)]
    fn one_source_burst(
        &mut self,
        limits: Limits,
        next_progress: &mut u64,
        progress_every: u64,
        progress: &mut impl FnMut(Progress),
    ) -> Result<Burst, BacktestError> {
        let Self {
            kernel,
            cursors,
            store,
            venue,
            feed,
            local,
            stats,
            next_data,
            last_instrument,
            ..
        } = self;
        let Some(c) = cursors.first_mut() else {
            return Ok(Burst::Take);
        };
        let chunk = c.chunk;
        let Some(Chunk {
            events, waiting, ..
        }) = store.chunks.get_mut(chunk as usize)
        else {
            return Ok(Burst::Take);
        };
        let Some(mut head) = c.head else {
            return Ok(Burst::Take);
        };
        let Some((known, _)) = last_instrument.as_ref() else {
            return Ok(Burst::Take);
        };
        // The head's event and the one after it (which becomes the next
        // head) are in this chunk.
        let mut index = c.pos;
        if head.how != Deliver::Both || index + 1 >= events.len() {
            return Ok(Burst::Take);
        }
        // `None` is "never": no time is later than it (a sentinel of
        // u64::MAX answers "is the data later than this" the same way).
        let never = |x: Option<UnixNanos>| x.map_or(u64::MAX, |x| x.0);
        // The earlier of the bound and the kernel's next local event: the
        // queue's earliest time after a push is the earlier of the one
        // before and the pushed one, so it is kept here.
        let mut bound = never(limits.bound).min(never(local.next_time()));
        // What the burst ends with (the head, of `events[index]`, is
        // prepared unless it is `Burst::Prepare` or an error).
        let outcome: Result<Burst, BacktestError> = loop {
            // (Always there: checked before the loop and at `continue`.)
            let Some(ev) = events.get(index) else {
                break Ok(Burst::Take);
            };
            // What `exchange_data` does for a plain event.
            if let Err(e) = venue.on_market(ev) {
                index += 1;
                break Err(e.into());
            }
            stats.exchange_events += 1;
            let at = feed.local_time(EventTimes {
                exchange: head.time,
                local: head.local,
            });
            *waiting += 1;
            local.push(
                at,
                Slot {
                    chunk,
                    index: index as u32,
                },
            );
            bound = bound.min(at.0);
            index += 1;
            if stats.data_events >= *next_progress {
                *next_progress = stats.data_events.saturating_add(progress_every);
                progress(Progress {
                    time: kernel.now(),
                    events: stats.data_events,
                    fills: kernel.fills().len(),
                });
            }
            // What `prepare_head` does for a plain event of a known
            // instrument: the next event becomes the head.
            let Some(ev) = events.get(index) else {
                break Ok(Burst::Prepare);
            };
            if matches!(ev, MarketEvent::Bar(_)) {
                break Ok(Burst::Prepare);
            }
            let (id, times) = ev.instrument_and_times();
            if id != known {
                break Ok(Burst::Prepare);
            }
            stats.data_events += 1;
            let t = times.exchange.max(c.last);
            if t != times.exchange {
                stats.out_of_order += 1;
            }
            c.last = t;
            head = Head {
                time: t,
                local: times.local,
                how: Deliver::Both,
            };
            // The decision of the general loop.
            let te = t;
            let to = venue.next_outbound_time();
            if te.0 <= bound.min(never(to)) {
                if index + 1 < events.len() {
                    continue;
                }
                // The chunk's last event: the general loop takes it.
                break Ok(Burst::Take);
            }
            if let Some(l) = local.next_time() {
                let after = |x: Option<UnixNanos>| x.is_none_or(|x| l < x);
                if l < te && after(limits.ti) && after(to) && limits.tt.is_none_or(|x| l <= x) {
                    break Ok(Burst::Done(Step::Local(l)));
                }
            }
            break Ok(Burst::Done(Step::Decide));
        };
        c.pos = index;
        match outcome {
            Ok(Burst::Prepare) | Err(_) => {
                c.head = None;
                *next_data = None;
            }
            Ok(_) => {
                c.head = Some(head);
                *next_data = Some(Some((0, head.time)));
            }
        }
        outcome
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
        let mut next_progress = progress_every;
        // What to do next: decide from every clock, or (when the step before
        // already knows it is the earliest thing) give the engine source
        // `i`'s next event, or give the kernel the next local event.
        let mut step = Step::Decide;
        loop {
            match step {
                Step::Data(mut i) => {
                    step = Step::Decide;
                    let ti = self.venue.next_inbound_time();
                    let tt = self.kernel.next_timer();
                    // Neither changes while only the engine works.
                    let bound = min_opt(ti, tt);
                    loop {
                        let mut take = true;
                        if self.cursors.len() == 1 {
                            let limits = Limits { bound, ti, tt };
                            let burst = self.one_source_burst(
                                limits,
                                &mut next_progress,
                                progress_every,
                                &mut progress,
                            )?;
                            match burst {
                                Burst::Done(next) => {
                                    step = next;
                                    break;
                                }
                                Burst::Take => {}
                                Burst::Prepare => take = false,
                            }
                        }
                        if take {
                            self.exchange_data(i)?;
                            if self.stats.data_events >= next_progress {
                                next_progress =
                                    self.stats.data_events.saturating_add(progress_every);
                                progress(Progress {
                                    time: self.kernel.now(),
                                    events: self.stats.data_events,
                                    fills: self.kernel.fills().len(),
                                });
                            }
                        }
                        // The next data event goes at once when it is still
                        // the earliest thing: neither the venue's inbound
                        // commands nor the kernel's timers changed meanwhile,
                        // so only the data, local and outbound times are new
                        // (the same choice the full decision would make).
                        let Some((next, te)) = self.next_source()? else {
                            break;
                        };
                        let tl = self.local.next_time();
                        let to = self.venue.next_outbound_time();
                        let later = |x: Option<UnixNanos>| x.is_some_and(|x| te > x);
                        if !(later(tl) || later(bound) || later(to)) {
                            i = next;
                            continue;
                        }
                        // The next local event goes next when it is before
                        // the exchange side and the venue's reports and not
                        // after the timers.
                        if let Some(l) = tl {
                            let after = |x: Option<UnixNanos>| x.is_none_or(|x| l < x);
                            if l < te && after(ti) && after(to) && tt.is_none_or(|x| l <= x) {
                                step = Step::Local(l);
                            }
                        }
                        break;
                    }
                    continue;
                }
                Step::Local(mut t) => {
                    step = Step::Decide;
                    // Data does not change while the kernel works.
                    let te = self.next_source()?.map(|d| d.1);
                    while let Some((_, slot)) = self.local.pop() {
                        self.before_input(t);
                        // The kernel reads the event where it lies, then
                        // the chunk is released (one look-up for both).
                        let mut sample = None;
                        if let Some(ch) = self.store.chunks.get_mut(slot.chunk as usize) {
                            if let Some(ev) = ch.events.get(slot.index as usize) {
                                // The driver keeps no audit: the quiet step
                                // does not build it.
                                self.kernel.handle_market_quiet(t, ev, &mut self.venue)?;
                                if self.price_interval != 0 {
                                    sample = Some(ev.instrument());
                                }
                            }
                            Store::release_in(ch, slot.chunk, &mut self.store.free);
                        }
                        if let Some(id) = sample {
                            self.sample_price(t, id);
                        }
                        // The next local event goes at once when it is still
                        // the earliest thing: the exchange side goes first
                        // at equal times, venue reports before market data,
                        // market data before timers (the choice the full
                        // decision would make; the kernel may have sent
                        // commands or set timers, so those are read again,
                        // and data and reports do not change here).
                        let tl = self.local.next_time();
                        let ti = self.venue.next_inbound_time();
                        let to = self.venue.next_outbound_time();
                        let tt = if stopped {
                            None
                        } else {
                            self.kernel.next_timer()
                        };
                        if let Some(next) = tl {
                            let not_after = |x: Option<UnixNanos>| x.is_some_and(|x| x <= next);
                            if !(not_after(te)
                                || not_after(ti)
                                || not_after(to)
                                || tt.is_some_and(|x| x < next))
                            {
                                t = next;
                                continue;
                            }
                        }
                        // The data goes next when it is not after anything
                        // else.
                        if let Some((i, d)) = self.next_data.flatten() {
                            let before = |x: Option<UnixNanos>| x.is_none_or(|x| d <= x);
                            if before(ti) && before(tl) && before(to) && before(tt) {
                                step = Step::Data(i);
                            }
                        }
                        break;
                    }
                    continue;
                }
                Step::Decide => {}
            }
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
                match data {
                    Some((i, te)) if ti.is_none_or(|ti| te <= ti) => step = Step::Data(i),
                    _ => {
                        self.venue.process_inbound();
                    }
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
                step = Step::Local(t);
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

/// The driver's cache of the last instrument seen (and its tick), and the
/// venue to look others up.
struct KnownInstrument<'a> {
    last: &'a mut Option<(InstrumentId, Price)>,
    venue: &'a BacktestVenue,
}

/// Makes `ev`, the next event of cursor `c`, its head: checked, clamped and,
/// for a bar, expanded into its intra-bar path.
#[inline(always)]
fn prepare_head(
    c: &mut Cursor,
    ev: &mut MarketEvent,
    stats: &mut DriverStats,
    known: KnownInstrument<'_>,
    trade_seq: &mut u64,
) -> Result<(), BacktestError> {
    stats.data_events += 1;
    let (id, times) = ev.instrument_and_times();
    let tick = match known.last {
        Some((last, tick)) if last == id => *tick,
        _ => {
            let Some(inst) = known.venue.exchange().instrument(*id) else {
                return Err(BacktestError::UnknownInstrument(*id));
            };
            *known.last = Some((*id, inst.tick_size));
            inst.tick_size
        }
    };
    if let MarketEvent::Bar(b) = ev {
        // The engine gets the intra-bar path; the bar itself stays in
        // the chunk, restamped to its close, for the kernel.
        let first_id = *trade_seq;
        *trade_seq += 4;
        let close = UnixNanos(
            b.open_time
                .0
                .saturating_add(u64::from(b.interval_secs) * 1_000_000_000),
        );
        for e in bar_events(b, tick, first_id) {
            let t = e.times().exchange.max(c.last);
            if t != e.times().exchange {
                stats.out_of_order += 1;
            }
            c.last = t;
            c.path.push_back((t, e));
        }
        let t = close.max(c.last);
        c.last = t;
        b.times = EventTimes {
            exchange: t,
            local: t,
        };
        c.head = Some(match c.path.front() {
            Some((pt, _)) => Head::path(*pt),
            None => Head {
                time: t,
                local: t,
                how: Deliver::Local,
            },
        });
        return Ok(());
    }
    let t = times.exchange.max(c.last);
    if t != times.exchange {
        stats.out_of_order += 1;
    }
    c.last = t;
    c.head = Some(Head {
        time: t,
        local: times.local,
        how: Deliver::Both,
    });
    Ok(())
}

#[inline]
fn min_opt(a: Option<UnixNanos>, b: Option<UnixNanos>) -> Option<UnixNanos> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue against a plain list kept in (time, arrival) order, with
    /// pushes in order, out of order and at equal times, interleaved with
    /// pops, through several ring growths.
    #[test]
    fn local_queue_is_first_in_first_out_by_time() {
        let mut q = LocalQueue::default();
        let mut want: Vec<(UnixNanos, u64, Slot)> = Vec::new();
        let mut seq = 0u64;
        let mut x = 12_345u64;
        let mut rand = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut clock = 1_000u64;
        for round in 0..20_000u32 {
            let r = rand(10);
            if r < 6 {
                // Mostly ahead of the clock, sometimes behind (a late
                // event), often at the same time.
                let t = match rand(4) {
                    0 => clock.saturating_sub(rand(50)),
                    1 => clock,
                    _ => clock + rand(30),
                };
                clock += rand(3);
                seq += 1;
                let slot = Slot {
                    chunk: round,
                    index: r as u32,
                };
                q.push(UnixNanos(t), slot);
                let at = want.partition_point(|w| (w.0, w.1) <= (UnixNanos(t), seq));
                want.insert(at, (UnixNanos(t), seq, slot));
            } else {
                let got = q.pop();
                let expect = (!want.is_empty()).then(|| want.remove(0));
                assert_eq!(got, expect.map(|w| (w.0, w.2)), "round {round}");
            }
            assert_eq!(q.next_time(), want.first().map(|w| w.0), "round {round}");
        }
        while let Some(w) = (!want.is_empty()).then(|| want.remove(0)) {
            assert_eq!(q.pop(), Some((w.0, w.2)));
        }
        assert_eq!(q.pop(), None);
        assert_eq!(q.next_time(), None);
    }
}
