//! [`RiskConfig`]: every limit the risk engine enforces, with its default.
//!
//! The config is plain data (serde, TOML-friendly, unknown keys refused) so
//! a typo in a limit name is an error instead of a limit silently not
//! applied. Integer limits use `0` for "off"; amount limits are absent when
//! off. `docs/RISK.md` explains each rule and why its default is what it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use veloz_core::{InstrumentId, Money, Price, Quantity};

/// Binance spot's documented order-count limit: 50 orders per 10 s per
/// account (`rateLimits` `ORDERS` 50/`SECOND`×10; futures allow 300/10 s).
pub const BINANCE_SPOT_ORDERS_PER_10S: u32 = 50;

/// Default order rate limit: 40 orders per 10 s, 80 % of Binance spot's 50
/// (the strictest of the three markets), so VeloZ denies an order before the
/// venue would answer 429 and count towards an IP ban.
pub const DEFAULT_MAX_ORDERS_PER_WINDOW: u32 = 40;

/// Default cancel rate limit: 200 cancels per 10 s. Binance does not count
/// cancels in the order count but weighs each at 1; USD-M allows 2,400
/// weight per minute (400 per 10 s), so this keeps half of it for
/// everything else (queries, modifies, user-data keep-alives).
pub const DEFAULT_MAX_CANCELS_PER_WINDOW: u32 = 200;

/// Default length of the rate-limit windows: 10 s, Binance's order-count
/// interval (`X-MBX-ORDER-COUNT-10S`).
pub const DEFAULT_RATE_WINDOW_MS: u64 = 10_000;

/// Default open orders per instrument: 150, below Binance's `MAX_NUM_ORDERS`
/// filter of 200 on spot and futures symbols.
pub const DEFAULT_MAX_OPEN_ORDERS_PER_INSTRUMENT: u32 = 150;

/// Default open orders in total: 500.
pub const DEFAULT_MAX_OPEN_ORDERS: u32 = 500;

/// Default price band: 500 bp (5 %) around the reference price, the width
/// of Binance's usual `PERCENT_PRICE` multipliers (1.05 / 0.95).
pub const DEFAULT_PRICE_BAND_BPS: u32 = 500;

/// Default reject limit: 10 venue rejects within [`DEFAULT_REJECT_WINDOW_MS`].
pub const DEFAULT_MAX_REJECTS: u32 = 10;

/// Default reject window: 60 s.
pub const DEFAULT_REJECT_WINDOW_MS: u64 = 60_000;

/// Default stale-data threshold: 15 s without market data on an instrument
/// with open orders. Binance's slowest stream we quote from (mark price) is
/// sent every 3 s, book and trade streams far more often.
pub const DEFAULT_STALE_DATA_MS: u64 = 15_000;

/// Per-instrument overrides of the global order limits (absent = use the
/// global value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentLimits {
    /// Largest quantity of one order.
    #[serde(default)]
    pub max_order_qty: Option<Quantity>,
    /// Largest notional of one order (quote asset; USD for COIN-M).
    #[serde(default)]
    pub max_order_notional: Option<Price>,
    /// Largest absolute position, counting every open order on the same side
    /// as if it filled.
    #[serde(default)]
    pub max_position_qty: Option<Quantity>,
    /// Price band around the reference price, in basis points (0 = off).
    #[serde(default)]
    pub price_band_bps: Option<u32>,
    /// Most open orders on this instrument (0 = no limit).
    #[serde(default)]
    pub max_open_orders: Option<u32>,
}

/// Every limit of the risk engine (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Largest quantity of one order (any instrument without an override).
    pub max_order_qty: Option<Quantity>,
    /// Largest notional of one order, in the quote asset (USD for COIN-M).
    pub max_order_notional: Option<Price>,
    /// Largest absolute position per instrument, counting every open order
    /// on the same side as if it filled.
    pub max_position_qty: Option<Quantity>,
    /// Largest gross exposure: the sum over instruments of |position| ×
    /// reference price, in quote terms, after the order (open orders on the
    /// order's side counted as filled).
    pub max_gross_exposure: Option<Price>,
    /// Price band (fat-finger check) around the reference price (mark, else
    /// mid, else last), in basis points; 0 = off.
    pub price_band_bps: u32,
    /// Orders (submits and modifies) allowed per rate window; 0 = off.
    pub max_orders_per_window: u32,
    /// Cancels allowed per rate window; 0 = off.
    pub max_cancels_per_window: u32,
    /// Length of the sliding rate window in milliseconds.
    pub rate_window_ms: u64,
    /// Most open orders per instrument; 0 = off.
    pub max_open_orders_per_instrument: u32,
    /// Most open orders in total; 0 = off.
    pub max_open_orders: u32,
    /// Deny an order that would trade against one of our own resting orders.
    pub self_trade_prevention: bool,
    /// Halt when the loss since the start of the UTC day reaches this amount
    /// (the currency is the one equity is measured in).
    pub max_daily_loss: Option<Money>,
    /// Halt when equity falls this far below its peak.
    pub max_drawdown: Option<Money>,
    /// Halt after this many venue rejects within `reject_window_ms`; 0 = off.
    pub max_rejects: u32,
    /// Window of the reject count in milliseconds.
    pub reject_window_ms: u64,
    /// Halt when an instrument with open orders has had no market data for
    /// this long (milliseconds); 0 = off.
    pub stale_data_ms: u64,
    /// Halt when a venue connection is reported lost.
    pub halt_on_disconnect: bool,
    /// Lift a halt that only lost connections caused once every one of them
    /// is back (a reconnect is followed by reconciliation before the next
    /// order). Any other halt reason in between makes the halt sticky.
    pub resume_on_reconnect: bool,
    /// Overrides of the order limits for single instruments.
    pub instruments: BTreeMap<InstrumentId, InstrumentLimits>,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            max_order_qty: None,
            max_order_notional: None,
            max_position_qty: None,
            max_gross_exposure: None,
            price_band_bps: DEFAULT_PRICE_BAND_BPS,
            max_orders_per_window: DEFAULT_MAX_ORDERS_PER_WINDOW,
            max_cancels_per_window: DEFAULT_MAX_CANCELS_PER_WINDOW,
            rate_window_ms: DEFAULT_RATE_WINDOW_MS,
            max_open_orders_per_instrument: DEFAULT_MAX_OPEN_ORDERS_PER_INSTRUMENT,
            max_open_orders: DEFAULT_MAX_OPEN_ORDERS,
            self_trade_prevention: true,
            max_daily_loss: None,
            max_drawdown: None,
            max_rejects: DEFAULT_MAX_REJECTS,
            reject_window_ms: DEFAULT_REJECT_WINDOW_MS,
            stale_data_ms: DEFAULT_STALE_DATA_MS,
            halt_on_disconnect: true,
            resume_on_reconnect: true,
            instruments: BTreeMap::new(),
        }
    }
}

/// The limits that apply to one instrument (overrides merged over globals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Effective {
    pub max_order_qty: Option<Quantity>,
    pub max_order_notional: Option<Price>,
    pub max_position_qty: Option<Quantity>,
    pub price_band_bps: u32,
    pub max_open_orders: u32,
}

/// Why a config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A limit that must be positive is zero or negative.
    #[error(
        "risk limit {key} must be positive, got {value}; remove the key to turn the limit off"
    )]
    NotPositive {
        /// The config key.
        key: String,
        /// The value given.
        value: String,
    },
    /// A window of zero length.
    #[error("risk setting {key} must be at least 1 ms")]
    ZeroWindow {
        /// The config key.
        key: &'static str,
    },
    /// The loss limits are in different currencies.
    #[error("max_daily_loss ({daily}) and max_drawdown ({drawdown}) must be in the same currency, the one equity is measured in")]
    CurrencyMismatch {
        /// Daily loss limit.
        daily: Money,
        /// Drawdown limit.
        drawdown: Money,
    },
}

impl RiskConfig {
    /// Checks that every limit makes sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn pos<T: std::fmt::Display>(
            key: String,
            v: Option<T>,
            ok: impl Fn(&T) -> bool,
        ) -> Result<(), ConfigError> {
            match v {
                Some(x) if !ok(&x) => Err(ConfigError::NotPositive {
                    key,
                    value: x.to_string(),
                }),
                _ => Ok(()),
            }
        }
        let limits = std::iter::once((
            String::new(),
            InstrumentLimits {
                max_order_qty: self.max_order_qty,
                max_order_notional: self.max_order_notional,
                max_position_qty: self.max_position_qty,
                price_band_bps: None,
                max_open_orders: None,
            },
        ))
        .chain(
            self.instruments
                .iter()
                .map(|(id, l)| (format!("instruments.\"{id}\"."), l.clone())),
        );
        for (prefix, l) in limits {
            pos(format!("{prefix}max_order_qty"), l.max_order_qty, |q| {
                q.is_positive()
            })?;
            pos(
                format!("{prefix}max_order_notional"),
                l.max_order_notional,
                |p| p.is_positive(),
            )?;
            pos(
                format!("{prefix}max_position_qty"),
                l.max_position_qty,
                |q| q.is_positive(),
            )?;
        }
        pos("max_gross_exposure".into(), self.max_gross_exposure, |p| {
            p.is_positive()
        })?;
        pos("max_daily_loss".into(), self.max_daily_loss, |m| {
            m.raw() > 0
        })?;
        pos("max_drawdown".into(), self.max_drawdown, |m| m.raw() > 0)?;
        if let (Some(d), Some(w)) = (self.max_daily_loss, self.max_drawdown) {
            if d.currency() != w.currency() {
                return Err(ConfigError::CurrencyMismatch {
                    daily: d,
                    drawdown: w,
                });
            }
        }
        if self.rate_window_ms == 0 {
            return Err(ConfigError::ZeroWindow {
                key: "rate_window_ms",
            });
        }
        if self.reject_window_ms == 0 {
            return Err(ConfigError::ZeroWindow {
                key: "reject_window_ms",
            });
        }
        Ok(())
    }

    /// The limits of `instrument`: its overrides, else the global values.
    pub(crate) fn effective(&self, instrument: InstrumentId) -> Effective {
        let o = self.instruments.get(&instrument);
        Effective {
            max_order_qty: o.and_then(|o| o.max_order_qty).or(self.max_order_qty),
            max_order_notional: o
                .and_then(|o| o.max_order_notional)
                .or(self.max_order_notional),
            max_position_qty: o.and_then(|o| o.max_position_qty).or(self.max_position_qty),
            price_band_bps: o
                .and_then(|o| o.price_band_bps)
                .unwrap_or(self.price_band_bps),
            max_open_orders: o
                .and_then(|o| o.max_open_orders)
                .unwrap_or(self.max_open_orders_per_instrument),
        }
    }
}
