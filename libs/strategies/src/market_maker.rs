//! The market maker: one bid and one ask around a reference price, skewed
//! against the inventory, in the spirit of Avellaneda–Stoikov but with fixed
//! spreads and integer arithmetic.
//!
//! # Quotes
//!
//! * reference `ref`: the mid of the book or quote, or the microprice of the
//!   top of book, `(bid × askQty + ask × bidQty) / (bidQty + askQty)`
//!   (rounded half-even to raw `10^-8` units); without a book or quote, the
//!   last trade or bar close;
//! * reservation price `r = ref − skew_ticks_per_unit × tick × position /
//!   order_qty`: the inventory is counted in units of `order_qty`, the skew
//!   is exact in `i128` and rounded half-even to a raw unit;
//! * half spread `h`: `half_spread_ticks × tick`, or `ref ×
//!   half_spread_bps / 10 000` rounded up to a whole tick (at least one);
//! * bid `= r − h` rounded down to the tick, ask `= r + h` rounded up; with
//!   `post_only`, a bid at or above the best ask is lowered to one tick below
//!   it and an ask at or below the best bid raised to one tick above it, so
//!   that quotes are not refused for taking.
//!
//! # Position limit
//!
//! The bid is quoted only while `position + order_qty ≤ max_position`, the
//! ask only while `−position + order_qty ≤ max_position`; a live quote on a
//! side that is no longer allowed is canceled. Since at most one order per
//! side is ever live and a new one is sent only after the previous one is
//! closed, `|position|` never exceeds `max_position`. On spot, quoting
//! starts once the venue has reported a balance (base or quote), and the ask
//! needs a free base balance of at least `order_qty` (fund the account with
//! base to quote both sides; the inventory skew counts from the start).
//!
//! # Refresh
//!
//! On every quote, book update, trade or bar of the instrument, and after
//! every fill, the desired prices are recomputed. A live quote whose desired
//! price moved by `requote_ticks` ticks or more is canceled; the new quote is
//! sent when the venue confirms the cancel (cancel then new, never two live
//! orders on one side; while a cancel is pending nothing else is sent on that
//! side). With `refresh_ms > 0` a timer also requotes every `refresh_ms`
//! any side whose price differs from the desired one. A side whose order was
//! rejected or denied rests for `reject_backoff_ms` before it quotes again.
//! On stop both quotes are canceled.
//!
//! # Config
//!
//! ```toml
//! instrument = "BINANCE.USDM.BTCUSDT"
//! reference = "microprice"     # or "mid"
//! half_spread_ticks = 5        # or half_spread_bps = 2 (exactly one of them)
//! skew_ticks_per_unit = 3      # ticks per order_qty of inventory
//! order_qty = "0.002"
//! max_position = "0.010"
//! post_only = true             # default
//! requote_ticks = 2            # default 1
//! refresh_ms = 1000            # default 0 (no timer)
//! reject_backoff_ms = 1000     # default
//! ```

use serde::Deserialize;
use veloz_core::events::{Bar, OrderEvent, OrderEventKind, Quote, Trade};
use veloz_core::{
    ClientOrderId, ContractKind, Instrument, InstrumentId, Price, Quantity, Rounding, Side,
    UnixNanos,
};
use veloz_runtime::{Context, FillEvent, OrderRequest, Strategy};

use crate::config::{
    check_instrument_id, check_qty, de_qty, invalid, parse_toml, run_instrument,
    StrategyConfigError,
};
use crate::num::{microprice_raw, mul_div, price_raw, tick_raw};

/// The strategy's registry name.
pub const NAME: &str = "market_maker";

const TIMER_TAG: u64 = 1;
const NANOS_PER_MS: u64 = 1_000_000;

/// The price quotes are centred on (before the skew).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// Mid of best bid and ask.
    #[default]
    Mid,
    /// Size-weighted microprice of the top of book.
    Microprice,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_backoff() -> u64 {
    1_000
}

/// Market maker parameters (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketMakerConfig {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Reference price.
    #[serde(default)]
    pub reference: Reference,
    /// Half spread in ticks (exclusive with `half_spread_bps`).
    #[serde(default)]
    pub half_spread_ticks: Option<u32>,
    /// Half spread in basis points of the reference (exclusive with
    /// `half_spread_ticks`).
    #[serde(default)]
    pub half_spread_bps: Option<u32>,
    /// Ticks the quotes move per `order_qty` of inventory.
    #[serde(default)]
    pub skew_ticks_per_unit: u32,
    /// Quantity of each quote.
    #[serde(deserialize_with = "de_qty")]
    pub order_qty: Quantity,
    /// Largest absolute position.
    #[serde(deserialize_with = "de_qty")]
    pub max_position: Quantity,
    /// Quote post-only (default true).
    #[serde(default = "yes")]
    pub post_only: bool,
    /// Requote when the desired price moved by this many ticks (default 1).
    #[serde(default = "one")]
    pub requote_ticks: u32,
    /// Requote every this many milliseconds (0: no timer).
    #[serde(default)]
    pub refresh_ms: u64,
    /// Pause of a side after a rejected or denied order, milliseconds.
    #[serde(default = "default_backoff")]
    pub reject_backoff_ms: u64,
}

impl MarketMakerConfig {
    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, StrategyConfigError> {
        let c: Self = parse_toml(NAME, text)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks what can be checked without the instrument's rules.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        match (self.half_spread_ticks, self.half_spread_bps) {
            (None, None) | (Some(_), Some(_)) => {
                return Err(invalid(
                    NAME,
                    "half_spread_ticks",
                    "set exactly one of `half_spread_ticks` (whole ticks, at least 1) and `half_spread_bps` (1 to 10000)",
                ))
            }
            (Some(0), None) => {
                return Err(invalid(NAME, "half_spread_ticks", "must be at least 1"))
            }
            (None, Some(b)) if b == 0 || b > 10_000 => {
                return Err(invalid(
                    NAME,
                    "half_spread_bps",
                    format!("must be between 1 and 10000, got {b}"),
                ))
            }
            _ => {}
        }
        if !self.order_qty.is_positive() {
            return Err(invalid(
                NAME,
                "order_qty",
                format!("must be positive, got {}", self.order_qty),
            ));
        }
        if self.max_position < self.order_qty {
            return Err(invalid(
                NAME,
                "max_position",
                format!(
                    "must be at least `order_qty` ({}), got {}",
                    self.order_qty, self.max_position
                ),
            ));
        }
        if self.requote_ticks == 0 {
            return Err(invalid(NAME, "requote_ticks", "must be at least 1"));
        }
        if self.refresh_ms > 86_400_000 {
            return Err(invalid(
                NAME,
                "refresh_ms",
                format!(
                    "must be at most 86400000 (one day), got {}",
                    self.refresh_ms
                ),
            ));
        }
        Ok(())
    }

    /// Checks the config against the instrument's rules.
    pub fn check_rules(&self, instrument: &Instrument) -> Result<(), StrategyConfigError> {
        check_instrument_id(NAME, self.instrument, instrument)?;
        check_qty(NAME, "order_qty", self.order_qty, instrument, false)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// No order on this side.
    Idle,
    /// An order is working (or its submission is in flight).
    Live { id: ClientOrderId, price: Price },
    /// A cancel is in flight; nothing else is sent on this side until the
    /// order is closed.
    Cancelling { id: ClientOrderId, price: Price },
}

/// The market maker (see the module docs).
#[derive(Debug)]
pub struct MarketMaker {
    cfg: MarketMakerConfig,
    instrument: Option<Instrument>,
    /// Index 0: bid, 1: ask.
    sides: [Quoting; 2],
    resume_at: [UnixNanos; 2],
    halted: Option<String>,
    stopped: bool,
}

fn ix(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl MarketMaker {
    /// A market maker with a validated config.
    pub fn new(cfg: MarketMakerConfig) -> Result<Self, StrategyConfigError> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            instrument: None,
            sides: [Quoting::Idle; 2],
            resume_at: [UnixNanos::ZERO; 2],
            halted: None,
            stopped: false,
        })
    }

    /// The config.
    pub fn config(&self) -> &MarketMakerConfig {
        &self.cfg
    }

    /// Why the strategy stopped quoting for good, if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// The reference price in raw units.
    fn reference_raw(&self, ctx: &Context<'_>) -> Option<i128> {
        let id = self.cfg.instrument;
        if self.cfg.reference == Reference::Microprice {
            let top = ctx
                .book(id)
                .and_then(|b| Some((b.best_bid()?, b.best_ask()?)))
                .map(|(b, a)| (b.price, b.qty, a.price, a.qty))
                .or_else(|| {
                    ctx.quote(id)
                        .map(|q| (q.bid.price, q.bid.qty, q.ask.price, q.ask.qty))
                });
            if let Some((bp, bq, ap, aq)) = top {
                if let Some(m) = microprice_raw(bp, bq, ap, aq) {
                    return Some(m);
                }
            }
        }
        ctx.mid(id).map(|p| i128::from(p.raw()))
    }

    /// Desired bid and ask prices for the current state.
    fn desired(&self, ctx: &Context<'_>, inst: &Instrument) -> Option<(Price, Price)> {
        let reference = self.reference_raw(ctx)?;
        let tick = tick_raw(inst);
        let pos = ctx.position(inst.id).map_or(0, |p| i128::from(p.qty_raw));
        let skew = mul_div(
            i128::from(self.cfg.skew_ticks_per_unit).checked_mul(tick)?,
            pos,
            i128::from(self.cfg.order_qty.raw()),
            Rounding::HalfEven,
        )?;
        let reservation = reference.checked_sub(skew)?;
        let half = match (self.cfg.half_spread_ticks, self.cfg.half_spread_bps) {
            (Some(t), _) => i128::from(t).checked_mul(tick)?,
            (None, Some(bps)) => {
                let raw = mul_div(reference, i128::from(bps), 10_000, Rounding::Up)?;
                let ticks = veloz_core::fixed::div_round_i128(raw, tick, Rounding::Up)?.max(1);
                ticks.checked_mul(tick)?
            }
            (None, None) => return None,
        };
        let mut bid = inst
            .snap_price(
                price_raw(reservation.checked_sub(half)?, inst)?,
                Rounding::Down,
            )
            .ok()?;
        let mut ask = inst
            .snap_price(
                price_raw(reservation.checked_add(half)?, inst)?,
                Rounding::Up,
            )
            .ok()?;
        if self.cfg.post_only {
            if let Some((best_bid, best_ask)) = ctx.best_bid_ask(inst.id) {
                let t = i64::try_from(tick).ok()?;
                if bid >= best_ask {
                    bid = Price::from_raw(best_ask.raw().checked_sub(t)?, inst.price_precision);
                }
                if ask <= best_bid {
                    ask = Price::from_raw(best_bid.raw().checked_add(t)?, inst.price_precision);
                }
            }
        }
        Some((bid, ask))
    }

    /// Whether a new order on `side` may be sent now.
    fn side_allowed(&self, ctx: &Context<'_>, inst: &Instrument, side: Side) -> bool {
        if ctx.now() < self.resume_at[ix(side)] {
            return false;
        }
        let qty = i128::from(self.cfg.order_qty.raw());
        if !self.position_allows(ctx, inst, side, qty) {
            return false;
        }
        if inst.contract == ContractKind::Spot {
            // Spot quotes wait for the venue's balance report; an asset it
            // does not report is not held.
            if ctx.balance(inst.base).is_none() && ctx.balance(inst.quote).is_none() {
                return false;
            }
            if side == Side::Sell {
                let free = ctx.balance(inst.base).map_or(0, |(f, _)| f.raw());
                return free >= qty;
            }
        }
        true
    }

    /// Recomputes the quotes; `force` requotes any price difference (timer).
    fn update(&mut self, ctx: &mut Context<'_>, force: bool) {
        if self.halted.is_some() || self.stopped {
            return;
        }
        let Some(inst) = self.instrument.clone() else {
            return;
        };
        let Some((bid, ask)) = self.desired(ctx, &inst) else {
            return;
        };
        let tick = tick_raw(&inst);
        let threshold = i128::from(self.cfg.requote_ticks) * tick;
        for (side, want) in [(Side::Buy, bid), (Side::Sell, ask)] {
            let allowed = self.side_allowed(ctx, &inst, side);
            match self.sides[ix(side)] {
                Quoting::Idle => {
                    if allowed && want.is_positive() {
                        self.send(ctx, side, want);
                    }
                }
                Quoting::Live { id, price } => {
                    let moved = (i128::from(want.raw()) - i128::from(price.raw())).abs();
                    // A live order that may not be replaced now stays unless
                    // what is left of it could take the position past the limit.
                    let leaves = ctx
                        .order(&id)
                        .map_or(0, |o| i128::from(o.leaves_qty().raw()));
                    let limit_hit = !self.position_allows(ctx, &inst, side, leaves);
                    let requote =
                        limit_hit || moved >= threshold || (force && moved > 0 && allowed);
                    if requote && ctx.cancel(id).is_ok() {
                        self.sides[ix(side)] = Quoting::Cancelling { id, price };
                    }
                }
                Quoting::Cancelling { .. } => {}
            }
        }
    }

    /// Whether the position limit allows `qty` (raw) more on `side`.
    fn position_allows(&self, ctx: &Context<'_>, inst: &Instrument, side: Side, qty: i128) -> bool {
        let pos = ctx.position(inst.id).map_or(0, |p| i128::from(p.qty_raw));
        let max = i128::from(self.cfg.max_position.raw());
        match side {
            Side::Buy => pos + qty <= max,
            Side::Sell => -pos + qty <= max,
        }
    }

    fn send(&mut self, ctx: &mut Context<'_>, side: Side, price: Price) {
        let mut req = OrderRequest::limit(self.cfg.instrument, side, self.cfg.order_qty, price);
        if self.cfg.post_only {
            req = req.post_only();
        }
        match ctx.submit(req) {
            Ok(id) => self.sides[ix(side)] = Quoting::Live { id, price },
            Err(e) => self.halted = Some(e.to_string()),
        }
    }

    fn side_of(&self, id: &ClientOrderId) -> Option<Side> {
        [Side::Buy, Side::Sell]
            .into_iter()
            .find(|s| match self.sides[ix(*s)] {
                Quoting::Live { id: i, .. } | Quoting::Cancelling { id: i, .. } => i == *id,
                Quoting::Idle => false,
            })
    }
}

impl Strategy for MarketMaker {
    fn name(&self) -> &str {
        NAME
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let started = run_instrument(ctx, self.cfg.instrument).and_then(|inst| {
            self.cfg
                .check_rules(&inst)
                .map(|()| inst)
                .map_err(|e| e.to_string())
        });
        match started {
            Ok(inst) => self.instrument = Some(inst),
            Err(e) => {
                self.halted = Some(e);
                return;
            }
        }
        if self.cfg.refresh_ms > 0 {
            let at = UnixNanos(
                ctx.now()
                    .0
                    .saturating_add(self.cfg.refresh_ms * NANOS_PER_MS),
            );
            ctx.set_timer(at, TIMER_TAG);
        }
        self.update(ctx, false);
    }

    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        for s in 0..2 {
            if let Quoting::Live { id, price } = self.sides[s] {
                if ctx.cancel(id).is_ok() {
                    self.sides[s] = Quoting::Cancelling { id, price };
                }
            }
        }
        self.stopped = true;
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: u64) {
        if tag != TIMER_TAG || self.halted.is_some() || self.stopped {
            return;
        }
        self.update(ctx, true);
        let at = UnixNanos(
            ctx.now()
                .0
                .saturating_add(self.cfg.refresh_ms * NANOS_PER_MS),
        );
        ctx.set_timer(at, TIMER_TAG);
    }

    fn on_book(&mut self, ctx: &mut Context<'_>, instrument: InstrumentId) {
        if instrument == self.cfg.instrument {
            self.update(ctx, false);
        }
    }

    fn on_quote(&mut self, ctx: &mut Context<'_>, quote: &Quote) {
        if quote.instrument == self.cfg.instrument {
            self.update(ctx, false);
        }
    }

    fn on_trade(&mut self, ctx: &mut Context<'_>, trade: &Trade) {
        if trade.instrument == self.cfg.instrument {
            self.update(ctx, false);
        }
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &Bar) {
        if bar.instrument == self.cfg.instrument {
            self.update(ctx, false);
        }
    }

    fn on_order_event(&mut self, ctx: &mut Context<'_>, ev: &OrderEvent) {
        let id = ev.client_order_id;
        let Some(side) = self.side_of(&id) else {
            return;
        };
        let Some(order) = ctx.order(&id) else {
            return;
        };
        if order.is_closed() {
            self.sides[ix(side)] = Quoting::Idle;
            match &ev.kind {
                OrderEventKind::Rejected { .. } | OrderEventKind::Denied { .. } => {
                    let pause = self.cfg.reject_backoff_ms.saturating_mul(NANOS_PER_MS);
                    self.resume_at[ix(side)] = UnixNanos(ctx.now().0.saturating_add(pause));
                }
                // Requote after a fill once the position includes it (on_fill).
                OrderEventKind::Filled(_) => {}
                _ => self.update(ctx, false),
            }
            return;
        }
        if let (OrderEventKind::CancelRejected { .. }, Quoting::Cancelling { id, price }) =
            (&ev.kind, self.sides[ix(side)])
        {
            // The order is still working: treat it as live again.
            self.sides[ix(side)] = Quoting::Live { id, price };
        }
    }

    fn on_fill(&mut self, ctx: &mut Context<'_>, _fill: FillEvent<'_>) {
        self.update(ctx, false);
    }
}
