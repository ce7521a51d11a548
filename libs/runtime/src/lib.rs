//! # veloz-runtime
//!
//! The kernel of ARCHITECTURE §3 and the strategy SDK.
//!
//! * [`kernel`]: [`Kernel`], single-threaded and deterministic: takes one
//!   [`Input`] at a time, journals it, applies it, calls the strategies and
//!   routes their commands through pre-trade checks and the order store to a
//!   [`Venue`];
//! * [`strategy`]: the SDK a strategy is written against: [`Strategy`],
//!   [`Context`], [`OrderRequest`];
//! * [`portfolio`]: positions from fills (exact, linear and inverse) and the
//!   venue's balances;
//! * [`journal`]: the journal hook and two simple sinks;
//! * [`backtest`]: the backtest driver: merges market data with the
//!   simulated venue's two clocks and feeds the kernel in time order.
//!
//! This crate must not do network I/O or read the wall clock: live and paper
//! drivers feed the same kernel from outside.

#![warn(missing_docs)]

pub mod backtest;
pub mod input;
pub mod journal;
pub mod kernel;
pub mod portfolio;
pub mod strategy;

pub use backtest::{Backtest, BacktestError, BacktestSettings, EquityPoint, PricePoint, RunOutput};
pub use input::{Control, FundingEvent, Input, Stamped};
pub use journal::{Journal, JournalError, JsonLinesJournal, MemoryJournal};
pub use kernel::{
    CheckView, FillRecord, InstrumentRules, Kernel, KernelConfig, KernelError, KernelStats,
    PreTradeCheck, RecordingVenue, SetupError, StateSnapshot, StepAudit, Venue,
};
pub use portfolio::{Portfolio, Position};
pub use strategy::{Context, FillEvent, OrderRequest, SdkError, Strategy, Subscriptions};
