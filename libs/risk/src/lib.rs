//! # veloz-risk
//!
//! The risk engine: what may leave VeloZ, and when trading stops.
//!
//! * [`config`]: [`RiskConfig`], every limit with its default (TOML-friendly,
//!   unknown keys refused);
//! * [`engine`]: [`RiskEngine`]: pre-trade checks (order size and notional,
//!   price band, position and gross exposure, open-order counts, self-trade
//!   prevention, order and cancel rates), the [`TradingState`] (ACTIVE,
//!   REDUCING, HALTED) with its automatic halts (daily loss, drawdown,
//!   repeated rejects, stale market data, lost connection), and the kill
//!   switch plan.
//!
//! The instrument's own rules (tick, step, minimum notional) are checked by
//! `veloz_core::Instrument::validate`, which the kernel runs before this
//! engine. The engine reads no clock and does no I/O: its owner passes the
//! time with every call and drains the audited decisions with
//! [`RiskEngine::take_records`]. See `docs/RISK.md`.

#![warn(missing_docs)]

pub mod config;
pub mod engine;

pub use config::{ConfigError, InstrumentLimits, RiskConfig};
pub use engine::{
    flatten_flags, plan_kill_switch, Denial, FlattenOrder, KillSwitchPlan, RiskCounters,
    RiskEngine, RiskRecord, RiskRecordKind, RiskView, Rule, TradingState, MAX_RECORDS,
};

#[cfg(test)]
mod tests;
