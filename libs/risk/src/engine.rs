//! [`RiskEngine`]: the pre-trade checks, the trading state and its automatic
//! transitions, and the kill switch plan.
//!
//! The engine is a plain value driven by its owner (the kernel): it reads no
//! clock (every call carries the time), keeps no global state and does no
//! I/O. Whatever it decides that changes something or refuses something is
//! written as a [`RiskRecord`] that the owner drains with
//! [`RiskEngine::take_records`] and puts in its audit trail.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};
use veloz_core::events::SubmitOrder;
use veloz_core::{
    ClientOrderId, ContractKind, Currency, Instrument, InstrumentId, Money, OrderFlags, Price,
    Quantity, Side, UnixNanos,
};
use veloz_oms::{OrderStatus, OrderStore};

use crate::config::{ConfigError, RiskConfig};

const NANOS_PER_MS: u64 = 1_000_000;
const NANOS_PER_DAY: u64 = 86_400_000_000_000;
/// Records kept between two [`RiskEngine::take_records`] calls; more are
/// counted in [`RiskCounters::records_dropped`].
pub const MAX_RECORDS: usize = 10_000;

/// What the engine lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradingState {
    /// Every order that passes the limits.
    #[default]
    Active,
    /// Only orders that reduce a position; cancels always.
    Reducing,
    /// No new orders (except the kill switch's flattening orders); cancels
    /// always.
    Halted,
}

impl TradingState {
    /// `ACTIVE`, `REDUCING` or `HALTED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Reducing => "REDUCING",
            Self::Halted => "HALTED",
        }
    }
}

impl fmt::Display for TradingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule behind a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The trading state (REDUCING or HALTED) does not allow the request.
    TradingState,
    /// `max_order_qty`.
    MaxOrderQty,
    /// `max_order_notional`.
    MaxOrderNotional,
    /// `price_band_bps`.
    PriceBand,
    /// `max_position_qty`.
    MaxPosition,
    /// `max_gross_exposure`.
    MaxGrossExposure,
    /// `max_open_orders_per_instrument` (or an instrument override).
    MaxOpenOrdersInstrument,
    /// `max_open_orders`.
    MaxOpenOrders,
    /// `self_trade_prevention`.
    SelfTrade,
    /// `max_orders_per_window`.
    OrderRate,
    /// `max_cancels_per_window`.
    CancelRate,
    /// A limit needs a reference price and there is none yet.
    NoReferencePrice,
    /// A kill-switch order that would not reduce the position.
    NotReducing,
    /// The order's numbers overflow.
    Arithmetic,
}

/// Why the engine refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("risk: {reason}")]
pub struct Denial {
    /// The rule.
    pub rule: Rule,
    /// What was refused and why, in words.
    pub reason: String,
}

impl Denial {
    fn new(rule: Rule, reason: String) -> Self {
        Self { rule, reason }
    }
}

/// What a [`RiskRecord`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RiskRecordKind {
    /// An order (submit or modify) was denied.
    OrderDenied {
        /// The order.
        client_order_id: ClientOrderId,
        /// The rule.
        rule: Rule,
    },
    /// A cancel request was denied.
    CancelDenied {
        /// The rule.
        rule: Rule,
    },
    /// The trading state changed.
    StateChanged {
        /// Before.
        from: TradingState,
        /// After.
        to: TradingState,
    },
    /// The kill switch was pulled.
    KillSwitch {
        /// Whether positions are flattened.
        flatten: bool,
    },
    /// Something worth auditing that changed no state (a connection came
    /// back, market data resumed, a second halt reason while halted).
    Notice,
}

/// One audited decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskRecord {
    /// When (the owner's local time).
    pub time: UnixNanos,
    /// What.
    pub kind: RiskRecordKind,
    /// Why, in words.
    pub reason: String,
}

/// Counters since the engine was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RiskCounters {
    /// Orders (submits and modifies) denied.
    pub orders_denied: u64,
    /// Cancels denied.
    pub cancels_denied: u64,
    /// Transitions into HALTED.
    pub halts: u64,
    /// Records not kept because nobody drained them.
    pub records_dropped: u64,
}

/// What the engine sees of the world when it checks an order.
#[derive(Debug, Clone, Copy)]
pub struct RiskView<'a> {
    /// The order's instrument.
    pub instrument: &'a Instrument,
    /// Reference price: mark, else mid, else last trade.
    pub reference_price: Option<Price>,
    /// Our signed position in the instrument (positive = long).
    pub position: Quantity,
    /// Every order (the order being checked is not in it yet).
    pub orders: &'a OrderStore,
    /// Gross exposure of every *other* instrument: the sum of |position| ×
    /// reference price in quote terms (only read when `max_gross_exposure`
    /// is set).
    pub gross_exposure_other: Price,
    /// Local time.
    pub now: UnixNanos,
}

/// One order the kill switch sends to close a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlattenOrder {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side (opposite to the position).
    pub side: Side,
    /// Quantity (the position, or one slice of it when the instrument caps
    /// market order size).
    pub quantity: Quantity,
    /// Send as reduce-only (futures; spot has no such flag).
    pub reduce_only: bool,
}

/// What the owner must do after [`RiskEngine::kill_switch`]: cancel every
/// open order of these instruments, then send these market orders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillSwitchPlan {
    /// Instruments with open orders (cancel all of each).
    pub cancel: Vec<InstrumentId>,
    /// Market orders that close every non-zero position (empty unless
    /// flattening was asked for).
    pub flatten: Vec<FlattenOrder>,
}

#[derive(Debug, Clone, Default)]
struct EquityTrack {
    last: Option<Money>,
    peak: Option<i128>,
    day: Option<u64>,
    day_start: i128,
    daily_tripped: bool,
    drawdown_tripped: bool,
}

/// The risk engine (see the module docs and `docs/RISK.md`).
#[derive(Debug, Clone)]
pub struct RiskEngine {
    config: RiskConfig,
    state: TradingState,
    orders_sent: VecDeque<UnixNanos>,
    cancels_sent: VecDeque<UnixNanos>,
    rejects: VecDeque<UnixNanos>,
    last_data: BTreeMap<InstrumentId, UnixNanos>,
    stale: BTreeSet<InstrumentId>,
    started: Option<UnixNanos>,
    next_stale_check: UnixNanos,
    equity: EquityTrack,
    records: Vec<RiskRecord>,
    counters: RiskCounters,
    /// Connections reported lost and not back yet.
    links_down: BTreeSet<String>,
    /// The current halt was caused by lost connections only.
    halt_only_links: bool,
}

fn ms(nanos: u64) -> u64 {
    nanos / NANOS_PER_MS
}

/// Drops times at or before `now - window` and returns how many are left.
fn prune(q: &mut VecDeque<UnixNanos>, now: UnixNanos, window_ms: u64) -> usize {
    let window = window_ms.saturating_mul(NANOS_PER_MS);
    while let Some(&t) = q.front() {
        if now.0.saturating_sub(t.0) >= window {
            q.pop_front();
        } else {
            break;
        }
    }
    q.len()
}

/// `|a|` as an i128 of raw units.
fn abs_raw(q: Quantity) -> i128 {
    i128::from(q.raw()).abs()
}

impl RiskEngine {
    /// An engine with `config`, trading state ACTIVE.
    pub fn new(config: RiskConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            state: TradingState::Active,
            orders_sent: VecDeque::new(),
            cancels_sent: VecDeque::new(),
            rejects: VecDeque::new(),
            last_data: BTreeMap::new(),
            stale: BTreeSet::new(),
            started: None,
            next_stale_check: UnixNanos::ZERO,
            equity: EquityTrack::default(),
            records: Vec::new(),
            counters: RiskCounters::default(),
            links_down: BTreeSet::new(),
            halt_only_links: false,
        })
    }

    /// The config.
    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// The trading state.
    pub fn trading_state(&self) -> TradingState {
        self.state
    }

    /// Counters.
    pub fn counters(&self) -> RiskCounters {
        self.counters
    }

    /// The currency equity must be given in for the loss limits (`None`
    /// when neither loss limit is set: equity is then not needed).
    pub fn equity_currency(&self) -> Option<Currency> {
        self.config
            .max_daily_loss
            .or(self.config.max_drawdown)
            .map(Money::currency)
    }

    /// Takes the records written since the last call.
    pub fn take_records(&mut self) -> Vec<RiskRecord> {
        std::mem::take(&mut self.records)
    }

    /// Are records waiting to be taken? (Cheap; lets a caller skip the
    /// allocation of [`RiskEngine::take_records`].)
    pub fn has_records(&self) -> bool {
        !self.records.is_empty()
    }

    fn record(&mut self, time: UnixNanos, kind: RiskRecordKind, reason: String) {
        if self.records.len() < MAX_RECORDS {
            self.records.push(RiskRecord { time, kind, reason });
        } else {
            self.counters.records_dropped += 1;
        }
    }

    fn touch(&mut self, now: UnixNanos) {
        self.started.get_or_insert(now);
    }

    /// Sets the trading state (an operator's decision). Leaving HALTED or
    /// REDUCING for a less restrictive state re-arms the automatic halts:
    /// the drawdown peak restarts at the last equity, the reject count
    /// restarts, and stale instruments are checked afresh. The daily loss
    /// halt stays disarmed until the next UTC day once it has fired.
    pub fn set_trading_state(&mut self, state: TradingState, reason: &str, now: UnixNanos) {
        self.touch(now);
        self.halt_only_links = false;
        let from = self.state;
        if from == state {
            self.record(
                now,
                RiskRecordKind::Notice,
                format!("trading state is already {state}: {reason}"),
            );
            return;
        }
        let loosening = matches!(
            (from, state),
            (TradingState::Halted, _) | (TradingState::Reducing, TradingState::Active)
        );
        if loosening {
            self.equity.peak = self.equity.last.map(Money::raw);
            self.equity.drawdown_tripped = false;
            self.rejects.clear();
            self.stale.clear();
        }
        if state == TradingState::Halted {
            self.counters.halts += 1;
        }
        self.state = state;
        self.record(
            now,
            RiskRecordKind::StateChanged { from, to: state },
            reason.to_string(),
        );
    }

    /// Halts (automatic decisions); a second reason while halted is
    /// recorded as a notice.
    fn halt(&mut self, now: UnixNanos, reason: String) {
        self.halt_only_links = false;
        if self.state == TradingState::Halted {
            self.record(
                now,
                RiskRecordKind::Notice,
                format!("already HALTED; also: {reason}"),
            );
            return;
        }
        let from = self.state;
        self.state = TradingState::Halted;
        self.counters.halts += 1;
        self.record(
            now,
            RiskRecordKind::StateChanged {
                from,
                to: TradingState::Halted,
            },
            reason,
        );
    }

    fn deny(&mut self, client_order_id: ClientOrderId, now: UnixNanos, d: Denial) -> Denial {
        self.counters.orders_denied += 1;
        self.record(
            now,
            RiskRecordKind::OrderDenied {
                client_order_id,
                rule: d.rule,
            },
            d.reason.clone(),
        );
        d
    }

    /// Checks a new order. `Ok` means it may leave (it is then counted in
    /// the order rate window); a denial is recorded.
    pub fn check(&mut self, order: &SubmitOrder, view: &RiskView<'_>) -> Result<(), Denial> {
        self.touch(view.now);
        match self.evaluate(order, view) {
            Ok(()) => {
                self.orders_sent.push_back(view.now);
                Ok(())
            }
            Err(d) => Err(self.deny(order.client_order_id, view.now, d)),
        }
    }

    /// Checks an order the kill switch sends to flatten a position: allowed
    /// in every trading state and outside the rate limits, as long as it
    /// only reduces the position (the instrument's own rules still apply;
    /// the owner checks those).
    pub fn check_flatten(
        &mut self,
        order: &SubmitOrder,
        view: &RiskView<'_>,
    ) -> Result<(), Denial> {
        self.touch(view.now);
        let pos = view.position;
        let reduces = !pos.is_zero()
            && order.side.sign() == -pos.raw().signum()
            && abs_raw(order.quantity) <= abs_raw(pos);
        if reduces {
            self.orders_sent.push_back(view.now);
            return Ok(());
        }
        let d = Denial::new(
            Rule::NotReducing,
            format!(
                "flatten order {} {} {} would not reduce the position {} of {}",
                order.client_order_id, order.side, order.quantity, pos, order.instrument
            ),
        );
        Err(self.deny(order.client_order_id, view.now, d))
    }

    /// Quantity of open orders on `side` that are not being canceled.
    fn working_leaves(orders: &OrderStore, instrument: InstrumentId, side: Side) -> i128 {
        orders
            .open_orders(Some(instrument))
            .filter(|o| o.side() == side && o.status() != OrderStatus::PendingCancel)
            .map(|o| i128::from(o.leaves_qty().raw()))
            .sum()
    }

    fn evaluate(&mut self, o: &SubmitOrder, v: &RiskView<'_>) -> Result<(), Denial> {
        let lim = self.config.effective(o.instrument);
        let pos = i128::from(v.position.raw());
        let working = Self::working_leaves(v.orders, o.instrument, o.side);
        let qty = i128::from(o.quantity.raw());
        let sign = i128::from(o.side.sign());
        let reduces = pos != 0 && sign == -pos.signum() && qty + working <= pos.abs();

        // 1. Trading state.
        match self.state {
            TradingState::Active => {}
            TradingState::Reducing if reduces => {}
            TradingState::Reducing => {
                return Err(Denial::new(
                    Rule::TradingState,
                    format!(
                        "trading is REDUCING: only orders that reduce a position are allowed; {} {} {} with position {} (and {} already working on that side) would not",
                        o.side,
                        o.quantity,
                        o.instrument,
                        v.position,
                        Quantity::from_raw(i64::try_from(working).unwrap_or(i64::MAX), 8)
                    ),
                ))
            }
            TradingState::Halted => {
                return Err(Denial::new(
                    Rule::TradingState,
                    format!(
                        "trading is HALTED: no new orders until an operator sets the trading state back (order {} {} {})",
                        o.side, o.quantity, o.instrument
                    ),
                ))
            }
        }

        // 2. Order size.
        if let Some(max) = lim.max_order_qty {
            if o.quantity > max {
                return Err(Denial::new(
                    Rule::MaxOrderQty,
                    format!(
                        "order quantity {} exceeds max_order_qty {} for {}",
                        o.quantity, max, o.instrument
                    ),
                ));
            }
        }
        let px = if o.order_type.has_limit_price() {
            o.price
        } else if o.order_type.is_conditional() {
            o.trigger_price.or(v.reference_price)
        } else {
            v.reference_price
        };
        let needs_px = lim.max_order_notional.is_some()
            || (!reduces && self.config.max_gross_exposure.is_some());
        let px = match (px, needs_px) {
            (Some(p), _) => Some(p),
            (None, false) => None,
            (None, true) => {
                return Err(Denial::new(
                    Rule::NoReferencePrice,
                    format!(
                        "the notional of a {:?} order on {} cannot be checked: no mark, mid or last price yet",
                        o.order_type, o.instrument
                    ),
                ))
            }
        };
        if let (Some(max), Some(p)) = (lim.max_order_notional, px) {
            let n = v
                .instrument
                .notional(p, o.quantity)
                .map_err(|e| Denial::new(Rule::Arithmetic, format!("order notional: {e}")))?;
            if n > max {
                return Err(Denial::new(
                    Rule::MaxOrderNotional,
                    format!(
                        "order notional {} ({} × {}) exceeds max_order_notional {} for {}",
                        n, o.quantity, p, max, o.instrument
                    ),
                ));
            }
        }

        // 3. Price band (fat finger), on the limit price.
        if lim.price_band_bps > 0 && o.order_type.has_limit_price() {
            if let Some(p) = o.price {
                let Some(r) = v.reference_price.filter(|r| r.is_positive()) else {
                    return Err(Denial::new(
                        Rule::NoReferencePrice,
                        format!(
                            "limit price {} on {} cannot be checked against the {} bp band: no mark, mid or last price yet",
                            p, o.instrument, lim.price_band_bps
                        ),
                    ));
                };
                let rr = i128::from(r.raw());
                let diff = (i128::from(p.raw()) - rr).abs();
                let bps = i128::from(lim.price_band_bps);
                if diff * 10_000 > bps * rr {
                    let low = rr * (10_000 - bps).max(0) / 10_000;
                    let high = rr * (10_000 + bps) / 10_000;
                    let f = |x: i128| Price::from_raw(i64::try_from(x).unwrap_or(i64::MAX), 8);
                    return Err(Denial::new(
                        Rule::PriceBand,
                        format!(
                            "limit price {} is outside the {} bp band [{}, {}] around the reference {} of {} (fat finger?)",
                            p, lim.price_band_bps, f(low), f(high), r, o.instrument
                        ),
                    ));
                }
            }
        }

        // 4. Position and gross exposure (orders that only reduce pass).
        if !reduces {
            let projected = pos + sign * (working + qty);
            if let Some(max) = lim.max_position_qty {
                if projected.abs() > i128::from(max.raw()) {
                    return Err(Denial::new(
                        Rule::MaxPosition,
                        format!(
                            "position {} of {} with this {} {} and {} working on that side could reach {}, beyond max_position_qty {}",
                            v.position,
                            o.instrument,
                            o.side,
                            o.quantity,
                            Quantity::from_raw(i64::try_from(working).unwrap_or(i64::MAX), 8),
                            Quantity::from_raw(i64::try_from(projected).unwrap_or(i64::MAX), 8),
                            max
                        ),
                    ));
                }
            }
            if let (Some(max), Some(p)) = (self.config.max_gross_exposure, px) {
                let q = i64::try_from(projected.abs())
                    .map(|r| Quantity::from_raw(r, 8))
                    .map_err(|_| {
                        Denial::new(Rule::Arithmetic, "projected position overflows".into())
                    })?;
                let mine = v
                    .instrument
                    .notional(p, q)
                    .map_err(|e| Denial::new(Rule::Arithmetic, format!("exposure: {e}")))?;
                let total = i128::from(mine.raw()) + i128::from(v.gross_exposure_other.raw());
                if total > i128::from(max.raw()) {
                    return Err(Denial::new(
                        Rule::MaxGrossExposure,
                        format!(
                            "gross exposure would reach {} ({} on {} plus {} elsewhere), beyond max_gross_exposure {}",
                            Price::from_raw(i64::try_from(total).unwrap_or(i64::MAX), 8),
                            mine,
                            o.instrument,
                            v.gross_exposure_other,
                            max
                        ),
                    ));
                }
            }
        }

        // 5. Open order counts.
        if lim.max_open_orders > 0 {
            let n = v.orders.open_orders(Some(o.instrument)).count();
            if n >= lim.max_open_orders as usize {
                return Err(Denial::new(
                    Rule::MaxOpenOrdersInstrument,
                    format!(
                        "{} already has {} open orders (limit {})",
                        o.instrument, n, lim.max_open_orders
                    ),
                ));
            }
        }
        if self.config.max_open_orders > 0 {
            let n = v.orders.open_orders(None).count();
            if n >= self.config.max_open_orders as usize {
                return Err(Denial::new(
                    Rule::MaxOpenOrders,
                    format!(
                        "{} orders are already open (limit max_open_orders {})",
                        n, self.config.max_open_orders
                    ),
                ));
            }
        }

        // 6. Self-trade prevention: would it cross one of our resting orders?
        if self.config.self_trade_prevention && !o.order_type.is_conditional() {
            let crossing = v.orders.open_orders(Some(o.instrument)).find(|r| {
                r.side() != o.side
                    && r.order_type().has_limit_price()
                    && !r.order_type().is_conditional()
                    && r.price().is_some_and(|rp| match (o.side, o.price) {
                        (_, None) => true,
                        (Side::Buy, Some(p)) => p >= rp,
                        (Side::Sell, Some(p)) => p <= rp,
                    })
            });
            if let Some(r) = crossing {
                return Err(Denial::new(
                    Rule::SelfTrade,
                    format!(
                        "{} {} at {} would trade against our own resting {} order {} at {}",
                        o.side,
                        o.instrument,
                        o.price
                            .map_or_else(|| "market".to_string(), |p| p.to_string()),
                        r.side(),
                        r.client_order_id(),
                        r.price().map_or_else(String::new, |p| p.to_string())
                    ),
                ));
            }
        }

        // 7. Order rate (last, so only orders that leave are counted).
        self.order_rate(v.now)
    }

    fn order_rate(&mut self, now: UnixNanos) -> Result<(), Denial> {
        let max = self.config.max_orders_per_window;
        if max == 0 {
            return Ok(());
        }
        let n = prune(&mut self.orders_sent, now, self.config.rate_window_ms);
        if n >= max as usize {
            return Err(Denial::new(
                Rule::OrderRate,
                format!(
                    "{n} orders in the last {} ms reach max_orders_per_window {max} (kept below the venue's limit to avoid 429s and bans)",
                    self.config.rate_window_ms
                ),
            ));
        }
        Ok(())
    }

    /// Checks a modify of an open order: allowed only while ACTIVE (cancel
    /// instead when REDUCING or HALTED), counted as an order in the rate
    /// window like Binance counts it.
    pub fn check_modify(
        &mut self,
        client_order_id: ClientOrderId,
        now: UnixNanos,
    ) -> Result<(), Denial> {
        self.touch(now);
        let r = if self.state != TradingState::Active {
            Err(Denial::new(
                Rule::TradingState,
                format!(
                    "trading is {}: modifies are refused (cancel {} instead)",
                    self.state, client_order_id
                ),
            ))
        } else {
            self.order_rate(now)
        };
        match r {
            Ok(()) => {
                self.orders_sent.push_back(now);
                Ok(())
            }
            Err(d) => Err(self.deny(client_order_id, now, d)),
        }
    }

    /// Checks a cancel request (one cancel or one cancel-all) against the
    /// cancel rate limit. Cancels are never refused because of the trading
    /// state. A denial is recorded; the owner does not send the cancel.
    pub fn on_cancel_request(&mut self, now: UnixNanos) -> Result<(), Denial> {
        self.touch(now);
        let max = self.config.max_cancels_per_window;
        if max > 0 {
            let n = prune(&mut self.cancels_sent, now, self.config.rate_window_ms);
            if n >= max as usize {
                let d = Denial::new(
                    Rule::CancelRate,
                    format!(
                        "{n} cancels in the last {} ms reach max_cancels_per_window {max}; the cancel was not sent, retry later",
                        self.config.rate_window_ms
                    ),
                );
                self.counters.cancels_denied += 1;
                self.record(
                    now,
                    RiskRecordKind::CancelDenied { rule: d.rule },
                    d.reason.clone(),
                );
                return Err(d);
            }
        }
        self.cancels_sent.push_back(now);
        Ok(())
    }

    /// A venue rejected one of our orders. `max_rejects` within
    /// `reject_window_ms` halt trading (the count then restarts).
    pub fn on_reject(&mut self, now: UnixNanos, reason: &str) {
        self.touch(now);
        let max = self.config.max_rejects;
        if max == 0 {
            return;
        }
        self.rejects.push_back(now);
        let n = prune(&mut self.rejects, now, self.config.reject_window_ms);
        if n >= max as usize {
            self.rejects.clear();
            self.halt(
                now,
                format!(
                    "{n} venue rejects within {} ms (max_rejects {max}); last: {reason}",
                    self.config.reject_window_ms
                ),
            );
        }
    }

    /// Market data for `instrument` arrived at local time `now`.
    pub fn on_market_data(&mut self, instrument: InstrumentId, now: UnixNanos) {
        self.touch(now);
        self.last_data.insert(instrument, now);
        if self.stale.remove(&instrument) {
            self.record(
                now,
                RiskRecordKind::Notice,
                format!("market data of {instrument} resumed"),
            );
        }
    }

    /// Is a stale-data check due at `now`? (Lets the owner skip collecting
    /// the instruments with open orders most of the time.)
    pub fn stale_check_due(&self, now: UnixNanos) -> bool {
        self.config.stale_data_ms > 0 && now >= self.next_stale_check
    }

    /// Stale-data check: halts when an instrument in `with_open_orders` has
    /// had no market data for `stale_data_ms` (counted from the engine's
    /// first observation for an instrument never seen). Halts once per
    /// stale episode: the instrument re-arms when its data resumes.
    pub fn on_tick(
        &mut self,
        now: UnixNanos,
        with_open_orders: impl IntoIterator<Item = InstrumentId>,
    ) {
        self.touch(now);
        let limit = self.config.stale_data_ms;
        if limit == 0 {
            return;
        }
        let step = (limit / 10).clamp(1, 1_000) * NANOS_PER_MS;
        self.next_stale_check = now.add_nanos(step);
        let started = self.started.unwrap_or(now);
        for id in with_open_orders {
            let last = self.last_data.get(&id).copied().unwrap_or(started);
            let age = ms(now.0.saturating_sub(last.0));
            if age >= limit && self.stale.insert(id) {
                self.halt(
                    now,
                    format!(
                        "no market data for {id} for {age} ms (stale_data_ms {limit}) while it has open orders"
                    ),
                );
            }
        }
    }

    /// A venue connection went up or down (`what` names it). Down halts
    /// when `halt_on_disconnect` is set; up is only recorded (the halt
    /// stays until an operator lifts it).
    pub fn on_connection(&mut self, now: UnixNanos, up: bool, what: &str) {
        self.touch(now);
        if up {
            self.links_down.remove(what);
            self.record(
                now,
                RiskRecordKind::Notice,
                format!("connection {what} is up"),
            );
            if self.links_down.is_empty()
                && self.state == TradingState::Halted
                && self.halt_only_links
                && self.config.resume_on_reconnect
            {
                self.set_trading_state(
                    TradingState::Active,
                    "every lost connection is back (resume_on_reconnect)",
                    now,
                );
            }
        } else if self.config.halt_on_disconnect {
            self.links_down.insert(what.to_string());
            let (was, only) = (self.state, self.halt_only_links);
            self.halt(now, format!("connection {what} lost"));
            if was != TradingState::Halted || only {
                self.halt_only_links = true;
            }
        } else {
            self.record(
                now,
                RiskRecordKind::Notice,
                format!("connection {what} lost (halt_on_disconnect is off)"),
            );
        }
    }

    /// Equity (or PnL since the start: only differences matter) in
    /// [`RiskEngine::equity_currency`] at `now`. Halts on the daily loss
    /// limit (loss since the first equity of the UTC day) and on the
    /// drawdown limit (from the peak). Equity in another currency is
    /// ignored.
    pub fn on_equity(&mut self, now: UnixNanos, equity: Money) {
        self.touch(now);
        if self.equity_currency() != Some(equity.currency()) {
            return;
        }
        let e = &mut self.equity;
        e.last = Some(equity);
        let day = now.0 / NANOS_PER_DAY;
        if e.day != Some(day) {
            e.day = Some(day);
            e.day_start = equity.raw();
            e.daily_tripped = false;
        }
        let peak = e.peak.map_or(equity.raw(), |p| p.max(equity.raw()));
        e.peak = Some(peak);
        let cur = equity.currency();
        let loss = e.day_start - equity.raw();
        let drawdown = peak - equity.raw();
        let mut halts = Vec::new();
        if let Some(max) = self.config.max_daily_loss {
            if !e.daily_tripped && loss >= max.raw() {
                e.daily_tripped = true;
                halts.push(format!(
                    "daily loss {} reached max_daily_loss {}",
                    Money::from_raw(loss, cur),
                    max
                ));
            }
        }
        if let Some(max) = self.config.max_drawdown {
            if !e.drawdown_tripped && drawdown >= max.raw() {
                e.drawdown_tripped = true;
                halts.push(format!(
                    "drawdown {} from the peak {} reached max_drawdown {}",
                    Money::from_raw(drawdown, cur),
                    Money::from_raw(peak, cur),
                    max
                ));
            }
        }
        for h in halts {
            self.halt(now, h);
        }
    }

    /// Pulls the kill switch: HALTED, and the plan of what to cancel and
    /// (with `flatten`) which market orders close every non-zero position
    /// in `positions` (signed quantities). Flatten orders are split into
    /// slices of the instrument's largest market order quantity.
    pub fn kill_switch<'a>(
        &mut self,
        now: UnixNanos,
        flatten: bool,
        reason: &str,
        orders: &OrderStore,
        positions: impl IntoIterator<Item = (&'a Instrument, Quantity)>,
    ) -> KillSwitchPlan {
        self.touch(now);
        self.record(
            now,
            RiskRecordKind::KillSwitch { flatten },
            reason.to_string(),
        );
        self.halt(now, format!("kill switch: {reason}"));
        plan_kill_switch(orders, positions, flatten)
    }
}

/// The kill switch plan (see [`RiskEngine::kill_switch`]) without an
/// engine: what to cancel and, with `flatten`, which market orders close
/// every non-zero position in `positions` (signed quantities).
pub fn plan_kill_switch<'a>(
    orders: &OrderStore,
    positions: impl IntoIterator<Item = (&'a Instrument, Quantity)>,
    flatten: bool,
) -> KillSwitchPlan {
    let cancel: BTreeSet<InstrumentId> = orders.open_orders(None).map(|o| o.instrument()).collect();
    let mut plan = KillSwitchPlan {
        cancel: cancel.into_iter().collect(),
        flatten: Vec::new(),
    };
    if !flatten {
        return plan;
    }
    for (inst, qty) in positions {
        if qty.is_zero() {
            continue;
        }
        let side = if qty.is_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        let reduce_only = !matches!(inst.contract, ContractKind::Spot);
        let slice = inst
            .market_lot
            .map(|l| l.max_qty.raw())
            .filter(|m| *m > 0)
            .unwrap_or(i64::MAX);
        let mut left = qty.raw().checked_abs().unwrap_or(i64::MAX);
        while left > 0 {
            let q = left.min(slice);
            plan.flatten.push(FlattenOrder {
                instrument: inst.id,
                side,
                quantity: Quantity::from_raw(q, inst.qty_precision),
                reduce_only,
            });
            left -= q;
        }
    }
    plan
}

/// The flags of a flatten order: reduce-only on futures, none on spot.
pub fn flatten_flags(order: &FlattenOrder) -> OrderFlags {
    if order.reduce_only {
        OrderFlags::REDUCE_ONLY
    } else {
        OrderFlags::NONE
    }
}
