//! The tables' Arrow schemas and the conversion of [`Record`]s to rows and back.
//!
//! Every table starts with the same four columns:
//! `instrument` (Utf8, `BINANCE.USDM.BTCUSDT`), `ts_exchange` and `ts_local`
//! (`Timestamp(ns, "UTC")`) and `seq` (UInt64: the record's position in the
//! write that stored it; rows of one book event share it). Prices, quantities
//! and rates are `Decimal128(38, 8)`; ids are UInt64. See `docs/DATA.md`.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use veloz_core::events::{
    Bar, BookDelta, BookDeltas, BookSnapshot, DeltaList, EventTimes, Level, Liquidation, MarkPrice,
    MarketEvent, Quote, Trade,
};
use veloz_core::{AggressorSide, InstrumentId, Side, TradeId, UnixNanos};
use veloz_exec::binance::stream::AggTrade;

use crate::record::{ts_i64, BookDepth, Funding, Record, Table};
use crate::util::{price_from_raw, qty_from_raw};
use crate::CatalogError;

/// Decimal precision and scale of every exact number.
pub(crate) const DEC_PRECISION: u8 = 38;
/// Scale: raw units of 1e-8, as veloz-core's fixed-point types.
pub(crate) const DEC_SCALE: i8 = 8;

/// A column's storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Utf8,
    I64,
    U64,
    U32,
    Bool,
    Ts,
    Dec,
}

impl Kind {
    pub(crate) fn data_type(self) -> DataType {
        match self {
            Kind::Utf8 => DataType::Utf8,
            Kind::I64 => DataType::Int64,
            Kind::U64 => DataType::UInt64,
            Kind::U32 => DataType::UInt32,
            Kind::Bool => DataType::Boolean,
            Kind::Ts => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            Kind::Dec => DataType::Decimal128(DEC_PRECISION, DEC_SCALE),
        }
    }
}

type Col = (&'static str, Kind, bool);

const COMMON: [Col; 4] = [
    ("instrument", Kind::Utf8, false),
    ("ts_exchange", Kind::Ts, false),
    ("ts_local", Kind::Ts, false),
    ("seq", Kind::U64, false),
];

/// The table-specific columns (after the common four): name, type, nullable.
fn specific(table: Table) -> &'static [Col] {
    match table {
        Table::Book => &[
            ("is_snapshot", Kind::Bool, false),
            ("first_update_id", Kind::U64, true),
            ("last_update_id", Kind::U64, false),
            ("prev_last_update_id", Kind::U64, true),
            ("side", Kind::Utf8, true),
            ("price", Kind::Dec, true),
            ("qty", Kind::Dec, true),
        ],
        Table::Quotes => &[
            ("update_id", Kind::U64, true),
            ("bid_price", Kind::Dec, false),
            ("bid_qty", Kind::Dec, false),
            ("ask_price", Kind::Dec, false),
            ("ask_qty", Kind::Dec, false),
        ],
        Table::Trades => &[
            ("trade_id", Kind::U64, false),
            ("price", Kind::Dec, false),
            ("qty", Kind::Dec, false),
            ("aggressor", Kind::Utf8, false),
            ("first_trade_id", Kind::U64, true),
            ("last_trade_id", Kind::U64, true),
        ],
        Table::Bars => &[
            ("interval_secs", Kind::U32, false),
            ("open_time", Kind::Ts, false),
            ("open", Kind::Dec, false),
            ("high", Kind::Dec, false),
            ("low", Kind::Dec, false),
            ("close", Kind::Dec, false),
            ("volume", Kind::Dec, false),
            ("closed", Kind::Bool, false),
        ],
        Table::MarkPrice => &[
            ("mark", Kind::Dec, false),
            ("index", Kind::Dec, true),
            ("funding_rate", Kind::Dec, true),
            ("next_funding_time", Kind::Ts, true),
        ],
        Table::Funding => &[
            ("rate", Kind::Dec, false),
            ("interval_hours", Kind::U32, true),
            ("mark", Kind::Dec, true),
        ],
        Table::Liquidations => &[
            ("side", Kind::Utf8, false),
            ("price", Kind::Dec, false),
            ("avg_price", Kind::Dec, false),
            ("qty", Kind::Dec, false),
        ],
        Table::BookDepth => &[
            ("percentage", Kind::Dec, false),
            ("depth", Kind::Dec, false),
            ("notional", Kind::Dec, false),
        ],
    }
}

/// The Arrow schema of a table.
pub(crate) fn schema(table: Table) -> SchemaRef {
    let fields: Vec<Field> = COMMON
        .iter()
        .chain(specific(table))
        .map(|&(name, kind, nullable)| Field::new(name, kind.data_type(), nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Writer properties for a table: Snappy compression, and no min/max
/// statistics on decimal columns. (parquet 59 keeps per-value state for
/// statistics of fixed-length byte-array columns until the file is closed,
/// about 8 bytes a row, measured: memory would grow with the data. Time, id
/// and text columns keep their statistics, so time-range pruning still works.)
pub(crate) fn writer_properties(
    schema: &Schema,
) -> parquet::file::properties::WriterPropertiesBuilder {
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    let mut b = WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY);
    for f in schema.fields() {
        if matches!(f.data_type(), DataType::Decimal128(..)) {
            b = b.set_column_statistics_enabled(f.name().as_str().into(), EnabledStatistics::None);
        }
    }
    b
}

/// One column being built.
#[derive(Debug)]
pub(crate) enum Builder {
    Utf8(StringBuilder),
    I64(Int64Builder),
    U64(UInt64Builder),
    U32(UInt32Builder),
    Bool(BooleanBuilder),
    Ts(TimestampNanosecondBuilder),
    Dec(Decimal128Builder),
}

impl Builder {
    pub(crate) fn new(kind: Kind) -> Self {
        match kind {
            Kind::Utf8 => Self::Utf8(StringBuilder::new()),
            Kind::I64 => Self::I64(Int64Builder::new()),
            Kind::U64 => Self::U64(UInt64Builder::new()),
            Kind::U32 => Self::U32(UInt32Builder::new()),
            Kind::Bool => Self::Bool(BooleanBuilder::new()),
            Kind::Ts => Self::Ts(TimestampNanosecondBuilder::new().with_timezone("UTC")),
            Kind::Dec => Self::Dec(Decimal128Builder::new().with_data_type(Kind::Dec.data_type())),
        }
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::I64(b) => Arc::new(b.finish()),
            Self::U64(b) => Arc::new(b.finish()),
            Self::U32(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Ts(b) => Arc::new(b.finish()),
            Self::Dec(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows being collected for one Arrow batch. A value of the wrong type for its
/// column is not appended, so the batch fails to build with an error rather
/// than storing a wrong value.
#[derive(Debug)]
pub(crate) struct Rows {
    schema: SchemaRef,
    cols: Vec<Builder>,
    rows: usize,
}

impl Rows {
    pub(crate) fn new(schema: SchemaRef) -> Self {
        let cols = schema
            .fields()
            .iter()
            .map(|f| {
                Builder::new(match f.data_type() {
                    DataType::Utf8 => Kind::Utf8,
                    DataType::Int64 => Kind::I64,
                    DataType::UInt64 => Kind::U64,
                    DataType::UInt32 => Kind::U32,
                    DataType::Boolean => Kind::Bool,
                    DataType::Timestamp(..) => Kind::Ts,
                    _ => Kind::Dec,
                })
            })
            .collect();
        Self {
            schema,
            cols,
            rows: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Marks the end of a row.
    pub(crate) fn end_row(&mut self) {
        self.rows += 1;
    }

    pub(crate) fn utf8(&mut self, i: usize, v: Option<&str>) {
        if let Some(Builder::Utf8(b)) = self.cols.get_mut(i) {
            b.append_option(v);
        }
    }
    pub(crate) fn i64(&mut self, i: usize, v: Option<i64>) {
        if let Some(Builder::I64(b)) = self.cols.get_mut(i) {
            b.append_option(v);
        }
    }
    pub(crate) fn u64(&mut self, i: usize, v: Option<u64>) {
        if let Some(Builder::U64(b)) = self.cols.get_mut(i) {
            b.append_option(v);
        }
    }
    pub(crate) fn u32(&mut self, i: usize, v: Option<u32>) {
        if let Some(Builder::U32(b)) = self.cols.get_mut(i) {
            b.append_option(v);
        }
    }
    pub(crate) fn bool(&mut self, i: usize, v: Option<bool>) {
        if let Some(Builder::Bool(b)) = self.cols.get_mut(i) {
            b.append_option(v);
        }
    }
    pub(crate) fn ts(&mut self, i: usize, v: Option<i64>) {
        if let Some(Builder::Ts(b)) = self.cols.get_mut(i) {
            b.append_option(v);
        }
    }
    pub(crate) fn dec(&mut self, i: usize, v: Option<i128>) {
        if let Some(Builder::Dec(b)) = self.cols.get_mut(i) {
            b.append_option(v);
        }
    }

    /// The collected rows as a batch (the builders are reset).
    pub(crate) fn take(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "BID",
        Side::Sell => "ASK",
    }
}

/// Appends the rows of one record (`seq` is its position in the write).
pub(crate) fn append(rows: &mut Rows, rec: &Record, seq: u64) -> Result<(), CatalogError> {
    let times = rec.times();
    let instrument = rec.instrument().to_string();
    let common = |rows: &mut Rows| -> Result<(), CatalogError> {
        rows.utf8(0, Some(&instrument));
        rows.ts(1, Some(ts_i64(times.exchange)?));
        rows.ts(2, Some(ts_i64(times.local)?));
        rows.u64(3, Some(seq));
        Ok(())
    };
    let p = |v: veloz_core::Price| Some(i128::from(v.raw()));
    let q = |v: veloz_core::Quantity| Some(i128::from(v.raw()));
    match rec {
        Record::Event(MarketEvent::BookSnapshot(s)) => {
            let levels = s
                .bids
                .iter()
                .map(|l| (Side::Buy, l))
                .chain(s.asks.iter().map(|l| (Side::Sell, l)));
            book_rows(rows, common, true, None, s.last_update_id, None, levels)?;
        }
        Record::Event(MarketEvent::BookDeltas(d)) => {
            let levels = d.deltas.iter().map(|d| (d.side, &d.level));
            book_rows(
                rows,
                common,
                false,
                Some(d.first_update_id),
                d.last_update_id,
                d.prev_last_update_id,
                levels,
            )?;
        }
        Record::Event(MarketEvent::Quote(x)) => {
            common(rows)?;
            rows.u64(4, x.update_id);
            rows.dec(5, p(x.bid.price));
            rows.dec(6, q(x.bid.qty));
            rows.dec(7, p(x.ask.price));
            rows.dec(8, q(x.ask.qty));
            rows.end_row();
        }
        Record::Event(MarketEvent::Trade(t)) => trade_row(rows, common, t, None)?,
        Record::AggTrade(a) => trade_row(
            rows,
            common,
            &a.trade,
            Some((a.first_trade_id.0, a.last_trade_id.0)),
        )?,
        Record::Event(MarketEvent::Bar(b)) => {
            common(rows)?;
            rows.u32(4, Some(b.interval_secs));
            rows.ts(5, Some(ts_i64(b.open_time)?));
            rows.dec(6, p(b.open));
            rows.dec(7, p(b.high));
            rows.dec(8, p(b.low));
            rows.dec(9, p(b.close));
            rows.dec(10, q(b.volume));
            rows.bool(11, Some(b.closed));
            rows.end_row();
        }
        Record::Event(MarketEvent::MarkPrice(m)) => {
            common(rows)?;
            rows.dec(4, p(m.mark));
            rows.dec(5, m.index.and_then(p));
            rows.dec(6, m.funding_rate.and_then(p));
            rows.ts(7, m.next_funding_time.map(ts_i64).transpose()?);
            rows.end_row();
        }
        Record::Event(MarketEvent::Liquidation(l)) => {
            common(rows)?;
            rows.utf8(4, Some(l.side.as_str()));
            rows.dec(5, p(l.price));
            rows.dec(6, p(l.avg_price));
            rows.dec(7, q(l.qty));
            rows.end_row();
        }
        Record::Funding(f) => {
            common(rows)?;
            rows.dec(4, p(f.rate));
            rows.u32(5, f.interval_hours);
            rows.dec(6, f.mark.and_then(p));
            rows.end_row();
        }
        Record::BookDepth(d) => {
            common(rows)?;
            rows.dec(4, Some(d.percentage));
            rows.dec(5, Some(d.depth));
            rows.dec(6, Some(d.notional));
            rows.end_row();
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn book_rows<'a>(
    rows: &mut Rows,
    common: impl Fn(&mut Rows) -> Result<(), CatalogError>,
    is_snapshot: bool,
    first: Option<u64>,
    last: u64,
    prev: Option<u64>,
    levels: impl Iterator<Item = (Side, &'a Level)>,
) -> Result<(), CatalogError> {
    let mut any = false;
    let head = |rows: &mut Rows| -> Result<(), CatalogError> {
        common(rows)?;
        rows.bool(4, Some(is_snapshot));
        rows.u64(5, first);
        rows.u64(6, Some(last));
        rows.u64(7, prev);
        Ok(())
    };
    for (side, l) in levels {
        any = true;
        head(rows)?;
        rows.utf8(8, Some(side_str(side)));
        rows.dec(9, Some(i128::from(l.price.raw())));
        rows.dec(10, Some(i128::from(l.qty.raw())));
        rows.end_row();
    }
    if !any {
        // An event without levels is one row with null side, price and qty.
        head(rows)?;
        rows.utf8(8, None);
        rows.dec(9, None);
        rows.dec(10, None);
        rows.end_row();
    }
    Ok(())
}

fn trade_row(
    rows: &mut Rows,
    common: impl Fn(&mut Rows) -> Result<(), CatalogError>,
    t: &Trade,
    agg: Option<(u64, u64)>,
) -> Result<(), CatalogError> {
    common(rows)?;
    rows.u64(4, Some(t.trade_id.0));
    rows.dec(5, Some(i128::from(t.price.raw())));
    rows.dec(6, Some(i128::from(t.qty.raw())));
    rows.utf8(
        7,
        Some(match t.aggressor {
            AggressorSide::Buyer => "BUYER",
            AggressorSide::Seller => "SELLER",
        }),
    );
    rows.u64(8, agg.map(|a| a.0));
    rows.u64(9, agg.map(|a| a.1));
    rows.end_row();
    Ok(())
}

// ---------------------------------------------------------------- decoding

/// Typed access to one row of a batch; errors are reasons for
/// [`CatalogError::BadCatalog`].
pub(crate) struct RowView<'a> {
    pub batch: &'a RecordBatch,
    pub row: usize,
}

fn arr<T: 'static>(b: &RecordBatch, i: usize) -> Result<&T, String> {
    b.columns()
        .get(i)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| format!("column {i} is missing or has the wrong type"))
}

impl RowView<'_> {
    fn name(&self, i: usize) -> String {
        self.batch
            .schema()
            .fields()
            .get(i)
            .map_or_else(|| i.to_string(), |f| f.name().clone())
    }
    fn req<T>(&self, i: usize, v: Option<T>) -> Result<T, String> {
        v.ok_or_else(|| format!("column {} is null", self.name(i)))
    }
    pub(crate) fn str(&self, i: usize) -> Result<Option<&str>, String> {
        let a = arr::<StringArray>(self.batch, i)?;
        Ok((!a.is_null(self.row)).then(|| a.value(self.row)))
    }
    pub(crate) fn u64(&self, i: usize) -> Result<Option<u64>, String> {
        let a = arr::<UInt64Array>(self.batch, i)?;
        Ok((!a.is_null(self.row)).then(|| a.value(self.row)))
    }
    pub(crate) fn u32(&self, i: usize) -> Result<Option<u32>, String> {
        let a = arr::<UInt32Array>(self.batch, i)?;
        Ok((!a.is_null(self.row)).then(|| a.value(self.row)))
    }
    pub(crate) fn bool(&self, i: usize) -> Result<Option<bool>, String> {
        let a = arr::<BooleanArray>(self.batch, i)?;
        Ok((!a.is_null(self.row)).then(|| a.value(self.row)))
    }
    pub(crate) fn ts(&self, i: usize) -> Result<Option<UnixNanos>, String> {
        let a = arr::<TimestampNanosecondArray>(self.batch, i)?;
        if a.is_null(self.row) {
            return Ok(None);
        }
        u64::try_from(a.value(self.row))
            .map(|v| Some(UnixNanos(v)))
            .map_err(|_| format!("column {} holds a time before 1970", self.name(i)))
    }
    pub(crate) fn dec(&self, i: usize) -> Result<Option<i128>, String> {
        let a = arr::<Decimal128Array>(self.batch, i)?;
        Ok((!a.is_null(self.row)).then(|| a.value(self.row)))
    }
    fn price(&self, i: usize) -> Result<Option<veloz_core::Price>, String> {
        self.dec(i)?
            .map(|r| {
                price_from_raw(r).ok_or_else(|| format!("column {} is out of range", self.name(i)))
            })
            .transpose()
    }
    fn qty(&self, i: usize) -> Result<Option<veloz_core::Quantity>, String> {
        self.dec(i)?
            .map(|r| {
                qty_from_raw(r).ok_or_else(|| format!("column {} is out of range", self.name(i)))
            })
            .transpose()
    }
    pub(crate) fn req_u64(&self, i: usize) -> Result<u64, String> {
        let v = self.u64(i)?;
        self.req(i, v)
    }
    pub(crate) fn req_ts(&self, i: usize) -> Result<UnixNanos, String> {
        let v = self.ts(i)?;
        self.req(i, v)
    }
    fn req_price(&self, i: usize) -> Result<veloz_core::Price, String> {
        let v = self.price(i)?;
        self.req(i, v)
    }
    fn req_qty(&self, i: usize) -> Result<veloz_core::Quantity, String> {
        let v = self.qty(i)?;
        self.req(i, v)
    }
    fn req_dec(&self, i: usize) -> Result<i128, String> {
        let v = self.dec(i)?;
        self.req(i, v)
    }
    pub(crate) fn times(&self) -> Result<EventTimes, String> {
        Ok(EventTimes::new(self.req_ts(1)?, self.req_ts(2)?))
    }
    pub(crate) fn seq(&self) -> Result<u64, String> {
        self.req_u64(3)
    }

    /// Decodes a non-book row.
    pub(crate) fn record(&self, table: Table, instrument: InstrumentId) -> Result<Record, String> {
        let times = self.times()?;
        Ok(match table {
            Table::Book => return Err("book rows are decoded by group".into()),
            Table::Quotes => Record::Event(MarketEvent::Quote(Quote {
                instrument,
                bid: Level {
                    price: self.req_price(5)?,
                    qty: self.req_qty(6)?,
                },
                ask: Level {
                    price: self.req_price(7)?,
                    qty: self.req_qty(8)?,
                },
                update_id: self.u64(4)?,
                times,
            })),
            Table::Trades => {
                let aggressor = match self.str(7)? {
                    Some("BUYER") => AggressorSide::Buyer,
                    Some("SELLER") => AggressorSide::Seller,
                    other => return Err(format!("aggressor {other:?} is not BUYER or SELLER")),
                };
                let trade = Trade {
                    instrument,
                    trade_id: TradeId(self.req_u64(4)?),
                    price: self.req_price(5)?,
                    qty: self.req_qty(6)?,
                    aggressor,
                    times,
                };
                match (self.u64(8)?, self.u64(9)?) {
                    (Some(f), Some(l)) => Record::AggTrade(AggTrade {
                        trade,
                        first_trade_id: TradeId(f),
                        last_trade_id: TradeId(l),
                    }),
                    _ => Record::Event(MarketEvent::Trade(trade)),
                }
            }
            Table::Bars => Record::Event(MarketEvent::Bar(Bar {
                instrument,
                interval_secs: {
                    let v = self.u32(4)?;
                    self.req(4, v)?
                },
                open_time: self.req_ts(5)?,
                open: self.req_price(6)?,
                high: self.req_price(7)?,
                low: self.req_price(8)?,
                close: self.req_price(9)?,
                volume: self.req_qty(10)?,
                closed: {
                    let v = self.bool(11)?;
                    self.req(11, v)?
                },
                times,
            })),
            Table::MarkPrice => Record::Event(MarketEvent::MarkPrice(MarkPrice {
                instrument,
                mark: self.req_price(4)?,
                index: self.price(5)?,
                funding_rate: self.price(6)?,
                next_funding_time: self.ts(7)?,
                times,
            })),
            Table::Liquidations => Record::Event(MarketEvent::Liquidation(Liquidation {
                instrument,
                side: match self.str(4)? {
                    Some("BUY") => Side::Buy,
                    Some("SELL") => Side::Sell,
                    other => return Err(format!("side {other:?} is not BUY or SELL")),
                },
                price: self.req_price(5)?,
                avg_price: self.req_price(6)?,
                qty: self.req_qty(7)?,
                times,
            })),
            Table::Funding => Record::Funding(Funding {
                instrument,
                rate: self.req_price(4)?,
                interval_hours: self.u32(5)?,
                mark: self.price(6)?,
                times,
            }),
            Table::BookDepth => Record::BookDepth(BookDepth {
                instrument,
                percentage: self.req_dec(4)?,
                depth: self.req_dec(5)?,
                notional: self.req_dec(6)?,
                times,
            }),
        })
    }

    /// The head of a book event (snapshot flag, update ids) from its first row.
    pub(crate) fn book_event(&self, instrument: InstrumentId) -> Result<MarketEvent, String> {
        let times = self.times()?;
        let is_snapshot = {
            let v = self.bool(4)?;
            self.req(4, v)?
        };
        let last = self.req_u64(6)?;
        Ok(if is_snapshot {
            MarketEvent::BookSnapshot(BookSnapshot {
                instrument,
                last_update_id: last,
                bids: Vec::new(),
                asks: Vec::new(),
                times,
            })
        } else {
            MarketEvent::BookDeltas(BookDeltas {
                instrument,
                first_update_id: self.req_u64(5)?,
                last_update_id: last,
                prev_last_update_id: self.u64(7)?,
                deltas: DeltaList::new(),
                times,
            })
        })
    }

    /// Adds this row's level (if any) to a book event.
    pub(crate) fn add_level(&self, ev: &mut MarketEvent) -> Result<(), String> {
        let side = match self.str(8)? {
            None => return Ok(()),
            Some("BID") => Side::Buy,
            Some("ASK") => Side::Sell,
            Some(other) => return Err(format!("side {other:?} is not BID or ASK")),
        };
        let level = Level {
            price: self.req_price(9)?,
            qty: self.req_qty(10)?,
        };
        match ev {
            MarketEvent::BookSnapshot(s) => match side {
                Side::Buy => s.bids.push(level),
                Side::Sell => s.asks.push(level),
            },
            MarketEvent::BookDeltas(d) => d.deltas.push(BookDelta { side, level }),
            _ => return Err("not a book event".into()),
        }
        Ok(())
    }
}
