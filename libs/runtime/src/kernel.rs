//! The kernel: one thread, one input at a time (ARCHITECTURE §3).
//!
//! [`Kernel::handle`] takes one [`Input`] at its local time, journals it
//! before anything changes, applies it (market state, the order store,
//! positions and balances), calls the strategies, and then takes the actions
//! they queued: pre-trade checks, the order store, and the [`Venue`]. It
//! returns a [`StepAudit`] saying what it did.
//!
//! The kernel owns no I/O and reads no clock: time is the input's time. The
//! same inputs in the same order give the same state and the same commands,
//! which is what makes a journal replay ([`Kernel::replay`]) exact and what
//! lets one strategy object run unchanged in a backtest, paper and live: only
//! the [`Venue`] and the source of inputs differ.
//!
//! An optional [`veloz_risk::RiskEngine`] ([`Kernel::set_risk`]) checks every
//! order after the instrument rules, limits the cancel rate, watches market
//! data, rejects and equity, and holds the trading state; the journaled
//! [`Control`] inputs pull the kill switch and set the state. Its decisions
//! are in [`StepAudit::risk`] (see `docs/RISK.md`).

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use veloz_core::events::{
    CancelAllOrders, Command, EventTimes, MarkPrice, MarketEvent, OrderEvent, OrderEventKind,
    Quote, SubmitOrder,
};
use veloz_core::{
    ClientOrderId, ClientOrderIdGenerator, Instrument, InstrumentId, Money, OrderCheck, OrderType,
    PositionSide, Price, Quantity, StrategyId, TimeInForce, TriggerPriceType, UnixNanos,
};
use veloz_market::{BookConfig, L2Book};
use veloz_oms::{Applied, OrderStatus, OrderStore};
use veloz_risk::{RiskEngine, RiskRecord, RiskRecordKind, RiskView, TradingState};
use veloz_sim::idmap::IdMap;

use crate::input::{Control, Input, Stamped};
use crate::journal::{Journal, JournalError};
use crate::portfolio::{Portfolio, Position};
use crate::strategy::{Action, Context, FillEvent, Strategy, Subscriptions, View};

/// Where commands go: the simulated venue in backtests and paper trading, the
/// Binance execution client live. Reports come back as kernel [`Input`]s.
pub trait Venue {
    /// Sends a command at local time `now`. Must not block.
    fn send(&mut self, command: &Command, now: UnixNanos);
}

/// A venue that only records what it was sent (journal replays, tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordingVenue {
    /// Every command with its local send time.
    pub sent: Vec<(UnixNanos, Command)>,
}

impl Venue for RecordingVenue {
    fn send(&mut self, command: &Command, now: UnixNanos) {
        self.sent.push((now, command.clone()));
    }
}

/// What a pre-trade check sees besides the order.
#[derive(Debug)]
pub struct CheckView<'a> {
    /// The instrument's rules.
    pub instrument: &'a Instrument,
    /// Reference price: mark, else mid, else last trade (for price bands).
    pub reference_price: Option<Price>,
    /// Our position.
    pub position: Option<&'a Position>,
    /// Every order.
    pub orders: &'a OrderStore,
    /// Local time.
    pub now: UnixNanos,
}

/// A pre-trade check: refuse an order before it leaves (the reason becomes
/// the `Denied` event's reason). Implement it to add your own rules; the risk
/// engine plugs in here.
pub trait PreTradeCheck: std::fmt::Debug + Send {
    /// `Err(reason)` to deny.
    fn check(&mut self, order: &SubmitOrder, view: &CheckView<'_>) -> Result<(), String>;
}

/// The instrument's own rules (tick, step, limits, minimum notional, price
/// band), checked as the venue would, so a bad order is denied locally
/// instead of costing a venue round trip and a reject.
#[derive(Debug, Default, Clone, Copy)]
pub struct InstrumentRules;

impl PreTradeCheck for InstrumentRules {
    fn check(&mut self, o: &SubmitOrder, view: &CheckView<'_>) -> Result<(), String> {
        let check = order_check(o, view.reference_price);
        // The integer check passes only orders `validate` finds nothing
        // wrong with (the venue runs it too); any other order gets
        // `validate`, which names the rules broken.
        if view.instrument.passes_plain_limit(&check) {
            return Ok(());
        }
        let violations = view.instrument.validate(&check);
        if violations.is_empty() {
            return Ok(());
        }
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        Err(text.join("; "))
    }
}

/// What the instrument's rules see of an order, with the reference price
/// for the band.
#[inline]
fn order_check(o: &SubmitOrder, reference: Option<Price>) -> OrderCheck {
    OrderCheck {
        side: o.side,
        order_type: o.order_type,
        quantity: o.quantity,
        price: o.price,
        trigger_price: o.trigger_price,
        flags: o.flags,
        reference_price: reference,
    }
}

/// Market state the strategies read (small id-ordered maps: a run trades a
/// handful of instruments and looks one up on every event).
#[derive(Debug, Default)]
pub struct MarketState {
    /// L2 books (instruments with book data).
    pub books: IdMap<L2Book>,
    /// Last quotes.
    pub quotes: IdMap<Quote>,
    /// Last trade price or bar close.
    pub last: IdMap<Price>,
    /// Last mark prices.
    pub marks: IdMap<MarkPrice>,
}

impl MarketState {
    /// Best bid and ask prices: from the L2 book if it has both sides, else
    /// from the last quote.
    #[inline]
    pub fn best_bid_ask(&self, id: InstrumentId) -> Option<(Price, Price)> {
        if let Some(prices) = self.books.get(&id).and_then(L2Book::best_prices) {
            return Some(prices);
        }
        self.quotes.get(&id).map(|q| (q.bid.price, q.ask.price))
    }
}

/// Counters of everything unusual the kernel met.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KernelStats {
    /// Inputs handled.
    pub inputs: u64,
    /// Commands sent to the venue.
    pub commands: u64,
    /// Orders denied by pre-trade checks.
    pub denied: u64,
    /// Order events for orders the kernel does not know (placed outside VeloZ).
    pub external_order_events: u64,
    /// Order events the order state machine refused (recorded, not applied).
    pub refused_order_events: u64,
    /// Duplicate fills ignored.
    pub duplicate_fills: u64,
    /// Book updates that could not be applied.
    pub book_errors: u64,
    /// Fills whose position arithmetic overflowed (position not updated).
    pub position_errors: u64,
    /// Cancels or modifies of orders that were already closed (not sent).
    pub stale_requests: u64,
    /// Strategy log messages beyond the kept ones.
    pub log_dropped: u64,
    /// Orders, modifies and cancels denied by the risk engine (orders are
    /// also counted in `denied`).
    pub risk_denied: u64,
    /// Times the risk engine went into HALTED.
    pub halts: u64,
}

/// What one [`Kernel::handle`] call did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepAudit {
    /// The input's sequence number.
    pub seq: u64,
    /// Commands sent.
    pub commands: u32,
    /// Orders denied, with the reason.
    pub denied: Vec<(ClientOrderId, String)>,
    /// Anything else unusual (refused events, book errors), in words.
    pub notes: Vec<String>,
    /// The risk engine's decisions in this step (denials, state changes,
    /// the kill switch), with their reasons.
    pub risk: Vec<RiskRecord>,
}

/// A fill as the run records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FillRecord {
    /// Local time.
    pub time: UnixNanos,
    /// Exchange time.
    pub exchange_time: UnixNanos,
    /// Strategy.
    pub strategy: StrategyId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Order.
    pub client_order_id: ClientOrderId,
    /// The fill.
    pub fill: veloz_core::events::Fill,
    /// Position quantity after the fill.
    pub position_after: Quantity,
}

/// A pending timer: `((at, seq), (strategy index, tag))`.
type TimerEntry = ((UnixNanos, u64), (usize, u64));

/// A kernel failure that stops the run.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The journal could not record an input (nothing was applied).
    #[error("input {seq} was not applied because the journal failed: {source}")]
    Journal {
        /// The input's sequence number.
        seq: u64,
        /// Cause.
        source: JournalError,
    },
    /// A strategy queued actions without end.
    #[error("strategies queued more than {0} actions for one input; a strategy is reacting to its own events in a loop")]
    RunawayActions(usize),
}

/// Kernel settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelConfig {
    /// Client order id tag (see `ClientOrderIdGenerator`).
    pub id_tag: String,
    /// Client order id epoch (a backtest uses a fixed one: same ids every run).
    pub id_epoch: u64,
    /// Keep a [`FillRecord`] of every fill.
    pub record_fills: bool,
}

impl Default for KernelConfig {
    fn default() -> Self {
        Self {
            id_tag: "VZ".into(),
            id_epoch: 1,
            record_fills: true,
        }
    }
}

const MAX_ACTIONS_PER_INPUT: usize = 100_000;
/// The strategy id of the orders the kernel itself sends (kill switch).
pub const RISK_STRATEGY: StrategyId = StrategyId::from_const("risk");
/// `take_command`'s strategy index for the kernel's own commands (no
/// strategy is called back).
const NO_STRATEGY: usize = usize::MAX;
const MAX_LOG: usize = 10_000;

/// The kernel (see the module docs).
#[derive(Debug)]
pub struct Kernel {
    now: UnixNanos,
    seq: u64,
    instruments: BTreeMap<InstrumentId, Instrument>,
    market: MarketState,
    portfolio: Portfolio,
    orders: OrderStore,
    strategies: Vec<Box<dyn Strategy>>,
    strategy_ids: Vec<StrategyId>,
    /// Each strategy's market data subscriptions, read when it was added.
    subscriptions: Vec<Subscriptions>,
    /// The union of `subscriptions`: a kind of market data no strategy
    /// wants costs no callback loop.
    subscribed: Subscriptions,
    /// The intersection of `subscriptions` (none when there is no
    /// strategy): a kind every strategy wants needs no check per strategy.
    unanimous: Subscriptions,
    ids: ClientOrderIdGenerator,
    actions: Vec<(usize, Action)>,
    /// The buffer `drain` takes a batch of actions into: swapped with
    /// `actions` so that neither loses its capacity (no allocation per step).
    spare_actions: Vec<(usize, Action)>,
    /// Pending timers `((at, seq), (strategy index, tag))`, earliest first
    /// (`seq` orders timers set for the same time by when they were set).
    /// Timers are only ever set and taken off the front: a heap does both
    /// without the tree's node allocation per timer.
    timers: BinaryHeap<Reverse<TimerEntry>>,
    /// Time of the first of `timers` (kept by the two places that change them).
    next_timer_at: Option<UnixNanos>,
    timer_seq: u64,
    checks: Vec<Box<dyn PreTradeCheck>>,
    journal: Option<Box<dyn Journal>>,
    stats: KernelStats,
    fills: Vec<FillRecord>,
    record_fills: bool,
    log: Vec<(UnixNanos, StrategyId, String)>,
    /// Boxed: the hot path asks "is there one?" on every input, and a box
    /// makes that a null test instead of a comparison of the engine's bytes.
    risk: Option<Box<RiskEngine>>,
    /// Set while the kill switch sends its own commands: they skip the
    /// cancel rate limit, and its orders take the flatten check.
    kill_switch_active: bool,
}

/// Why a kernel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Bad client order id tag.
    #[error("client order id tag {tag:?}: {source}")]
    IdTag {
        /// The tag.
        tag: String,
        /// Cause.
        source: veloz_core::IdError,
    },
    /// Bad strategy id.
    #[error("strategy id {id:?}: {source}")]
    StrategyId {
        /// The id.
        id: String,
        /// Cause.
        source: veloz_core::IdError,
    },
    /// Two strategies with one id.
    #[error("two strategies are named {0}; give each a unique id")]
    DuplicateStrategy(StrategyId),
}

impl Kernel {
    /// A kernel with no instruments, strategies or journal; the instrument
    /// rules check is installed.
    pub fn new(config: &KernelConfig) -> Result<Self, SetupError> {
        let ids =
            ClientOrderIdGenerator::new(&config.id_tag, config.id_epoch).map_err(|source| {
                SetupError::IdTag {
                    tag: config.id_tag.clone(),
                    source,
                }
            })?;
        Ok(Self {
            now: UnixNanos::ZERO,
            seq: 0,
            instruments: BTreeMap::new(),
            market: MarketState::default(),
            portfolio: Portfolio::default(),
            orders: OrderStore::new(),
            strategies: Vec::new(),
            strategy_ids: Vec::new(),
            subscriptions: Vec::new(),
            subscribed: Subscriptions::NONE,
            unanimous: Subscriptions::NONE,
            ids,
            actions: Vec::new(),
            spare_actions: Vec::new(),
            timers: BinaryHeap::new(),
            next_timer_at: None,
            timer_seq: 0,
            checks: vec![Box::new(InstrumentRules)],
            journal: None,
            stats: KernelStats::default(),
            fills: Vec::new(),
            record_fills: config.record_fills,
            log: Vec::new(),
            risk: None,
            kill_switch_active: false,
        })
    }

    /// Installs the risk engine: every order passes it after the other
    /// pre-trade checks, cancels pass its cancel rate limit, and it observes
    /// market data, rejects and equity. Without one the kernel behaves as
    /// before (no limits, no trading state).
    pub fn set_risk(&mut self, risk: RiskEngine) {
        self.risk = Some(Box::new(risk));
    }

    /// The risk engine, if installed.
    pub fn risk(&self) -> Option<&RiskEngine> {
        self.risk.as_deref()
    }

    /// The trading state (`None` without a risk engine).
    pub fn trading_state(&self) -> Option<TradingState> {
        self.risk.as_deref().map(RiskEngine::trading_state)
    }

    /// Adds an instrument.
    pub fn add_instrument(&mut self, instrument: Instrument) {
        self.portfolio.add_instrument(&instrument);
        self.instruments.insert(instrument.id, instrument);
    }

    /// Adds a strategy under `id`.
    pub fn add_strategy(
        &mut self,
        id: &str,
        strategy: Box<dyn Strategy>,
    ) -> Result<(), SetupError> {
        let sid = StrategyId::new(id).map_err(|source| SetupError::StrategyId {
            id: id.into(),
            source,
        })?;
        if self.strategy_ids.contains(&sid) {
            return Err(SetupError::DuplicateStrategy(sid));
        }
        let subs = strategy.subscriptions();
        self.strategy_ids.push(sid);
        self.subscriptions.push(subs);
        self.subscribed = self.subscribed.union(subs);
        self.unanimous = if self.strategies.is_empty() {
            subs
        } else {
            self.unanimous.intersection(subs)
        };
        self.strategies.push(strategy);
        Ok(())
    }

    /// Adds a pre-trade check (after the instrument rules).
    pub fn add_check(&mut self, check: Box<dyn PreTradeCheck>) {
        self.checks.push(check);
    }

    /// Journals every input from now on.
    pub fn set_journal(&mut self, journal: Box<dyn Journal>) {
        self.journal = Some(journal);
    }

    /// Takes the journal back (to flush or read it).
    pub fn take_journal(&mut self) -> Option<Box<dyn Journal>> {
        self.journal.take()
    }

    /// The kernel's time (the last input's time).
    pub fn now(&self) -> UnixNanos {
        self.now
    }

    /// The instruments.
    pub fn instruments(&self) -> &BTreeMap<InstrumentId, Instrument> {
        &self.instruments
    }

    /// The market state.
    pub fn market(&self) -> &MarketState {
        &self.market
    }

    /// Positions and balances.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Every order.
    pub fn orders(&self) -> &OrderStore {
        &self.orders
    }

    /// Counters.
    pub fn stats(&self) -> KernelStats {
        self.stats
    }

    /// Fills recorded so far.
    pub fn fills(&self) -> &[FillRecord] {
        &self.fills
    }

    /// Messages strategies logged with `Context::log`.
    pub fn strategy_log(&self) -> &[(UnixNanos, StrategyId, String)] {
        &self.log
    }

    /// The strategies' ids and names.
    pub fn strategies(&self) -> impl Iterator<Item = (StrategyId, &str)> + '_ {
        self.strategy_ids
            .iter()
            .copied()
            .zip(self.strategies.iter().map(|s| s.name()))
    }

    /// When the next timer is due.
    #[inline]
    pub fn next_timer(&self) -> Option<UnixNanos> {
        self.next_timer_at
    }

    /// Mid price of an instrument (book, else quote), else the last trade
    /// or bar close.
    pub fn mid_price(&self, id: InstrumentId) -> Option<Price> {
        mid_or_last(&self.market, id)
    }

    /// Reference price of an instrument: mark, else mid, else last.
    pub fn reference_price(&self, id: InstrumentId) -> Option<Price> {
        reference_price(&self.market, id)
    }

    /// Handles one input at local time `time` (see the module docs).
    pub fn handle(
        &mut self,
        time: UnixNanos,
        input: Input,
        venue: &mut dyn Venue,
    ) -> Result<StepAudit, KernelError> {
        let seq = self.seq + 1;
        if let Some(j) = self.journal.as_mut() {
            let stamped = Stamped { seq, time, input };
            j.append(&stamped)
                .map_err(|source| KernelError::Journal { seq, source })?;
            self.seq = seq;
            return self.apply(stamped.time, stamped.input, venue);
        }
        self.seq = seq;
        self.apply(time, input, venue)
    }

    /// [`Kernel::handle`] for market data, without moving the event (the
    /// hot path of a backtest). The journal, if any, records a copy.
    /// Inlined (as [`Kernel::handle_market_quiet`]): a backtest driver calls
    /// it once per event from one place, and the call's frame and argument
    /// moves are a good part of the step's own cost.
    #[inline]
    pub fn handle_market(
        &mut self,
        time: UnixNanos,
        ev: &MarketEvent,
        venue: &mut dyn Venue,
    ) -> Result<StepAudit, KernelError> {
        let seq = self.begin_market(time, ev)?;
        // The common step (no book error, no risk engine, no action queued)
        // builds its empty audit once, at the end, instead of carrying one
        // through the step.
        let mut notes = Vec::new();
        self.on_market(ev, &mut notes);
        if self.risk.is_none() && self.actions.is_empty() {
            return Ok(StepAudit {
                seq,
                notes,
                ..StepAudit::default()
            });
        }
        self.finish_market(seq, notes, venue)
    }

    /// [`Kernel::handle_market`] for a caller that does not read the step's
    /// [`StepAudit`] (a backtest driver drops it): the same step, journal,
    /// state changes, callbacks, commands and counters, without returning
    /// the audit record, which the common step then never builds. Errors are
    /// the same as `handle_market`'s. Inlined, as `handle_market`.
    #[inline]
    pub fn handle_market_quiet(
        &mut self,
        time: UnixNanos,
        ev: &MarketEvent,
        venue: &mut dyn Venue,
    ) -> Result<(), KernelError> {
        let seq = self.begin_market(time, ev)?;
        // An empty `Vec` does not allocate: the notes only cost something
        // when a book update is refused.
        let mut notes = Vec::new();
        self.on_market(ev, &mut notes);
        if self.risk.is_none() && self.actions.is_empty() {
            return Ok(());
        }
        self.finish_market(seq, notes, venue).map(drop)
    }

    /// A market step's start: the journal records the input, then the
    /// sequence number, the clock and the input counter move. Returns the
    /// input's sequence number.
    #[inline(always)]
    fn begin_market(&mut self, time: UnixNanos, ev: &MarketEvent) -> Result<u64, KernelError> {
        let seq = self.seq + 1;
        if self.journal.is_some() {
            self.journal_market(seq, time, ev)?;
        }
        self.seq = seq;
        self.now = self.now.max(time);
        self.stats.inputs += 1;
        Ok(seq)
    }

    /// Journals a copy of a market input (kept out of the hot path: most
    /// backtests run without a journal).
    #[cold]
    #[inline(never)]
    fn journal_market(
        &mut self,
        seq: u64,
        time: UnixNanos,
        ev: &MarketEvent,
    ) -> Result<(), KernelError> {
        let Some(j) = self.journal.as_mut() else {
            return Ok(());
        };
        let stamped = Stamped {
            seq,
            time,
            input: Input::Market(ev.clone()),
        };
        j.append(&stamped)
            .map_err(|source| KernelError::Journal { seq, source })
    }

    /// The rest of a market step that has a risk engine or queued actions:
    /// the risk engine observes, the actions are taken, the risk records go
    /// into the audit.
    #[inline(never)]
    fn finish_market(
        &mut self,
        seq: u64,
        notes: Vec<String>,
        venue: &mut dyn Venue,
    ) -> Result<StepAudit, KernelError> {
        let mut audit = StepAudit {
            seq,
            notes,
            ..StepAudit::default()
        };
        if self.risk.is_some() {
            self.risk_observe();
        }
        if !self.actions.is_empty() {
            self.drain(venue, &mut audit)?;
        }
        if self.risk.is_some() {
            self.risk_collect(&mut audit);
        }
        Ok(audit)
    }

    /// Feeds journaled inputs to this (fresh) kernel, in order.
    pub fn replay<'a>(
        &mut self,
        entries: impl IntoIterator<Item = &'a Stamped>,
        venue: &mut dyn Venue,
    ) -> Result<u64, KernelError> {
        let mut n = 0;
        for e in entries {
            self.handle(e.time, e.input.clone(), venue)?;
            n += 1;
        }
        Ok(n)
    }

    /// Moves the clock to an input's time and opens its audit record.
    fn begin_step(&mut self, time: UnixNanos) -> StepAudit {
        self.now = self.now.max(time);
        self.stats.inputs += 1;
        StepAudit {
            seq: self.seq,
            ..StepAudit::default()
        }
    }

    fn apply(
        &mut self,
        time: UnixNanos,
        input: Input,
        venue: &mut dyn Venue,
    ) -> Result<StepAudit, KernelError> {
        let mut audit = self.begin_step(time);
        match input {
            Input::Start => self.call(None, |s, c| s.on_start(c)),
            Input::Stop => self.call(None, |s, c| s.on_stop(c)),
            Input::Market(ev) => self.on_market(&ev, &mut audit.notes),
            Input::Order(ev) => self.on_order_event(ev, &mut audit),
            Input::Account(ev) => self.portfolio.apply_account(&ev),
            Input::Funding(f) => {
                self.portfolio.apply_funding(f.instrument, f.amount);
                self.call(None, |s, c| s.on_funding(c, &f));
            }
            Input::Timer => {
                // Due timers in order, each taken off the front (no second
                // search by key); a callback may set new ones.
                loop {
                    let now = self.now;
                    let (idx, tag) = match self.timers.peek_mut() {
                        Some(first) if (first.0).0 .0 <= now => (PeekMut::pop(first).0).1,
                        _ => break,
                    };
                    self.call(Some(idx), |s, c| s.on_timer(c, tag));
                }
                self.next_timer_at = self.timers.peek().map(|t| (t.0).0 .0);
            }
            Input::Control(c) => self.on_control(c, venue, &mut audit),
        }
        if self.risk.is_some() {
            self.risk_observe();
        }
        if !self.actions.is_empty() {
            self.drain(venue, &mut audit)?;
        }
        if self.risk.is_some() {
            self.risk_collect(&mut audit);
        }
        Ok(audit)
    }

    /// Feeds the risk engine what it watches besides orders: equity (PnL of
    /// the positions in its currency) and the stale-data check. Runs before
    /// the step's actions are taken, so a halt applies to them.
    fn risk_observe(&mut self) {
        let Some(risk) = self.risk.as_mut() else {
            return;
        };
        if let Some(cur) = risk.equity_currency() {
            let mut pnl: i128 = 0;
            for p in self.portfolio.positions() {
                if p.pnl_currency != cur {
                    continue;
                }
                let unrealized = reference_price(&self.market, p.instrument)
                    .and_then(|px| p.unrealized_raw(px))
                    .unwrap_or(0);
                let fees = p.fees.get(&cur).copied().unwrap_or(0);
                pnl = pnl
                    .saturating_add(p.realized_raw)
                    .saturating_add(unrealized)
                    .saturating_add(p.funding_raw)
                    .saturating_sub(fees);
            }
            risk.on_equity(self.now, Money::from_raw(pnl, cur));
        }
        if risk.stale_check_due(self.now) {
            let open: BTreeSet<InstrumentId> = self
                .orders
                .open_orders(None)
                .map(|o| o.instrument())
                .collect();
            risk.on_tick(self.now, open);
        }
    }

    /// Moves the risk engine's records of this step into the audit.
    fn risk_collect(&mut self, audit: &mut StepAudit) {
        let Some(risk) = self.risk.as_mut() else {
            return;
        };
        if !risk.has_records() {
            return;
        }
        let records = risk.take_records();
        for r in &records {
            if let RiskRecordKind::StateChanged {
                to: TradingState::Halted,
                ..
            } = r.kind
            {
                self.stats.halts += 1;
            }
        }
        audit.risk.extend(records);
    }

    /// An operator or supervisor command.
    fn on_control(&mut self, c: Control, venue: &mut dyn Venue, audit: &mut StepAudit) {
        let now = self.now;
        match c {
            Control::SetTradingState { state, reason } => match self.risk.as_mut() {
                Some(r) => r.set_trading_state(state, &reason, now),
                None => audit.notes.push(format!(
                    "trading state {state} ignored: no risk engine is installed ({reason})"
                )),
            },
            Control::Connection { up, what } => match self.risk.as_mut() {
                Some(r) => r.on_connection(now, up, &what),
                None => audit.notes.push(format!(
                    "connection {what} {}",
                    if up { "up" } else { "lost" }
                )),
            },
            Control::KillSwitch { flatten, reason } => {
                self.kill_switch(flatten, &reason, venue, audit)
            }
            Control::Finding { source, text } => audit.notes.push(format!("{source}: {text}")),
        }
    }

    /// The kill switch: HALTED, cancel every open order, and with `flatten`
    /// close every position with (reduce-only on futures) market orders whose
    /// client order ids come from the kernel's generator. The flatten orders
    /// still pass the instrument rules; the risk engine lets them through in
    /// every state as long as they only reduce. Without a risk engine the
    /// orders are canceled and flattened but nothing blocks new orders.
    fn kill_switch(
        &mut self,
        flatten: bool,
        reason: &str,
        venue: &mut dyn Venue,
        audit: &mut StepAudit,
    ) {
        let now = self.now;
        let positions: Vec<(&Instrument, Quantity)> = self
            .portfolio
            .positions()
            .filter_map(|p| self.instruments.get(&p.instrument).map(|i| (i, p.qty())))
            .collect();
        let plan = match self.risk.as_mut() {
            Some(r) => r.kill_switch(now, flatten, reason, &self.orders, positions),
            None => {
                audit.notes.push(format!(
                    "kill switch without a risk engine: orders are canceled but new orders are not blocked ({reason})"
                ));
                veloz_risk::plan_kill_switch(&self.orders, positions, flatten)
            }
        };
        self.kill_switch_active = true;
        for instrument in plan.cancel {
            let cmd = Command::CancelAll(CancelAllOrders {
                strategy: RISK_STRATEGY,
                instrument,
                side: None,
                ts_init: now,
            });
            self.take_command(NO_STRATEGY, cmd, venue, audit);
        }
        for f in plan.flatten {
            let cmd = Command::Submit(SubmitOrder {
                strategy: RISK_STRATEGY,
                instrument: f.instrument,
                client_order_id: self.ids.next_id(),
                side: f.side,
                order_type: OrderType::Market,
                quantity: f.quantity,
                price: None,
                trigger_price: None,
                trigger_type: TriggerPriceType::Last,
                time_in_force: TimeInForce::Gtc,
                expire_time: None,
                flags: veloz_risk::flatten_flags(&f),
                position_side: PositionSide::Both,
                trailing: None,
                ts_init: now,
            });
            self.take_command(NO_STRATEGY, cmd, venue, audit);
        }
        self.kill_switch_active = false;
    }

    /// Market data: the market state, then the strategies' callback. A book
    /// update the book refuses is counted and noted instead. Inlined: it is
    /// most of the hot path of a backtest ([`Kernel::handle_market`]).
    #[inline(always)]
    fn on_market(&mut self, ev: &MarketEvent, notes: &mut Vec<String>) {
        if let Some(r) = self.risk.as_mut() {
            r.on_market_data(*ev.instrument_ref(), self.now);
        }
        match ev {
            MarketEvent::BookDeltas(d) => {
                let id = &d.instrument;
                if let Some(book) = self.book_of(id) {
                    // `book_of` found the book by `d.instrument` (and a book
                    // is made for its own id): no need to compare it again.
                    let r = book.apply_routed_deltas(d);
                    self.after_book_update(id, r, notes);
                }
            }
            MarketEvent::BookSnapshot(s) => {
                let id = &s.instrument;
                if let Some(book) = self.book_of(id) {
                    let r = book.apply_snapshot(s);
                    self.after_book_update(id, r, notes);
                }
            }
            MarketEvent::Quote(q) => {
                *self.market.quotes.get_or_insert_with(q.instrument, || *q) = *q;
                self.call_subscribed(Subscriptions::QUOTES, |s, c| s.on_quote(c, q));
            }
            MarketEvent::Trade(t) => {
                *self
                    .market
                    .last
                    .get_or_insert_with(t.instrument, || t.price) = t.price;
                self.call_subscribed(Subscriptions::TRADES, |s, c| s.on_trade(c, t));
            }
            MarketEvent::Bar(b) => {
                self.market.last.insert(b.instrument, b.close);
                self.call_subscribed(Subscriptions::BARS, |s, c| s.on_bar(c, b));
            }
            MarketEvent::MarkPrice(m) => {
                if m.mark.is_positive() {
                    self.market.marks.insert(m.instrument, *m);
                }
                self.call_subscribed(Subscriptions::MARK_PRICES, |s, c| s.on_mark_price(c, m));
            }
            MarketEvent::Liquidation(_) => {}
        }
    }

    /// The kernel's L2 book of `id`, made on its first update (with the
    /// instrument's book settings when it is loaded). One search by
    /// reference on the hot path; `None` cannot happen (the index is fresh).
    #[inline(always)]
    fn book_of(&mut self, id: &InstrumentId) -> Option<&mut L2Book> {
        let at = match self.market.books.index_of(id) {
            Some(at) => at,
            None => self.new_book(id)?,
        };
        self.market.books.value_at_mut(at)
    }

    /// Makes the book of `id` (first update); returns its index.
    #[cold]
    fn new_book(&mut self, id: &InstrumentId) -> Option<usize> {
        let book = self
            .instruments
            .get(id)
            .and_then(|i| L2Book::with_config(*id, BookConfig::for_instrument(i)).ok())
            .unwrap_or_else(|| L2Book::new(*id));
        self.market.books.insert(*id, book);
        self.market.books.index_of(id)
    }

    /// After a book update: the strategies' `on_book`, or the refusal noted.
    #[inline(always)]
    fn after_book_update(
        &mut self,
        id: &InstrumentId,
        r: Result<(), veloz_market::BookError>,
        notes: &mut Vec<String>,
    ) {
        match r {
            Ok(()) => self.call_subscribed(Subscriptions::BOOKS, |s, c| s.on_book(c, *id)),
            Err(e) => {
                self.stats.book_errors += 1;
                notes.push(format!("book update of {id} refused: {e}"));
            }
        }
    }

    fn on_order_event(&mut self, ev: OrderEvent, audit: &mut StepAudit) {
        // The order's strategy is read with the event applied (one search):
        // it serves the callbacks, the fill record and the kernel's-own-order
        // check (the order store does not change during this step's
        // bookkeeping).
        let (applied, sid) = match self.orders.apply_and_get(&ev) {
            Ok((a, o)) => (a.applied, o.strategy()),
            Err(veloz_oms::StoreError::UnknownOrder(_)) => {
                self.stats.external_order_events += 1;
                audit.notes.push(format!(
                    "event for order {} that VeloZ did not place (external)",
                    ev.client_order_id
                ));
                return;
            }
            Err(e) => {
                self.stats.refused_order_events += 1;
                audit.notes.push(format!("order event refused: {e}"));
                return;
            }
        };
        match applied {
            Applied::DuplicateFill { .. } => {
                self.stats.duplicate_fills += 1;
                return;
            }
            Applied::Ignored { .. } => return,
            Applied::Transition { .. } => {}
        }
        if let (Some(r), OrderEventKind::Rejected { code, reason }) = (self.risk.as_mut(), &ev.kind)
        {
            // A post-only order that would have taken is refused by design
            // (futures -5022, spot LIMIT_MAKER "would immediately match"):
            // routine for a market maker, not a sign that something is wrong.
            let post_only_refusal =
                *code == Some(-5022) || reason.contains("would immediately match");
            let why = match code {
                Some(c) => format!("{} rejected ({c}): {reason}", ev.client_order_id),
                None => format!("{} rejected: {reason}", ev.client_order_id),
            };
            if !post_only_refusal {
                r.on_reject(self.now, &why);
            }
        }
        let idx = self.strategy_ids.iter().position(|s| *s == sid);
        // A fill updates the position before any callback, so every callback
        // of this event sees the position after it.
        if let OrderEventKind::Filled(fill) = &ev.kind {
            if !self.portfolio.apply_fill(ev.instrument, fill) {
                self.stats.position_errors += 1;
                audit.notes.push(format!(
                    "position of {} not updated by a fill",
                    ev.instrument
                ));
            }
            if self.record_fills {
                let position_after = self
                    .portfolio
                    .position(ev.instrument)
                    .map(Position::qty)
                    .unwrap_or(Quantity::ZERO);
                self.fills.push(FillRecord {
                    time: self.now,
                    exchange_time: ev.times.exchange,
                    strategy: sid,
                    instrument: ev.instrument,
                    client_order_id: ev.client_order_id,
                    fill: *fill,
                    position_after,
                });
            }
        }
        let Some(idx) = idx else {
            // The kernel's own order (kill switch): no strategy owns it.
            return;
        };
        let idx = Some(idx);
        self.call(idx, |s, c| s.on_order_event(c, &ev));
        if let OrderEventKind::Filled(fill) = &ev.kind {
            self.call(idx, |s, c| s.on_fill(c, FillEvent { event: &ev, fill }));
            // The position is read through the context's own view (no copy):
            // callbacks cannot change it.
            let id = ev.instrument;
            if self.portfolio.position(id).is_some() {
                self.call(idx, |s, c| {
                    let portfolio = c.view.portfolio;
                    if let Some(p) = portfolio.position(id) {
                        s.on_position(c, p);
                    }
                });
            }
        }
    }

    /// Calls the strategies subscribed to `kind` (market data callbacks);
    /// nothing at all when none is.
    #[inline(always)]
    fn call_subscribed(
        &mut self,
        kind: Subscriptions,
        mut f: impl FnMut(&mut dyn Strategy, &mut Context<'_>),
    ) {
        if self.unanimous.contains(kind) {
            self.call(None, f);
            return;
        }
        if !self.subscribed.contains(kind) {
            return;
        }
        let Self {
            now,
            instruments,
            market,
            portfolio,
            orders,
            strategies,
            strategy_ids,
            subscriptions,
            ids,
            actions,
            risk,
            ..
        } = self;
        let trading_state = risk.as_deref().map(RiskEngine::trading_state);
        let all = strategies
            .iter_mut()
            .zip(strategy_ids.iter().zip(subscriptions.iter()));
        for (i, (s, (sid, subs))) in all.enumerate() {
            if !subs.contains(kind) {
                continue;
            }
            let mut ctx = Context {
                strategy: sid,
                view: View {
                    now: *now,
                    instruments,
                    market,
                    portfolio,
                    orders,
                    trading_state,
                },
                ids,
                actions,
                index: i,
            };
            f(s.as_mut(), &mut ctx);
        }
    }

    /// Calls one strategy (`Some(i)`) or all of them.
    #[inline(always)]
    fn call(
        &mut self,
        only: Option<usize>,
        mut f: impl FnMut(&mut dyn Strategy, &mut Context<'_>),
    ) {
        let Self {
            now,
            instruments,
            market,
            portfolio,
            orders,
            strategies,
            strategy_ids,
            ids,
            actions,
            risk,
            ..
        } = self;
        let trading_state = risk.as_deref().map(RiskEngine::trading_state);
        for (i, s) in strategies.iter_mut().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            let mut ctx = Context {
                strategy: &strategy_ids[i],
                view: View {
                    now: *now,
                    instruments,
                    market,
                    portfolio,
                    orders,
                    trading_state,
                },
                ids,
                actions,
                index: i,
            };
            f(s.as_mut(), &mut ctx);
        }
    }

    fn event(&self, o: &veloz_oms::Order, kind: OrderEventKind) -> OrderEvent {
        pending_event(o, kind, self.now)
    }

    /// Takes queued actions until none are left (callbacks may queue more).
    fn drain(&mut self, venue: &mut dyn Venue, audit: &mut StepAudit) -> Result<(), KernelError> {
        let mut taken = 0usize;
        let mut batch = std::mem::take(&mut self.spare_actions);
        while !self.actions.is_empty() {
            // `batch` is empty here: the swap leaves `actions` empty for the
            // callbacks to queue into.
            std::mem::swap(&mut batch, &mut self.actions);
            taken += batch.len();
            if taken > MAX_ACTIONS_PER_INPUT {
                return Err(KernelError::RunawayActions(MAX_ACTIONS_PER_INPUT));
            }
            for (idx, action) in batch.drain(..) {
                match action {
                    Action::SetTimer { at, tag } => {
                        self.timer_seq += 1;
                        self.timers
                            .push(Reverse(((at, self.timer_seq), (idx, tag))));
                        if self.next_timer_at.is_none_or(|n| at < n) {
                            self.next_timer_at = Some(at);
                        }
                    }
                    Action::Command(cmd) => self.take_command(idx, cmd, venue, audit),
                    Action::Log(text) => {
                        if self.log.len() < MAX_LOG {
                            let sid = self.strategy_ids[idx];
                            self.log.push((self.now, sid, text));
                        } else {
                            self.stats.log_dropped += 1;
                        }
                    }
                }
            }
        }
        self.spare_actions = batch;
        Ok(())
    }

    fn take_command(
        &mut self,
        idx: usize,
        cmd: Command,
        venue: &mut dyn Venue,
        audit: &mut StepAudit,
    ) {
        match &cmd {
            Command::Submit(o) => {
                let denial = self.pre_trade(o);
                if self.orders.submit(o.clone()).is_err() {
                    audit
                        .notes
                        .push(format!("duplicate client order id {}", o.client_order_id));
                    return;
                }
                let kind = match &denial {
                    Some(reason) => OrderEventKind::Denied {
                        reason: reason.clone(),
                    },
                    None => OrderEventKind::Submitted,
                };
                let ev = OrderEvent {
                    instrument: o.instrument,
                    client_order_id: o.client_order_id,
                    venue_order_id: None,
                    kind,
                    times: EventTimes {
                        exchange: self.now,
                        local: self.now,
                    },
                };
                // The order was stored just above: no search for it.
                if self.orders.apply_to_newest(&ev).is_err() {
                    self.stats.refused_order_events += 1;
                }
                if let Some(reason) = denial {
                    self.stats.denied += 1;
                    audit.denied.push((o.client_order_id, reason));
                } else {
                    venue.send(&cmd, self.now);
                    self.stats.commands += 1;
                    audit.commands += 1;
                }
                self.call(Some(idx), |s, c| s.on_order_event(c, &ev));
            }
            Command::Cancel(c) => {
                let id = c.client_order_id;
                if !self.risk_allows_cancel(Some(id), audit) {
                    return;
                }
                self.send_pending(id, OrderEventKind::PendingCancel, &cmd, venue, audit);
            }
            Command::Modify(m) => {
                let id = m.client_order_id;
                if let Some(r) = self.risk.as_mut() {
                    if self.orders.get(&id).is_some_and(|o| o.is_open()) {
                        if let Err(d) = r.check_modify(id, self.now) {
                            self.stats.risk_denied += 1;
                            audit.denied.push((id, d.to_string()));
                            return;
                        }
                    }
                }
                self.send_pending(id, OrderEventKind::PendingUpdate, &cmd, venue, audit);
            }
            Command::CancelAll(c) => {
                if !self.risk_allows_cancel(None, audit) {
                    audit.notes.push(format!(
                        "cancel-all of {} not sent: cancel rate limit",
                        c.instrument
                    ));
                    return;
                }
                let evs: Vec<OrderEvent> = self
                    .orders
                    .open_orders(Some(c.instrument))
                    .filter(|o| c.side.is_none_or(|s| o.side() == s))
                    .filter(|o| {
                        !matches!(
                            o.status(),
                            OrderStatus::PendingCancel | OrderStatus::Submitted
                        )
                    })
                    .map(|o| self.event(o, OrderEventKind::PendingCancel))
                    .collect();
                for ev in &evs {
                    let _ = self.orders.apply(ev);
                }
                venue.send(&cmd, self.now);
                self.stats.commands += 1;
                audit.commands += 1;
            }
        }
    }

    /// The risk engine's cancel rate limit (the kill switch's own cancels
    /// skip it; a cancel of an order that is not open is left to the stale
    /// request path). A denied cancel is not sent: the order stays open and
    /// the strategy may try again.
    fn risk_allows_cancel(&mut self, id: Option<ClientOrderId>, audit: &mut StepAudit) -> bool {
        if self.kill_switch_active {
            return true;
        }
        let Some(r) = self.risk.as_mut() else {
            return true;
        };
        if id.is_some_and(|id| !self.orders.get(&id).is_some_and(|o| o.is_open())) {
            return true;
        }
        match r.on_cancel_request(self.now) {
            Ok(()) => true,
            Err(d) => {
                self.stats.risk_denied += 1;
                if let Some(id) = id {
                    audit.denied.push((id, d.to_string()));
                }
                false
            }
        }
    }

    /// A cancel or modify of an open order: the pending state, then the venue.
    /// A request for an order that is already closed is not sent (counted).
    fn send_pending(
        &mut self,
        id: ClientOrderId,
        pending: OrderEventKind,
        cmd: &Command,
        venue: &mut dyn Venue,
        audit: &mut StepAudit,
    ) {
        // One search finds the order, tells whether it is open and applies
        // the pending event to it.
        let now = self.now;
        let applied = self
            .orders
            .apply_with(&id, |o| o.is_open().then(|| pending_event(o, pending, now)));
        if applied.is_none() {
            self.stats.stale_requests += 1;
            return;
        }
        venue.send(cmd, self.now);
        self.stats.commands += 1;
        audit.commands += 1;
    }

    fn pre_trade(&mut self, o: &SubmitOrder) -> Option<String> {
        let Some(instrument) = self.instruments.get(&o.instrument) else {
            return Some(format!("instrument {} is not loaded", o.instrument));
        };
        let view = CheckView {
            instrument,
            reference_price: reference_price(&self.market, o.instrument),
            position: self.portfolio.position(o.instrument),
            orders: &self.orders,
            now: self.now,
        };
        for c in &mut self.checks {
            if let Err(reason) = c.check(o, &view) {
                return Some(reason);
            }
        }
        let risk = self.risk.as_mut()?;
        let gross_exposure_other = if risk.config().max_gross_exposure.is_some() {
            gross_exposure_except(
                &self.portfolio,
                &self.market,
                &self.instruments,
                o.instrument,
            )
        } else {
            Price::ZERO
        };
        let rv = RiskView {
            instrument,
            reference_price: view.reference_price,
            position: view.position.map(Position::qty).unwrap_or(Quantity::ZERO),
            orders: &self.orders,
            gross_exposure_other,
            now: self.now,
        };
        let r = if self.kill_switch_active {
            risk.check_flatten(o, &rv)
        } else {
            risk.check(o, &rv)
        };
        match r {
            Ok(()) => None,
            Err(d) => {
                self.stats.risk_denied += 1;
                Some(d.to_string())
            }
        }
    }

    /// A comparable summary of the trading state (orders, positions,
    /// balances): two runs or a run and its replay are equal when these are.
    pub fn state(&self) -> StateSnapshot {
        StateSnapshot {
            orders: self
                .orders
                .iter()
                .map(|o| OrderState {
                    client_order_id: o.client_order_id(),
                    status: o.status(),
                    filled: o.filled_qty(),
                    avg_px: o.avg_px_exact(),
                    fills: o.fills().len(),
                })
                .collect(),
            positions: self.portfolio.positions().cloned().collect(),
            balances: self
                .portfolio
                .balances()
                .map(|(c, f, l)| (c.to_string(), f.raw(), l.raw()))
                .chain(
                    self.portfolio
                        .wallets()
                        .map(|(k, c, f, l)| (format!("{}:{c}", k.as_str()), f.raw(), l.raw())),
                )
                .collect(),
            trading_state: self.trading_state(),
        }
    }
}

/// Sum of |position| × reference price (else entry price) over every
/// instrument but `except`, in quote terms, saturating.
fn gross_exposure_except(
    portfolio: &Portfolio,
    market: &MarketState,
    instruments: &BTreeMap<InstrumentId, Instrument>,
    except: InstrumentId,
) -> Price {
    let mut total: i64 = 0;
    for p in portfolio.positions() {
        if p.instrument == except || p.is_flat() {
            continue;
        }
        let Some(inst) = instruments.get(&p.instrument) else {
            continue;
        };
        let Some(px) = reference_price(market, p.instrument).or(p.entry_price()) else {
            continue;
        };
        let qty = Quantity::from_raw(p.qty_raw.saturating_abs(), 8);
        let n = inst.notional(px, qty).map_or(i64::MAX, |n| n.raw());
        total = total.saturating_add(n);
    }
    Price::from_raw(total, 8)
}

/// A kernel-made event about an order (a pending cancel or update), stamped
/// `now` on both clocks.
fn pending_event(o: &veloz_oms::Order, kind: OrderEventKind, now: UnixNanos) -> OrderEvent {
    OrderEvent {
        instrument: o.instrument(),
        client_order_id: o.client_order_id(),
        venue_order_id: o.venue_order_id(),
        kind,
        times: EventTimes {
            exchange: now,
            local: now,
        },
    }
}

fn reference_price(m: &MarketState, id: InstrumentId) -> Option<Price> {
    if let Some(mp) = m.marks.get(&id) {
        return Some(mp.mark);
    }
    mid_or_last(m, id)
}

fn mid_or_last(m: &MarketState, id: InstrumentId) -> Option<Price> {
    match m.best_bid_ask(id) {
        Some((bid, ask)) => {
            let mid = (i128::from(bid.raw()) + i128::from(ask.raw())) / 2;
            i64::try_from(mid)
                .ok()
                .map(|r| Price::from_raw(r, bid.precision()))
        }
        None => m.last.get(&id).copied(),
    }
}

/// One order in a [`StateSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    /// Id.
    pub client_order_id: ClientOrderId,
    /// Status.
    pub status: OrderStatus,
    /// Filled quantity.
    pub filled: Quantity,
    /// Exact average price as (numerator, denominator), if filled.
    pub avg_px: Option<(i128, i128)>,
    /// Number of fills.
    pub fills: usize,
}

/// See [`Kernel::state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSnapshot {
    /// Every order.
    pub orders: Vec<OrderState>,
    /// Every position.
    pub positions: Vec<Position>,
    /// Spot balances `(asset, free raw, locked raw)`, then futures wallets
    /// (`"USDM:USDT"`, ...).
    pub balances: Vec<(String, i128, i128)>,
    /// The risk engine's trading state (`None` without one).
    pub trading_state: Option<TradingState>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{LotLimits, OrderFlags, PercentBand, Side};

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[self.below(xs.len() as u64) as usize]
        }
    }

    /// The presets, and variants of them without band, without limits,
    /// with a maximum notional, with a negative or huge band, and with
    /// extreme prices (overflow paths of `validate`).
    fn instruments() -> Vec<Instrument> {
        let mut out = vec![
            veloz_sim::presets::spot_btcusdt(),
            veloz_sim::presets::usdm_btcusdt(),
            veloz_sim::presets::coinm_btcusd_perp(),
        ];
        for base in out.clone() {
            let mut a = base.clone();
            a.percent_band = None;
            a.min_notional = None;
            out.push(a);
            let mut b = base.clone();
            b.max_notional = Some(Price::from_raw(5_000_000_000_000, 8));
            b.min_price = Price::ZERO;
            b.max_price = Price::ZERO;
            b.lot = LotLimits {
                min_qty: Quantity::ZERO,
                max_qty: Quantity::ZERO,
                step: b.lot.step,
            };
            out.push(b);
            let mut c = base.clone();
            c.percent_band = Some(PercentBand {
                up: Price::from_raw(i64::MAX / 3, 8),
                down: Price::from_raw(-7, 8),
            });
            c.tick_size = Price::ZERO;
            c.lot.step = Quantity::ZERO;
            out.push(c);
        }
        out
    }

    fn order(rng: &mut Rng, inst: &Instrument) -> (SubmitOrder, Option<Price>) {
        let tick = inst.tick_size.raw().max(1);
        let step = inst.lot.step.raw().max(1);
        let mid = 6_000_000_000_000i64; // 60 000
        let price = match rng.below(10) {
            0 => rng.pick(&[0, -tick, i64::MAX, i64::MIN, inst.min_price.raw()]),
            1 => mid + rng.below(1_000) as i64, // mostly off the grid
            _ => {
                let t = (mid / tick) as i128 + rng.below(4_000) as i128 - 2_000;
                let p = t * tick as i128 + (inst.min_price.raw() % tick) as i128;
                p.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
        };
        let qty = match rng.below(10) {
            0 => rng.pick(&[0, -step, i64::MAX, step / 2 + 1]),
            _ => {
                let lots = rng.pick(&[1u64, 2, 3, 10, 100, 1_000_000, 1 << 40]);
                (step as i128 * lots as i128 + inst.lot.min_qty.raw() as i128 - step as i128)
                    .clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
        };
        let qty = match (rng.below(3), inst.min_notional, inst.max_notional) {
            // Around the minimum or maximum notional at this price, on the step.
            (0, Some(n), _) | (1, _, Some(n)) if price > 0 => {
                let target = n.raw() as i128 * 100_000_000 / price as i128;
                let q = (target / step as i128 + rng.below(3) as i128 - 1) * step as i128;
                q.clamp(1, i64::MAX as i128) as i64
            }
            _ => qty,
        };
        let scale = 100_000_000i128;
        let reference = match (rng.below(8), inst.percent_band) {
            (0, _) => None,
            (1, _) => Some(Price::from_raw(i64::MAX - rng.below(10) as i64, 8)),
            // A reference putting the price at (or one unit off) a band edge.
            (2..=4, Some(band)) if band.up.raw() > 0 && band.down.raw() > 0 => {
                let m = if rng.below(2) == 0 {
                    band.up
                } else {
                    band.down
                };
                let r = price as i128 * scale / m.raw() as i128 + rng.below(3) as i128 - 1;
                Some(Price::from_raw(r.clamp(1, i64::MAX as i128) as i64, 8))
            }
            _ => Some(Price::from_raw(
                mid + (rng.below(2_000_000_000_000) as i64 - 1_000_000_000_000),
                8,
            )),
        };
        let flags = rng.pick(&[
            OrderFlags::NONE,
            OrderFlags::NONE,
            OrderFlags::POST_ONLY,
            OrderFlags::REDUCE_ONLY,
            OrderFlags::CLOSE_POSITION,
            OrderFlags::POST_ONLY | OrderFlags::REDUCE_ONLY,
        ]);
        let order_type = rng.pick(&[
            OrderType::Limit,
            OrderType::Limit,
            OrderType::Limit,
            OrderType::Market,
            OrderType::StopLimit,
        ]);
        let o = SubmitOrder {
            strategy: StrategyId::from_const("t"),
            instrument: inst.id,
            client_order_id: ClientOrderId::from_const("c1"),
            side: rng.pick(&[Side::Buy, Side::Sell]),
            order_type,
            quantity: Quantity::from_raw(qty, inst.qty_precision),
            price: (rng.below(20) != 0).then(|| Price::from_raw(price, inst.price_precision)),
            trigger_price: (rng.below(10) == 0).then(|| Price::from_raw(mid, 8)),
            trigger_type: TriggerPriceType::Last,
            time_in_force: TimeInForce::Gtc,
            expire_time: None,
            flags,
            position_side: PositionSide::Both,
            trailing: None,
            ts_init: UnixNanos::ZERO,
        };
        (o, reference)
    }

    fn check(inst: &Instrument, o: &SubmitOrder, reference: Option<Price>) -> Vec<String> {
        inst.validate(&order_check(o, reference))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The integer fast check, as `InstrumentRules::check` runs it.
    fn limit_order_passes(inst: &Instrument, o: &SubmitOrder, reference: Option<Price>) -> bool {
        inst.passes_plain_limit(&order_check(o, reference))
    }

    /// Orders exactly at and one unit beyond every bound (minimum and
    /// maximum notional, both band edges on both sides, spot and futures):
    /// the fast path says what `validate` says.
    #[test]
    fn limit_order_fast_path_bounds_are_exact() {
        let mut cases = 0;
        for base in [
            veloz_sim::presets::spot_btcusdt(),
            veloz_sim::presets::usdm_btcusdt(),
        ] {
            // A grid of one raw unit, no price or lot limits: every
            // notional and every band edge is reachable exactly.
            let mut inst = base;
            inst.tick_size = Price::from_raw(1, 8);
            inst.min_price = Price::ZERO;
            inst.max_price = Price::ZERO;
            inst.lot = LotLimits {
                min_qty: Quantity::ZERO,
                max_qty: Quantity::ZERO,
                step: Quantity::from_raw(1, 8),
            };
            inst.min_notional = Some(Price::from_raw(500_000_000, 8));
            inst.max_notional = Some(Price::from_raw(900_000_000, 8));
            inst.percent_band = Some(PercentBand {
                up: Price::from_raw(105_000_000, 8),
                down: Price::from_raw(95_000_000, 8),
            });
            let one = 100_000_000i64;
            let mut orders = Vec::new();
            // Price 1: the notional is the quantity.
            for q in [499_999_999, 500_000_000, 900_000_000, 900_000_001] {
                orders.push((q, one, None));
            }
            // Reference 100: high 105, low 95; prices at and beyond them.
            let r = Some(Price::from_raw(100 * one, 8));
            for px in [95 * one - 1, 95 * one, 105 * one, 105 * one + 1] {
                orders.push((600_000_000 / 100, px, r));
            }
            // A reference whose band edges are not whole: 100.00000001.
            let r = Some(Price::from_raw(100 * one + 1, 8));
            for px in [95 * one, 95 * one + 1, 105 * one + 1, 105 * one + 2] {
                orders.push((600_000_000 / 100, px, r));
            }
            // Price 0.5: notionals of half units, just above the maximum
            // and just below the minimum.
            for q in [999_999_999, 1_800_000_001] {
                orders.push((q, one / 2, None));
            }
            let mut list: Vec<_> = orders
                .into_iter()
                .map(|(q, px, r)| (inst.clone(), q, px, r))
                .collect();
            // A band of 0.99999999 / 1.00000001 around a reference of one
            // raw unit: the products land one unit off the price × 1e8.
            let mut tiny = inst.clone();
            tiny.min_notional = None;
            tiny.percent_band = Some(PercentBand {
                up: Price::from_raw(99_999_999, 8),
                down: Price::from_raw(100_000_001, 8),
            });
            for px in [1, 2] {
                list.push((tiny.clone(), 1, px, Some(Price::from_raw(1, 8))));
            }
            for (inst, q, px, reference) in list {
                for side in [Side::Buy, Side::Sell] {
                    let o = SubmitOrder {
                        strategy: StrategyId::from_const("t"),
                        instrument: inst.id,
                        client_order_id: ClientOrderId::from_const("c1"),
                        side,
                        order_type: OrderType::Limit,
                        quantity: Quantity::from_raw(q, 8),
                        price: Some(Price::from_raw(px, 8)),
                        trigger_price: None,
                        trigger_type: TriggerPriceType::Last,
                        time_in_force: TimeInForce::Gtc,
                        expire_time: None,
                        flags: OrderFlags::NONE,
                        position_side: PositionSide::Both,
                        trailing: None,
                        ts_init: UnixNanos::ZERO,
                    };
                    let reasons = check(&inst, &o, reference);
                    assert_eq!(
                        limit_order_passes(&inst, &o, reference),
                        reasons.is_empty(),
                        "{} {side:?} q={q} px={px} ref={reference:?}: {reasons:?}",
                        inst.id
                    );
                    cases += usize::from(!reasons.is_empty());
                }
            }
        }
        assert!(cases >= 12, "{cases}");
    }

    /// The fast path agrees with `Instrument::validate` on every order it
    /// covers (a plain limit order), in both directions, and
    /// `InstrumentRules::check` gives validate's answer and reasons for
    /// every order; both answers occur often, so both paths are exercised.
    #[test]
    fn limit_order_fast_path_agrees_with_validate() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut passed, mut refused, mut fallback_ok) = (0, 0, 0);
        let orders = OrderStore::new();
        for inst in instruments() {
            for _ in 0..20_000 {
                let (o, reference) = order(&mut rng, &inst);
                let reasons = check(&inst, &o, reference);
                let fast = limit_order_passes(&inst, &o, reference);
                let covered = o.order_type == OrderType::Limit
                    && o.price.is_some()
                    && o.trigger_price.is_none()
                    && !o.flags.contains(OrderFlags::CLOSE_POSITION)
                    && (inst.id.kind.is_futures() || !o.flags.contains(OrderFlags::REDUCE_ONLY));
                if fast {
                    assert!(reasons.is_empty(), "{o:?} {reference:?}: {reasons:?}");
                    passed += 1;
                } else if reasons.is_empty() {
                    fallback_ok += 1;
                } else {
                    refused += 1;
                }
                let overflow = reasons.iter().any(|r| r.contains("overflow"));
                if covered && !overflow && reasons.is_empty() {
                    // Not sure only where validate's band arithmetic
                    // overflows (it then skips the band).
                    let huge = inst.percent_band.is_some_and(|b| b.up.raw() > 1 << 40)
                        || reference.is_some_and(|r| r.raw() > 1 << 60);
                    assert!(fast || huge, "{o:?} {reference:?} {}", inst.id);
                }
                let view = CheckView {
                    instrument: &inst,
                    reference_price: reference,
                    position: None,
                    orders: &orders,
                    now: UnixNanos::ZERO,
                };
                let got = InstrumentRules.check(&o, &view);
                match got {
                    Ok(()) => assert!(reasons.is_empty()),
                    Err(text) => assert_eq!(text, reasons.join("; ")),
                }
            }
        }
        assert!(passed > 10_000, "{passed}");
        assert!(refused > 10_000, "{refused}");
        assert!(fallback_ok > 1_000, "{fallback_ok}");
    }
}
