//! Replay of the real USD-M BTCUSDT capture (2024-08-08 23:54–23:59 UTC,
//! depth@0ms, bookTicker and trades) through the simulated venue with a few
//! resting orders: they fill only when trades reach their price (or the book
//! crosses it), never beyond the traded quantity, and far-away orders never
//! fill.

mod common;

use std::collections::BTreeMap;

use common::*;
use veloz_core::events::MarketEvent;
use veloz_core::fixtures::fixture;
use veloz_core::{AggressorSide, MarketKind, Side, VenueOrderId};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::stream::{parse_depth_snapshot, parse_frame, StreamSource};
use veloz_sim::{SimOrderStatus, SimReport};

struct Placed {
    id: VenueOrderId,
    side: Side,
    price: i64,
    ahead_at_placement: i64,
    /// Volume of qualifying public trades (at or through the price, from the
    /// other side) since placement.
    eligible_volume: i64,
    filled: i64,
}

#[test]
fn resting_orders_fill_only_when_trades_reach_them() {
    let path = fixture("binance/hftbacktest/usdm_btcusdt_20240808.gz").expect("fixture");
    let mut reader = CaptureReader::open(&[path]).expect("capture opens");
    let src = StreamSource::binance(MarketKind::UsdM);
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.take_reports();

    let mut buffered: Vec<MarketEvent> = Vec::new();
    let mut synced = false;
    let mut placed: BTreeMap<VenueOrderId, Placed> = BTreeMap::new();
    let (mut events, mut trades_seen) = (0u64, 0u64);

    while let Some(line) = reader.next_line().expect("capture reads") {
        if line.is_snapshot() {
            let snap = parse_depth_snapshot(id, line.json, line.local).expect("snapshot parses");
            let last = snap.last_update_id;
            v.on_market_event(&MarketEvent::BookSnapshot(snap)).unwrap();
            for ev in buffered.drain(..) {
                if let MarketEvent::BookDeltas(d) = &ev {
                    if d.last_update_id >= last {
                        v.on_market_event(&ev).unwrap();
                    }
                }
            }
            synced = true;
            continue;
        }
        let msg = parse_frame(&src, line.json, line.local).expect("frame parses");
        for ev in msg.into_market_events() {
            if !synced {
                if matches!(ev, MarketEvent::BookDeltas(_)) {
                    buffered.push(ev);
                }
                continue;
            }
            // Place the orders at the first trade after the sync.
            if placed.is_empty() {
                if let MarketEvent::Trade(t0) = &ev {
                    let now = t0.times.exchange;
                    for (cid, side, price) in [
                        ("bid-near", Side::Buy, "61750.0"),
                        ("bid-far", Side::Buy, "61700.0"),
                        ("bid-never", Side::Buy, "60000.0"),
                        ("ask-never", Side::Sell, "63000.0"),
                    ] {
                        let oid = v
                            .submit(A, &limit(id, cid, side, "0.010", price), None, now)
                            .unwrap();
                        let o = v.order(id, oid).unwrap();
                        placed.insert(
                            oid,
                            Placed {
                                id: oid,
                                side,
                                price: p(price).raw(),
                                ahead_at_placement: o.queue_ahead,
                                eligible_volume: 0,
                                filled: 0,
                            },
                        );
                    }
                    v.take_reports();
                }
            }
            events += 1;
            if let MarketEvent::Trade(t) = &ev {
                trades_seen += 1;
                for pl in placed.values_mut() {
                    let reaches = match (pl.side, t.aggressor) {
                        (Side::Buy, AggressorSide::Seller) => t.price.raw() <= pl.price,
                        (Side::Sell, AggressorSide::Buyer) => t.price.raw() >= pl.price,
                        _ => false,
                    };
                    if reaches {
                        pl.eligible_volume += t.qty.raw();
                    }
                }
            }
            v.on_market_event(&ev).unwrap();
            let reports = v.take_reports();
            for r in &reports {
                let (Some(o), Some(f)) = (r.as_order(), r.as_fill()) else {
                    continue;
                };
                let Some(oid) = o.event.venue_order_id else {
                    continue;
                };
                let Some(pl) = placed.get_mut(&oid) else {
                    continue;
                };
                pl.filled += f.qty.raw();
                // A resting order fills as a maker at its own price...
                assert_eq!(f.price.raw(), pl.price);
                assert_eq!(f.liquidity, veloz_core::Liquidity::Maker);
                // ...only because a trade reached it or the book crossed it.
                match &ev {
                    MarketEvent::Trade(t) => {
                        let ok = match pl.side {
                            Side::Buy => {
                                t.aggressor == AggressorSide::Seller && t.price.raw() <= pl.price
                            }
                            Side::Sell => {
                                t.aggressor == AggressorSide::Buyer && t.price.raw() >= pl.price
                            }
                        };
                        assert!(
                            ok,
                            "order {} filled by a trade that does not reach it: {t:?}",
                            pl.id
                        );
                        // Never beyond the volume that traded at or through the price.
                        assert!(pl.filled <= pl.eligible_volume);
                    }
                    MarketEvent::BookDeltas(_)
                    | MarketEvent::BookSnapshot(_)
                    | MarketEvent::Quote(_) => {
                        let book = v.market_book(id).unwrap().l2();
                        let crossed = match pl.side {
                            Side::Buy => book.best_ask_raw().is_some_and(|(a, _)| a <= pl.price),
                            Side::Sell => book.best_bid_raw().is_some_and(|(b, _)| b >= pl.price),
                        };
                        assert!(
                            crossed,
                            "order {} filled by a book event that does not cross it",
                            pl.id
                        );
                    }
                    other => panic!("unexpected fill on {other:?}"),
                }
            }
            assert!(!reports
                .iter()
                .any(|r| matches!(r, SimReport::Liquidation(_))));
        }
    }
    assert!(synced, "the capture has a snapshot");
    assert!(
        events > 90_000 && trades_seen > 20_000,
        "{events} events, {trades_seen} trades"
    );
    let by_price = |price: &str| {
        placed
            .values()
            .find(|pl| pl.price == p(price).raw())
            .unwrap()
    };
    // The market fell through 61750 and 61700 (low 61590.3): both bids filled,
    // after joining behind a visible queue.
    for price in ["61750.0", "61700.0"] {
        let pl = by_price(price);
        let o = v.order(id, pl.id).unwrap();
        assert_eq!(o.status, SimOrderStatus::Filled, "{price}");
        assert_eq!(pl.filled, q("0.010").raw());
        assert!(pl.eligible_volume >= pl.filled);
    }
    assert!(
        by_price("61750.0").ahead_at_placement > 0,
        "joined behind the visible quantity"
    );
    // Far-away orders never filled.
    for price in ["60000.0", "63000.0"] {
        let pl = by_price(price);
        assert_eq!(pl.filled, 0);
        assert_eq!(pl.eligible_volume, 0);
        assert_eq!(v.order(id, pl.id).unwrap().status, SimOrderStatus::New);
    }
    // The account is long 0.02 BTC at the average of the two bids.
    let pos = v.position(A, id, veloz_core::PositionSide::Both).unwrap();
    assert_eq!(pos.qty, q("0.020"));
    assert_eq!(pos.entry_price, p("61725"));
}
