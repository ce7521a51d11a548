//! Property tests: the L2 book against a plain `BTreeMap` reference model.
//!
//! Random streams of single updates, delta batches, snapshots and clears, with
//! prices near a moving top, far from it, off any tick grid, tiny, negative and
//! at the ends of the i64 range; quantities of 0 (deletes, often of absent
//! levels) and up to `i64::MAX`; and updates placed relative to the current
//! book (delete or change the n-th level, set a level a few ticks from the
//! best), so the best level is deleted and improved as often as in real feeds.
//! Half of the streams keep every price on one grid, so an inferred tick stays
//! fine and the dense window carries the load. After every step every query is compared with
//! the reference: best bid/ask, every level of both sides in order, top N,
//! depth at several prices, cost and VWAP of fills of several sizes, spread,
//! mid, crossed, level counts, and the top-of-book view. Several storage
//! configurations are used, including tiny windows that force the book through
//! its overflow and re-centring paths all the time.

use std::collections::BTreeMap;

use proptest::prelude::*;
use veloz_core::events::{BookDelta, BookDeltas, BookSnapshot, EventTimes, Level};
use veloz_core::{InstrumentId, MarketKind, Price, Quantity, Rounding, Side};
use veloz_market::{BookConfig, L2Book};

/// The reference: one ordered map per side, queries written the obvious way.
#[derive(Default, Debug)]
struct RefBook {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl RefBook {
    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<i64, i64> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn set(&mut self, side: Side, p: i64, q: i64) {
        if q == 0 {
            self.side_mut(side).remove(&p);
        } else {
            self.side_mut(side).insert(p, q);
        }
    }

    /// Levels best first.
    fn levels(&self, side: Side) -> Vec<(i64, i64)> {
        match side {
            Side::Buy => self.bids.iter().rev().map(|(&p, &q)| (p, q)).collect(),
            Side::Sell => self.asks.iter().map(|(&p, &q)| (p, q)).collect(),
        }
    }

    fn best(&self, side: Side) -> Option<(i64, i64)> {
        self.levels(side).first().copied()
    }

    fn depth(&self, side: Side, p: i64) -> i64 {
        match side {
            Side::Buy => self.bids.get(&p).copied().unwrap_or(0),
            Side::Sell => self.asks.get(&p).copied().unwrap_or(0),
        }
    }

    /// (filled, notional e16, levels touched, worst price) of a taker order.
    fn cost(&self, taker: Side, qty: i64) -> (i64, i128, usize, Option<i64>) {
        let mut left = qty;
        let mut notional = 0i128;
        let mut n = 0;
        let mut worst = None;
        for (p, q) in self.levels(taker.opposite()) {
            if left == 0 {
                break;
            }
            let take = q.min(left);
            left -= take;
            notional += i128::from(p) * i128::from(take);
            n += 1;
            worst = Some(p);
        }
        (qty - left, notional, n, worst)
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// One `update_raw`.
    Raw(Side, i64, i64),
    /// One `update` with typed values.
    Typed(Side, i64, i64),
    /// One `apply_deltas` message.
    Deltas(Vec<(Side, i64, i64)>),
    /// A full snapshot (may contain duplicates and zero quantities).
    Snapshot(Vec<(i64, i64)>, Vec<(i64, i64)>),
    /// Clear the book.
    Clear,
    /// An update placed relative to the current book (resolved against the
    /// reference when applied), so deletes and changes hit existing levels,
    /// the best one in particular, as they do in real feeds.
    Rel(Side, Rel),
    /// Delete every level better than a price (`remove_better`, the quote
    /// path's bulk delete), checked against deleting them one at a time.
    RemoveBetter(Side, i64),
    /// The same at a price `ticks` away from the best (towards the inside
    /// when negative), or at the n-th level when `ticks` is 0: the prices a
    /// quote feed sends.
    RemoveBetterRel(Side, i64, usize),
    /// `set_best` (the quote path) at a price relative to the best as in
    /// `RemoveBetterRel`, checked against deleting the better levels one at
    /// a time and then setting the level.
    SetBest(Side, i64, usize, i64),
    /// `set_best` at any price.
    SetBestAt(Side, i64, i64),
}

#[derive(Debug, Clone, Copy)]
enum Rel {
    /// Delete the n-th level from the best (modulo the side's length).
    DeleteNth(usize),
    /// Change the quantity of the n-th level from the best.
    SetNth(usize, i64),
    /// Set a level `ticks` away from the best, towards the inside when
    /// negative (which may improve or cross the book).
    FromBest(i64, i64),
}

const CENTRE: i64 = 6_180_000_000_000; // 61800.00
const TICK: i64 = 10_000_000; // 0.1

/// Prices on the 0.1 grid only: near, far, negative and at the ends of the range.
fn grid_price() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => (-40i64..40).prop_map(|k| CENTRE + k * TICK),
        3 => (-20_000i64..20_000).prop_map(|k| CENTRE + k * TICK),
        1 => (-1_000i64..1_000).prop_map(|k| k * TICK),
        1 => any::<i64>().prop_map(|p| p / TICK * TICK),
    ]
}

/// Any price: the grid plus off-grid, tiny and extreme prices.
fn price() -> impl Strategy<Value = i64> {
    prop_oneof![
        // Near the top, on the grid, from a small pool: lots of hits and deletes.
        6 => (-40i64..40).prop_map(|k| CENTRE + k * TICK),
        // Farther away on the grid (leaves small windows, triggers re-centring).
        3 => (-20_000i64..20_000).prop_map(|k| CENTRE + k * TICK),
        // Off the grid.
        2 => (-1_000_000_000i64..1_000_000_000).prop_map(|d| CENTRE + d),
        // Tiny and negative prices.
        1 => 0i64..1_000,
        1 => -1_000_000i64..1,
        // Huge prices, the ends of the range, anything.
        1 => prop_oneof![
            Just(i64::MAX),
            Just(i64::MIN),
            (0i64..1_000).prop_map(|d| i64::MAX - d),
            (0i64..1_000).prop_map(|d| i64::MIN + d),
            any::<i64>(),
        ],
    ]
}

fn qty() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => Just(0i64),
        6 => 1i64..10_000_000_000,
        1 => Just(i64::MAX),
        1 => 1i64..i64::MAX,
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn rel() -> impl Strategy<Value = Rel> {
    prop_oneof![
        3 => (0usize..4).prop_map(Rel::DeleteNth),
        1 => (0usize..50).prop_map(Rel::DeleteNth),
        2 => (0usize..10, 1i64..10_000_000_000).prop_map(|(n, q)| Rel::SetNth(n, q)),
        3 => (-3i64..5, qty()).prop_map(|(t, q)| Rel::FromBest(t, q)),
    ]
}

/// A stream op; `grid_only` keeps every price on the 0.1 grid (so an inferred
/// tick stays 0.1 and the dense window does the work).
fn op(grid_only: bool) -> impl Strategy<Value = Op> {
    let px = move || {
        if grid_only {
            grid_price().boxed()
        } else {
            price().boxed()
        }
    };
    let level = move || (side(), px(), qty());
    prop_oneof![
        12 => level().prop_map(|(s, p, q)| Op::Raw(s, p, q)),
        3 => level().prop_map(|(s, p, q)| Op::Typed(s, p, q)),
        6 => prop::collection::vec(level(), 0..20).prop_map(Op::Deltas),
        12 => (side(), rel()).prop_map(|(s, r)| Op::Rel(s, r)),
        3 => (side(), px()).prop_map(|(s, p)| Op::RemoveBetter(s, p)),
        4 => (side(), -3i64..60, 0usize..8).prop_map(|(s, t, n)| Op::RemoveBetterRel(s, t, n)),
        6 => (side(), -30i64..60, 0usize..8, qty()).prop_map(|(s, t, n, q)| Op::SetBest(s, t, n, q)),
        2 => (side(), px(), qty()).prop_map(|(s, p, q)| Op::SetBestAt(s, p, q)),
        1 => (
            prop::collection::vec((px(), qty()), 0..40),
            prop::collection::vec((px(), qty()), 0..40)
        )
            .prop_map(|(b, a)| Op::Snapshot(b, a)),
        1 => Just(Op::Clear),
    ]
}

/// The `(price, qty)` a relative op means for the current reference book.
fn resolve(model: &RefBook, side: Side, rel: Rel) -> (i64, i64) {
    let levels = model.levels(side);
    let nth = |n: usize| levels.get(n % levels.len().max(1)).map_or(CENTRE, |l| l.0);
    match rel {
        Rel::DeleteNth(n) => (nth(n), 0),
        Rel::SetNth(n, q) => (nth(n), q),
        Rel::FromBest(ticks, q) => {
            let best = levels.first().map_or(CENTRE, |l| l.0);
            let away = ticks.saturating_mul(TICK);
            let p = match side {
                Side::Buy => best.saturating_sub(away),
                Side::Sell => best.saturating_add(away),
            };
            (p, q)
        }
    }
}

fn config() -> impl Strategy<Value = BookConfig> {
    let tick = |raw: i64| Some(Price::from_raw(raw, 8));
    prop_oneof![
        Just(BookConfig::default()),
        Just(BookConfig::default().with_window(64)),
        Just(BookConfig::default().with_window(200)),
        Just(BookConfig {
            tick_size: tick(TICK),
            window_ticks: 64
        }),
        Just(BookConfig {
            tick_size: tick(1),
            window_ticks: 128
        }),
        Just(BookConfig {
            tick_size: tick(3),
            window_ticks: 64
        }),
    ]
}

fn id() -> InstrumentId {
    InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap()
}

fn lvl(p: i64, q: i64) -> Level {
    Level {
        price: Price::from_raw(p, 8),
        qty: Quantity::from_raw(q, 8),
    }
}

fn apply(book: &mut L2Book, model: &mut RefBook, op: &Op, seq: u64) {
    match op {
        Op::Raw(s, p, q) => {
            book.update_raw(*s, *p, *q).unwrap();
            model.set(*s, *p, *q);
        }
        Op::Typed(s, p, q) => {
            book.update(*s, Price::from_raw(*p, 2), Quantity::from_raw(*q, 3))
                .unwrap();
            model.set(*s, *p, *q);
        }
        Op::Deltas(v) => {
            let d = BookDeltas {
                instrument: id(),
                first_update_id: seq,
                last_update_id: seq,
                prev_last_update_id: None,
                deltas: v
                    .iter()
                    .map(|&(side, p, q)| BookDelta {
                        side,
                        level: lvl(p, q),
                    })
                    .collect(),
                times: EventTimes::default(),
            };
            book.apply_deltas(&d).unwrap();
            assert_eq!(book.last_update_id(), seq);
            for &(s, p, q) in v {
                model.set(s, p, q);
            }
        }
        Op::Snapshot(b, a) => {
            let s = BookSnapshot {
                instrument: id(),
                last_update_id: seq,
                bids: b.iter().map(|&(p, q)| lvl(p, q)).collect(),
                asks: a.iter().map(|&(p, q)| lvl(p, q)).collect(),
                times: EventTimes::default(),
            };
            book.apply_snapshot(&s).unwrap();
            *model = RefBook::default();
            for &(p, q) in b {
                model.set(Side::Buy, p, q);
            }
            for &(p, q) in a {
                model.set(Side::Sell, p, q);
            }
        }
        Op::Clear => {
            book.clear();
            *model = RefBook::default();
        }
        Op::Rel(s, r) => {
            let (p, q) = resolve(model, *s, *r);
            book.update_raw(*s, p, q).unwrap();
            model.set(*s, p, q);
        }
        Op::RemoveBetter(s, p) => remove_better(book, model, *s, *p),
        Op::RemoveBetterRel(s, ticks, n) => {
            let p = if *ticks == 0 {
                resolve(model, *s, Rel::DeleteNth(*n)).0
            } else {
                resolve(model, *s, Rel::FromBest(*ticks, 0)).0
            };
            remove_better(book, model, *s, p);
        }
        Op::SetBest(s, ticks, n, q) => {
            let p = if *ticks == 0 {
                resolve(model, *s, Rel::DeleteNth(*n)).0
            } else {
                resolve(model, *s, Rel::FromBest(*ticks, 0)).0
            };
            set_best(book, model, *s, p, *q);
        }
        Op::SetBestAt(s, p, q) => set_best(book, model, *s, *p, *q),
    }
}

/// `set_best` on the book; on the reference, the levels better than `p`
/// deleted one at a time, then `p` set.
fn set_best(book: &mut L2Book, model: &mut RefBook, side: Side, p: i64, q: i64) {
    let better = model
        .levels(side)
        .iter()
        .take_while(|l| match side {
            Side::Buy => l.0 > p,
            Side::Sell => l.0 < p,
        })
        .count();
    let got = book
        .set_best(side, Price::from_raw(p, 8), Quantity::from_raw(q, 8))
        .unwrap();
    assert_eq!(got, better);
    for _ in 0..better {
        let l = model.best(side).unwrap().0;
        model.set(side, l, 0);
    }
    model.set(side, p, q);
}

/// `remove_better` on the book; on the reference, the levels better than
/// `p` deleted one at a time, best first.
fn remove_better(book: &mut L2Book, model: &mut RefBook, side: Side, p: i64) {
    let better: Vec<i64> = model
        .levels(side)
        .into_iter()
        .map(|l| l.0)
        .take_while(|&l| match side {
            Side::Buy => l > p,
            Side::Sell => l < p,
        })
        .collect();
    assert_eq!(
        book.remove_better(side, Price::from_raw(p, 8)),
        better.len()
    );
    for l in better {
        model.set(side, l, 0);
    }
}

/// Every query, book against model.
fn compare(
    book: &L2Book,
    model: &RefBook,
    probes: &[i64],
    fills: &[i64],
    n: usize,
) -> Result<(), TestCaseError> {
    for side in [Side::Buy, Side::Sell] {
        let want = model.levels(side);
        let got: Vec<(i64, i64)> = book.levels_raw(side).collect();
        prop_assert_eq!(&got, &want, "levels of {:?}", side);
        prop_assert_eq!(book.len(side), want.len());
        let top: Vec<(i64, i64)> = book
            .top(side, n)
            .iter()
            .map(|l| (l.price.raw(), l.qty.raw()))
            .collect();
        prop_assert_eq!(&top[..], &want[..n.min(want.len())]);
        let mut raw_top = Vec::new();
        book.top_raw_into(side, n, &mut raw_top);
        prop_assert_eq!(&raw_top[..], &want[..n.min(want.len())]);
        prop_assert_eq!(
            book.best(side).map(|l| (l.price.raw(), l.qty.raw())),
            model.best(side)
        );
        for &p in probes {
            prop_assert_eq!(book.depth_at_raw(side, p), model.depth(side, p));
            prop_assert_eq!(
                book.depth_at(side, Price::from_raw(p, 8)).raw(),
                model.depth(side, p)
            );
        }
        for &f in fills {
            let c = book
                .cost_to_fill(side, Quantity::from_raw(f, 8))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (filled, notional, levels, worst) = model.cost(side, f);
            prop_assert_eq!(c.filled.raw(), filled);
            prop_assert_eq!(c.notional_raw_e16, notional);
            prop_assert_eq!(c.levels, levels);
            prop_assert_eq!(c.worst_price.map(|p| p.raw()), worst);
            prop_assert_eq!(c.is_complete(), filled == f);
            match c.vwap() {
                None => prop_assert_eq!(filled, 0),
                Some(v) => {
                    prop_assert_eq!(v.notional_raw_e16(), notional);
                    prop_assert_eq!(v.qty_raw(), filled);
                    let down = notional.div_euclid(i128::from(filled));
                    prop_assert_eq!(i128::from(v.to_price(Rounding::Down).raw()), down);
                }
            }
        }
    }
    let (bb, ba) = (model.best(Side::Buy), model.best(Side::Sell));
    prop_assert_eq!(book.best_bid_raw(), bb);
    prop_assert_eq!(book.best_ask_raw(), ba);
    let crossed = matches!((bb, ba), (Some((b, _)), Some((a, _))) if b >= a);
    prop_assert_eq!(book.is_crossed(), crossed);
    let spread = match (bb, ba) {
        (Some((b, _)), Some((a, _))) => Some(i128::from(a) - i128::from(b)),
        _ => None,
    };
    prop_assert_eq!(book.spread_raw(), spread);
    prop_assert_eq!(
        book.spread().map(|p| i128::from(p.raw())),
        spread.filter(|s| i64::try_from(*s).is_ok())
    );
    let mid2 = match (bb, ba) {
        (Some((b, _)), Some((a, _))) => Some(i128::from(a) + i128::from(b)),
        _ => None,
    };
    prop_assert_eq!(book.mid_x2_raw(), mid2);
    prop_assert_eq!(
        book.mid(Rounding::Down).map(|p| i128::from(p.raw())),
        mid2.map(|m| m.div_euclid(2))
    );
    let tob = book.top_of_book();
    prop_assert_eq!(tob.bid.map(|l| (l.price.raw(), l.qty.raw())), bb);
    prop_assert_eq!(tob.ask.map(|l| (l.price.raw(), l.qty.raw())), ba);
    prop_assert_eq!(tob.is_crossed(), crossed);
    prop_assert_eq!(book.is_empty(), bb.is_none() && ba.is_none());
    Ok(())
}

fn run(
    config: BookConfig,
    ops: &[Op],
    probes: &[i64],
    fills: &[i64],
    n: usize,
) -> Result<(), TestCaseError> {
    let mut book = L2Book::with_config(id(), config).unwrap();
    let mut model = RefBook::default();
    let cheap_checks = config.window_ticks <= 1024;
    for (i, op) in ops.iter().enumerate() {
        apply(&mut book, &mut model, op, i as u64 + 1);
        if cheap_checks {
            book.check_invariants().map_err(TestCaseError::fail)?;
        }
        let mut p = probes.to_vec();
        if let Op::Raw(_, price, _) | Op::Typed(_, price, _) = op {
            p.push(*price);
        }
        compare(&book, &model, &p, fills, n)?;
    }
    book.check_invariants().map_err(TestCaseError::fail)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn book_matches_btreemap_reference(
        config in config(),
        ops in any::<bool>().prop_flat_map(|g| prop::collection::vec(op(g), 1..120)),
        probes in prop::collection::vec(price(), 0..6),
        fills in prop::collection::vec(
            prop_oneof![Just(0i64), 1i64..5_000_000_000, 1i64..i64::MAX, Just(i64::MAX)],
            1..4,
        ),
        n in 0usize..30,
    ) {
        run(config, &ops, &probes, &fills, n)?;
    }

    /// A quote feed: a random-walk mid with steps of up to ±150 ticks and a
    /// spread of 1-4 ticks, each quote applied with `set_best` on both
    /// sides. Each move clears a range of levels on one side (often across
    /// several bitmap words, sometimes past the window's edge) and leaves the
    /// old best behind on the other, so the quote path's range clearing, its
    /// fallback paths and re-centring are all checked against deleting the
    /// better levels one at a time; depth updates and zero quantities are
    /// mixed in.
    #[test]
    fn quote_stream_matches_reference(
        config in config(),
        steps in prop::collection::vec(
            (-150i64..150, 1i64..5, 0i64..3_000_000, 0i64..3_000_000, 0u8..8, -40i64..40),
            1..300,
        ),
    ) {
        let mut book = L2Book::with_config(id(), config).unwrap();
        let mut model = RefBook::default();
        let mut mid = CENTRE;
        for &(step, spread, bq, aq, extra, k) in &steps {
            mid += step * TICK;
            let (bid, ask) = (mid - spread / 2 * TICK, mid + (spread + 1) / 2 * TICK);
            if extra % 2 == 0 {
                set_best(&mut book, &mut model, Side::Buy, bid, bq);
                set_best(&mut book, &mut model, Side::Sell, ask, aq);
            } else {
                // Both sides in one call: the same as the two calls above.
                let better = |m: &RefBook, side: Side, p: i64| {
                    m.levels(side)
                        .iter()
                        .take_while(|l| if side == Side::Buy { l.0 > p } else { l.0 < p })
                        .count()
                };
                let want = (better(&model, Side::Buy, bid), better(&model, Side::Sell, ask));
                let got = book.set_best_bid_ask(&lvl(bid, bq), &lvl(ask, aq)).unwrap();
                prop_assert_eq!(got, want);
                for (side, p, q) in [(Side::Buy, bid, bq), (Side::Sell, ask, aq)] {
                    while let Some((l, _)) = model.best(side).filter(|l| if side == Side::Buy { l.0 > p } else { l.0 < p }) {
                        model.set(side, l, 0);
                    }
                    model.set(side, p, q);
                }
            }
            // Now and then a depth update behind the top (or a delete).
            if extra == 0 {
                let (s, p) = if k < 0 { (Side::Buy, bid + k * TICK) } else { (Side::Sell, ask + k * TICK) };
                let q = if k % 3 == 0 { 0 } else { bq + 1 };
                book.update_raw(s, p, q).unwrap();
                model.set(s, p, q);
            }
            if config.window_ticks <= 1024 {
                book.check_invariants().map_err(TestCaseError::fail)?;
            }
            compare(&book, &model, &[bid, ask, mid], &[100_000_000, 4_000_000_000], 8)?;
        }
        book.check_invariants().map_err(TestCaseError::fail)?;
    }

    /// A drifting market: the top walks far in one direction, so every window
    /// size has to re-centre many times while deletes chase the old levels.
    #[test]
    fn drifting_top_matches_reference(
        config in config(),
        steps in prop::collection::vec((side(), -30i64..30, qty(), 0i64..40), 1..300),
    ) {
        let mut book = L2Book::with_config(id(), config).unwrap();
        let mut model = RefBook::default();
        for (i, &(s, k, q, drift)) in steps.iter().enumerate() {
            let centre = CENTRE + (i as i64) * drift * TICK;
            let p = centre + k * TICK;
            book.update_raw(s, p, q).unwrap();
            model.set(s, p, q);
            compare(&book, &model, &[p, centre], &[100_000_000], 5)?;
        }
        book.check_invariants().map_err(TestCaseError::fail)?;
    }
}
