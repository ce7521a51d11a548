//! # veloz-sim
//!
//! The simulated venue behind VeloZ's backtests, paper trading and the Binance
//! simulator server: a deterministic matching engine in which our orders meet
//! the replayed market's book (and each other), with queue-position models,
//! maker/taker fees, spot balances, futures margin and positions, funding and
//! liquidation.
//!
//! * [`exchange`]: [`SimExchange`], the venue: instruments, accounts,
//!   commands (submit, cancel, modify), market events, time;
//! * [`engine`]: matching rules (price-time priority across the market book
//!   and simulated orders, trade-through and cross rules, order types and
//!   time in force, self-trade prevention);
//! * [`market`]: the replayed book with consumed-liquidity memory;
//! * [`queue`]: the [`QueueModel`] trait, the conservative and the
//!   probabilistic queue-position models;
//! * [`futures`]: linear and inverse formulas (notional, PnL, entry price,
//!   funding), margin tiers;
//! * [`trigger`]: stop, take-profit and trailing-stop trigger rules;
//! * [`account`], [`order`], [`report`], [`error`]: the data the venue keeps
//!   and reports;
//! * [`backtest`]: [`backtest::BacktestVenue`], the engine behind entry and
//!   response latencies with separate exchange and local clocks, latency
//!   models, and the intra-bar path for bar data;
//! * [`presets`]: example instruments with Binance's BTC rules;
//! * [`synth`]: [`SynthMarket`], a seeded synthetic market (the simulator's
//!   default market data when no recording is loaded).
//!
//! `docs/SIMULATION.md` describes every model and simplification precisely.
//!
//! This crate owns simulation state and rules only. It does no I/O, reads no
//! clock (time is passed in with every call), keeps no global state and uses
//! no floating point: the same inputs give the same outputs, bit for bit. It
//! speaks `veloz_core` types; the Binance wire protocol of the simulator
//! server lives elsewhere.

#![warn(missing_docs)]

pub mod account;
pub mod arith;
pub mod backtest;
pub mod engine;
pub mod error;
pub mod exchange;
pub mod futures;
pub mod idmap;
pub mod market;
pub mod order;
pub mod presets;
pub mod queue;
pub mod report;
pub mod synth;
pub(crate) mod traded;
pub mod trigger;

pub use account::{Account, MarginSummary, PositionView, SpotBalance, SymbolConfig};
pub use engine::InstrumentSettings;
pub use error::{SimError, VenueError};
pub use exchange::{OrderRef, SimConfig, SimExchange, DEFAULT_LEVERAGE};
pub use futures::{default_margin_tiers, MarginTier};
pub use market::MarketBook;
pub use order::{AccountId, SimOrder, SimOrderStatus, StpMode, TrailingState};
pub use queue::{ConservativeQueue, DepthChange, ProbabilisticQueue, QueueModel};
pub use report::{
    Counterparty, ExpireReason, FundingPayment, LiquidatedPosition, LiquidationReport, OrderReport,
    SimReport, SimTrade,
};
pub use synth::{SynthConfig, SynthError, SynthMarket};
