//! # veloz-catalog
//!
//! The Parquet data catalog of VeloZ backtests, and the importers that fill it.
//!
//! * [`open_source`]: streams one input file (a Binance WebSocket capture, a bar,
//!   mark-price or funding CSV, or a data.binance.vision file) as [`Record`]s;
//! * [`Catalog`]: writes records to Parquet tables under a root folder
//!   (`<root>/<table>/<instrument>/part-NNNNN.parquet`; [`Catalog::import`] for
//!   one file) and reads them back as one time-ordered stream of market events
//!   ([`Catalog::read`]) or records ([`Catalog::read_records`]): a k-way merge
//!   over tables, instruments and non-overlapping runs of part files, one
//!   batch of one row group at a time;
//! * [`TableWriter`]: an exact table writer for run outputs (Parquet and CSV side
//!   by side).
//!
//! Numbers are exact: prices, quantities and rates are Arrow `Decimal128(38, 8)`
//! holding the raw 1e-8 units of veloz-core's fixed-point types; times are
//! `Timestamp(ns, "UTC")`. Memory is bounded: nothing loads a whole file.
//! `docs/DATA.md` describes the tables, the folder layout and the importers.

mod catalog;
mod error;
mod record;
mod schema;
pub mod source;
mod table_writer;
mod util;
mod zip;

pub use catalog::{
    Catalog, CatalogReader, MarketEvents, Query, TableSummary, WriteOptions, WriteSummary,
};
pub use error::{CatalogError, SUPPORTED_LAYOUTS};
pub use record::{BookDepth, Funding, Record, Table};
pub use source::{open_source, Layout, LocalClock, Source, SourceInfo, SourceOptions};
pub use table_writer::{ColumnType, TableWriter, Value};

/// Formats a time as RFC 3339 UTC with nanoseconds (`2024-08-08T23:54:13.000000001Z`),
/// as the CSV side of [`TableWriter`] does.
pub fn format_time(t: veloz_core::UnixNanos) -> String {
    util::format_datetime(t)
}
