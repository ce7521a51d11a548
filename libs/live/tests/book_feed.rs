//! The market feed's L2 books against the simulator (issue #6, items 1-2).
//!
//! The simulator runs in-process with a manual market: the test pushes one
//! seeded depth diff at a time for a spot and a USD-M instrument (the frame
//! to the `@depth@100ms` stream, the same change to the simulator's own
//! book, which its REST `depth` serves). One `feed::run` per product keeps
//! books from the stream and REST snapshots. The test plays the kernel: it
//! builds an `L2Book` from nothing but the `Inbound::Market` events the feed
//! emitted and checks that
//!
//! * every diff it received continues the one before (spot `U == u + 1`,
//!   futures `pu == u`) from the last snapshot: nothing buffered, older than
//!   a snapshot or duplicated reaches it;
//! * once the market stops and the feed has caught up, its book equals the
//!   simulator's REST depth snapshot exactly (every level, `lastUpdateId`);
//! * after a skipped depth update (`skip_depth_ids`, with duplicated frames
//!   on top) and after the market connections are closed, the feed counts a
//!   resync, the kernel's book is emptied meanwhile, and the book is again
//!   equal to the venue's.
//!
//! Every wait is bounded (a phase that does not complete fails with the
//! state it reached); no assertion is about time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use veloz_core::events::{BookDelta, BookDeltas, BookSnapshot, EventTimes, Level, MarketEvent};
use veloz_core::{Instrument, InstrumentId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::encode::Encoder;
use veloz_exec::binance::rest::futures::FuturesApi;
use veloz_exec::binance::rest::spot;
use veloz_exec::binance::stream::parse_depth_snapshot;
use veloz_exec::binance::transport::http::RestClient;
use veloz_live::feed::{self, FeedSpec};
use veloz_live::{Inbound, LiveMetrics};
use veloz_market::L2Book;
use veloz_sim::presets;
use veloz_simserver::{
    AccountConfig, ConnectionKind, FaultKind, FaultRule, MarketConfig, MarketStep, ServerConfig,
    ServerHandle, StreamFrame,
};

/// How long one phase may take before the test gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(60);
/// The snapshot the simulator's book starts from.
const OPENING_ID: u64 = 1000;

fn px(p: i64) -> Price {
    Price::from_int(p).unwrap()
}

/// `n` thousandths (a valid quantity on both products).
fn qty(n: i64) -> Quantity {
    Quantity::from_raw(n * 100_000, 3)
}

/// A tiny deterministic generator (no time, no global state).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// One product's market as pushed to the simulator.
struct Market {
    inst: Instrument,
    encoder: Encoder,
    stream: Arc<str>,
    last_u: u64,
    rng: Lcg,
}

impl Market {
    fn new(inst: Instrument, seed: u64) -> Self {
        let stream = format!(
            "{}@depth@100ms",
            inst.id.symbol.as_str().to_ascii_lowercase()
        );
        Self {
            encoder: Encoder::for_instrument(&inst),
            inst,
            stream: Arc::from(stream),
            last_u: OPENING_ID,
            rng: Lcg(seed),
        }
    }

    fn id(&self) -> InstrumentId {
        self.inst.id
    }

    /// The opening book, for the simulator's engine only (clients take it
    /// from REST).
    fn opening(&self) -> MarketStep {
        let lv = |p: i64, q: i64| Level {
            price: px(p),
            qty: qty(q),
        };
        let snap = BookSnapshot {
            instrument: self.id(),
            last_update_id: OPENING_ID,
            bids: (1..=10).map(|k| lv(60_000 - k, k * 7)).collect(),
            asks: (1..=10).map(|k| lv(60_000 + k, k * 5)).collect(),
            times: EventTimes::new(UnixNanos::from_millis(1), UnixNanos::from_millis(1)),
        };
        MarketStep {
            time: UnixNanos::from_millis(1),
            product: self.id().kind,
            frames: vec![],
            events: vec![MarketEvent::BookSnapshot(snap)],
        }
    }

    /// The next diff: 1 to 3 level changes (some deletions), ids following
    /// the last (`u - U` from 0 to 2, futures `pu` = the previous `u`).
    fn step(&mut self) -> MarketStep {
        let first = self.last_u + 1;
        let last = first + self.rng.next(3);
        let mut deltas = Vec::new();
        for _ in 0..=self.rng.next(3) {
            let side = if self.rng.next(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let k = 1 + self.rng.next(30) as i64;
            let price = match side {
                Side::Buy => px(60_000 - k),
                Side::Sell => px(60_000 + k),
            };
            let q = self.rng.next(6) as i64 * 3;
            deltas.push(BookDelta {
                side,
                level: Level { price, qty: qty(q) },
            });
        }
        let now = UnixNanos::from_millis(2_000_000 + last);
        let d = BookDeltas {
            instrument: self.id(),
            first_update_id: first,
            last_update_id: last,
            prev_last_update_id: self.id().kind.is_futures().then_some(self.last_u),
            deltas: deltas.into(),
            times: EventTimes::new(now, now),
        };
        self.last_u = last;
        let mut text = String::new();
        self.encoder.depth_update(&mut text, &d, None);
        MarketStep {
            time: now,
            product: self.id().kind,
            frames: vec![StreamFrame {
                stream: self.stream.clone(),
                data: Arc::from(text),
            }],
            events: vec![MarketEvent::BookDeltas(d)],
        }
    }
}

/// What the kernel would hold, built from the feed's events only.
struct KernelView {
    kind: MarketKind,
    rx: mpsc::Receiver<Inbound>,
    metrics: Arc<Mutex<LiveMetrics>>,
    book: L2Book,
    /// `u` of the last snapshot or diff received while the book is valid.
    last: Option<u64>,
    snapshots: u64,
    empties: u64,
    diffs: u64,
    ups: u64,
}

impl KernelView {
    fn drain(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Inbound::Market {
                    event: MarketEvent::BookSnapshot(s),
                    ..
                } => {
                    self.book.apply_snapshot(&s).unwrap();
                    if s.bids.is_empty() && s.asks.is_empty() && s.last_update_id == 0 {
                        self.empties += 1;
                        self.last = None;
                    } else {
                        self.snapshots += 1;
                        self.last = Some(s.last_update_id);
                    }
                }
                Inbound::Market {
                    event: MarketEvent::BookDeltas(d),
                    ..
                } => {
                    let prev = self.last.unwrap_or_else(|| {
                        panic!(
                            "{:?}: diff {}..{} reached the kernel without a synced book",
                            self.kind, d.first_update_id, d.last_update_id
                        )
                    });
                    if self.kind.is_futures() {
                        assert_eq!(
                            d.prev_last_update_id,
                            Some(prev),
                            "{:?}: diff does not continue the kernel's book",
                            self.kind
                        );
                    } else {
                        assert_eq!(
                            d.first_update_id,
                            prev + 1,
                            "{:?}: diff does not continue the kernel's book",
                            self.kind
                        );
                    }
                    self.book.apply_deltas(&d).unwrap();
                    self.last = Some(d.last_update_id);
                    self.diffs += 1;
                }
                Inbound::Market { event, .. } => panic!("unexpected market event {event:?}"),
                Inbound::Link { up: true, .. } => self.ups += 1,
                _ => {}
            }
        }
    }

    fn resyncs(&self) -> u64 {
        self.metrics.lock().unwrap().resyncs
    }

    fn state(&self) -> String {
        format!(
            "{:?}: last {:?}, {} snapshots, {} empty, {} diffs, {} connections, {} resyncs",
            self.kind,
            self.last,
            self.snapshots,
            self.empties,
            self.diffs,
            self.ups,
            self.resyncs()
        )
    }
}

/// The simulator's book as its REST `depth` serves it.
async fn venue_book(rest: &RestClient, id: InstrumentId) -> L2Book {
    let req = match FuturesApi::for_kind(id.kind) {
        Some(api) => api.depth(&id.symbol, Some(1000)),
        None => spot::depth(&id.symbol, Some(1000)),
    }
    .unwrap();
    let a = rest.send(&req).await.unwrap();
    let snap =
        parse_depth_snapshot(id, std::str::from_utf8(&a.body).unwrap(), UnixNanos(0)).unwrap();
    let mut b = L2Book::new(id);
    b.apply_snapshot(&snap).unwrap();
    b
}

fn assert_same(kind: MarketKind, got: &L2Book, want: &L2Book) {
    assert_eq!(
        got.last_update_id(),
        want.last_update_id(),
        "{kind:?}: update id"
    );
    for side in [Side::Buy, Side::Sell] {
        let g: Vec<(i64, i64)> = got.levels_raw(side).collect();
        let w: Vec<(i64, i64)> = want.levels_raw(side).collect();
        assert!(!w.is_empty(), "{kind:?}: the venue's {side} side is empty");
        assert_eq!(g, w, "{kind:?}: {side} levels differ from the venue's");
    }
}

struct Harness {
    srv: ServerHandle,
    rest: Arc<RestClient>,
    markets: Vec<Market>,
    views: Vec<KernelView>,
}

impl Harness {
    /// Pushes diffs until `done` holds for every view.
    async fn push_until(&mut self, what: &str, done: impl Fn(&KernelView) -> bool) {
        let start = Instant::now();
        loop {
            for m in &mut self.markets {
                self.srv.push_market(m.step()).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
            for v in &mut self.views {
                v.drain();
            }
            if self.views.iter().all(&done) {
                return;
            }
            if start.elapsed() > PHASE_LIMIT {
                let s: Vec<String> = self.views.iter().map(KernelView::state).collect();
                panic!("{what}: not reached; {}", s.join("; "));
            }
        }
    }

    /// Waits (no more diffs) until each view has the last diff pushed, then
    /// compares each book with the venue's.
    async fn settle_and_compare(&mut self, what: &str) {
        let start = Instant::now();
        loop {
            for v in &mut self.views {
                v.drain();
            }
            let caught_up = self
                .views
                .iter()
                .zip(&self.markets)
                .all(|(v, m)| v.last == Some(m.last_u));
            if caught_up {
                break;
            }
            if start.elapsed() > PHASE_LIMIT {
                let s: Vec<String> = self.views.iter().map(KernelView::state).collect();
                panic!("{what}: the feed did not catch up; {}", s.join("; "));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for (v, m) in self.views.iter().zip(&self.markets) {
            let want = venue_book(&self.rest, m.id()).await;
            assert_same(v.kind, &v.book, &want);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_books_follow_the_venue_through_gaps_and_reconnects() {
    let srv = veloz_simserver::start(ServerConfig {
        market: MarketConfig::Manual,
        accounts: vec![AccountConfig::demo()],
        ..ServerConfig::ephemeral()
    })
    .await
    .unwrap();
    let endpoints = srv.endpoints();
    let creds = Credentials::hmac("demo", "demo-secret").unwrap();
    let rest = Arc::new(RestClient::new(
        &endpoints,
        Some(creds),
        Duration::from_secs(10),
    ));
    let markets = vec![
        Market::new(presets::spot_btcusdt(), 11),
        Market::new(presets::usdm_btcusdt(), 12),
    ];
    for m in &markets {
        srv.push_market(m.opening()).await.unwrap();
    }
    let mut views = Vec::new();
    let mut tasks = Vec::new();
    for (n, m) in markets.iter().enumerate() {
        let kind = m.id().kind;
        let (tx, rx) = mpsc::channel(100_000);
        let metrics = Arc::new(Mutex::new(LiveMetrics::default()));
        let spec = FeedSpec {
            kind,
            ws_base: endpoints.ws_base(kind).to_string(),
            instruments: vec![m.id()],
            streams: vec!["depth@100ms".into()],
            seed: n as u64 + 1,
            rest: Some(rest.clone()),
            tls: None,
        };
        assert_eq!(spec.stream_names(), vec![m.stream.to_string()]);
        tasks.push(tokio::spawn(feed::run(spec, tx, metrics.clone())));
        views.push(KernelView {
            kind,
            rx,
            metrics,
            book: L2Book::new(m.id()),
            last: None,
            snapshots: 0,
            empties: 0,
            diffs: 0,
            ups: 0,
        });
    }
    let mut h = Harness {
        srv,
        rest,
        markets,
        views,
    };

    // (a) First sync: a snapshot, then diffs, equal to the venue's book.
    h.push_until("first sync", |v| v.snapshots >= 1 && v.diffs >= 30)
        .await;
    h.settle_and_compare("first sync").await;
    for v in &h.views {
        assert_eq!(v.resyncs(), 0, "{}", v.state());
        assert_eq!(v.empties, 0, "{}", v.state());
    }

    // (b) A skipped depth update (and duplicated frames): the book is
    // emptied in the kernel, resynced from a new snapshot, equal again.
    for product in ["spot", "usdm"] {
        h.srv
            .inject(FaultRule {
                count: Some(1),
                product: Some(product.into()),
                ..FaultRule::new(FaultKind::SkipDepthIds)
            })
            .await
            .unwrap();
        h.srv
            .inject(FaultRule {
                count: Some(3),
                product: Some(product.into()),
                connection: Some(ConnectionKind::Market),
                ..FaultRule::new(FaultKind::DuplicateFrames)
            })
            .await
            .unwrap();
    }
    let before: Vec<u64> = h.views.iter().map(|v| v.diffs).collect();
    h.push_until("resync after a gap", |v| {
        v.resyncs() >= 1 && v.empties >= 1 && v.snapshots >= 2 && v.last.is_some()
    })
    .await;
    h.push_until("diffs after the resync", |v| {
        v.last.is_some() && v.diffs >= 60
    })
    .await;
    h.settle_and_compare("after a gap").await;
    assert_eq!(h.srv.fault_count(FaultKind::SkipDepthIds), 2);
    assert!(h.srv.fault_count(FaultKind::DuplicateFrames) >= 1);
    for (v, b) in h.views.iter().zip(before) {
        assert!(v.diffs > b, "{}", v.state());
    }

    // (c) Market connections closed: resync after the reconnect.
    let resyncs: Vec<u64> = h.views.iter().map(KernelView::resyncs).collect();
    for product in ["spot", "usdm"] {
        h.srv
            .inject(FaultRule {
                count: Some(1),
                product: Some(product.into()),
                connection: Some(ConnectionKind::Market),
                ..FaultRule::new(FaultKind::CloseConnections)
            })
            .await
            .unwrap();
    }
    let r = resyncs.clone();
    let snaps: Vec<u64> = h.views.iter().map(|v| v.snapshots).collect();
    h.push_until("resync after a reconnect", move |v| {
        let i = usize::from(v.kind.is_futures());
        v.ups >= 2 && v.resyncs() > r[i] && v.snapshots > snaps[i] && v.last.is_some()
    })
    .await;
    h.settle_and_compare("after a reconnect").await;
    for v in &h.views {
        assert!(v.empties >= 2, "{}", v.state());
    }
    for t in tasks {
        t.abort();
    }
}
