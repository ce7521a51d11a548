//! The venue's market-data fast paths against its general path, on random
//! streams of snapshots, depth messages, quotes and trades:
//!
//! * the idle path (taken while nothing of ours rests or waits on an
//!   instrument): the venue's book, the last price, the results and the
//!   reports must be the same either way;
//! * the quiet paths (taken while our orders rest, for depth messages and
//!   quotes that touch none of our levels and trades that reach none of our
//!   prices), against a venue with them switched off, while both venues
//!   place, fill and cancel the same orders: every result, report, order,
//!   position and book must be the same, with either queue model (the
//!   probabilistic one draws from its generator only where a depth change
//!   reaches one of our levels, so a draw too many or too few would show).

mod common;

use common::*;
use veloz_core::events::{BookDelta, BookDeltas, EventTimes, Level, MarketEvent, Quote, Trade};
use veloz_core::{AggressorSide, InstrumentId, PositionSide, Price, Quantity, Side, TradeId};
use veloz_sim::{
    ConservativeQueue, InstrumentSettings, OrderRef, ProbabilisticQueue, QueueModel, SimConfig,
    SimExchange,
};

/// A small deterministic generator (the stream must be the same every run).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn level(ticks: i64, lots: i64) -> Level {
    Level {
        price: Price::from_raw(ticks * 10_000_000, 1),
        qty: Quantity::from_raw(lots * 100_000, 3),
    }
}

/// The next event of the stream, around a random-walk mid (in 0.1 ticks).
fn event(r: &mut Rng, id: InstrumentId, mid: &mut i64, step: u64) -> MarketEvent {
    *mid += r.below(21) as i64 - 10;
    let times = EventTimes::new(t(1_000 + step), t(1_000 + step));
    let lots = |r: &mut Rng| {
        if r.below(5) == 0 {
            0
        } else {
            1 + r.below(300) as i64
        }
    };
    match r.below(20) {
        0..=10 => {
            let deltas = (0..1 + r.below(3))
                .map(|_| {
                    let side = if r.below(2) == 0 {
                        Side::Buy
                    } else {
                        Side::Sell
                    };
                    let off = r.below(30) as i64;
                    let ticks = match side {
                        Side::Buy => *mid - 1 - off,
                        Side::Sell => *mid + 1 + off,
                    };
                    // Now and then a refused message (negative quantity).
                    let mut l = level(ticks, lots(r));
                    if r.below(200) == 0 {
                        l.qty = Quantity::from_raw(-1, 3);
                    }
                    BookDelta { side, level: l }
                })
                .collect();
            MarketEvent::BookDeltas(BookDeltas {
                instrument: id,
                first_update_id: step,
                last_update_id: step,
                prev_last_update_id: None,
                deltas,
                times,
            })
        }
        11..=16 => {
            let spread = 1 + r.below(3) as i64;
            MarketEvent::Quote(Quote {
                instrument: id,
                bid: level(*mid, lots(r)),
                ask: level(*mid + spread, lots(r)),
                update_id: (r.below(2) == 0).then_some(step),
                times,
            })
        }
        17 | 18 => MarketEvent::Trade(Trade {
            instrument: id,
            trade_id: TradeId(step),
            price: level(*mid + r.below(5) as i64 - 2, 0).price,
            qty: level(0, lots(r)).qty,
            aggressor: if r.below(2) == 0 {
                AggressorSide::Buyer
            } else {
                AggressorSide::Seller
            },
            times,
        }),
        _ => {
            let bids: Vec<Level> = (1..6).map(|k| level(*mid - k, lots(r) + 1)).collect();
            let asks: Vec<Level> = (1..6).map(|k| level(*mid + k, lots(r) + 1)).collect();
            MarketEvent::BookSnapshot(veloz_core::events::BookSnapshot {
                instrument: id,
                last_update_id: step,
                bids,
                asks,
                times,
            })
        }
    }
}

fn book(v: &SimExchange, id: InstrumentId, side: Side) -> Vec<String> {
    v.market_book(id)
        .unwrap()
        .l2()
        .levels(side)
        .map(|l| format!("{}@{}", l.qty, l.price))
        .collect()
}

#[test]
fn fast_path_matches_the_general_path() {
    let (mut fast, id) = venue_with(usdm());
    let (mut general, _) = venue_with(usdm());
    // A bid far below anything the stream sends keeps `general` on its
    // general path for the whole stream; it never fills.
    general.deposit_futures(A, money("100000", "USDT")).unwrap();
    let far = general
        .submit(A, &limit(id, "far", Side::Buy, "0.010", "1000"), None, t(1))
        .unwrap();
    general.take_reports();
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut mid = 500_000i64;
    for step in 0..6_000u64 {
        let ev = event(&mut r, id, &mut mid, step);
        let a = fast.on_market_event(&ev).map_err(|e| e.to_string());
        let b = general.on_market_event(&ev).map_err(|e| e.to_string());
        assert_eq!(a, b, "step {step}: {ev:?}");
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(
                book(&fast, id, side),
                book(&general, id, side),
                "step {step}"
            );
        }
        assert_eq!(fast.last_price(id), general.last_price(id), "step {step}");
        assert!(fast.take_reports().is_empty(), "step {step}");
        assert!(general.take_reports().is_empty(), "step {step}");
        assert_eq!(fast.now(), general.now());
    }
    assert!(general.order(id, far).is_some_and(|o| o.filled.is_zero()));
    assert!(fast.last_price(id).is_some());
}

/// A USD-M venue with `queue`, both accounts funded.
fn funded_venue(queue: Box<dyn QueueModel>) -> (SimExchange, InstrumentId) {
    let inst = usdm();
    let id = inst.id;
    let mut v = SimExchange::new(SimConfig::default(), queue);
    v.add_instrument(inst, InstrumentSettings::default())
        .unwrap();
    for a in [A, B] {
        v.open_account(a);
        v.deposit_futures(a, money("1000000", "USDT")).unwrap();
    }
    v.take_reports();
    (v, id)
}

/// A price `ticks` tenths as text.
fn px(ticks: i64) -> String {
    format!("{}.{}", ticks / 10, ticks % 10)
}

/// Does the event miss every level and price of ours (what the quiet paths
/// take, given nothing waits)? Counted to show the stream exercises them.
fn misses(v: &SimExchange, id: InstrumentId, ev: &MarketEvent) -> bool {
    let open: Vec<(Side, i64)> = [A, B]
        .iter()
        .flat_map(|a| v.open_orders(*a, id))
        .filter_map(|o| o.price.map(|p| (o.side, p.raw())))
        .collect();
    if open.is_empty() {
        return false;
    }
    match ev {
        MarketEvent::BookDeltas(d) => d
            .deltas
            .iter()
            .all(|x| !open.contains(&(x.side, x.level.price.raw()))),
        MarketEvent::Quote(q) => open.iter().all(|(s, p)| match s {
            Side::Buy => *p < q.bid.price.raw(),
            Side::Sell => *p > q.ask.price.raw(),
        }),
        MarketEvent::Trade(t) => open.iter().all(|(s, p)| match (s, t.aggressor) {
            (Side::Buy, AggressorSide::Seller) => *p < t.price.raw(),
            (Side::Sell, AggressorSide::Buyer) => *p > t.price.raw(),
            _ => true,
        }),
        _ => false,
    }
}

fn quiet_paths_match_the_general_path_with(queue: impl Fn() -> Box<dyn QueueModel>) {
    let (mut fast, id) = funded_venue(queue());
    let (mut general, _) = funded_venue(queue());
    general.set_quiet_paths(false);
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut mid = 500_000i64;
    let (mut quiet, mut fills, mut placed) = (0u32, 0usize, 0u32);
    for step in 0..8_000u64 {
        // Now and then both venues get the same command: a limit order a
        // few ticks from the mid (some marketable, most resting), or a
        // cancel of the oldest open order.
        if step % 7 == 0 {
            let acct = if r.below(3) == 0 { B } else { A };
            let now = t(1_000 + step);
            let (a, b) = if r.below(4) == 0 {
                let open = fast.open_orders(acct, id);
                match open.first().map(|o| o.venue_order_id) {
                    Some(v) => (
                        fast.cancel(acct, id, OrderRef::Venue(v), now),
                        general.cancel(acct, id, OrderRef::Venue(v), now),
                    ),
                    None => (Ok(()), Ok(())),
                }
            } else {
                let side = if r.below(2) == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let off = r.below(16) as i64 - 2;
                let ticks = match side {
                    Side::Buy => mid - off,
                    Side::Sell => mid + off,
                };
                let o = limit(id, &format!("o{step}"), side, "0.010", &px(ticks));
                placed += 1;
                (
                    fast.submit(acct, &o, None, now).map(|_| ()),
                    general.submit(acct, &o, None, now).map(|_| ()),
                )
            };
            assert_eq!(a, b, "step {step}: command");
        }
        let ev = event(&mut r, id, &mut mid, step);
        if misses(&fast, id, &ev) {
            quiet += 1;
        }
        let a = fast.on_market_event(&ev).map_err(|e| e.to_string());
        let b = general.on_market_event(&ev).map_err(|e| e.to_string());
        assert_eq!(a, b, "step {step}: {ev:?}");
        let (ra, rb) = (fast.take_reports(), general.take_reports());
        fills += ra
            .iter()
            .filter(|x| matches!(x, veloz_sim::SimReport::Trade(_)))
            .count();
        assert_eq!(ra, rb, "step {step}: reports");
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(
                book(&fast, id, side),
                book(&general, id, side),
                "step {step}"
            );
        }
        for acct in [A, B] {
            assert_eq!(
                fast.open_orders(acct, id),
                general.open_orders(acct, id),
                "step {step}: open orders"
            );
            assert_eq!(
                fast.position(acct, id, PositionSide::Both),
                general.position(acct, id, PositionSide::Both),
                "step {step}: position"
            );
        }
        assert_eq!(fast.last_price(id), general.last_price(id), "step {step}");
        let mb = |v: &SimExchange| {
            let m = v.market_book(id).unwrap();
            [Side::Buy, Side::Sell].map(|s| m.best_effective(s))
        };
        assert_eq!(mb(&fast), mb(&general), "step {step}: effective book");
    }
    // The stream took the quiet paths often, and filled and rested orders.
    assert!(quiet > 2_000, "quiet events: {quiet}");
    assert!(fills > 100, "fills: {fills}");
    assert!(placed > 500, "orders placed: {placed}");
}

#[test]
fn quiet_paths_match_the_general_path_conservative_queue() {
    quiet_paths_match_the_general_path_with(|| Box::new(ConservativeQueue));
}

#[test]
fn quiet_paths_match_the_general_path_probabilistic_queue() {
    quiet_paths_match_the_general_path_with(|| Box::new(ProbabilisticQueue::new(2, 11).unwrap()));
}
