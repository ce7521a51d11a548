//! # veloz-strategies
//!
//! VeloZ's built-in strategies, written only against the runtime SDK
//! (`veloz_runtime::{Strategy, Context, OrderRequest}`) and `veloz_core`
//! types, so each runs unchanged in a backtest, paper trading and live:
//!
//! * [`grid`]: a grid of resting limit orders between two prices (spot and
//!   perpetuals), arithmetic or geometric spacing;
//! * [`market_maker`]: inventory-skewed two-sided quotes around the mid or
//!   microprice with a position limit;
//! * [`ema_cross`]: a bar-based EMA crossover trend follower with market
//!   orders.
//!
//! No floating point is used in any trading decision: prices and quantities
//! are integer raw units (`10^-8`) with `i128` intermediates, and every
//! rounding to a tick or step is explicit (the instrument's snap helpers).
//!
//! # Registry
//!
//! [`build`] makes a strategy from its name and TOML config, [`names`] lists
//! the names, [`instruments_of`] tells which instruments a config trades and
//! [`check_rules`] checks a config against the instruments' trading rules
//! (quantity step, minimum quantity and notional, tick density of a grid)
//! before a run. Config fields are documented on each config struct
//! ([`grid::GridConfig`], [`market_maker::MarketMakerConfig`],
//! [`ema_cross::EmaCrossConfig`]); unknown fields are refused. Prices and
//! quantities are written as decimal strings (`"0.002"`) or whole numbers,
//! never as floats. The configs are plain serde structs, so they can also be
//! read from JSON.
//!
//! Instrument ids are written `VENUE.KIND.SYMBOL` with the kind `SPOT`,
//! `USDM` or `COINM`, e.g. `BINANCE.USDM.BTCUSDT`.
//!
//! # Behaviour common to all three
//!
//! * The position a strategy reads is the kernel's position of the
//!   instrument, which is not split by strategy: run one of these strategies
//!   per instrument.
//! * At start a strategy checks its config against the instrument's rules;
//!   when that fails (or the instrument is not loaded) it does not trade and
//!   says why in its `halted()` accessor. Call [`check_rules`] first to show
//!   the error to the user.
//! * Spot strategies never sell more base than they hold: the grid and the
//!   market maker wait for the venue's first balance report, and the grid
//!   and the EMA cross sell what their buys delivered after fees charged in
//!   the base asset.
//!
//! ## `grid`
//!
//! ```toml
//! instrument = "BINANCE.SPOT.BTCUSDT"
//! lower = "95000"
//! upper = "105000"
//! levels = 10                 # intervals: 11 lines
//! qty_per_level = "0.0002"
//! spacing = "geometric"       # "arithmetic" (default) or "geometric"
//! out_of_range = "cancel"     # "hold" (default), "cancel" or "close"
//! post_only = true            # default false
//! ```
//!
//! ## `market_maker`
//!
//! ```toml
//! instrument = "BINANCE.USDM.BTCUSDT"
//! reference = "microprice"    # "mid" (default) or "microprice"
//! half_spread_ticks = 5       # or half_spread_bps = 2; exactly one
//! skew_ticks_per_unit = 3     # ticks per order_qty of inventory (default 0)
//! order_qty = "0.002"
//! max_position = "0.010"
//! post_only = true            # default true
//! requote_ticks = 2           # default 1
//! refresh_ms = 1000           # default 0: no timer
//! reject_backoff_ms = 1000    # default 1000
//! ```
//!
//! ## `ema_cross`
//!
//! ```toml
//! instrument = "BINANCE.USDM.BTCUSDT"
//! fast = 12
//! slow = 26
//! qty = "0.002"
//! mode = "long_short"         # "long_only" (default) or "long_short" (futures)
//! ```
//!
//! Ready-made files for the repository's fixture data are in
//! `libs/strategies/examples/configs/`.

#![warn(missing_docs)]

pub mod config;
pub mod ema_cross;
pub mod grid;
pub mod market_maker;
mod num;

use veloz_core::{Instrument, InstrumentId};
use veloz_runtime::Strategy;

pub use config::StrategyConfigError;
pub use ema_cross::{EmaCross, EmaCrossConfig};
pub use grid::{Grid, GridConfig};
pub use market_maker::{MarketMaker, MarketMakerConfig};

const NAMES: &[&str] = &[grid::NAME, market_maker::NAME, ema_cross::NAME];

/// The names [`build`] accepts.
pub fn names() -> &'static [&'static str] {
    NAMES
}

fn unknown(name: &str) -> StrategyConfigError {
    StrategyConfigError::UnknownStrategy {
        name: name.into(),
        known: NAMES.join(", "),
    }
}

/// A parsed, validated config of one of the built-in strategies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyConfig {
    /// [`grid`].
    Grid(GridConfig),
    /// [`market_maker`].
    MarketMaker(MarketMakerConfig),
    /// [`ema_cross`].
    EmaCross(EmaCrossConfig),
}

impl AnyConfig {
    /// Parses and validates the TOML config of strategy `name`.
    pub fn parse(name: &str, config: &str) -> Result<Self, StrategyConfigError> {
        match name {
            grid::NAME => GridConfig::from_toml(config).map(Self::Grid),
            market_maker::NAME => MarketMakerConfig::from_toml(config).map(Self::MarketMaker),
            ema_cross::NAME => EmaCrossConfig::from_toml(config).map(Self::EmaCross),
            other => Err(unknown(other)),
        }
    }

    /// The instruments the strategy trades.
    pub fn instruments(&self) -> Vec<InstrumentId> {
        vec![match self {
            Self::Grid(c) => c.instrument,
            Self::MarketMaker(c) => c.instrument,
            Self::EmaCross(c) => c.instrument,
        }]
    }

    /// Checks the config against the instruments' rules; `instruments` must
    /// contain every instrument of [`AnyConfig::instruments`].
    pub fn check_rules(&self, instruments: &[Instrument]) -> Result<(), StrategyConfigError> {
        for id in self.instruments() {
            let Some(inst) = instruments.iter().find(|i| i.id == id) else {
                return Err(config::invalid(
                    self.name(),
                    "instrument",
                    format!("{id} is not among the run's instruments; load its rules first"),
                ));
            };
            match self {
                Self::Grid(c) => c.lines(inst).map(|_| ())?,
                Self::MarketMaker(c) => c.check_rules(inst)?,
                Self::EmaCross(c) => c.check_rules(inst)?,
            }
        }
        Ok(())
    }

    /// The strategy's registry name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Grid(_) => grid::NAME,
            Self::MarketMaker(_) => market_maker::NAME,
            Self::EmaCross(_) => ema_cross::NAME,
        }
    }

    /// Builds the strategy.
    pub fn build(self) -> Result<Box<dyn Strategy>, StrategyConfigError> {
        Ok(match self {
            Self::Grid(c) => Box::new(Grid::new(c)?),
            Self::MarketMaker(c) => Box::new(MarketMaker::new(c)?),
            Self::EmaCross(c) => Box::new(EmaCross::new(c)?),
        })
    }
}

/// Builds strategy `name` from its TOML config.
pub fn build(name: &str, config: &str) -> Result<Box<dyn Strategy>, StrategyConfigError> {
    AnyConfig::parse(name, config)?.build()
}

/// The instruments a config of strategy `name` trades (so that a runner
/// knows which instruments and data to load).
pub fn instruments_of(name: &str, config: &str) -> Result<Vec<InstrumentId>, StrategyConfigError> {
    Ok(AnyConfig::parse(name, config)?.instruments())
}

/// Checks a config against the instruments' trading rules (tick, step,
/// limits, minimum notional). Strategies check the same at start and stop
/// trading when the check fails, so a runner should call this first to give
/// the user the error.
pub fn check_rules(
    name: &str,
    config: &str,
    instruments: &[Instrument],
) -> Result<(), StrategyConfigError> {
    AnyConfig::parse(name, config)?.check_rules(instruments)
}
