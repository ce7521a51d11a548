//! Importers: [`open_source`] opens one input file, tells its layout and
//! instrument, and streams its rows as [`Record`]s in the file's (time) order.
//!
//! Supported inputs (see `docs/DATA.md` for the exact column layouts):
//!
//! * Binance WebSocket captures (`<receive ns> <json frame>` per line, optionally
//!   gzip'd; hftbacktest's collector format), parsed with veloz-exec's stream
//!   parser: book snapshots and deltas, quotes, trades, bars, mark prices;
//! * the bar, mark-price-kline and funding CSVs of `shared/fixtures/binance/market`
//!   (`.csv` or `.csv.gz`);
//! * data.binance.vision files (`.zip`, `.csv` or `.csv.gz`): klines,
//!   markPriceKlines, aggTrades, trades, fundingRate and bookDepth, with a header
//!   row (futures) or without (spot); timestamps in s, ms, µs or ns are told
//!   apart by magnitude (spot files use µs from 2025-01-01).
//!
//! Every reader streams: one line in memory at a time (plus the decompressor's
//! window), whatever the length of the file.

mod capture;
mod csv;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, MarketKind, Symbol};

use crate::record::Record;
use crate::CatalogError;

pub use csv::Layout;

/// How to read an input file. Everything is optional: what is left out is
/// inferred from the file's name and content.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// The instrument of every row (overrides what the name or content says).
    pub instrument: Option<InstrumentId>,
    /// The market, for files whose name and path do not say (data.binance.vision
    /// file names have no market; their folders `spot`, `um`, `cm` do).
    pub market: Option<MarketKind>,
    /// The bar length in seconds, for bar files whose name does not say.
    pub interval_secs: Option<u32>,
}

/// What the `ts_local` column of rows from a source means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalClock {
    /// The time the row was received (captures).
    Received,
    /// The source has no receive time: `ts_local` is a copy of `ts_exchange`.
    Exchange,
}

impl LocalClock {
    /// `received` or `exchange`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Exchange => "exchange",
        }
    }
}

/// What [`open_source`] found out about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The input file.
    pub path: PathBuf,
    /// Its layout.
    pub layout: Layout,
    /// The instrument of its rows (for captures: the default instrument for REST
    /// snapshots, which carry no symbol; stream frames name their own).
    pub instrument: InstrumentId,
    /// What `ts_local` means for its rows.
    pub local_clock: LocalClock,
}

/// A streaming reader over one input file: an iterator of records in file order.
/// After the first error it yields nothing more.
pub struct Source {
    info: SourceInfo,
    inner: Box<dyn Iterator<Item = Result<Record, CatalogError>> + Send>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("info", &self.info).finish()
    }
}

impl Source {
    /// What the file is.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// The market events only (see [`Record::into_market_event`]): aggregated
    /// trades become trades; funding rows with a mark become mark-price events;
    /// funding rows without a mark and bookDepth rows are dropped (import them
    /// into a [`crate::Catalog`], whose reader joins funding with mark prices).
    pub fn events(self) -> impl Iterator<Item = Result<MarketEvent, CatalogError>> + Send {
        self.filter_map(|r| match r {
            Ok(rec) => rec.into_market_event().map(Ok),
            Err(e) => Some(Err(e)),
        })
    }
}

impl Iterator for Source {
    type Item = Result<Record, CatalogError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

/// Opens an input file, detecting its layout and instrument (see the module docs).
///
/// Errors name the file: unknown layouts list the supported ones; an instrument
/// that cannot be inferred asks for [`SourceOptions::instrument`].
pub fn open_source(path: &Path, opts: &SourceOptions) -> Result<Source, CatalogError> {
    let meta = std::fs::metadata(path).map_err(|e| CatalogError::io(path, e))?;
    if meta.is_dir() {
        return Err(CatalogError::UnknownLayout {
            path: path.to_path_buf(),
            reason: "it is a folder; pass the files in it".into(),
        });
    }
    let is_zip = has_magic(path, b"PK\x03\x04")?;
    if !is_zip && capture::looks_like_capture(path)? {
        let (info, it) = capture::open(path, opts)?;
        return Ok(Source {
            info,
            inner: Box::new(it),
        });
    }
    let (info, it) = csv::open(path, is_zip, opts)?;
    Ok(Source {
        info,
        inner: Box::new(it),
    })
}

fn has_magic(path: &Path, magic: &[u8]) -> Result<bool, CatalogError> {
    let mut f = File::open(path).map_err(|e| CatalogError::io(path, e))?;
    let mut buf = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        let k = f
            .read(&mut buf[n..magic.len()])
            .map_err(|e| CatalogError::io(path, e))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n == magic.len() && &buf[..n] == magic)
}

/// A file's bytes, gunzipped if they are gzip'd.
fn open_plain_or_gzip(path: &Path) -> Result<Box<dyn Read + Send>, CatalogError> {
    let gz = has_magic(path, &[0x1f, 0x8b])?;
    let f = File::open(path).map_err(|e| CatalogError::io(path, e))?;
    Ok(if gz {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f)))
    } else {
        Box::new(f)
    })
}

/// Reads lines one at a time into a reused buffer.
pub(crate) struct Lines {
    reader: BufReader<Box<dyn Read + Send>>,
    buf: String,
    line: u64,
    path: PathBuf,
}

impl Lines {
    fn new(path: &Path, reader: Box<dyn Read + Send>) -> Self {
        Self {
            reader: BufReader::with_capacity(1 << 16, reader),
            buf: String::with_capacity(256),
            line: 0,
            path: path.to_path_buf(),
        }
    }

    /// The next non-blank line without its line ending, and its 1-based number.
    fn next_line(&mut self) -> Result<Option<(&str, u64)>, CatalogError> {
        let (start, end) = loop {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    CatalogError::BadRow {
                        path: self.path.clone(),
                        line: self.line + 1,
                        reason: format!("unreadable text ({e})"),
                        hint: "the file must be UTF-8 text; check that it is not truncated or corrupt",
                    }
                } else {
                    CatalogError::io(&self.path, e)
                }
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let end = self.buf.trim_end_matches(['\r', '\n']).len();
            let start = if self.line == 1 && self.buf.starts_with('\u{feff}') {
                '\u{feff}'.len_utf8()
            } else {
                0
            };
            if start <= end && !self.buf[start..end].trim().is_empty() {
                break (start, end);
            }
        };
        Ok(Some((&self.buf[start..end], self.line)))
    }
}

/// Lower-case name tokens of a path's file name (split on `_`, `-`, `.`).
fn name_tokens(name: &str) -> Vec<String> {
    name.split(['_', '-', '.'])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The market named by a token: `spot`, `usdm`/`um`, `coinm`/`cm`.
fn market_token(t: &str) -> Option<MarketKind> {
    match t {
        "spot" => Some(MarketKind::Spot),
        "usdm" | "um" => Some(MarketKind::UsdM),
        "coinm" | "cm" => Some(MarketKind::CoinM),
        _ => None,
    }
}

/// `spot_btcusdt_…`, `usdm_btcusdt_…`, `cm_btcusd_perp_…`: the fixture naming
/// convention (market, then the lower-case symbol, then the rest).
fn fixture_style_instrument(file_name: &str) -> Option<InstrumentId> {
    let mut parts = file_name.split('_');
    let kind = market_token(&parts.next()?.to_ascii_lowercase())?;
    let mut symbol = String::new();
    for p in parts {
        let p = p.split('.').next().unwrap_or_default();
        let lower = p.to_ascii_lowercase();
        let stop = p.is_empty()
            || p.bytes().all(|b| b.is_ascii_digit())
            || crate::util::interval_secs(&lower).is_some()
            || matches!(
                lower.as_str(),
                "funding" | "markprice" | "mark" | "trades" | "klines"
            );
        if stop {
            break;
        }
        if !symbol.is_empty() {
            symbol.push('_');
        }
        symbol.push_str(&lower.to_ascii_uppercase());
    }
    let symbol = Symbol::new(&symbol).ok()?;
    Some(InstrumentId::new(veloz_core::Venue::BINANCE, kind, symbol))
}

/// The market named by any folder of the path (data.binance.vision keeps
/// `…/spot/…`, `…/futures/um/…`, `…/futures/cm/…`; the fixtures have `…_spot_…`).
fn market_from_path(path: &Path) -> Option<MarketKind> {
    let mut found = None;
    for comp in path.iter().rev().skip(1) {
        let comp = comp.to_string_lossy();
        for t in name_tokens(&comp) {
            if let Some(k) = market_token(&t) {
                found = Some(k);
            }
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_names_give_instruments() {
        let id = |s: &str| fixture_style_instrument(s).map(|i| i.to_string());
        assert_eq!(
            id("usdm_btcusdt_1m_20250504_20250603.csv.gz").as_deref(),
            Some("BINANCE.USDM.BTCUSDT")
        );
        assert_eq!(
            id("cm_btcusd_perp_20240808.gz").as_deref(),
            Some("BINANCE.COINM.BTCUSD_PERP")
        );
        assert_eq!(
            id("usdm_ethusdt_funding_20250306_20250615.csv.gz").as_deref(),
            Some("BINANCE.USDM.ETHUSDT")
        );
        assert_eq!(
            id("spot_btcusdt_15m_2024.csv.gz").as_deref(),
            Some("BINANCE.SPOT.BTCUSDT")
        );
        assert_eq!(id("BTCUSDT-1m-2020-01-01.zip"), None);
        assert_eq!(
            market_from_path(Path::new(
                "/x/data/futures/um/daily/klines/BTCUSDT/1m/a.zip"
            )),
            Some(MarketKind::UsdM)
        );
        assert_eq!(
            market_from_path(Path::new("/x/binance_vision_spot_daily_klines_1m/a.zip")),
            Some(MarketKind::Spot)
        );
    }
}
