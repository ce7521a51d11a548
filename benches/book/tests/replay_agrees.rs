//! The benchmark compares like with like: replaying the real USD-M capture,
//! our `L2Book`, the `BTreeMap` baseline and hftbacktest's `HashMapMarketDepth`
//! and `ROIVectorMarketDepth` agree on the best bid and ask after every event,
//! our book agrees with the baseline on the top 20 levels after every event and
//! on every level at the end, and the synchronised book is never crossed.
//!
//! Fails (does not skip) if the shared capture is missing.

use hftbacktest::depth::{HashMapMarketDepth, ROIVectorMarketDepth};
use hftbacktest::prelude::{L2MarketDepth, MarketDepth};
use veloz_bench_book::{raw_to_f64, BTreeBook, Replay};
use veloz_core::{Quantity, Side};
use veloz_market::L2Book;

const TICK_RAW: i64 = 10_000_000; // 0.1

fn feed<D: L2MarketDepth>(d: &mut D, side: Side, price: i64, qty: i64, ts: i64) {
    let (p, q) = (raw_to_f64(price), raw_to_f64(qty));
    match side {
        Side::Buy => d.update_bid_depth(p, q, ts),
        Side::Sell => d.update_ask_depth(p, q, ts),
    };
}

#[test]
fn all_books_agree_on_the_real_capture() {
    let r = Replay::load().expect("load the shared USD-M capture");
    // What the capture holds (documented in docs/BENCHMARKS.md).
    assert_eq!(r.snapshot.bids.len(), 1000);
    assert_eq!(r.snapshot.asks.len(), 1000);
    assert_eq!(r.deltas.len(), r.event_ends.len());
    assert!(r.deltas.len() > 6_000, "{} events", r.deltas.len());
    assert!(r.updates.len() > 400_000, "{} updates", r.updates.len());
    let (lo, hi) = r.price_range();
    assert!(lo > 0 && hi < 1_000_000 * 100_000_000, "{lo}..{hi}");

    let mut ours = L2Book::new(r.snapshot.instrument);
    ours.apply_snapshot(&r.snapshot).unwrap();
    let mut base = BTreeBook::from_snapshot(&r.snapshot);
    let mut hash = HashMapMarketDepth::new(0.1, 0.001);
    let mut roi = ROIVectorMarketDepth::new(0.1, 0.001, raw_to_f64(lo), raw_to_f64(hi));
    for l in &r.snapshot.bids {
        feed(&mut hash, Side::Buy, l.price.raw(), l.qty.raw(), 0);
        feed(&mut roi, Side::Buy, l.price.raw(), l.qty.raw(), 0);
    }
    for l in &r.snapshot.asks {
        feed(&mut hash, Side::Sell, l.price.raw(), l.qty.raw(), 0);
        feed(&mut roi, Side::Sell, l.price.raw(), l.qty.raw(), 0);
    }

    let (mut got, mut want) = (Vec::new(), Vec::new());
    for (i, ev) in r.events().enumerate() {
        for u in ev {
            ours.update_raw(u.side, u.price, u.qty).unwrap();
            base.apply(u);
            feed(&mut hash, u.side, u.price, u.qty, i as i64);
            feed(&mut roi, u.side, u.price, u.qty, i as i64);
        }
        let (bb, ba) = (ours.best_bid_raw(), ours.best_ask_raw());
        assert_eq!(bb, base.best_bid(), "best bid after event {i}");
        assert_eq!(ba, base.best_ask(), "best ask after event {i}");
        let (bb, ba) = (bb.unwrap().0 / TICK_RAW, ba.unwrap().0 / TICK_RAW);
        assert_eq!(hash.best_bid_tick(), bb, "hashmap best bid after event {i}");
        assert_eq!(hash.best_ask_tick(), ba, "hashmap best ask after event {i}");
        assert_eq!(roi.best_bid_tick(), bb, "roi best bid after event {i}");
        assert_eq!(roi.best_ask_tick(), ba, "roi best ask after event {i}");
        assert!(!ours.is_crossed(), "crossed after event {i}");
        for side in [Side::Buy, Side::Sell] {
            ours.top_raw_into(side, 20, &mut got);
            base.top_into(side, 20, &mut want);
            assert_eq!(got, want, "top 20 {side} after event {i}");
        }
    }
    for side in [Side::Buy, Side::Sell] {
        let all: Vec<(i64, i64)> = ours.levels_raw(side).collect();
        base.top_into(side, usize::MAX, &mut want);
        assert_eq!(all, want, "every {side} level at the end");
    }
    ours.check_invariants().unwrap();
    // update_raw does not touch the update id: still the snapshot's.
    assert_eq!(ours.last_update_id(), r.snapshot.last_update_id);

    // Applying the decoded events gives the same book.
    let mut via_events = L2Book::new(r.snapshot.instrument);
    via_events.apply_snapshot(&r.snapshot).unwrap();
    for d in &r.deltas {
        via_events.apply_deltas(d).unwrap();
    }
    for side in [Side::Buy, Side::Sell] {
        assert!(ours.levels_raw(side).eq(via_events.levels_raw(side)));
    }
    assert_eq!(
        via_events.last_update_id(),
        r.deltas.last().unwrap().last_update_id
    );

    // Cost of 1 BTC agrees with the baseline.
    let c = ours
        .cost_to_fill(Side::Buy, Quantity::parse("1").unwrap())
        .unwrap();
    assert_eq!(
        (c.filled.raw(), c.notional_raw_e16),
        base.cost_to_buy(100_000_000)
    );
}
