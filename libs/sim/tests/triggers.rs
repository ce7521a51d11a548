//! Conditional orders: stop and take-profit on last or mark price,
//! immediate-trigger refusals, close-position, trailing stops, spot locking of
//! conditional orders.

mod common;

use common::*;
use veloz_core::{AggressorSide, OrderFlags, OrderType, PositionSide, Side, TriggerPriceType};
use veloz_sim::{ExpireReason, OrderRef, SimExchange, SimOrderStatus};

fn futures_long(qty: &str) -> (SimExchange, veloz_core::InstrumentId) {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("59990", "100")], &[("60000", "100")], 0))
        .unwrap();
    if qty != "0" {
        v.submit(A, &market(id, "open", Side::Buy, qty), None, t(1))
            .unwrap();
    }
    v.on_market_event(&trade(id, "60000", "1", AggressorSide::Buyer, 2))
        .unwrap();
    v.take_reports();
    (v, id)
}

#[test]
fn stop_market_triggers_on_last_price_and_takes() {
    let (mut v, id) = futures_long("1");
    // A buy stop below the last price would trigger at once.
    let e = v
        .submit(
            A,
            &stop(
                id,
                "bad",
                Side::Buy,
                OrderType::StopMarket,
                "1",
                "59000",
                None,
            ),
            None,
            t(3),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.msg.as_str()),
        (-2021, "Order would immediately trigger.")
    );
    let sl = v
        .submit(
            A,
            &stop(
                id,
                "sl",
                Side::Sell,
                OrderType::StopMarket,
                "1",
                "59000",
                None,
            ),
            None,
            t(3),
        )
        .unwrap();
    assert_eq!(v.order(id, sl).unwrap().status, SimOrderStatus::New);
    assert!(!v.order(id, sl).unwrap().triggered);
    v.on_market_event(&trade(id, "59500", "1", AggressorSide::Seller, 4))
        .unwrap();
    assert!(!v.order(id, sl).unwrap().triggered);
    v.on_market_event(&trade(id, "59000", "1", AggressorSide::Seller, 5))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(events(&r, "sl"), ["accepted", "triggered", "filled"]);
    let f = fills(&r);
    assert_eq!(
        (f[0].price, f[0].qty, f[0].maker),
        (p("59990"), q("1"), false)
    );
    assert_eq!(v.position(A, id, PositionSide::Both).unwrap().qty, q("0"));
}

#[test]
fn mark_price_triggers_ignore_trades() {
    let (mut v, id) = futures_long("1");
    let mut o = stop(
        id,
        "slm",
        Side::Sell,
        OrderType::StopMarket,
        "1",
        "59000",
        None,
    );
    o.trigger_type = TriggerPriceType::Mark;
    let sl = v.submit(A, &o, None, t(3)).unwrap();
    v.on_market_event(&trade(id, "58000", "1", AggressorSide::Seller, 4))
        .unwrap();
    assert!(!v.order(id, sl).unwrap().triggered);
    v.on_market_event(&mark(id, "59100", None, None, 5))
        .unwrap();
    assert!(!v.order(id, sl).unwrap().triggered);
    v.on_market_event(&mark(id, "58999.9", None, None, 6))
        .unwrap();
    assert_eq!(v.order(id, sl).unwrap().status, SimOrderStatus::Filled);
}

#[test]
fn close_position_take_profit_closes_whatever_is_held() {
    let (mut v, id) = futures_long("2");
    let mut tp = stop(
        id,
        "tp",
        Side::Sell,
        OrderType::TakeProfitMarket,
        "0",
        "61000",
        None,
    );
    tp.flags = OrderFlags::CLOSE_POSITION;
    let tp = v.submit(A, &tp, None, t(3)).unwrap();
    // More is bought before the trigger: the close takes all 3.
    v.submit(A, &market(id, "more", Side::Buy, "1"), None, t(4))
        .unwrap();
    v.on_market_event(&snapshot(id, &[("61000", "100")], &[("61010", "100")], 5))
        .unwrap();
    v.on_market_event(&trade(id, "61000", "1", AggressorSide::Buyer, 6))
        .unwrap();
    let o = v.order(id, tp).unwrap();
    assert_eq!((o.status, o.filled), (SimOrderStatus::Filled, q("3")));
    assert_eq!(v.position(A, id, PositionSide::Both).unwrap().qty, q("0"));
}

#[test]
fn reduce_only_stop_with_nothing_to_reduce_expires() {
    let (mut v, id) = futures_long("1");
    let mut sl = stop(
        id,
        "sl",
        Side::Sell,
        OrderType::StopMarket,
        "1",
        "59000",
        None,
    );
    sl.flags = OrderFlags::REDUCE_ONLY;
    let sl = v.submit(A, &sl, None, t(3)).unwrap();
    v.submit(A, &market(id, "flat", Side::Sell, "1"), None, t(4))
        .unwrap();
    v.on_market_event(&trade(id, "58000", "1", AggressorSide::Seller, 5))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(v.order(id, sl).unwrap().status, SimOrderStatus::Expired);
    assert_eq!(
        order_reports(&r, "sl").last().unwrap().expire_reason,
        Some(ExpireReason::NothingToReduce)
    );
}

#[test]
fn trailing_stop_follows_the_high_and_triggers_on_the_callback() {
    let (mut v, id) = futures_long("1");
    let ts = v
        .submit(
            A,
            &trailing(id, "ts", Side::Sell, "1", "1", Some("61000")),
            None,
            t(3),
        )
        .unwrap();
    let px = |v: &mut SimExchange, price: &str, ms| {
        v.on_market_event(&trade(id, price, "0.001", AggressorSide::Buyer, ms))
            .unwrap();
    };
    px(&mut v, "60500", 4);
    assert!(!v.order(id, ts).unwrap().trailing.unwrap().activated);
    px(&mut v, "61000", 5);
    assert!(v.order(id, ts).unwrap().trailing.unwrap().activated);
    px(&mut v, "62000", 6);
    // 62000 × 0.99
    assert_eq!(v.order(id, ts).unwrap().trigger_price, Some(p("61380")));
    px(&mut v, "61400", 7);
    assert!(!v.order(id, ts).unwrap().triggered);
    v.on_market_event(&snapshot(id, &[("61370", "100")], &[("61390", "100")], 8))
        .unwrap();
    px(&mut v, "61380", 9);
    let r = v.take_reports();
    assert_eq!(events(&r, "ts"), ["accepted", "triggered", "filled"]);
    assert_eq!(fills(&r)[0].price, p("61370"));
    // Callback rates outside 0.1..=10 % are refused.
    let e = v
        .submit(
            A,
            &trailing(id, "bad", Side::Sell, "1", "11", None),
            None,
            t(10),
        )
        .unwrap_err();
    assert_eq!(e.code, -1130);
}

#[test]
fn spot_stop_limit_locks_at_placement_and_rests_after_trigger() {
    let (mut v, id) = venue_with(spot());
    v.deposit_spot(A, money("1000", "USDT")).unwrap();
    v.deposit_spot(A, money("2", "BTC")).unwrap();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    v.on_market_event(&trade(id, "100", "1", AggressorSide::Buyer, 1))
        .unwrap();
    // Take-profit limit buy: triggers when the price falls to 95.
    let tp = v
        .submit(
            A,
            &stop(
                id,
                "tp",
                Side::Buy,
                OrderType::TakeProfitLimit,
                "2",
                "95",
                Some("95.5"),
            ),
            None,
            t(2),
        )
        .unwrap();
    let usdt = v.account(A).unwrap().spot_balance(cur("USDT"));
    assert_eq!(
        (usdt.free, usdt.locked),
        (money("809", "USDT").raw(), money("191", "USDT").raw())
    );
    // Stop-loss sell locks the base.
    let sl = v
        .submit(
            A,
            &stop(
                id,
                "sl",
                Side::Sell,
                OrderType::StopMarket,
                "1.5",
                "90",
                None,
            ),
            None,
            t(2),
        )
        .unwrap();
    assert_eq!(
        v.account(A).unwrap().spot_balance(cur("BTC")).locked,
        money("1.5", "BTC").raw()
    );
    let e = v
        .submit(
            A,
            &stop(id, "x", Side::Sell, OrderType::StopMarket, "1", "101", None),
            None,
            t(2),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.msg.as_str()),
        (-2010, "Order would trigger immediately.")
    );
    v.on_market_event(&trade(id, "95", "1", AggressorSide::Seller, 3))
        .unwrap();
    let o = v.order(id, tp).unwrap();
    assert!(o.triggered && o.is_resting());
    assert_eq!(o.price, Some(p("95.5")));
    v.cancel(A, id, OrderRef::Venue(sl), t(4)).unwrap();
    v.cancel(A, id, OrderRef::Venue(tp), t(4)).unwrap();
    let a = v.account(A).unwrap();
    assert_eq!(a.spot_balance(cur("USDT")).locked, 0);
    assert_eq!(a.spot_balance(cur("BTC")).locked, 0);
    assert_eq!(
        a.spot_balance(cur("USDT")).free,
        money("1000", "USDT").raw()
    );
}
