//! Market data: one combined-stream WebSocket per product, parsed into
//! normalised market events for the kernel, and one local L2 book per
//! instrument kept in sync with the diff-depth stream.
//!
//! The transport ([`MarketStream`]) answers pings, reconnects with backoff
//! and jitter, and resubscribes. This task adds what trading needs on top:
//! the 24-hour rotation (Binance closes a connection after 24 hours; the
//! feed reconnects on its own schedule a little before), a reconnect on
//! `serverShutdown`, connection events for the risk engine and the
//! status line, the feed-lag histogram, and the books. A frame that cannot
//! be parsed is counted and reported, never fatal.
//!
//! # Books
//!
//! When the stream list has a diff-depth stream ([`is_diff_depth`]:
//! `depth`, `depth@100ms`, ...; the partial `depth5`/`depth20` streams are
//! not used) and the spec has a REST client, every instrument gets a
//! `veloz_exec::binance::book_sync::BookSync` (the official
//! buffer / snapshot / bridge procedure, spot and futures rules, gap
//! detection). Depth snapshots (`GET depth`, [`SNAPSHOT_LIMIT`] levels) are
//! fetched in tasks of their own, at most one per instrument at a time, so a
//! fetch never holds up the stream; a fetch starts once the connection has
//! delivered a diff of the instrument (the buffer is not empty), as Binance
//! prescribes. A failed fetch is retried after a backoff (1 s doubling to
//! 30 s, or longer when the venue says `Retry-After`), a snapshot too old to
//! bridge the buffer after 100 ms; both wait for the next frame.
//!
//! What the kernel receives for an instrument, exactly:
//!
//! * after each (re)sync, one `BookSnapshot` of the synced book: the REST
//!   snapshot with every buffered diff that bridged it applied, its
//!   `last_update_id` the `u` of the last diff applied;
//! * then every diff the sync applies, as `BookDeltas`, in order.
//!
//! So the kernel's book equals the sync's book after every event. Diffs that
//! are buffered, older than the snapshot, or stale (duplicates, late
//! messages) never reach the kernel.
//!
//! When the book is lost (a gap in the update ids, a disconnect or
//! reconnect, an update the book refuses), the kernel receives an **empty**
//! `BookSnapshot` with `last_update_id` 0: `L2Book::apply_snapshot` accepts
//! it and clears the kernel's book, so a strategy reading `Context::book`
//! sees an empty book rather than a stale one, and best bid/ask
//! (`MarketState::best_bid_ask`) fall back to the last `bookTicker` quote
//! until the fresh snapshot arrives. Each lost book is one
//! `LiveMetrics::resyncs` and one audit record; the first sync of a session
//! is not a resync.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use veloz_core::events::{BookDeltas, BookSnapshot, EventTimes, MarketEvent};
use veloz_core::{InstrumentId, MarketKind, Side, UnixNanos};
use veloz_exec::binance::book_sync::{BookSync, DeltaOutcome, SnapshotOutcome, SyncState};
use veloz_exec::binance::error::RetryClass;
use veloz_exec::binance::rest::futures::FuturesApi;
use veloz_exec::binance::rest::{spot, RestRequest};
use veloz_exec::binance::stream::{parse_depth_snapshot, FrameParser, StreamMessage, StreamSource};
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;
use veloz_exec::binance::transport::market::{MarketStream, MarketStreamConfig, StreamEvent};
use veloz_market::L2Book;

use crate::inbound::Inbound;
use crate::metrics::LiveMetrics;

/// A connection is replaced after this long (Binance's limit is 24 hours).
pub const ROTATE_AFTER: Duration = Duration::from_secs(23 * 3600 + 50 * 60);

/// Levels asked for in each REST depth snapshot (a limit valid on spot and
/// on futures).
pub const SNAPSHOT_LIMIT: u16 = 1000;

/// First wait after a failed snapshot fetch (doubles up to [`FETCH_BACKOFF_MAX`]).
const FETCH_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between failed snapshot fetches.
const FETCH_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Wait before fetching again after a snapshot too old to bridge the buffer.
const TOO_OLD_WAIT: Duration = Duration::from_millis(100);

/// What one product's feed subscribes to.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    /// The product.
    pub kind: MarketKind,
    /// WebSocket base URL.
    pub ws_base: String,
    /// Instruments of this product.
    pub instruments: Vec<InstrumentId>,
    /// Stream suffixes per instrument (`bookTicker`, `aggTrade`,
    /// `depth@100ms`, `markPrice@1s`, ...).
    pub streams: Vec<String>,
    /// Seed of the reconnect jitter.
    pub seed: u64,
    /// REST client for depth snapshots. Books are kept only with a client
    /// and a diff-depth stream in `streams`.
    pub rest: Option<Arc<RestClient>>,
    /// TLS settings for `wss://` (default: the bundled Mozilla roots).
    pub tls: Option<veloz_exec::binance::transport::tls::TlsConfig>,
}

impl FeedSpec {
    /// The stream names (`btcusdt@bookTicker`, ...).
    pub fn stream_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        for i in &self.instruments {
            let sym = i.symbol.as_str().to_ascii_lowercase();
            for s in &self.streams {
                if s.starts_with("markPrice") && self.kind == MarketKind::Spot {
                    continue;
                }
                v.push(format!("{sym}@{s}"));
            }
        }
        v
    }

    /// Whether `streams` has a diff-depth stream.
    pub fn has_depth_stream(&self) -> bool {
        self.streams.iter().any(|s| is_diff_depth(s))
    }
}

/// Is the stream suffix a diff-depth stream (`depth`, `depth@100ms`,
/// `depth@0ms`, ...)? The partial book streams (`depth5`, `depth20@100ms`)
/// are not.
pub fn is_diff_depth(suffix: &str) -> bool {
    suffix == "depth" || suffix.starts_with("depth@")
}

fn events_of(m: StreamMessage, out: &mut Vec<MarketEvent>, shutdown: &mut bool) {
    match m {
        StreamMessage::BookTicker(q) => out.push(MarketEvent::Quote(q)),
        StreamMessage::Trade(t) => out.push(MarketEvent::Trade(t)),
        StreamMessage::AggTrade(a) => out.push(MarketEvent::Trade(a.trade)),
        StreamMessage::MarkPrice(p) => out.push(MarketEvent::MarkPrice(p)),
        StreamMessage::Bar(b) => out.push(MarketEvent::Bar(b)),
        // Diffs go through the book sync before anything reaches the kernel.
        StreamMessage::Depth(d) => out.push(MarketEvent::BookDeltas(d)),
        StreamMessage::ServerShutdown { .. } => *shutdown = true,
        StreamMessage::Batch(v) => {
            for m in v {
                events_of(m, out, shutdown);
            }
        }
        // Partial books carry no update chain to sync; the rest is not
        // market state.
        StreamMessage::PartialDepth(_)
        | StreamMessage::Liquidation(_)
        | StreamMessage::Response { .. }
        | StreamMessage::Error { .. }
        | StreamMessage::Unknown { .. } => {}
    }
}

fn exchange_time(ev: &MarketEvent) -> Option<UnixNanos> {
    match ev {
        MarketEvent::Quote(q) => Some(q.times.exchange),
        MarketEvent::Trade(t) => Some(t.times.exchange),
        MarketEvent::MarkPrice(m) => Some(m.times.exchange),
        MarketEvent::BookDeltas(d) => Some(d.times.exchange),
        _ => None,
    }
}

// ------------------------------------------------------------------ books

/// One instrument's book sync and what the kernel holds of it.
#[derive(Debug)]
struct InstBook {
    sync: BookSync,
    book: L2Book,
    depth: RestRequest,
    /// The kernel holds a copy of `book`: it got the snapshot of the last
    /// sync and every diff applied since.
    in_kernel: bool,
    /// Bumped when the book is reset: a snapshot fetched before is dropped.
    epoch: u64,
    /// A fetch of this epoch is running.
    fetching: bool,
    /// No fetch before this instant.
    not_before: Option<Instant>,
    /// Failed fetches in a row.
    failures: u32,
}

impl InstBook {
    /// Hands the synced book to the kernel as one snapshot.
    fn publish(&mut self, out: &mut BookOut) {
        out.events.push(MarketEvent::BookSnapshot(BookSnapshot {
            instrument: self.sync.instrument(),
            last_update_id: self.book.last_update_id(),
            bids: self.book.levels(Side::Buy).collect(),
            asks: self.book.levels(Side::Sell).collect(),
            times: self.book.times(),
        }));
        self.in_kernel = true;
    }

    /// Empties the kernel's copy, if it has one.
    fn withdraw(&mut self, now: UnixNanos, out: &mut BookOut) {
        if self.in_kernel {
            out.events.push(MarketEvent::BookSnapshot(BookSnapshot {
                instrument: self.sync.instrument(),
                last_update_id: 0,
                bids: Vec::new(),
                asks: Vec::new(),
                times: EventTimes::new(now, now),
            }));
            self.in_kernel = false;
        }
    }

    /// Keeps the kernel's copy only while the sync is in sync.
    fn settle(&mut self, now: UnixNanos, out: &mut BookOut) {
        if !self.sync.is_synced() {
            self.withdraw(now, out);
        }
    }
}

/// What the book keeping produced.
#[derive(Debug, Default)]
struct BookOut {
    /// Events for the kernel, in order.
    events: Vec<MarketEvent>,
    /// Audit records.
    audits: Vec<String>,
    /// Books lost and to be rebuilt.
    resyncs: u64,
}

/// A snapshot fetch for the caller to run.
#[derive(Debug, Clone)]
struct Fetch {
    instrument: InstrumentId,
    epoch: u64,
    request: RestRequest,
}

/// Why a fetch brought no snapshot, and how long the venue asked to wait.
#[derive(Debug, Clone)]
struct FetchFailed {
    reason: String,
    retry_after: Option<Duration>,
}

/// The books of one feed. No I/O: [`Books::due`] says which snapshots to
/// fetch, [`Books::on_snapshot`] takes the answers.
#[derive(Debug)]
struct Books {
    map: BTreeMap<InstrumentId, InstBook>,
}

impl Books {
    fn new(instruments: &[InstrumentId]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for &id in instruments {
            let depth = match FuturesApi::for_kind(id.kind) {
                Some(api) => api.depth(&id.symbol, Some(SNAPSHOT_LIMIT)),
                None => spot::depth(&id.symbol, Some(SNAPSHOT_LIMIT)),
            }
            .map_err(|e| format!("cannot build the depth request of {id}: {e}"))?;
            map.insert(
                id,
                InstBook {
                    sync: BookSync::new(id),
                    book: L2Book::new(id),
                    depth,
                    in_kernel: false,
                    epoch: 0,
                    fetching: false,
                    not_before: None,
                    failures: 0,
                },
            );
        }
        Ok(Self { map })
    }

    /// One diff from the stream.
    fn on_diff(&mut self, d: BookDeltas, now: UnixNanos, out: &mut BookOut) {
        let id = d.instrument;
        let Some(b) = self.map.get_mut(&id) else {
            return;
        };
        // Only a synced book applies a diff as it is; keep it for the kernel.
        let copy = (b.sync.is_synced() && b.in_kernel).then(|| d.clone());
        match b.sync.on_deltas(&mut b.book, d) {
            Ok(DeltaOutcome::Applied) => match copy {
                Some(d) => out.events.push(MarketEvent::BookDeltas(d)),
                None => b.publish(out),
            },
            Ok(DeltaOutcome::Bridged(_)) => b.publish(out),
            Ok(
                DeltaOutcome::Buffered | DeltaOutcome::SkippedBeforeSnapshot | DeltaOutcome::Stale,
            ) => {}
            Ok(DeltaOutcome::Gap(g)) => {
                out.resyncs += 1;
                out.audits
                    .push(format!("{id} book: {g}; fetching a new snapshot"));
            }
            Err(e) => {
                let had = b.sync.state() != SyncState::WaitingForSnapshot || b.in_kernel;
                b.sync.reset(&mut b.book);
                b.epoch += 1;
                b.fetching = false;
                if had {
                    out.resyncs += 1;
                }
                out.audits.push(format!("{id} book: {e}"));
            }
        }
        b.settle(now, out);
    }

    /// The answer of a fetch from [`Books::due`].
    fn on_snapshot(
        &mut self,
        instrument: InstrumentId,
        epoch: u64,
        answer: Result<BookSnapshot, FetchFailed>,
        at: Instant,
        now: UnixNanos,
        out: &mut BookOut,
    ) {
        let Some(b) = self.map.get_mut(&instrument) else {
            return;
        };
        if epoch != b.epoch {
            // Fetched for a book reset since; its fetch flag went with it.
            return;
        }
        b.fetching = false;
        let snap = match answer {
            Ok(s) => s,
            Err(f) => {
                b.failures = b.failures.saturating_add(1);
                let backoff = FETCH_BACKOFF
                    .saturating_mul(1u32 << (b.failures - 1).min(5))
                    .min(FETCH_BACKOFF_MAX);
                let wait = f.retry_after.map_or(backoff, |r| r.max(backoff));
                b.not_before = Some(at + wait);
                out.audits.push(format!(
                    "{instrument} book: the depth snapshot failed: {}; retrying in {wait:?}",
                    f.reason
                ));
                return;
            }
        };
        match b.sync.on_snapshot(&mut b.book, &snap) {
            Ok(SnapshotOutcome::Bridged { .. }) => {
                b.failures = 0;
                b.publish(out);
            }
            Ok(SnapshotOutcome::AwaitingBridge { .. }) => b.failures = 0,
            Ok(SnapshotOutcome::TooOld { .. }) => b.not_before = Some(at + TOO_OLD_WAIT),
            Ok(SnapshotOutcome::Ignored { .. }) => {}
            Ok(SnapshotOutcome::GapInBuffer { gap, .. }) => {
                out.resyncs += 1;
                out.audits
                    .push(format!("{instrument} book: {gap}; fetching a new snapshot"));
            }
            Err(e) => {
                b.sync.reset(&mut b.book);
                b.epoch += 1;
                b.failures = b.failures.saturating_add(1);
                b.not_before = Some(at + FETCH_BACKOFF);
                out.audits.push(format!(
                    "{instrument} book: snapshot {} refused: {e}",
                    snap.last_update_id
                ));
            }
        }
        b.settle(now, out);
    }

    /// A fetch task ended without an answer (it panicked).
    fn on_fetch_lost(&mut self, instrument: InstrumentId, epoch: u64, at: Instant) {
        if let Some(b) = self.map.get_mut(&instrument) {
            if b.epoch == epoch {
                b.fetching = false;
                b.not_before = Some(at + FETCH_BACKOFF);
            }
        }
    }

    /// The connection dropped or was replaced: frames may have been missed,
    /// every book starts again.
    fn on_connection_lost(&mut self, now: UnixNanos, out: &mut BookOut) {
        for (id, b) in &mut self.map {
            let had = b.sync.state() != SyncState::WaitingForSnapshot || b.in_kernel;
            b.sync.reset(&mut b.book);
            b.epoch += 1;
            b.fetching = false;
            b.withdraw(now, out);
            if had {
                out.resyncs += 1;
                out.audits
                    .push(format!("{id} book: connection lost; resyncing"));
            }
        }
    }

    /// Snapshots to fetch now (each marked as running).
    fn due(&mut self, at: Instant) -> Vec<Fetch> {
        let mut v = Vec::new();
        for (id, b) in &mut self.map {
            if b.sync.needs_snapshot()
                && b.sync.buffered() > 0
                && !b.fetching
                && b.not_before.is_none_or(|t| at >= t)
            {
                b.fetching = true;
                v.push(Fetch {
                    instrument: *id,
                    epoch: b.epoch,
                    request: b.depth.clone(),
                });
            }
        }
        v
    }
}

/// A fetch task's result.
type Fetched = (InstrumentId, u64, Result<BookSnapshot, FetchFailed>);

async fn fetch(rest: Arc<RestClient>, f: Fetch) -> Fetched {
    let answer = match rest.send(&f.request).await {
        Ok(a) => {
            let local = local_now();
            match std::str::from_utf8(&a.body) {
                Ok(body) => {
                    parse_depth_snapshot(f.instrument, body, local).map_err(|e| FetchFailed {
                        reason: e.to_string(),
                        retry_after: None,
                    })
                }
                Err(_) => Err(FetchFailed {
                    reason: "the depth snapshot is not UTF-8".into(),
                    retry_after: None,
                }),
            }
        }
        Err(e) => {
            let retry_after = match e.retry_class() {
                RetryClass::RetryAfter { after, .. } => after,
                _ => None,
            };
            Err(FetchFailed {
                reason: e.to_string(),
                retry_after,
            })
        }
    };
    (f.instrument, f.epoch, answer)
}

/// The books with their REST client and running fetches.
struct BookFeed {
    books: Books,
    rest: Arc<RestClient>,
    tasks: JoinSet<Fetched>,
    running: HashMap<tokio::task::Id, (InstrumentId, u64)>,
}

impl BookFeed {
    fn start_due(&mut self) {
        for f in self.books.due(Instant::now()) {
            let key = (f.instrument, f.epoch);
            let h = self.tasks.spawn(fetch(self.rest.clone(), f));
            self.running.insert(h.id(), key);
        }
    }
}

/// What the loop waited for.
enum Next {
    Stream(Result<StreamEvent, veloz_exec::binance::transport::TransportError>),
    Snapshot(Result<(tokio::task::Id, Fetched), tokio::task::JoinError>),
}

/// Sends what the books produced; `false` when the engine is gone.
async fn send_books(
    out: &mpsc::Sender<Inbound>,
    metrics: &Mutex<LiveMetrics>,
    o: BookOut,
    received: UnixNanos,
) -> bool {
    if let Ok(mut m) = metrics.lock() {
        m.resyncs += o.resyncs;
        m.market_events += o.events.len() as u64;
    }
    for a in o.audits {
        if out.send(Inbound::Audit(a)).await.is_err() {
            return false;
        }
    }
    for event in o.events {
        if out.send(Inbound::Market { event, received }).await.is_err() {
            return false;
        }
    }
    true
}

/// Runs one product's feed until `out` closes.
pub async fn run(spec: FeedSpec, out: mpsc::Sender<Inbound>, metrics: Arc<Mutex<LiveMetrics>>) {
    let names = spec.stream_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut mcfg = MarketStreamConfig::new(&spec.ws_base, &refs, spec.seed);
    if let Some(t) = &spec.tls {
        mcfg = mcfg.with_tls(t.clone());
    }
    let mut market = MarketStream::new(mcfg);
    let mut parser = FrameParser::new(StreamSource::binance(spec.kind));
    let what = format!("{:?} market stream", spec.kind);
    let mut books = match (&spec.rest, spec.has_depth_stream()) {
        (Some(rest), true) => match Books::new(&spec.instruments) {
            Ok(books) => Some(BookFeed {
                books,
                rest: rest.clone(),
                tasks: JoinSet::new(),
                running: HashMap::new(),
            }),
            Err(e) => {
                let _ = out
                    .send(Inbound::Audit(format!("{what}: {e}; no L2 books")))
                    .await;
                None
            }
        },
        (None, true) => {
            let _ = out
                .send(Inbound::Audit(format!(
                    "{what}: depth streams subscribed without a REST client for snapshots; no L2 books"
                )))
                .await;
            None
        }
        (_, false) => None,
    };
    let mut connected_at = std::time::Instant::now();
    let mut bad_frames = 0u64;
    let mut buf = Vec::new();
    loop {
        if market.is_connected() && connected_at.elapsed() >= ROTATE_AFTER {
            market.disconnect().await;
        }
        // Snapshot answers are taken between frames while connected (never
        // while connecting: that would restart the reconnect backoff).
        let next = match books.as_mut() {
            Some(bf) if market.is_connected() && !bf.tasks.is_empty() => {
                tokio::select! {
                    biased;
                    Some(r) = bf.tasks.join_next_with_id() => Next::Snapshot(r),
                    e = market.next_event() => Next::Stream(e),
                }
            }
            _ => Next::Stream(market.next_event().await),
        };
        let ev = match next {
            Next::Snapshot(r) => {
                let Some(bf) = books.as_mut() else {
                    continue;
                };
                let mut o = BookOut::default();
                let now = local_now();
                match r {
                    Ok((tid, (id, epoch, answer))) => {
                        bf.running.remove(&tid);
                        bf.books
                            .on_snapshot(id, epoch, answer, Instant::now(), now, &mut o);
                    }
                    Err(e) => {
                        if let Some((id, epoch)) = bf.running.remove(&e.id()) {
                            bf.books.on_fetch_lost(id, epoch, Instant::now());
                            o.audits
                                .push(format!("{id} book: the snapshot fetch failed: {e}"));
                        }
                    }
                }
                bf.start_due();
                if !send_books(&out, &metrics, o, now).await {
                    return;
                }
                continue;
            }
            Next::Stream(Ok(e)) => e,
            Next::Stream(Err(e)) => {
                if out
                    .send(Inbound::Audit(format!("{what}: {e}; retrying")))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let lost = matches!(
            ev,
            StreamEvent::Disconnected { .. } | StreamEvent::Connected { connection: 2.. }
        );
        if lost {
            if let Some(bf) = books.as_mut() {
                let mut o = BookOut::default();
                bf.books.on_connection_lost(local_now(), &mut o);
                if !send_books(&out, &metrics, o, local_now()).await {
                    return;
                }
            }
        }
        let msg = match ev {
            StreamEvent::Connected { connection } => {
                connected_at = std::time::Instant::now();
                if connection > 1 {
                    if let Ok(mut m) = metrics.lock() {
                        m.reconnects += 1;
                    }
                }
                Inbound::Link {
                    what: what.clone(),
                    up: true,
                }
            }
            StreamEvent::Disconnected { reason } => {
                let _ = out
                    .send(Inbound::Audit(format!("{what} disconnected: {reason}")))
                    .await;
                Inbound::Link {
                    what: what.clone(),
                    up: false,
                }
            }
            StreamEvent::Frame(f) => {
                let m = match parser.parse(&f.text, f.local) {
                    Ok(m) => m,
                    Err(e) => {
                        bad_frames += 1;
                        if bad_frames <= 10 || bad_frames.is_power_of_two() {
                            let _ = out
                                .send(Inbound::Audit(format!(
                                    "{what}: unreadable frame #{bad_frames}: {e}"
                                )))
                                .await;
                        }
                        continue;
                    }
                };
                let mut shutdown = false;
                events_of(m, &mut buf, &mut shutdown);
                if shutdown {
                    market.disconnect().await;
                }
                let mut o = BookOut::default();
                for ev in buf.drain(..) {
                    match (ev, books.as_mut()) {
                        (MarketEvent::BookDeltas(d), Some(bf)) => {
                            bf.books.on_diff(d, f.local, &mut o);
                        }
                        // Without books, diffs are not market state.
                        (MarketEvent::BookDeltas(_), None) => {}
                        (ev, _) => o.events.push(ev),
                    }
                }
                if let Some(bf) = books.as_mut() {
                    bf.start_due();
                }
                let now = local_now();
                if let Ok(mut m) = metrics.lock() {
                    for ev in &o.events {
                        if let Some(x) = exchange_time(ev) {
                            m.feed_lag.record(now.0.saturating_sub(x.0));
                        }
                    }
                }
                if !send_books(&out, &metrics, o, f.local).await {
                    return;
                }
                continue;
            }
        };
        if out.send(msg).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::events::{BookDelta, Level};
    use veloz_core::{Price, Quantity};

    fn id(kind: MarketKind) -> InstrumentId {
        InstrumentId::binance(kind, "BTCUSDT").unwrap()
    }

    fn lv(p: i64, q: i64) -> Level {
        Level {
            price: Price::from_int(p).unwrap(),
            qty: Quantity::from_int(q).unwrap(),
        }
    }

    fn diff(kind: MarketKind, u0: u64, u1: u64, pu: Option<u64>, bid: (i64, i64)) -> BookDeltas {
        BookDeltas {
            instrument: id(kind),
            first_update_id: u0,
            last_update_id: u1,
            prev_last_update_id: pu,
            deltas: vec![BookDelta {
                side: Side::Buy,
                level: lv(bid.0, bid.1),
            }]
            .into(),
            times: EventTimes::default(),
        }
    }

    fn snap(kind: MarketKind, last: u64) -> BookSnapshot {
        BookSnapshot {
            instrument: id(kind),
            last_update_id: last,
            bids: vec![lv(100, 1)],
            asks: vec![lv(101, 1)],
            times: EventTimes::default(),
        }
    }

    /// The kernel's view: a book fed only what the feed emits.
    struct Kernel(L2Book);

    impl Kernel {
        fn take(&mut self, o: &mut BookOut) {
            for ev in o.events.drain(..) {
                match ev {
                    MarketEvent::BookSnapshot(s) => self.0.apply_snapshot(&s).unwrap(),
                    MarketEvent::BookDeltas(d) => self.0.apply_deltas(&d).unwrap(),
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    fn same(a: &L2Book, b: &L2Book) -> bool {
        a.last_update_id() == b.last_update_id()
            && a.levels_raw(Side::Buy).eq(b.levels_raw(Side::Buy))
            && a.levels_raw(Side::Sell).eq(b.levels_raw(Side::Sell))
    }

    #[test]
    fn kernel_gets_the_synced_book_then_applied_diffs_and_an_empty_book_on_a_gap() {
        let k = MarketKind::Spot;
        let mut books = Books::new(&[id(k)]).unwrap();
        let mut kernel = Kernel(L2Book::new(id(k)));
        let mut o = BookOut::default();
        let t = Instant::now();
        let now = UnixNanos(5);
        // Nothing to fetch before a diff is buffered.
        assert!(books.due(t).is_empty());
        books.on_diff(diff(k, 1, 5, None, (99, 5)), now, &mut o);
        books.on_diff(diff(k, 6, 9, None, (98, 9)), now, &mut o);
        assert!(o.events.is_empty(), "buffered diffs reach the kernel");
        let f = books.due(t);
        assert_eq!(f.len(), 1);
        assert!(books.due(t).is_empty(), "one fetch at a time");
        // Snapshot 7: (1,5) is older, (6,9) bridges: one snapshot of the
        // synced book (id 9, level 98 included), no separate diff.
        books.on_snapshot(id(k), f[0].epoch, Ok(snap(k, 7)), t, now, &mut o);
        assert_eq!(o.events.len(), 1);
        assert!(matches!(&o.events[0], MarketEvent::BookSnapshot(s) if s.last_update_id == 9));
        kernel.take(&mut o);
        let b = &books.map[&id(k)];
        assert!(same(&kernel.0, &b.book));
        assert_eq!(
            kernel.0.depth_at(Side::Buy, Price::from_int(98).unwrap()),
            Quantity::from_int(9).unwrap()
        );
        // Applied diffs pass; a duplicate (stale) does not.
        books.on_diff(diff(k, 10, 12, None, (97, 1)), now, &mut o);
        books.on_diff(diff(k, 10, 12, None, (97, 1)), now, &mut o);
        assert_eq!(o.events.len(), 1);
        kernel.take(&mut o);
        assert!(same(&kernel.0, &books.map[&id(k)].book));
        // A gap empties the kernel's book and asks for a snapshot.
        books.on_diff(diff(k, 20, 22, None, (96, 1)), now, &mut o);
        assert_eq!(o.resyncs, 1);
        assert_eq!(o.audits.len(), 1);
        assert_eq!(o.events.len(), 1);
        kernel.take(&mut o);
        assert!(kernel.0.is_empty());
        assert_eq!(kernel.0.last_update_id(), 0);
        let f = books.due(t);
        assert_eq!(f.len(), 1);
        // A failed fetch waits its backoff.
        books.on_snapshot(
            id(k),
            f[0].epoch,
            Err(FetchFailed {
                reason: "down".into(),
                retry_after: Some(Duration::from_secs(5)),
            }),
            t,
            now,
            &mut o,
        );
        assert!(books.due(t + Duration::from_secs(4)).is_empty());
        let f = books.due(t + Duration::from_secs(5));
        assert_eq!(f.len(), 1);
        books.on_snapshot(id(k), f[0].epoch, Ok(snap(k, 21)), t, now, &mut o);
        assert!(matches!(&o.events[..], [MarketEvent::BookSnapshot(s)] if s.last_update_id == 22));
        kernel.take(&mut o);
        assert!(same(&kernel.0, &books.map[&id(k)].book));
    }

    #[test]
    fn connection_loss_empties_the_kernel_book_and_drops_old_fetches() {
        let k = MarketKind::UsdM;
        let mut books = Books::new(&[id(k)]).unwrap();
        let mut kernel = Kernel(L2Book::new(id(k)));
        let mut o = BookOut::default();
        let t = Instant::now();
        let now = UnixNanos(5);
        // Snapshot first, then the bridging diff: the snapshot is published
        // with the diff applied.
        books.on_diff(diff(k, 3, 8, Some(2), (1, 1)), now, &mut o);
        let f = books.due(t);
        books.on_snapshot(id(k), f[0].epoch, Ok(snap(k, 10)), t, now, &mut o);
        assert!(
            o.events.is_empty(),
            "a snapshot awaiting its bridge is not published"
        );
        books.on_diff(diff(k, 9, 15, Some(8), (99, 3)), now, &mut o);
        books.on_diff(diff(k, 16, 20, Some(15), (99, 4)), now, &mut o);
        assert_eq!(o.events.len(), 2);
        kernel.take(&mut o);
        assert!(same(&kernel.0, &books.map[&id(k)].book));
        assert_eq!(kernel.0.last_update_id(), 20);
        books.on_connection_lost(now, &mut o);
        assert_eq!(o.resyncs, 1);
        kernel.take(&mut o);
        assert!(kernel.0.is_empty());
        // A second loss before anything was rebuilt is not another resync.
        let mut o2 = BookOut::default();
        books.on_connection_lost(now, &mut o2);
        assert_eq!((o2.resyncs, o2.events.len()), (0, 0));
        // A fetch started before a loss is dropped when it comes back.
        books.on_diff(diff(k, 30, 31, Some(29), (1, 1)), now, &mut o);
        let f = books.due(t);
        books.on_connection_lost(now, &mut o);
        books.on_diff(diff(k, 40, 41, Some(39), (1, 1)), now, &mut o);
        let g = books.due(t);
        assert_eq!(g.len(), 1, "the reset book fetches again");
        books.on_snapshot(id(k), f[0].epoch, Ok(snap(k, 40)), t, now, &mut o);
        assert!(books.map[&id(k)].sync.needs_snapshot());
        assert!(o.events.is_empty());
    }

    #[test]
    fn depth_stream_names() {
        assert!(is_diff_depth("depth"));
        assert!(is_diff_depth("depth@100ms"));
        assert!(!is_diff_depth("depth5"));
        assert!(!is_diff_depth("depth20@100ms"));
        assert!(!is_diff_depth("bookTicker"));
    }
}
