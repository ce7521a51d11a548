//! The EMA crossover: a bar-based trend follower. Long when the fast EMA of
//! the closes crosses above the slow one; flat (`long_only`) or short
//! (`long_short`) when it crosses below. Orders are market orders.
//!
//! # EMA in integers
//!
//! `EMA_t = EMA_{t−1} + α (close_t − EMA_{t−1})` with `α = 2 / (n + 1)` is
//! computed as the exact rational step `EMA_t = ((n − 1) EMA_{t−1} + 2
//! close_t) / (n + 1)` on `i128` values that carry 8 extra decimals beyond the
//! price's raw `10^-8` units ([`EMA_SCALE`]), rounded half-even once per
//! step. Both EMAs start at the first close.
//!
//! # Signals
//!
//! Nothing is traded during the warm-up (the first `slow` bars). The first
//! bar after it that has the EMAs apart records which one is above, without
//! trading; from then on each change of that order is a cross. Equal EMAs
//! keep the previous order. A cross sets the target position (`+qty` up;
//! `0` or `−qty` down) and a market order is sent for the difference between
//! the target and the position; while an order is in flight no new one is
//! sent, and the next bar trades whatever is still missing.
//!
//! On futures, an order that only reduces the position (back to flat) is
//! reduce-only. On spot, `long_short` is refused; a sell never sells more
//! than the base the strategy's buys delivered (fees charged in the base are
//! deducted), rounded down to the step.
//!
//! Only closed bars of the instrument are used (`on_bar`); quotes and trades
//! are ignored.
//!
//! # Config
//!
//! ```toml
//! instrument = "BINANCE.USDM.BTCUSDT"
//! fast = 12
//! slow = 26
//! qty = "0.002"
//! mode = "long_short"     # or "long_only" (default)
//! ```

use serde::Deserialize;
use veloz_core::events::{Bar, OrderEvent, OrderEventKind};
use veloz_core::fixed::div_round_i128;
use veloz_core::{
    ClientOrderId, ContractKind, Instrument, InstrumentId, MarketKind, Quantity, Rounding, Side,
};
use veloz_runtime::{Context, OrderRequest, Strategy};

use crate::config::{
    check_instrument_id, check_qty, de_qty, invalid, parse_toml, run_instrument,
    StrategyConfigError,
};
use crate::num::qty_raw;

/// The strategy's registry name.
pub const NAME: &str = "ema_cross";

/// Extra scale of the EMAs over raw price units.
pub const EMA_SCALE: i128 = 100_000_000;

/// Longest EMA period accepted.
pub const MAX_PERIOD: u32 = 100_000;

/// Which positions the strategy takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Long or flat.
    #[default]
    LongOnly,
    /// Long or short (futures only).
    LongShort,
}

/// EMA crossover parameters (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmaCrossConfig {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Fast EMA period, in bars.
    pub fast: u32,
    /// Slow EMA period, in bars.
    pub slow: u32,
    /// Position size.
    #[serde(deserialize_with = "de_qty")]
    pub qty: Quantity,
    /// Long only or long and short.
    #[serde(default)]
    pub mode: Mode,
}

impl EmaCrossConfig {
    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, StrategyConfigError> {
        let c: Self = parse_toml(NAME, text)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks what can be checked without the instrument's rules.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        if self.fast == 0 || self.fast > MAX_PERIOD {
            return Err(invalid(
                NAME,
                "fast",
                format!("must be between 1 and {MAX_PERIOD} bars, got {}", self.fast),
            ));
        }
        if self.slow <= self.fast || self.slow > MAX_PERIOD {
            return Err(invalid(
                NAME,
                "slow",
                format!(
                    "must be longer than `fast` ({}) and at most {MAX_PERIOD} bars, got {}",
                    self.fast, self.slow
                ),
            ));
        }
        if !self.qty.is_positive() {
            return Err(invalid(
                NAME,
                "qty",
                format!("must be positive, got {}", self.qty),
            ));
        }
        if self.mode == Mode::LongShort && self.instrument.kind == MarketKind::Spot {
            return Err(invalid(
                NAME,
                "mode",
                format!(
                    "\"long_short\" needs a futures instrument; {} is spot, use \"long_only\"",
                    self.instrument
                ),
            ));
        }
        Ok(())
    }

    /// Checks the config against the instrument's rules.
    pub fn check_rules(&self, instrument: &Instrument) -> Result<(), StrategyConfigError> {
        check_instrument_id(NAME, self.instrument, instrument)?;
        check_qty(NAME, "qty", self.qty, instrument, true)
    }
}

/// One exact EMA step (see the module docs): `((n − 1) prev + 2 x) / (n + 1)`
/// on values scaled by [`EMA_SCALE`] over raw units.
pub fn ema_step(prev: i128, close_raw: i64, period: u32) -> Option<i128> {
    let n = i128::from(period);
    let x = i128::from(close_raw).checked_mul(EMA_SCALE)?;
    let num = (n - 1).checked_mul(prev)?.checked_add(x.checked_mul(2)?)?;
    div_round_i128(num, n + 1, Rounding::HalfEven)
}

/// The EMA crossover strategy (see the module docs).
#[derive(Debug)]
pub struct EmaCross {
    cfg: EmaCrossConfig,
    instrument: Option<Instrument>,
    fast: Option<i128>,
    slow: Option<i128>,
    bars: u64,
    /// `Some(true)`: fast above slow.
    above: Option<bool>,
    /// Target position, raw.
    target: i128,
    pending: Option<ClientOrderId>,
    /// Spot: base delivered by our fills and not sold, raw.
    spot_net_raw: i128,
    halted: Option<String>,
}

impl EmaCross {
    /// A strategy with a validated config.
    pub fn new(cfg: EmaCrossConfig) -> Result<Self, StrategyConfigError> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            instrument: None,
            fast: None,
            slow: None,
            bars: 0,
            above: None,
            target: 0,
            pending: None,
            spot_net_raw: 0,
            halted: None,
        })
    }

    /// The config.
    pub fn config(&self) -> &EmaCrossConfig {
        &self.cfg
    }

    /// Why the strategy stopped trading for good, if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Sends the market order that moves the position towards the target.
    fn rebalance(&mut self, ctx: &mut Context<'_>) {
        if self.pending.is_some() {
            return;
        }
        let Some(inst) = self.instrument.clone() else {
            return;
        };
        let pos = ctx.position(inst.id).map_or(0, |p| i128::from(p.qty_raw));
        let need = self.target - pos;
        if need == 0 {
            return;
        }
        let spot = inst.contract == ContractKind::Spot;
        let (side, mut amount) = if need > 0 {
            (Side::Buy, need)
        } else {
            (Side::Sell, -need)
        };
        if spot && side == Side::Sell {
            amount = amount.min(self.spot_net_raw.max(0));
        }
        let Some(qty) = qty_raw(amount, &inst).and_then(|q| inst.snap_qty(q).ok()) else {
            return;
        };
        let min = inst.market_lot.as_ref().unwrap_or(&inst.lot).min_qty;
        if !qty.is_positive() || qty < min {
            return;
        }
        let mut req = OrderRequest::market(inst.id, side, qty);
        // Futures: an order that only brings the position towards zero.
        let reduces = (pos > 0 && side == Side::Sell && self.target >= 0)
            || (pos < 0 && side == Side::Buy && self.target <= 0);
        if !spot && reduces {
            req = req.reduce_only();
        }
        match ctx.submit(req) {
            Ok(id) => self.pending = Some(id),
            Err(e) => self.halted = Some(e.to_string()),
        }
    }
}

impl Strategy for EmaCross {
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
            Err(e) => self.halted = Some(e),
        }
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &Bar) {
        if bar.instrument != self.cfg.instrument || !bar.closed || self.halted.is_some() {
            return;
        }
        if self.instrument.is_none() {
            return;
        }
        let close = bar.close.raw();
        let first = i128::from(close) * EMA_SCALE;
        let (Some(fast), Some(slow)) = (
            ema_step(self.fast.unwrap_or(first), close, self.cfg.fast),
            ema_step(self.slow.unwrap_or(first), close, self.cfg.slow),
        ) else {
            self.halted = Some("EMA arithmetic overflowed".into());
            return;
        };
        self.fast = Some(fast);
        self.slow = Some(slow);
        self.bars += 1;
        if self.bars <= u64::from(self.cfg.slow) {
            return;
        }
        if fast != slow {
            let now_above = fast > slow;
            match self.above {
                None => self.above = Some(now_above),
                Some(prev) if prev != now_above => {
                    self.above = Some(now_above);
                    let qty = i128::from(self.cfg.qty.raw());
                    self.target = match (now_above, self.cfg.mode) {
                        (true, _) => qty,
                        (false, Mode::LongOnly) => 0,
                        (false, Mode::LongShort) => -qty,
                    };
                }
                Some(_) => {}
            }
        }
        self.rebalance(ctx);
    }

    fn on_order_event(&mut self, ctx: &mut Context<'_>, ev: &OrderEvent) {
        if self.pending != Some(ev.client_order_id) {
            return;
        }
        if let OrderEventKind::Filled(f) = &ev.kind {
            if let Some(inst) = self.instrument.as_ref() {
                if inst.contract == ContractKind::Spot {
                    match f.side {
                        Side::Buy => {
                            let fee = if f.fee.currency() == inst.base {
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
        }
        if ctx.order(&ev.client_order_id).is_none_or(|o| o.is_closed()) {
            self.pending = None;
        }
    }
}
