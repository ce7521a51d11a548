//! # veloz-live
//!
//! Live and paper trading (ARCHITECTURE §3): the same [`veloz_runtime::Kernel`]
//! and strategies as a backtest, fed from Binance (or the simulator) by tokio
//! tasks, with the kernel on one thread and every input journaled first.
//!
//! * [`config`]: the `veloz live` / `veloz paper` configuration;
//! * [`engine`]: [`engine::run`], the session: setup, journal replay on
//!   restart, the event loop, shutdown;
//! * [`venue`]: the kernel's venue: commands queued for the execution task;
//! * [`exec`]: the Binance execution client (idempotent submission, no blind
//!   retries, per-instrument ordering);
//! * [`feed`]: market streams (reconnect, 24-hour rotation, feed lag);
//! * [`user`]: user-data streams (futures listenKey, spot WS API);
//! * [`reconcile`]: orders, fills, balances and positions against the venue;
//! * [`journal`]: the journal folder (log, run identity, audit log);
//! * [`metrics`]: latency histograms and counters; [`status`]: the status
//!   line.

#![warn(missing_docs)]

pub mod config;
pub mod engine;
pub mod exec;
pub mod feed;
pub mod inbound;
pub mod journal;
pub mod metrics;
pub mod paper;
pub mod reconcile;
mod records;
pub mod status;
pub mod user;
pub mod venue;
pub mod verify;

pub use config::LiveConfig;
pub use engine::{run, run_unattended, LiveError, LiveSetup, LiveSummary, Mode};
pub use inbound::Inbound;
pub use metrics::{Histogram, LiveMetrics};
pub use status::Status;
