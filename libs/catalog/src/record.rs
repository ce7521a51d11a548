//! What the catalog stores: [`Record`], the union of VeloZ market events and the
//! two kinds of rows that are not market events (funding settlements without a
//! known mark price, and bookDepth percentage aggregates), and [`Table`], the
//! table each record lives in.

use std::fmt;
use std::str::FromStr;

use veloz_core::events::{EventTimes, MarkPrice, MarketEvent};
use veloz_core::{InstrumentId, Price, UnixNanos};
use veloz_exec::binance::stream::AggTrade;

/// One funding settlement (a row of a funding-rate history file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funding {
    /// Instrument.
    pub instrument: InstrumentId,
    /// The funding rate (e.g. `0.00010000`), exact.
    pub rate: Price,
    /// Funding interval in hours, when the source gives it (data.binance.vision).
    pub interval_hours: Option<u32>,
    /// The mark price at the settlement, when the source gives it.
    pub mark: Option<Price>,
    /// Clocks: exchange = funding time; local = exchange (files have no receive time).
    pub times: EventTimes,
}

/// One row of a data.binance.vision `bookDepth` file: the cumulative depth and
/// notional within `percentage` % of the mid price (negative = bid side).
///
/// These are aggregates, not price levels: they cannot be turned into book
/// snapshots or deltas, so they live in their own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookDepth {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Distance from the mid price in percent, raw units of 1e-8 (e.g. `-5` is `-500_000_000`).
    pub percentage: i128,
    /// Cumulative base quantity within the band, raw units of 1e-8.
    pub depth: i128,
    /// Cumulative quote notional within the band, raw units of 1e-8.
    pub notional: i128,
    /// Clocks (exchange = local = the snapshot time).
    pub times: EventTimes,
}

/// Anything the importers produce and the catalog stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A normalised market event.
    Event(MarketEvent),
    /// An aggregated trade (data.binance.vision aggTrades, `@aggTrade` streams):
    /// the trade keyed by its aggregate id, with the first and last trade ids.
    AggTrade(AggTrade),
    /// A funding settlement.
    Funding(Funding),
    /// A bookDepth aggregate row.
    BookDepth(BookDepth),
}

impl Record {
    /// The record's clocks.
    pub fn times(&self) -> EventTimes {
        match self {
            Self::Event(e) => e.times(),
            Self::AggTrade(a) => a.trade.times,
            Self::Funding(f) => f.times,
            Self::BookDepth(d) => d.times,
        }
    }

    /// The instrument.
    pub fn instrument(&self) -> InstrumentId {
        match self {
            Self::Event(e) => e.instrument(),
            Self::AggTrade(a) => a.trade.instrument,
            Self::Funding(f) => f.instrument,
            Self::BookDepth(d) => d.instrument,
        }
    }

    /// The table the record is stored in.
    pub fn table(&self) -> Table {
        match self {
            Self::Event(MarketEvent::BookSnapshot(_) | MarketEvent::BookDeltas(_)) => Table::Book,
            Self::Event(MarketEvent::Quote(_)) => Table::Quotes,
            Self::Event(MarketEvent::Trade(_)) | Self::AggTrade(_) => Table::Trades,
            Self::Event(MarketEvent::Bar(_)) => Table::Bars,
            Self::Event(MarketEvent::MarkPrice(_)) => Table::MarkPrice,
            Self::Event(MarketEvent::Liquidation(_)) => Table::Liquidations,
            Self::Funding(_) => Table::Funding,
            Self::BookDepth(_) => Table::BookDepth,
        }
    }

    /// The market event this record is, if any: aggregated trades become
    /// [`MarketEvent::Trade`]; a funding row with a known mark becomes
    /// [`MarketEvent::MarkPrice`] with `funding_rate` set; a funding row without
    /// a mark and bookDepth rows are not market events (`None`).
    pub fn into_market_event(self) -> Option<MarketEvent> {
        match self {
            Self::Event(e) => Some(e),
            Self::AggTrade(a) => Some(MarketEvent::Trade(a.trade)),
            Self::Funding(f) => f.mark.map(|mark| funding_event(&f, mark)),
            Self::BookDepth(_) => None,
        }
    }
}

/// The mark-price event of a funding settlement with the given mark.
pub(crate) fn funding_event(f: &Funding, mark: Price) -> MarketEvent {
    MarketEvent::MarkPrice(MarkPrice {
        instrument: f.instrument,
        mark,
        index: None,
        funding_rate: Some(f.rate),
        next_funding_time: None,
        times: f.times,
    })
}

impl From<MarketEvent> for Record {
    fn from(e: MarketEvent) -> Self {
        Self::Event(e)
    }
}

/// The catalog's tables. The order is the tie-break when rows of several
/// tables share a local timestamp (a mark price is seen before the funding
/// settlement at the same instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Mark prices (and funding rates carried on them).
    MarkPrice,
    /// Funding settlements.
    Funding,
    /// Book snapshots and deltas, one row per level.
    Book,
    /// Best bid/offer.
    Quotes,
    /// Public trades (plain and aggregated).
    Trades,
    /// Liquidation orders.
    Liquidations,
    /// OHLCV bars.
    Bars,
    /// bookDepth percentage aggregates.
    BookDepth,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 8] = [
        Table::MarkPrice,
        Table::Funding,
        Table::Book,
        Table::Quotes,
        Table::Trades,
        Table::Liquidations,
        Table::Bars,
        Table::BookDepth,
    ];

    /// The folder name under the catalog root.
    pub const fn name(self) -> &'static str {
        match self {
            Table::MarkPrice => "mark_price",
            Table::Funding => "funding",
            Table::Book => "book",
            Table::Quotes => "quotes",
            Table::Trades => "trades",
            Table::Liquidations => "liquidations",
            Table::Bars => "bars",
            Table::BookDepth => "book_depth",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Table::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
                format!("unknown table {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// `ts` as a Parquet nanosecond timestamp.
pub(crate) fn ts_i64(ts: UnixNanos) -> Result<i64, crate::CatalogError> {
    i64::try_from(ts.as_nanos()).map_err(|_| crate::CatalogError::Unstorable {
        what: format!("timestamp {ts}"),
        reason: "beyond the year 2262, the limit of nanosecond Parquet timestamps".into(),
    })
}
