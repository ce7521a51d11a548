//! # veloz-market
//!
//! Market-data state built from normalised `veloz-core` events:
//!
//! * [`book`]: [`L2Book`], the price-level order book of one instrument
//!   (snapshots, absolute-quantity deltas, best bid/ask, spread, mid, top N,
//!   depth at a price, exact cost and VWAP of a taker fill, crossed-book check);
//! * [`top`]: [`TopOfBook`], the best bid and ask from a venue quote or a book;
//! * [`fill`]: [`FillCost`] and [`Vwap`], exact fill pricing.
//!
//! Bar aggregation and market-data normalisation helpers arrive later.
//!
//! This crate owns pure, single-threaded state: it does no I/O, keeps no global
//! state, never uses floating point for prices or quantities, and knows no
//! venue's wire format (adapters in `veloz-exec` decode messages into
//! `veloz_core::events` first). It does not check venue sequence numbers either:
//! keeping a book in sync with a venue is the adapter's job.

pub mod book;
pub mod fill;
mod ladder;
pub mod top;

pub use book::{BookConfig, BookError, L2Book};
pub use fill::{FillCost, Vwap};
pub use ladder::RawLevels;
pub use top::TopOfBook;
