//! The grid strategy: resting limit orders on a ladder of prices between
//! `lower` and `upper`; every filled buy is answered by a sell one line up,
//! every filled sell by a buy one line down.
//!
//! # Lines and orders
//!
//! `levels` is the number of grid *intervals*: the ladder has `levels + 1`
//! price lines `L[0] = lower < L[1] < … < L[levels] = upper`. At start the
//! line nearest to the reference price (ties: the lower line) stays empty;
//! every line below it gets a buy and every line above it a sell, so a
//! futures grid starts with exactly `levels` orders. From then on the grid
//! keeps one empty line next to the last fill:
//!
//! * a buy at line `k` fills in full → a sell at line `k + 1`;
//! * a sell at line `k` fills in full → a buy at line `k − 1`.
//!
//! A partial fill waits for the rest. An order that is canceled, expired,
//! rejected or denied leaves its line empty until a neighbouring fill puts an
//! order there again.
//!
//! **Spot** cannot sell what it does not hold: a spot grid starts only once
//! the venue has reported the base or the quote balance, and the lines above
//! the reference get sells only as far as the free base balance covers them,
//! nearest line first (none without base).
//! The counter-sell of a filled buy sells what the buy delivered (its filled
//! quantity minus the fee charged in the base asset), rounded down to the
//! step.
//!
//! # Prices (integer arithmetic)
//!
//! * `arithmetic`: `L[k] = lower + (upper − lower) × k / levels`, in raw
//!   `10^-8` units, rounded half-even, then snapped half-even to the tick.
//! * `geometric`: one ratio `R`, an exact decimal with 12 places, is the
//!   largest such number for which stepping from `lower` `levels` times
//!   (`p ← p × R`, rounded half-even to raw units at every step) stays at or
//!   below `upper`; it is found by bisection on the integer `R × 10^12`.
//!   `L[k]` is `lower` stepped `k` times, snapped half-even to the tick;
//!   `L[levels]` is `upper` itself.
//!
//! Two lines that snap to the same tick are a configuration error (too many
//! levels for the range).
//!
//! # Reference price
//!
//! The mid of the book or quote when the run has one, else the last trade or
//! bar close ([`veloz_runtime::Context::mid`]). The grid reacts to quotes,
//! book updates, trades and bars of its instrument alike.
//!
//! # Leaving the range
//!
//! When the reference is below `L[0]` or above `L[levels]`:
//!
//! * `hold`: nothing happens, the orders stay;
//! * `cancel`: every grid order is canceled;
//! * `close`: every grid order is canceled and, once they are all closed,
//!   the position is flattened with one market order (reduce-only on
//!   futures; on spot the base the grid bought and still holds is sold).
//!
//! After `cancel` or `close` the grid starts again, from the then current
//! reference, when the price is back inside the range. A grid also waits
//! for the price to be inside the range before it first starts.
//!
//! Price bands: futures refuse only buys above and sells below the band
//! around the mark, which a grid never sends (its buys are below the price,
//! its sells above). Spot checks both bounds; Binance's spot band for BTC is
//! wide (0.2× to 5×).
//!
//! On stop, every open grid order is canceled.
//!
//! # Config
//!
//! ```toml
//! instrument = "BINANCE.USDM.BTCUSDT"
//! lower = "100000"
//! upper = "106000"
//! levels = 12                # intervals: 13 lines, 12 orders
//! qty_per_level = "0.002"
//! spacing = "arithmetic"     # or "geometric"
//! out_of_range = "hold"      # or "cancel", "close"
//! post_only = false
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use veloz_core::events::{Bar, OrderEvent, OrderEventKind, Quote, Trade};
use veloz_core::fixed::div_round_i128;
use veloz_core::{
    ClientOrderId, ContractKind, Instrument, InstrumentId, Price, Quantity, Rounding, Side,
};
use veloz_runtime::{Context, FillEvent, OrderRequest, Strategy};

use crate::config::{
    check_instrument_id, check_notional, check_qty, de_price, de_qty, invalid, parse_toml,
    run_instrument, StrategyConfigError,
};
use crate::num::{price_raw, qty_raw};

/// The strategy's registry name.
pub const NAME: &str = "grid";

/// Most intervals a grid may have.
pub const MAX_LEVELS: u32 = 1_000;

/// Scale of the geometric ratio: 12 decimal places.
pub const RATIO_SCALE: i128 = 1_000_000_000_000;

/// How the lines are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// Equal price differences.
    #[default]
    Arithmetic,
    /// Equal price ratios.
    Geometric,
}

/// What to do when the price leaves `[lower, upper]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfRange {
    /// Keep the orders.
    #[default]
    Hold,
    /// Cancel every grid order.
    Cancel,
    /// Cancel every grid order and flatten the position.
    Close,
}

/// Grid parameters (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Instrument, e.g. `BINANCE.SPOT.BTCUSDT`.
    pub instrument: InstrumentId,
    /// Lowest line.
    #[serde(deserialize_with = "de_price")]
    pub lower: Price,
    /// Highest line.
    #[serde(deserialize_with = "de_price")]
    pub upper: Price,
    /// Number of intervals (`levels + 1` lines).
    pub levels: u32,
    /// Quantity of every grid order.
    #[serde(deserialize_with = "de_qty")]
    pub qty_per_level: Quantity,
    /// Line spacing.
    #[serde(default)]
    pub spacing: Spacing,
    /// Behaviour outside the range.
    #[serde(default)]
    pub out_of_range: OutOfRange,
    /// Send the grid's limit orders post-only.
    #[serde(default)]
    pub post_only: bool,
}

impl GridConfig {
    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, StrategyConfigError> {
        let c: Self = parse_toml(NAME, text)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks what can be checked without the instrument's rules.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        if !self.lower.is_positive() {
            return Err(invalid(
                NAME,
                "lower",
                format!("must be a positive price, got {}", self.lower),
            ));
        }
        if self.upper <= self.lower {
            return Err(invalid(
                NAME,
                "upper",
                format!("must be above `lower` ({}), got {}", self.lower, self.upper),
            ));
        }
        if self.levels == 0 || self.levels > MAX_LEVELS {
            return Err(invalid(
                NAME,
                "levels",
                format!(
                    "is the number of grid intervals and must be between 1 and {MAX_LEVELS}, got {}",
                    self.levels
                ),
            ));
        }
        if !self.qty_per_level.is_positive() {
            return Err(invalid(
                NAME,
                "qty_per_level",
                format!("must be positive, got {}", self.qty_per_level),
            ));
        }
        Ok(())
    }

    /// Checks the config against the instrument's rules (tick, step, limits,
    /// minimum notional) and returns the grid's price lines.
    pub fn lines(&self, instrument: &Instrument) -> Result<Vec<Price>, StrategyConfigError> {
        check_instrument_id(NAME, self.instrument, instrument)?;
        check_qty(NAME, "qty_per_level", self.qty_per_level, instrument, false)?;
        let lines = grid_lines(self, instrument)?;
        if let Some(first) = lines.first() {
            check_notional(
                NAME,
                "qty_per_level",
                self.qty_per_level,
                *first,
                instrument,
            )?;
            if instrument.min_price.is_positive() && *first < instrument.min_price {
                return Err(invalid(
                    NAME,
                    "lower",
                    format!(
                        "{first} is below {}'s minimum price {}",
                        instrument.id, instrument.min_price
                    ),
                ));
            }
        }
        if let Some(last) = lines.last() {
            if instrument.max_price.is_positive() && *last > instrument.max_price {
                return Err(invalid(
                    NAME,
                    "upper",
                    format!(
                        "{last} is above {}'s maximum price {}",
                        instrument.id, instrument.max_price
                    ),
                ));
            }
        }
        Ok(lines)
    }
}

/// The largest ratio `R` (scaled by [`RATIO_SCALE`]) for which `lower`
/// stepped `steps` times by `R` (half-even to raw units each step) is at
/// most `upper`. `None` on overflow or a non-positive `lower`.
pub fn geometric_ratio(lower: i64, upper: i64, steps: u32) -> Option<i128> {
    let (lo_p, hi_p) = (i128::from(lower), i128::from(upper));
    if lo_p <= 0 || hi_p < lo_p || steps == 0 {
        return None;
    }
    // Stepping result, stopping early once above `upper` (no overflow).
    let reach = |r: i128| -> Option<i128> {
        let mut p = lo_p;
        for _ in 0..steps {
            p = div_round_i128(p.checked_mul(r)?, RATIO_SCALE, Rounding::HalfEven)?;
            if p > hi_p {
                return Some(p);
            }
        }
        Some(p)
    };
    let mut ok = RATIO_SCALE; // R = 1 stays at `lower`.
    let mut bad = hi_p.checked_mul(RATIO_SCALE)? / lo_p + 1; // one step passes `upper`.
    if reach(bad)? <= hi_p {
        return Some(bad);
    }
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        if reach(mid)? <= hi_p {
            ok = mid;
        } else {
            bad = mid;
        }
    }
    Some(ok)
}

/// The grid's price lines, snapped to the instrument's tick (see the module
/// docs for the arithmetic).
pub fn grid_lines(
    cfg: &GridConfig,
    instrument: &Instrument,
) -> Result<Vec<Price>, StrategyConfigError> {
    let n = cfg.levels;
    let (lo, hi) = (i128::from(cfg.lower.raw()), i128::from(cfg.upper.raw()));
    let overflow = || {
        invalid(
            NAME,
            "levels",
            "the grid's prices overflow; narrow the range",
        )
    };
    let mut raws = Vec::with_capacity(n as usize + 1);
    match cfg.spacing {
        Spacing::Arithmetic => {
            for k in 0..=n {
                let off = div_round_i128(
                    (hi - lo).checked_mul(i128::from(k)).ok_or_else(overflow)?,
                    i128::from(n),
                    Rounding::HalfEven,
                )
                .ok_or_else(overflow)?;
                raws.push(lo + off);
            }
        }
        Spacing::Geometric => {
            let r = geometric_ratio(cfg.lower.raw(), cfg.upper.raw(), n).ok_or_else(overflow)?;
            let mut p = lo;
            raws.push(p);
            for _ in 1..n {
                p = div_round_i128(
                    p.checked_mul(r).ok_or_else(overflow)?,
                    RATIO_SCALE,
                    Rounding::HalfEven,
                )
                .ok_or_else(overflow)?;
                raws.push(p);
            }
            raws.push(hi);
        }
    }
    let mut lines = Vec::with_capacity(raws.len());
    for raw in raws {
        let p = price_raw(raw, instrument).ok_or_else(overflow)?;
        let snapped = instrument
            .snap_price(p, Rounding::HalfEven)
            .map_err(|e| invalid(NAME, "levels", e.to_string()))?;
        if let Some(prev) = lines.last() {
            if snapped <= *prev {
                return Err(invalid(
                    NAME,
                    "levels",
                    format!(
                        "{n} intervals are too many for the range {}..{} on a tick of {}: two lines round to {snapped}; use fewer levels or a wider range",
                        cfg.lower, cfg.upper, instrument.tick_size
                    ),
                ));
            }
        }
        lines.push(snapped);
    }
    Ok(lines)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Line(usize, Side),
    Flatten,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not trading; starts when the price is in range and no order is open.
    Waiting,
    /// Trading.
    Active,
    /// Orders canceled; when they are all closed, flatten (if asked) and wait.
    Stopping { flatten: bool },
}

/// The grid strategy (see the module docs).
#[derive(Debug)]
pub struct Grid {
    cfg: GridConfig,
    instrument: Option<Instrument>,
    lines: Vec<Price>,
    slots: Vec<Option<ClientOrderId>>,
    orders: BTreeMap<ClientOrderId, Role>,
    phase: Phase,
    /// Spot: base delivered by the grid's fills and not sold again, raw.
    spot_net_raw: i128,
    halted: Option<String>,
}

impl Grid {
    /// A grid with a validated config.
    pub fn new(cfg: GridConfig) -> Result<Self, StrategyConfigError> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            instrument: None,
            lines: Vec::new(),
            slots: Vec::new(),
            orders: BTreeMap::new(),
            phase: Phase::Waiting,
            spot_net_raw: 0,
            halted: None,
        })
    }

    /// The config.
    pub fn config(&self) -> &GridConfig {
        &self.cfg
    }

    /// Why the grid stopped trading for good (instrument missing, rules
    /// incompatible with the config, SDK refusal), if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    fn is_spot(&self) -> bool {
        self.instrument
            .as_ref()
            .is_some_and(|i| i.contract == ContractKind::Spot)
    }

    fn on_price(&mut self, ctx: &mut Context<'_>) {
        if self.halted.is_some() || self.lines.is_empty() {
            return;
        }
        let Some(reference) = ctx.mid(self.cfg.instrument) else {
            return;
        };
        let (first, last) = (self.lines[0], self.lines[self.lines.len() - 1]);
        let in_range = reference >= first && reference <= last;
        match self.phase {
            Phase::Waiting => {
                if in_range && self.orders.is_empty() && self.balances_known(ctx) {
                    self.start_grid(ctx, reference);
                }
            }
            Phase::Active => {
                if !in_range {
                    match self.cfg.out_of_range {
                        OutOfRange::Hold => {}
                        OutOfRange::Cancel => self.stop_grid(ctx, false),
                        OutOfRange::Close => self.stop_grid(ctx, true),
                    }
                }
            }
            Phase::Stopping { .. } => {}
        }
    }

    /// Spot: whether the venue has reported the base or the quote balance
    /// (the grid needs it to know what it may sell). Always true on futures.
    fn balances_known(&self, ctx: &Context<'_>) -> bool {
        match self.instrument.as_ref() {
            Some(i) if i.contract == ContractKind::Spot => {
                ctx.balance(i.base).is_some() || ctx.balance(i.quote).is_some()
            }
            _ => true,
        }
    }

    fn start_grid(&mut self, ctx: &mut Context<'_>, reference: Price) {
        // The line nearest to the reference stays empty (ties: the lower one).
        let mut empty = 0usize;
        let mut best = i128::MAX;
        for (k, p) in self.lines.iter().enumerate() {
            let d = (i128::from(p.raw()) - i128::from(reference.raw())).abs();
            if d < best {
                best = d;
                empty = k;
            }
        }
        self.phase = Phase::Active;
        let qty = self.cfg.qty_per_level;
        for k in 0..empty {
            self.place(ctx, k, Side::Buy, qty);
        }
        let mut sellable = if self.is_spot() {
            let base = self.instrument.as_ref().map(|i| i.base);
            base.and_then(|b| ctx.balance(b))
                .map_or(0, |(free, _)| free.raw())
        } else {
            i128::MAX
        };
        for k in empty + 1..self.lines.len() {
            if sellable < i128::from(qty.raw()) {
                break;
            }
            if sellable != i128::MAX {
                sellable -= i128::from(qty.raw());
            }
            self.place(ctx, k, Side::Sell, qty);
        }
    }

    fn stop_grid(&mut self, ctx: &mut Context<'_>, flatten: bool) {
        self.phase = Phase::Stopping { flatten };
        self.cancel_all(ctx);
        self.after_close(ctx);
    }

    fn cancel_all(&mut self, ctx: &mut Context<'_>) {
        let ids: Vec<ClientOrderId> = self.orders.keys().copied().collect();
        for id in ids {
            let pending = ctx
                .order(&id)
                .is_some_and(|o| o.is_closed() || o.status().is_pending());
            if !pending {
                // An order that closed meanwhile is not open any more: nothing to do.
                let _ = ctx.cancel(id);
            }
        }
    }

    fn place(&mut self, ctx: &mut Context<'_>, k: usize, side: Side, qty: Quantity) {
        if self.slots[k].is_some() {
            return;
        }
        let mut req = OrderRequest::limit(self.cfg.instrument, side, qty, self.lines[k]);
        if self.cfg.post_only {
            req = req.post_only();
        }
        match ctx.submit(req) {
            Ok(id) => {
                self.slots[k] = Some(id);
                self.orders.insert(id, Role::Line(k, side));
            }
            Err(e) => self.halted = Some(e.to_string()),
        }
    }

    /// After an order closed: finishes a stop when nothing is open any more.
    fn after_close(&mut self, ctx: &mut Context<'_>) {
        let Phase::Stopping { flatten } = self.phase else {
            return;
        };
        if !self.orders.is_empty() {
            return;
        }
        self.phase = Phase::Waiting;
        if !flatten {
            return;
        }
        let Some(inst) = self.instrument.clone() else {
            return;
        };
        let req = if self.is_spot() {
            let held = qty_raw(self.spot_net_raw.max(0), &inst)
                .and_then(|q| inst.snap_qty(q).ok())
                .unwrap_or(Quantity::ZERO);
            if !held.is_positive() {
                return;
            }
            OrderRequest::market(inst.id, Side::Sell, held)
        } else {
            let pos = ctx.position(inst.id).map_or(Quantity::ZERO, |p| p.qty());
            let Ok(abs) = pos.checked_abs() else {
                return;
            };
            if !abs.is_positive() {
                return;
            }
            let side = if pos.is_positive() {
                Side::Sell
            } else {
                Side::Buy
            };
            OrderRequest::market(inst.id, side, abs).reduce_only()
        };
        match ctx.submit(req) {
            Ok(id) => {
                self.orders.insert(id, Role::Flatten);
                // Wait for the flattening order before starting again.
                self.phase = Phase::Stopping { flatten: false };
            }
            Err(e) => self.halted = Some(e.to_string()),
        }
    }

    /// What a filled buy delivered: filled quantity minus base-asset fees.
    fn delivered(&self, ctx: &Context<'_>, id: &ClientOrderId) -> i128 {
        let Some(inst) = self.instrument.as_ref() else {
            return 0;
        };
        ctx.order(id).map_or(0, |o| {
            o.fills()
                .iter()
                .map(|f| {
                    let fee = if f.fee.currency() == inst.base {
                        f.fee.raw()
                    } else {
                        0
                    };
                    i128::from(f.qty.raw()) - fee
                })
                .sum()
        })
    }

    fn counter_order(&mut self, ctx: &mut Context<'_>, k: usize, side: Side, id: &ClientOrderId) {
        match side {
            Side::Buy => {
                if k + 1 >= self.lines.len() {
                    return;
                }
                let qty = if self.is_spot() {
                    let Some(inst) = self.instrument.as_ref() else {
                        return;
                    };
                    let got = self
                        .delivered(ctx, id)
                        .min(i128::from(self.cfg.qty_per_level.raw()));
                    match qty_raw(got.max(0), inst).and_then(|q| inst.snap_qty(q).ok()) {
                        Some(q) if q.is_positive() && q >= inst.lot.min_qty => q,
                        _ => return,
                    }
                } else {
                    self.cfg.qty_per_level
                };
                self.place(ctx, k + 1, Side::Sell, qty);
            }
            Side::Sell => {
                if k == 0 {
                    return;
                }
                self.place(ctx, k - 1, Side::Buy, self.cfg.qty_per_level);
            }
        }
    }
}

impl Strategy for Grid {
    fn name(&self) -> &str {
        NAME
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let inst = match run_instrument(ctx, self.cfg.instrument) {
            Ok(inst) => inst,
            Err(e) => {
                self.halted = Some(e);
                return;
            }
        };
        match self.cfg.lines(&inst) {
            Ok(lines) => {
                self.slots = vec![None; lines.len()];
                self.lines = lines;
                self.instrument = Some(inst);
            }
            Err(e) => self.halted = Some(e.to_string()),
        }
        self.on_price(ctx);
    }

    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        self.phase = Phase::Stopping { flatten: false };
        self.cancel_all(ctx);
    }

    fn on_book(&mut self, ctx: &mut Context<'_>, instrument: InstrumentId) {
        if instrument == self.cfg.instrument {
            self.on_price(ctx);
        }
    }

    fn on_quote(&mut self, ctx: &mut Context<'_>, quote: &Quote) {
        if quote.instrument == self.cfg.instrument {
            self.on_price(ctx);
        }
    }

    fn on_trade(&mut self, ctx: &mut Context<'_>, trade: &Trade) {
        if trade.instrument == self.cfg.instrument {
            self.on_price(ctx);
        }
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &Bar) {
        if bar.instrument == self.cfg.instrument {
            self.on_price(ctx);
        }
    }

    fn on_order_event(&mut self, ctx: &mut Context<'_>, ev: &OrderEvent) {
        let id = ev.client_order_id;
        let Some(role) = self.orders.get(&id).copied() else {
            return;
        };
        if let OrderEventKind::Filled(f) = &ev.kind {
            if self.is_spot() {
                let base = self.instrument.as_ref().map(|i| i.base);
                match f.side {
                    Side::Buy => {
                        let fee = if Some(f.fee.currency()) == base {
                            f.fee.raw()
                        } else {
                            0
                        };
                        self.spot_net_raw += i128::from(f.qty.raw()) - fee;
                    }
                    Side::Sell => self.spot_net_raw -= i128::from(f.qty.raw()),
                }
            }
        }
        let Some(order) = ctx.order(&id) else {
            return;
        };
        if !order.is_closed() {
            return;
        }
        let filled_in_full =
            matches!(ev.kind, OrderEventKind::Filled(_)) && order.leaves_qty().is_zero();
        self.orders.remove(&id);
        if let Role::Line(k, side) = role {
            if self.slots[k] == Some(id) {
                self.slots[k] = None;
            }
            if filled_in_full && self.phase == Phase::Active {
                self.counter_order(ctx, k, side, &id);
            }
        }
        if !matches!(ev.kind, OrderEventKind::Filled(_)) {
            self.after_close(ctx);
        }
    }

    fn on_fill(&mut self, ctx: &mut Context<'_>, _fill: FillEvent<'_>) {
        // The position includes the fill here (not yet in on_order_event).
        self.after_close(ctx);
    }
}
