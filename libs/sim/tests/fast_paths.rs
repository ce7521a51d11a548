//! The venue's market-data fast path (taken while nothing of ours rests or
//! waits on an instrument) against its general path, on a random stream of
//! snapshots, depth messages, quotes and trades: the venue's book, the last
//! price, the results and the reports must be the same either way.

mod common;

use common::*;
use veloz_core::events::{BookDelta, BookDeltas, EventTimes, Level, MarketEvent, Quote, Trade};
use veloz_core::{AggressorSide, InstrumentId, Price, Quantity, Side, TradeId};
use veloz_sim::SimExchange;

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
