//! The capture importer: Binance WebSocket captures (`<receive ns> <json frame>`
//! per line) read with veloz-exec's [`CaptureReader`] and parsed with its stream
//! parser, so the catalog sees exactly what a live VeloZ would have seen.
//!
//! `ts_local` is the capture's receive time; `ts_exchange` is the venue's time
//! as the parser reads it. REST depth snapshot lines carry no symbol on spot and
//! USD-M: they get the capture's instrument (from the options, the file name, or
//! the first stream frame).

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};

use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, MarketKind, Symbol, Venue};
use veloz_exec::binance::capture::{CaptureError, CaptureReader};
use veloz_exec::binance::stream::{
    parse_depth_snapshot, parse_frame, unwrap_combined, StreamMessage, StreamSource,
};

use super::{
    file_name, fixture_style_instrument, open_plain_or_gzip, LocalClock, SourceInfo, SourceOptions,
};
use crate::record::Record;
use crate::source::Layout;
use crate::CatalogError;

/// Does the file start like a capture line (`<digits> {`)?
pub(super) fn looks_like_capture(path: &Path) -> Result<bool, CatalogError> {
    let mut r = open_plain_or_gzip(path)?;
    let mut head = [0u8; 32];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            // Not our format (e.g. a broken gzip): let the CSV reader report it.
            Err(_) => return Ok(false),
        }
    }
    let head = &head[..n];
    let digits = head.iter().take_while(|b| b.is_ascii_digit()).count();
    Ok(digits >= 10 && head.get(digits) == Some(&b' ') && head.get(digits + 1) == Some(&b'{'))
}

fn capture_error(e: CaptureError) -> CatalogError {
    match e {
        CaptureError::Io { path, source } => CatalogError::Io { path, source },
        CaptureError::BadLine { path, line, reason } => CatalogError::BadRow {
            path,
            line,
            reason: reason.to_string(),
            hint: "each line must be `<receive time ns> <json frame>`; fix or remove the line",
        },
    }
}

/// The market and first stream symbol named inside a capture (first few
/// thousand lines): a `depthUpdate` with `pu` is futures, with a `_` in the
/// symbol COIN-M.
fn peek(path: &Path) -> Result<(Option<MarketKind>, Option<String>), CatalogError> {
    let mut r = CaptureReader::open(&[path]).map_err(capture_error)?;
    let (mut kind, mut symbol) = (None, None);
    for _ in 0..10_000 {
        let line = match r.next_line() {
            Ok(Some(l)) => l,
            Ok(None) | Err(_) => break,
        };
        let Ok((Some(stream), data)) = unwrap_combined(line.json) else {
            continue;
        };
        let sym = stream
            .split('@')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if symbol.is_none() && !sym.is_empty() {
            symbol = Some(sym.clone());
        }
        if data.contains("\"e\":\"depthUpdate\"") {
            kind = Some(if !data.contains("\"pu\":") {
                MarketKind::Spot
            } else if sym.contains('_') {
                MarketKind::CoinM
            } else {
                MarketKind::UsdM
            });
            break;
        }
    }
    Ok((kind, symbol))
}

/// Opens a capture file.
pub(super) fn open(
    path: &Path,
    opts: &SourceOptions,
) -> Result<(SourceInfo, CaptureSource), CatalogError> {
    let named = fixture_style_instrument(&file_name(path));
    let (peek_kind, peek_symbol) = if opts.instrument.is_some() {
        (None, None)
    } else {
        peek(path)?
    };
    let kind = opts
        .instrument
        .map(|i| i.kind)
        .or(opts.market)
        .or(named.map(|i| i.kind))
        .or(peek_kind)
        .ok_or_else(|| CatalogError::NoInstrument {
            path: path.to_path_buf(),
            reason: "the capture has no depthUpdate frame and its name does not start with spot_, usdm_ or cm_".into(),
        })?;
    let instrument = match (opts.instrument, named, peek_symbol) {
        (Some(i), _, _) => i,
        (None, Some(n), _) => InstrumentId::new(Venue::BINANCE, kind, n.symbol),
        (None, None, Some(s)) => {
            let symbol = Symbol::new(&s).map_err(|e| CatalogError::NoInstrument {
                path: path.to_path_buf(),
                reason: format!("bad stream symbol ({e})"),
            })?;
            InstrumentId::new(Venue::BINANCE, kind, symbol)
        }
        (None, None, None) => {
            return Err(CatalogError::NoInstrument {
                path: path.to_path_buf(),
                reason: "no stream frame names a symbol".into(),
            })
        }
    };
    let reader = CaptureReader::open(&[path]).map_err(capture_error)?;
    let info = SourceInfo {
        path: path.to_path_buf(),
        layout: Layout::Capture,
        instrument,
        local_clock: LocalClock::Received,
    };
    Ok((
        info,
        CaptureSource {
            reader,
            src: StreamSource::binance(kind),
            instrument,
            queue: VecDeque::new(),
            path: path.to_path_buf(),
            json: String::new(),
            done: false,
        },
    ))
}

/// Streams the records of one capture file.
pub(super) struct CaptureSource {
    reader: CaptureReader,
    src: StreamSource,
    instrument: InstrumentId,
    queue: VecDeque<Record>,
    path: PathBuf,
    json: String,
    done: bool,
}

fn push_message(queue: &mut VecDeque<Record>, m: StreamMessage) {
    match m {
        StreamMessage::Depth(d) => queue.push_back(Record::Event(MarketEvent::BookDeltas(d))),
        StreamMessage::PartialDepth(s) => {
            queue.push_back(Record::Event(MarketEvent::BookSnapshot(s)))
        }
        StreamMessage::BookTicker(q) => queue.push_back(Record::Event(MarketEvent::Quote(q))),
        StreamMessage::Trade(t) => queue.push_back(Record::Event(MarketEvent::Trade(t))),
        StreamMessage::AggTrade(a) => queue.push_back(Record::AggTrade(a)),
        StreamMessage::Bar(b) => queue.push_back(Record::Event(MarketEvent::Bar(b))),
        StreamMessage::MarkPrice(m) => queue.push_back(Record::Event(MarketEvent::MarkPrice(m))),
        StreamMessage::Liquidation(l) => {
            queue.push_back(Record::Event(MarketEvent::Liquidation(l)))
        }
        StreamMessage::Batch(v) => {
            for m in v {
                push_message(queue, m);
            }
        }
        StreamMessage::ServerShutdown { .. }
        | StreamMessage::Response { .. }
        | StreamMessage::Error { .. }
        | StreamMessage::Unknown { .. } => {}
    }
}

/// The `"symbol":"…"` of a COIN-M REST snapshot, if any.
fn snapshot_symbol(json: &str) -> Option<&str> {
    let at = json.find("\"symbol\":\"")? + "\"symbol\":\"".len();
    let rest = &json[at..];
    Some(&rest[..rest.find('"')?])
}

impl CaptureSource {
    fn step(&mut self) -> Result<bool, CatalogError> {
        let line = match self.reader.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(false),
            Err(e) => return Err(capture_error(e)),
        };
        let local = line.local;
        let is_snapshot = line.is_snapshot();
        self.json.clear();
        self.json.push_str(line.json);
        let json = self.json.as_str();
        let line_no = self.reader.position().1;
        let bad = |reason: String| {
            CatalogError::BadRow {
            path: self.path.clone(),
            line: line_no,
            reason,
            hint: "the frame is not a Binance market-data message veloz can parse; remove the line or report the frame",
        }
        };
        if is_snapshot {
            let instrument = match snapshot_symbol(json) {
                Some(s) => InstrumentId::binance(self.src.kind, s)
                    .map_err(|e| bad(format!("bad snapshot symbol: {e}")))?,
                None => self.instrument,
            };
            let s =
                parse_depth_snapshot(instrument, json, local).map_err(|e| bad(e.to_string()))?;
            self.queue
                .push_back(Record::Event(MarketEvent::BookSnapshot(s)));
        } else {
            let m = parse_frame(&self.src, json, local).map_err(|e| bad(e.to_string()))?;
            push_message(&mut self.queue, m);
        }
        Ok(true)
    }
}

impl Iterator for CaptureSource {
    type Item = Result<Record, CatalogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
