//! Verifying a recorded capture: `veloz data verify-book <capture.gz>...`.
//!
//! [`verify_capture`] replays one capture (several files are one continuous
//! capture, in order) through the stream parser and the [`BookSync`] procedure,
//! exactly as a live session would see it, and returns a [`VerifyReport`]: the
//! number of events of each kind, every snapshot bridge and whether it held,
//! every gap (file and line), the resyncs done and those that were needed but
//! impossible (no later snapshot in the capture), a cross-check of the book
//! against the `bookTicker` stream wherever the update ids allow (futures and
//! spot tickers carry the book update id `u`: when the book has applied exactly
//! that update, best bid and ask, price and quantity, must be equal), and the
//! final top of book.
//!
//! The report prints itself (`Display`); the command's exit status is
//! [`VerifyReport::is_ok`]: the capture is sound when every line parsed, every
//! snapshot bridged, no diff was missing, duplicated or out of order, the book
//! never crossed, the ticker cross-check found no difference, and every book
//! ended in sync.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use veloz_core::events::{BookDeltas, Level, Quote};
use veloz_core::{InstrumentId, MarketKind, UnixNanos};
use veloz_market::L2Book;

use super::book_sync::{
    BookSync, DeltaOutcome, DiffIds, Gap, SnapshotOutcome, SyncCounters, SyncRules, SyncState,
};
use super::capture::{CaptureError, CaptureReader};
use super::stream::{
    parse_depth_snapshot, unwrap_combined, FrameParser, StreamMessage, StreamSource, UnknownEvents,
};

/// What to verify and how.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The market of the capture; `None` infers it from the first `depthUpdate`
    /// (with `pu`: futures, COIN-M when the symbol is `<coin>USD_…`; without: spot).
    pub kind: Option<MarketKind>,
    /// At most this many problems are listed (all are counted).
    pub max_problems: usize,
    /// How many recent book tops and tickers are kept for the cross-check.
    pub ticker_window: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            kind: None,
            max_problems: 50,
            ticker_window: 200_000,
        }
    }
}

/// Why a capture could not be verified at all (as opposed to being broken).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No file was given.
    #[error("no capture file given: pass one or more capture files (several files are one capture, in order)")]
    NoFiles,
    /// A file could not be opened.
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

/// A place in the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One problem found, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A line that is not `<ns> <json>` or could not be read.
    BadLine {
        /// Where.
        at: Location,
        /// Why.
        reason: String,
    },
    /// A frame the parser refused.
    Unparsable {
        /// Where.
        at: Location,
        /// The parser's error.
        error: String,
    },
    /// A diff did not continue the book (missing, reordered) or did not bridge
    /// the snapshot.
    Gap {
        /// Where.
        at: Location,
        /// Instrument.
        instrument: InstrumentId,
        /// The break.
        gap: Gap,
    },
    /// A diff already covered by the book after the bridge (duplicated or late).
    Stale {
        /// Where.
        at: Location,
        /// Instrument.
        instrument: InstrumentId,
        /// The diff.
        ids: DiffIds,
        /// The book id it was not newer than.
        book_id: u64,
    },
    /// A snapshot older than the buffered diffs.
    SnapshotTooOld {
        /// Where.
        at: Location,
        /// Instrument.
        instrument: InstrumentId,
        /// Its id.
        snapshot_id: u64,
        /// The first buffered diff.
        first_buffered: DiffIds,
    },
    /// The sync refused an update outright.
    SyncError {
        /// Where.
        at: Location,
        /// The error.
        error: String,
    },
    /// The book was crossed (best bid >= best ask) while in sync.
    Crossed {
        /// Where.
        at: Location,
        /// Instrument.
        instrument: InstrumentId,
        /// Book update id.
        book_id: u64,
    },
    /// The book's top differed from a `bookTicker` with the same update id.
    TickerMismatch {
        /// Where (the later of the two lines).
        at: Location,
        /// Instrument.
        instrument: InstrumentId,
        /// The update id.
        update_id: u64,
        /// The ticker's bid and ask.
        ticker: (Level, Level),
        /// The book's best bid and ask.
        book: (Option<Level>, Option<Level>),
    },
    /// A snapshot line that could not be given to a book (no symbol in it and
    /// several instruments in the capture).
    SnapshotWithoutInstrument {
        /// Where.
        at: Location,
    },
    /// The capture has no diff-depth stream.
    NoDepth,
    /// A book was not in sync at the end of the capture.
    NotSyncedAtEnd {
        /// Instrument.
        instrument: InstrumentId,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLine { at, reason } => write!(f, "{at}: bad line: {reason}"),
            Self::Unparsable { at, error } => write!(f, "{at}: unparsable frame: {error}"),
            Self::Gap { at, instrument, gap } => {
                write!(f, "{at}: GAP in {instrument}: {gap}; book discarded")
            }
            Self::Stale {
                at,
                instrument,
                ids,
                book_id,
            } => write!(
                f,
                "{at}: {instrument}: diff ({ids}) is not newer than the book at update {book_id} (duplicated or out of order); ignored"
            ),
            Self::SnapshotTooOld {
                at,
                instrument,
                snapshot_id,
                first_buffered,
            } => write!(
                f,
                "{at}: {instrument}: snapshot {snapshot_id} is older than the first buffered diff ({first_buffered}); not used"
            ),
            Self::SyncError { at, error } => write!(f, "{at}: {error}"),
            Self::Crossed {
                at,
                instrument,
                book_id,
            } => write!(f, "{at}: {instrument}: book crossed at update {book_id}"),
            Self::TickerMismatch {
                at,
                instrument,
                update_id,
                ticker,
                book,
            } => write!(
                f,
                "{at}: {instrument}: bookTicker u={update_id} says {} x {} / {} x {}, the book says {} / {}",
                ticker.0.price,
                ticker.0.qty,
                ticker.1.price,
                ticker.1.qty,
                show_level(book.0),
                show_level(book.1)
            ),
            Self::SnapshotWithoutInstrument { at } => write!(
                f,
                "{at}: snapshot without a symbol in a capture of several instruments; cannot tell whose it is"
            ),
            Self::NoDepth => write!(f, "the capture has no depthUpdate stream: nothing to verify"),
            Self::NotSyncedAtEnd { instrument, reason } => {
                write!(f, "{instrument}: not in sync at the end of the capture: {reason}")
            }
        }
    }
}

fn show_level(l: Option<Level>) -> String {
    l.map_or_else(|| "(empty)".into(), |l| format!("{} x {}", l.price, l.qty))
}

/// A snapshot and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeReport {
    /// Where the snapshot line is.
    pub at: Location,
    /// Its `lastUpdateId`.
    pub snapshot_id: u64,
    /// The diff that bridged it, when one did.
    pub by: Option<DiffIds>,
    /// Did the bridge hold? `None` while still waiting for the next diff.
    pub held: Option<bool>,
}

/// Per-instrument results.
#[derive(Debug, Clone)]
pub struct InstrumentReport {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Rules used.
    pub rules: SyncRules,
    /// Sync totals.
    pub counters: SyncCounters,
    /// Every snapshot.
    pub bridges: Vec<BridgeReport>,
    /// Every gap and where.
    pub gaps: Vec<(Location, Gap)>,
    /// Gaps after which no later snapshot in the capture resynced the book.
    pub resyncs_impossible: u64,
    /// Book tops compared with a `bookTicker` of the same update id.
    pub ticker_checks: u64,
    /// Of which differed.
    pub ticker_mismatches: u64,
    /// Diffs after which the book was crossed.
    pub crossed: u64,
    /// State at the end.
    pub final_state: SyncState,
    /// Book update id at the end.
    pub final_book_id: u64,
    /// Best bid at the end.
    pub best_bid: Option<Level>,
    /// Best ask at the end.
    pub best_ask: Option<Level>,
    /// Number of bid and ask levels at the end.
    pub levels: (usize, usize),
}

/// Event counts over the whole capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Lines read.
    pub lines: u64,
    /// Diff-depth frames.
    pub depth: u64,
    /// Depth snapshots (REST lines and partial-depth frames).
    pub snapshots: u64,
    /// `bookTicker` frames.
    pub book_ticker: u64,
    /// `trade` and `aggTrade` frames.
    pub trades: u64,
    /// Other known frames (klines, mark price, control replies, ...).
    pub other: u64,
    /// Frames of unknown event types.
    pub unknown: u64,
    /// Lines that could not be read or parsed.
    pub bad: u64,
}

/// The result of [`verify_capture`].
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The files, in order.
    pub files: Vec<PathBuf>,
    /// The market the capture was read as.
    pub kind: Option<MarketKind>,
    /// Event counts.
    pub counts: EventCounts,
    /// Per instrument, in order of first appearance.
    pub instruments: Vec<InstrumentReport>,
    /// Problems found (at most `max_problems` listed).
    pub problems: Vec<Problem>,
    /// Problems found in total.
    pub problem_count: u64,
    /// Unknown event types and how often each came (not problems: the parser
    /// skips them).
    pub unknown_types: Vec<(String, u64)>,
}

impl VerifyReport {
    /// Is the capture sound? (The command exits non-zero when not.)
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0 && !self.instruments.is_empty()
    }

    /// Total gaps over all instruments.
    pub fn gaps(&self) -> u64 {
        self.instruments.iter().map(|i| i.counters.gaps).sum()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(
            f,
            "capture: {} file(s), {} lines, read as {}",
            self.files.len(),
            c.lines,
            self.kind.map_or("(unknown market)", MarketKind::as_str)
        )?;
        for file in &self.files {
            writeln!(f, "  {}", file.display())?;
        }
        writeln!(
            f,
            "events: {} depthUpdate, {} snapshot, {} bookTicker, {} trade, {} other, {} unknown type, {} bad",
            c.depth, c.snapshots, c.book_ticker, c.trades, c.other, c.unknown, c.bad
        )?;
        for (t, n) in &self.unknown_types {
            writeln!(f, "  unknown event type {t:?}: {n}")?;
        }
        for i in &self.instruments {
            let k = &i.counters;
            let rules = match i.rules {
                SyncRules::Spot => "spot rules: U == previous u + 1",
                SyncRules::Futures => "futures rules: pu == previous u",
            };
            writeln!(f, "{} ({rules})", i.instrument)?;
            writeln!(
                f,
                "  diffs {}: applied {}, buffered {}, older than a snapshot {}, stale {}",
                k.diffs, k.applied, k.buffered, k.skipped_before_snapshot, k.stale
            )?;
            writeln!(
                f,
                "  snapshots {}: bridged {}, too old {}",
                k.snapshots, k.bridges, k.snapshots_too_old
            )?;
            for b in &i.bridges {
                let held = match b.held {
                    Some(true) => "held",
                    Some(false) => "DID NOT HOLD",
                    None => "never tested (no diff after it)",
                };
                match &b.by {
                    Some(by) => writeln!(
                        f,
                        "  bridge at {}: snapshot {} bridged by {by}: {held}",
                        b.at, b.snapshot_id
                    )?,
                    None => writeln!(
                        f,
                        "  bridge at {}: snapshot {}: {held}",
                        b.at, b.snapshot_id
                    )?,
                }
            }
            writeln!(
                f,
                "  gaps {}, resyncs done {}, resyncs needed but impossible (no later snapshot) {}",
                k.gaps, k.resyncs, i.resyncs_impossible
            )?;
            for (at, g) in &i.gaps {
                writeln!(f, "    gap at {at}: {g}")?;
            }
            writeln!(
                f,
                "  bookTicker cross-check (same update id): {} compared, {} differed; book crossed {} time(s)",
                i.ticker_checks, i.ticker_mismatches, i.crossed
            )?;
            let state = match i.final_state {
                SyncState::Synced => "in sync",
                SyncState::AwaitingBridge => "snapshot not yet bridged",
                SyncState::WaitingForSnapshot => "NOT IN SYNC (waiting for a snapshot)",
            };
            writeln!(
                f,
                "  final book: {state}, update {}, {} bid / {} ask levels, best bid {}, best ask {}",
                i.final_book_id,
                i.levels.0,
                i.levels.1,
                show_level(i.best_bid),
                show_level(i.best_ask)
            )?;
        }
        if self.problem_count > 0 {
            writeln!(f, "problems: {}", self.problem_count)?;
            for p in &self.problems {
                writeln!(f, "  {p}")?;
            }
            let hidden = self.problem_count - self.problems.len() as u64;
            if hidden > 0 {
                writeln!(f, "  ... and {hidden} more")?;
            }
        }
        write!(
            f,
            "result: {}",
            if self.is_ok() {
                "OK"
            } else {
                "BROKEN (see the problems above)"
            }
        )
    }
}

/// Bounded map from update id to a value, forgetting the oldest ids.
#[derive(Debug)]
struct Recent<V> {
    map: HashMap<u64, V>,
    order: VecDeque<u64>,
    cap: usize,
}

impl<V> Recent<V> {
    fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    fn entry(&mut self, id: u64) -> &mut V
    where
        V: Default,
    {
        if !self.map.contains_key(&id) {
            if self.order.len() >= self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
            self.order.push_back(id);
        }
        self.map.entry(id).or_default()
    }

    fn take(&mut self, id: u64) -> Option<V> {
        self.map.remove(&id)
    }

    fn get(&self, id: u64) -> Option<&V> {
        self.map.get(&id)
    }
}

type Top = (Option<Level>, Option<Level>);

#[derive(Debug)]
struct Book {
    report: InstrumentReport,
    sync: BookSync,
    book: L2Book,
    /// Book tops by update id, while in sync.
    tops: Recent<Option<Top>>,
    /// Tickers not yet matched by a book update.
    tickers: Recent<Vec<(Level, Level)>>,
    /// Index in `report.bridges` of a snapshot awaiting its bridge.
    pending_bridge: Option<usize>,
}

impl Book {
    fn new(instrument: InstrumentId, window: usize) -> Self {
        let sync = BookSync::new(instrument);
        Self {
            report: InstrumentReport {
                instrument,
                rules: sync.rules(),
                counters: SyncCounters::default(),
                bridges: Vec::new(),
                gaps: Vec::new(),
                resyncs_impossible: 0,
                ticker_checks: 0,
                ticker_mismatches: 0,
                crossed: 0,
                final_state: SyncState::WaitingForSnapshot,
                final_book_id: 0,
                best_bid: None,
                best_ask: None,
                levels: (0, 0),
            },
            sync,
            book: L2Book::new(instrument),
            tops: Recent::new(window),
            tickers: Recent::new(window),
            pending_bridge: None,
        }
    }
}

struct Verifier {
    opts: VerifyOptions,
    src: Option<StreamSource>,
    books: Vec<Book>,
    index: HashMap<InstrumentId, usize>,
    counts: EventCounts,
    problems: Vec<Problem>,
    problem_count: u64,
    unknown: UnknownEvents,
}

impl Verifier {
    fn problem(&mut self, p: Problem) {
        self.problem_count += 1;
        if self.problems.len() < self.opts.max_problems {
            self.problems.push(p);
        }
    }

    fn book(&mut self, instrument: InstrumentId) -> usize {
        if let Some(&i) = self.index.get(&instrument) {
            return i;
        }
        self.books
            .push(Book::new(instrument, self.opts.ticker_window));
        self.index.insert(instrument, self.books.len() - 1);
        self.books.len() - 1
    }

    fn on_deltas(&mut self, at: &Location, d: BookDeltas) {
        let i = self.book(d.instrument);
        let instrument = d.instrument;
        let ids = DiffIds {
            first: d.first_update_id,
            last: d.last_update_id,
            prev: d.prev_last_update_id,
        };
        let b = &mut self.books[i];
        let book_id = b.sync.book_id();
        let outcome = b.sync.on_deltas(&mut b.book, d);
        let mut problems = Vec::new();
        match outcome {
            Err(e) => problems.push(Problem::SyncError {
                at: at.clone(),
                error: e.to_string(),
            }),
            Ok(DeltaOutcome::Gap(gap)) => {
                if gap.at_bridge {
                    if let Some(k) = b.pending_bridge.take() {
                        b.report.bridges[k].held = Some(false);
                    }
                }
                b.report.gaps.push((at.clone(), gap));
                problems.push(Problem::Gap {
                    at: at.clone(),
                    instrument,
                    gap,
                });
            }
            Ok(DeltaOutcome::Stale) => problems.push(Problem::Stale {
                at: at.clone(),
                instrument,
                ids,
                book_id,
            }),
            Ok(DeltaOutcome::Bridged(bridge)) => {
                if let Some(k) = b.pending_bridge.take() {
                    b.report.bridges[k].by = Some(bridge.by);
                    b.report.bridges[k].held = Some(true);
                }
                problems.extend(after_apply(b, at));
            }
            Ok(DeltaOutcome::Applied) => problems.extend(after_apply(b, at)),
            Ok(DeltaOutcome::Buffered | DeltaOutcome::SkippedBeforeSnapshot) => {}
        }
        for p in problems {
            self.problem(p);
        }
    }

    fn on_snapshot(&mut self, at: &Location, json: &str, local: UnixNanos) {
        #[derive(Deserialize)]
        struct Peek {
            symbol: Option<String>,
        }
        let Some(src) = self.src else {
            // Only reachable when no diff ever names the market: nothing to sync.
            return;
        };
        let symbol = serde_json::from_str::<Peek>(json)
            .ok()
            .and_then(|p| p.symbol);
        let instrument = match symbol {
            Some(s) => match InstrumentId::binance(src.kind, &s) {
                Ok(id) => id,
                Err(e) => {
                    return self.problem(Problem::Unparsable {
                        at: at.clone(),
                        error: format!("snapshot symbol: {e}"),
                    })
                }
            },
            None if self.books.len() == 1 => self.books[0].report.instrument,
            None => return self.problem(Problem::SnapshotWithoutInstrument { at: at.clone() }),
        };
        let snapshot = match parse_depth_snapshot(instrument, json, local) {
            Ok(s) => s,
            Err(e) => {
                return self.problem(Problem::Unparsable {
                    at: at.clone(),
                    error: e.to_string(),
                })
            }
        };
        let i = self.book(instrument);
        let b = &mut self.books[i];
        let snapshot_id = snapshot.last_update_id;
        let mut report = BridgeReport {
            at: at.clone(),
            snapshot_id,
            by: None,
            held: None,
        };
        let mut problems = Vec::new();
        match b.sync.on_snapshot(&mut b.book, &snapshot) {
            Err(e) => problems.push(Problem::SyncError {
                at: at.clone(),
                error: e.to_string(),
            }),
            Ok(SnapshotOutcome::Bridged { bridge, .. }) => {
                report.by = Some(bridge.by);
                report.held = Some(true);
                problems.extend(after_apply(b, at));
            }
            Ok(SnapshotOutcome::GapInBuffer { bridge, gap }) => {
                report.by = Some(bridge.by);
                report.held = Some(true);
                b.report.gaps.push((at.clone(), gap));
                problems.push(Problem::Gap {
                    at: at.clone(),
                    instrument,
                    gap,
                });
            }
            Ok(SnapshotOutcome::AwaitingBridge { .. }) => {
                b.pending_bridge = Some(b.report.bridges.len());
            }
            Ok(SnapshotOutcome::TooOld {
                snapshot_id,
                first_buffered,
            }) => {
                report.held = Some(false);
                problems.push(Problem::SnapshotTooOld {
                    at: at.clone(),
                    instrument,
                    snapshot_id,
                    first_buffered,
                });
            }
            Ok(SnapshotOutcome::Ignored { .. }) => report.held = None,
        }
        b.report.bridges.push(report);
        for p in problems {
            self.problem(p);
        }
    }

    fn on_ticker(&mut self, at: &Location, q: &Quote) {
        let Some(u) = q.update_id else { return };
        let Some(&i) = self.index.get(&q.instrument) else {
            return;
        };
        let b = &mut self.books[i];
        let ticker = (q.bid, q.ask);
        match b.tops.get(u) {
            Some(Some(top)) => {
                let top = *top;
                if let Some(p) = compare(b, at, u, ticker, top) {
                    self.problem(p);
                }
            }
            // The book skipped past `u` inside a diff, or was out of sync.
            Some(None) => {}
            None if u > b.sync.book_id() => b.tickers.entry(u).push(ticker),
            None => {}
        }
    }
}

/// Compares a ticker with the book's top at the same update id.
fn compare(
    b: &mut Book,
    at: &Location,
    u: u64,
    ticker: (Level, Level),
    top: Top,
) -> Option<Problem> {
    b.report.ticker_checks += 1;
    if top == (Some(ticker.0), Some(ticker.1)) {
        return None;
    }
    b.report.ticker_mismatches += 1;
    Some(Problem::TickerMismatch {
        at: at.clone(),
        instrument: b.report.instrument,
        update_id: u,
        ticker,
        book: top,
    })
}

/// Checks after the book applied diffs: crossed, and the ticker cross-check.
fn after_apply(b: &mut Book, at: &Location) -> Vec<Problem> {
    let mut out = Vec::new();
    if !b.sync.is_synced() {
        return out;
    }
    let id = b.sync.book_id();
    if b.book.is_crossed() {
        b.report.crossed += 1;
        out.push(Problem::Crossed {
            at: at.clone(),
            instrument: b.report.instrument,
            book_id: id,
        });
    }
    let top = (b.book.best_bid(), b.book.best_ask());
    *b.tops.entry(id) = Some(top);
    if let Some(waiting) = b.tickers.take(id) {
        for t in waiting {
            out.extend(compare(b, at, id, t, top));
        }
    }
    out
}

/// The market of a capture, from its first `depthUpdate`.
fn infer_kind(paths: &[PathBuf]) -> Result<Option<MarketKind>, VerifyError> {
    #[derive(Deserialize)]
    struct Peek {
        e: Option<String>,
        s: Option<String>,
        pu: Option<u64>,
    }
    let mut r = CaptureReader::open(paths)?;
    loop {
        let line = match r.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(None),
            Err(CaptureError::BadLine { .. }) => continue,
            Err(CaptureError::Io { .. }) => {
                r.skip_rest_of_file();
                continue;
            }
        };
        let Ok((_, data)) = unwrap_combined(line.json) else {
            continue;
        };
        let Ok(p) = serde_json::from_str::<Peek>(data) else {
            continue;
        };
        if p.e.as_deref() != Some("depthUpdate") {
            continue;
        }
        if p.pu.is_none() {
            return Ok(Some(MarketKind::Spot));
        }
        let symbol = p.s.unwrap_or_default();
        let pair = symbol.split('_').next().unwrap_or_default();
        return Ok(Some(if symbol.contains('_') && pair.ends_with("USD") {
            MarketKind::CoinM
        } else {
            MarketKind::UsdM
        }));
    }
}

fn location(r: &CaptureReader, next: bool) -> Location {
    let (file, line) = r.position();
    Location {
        file: file.to_path_buf(),
        line: line + u64::from(next),
    }
}

/// Replays a capture through the book-sync procedure and reports on it. See the
/// module docs. Fails only when a file cannot be opened; a broken capture is a
/// report with `is_ok() == false`.
pub fn verify_capture<P: AsRef<Path>>(
    paths: &[P],
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let files: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    if files.is_empty() {
        return Err(VerifyError::NoFiles);
    }
    let kind = match options.kind {
        Some(k) => Some(k),
        None => infer_kind(&files)?,
    };
    let mut v = Verifier {
        opts: options.clone(),
        src: kind.map(StreamSource::binance),
        books: Vec::new(),
        index: HashMap::new(),
        counts: EventCounts::default(),
        problems: Vec::new(),
        problem_count: 0,
        unknown: UnknownEvents::default(),
    };
    let mut r = CaptureReader::open(&files)?;
    // One parser for the whole capture, as for one connection.
    let mut parser = v.src.map(FrameParser::new);
    let mut consecutive_io_errors = 0;
    loop {
        let line = match r.next_line() {
            Ok(Some(l)) => {
                consecutive_io_errors = 0;
                l
            }
            Ok(None) => break,
            Err(e) => {
                let io = matches!(e, CaptureError::Io { .. });
                let at = location(&r, io);
                v.counts.bad += 1;
                v.problem(Problem::BadLine {
                    at,
                    reason: e.to_string(),
                });
                if io {
                    consecutive_io_errors += 1;
                    // Invalid UTF-8 costs one line; a corrupt file stops being read.
                    let utf8 = matches!(&e, CaptureError::Io { source, .. }
                        if source.kind() == std::io::ErrorKind::InvalidData);
                    if !utf8 || consecutive_io_errors > 10 {
                        r.skip_rest_of_file();
                    }
                }
                continue;
            }
        };
        v.counts.lines += 1;
        let (local, is_snapshot) = (line.local, line.is_snapshot());
        let json = line.json.to_string();
        let at = location(&r, false);
        if is_snapshot {
            v.counts.snapshots += 1;
            v.on_snapshot(&at, &json, local);
            continue;
        }
        let Some(parser) = parser.as_mut() else {
            v.counts.other += 1;
            continue;
        };
        match parser.parse(&json, local) {
            Ok(m) => v.on_message(&at, m),
            Err(e) => {
                v.counts.bad += 1;
                v.problem(Problem::Unparsable {
                    at,
                    error: e.to_string(),
                });
            }
        }
    }
    Ok(v.finish(files, kind))
}

impl Verifier {
    fn on_message(&mut self, at: &Location, m: StreamMessage) {
        match m {
            StreamMessage::Depth(d) => {
                self.counts.depth += 1;
                self.on_deltas(at, d);
            }
            StreamMessage::BookTicker(q) => {
                self.counts.book_ticker += 1;
                self.on_ticker(at, &q);
            }
            StreamMessage::Trade(_) | StreamMessage::AggTrade(_) => self.counts.trades += 1,
            StreamMessage::PartialDepth(_) => self.counts.snapshots += 1,
            StreamMessage::Unknown { event_type } => {
                self.counts.unknown += 1;
                self.unknown.record(&event_type);
            }
            StreamMessage::Batch(v) => {
                for m in v {
                    self.on_message(at, m);
                }
            }
            _ => self.counts.other += 1,
        }
    }

    fn finish(mut self, files: Vec<PathBuf>, kind: Option<MarketKind>) -> VerifyReport {
        if self.counts.depth == 0 {
            self.problem(Problem::NoDepth);
        }
        let mut late = Vec::new();
        for b in &mut self.books {
            let r = &mut b.report;
            r.counters = *b.sync.counters();
            r.final_state = b.sync.state();
            r.final_book_id = b.sync.book_id();
            r.best_bid = b.book.best_bid();
            r.best_ask = b.book.best_ask();
            r.levels = (
                b.book.len(veloz_core::Side::Buy),
                b.book.len(veloz_core::Side::Sell),
            );
            match r.final_state {
                SyncState::Synced => {}
                SyncState::AwaitingBridge => late.push(Problem::NotSyncedAtEnd {
                    instrument: r.instrument,
                    reason: "the last snapshot was never bridged (no diff after it)".into(),
                }),
                SyncState::WaitingForSnapshot => {
                    let reason = if r.counters.gaps > 0 {
                        r.resyncs_impossible = 1;
                        format!(
                            "resync needed after the gap at {} but the capture has no later snapshot",
                            r.gaps
                                .last()
                                .map_or_else(|| "?".into(), |(at, _)| at.to_string())
                        )
                    } else if r.counters.snapshots == 0 {
                        "the capture has no depth snapshot to start the book from".into()
                    } else {
                        "no snapshot bridged the diffs".into()
                    };
                    late.push(Problem::NotSyncedAtEnd {
                        instrument: r.instrument,
                        reason,
                    });
                }
            }
        }
        for p in late {
            self.problem(p);
        }
        VerifyReport {
            files,
            kind,
            counts: self.counts,
            instruments: self.books.into_iter().map(|b| b.report).collect(),
            problems: self.problems,
            problem_count: self.problem_count,
            unknown_types: self
                .unknown
                .counts()
                .map(|(t, n)| (t.to_string(), n))
                .collect(),
        }
    }
}
