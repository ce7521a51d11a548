//! # veloz-exec
//!
//! Venue adapters. Today: Binance spot (`/api/v3`), USD-M (`/fapi`) and COIN-M
//! (`/dapi`), in [`binance`].
//!
//! This crate owns wire formats: it turns venue messages into the normalised
//! events of `veloz-core` and commands into venue requests. It never holds
//! trading state of its own beyond what a protocol needs (a local book being
//! synchronised, a server-time offset, rate-limit counters), and it must never
//! panic on what a venue sends: bad input is a typed error.

pub mod binance;
