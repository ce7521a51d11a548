//! # veloz-simserver
//!
//! The Binance venue simulator server behind `veloz sim`: Binance's REST
//! API, market streams and user-data streams, served over HTTP and WebSocket
//! on 127.0.0.1 in front of the `veloz-sim` matching engine. Clients (our
//! adapter, the official connectors, ccxt) talk to it by base URL alone.
//!
//! * [`config`]: the configuration (ports, accounts and keys, market source,
//!   rate limits);
//! * [`server`]: [`start`] binds one port per product and returns a
//!   [`ServerHandle`];
//! * [`engine`]: the task that owns the venue, the market sources and the
//!   subscriber lists (jobs in through a bounded channel);
//! * [`rest`]: the REST endpoints; [`ws`]: the WebSocket endpoints;
//! * [`auth`]: API keys, signatures, `timestamp`/`recvWindow`;
//! * [`limits`]: request weights, order counts, 429 and 418;
//! * [`faults`]: fault rules and counters; [`admin`]: the admin endpoint
//!   that changes them at run time;
//! * [`market`]: the [`MarketSource`] trait, capture replay, manual source;
//! * [`wire`], [`info`]: the JSON the simulator writes;
//! * [`params`], [`error`]: request parameters and error answers.
//!
//! `docs/SIMULATOR.md` tells how to run it and how it differs from Binance.

#![warn(missing_docs)]

pub mod admin;
pub mod auth;
pub mod config;
pub mod engine;
pub mod error;
pub mod faults;
pub mod info;
pub mod limits;
pub mod market;
pub mod params;
pub mod rest;
pub mod server;
pub mod wire;
pub mod ws;
pub mod ws_api;

pub use config::{AccountConfig, BalanceConfig, MarketConfig, RateLimitConfig, ServerConfig};
pub use error::ApiError;
pub use faults::{ConnectionKind, FaultError, FaultKind, FaultReport, FaultRule};
pub use market::{CaptureReplay, ManualSource, MarketSource, MarketStep, StreamFrame, SynthSource};
pub use server::{start, ServerHandle, StartError};
