//! CSV importers: the market fixture layouts and data.binance.vision files.
//!
//! The layout is told by the header row when there is one, else by the
//! data.binance.vision file name (`SYMBOL-1m-DATE`, `SYMBOL-aggTrades-DATE`, …),
//! else by the number of columns (12: klines, 8: spot aggTrades).

use std::path::{Path, PathBuf};

use veloz_core::events::{Bar, EventTimes, MarkPrice, MarketEvent, Trade};
use veloz_core::{AggressorSide, InstrumentId, MarketKind, Symbol, TradeId, UnixNanos, Venue};
use veloz_exec::binance::stream::AggTrade;

use super::{
    file_name, fixture_style_instrument, market_from_path, name_tokens, open_plain_or_gzip, Lines,
    LocalClock, SourceInfo, SourceOptions,
};
use crate::record::{BookDepth, Funding, Record};
use crate::util::{boolean, dec_raw, epoch_field, interval_secs, parse_datetime, price, qty, uint};
use crate::CatalogError;

/// The input layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A Binance WebSocket capture.
    Capture,
    /// `open_time,open,high,low,close,volume` bars (USD-M fixtures).
    Bars,
    /// `open,high,low,close,volume,quote_volume,trades,close_datetime` bars (spot fixtures).
    BarsCloseDatetime,
    /// `open_time,open,high,low,close` mark-price klines (the open is the mark).
    MarkPriceKlines,
    /// `fundingTime,fundingRate[,markPrice]` funding history.
    Funding,
    /// data.binance.vision klines (12 columns).
    VisionKlines,
    /// data.binance.vision markPriceKlines (12 columns; the open is the mark).
    VisionMarkPriceKlines,
    /// data.binance.vision aggTrades.
    VisionAggTrades,
    /// data.binance.vision trades.
    VisionTrades,
    /// data.binance.vision fundingRate.
    VisionFunding,
    /// data.binance.vision bookDepth.
    VisionBookDepth,
}

impl Layout {
    /// A short name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Capture => "binance capture",
            Self::Bars => "bars csv",
            Self::BarsCloseDatetime => "bars csv (close_datetime)",
            Self::MarkPriceKlines => "mark-price klines csv",
            Self::Funding => "funding csv",
            Self::VisionKlines => "data.binance.vision klines",
            Self::VisionMarkPriceKlines => "data.binance.vision markPriceKlines",
            Self::VisionAggTrades => "data.binance.vision aggTrades",
            Self::VisionTrades => "data.binance.vision trades",
            Self::VisionFunding => "data.binance.vision fundingRate",
            Self::VisionBookDepth => "data.binance.vision bookDepth",
        }
    }

    /// How many columns a data row must have at least.
    const fn min_columns(self) -> usize {
        match self {
            Self::Capture => 0,
            Self::Bars => 6,
            Self::BarsCloseDatetime => 8,
            Self::MarkPriceKlines => 5,
            Self::Funding => 2,
            Self::VisionKlines | Self::VisionMarkPriceKlines => 7,
            Self::VisionAggTrades => 7,
            Self::VisionTrades => 6,
            Self::VisionFunding => 3,
            Self::VisionBookDepth => 4,
        }
    }

    /// The expected columns, for error messages.
    const fn columns(self) -> &'static str {
        match self {
            Self::Capture => "<receive ns> <json frame>",
            Self::Bars => "open_time,open,high,low,close,volume",
            Self::BarsCloseDatetime => "open,high,low,close,volume,quote_volume,trades,close_datetime",
            Self::MarkPriceKlines => "open_time,open,high,low,close",
            Self::Funding => "fundingTime,fundingRate[,markPrice]",
            Self::VisionKlines | Self::VisionMarkPriceKlines => "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore",
            Self::VisionAggTrades => "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker[,is_best_match]",
            Self::VisionTrades => "id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]",
            Self::VisionFunding => "calc_time,funding_interval_hours,last_funding_rate",
            Self::VisionBookDepth => "timestamp,percentage,depth,notional",
        }
    }
}

fn layout_of_header(header: &str, path: &Path) -> Option<Layout> {
    let h: String = header
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .collect();
    let vision_mark = path
        .iter()
        .any(|c| c.to_string_lossy().eq_ignore_ascii_case("markPriceKlines"));
    Some(match h.as_str() {
        "open_time,open,high,low,close,volume" => Layout::Bars,
        "open_time,open,high,low,close" => Layout::MarkPriceKlines,
        "open,high,low,close,volume,quote_volume,trades,close_datetime" => {
            Layout::BarsCloseDatetime
        }
        "fundingtime,fundingrate" | "fundingtime,fundingrate,markprice" => Layout::Funding,
        "calc_time,funding_interval_hours,last_funding_rate" => Layout::VisionFunding,
        "timestamp,percentage,depth,notional" => Layout::VisionBookDepth,
        _ if h.starts_with("open_time,open,high,low,close,volume,close_time,") => {
            if vision_mark {
                Layout::VisionMarkPriceKlines
            } else {
                Layout::VisionKlines
            }
        }
        _ if h.starts_with(
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker",
        ) =>
        {
            Layout::VisionAggTrades
        }
        _ if h.starts_with("id,price,qty,quote_qty,time,is_buyer_maker") => Layout::VisionTrades,
        _ => return None,
    })
}

/// The layout of a header-less data.binance.vision file, from its name
/// (`BTCUSDT-1m-…`, `BTCUSDT-aggTrades-…`) or its number of columns.
fn layout_of_vision_name(name: &str, path: &Path, columns: usize) -> Option<Layout> {
    let kind = name.split('-').nth(1).unwrap_or_default();
    let vision_mark = path
        .iter()
        .any(|c| c.to_string_lossy().eq_ignore_ascii_case("markPriceKlines"));
    let klines = if vision_mark {
        Layout::VisionMarkPriceKlines
    } else {
        Layout::VisionKlines
    };
    match kind {
        "aggTrades" => Some(Layout::VisionAggTrades),
        "trades" => Some(Layout::VisionTrades),
        "fundingRate" => Some(Layout::VisionFunding),
        "bookDepth" => Some(Layout::VisionBookDepth),
        k if interval_secs(k).is_some() && columns >= 7 => Some(klines),
        _ => match columns {
            12 => Some(klines),
            8 => Some(Layout::VisionAggTrades),
            _ => None,
        },
    }
}

/// The instrument of a CSV source.
fn instrument_of(
    path: &Path,
    inner_name: &str,
    has_header: bool,
    opts: &SourceOptions,
) -> Result<InstrumentId, CatalogError> {
    if let Some(i) = opts.instrument {
        return Ok(i);
    }
    let outer = file_name(path);
    if let Some(mut i) = fixture_style_instrument(&outer) {
        if let Some(k) = opts.market {
            i.kind = k;
        }
        return Ok(i);
    }
    // data.binance.vision: `BTCUSDT-1m-2020-01-01.csv`.
    let symbol_text = inner_name.split('-').next().unwrap_or_default();
    let symbol = Symbol::new(symbol_text).map_err(|e| CatalogError::NoInstrument {
        path: path.to_path_buf(),
        reason: format!("the file name does not start with a symbol ({e})"),
    })?;
    let kind = opts.market.or_else(|| market_from_path(path)).unwrap_or({
        // Futures files have a header row, spot files do not; COIN-M symbols
        // carry a contract suffix (`BTCUSD_PERP`, `BTCUSD_240927`).
        if !has_header {
            MarketKind::Spot
        } else if symbol_text.contains('_') {
            MarketKind::CoinM
        } else {
            MarketKind::UsdM
        }
    });
    Ok(InstrumentId::new(Venue::BINANCE, kind, symbol))
}

/// Opens a CSV source (plain, gzip'd, or the first entry of a zip archive).
pub(super) fn open(
    path: &Path,
    is_zip: bool,
    opts: &SourceOptions,
) -> Result<(SourceInfo, CsvSource), CatalogError> {
    let (reader, inner_name) = if is_zip {
        let e = crate::zip::open_first_entry(path)?;
        (e.reader, e.name)
    } else {
        (open_plain_or_gzip(path)?, file_name(path))
    };
    let mut lines = Lines::new(path, reader);
    let Some((first, first_no)) = lines.next_line()? else {
        return Err(CatalogError::UnknownLayout {
            path: path.to_path_buf(),
            reason: "the file is empty".into(),
        });
    };
    let first = first.to_string();
    let has_header = first
        .trim_start_matches('"')
        .starts_with(|c: char| c.is_ascii_alphabetic());
    let columns = first.split(',').count();
    let layout = if has_header {
        layout_of_header(&first, path)
    } else {
        layout_of_vision_name(&inner_name, path, columns)
    };
    let Some(layout) = layout else {
        let shown: String = first.chars().take(120).collect();
        return Err(CatalogError::UnknownLayout {
            path: path.to_path_buf(),
            reason: if has_header {
                format!("header {shown:?}")
            } else {
                format!("no header; first row {shown:?} ({columns} columns) and the name {inner_name:?} match no layout")
            },
        });
    };
    let instrument = instrument_of(path, &inner_name, has_header, opts)?;
    let interval = match layout {
        Layout::Bars | Layout::BarsCloseDatetime | Layout::VisionKlines => opts
            .interval_secs
            .or_else(|| bar_interval_from_names(&file_name(path), &inner_name)),
        _ => None,
    };
    if interval.is_none() && matches!(layout, Layout::Bars | Layout::BarsCloseDatetime) {
        return Err(CatalogError::UnknownLayout {
            path: path.to_path_buf(),
            reason: "a bar file whose name gives no interval (like `_1m_` or `-15m-`); pass the interval (`--interval 1m`, or `SourceOptions::interval_secs`)".into(),
        });
    }
    let info = SourceInfo {
        path: path.to_path_buf(),
        layout,
        instrument,
        local_clock: LocalClock::Exchange,
    };
    let pending = if has_header {
        None
    } else {
        Some((first, first_no))
    };
    let funding_mark_column = layout == Layout::Funding && columns >= 3;
    Ok((
        info,
        CsvSource {
            lines,
            ctx: Ctx {
                path: path.to_path_buf(),
                layout,
                instrument,
                interval,
                funding_mark_column,
            },
            pending,
            done: false,
        },
    ))
}

fn bar_interval_from_names(outer: &str, inner: &str) -> Option<u32> {
    // data.binance.vision: the second `-` token of the entry name.
    if let Some(s) = inner.split('-').nth(1).and_then(interval_secs) {
        return Some(s);
    }
    name_tokens(outer).iter().find_map(|t| interval_secs(t))
}

/// Streams the rows of one CSV file as records.
pub(super) struct CsvSource {
    lines: Lines,
    ctx: Ctx,
    pending: Option<(String, u64)>,
    done: bool,
}

/// What parsing a row needs to know.
struct Ctx {
    path: PathBuf,
    layout: Layout,
    instrument: InstrumentId,
    interval: Option<u32>,
    funding_mark_column: bool,
}

const MAX_COLUMNS: usize = 16;

impl Ctx {
    fn bad(&self, line: u64, reason: String) -> CatalogError {
        CatalogError::BadRow {
            path: self.path.clone(),
            line,
            reason: format!("{reason} (expected columns {})", self.layout.columns()),
            hint: "fix or remove the line, or check that the file is the layout named",
        }
    }

    fn times(t: UnixNanos) -> EventTimes {
        EventTimes::new(t, t)
    }

    /// A closed bar from its open, high, low, close and volume columns
    /// (`ohlcv`, in that order), stamped at its close.
    fn bar(
        &self,
        interval_secs: u32,
        open_time: UnixNanos,
        ohlcv: &[&str],
        close: UnixNanos,
    ) -> Result<Record, String> {
        Ok(Record::Event(MarketEvent::Bar(Bar {
            instrument: self.instrument,
            interval_secs,
            open_time,
            open: price(ohlcv[0])?,
            high: price(ohlcv[1])?,
            low: price(ohlcv[2])?,
            close: price(ohlcv[3])?,
            volume: qty(ohlcv[4])?,
            closed: true,
            times: Self::times(close),
        })))
    }

    fn parse(&self, f: &[&str]) -> Result<Record, String> {
        let instrument = self.instrument;
        Ok(match self.layout {
            Layout::Capture => return Err("not a CSV layout".into()),
            Layout::Bars => {
                let interval = self.interval.unwrap_or(60);
                let open_time = epoch_field(f[0])?;
                let close = open_time
                    .add_nanos(u64::from(interval) * 1_000_000_000)
                    .as_nanos()
                    .saturating_sub(1_000_000);
                self.bar(interval, open_time, &f[1..6], UnixNanos(close))?
            }
            Layout::BarsCloseDatetime => {
                let interval = self.interval.unwrap_or(60);
                let close = parse_datetime(f[7])?;
                let open_time = (close.as_nanos().saturating_add(1_000_000))
                    .checked_sub(u64::from(interval) * 1_000_000_000)
                    .ok_or("close time before the epoch")?;
                self.bar(interval, UnixNanos(open_time), &f[0..5], close)?
            }
            Layout::VisionKlines => {
                let open_time = epoch_field(f[0])?;
                let close = epoch_field(f[6])?;
                let interval = match self.interval {
                    Some(i) => i,
                    None => {
                        let span = close
                            .checked_duration_since(open_time)
                            .ok_or("close_time is before open_time")?;
                        u32::try_from(span.div_ceil(1_000_000_000))
                            .map_err(|_| "bar longer than u32 seconds")?
                    }
                };
                self.bar(interval, open_time, &f[1..6], close)?
            }
            Layout::MarkPriceKlines | Layout::VisionMarkPriceKlines => {
                let t = epoch_field(f[0])?;
                Record::Event(MarketEvent::MarkPrice(MarkPrice {
                    instrument,
                    mark: price(f[1])?,
                    index: None,
                    funding_rate: None,
                    next_funding_time: None,
                    times: Self::times(t),
                }))
            }
            Layout::Funding => {
                let t = epoch_field(f[0])?;
                let mark = if self.funding_mark_column && f.len() > 2 && !f[2].trim().is_empty() {
                    Some(price(f[2])?)
                } else {
                    None
                };
                Record::Funding(Funding {
                    instrument,
                    rate: price(f[1])?,
                    interval_hours: None,
                    mark,
                    times: Self::times(t),
                })
            }
            Layout::VisionFunding => {
                let t = epoch_field(f[0])?;
                let hours = u32::try_from(uint(f[1])?).map_err(|_| "funding interval too large")?;
                Record::Funding(Funding {
                    instrument,
                    rate: price(f[2])?,
                    interval_hours: Some(hours),
                    mark: None,
                    times: Self::times(t),
                })
            }
            Layout::VisionAggTrades => {
                let t = epoch_field(f[5])?;
                Record::AggTrade(AggTrade {
                    trade: Trade {
                        instrument,
                        trade_id: TradeId(uint(f[0])?),
                        price: price(f[1])?,
                        qty: qty(f[2])?,
                        aggressor: aggressor(boolean(f[6])?),
                        times: Self::times(t),
                    },
                    first_trade_id: TradeId(uint(f[3])?),
                    last_trade_id: TradeId(uint(f[4])?),
                })
            }
            Layout::VisionTrades => {
                let t = epoch_field(f[4])?;
                Record::Event(MarketEvent::Trade(Trade {
                    instrument,
                    trade_id: TradeId(uint(f[0])?),
                    price: price(f[1])?,
                    qty: qty(f[2])?,
                    aggressor: aggressor(boolean(f[5])?),
                    times: Self::times(t),
                }))
            }
            Layout::VisionBookDepth => {
                let ts = f[0].trim();
                let t = if ts.bytes().all(|b| b.is_ascii_digit()) {
                    epoch_field(ts)?
                } else {
                    parse_datetime(ts)?
                };
                Record::BookDepth(BookDepth {
                    instrument,
                    percentage: dec_raw(f[1])?,
                    depth: dec_raw(f[2])?,
                    notional: dec_raw(f[3])?,
                    times: Self::times(t),
                })
            }
        })
    }

    fn parse_line(&self, line: &str, no: u64) -> Result<Record, CatalogError> {
        let mut cols = [""; MAX_COLUMNS];
        let mut n = 0;
        for c in line.split(',') {
            if n == MAX_COLUMNS {
                return Err(self.bad(no, format!("more than {MAX_COLUMNS} columns")));
            }
            cols[n] = c;
            n += 1;
        }
        let need = self.layout.min_columns();
        if n < need {
            return Err(self.bad(no, format!("{n} columns, at least {need} needed")));
        }
        self.parse(&cols[..n])
            .map_err(|reason| self.bad(no, reason))
    }
}

/// Binance `is_buyer_maker`: the seller took liquidity when the buyer was maker.
fn aggressor(is_buyer_maker: bool) -> AggressorSide {
    if is_buyer_maker {
        AggressorSide::Seller
    } else {
        AggressorSide::Buyer
    }
}

impl Iterator for CsvSource {
    type Item = Result<Record, CatalogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = if let Some((line, no)) = self.pending.take() {
            self.ctx.parse_line(&line, no)
        } else {
            match self.lines.next_line() {
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => Err(e),
                Ok(Some((line, no))) => self.ctx.parse_line(line, no),
            }
        };
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}
