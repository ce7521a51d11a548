//! Local order-book sync (digest §6) on the three real captures
//! (`shared/fixtures/binance/hftbacktest/`, spot / USD-M / COIN-M BTC, 2024-08-08).
//!
//! (a) Each capture syncs through its one snapshot with zero gaps; after every
//!     applied diff the book is not crossed; the final book equals, level for
//!     level, an independent reference book (a plain ordered map fed the same
//!     diffs); and wherever a `bookTicker` carries exactly the update id the book
//!     has just reached, the ticker's best bid and ask (price and quantity) equal
//!     the book's. On these captures that happens 564 (spot), 629 (USD-M) and
//!     1124 (COIN-M) times, never with a difference. (Tickers whose id falls
//!     inside a diff's `U..u` range cannot be compared and are not.)
//!
//! (b) Deleting, duplicating or swapping diffs is detected (a gap for a deletion
//!     or a swap, a stale diff for a duplicate), and a fresh snapshot, built
//!     from the unmodified capture at a later point, resyncs the book to exactly
//!     the state of an unmodified replay.

use std::collections::{BTreeMap, HashMap};

use veloz_core::events::{BookDeltas, BookSnapshot, EventTimes, Level, Quote};
use veloz_core::fixtures::fixture;
use veloz_core::{InstrumentId, MarketKind, Price, Quantity, Side};
use veloz_exec::binance::book_sync::{BookSync, DeltaOutcome, DiffIds, SnapshotOutcome, SyncState};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::stream::{parse_depth_snapshot, parse_frame, StreamMessage, StreamSource};
use veloz_market::L2Book;

#[derive(Clone)]
enum Item {
    Diff(BookDeltas),
    Snapshot(BookSnapshot),
}

struct Capture {
    instrument: InstrumentId,
    items: Vec<Item>,
    tickers: HashMap<u64, Vec<Quote>>,
}

fn load(file: &str, kind: MarketKind, symbol: &str) -> Capture {
    let instrument = InstrumentId::binance(kind, symbol).unwrap();
    let src = StreamSource::binance(kind);
    let path = fixture(&format!("binance/hftbacktest/{file}")).unwrap();
    let mut r = CaptureReader::open(&[path]).unwrap();
    let mut items = Vec::new();
    let mut tickers: HashMap<u64, Vec<Quote>> = HashMap::new();
    while let Some(line) = r.next_line().unwrap() {
        if line.is_snapshot() {
            let s = parse_depth_snapshot(instrument, line.json, line.local).unwrap();
            items.push(Item::Snapshot(s));
            continue;
        }
        match parse_frame(&src, line.json, line.local).unwrap() {
            StreamMessage::Depth(d) => items.push(Item::Diff(d)),
            StreamMessage::BookTicker(q) => {
                tickers.entry(q.update_id.unwrap()).or_default().push(q)
            }
            _ => {}
        }
    }
    Capture {
        instrument,
        items,
        tickers,
    }
}

/// An independent book: ordered maps of raw price -> raw quantity.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct RefBook {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl RefBook {
    fn from_snapshot(s: &BookSnapshot) -> Self {
        let mut b = Self::default();
        for l in &s.bids {
            b.set(Side::Buy, l);
        }
        for l in &s.asks {
            b.set(Side::Sell, l);
        }
        b
    }

    fn set(&mut self, side: Side, l: &Level) {
        let m = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if l.qty.is_zero() {
            m.remove(&l.price.raw());
        } else {
            m.insert(l.price.raw(), l.qty.raw());
        }
    }

    fn apply(&mut self, d: &BookDeltas) {
        for x in &d.deltas {
            self.set(x.side, &x.level);
        }
    }

    fn of(book: &L2Book) -> Self {
        Self {
            bids: book.levels_raw(Side::Buy).collect(),
            asks: book.levels_raw(Side::Sell).collect(),
        }
    }

    fn snapshot(&self, instrument: InstrumentId, last_update_id: u64) -> BookSnapshot {
        let lv = |(&p, &q): (&i64, &i64)| Level {
            price: Price::from_raw(p, 8),
            qty: Quantity::from_raw(q, 8),
        };
        BookSnapshot {
            instrument,
            last_update_id,
            bids: self.bids.iter().rev().map(lv).collect(),
            asks: self.asks.iter().map(lv).collect(),
            times: EventTimes::default(),
        }
    }
}

/// Replays the unmodified capture: the reference book after each diff applied,
/// as a function of the diff's position in `items`.
fn reference_until(c: &Capture, stop: Option<usize>) -> (RefBook, u64) {
    let mut book = RefBook::default();
    let mut id = 0;
    let mut synced = false;
    let mut buffered: Vec<&BookDeltas> = Vec::new();
    for (i, item) in c.items.iter().enumerate() {
        match item {
            Item::Snapshot(s) => {
                book = RefBook::from_snapshot(s);
                id = s.last_update_id;
                synced = true;
                for d in buffered.drain(..) {
                    if d.last_update_id > id {
                        book.apply(d);
                        id = d.last_update_id;
                    }
                }
            }
            Item::Diff(d) if synced => {
                if d.last_update_id > id {
                    book.apply(d);
                    id = d.last_update_id;
                }
            }
            Item::Diff(d) => buffered.push(d),
        }
        if Some(i) == stop {
            break;
        }
    }
    (book, id)
}

struct Expect {
    file: &'static str,
    kind: MarketKind,
    symbol: &'static str,
    snapshot: u64,
    /// `U` and `u` of the diff that bridges the snapshot (fixtures README §2).
    bridge: (u64, u64),
    ticker_checks: usize,
}

const CAPTURES: [Expect; 3] = [
    Expect {
        file: "spot_btcusdt_20240808.gz",
        kind: MarketKind::Spot,
        symbol: "BTCUSDT",
        snapshot: 50093239218,
        bridge: (50093239208, 50093239224),
        ticker_checks: 564,
    },
    Expect {
        file: "usdm_btcusdt_20240808.gz",
        kind: MarketKind::UsdM,
        symbol: "BTCUSDT",
        snapshot: 5123107852948,
        bridge: (5123107850310, 5123107853551),
        ticker_checks: 629,
    },
    Expect {
        file: "cm_btcusd_perp_20240808.gz",
        kind: MarketKind::CoinM,
        symbol: "BTCUSD_PERP",
        snapshot: 1007198635033,
        bridge: (1007198635026, 1007198635121),
        ticker_checks: 1124,
    },
];

fn top(book: &L2Book) -> (Option<Level>, Option<Level>) {
    (book.best_bid(), book.best_ask())
}

#[test]
fn each_capture_syncs_with_zero_gaps_and_a_consistent_book() {
    for e in &CAPTURES {
        let c = load(e.file, e.kind, e.symbol);
        let mut book = L2Book::new(c.instrument);
        let mut sync = BookSync::new(c.instrument);
        let mut reference = RefBook::default();
        let mut bridges = Vec::new();
        let (mut checked, mut applied_since_snapshot) = (0, 0);
        let mut after_apply = |book: &L2Book, sync: &BookSync| {
            assert!(
                !book.is_crossed(),
                "{}: crossed at {}",
                e.file,
                sync.book_id()
            );
            if let Some(qs) = c.tickers.get(&sync.book_id()) {
                for q in qs {
                    checked += 1;
                    let want = (Some(q.bid), Some(q.ask));
                    let got = top(book);
                    assert_eq!(
                        got.0.map(|l| (l.price.raw(), l.qty.raw())),
                        want.0.map(|l| (l.price.raw(), l.qty.raw())),
                        "{}: bid at {}",
                        e.file,
                        sync.book_id()
                    );
                    assert_eq!(
                        got.1.map(|l| (l.price.raw(), l.qty.raw())),
                        want.1.map(|l| (l.price.raw(), l.qty.raw())),
                        "{}: ask at {}",
                        e.file,
                        sync.book_id()
                    );
                }
            }
        };
        let mut buffered = Vec::new();
        for item in &c.items {
            match item {
                Item::Snapshot(s) => {
                    let out = sync.on_snapshot(&mut book, s).unwrap();
                    let SnapshotOutcome::Bridged {
                        bridge, applied, ..
                    } = out
                    else {
                        panic!("{}: snapshot did not bridge: {out:?}", e.file)
                    };
                    bridges.push(bridge);
                    reference = RefBook::from_snapshot(s);
                    for d in buffered.drain(..) {
                        let d: &BookDeltas = d;
                        if d.last_update_id > s.last_update_id
                            || (e.kind.is_futures() && d.last_update_id == s.last_update_id)
                        {
                            reference.apply(d);
                        }
                    }
                    applied_since_snapshot += applied;
                    after_apply(&book, &sync);
                }
                Item::Diff(d) => match sync.on_deltas(&mut book, d.clone()).unwrap() {
                    DeltaOutcome::Buffered => buffered.push(d),
                    DeltaOutcome::Applied => {
                        reference.apply(d);
                        applied_since_snapshot += 1;
                        after_apply(&book, &sync);
                    }
                    other => panic!(
                        "{}: {other:?} at {:?}",
                        e.file,
                        DiffIds {
                            first: d.first_update_id,
                            last: d.last_update_id,
                            prev: d.prev_last_update_id
                        }
                    ),
                },
            }
        }
        assert_eq!(bridges.len(), 1, "{}", e.file);
        assert_eq!(bridges[0].snapshot_id, e.snapshot, "{}", e.file);
        assert_eq!(
            (bridges[0].by.first, bridges[0].by.last),
            e.bridge,
            "{}",
            e.file
        );
        assert_eq!(sync.state(), SyncState::Synced);
        let k = sync.counters();
        assert_eq!(
            (k.gaps, k.stale, k.resyncs, k.bridges),
            (0, 0, 0, 1),
            "{}",
            e.file
        );
        assert_eq!(k.applied as usize, applied_since_snapshot);
        assert_eq!(
            k.applied + k.skipped_before_snapshot,
            k.diffs,
            "{}: every diff is applied or older than the snapshot",
            e.file
        );
        assert_eq!(checked, e.ticker_checks, "{}", e.file);
        book.check_invariants().unwrap();
        assert_eq!(RefBook::of(&book), reference, "{}: final book", e.file);
        let (replayed, id) = reference_until(&c, None);
        assert_eq!(replayed, reference);
        assert_eq!(id, sync.book_id());
        assert!(
            book.len(Side::Buy) > 900 && book.len(Side::Sell) > 900,
            "{}",
            e.file
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Delete,
    Duplicate,
    DuplicateLate,
    Swap,
}

/// Positions in `items` of the diffs applied after the bridge.
fn synced_diffs(c: &Capture) -> Vec<usize> {
    let snap = c
        .items
        .iter()
        .position(|i| matches!(i, Item::Snapshot(_)))
        .unwrap();
    (snap + 1..c.items.len())
        .filter(|&i| matches!(c.items[i], Item::Diff(_)))
        .collect()
}

fn ids(d: &BookDeltas) -> DiffIds {
    DiffIds {
        first: d.first_update_id,
        last: d.last_update_id,
        prev: d.prev_last_update_id,
    }
}

fn run_fault(c: &Capture, file: &str, fault: Fault, k: usize, unmodified: &(RefBook, u64)) {
    let diff = |i: usize| match &c.items[i] {
        Item::Diff(d) => d.clone(),
        Item::Snapshot(_) => unreachable!(),
    };
    let positions = synced_diffs(c);
    let p = positions.iter().position(|&x| x == k).unwrap();
    let next = positions[p + 1];
    // The modified stream: (original index, item).
    let mut stream: Vec<(usize, Item)> = c.items.iter().cloned().enumerate().collect();
    let at = stream.iter().position(|(i, _)| *i == k).unwrap();
    match fault {
        Fault::Delete => {
            stream.remove(at);
        }
        Fault::Duplicate => stream.insert(at + 1, (k, Item::Diff(diff(k)))),
        Fault::DuplicateLate => stream.insert(at + 4, (k, Item::Diff(diff(k)))),
        Fault::Swap => {
            let b = stream.iter().position(|(i, _)| *i == next).unwrap();
            stream.swap(at, b);
        }
    }
    // A fresh snapshot, as the unmodified stream stood a few diffs later.
    let resync_after = positions[p + 6];
    let (ref_book, ref_id) = reference_until(c, Some(resync_after));
    let fresh = ref_book.snapshot(c.instrument, ref_id);

    let mut book = L2Book::new(c.instrument);
    let mut sync = BookSync::new(c.instrument);
    let mut detected = Vec::new();
    for (orig, item) in stream {
        match item {
            Item::Snapshot(s) => {
                sync.on_snapshot(&mut book, &s).unwrap();
            }
            Item::Diff(d) => {
                let got = ids(&d);
                match sync.on_deltas(&mut book, d).unwrap() {
                    DeltaOutcome::Gap(g) => detected.push(("gap", got, Some(g.book_id))),
                    DeltaOutcome::Stale => detected.push(("stale", got, None)),
                    _ => {}
                }
            }
        }
        if sync.is_synced() {
            assert!(!book.is_crossed(), "{file} {fault:?}: crossed");
        }
        if orig == resync_after && matches!(fault, Fault::Delete | Fault::Swap) {
            assert!(sync.needs_snapshot(), "{file} {fault:?}: still waiting");
            let out = sync.on_snapshot(&mut book, &fresh).unwrap();
            // Spot: the snapshot is as of the last diff fed, so the next diff
            // bridges it. Futures: the last diff fed (u == L) bridges it at once.
            let ok = match out {
                SnapshotOutcome::Bridged { .. } => true,
                SnapshotOutcome::AwaitingBridge { .. } => !c.instrument.kind.is_futures(),
                _ => false,
            };
            assert!(
                ok,
                "{file} {fault:?}: the fresh snapshot was not used: {out:?}"
            );
        }
    }
    let before = |i: usize| {
        let q = positions.iter().position(|&x| x == i).unwrap();
        match &c.items[positions[q - 1]] {
            Item::Diff(d) => d.last_update_id,
            Item::Snapshot(_) => unreachable!(),
        }
    };
    let k_ids = ids(&diff(k));
    let next_ids = ids(&diff(next));
    let want = match fault {
        // The diff after the hole does not continue the one before it.
        Fault::Delete => vec![("gap", next_ids, Some(before(k)))],
        // The later of the two arrives first and breaks the chain; the earlier
        // one then waits in the buffer and is dropped by the fresh snapshot.
        Fault::Swap => vec![("gap", next_ids, Some(before(k)))],
        Fault::Duplicate | Fault::DuplicateLate => vec![("stale", k_ids, None)],
    };
    assert_eq!(detected, want, "{file} {fault:?} at {k}");
    let counters = sync.counters();
    let resynced = matches!(fault, Fault::Delete | Fault::Swap);
    assert_eq!(counters.gaps, u64::from(resynced), "{file} {fault:?}");
    assert_eq!(counters.resyncs, u64::from(resynced), "{file} {fault:?}");
    assert!(sync.is_synced(), "{file} {fault:?}: not synced at the end");
    assert_eq!(sync.book_id(), unmodified.1, "{file} {fault:?}");
    assert_eq!(
        RefBook::of(&book),
        unmodified.0,
        "{file} {fault:?}: final book"
    );
}

#[test]
fn deleted_duplicated_or_swapped_diffs_are_detected_and_a_fresh_snapshot_recovers() {
    for e in &CAPTURES {
        let c = load(e.file, e.kind, e.symbol);
        let positions = synced_diffs(&c);
        let n = positions.len();
        let unmodified = reference_until(&c, None);
        for k in [positions[3], positions[n / 2], positions[n - 10]] {
            for fault in [
                Fault::Delete,
                Fault::Duplicate,
                Fault::DuplicateLate,
                Fault::Swap,
            ] {
                run_fault(&c, e.file, fault, k, &unmodified);
            }
        }
    }
}

#[test]
fn without_a_new_snapshot_the_book_stays_discarded() {
    let e = &CAPTURES[1];
    let c = load(e.file, e.kind, e.symbol);
    let positions = synced_diffs(&c);
    let k = positions[100];
    let mut book = L2Book::new(c.instrument);
    let mut sync = BookSync::new(c.instrument);
    let mut gaps = 0;
    for (i, item) in c.items.iter().enumerate() {
        if i == k {
            continue;
        }
        match item {
            Item::Snapshot(s) => {
                sync.on_snapshot(&mut book, s).unwrap();
            }
            Item::Diff(d) => {
                if let DeltaOutcome::Gap(_) = sync.on_deltas(&mut book, d.clone()).unwrap() {
                    gaps += 1;
                }
            }
        }
    }
    assert_eq!(gaps, 1, "one gap; later diffs are buffered, not gaps again");
    assert!(sync.needs_snapshot());
    assert!(book.is_empty(), "the broken book was discarded");
    assert_eq!(sync.buffered(), positions.len() - 100 - 1);
}
