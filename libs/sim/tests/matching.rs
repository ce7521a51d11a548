//! Matching: order types and time in force, partial fills, consumed liquidity,
//! the conservative queue model on a scripted trade/depth sequence,
//! trade-through and cross rules, simulated-vs-simulated matching, self-trade
//! prevention, cancel, modify and GTD expiry.

mod common;

use common::*;
use veloz_core::events::ModifyOrder;
use veloz_core::{
    AggressorSide, OrderFlags, OrderType, Side, TimeInForce, UnixNanos, VenueOrderId,
};
use veloz_sim::{ExpireReason, OrderRef, SimExchange, SimOrderStatus, StpMode};

fn funded_spot() -> (SimExchange, veloz_core::InstrumentId) {
    let (mut v, id) = venue_with(spot());
    for a in [A, B] {
        v.deposit_spot(a, money("1000000", "USDT")).unwrap();
        v.deposit_spot(a, money("1000", "BTC")).unwrap();
    }
    v.take_reports();
    (v, id)
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn limit_takes_level_by_level_and_consumed_liquidity_is_not_taken_twice() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(
        id,
        &[("99", "5")],
        &[("101", "1"), ("102", "2")],
        0,
    ))
    .unwrap();
    let oid = v
        .submit(A, &limit(id, "a1", Side::Buy, "2.5", "102"), None, t(1))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![
            (s("a1"), s("101.00"), s("1.00000"), false),
            (s("a1"), s("102.00"), s("1.50000"), false)
        ]
    );
    assert_eq!(events(&r, "a1"), ["accepted", "filled", "filled"]);
    let o = v.order(id, oid).unwrap();
    assert_eq!(o.status, SimOrderStatus::Filled);
    assert_eq!(
        o.avg_price(veloz_core::Rounding::HalfEven).unwrap(),
        p("101.6")
    );
    // Taker fee 0.2 % of the base received.
    let f = fills(&r);
    assert_eq!(f[0].fee, money("0.002", "BTC"));
    assert_eq!(f[1].fee, money("0.003", "BTC"));
    // Only 0.5 is left at 102 until the venue's data moves.
    let market = v.market_book(id).unwrap();
    assert_eq!(market.effective(Side::Sell, p("102").raw()), q("0.5").raw());
    v.submit(B, &limit(id, "b1", Side::Buy, "1", "102"), None, t(2))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("b1"), s("102.00"), s("0.50000"), false)]
    );
    assert_eq!(events(&r, "b1"), ["accepted", "filled"]);
    // The venue shrinks the level by 0.8: 1.2 of our 2.0 consumption is left,
    // so nothing is offered at 102.
    v.on_market_event(&depth(id, Side::Sell, "102", "1.2", 3))
        .unwrap();
    assert!(fills(&v.take_reports()).is_empty());
    // New liquidity joins at 102: b1's rest (a bid at 102) is crossed and
    // fills as a maker at its own price.
    v.on_market_event(&depth(id, Side::Sell, "102", "3", 4))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("b1"), s("102.00"), s("0.50000"), true)]
    );
}

#[test]
fn market_and_ioc_leftovers_expire() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(
        id,
        &[("99", "5")],
        &[("101", "1"), ("103", "1")],
        0,
    ))
    .unwrap();
    v.submit(A, &market(id, "m1", Side::Buy, "3"), None, t(1))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![
            (s("m1"), s("101.00"), s("1.00000"), false),
            (s("m1"), s("103.00"), s("1.00000"), false)
        ]
    );
    assert_eq!(
        events(&r, "m1"),
        ["accepted", "filled", "filled", "expired"]
    );
    let exp = order_reports(&r, "m1").last().unwrap().expire_reason;
    assert_eq!(exp, Some(ExpireReason::ImmediateLeftover));

    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(
        id,
        &[("99", "5")],
        &[("101", "1"), ("103", "1")],
        0,
    ))
    .unwrap();
    let ioc = order(
        id,
        "i1",
        Side::Buy,
        OrderType::Limit,
        "3",
        Some("102"),
        TimeInForce::Ioc,
    );
    let oid = v.submit(A, &ioc, None, t(1)).unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("i1"), s("101.00"), s("1.00000"), false)]
    );
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::Expired);
    assert_eq!(v.order(id, oid).unwrap().filled, q("1"));
}

#[test]
fn fok_fills_in_full_or_not_at_all() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "1")], 0))
        .unwrap();
    let fok = |cid, qty| {
        order(
            id,
            cid,
            Side::Buy,
            OrderType::Limit,
            qty,
            Some("101"),
            TimeInForce::Fok,
        )
    };
    // Spot: accepted, then expired without fills.
    v.submit(A, &fok("f1", "2"), None, t(1)).unwrap();
    let r = v.take_reports();
    assert!(fills(&r).is_empty());
    assert_eq!(events(&r, "f1"), ["accepted", "expired"]);
    v.submit(A, &fok("f2", "1"), None, t(2)).unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("f2"), s("101.00"), s("1.00000"), false)]
    );

    // Futures: refused with -5021.
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "1")], 0))
        .unwrap();
    let e = v
        .submit(
            A,
            &order(
                id,
                "f3",
                Side::Buy,
                OrderType::Limit,
                "2",
                Some("101"),
                TimeInForce::Fok,
            ),
            None,
            t(1),
        )
        .unwrap_err();
    assert_eq!(e.code, -5021);
}

#[test]
fn post_only_is_refused_if_it_would_take() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "1")], 0))
        .unwrap();
    let mut lm = limit(id, "lm", Side::Buy, "1", "101");
    lm.flags = OrderFlags::POST_ONLY;
    let e = v.submit(A, &lm, None, t(1)).unwrap_err();
    assert_eq!(
        (e.code, e.msg.as_str()),
        (-2010, "Order would immediately match and take.")
    );
    lm.price = Some(p("100"));
    let oid = v.submit(A, &lm, None, t(2)).unwrap();
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::New);
    assert!(fills(&v.take_reports()).is_empty());

    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "1")], 0))
        .unwrap();
    let gtx = order(
        id,
        "g1",
        Side::Sell,
        OrderType::Limit,
        "1",
        Some("99"),
        TimeInForce::Gtx,
    );
    let e = v.submit(A, &gtx, None, t(1)).unwrap_err();
    assert_eq!(e.code, -5022);
    let gtx = order(
        id,
        "g2",
        Side::Sell,
        OrderType::Limit,
        "1",
        Some("100"),
        TimeInForce::Gtx,
    );
    v.submit(A, &gtx, None, t(2)).unwrap();
}

#[test]
fn conservative_queue_only_trades_at_our_price_move_us() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("100", "5")], &[("101", "5")], 0))
        .unwrap();
    let oid = v
        .submit(A, &limit(id, "q1", Side::Buy, "1", "100"), None, t(1))
        .unwrap();
    let ahead = |v: &SimExchange| v.order(id, oid).unwrap().queue_ahead;
    assert_eq!(ahead(&v), q("5").raw());
    // A buyer-initiated trade at our price does not touch our bid queue.
    v.on_market_event(&trade(id, "100", "5", AggressorSide::Buyer, 2))
        .unwrap();
    assert_eq!(ahead(&v), q("5").raw());
    // A sell trade of 3 at our price: 3 less ahead, no fill.
    v.on_market_event(&trade(id, "100", "3", AggressorSide::Seller, 3))
        .unwrap();
    assert_eq!(ahead(&v), q("2").raw());
    // The depth update that reflects that trade changes nothing.
    v.on_market_event(&depth(id, Side::Buy, "100", "2", 4))
        .unwrap();
    assert_eq!(ahead(&v), q("2").raw());
    // A cancel of 0.5: assumed behind us, but ahead is capped at the level.
    v.on_market_event(&depth(id, Side::Buy, "100", "1.5", 5))
        .unwrap();
    assert_eq!(ahead(&v), q("1.5").raw());
    // New orders join behind us.
    v.on_market_event(&depth(id, Side::Buy, "100", "10", 6))
        .unwrap();
    assert_eq!(ahead(&v), q("1.5").raw());
    assert!(fills(&v.take_reports()).is_empty());
    // A sell trade of 2: 1.5 ahead, then 0.5 fills us as maker.
    v.on_market_event(&trade(id, "100", "2", AggressorSide::Seller, 7))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("q1"), s("100.00"), s("0.50000"), true)]
    );
    assert_eq!(ahead(&v), 0);
    v.on_market_event(&trade(id, "100", "1", AggressorSide::Seller, 8))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("q1"), s("100.00"), s("0.50000"), true)]
    );
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::Filled);
    // Maker fee 0.1 % of 0.5 BTC.
    assert_eq!(fills(&r)[0].fee, money("0.0005", "BTC"));
}

#[test]
fn trades_through_our_price_fill_up_to_their_quantity() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("100", "5")], &[("101", "5")], 0))
        .unwrap();
    let oid = v
        .submit(A, &limit(id, "tt", Side::Buy, "1", "100"), None, t(1))
        .unwrap();
    v.on_market_event(&trade(id, "99.99", "0.3", AggressorSide::Seller, 2))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("tt"), s("100.00"), s("0.30000"), true)]
    );
    v.on_market_event(&trade(id, "99.98", "5", AggressorSide::Seller, 3))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("tt"), s("100.00"), s("0.70000"), true)]
    );
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::Filled);
    // One trade through two of our levels fills the better one first and
    // never more than its quantity in total.
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    v.submit(A, &limit(id, "hi", Side::Buy, "1", "100.5"), None, t(1))
        .unwrap();
    v.submit(B, &limit(id, "lo", Side::Buy, "1", "100.2"), None, t(2))
        .unwrap();
    v.on_market_event(&trade(id, "100", "1.4", AggressorSide::Seller, 3))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![
            (s("hi"), s("100.50"), s("1.00000"), true),
            (s("lo"), s("100.20"), s("0.40000"), true)
        ]
    );
}

#[test]
fn a_book_crossing_our_price_fills_us_at_our_price() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("100", "5")], &[("101", "5")], 0))
        .unwrap();
    let oid = v
        .submit(A, &limit(id, "cx", Side::Buy, "1", "100"), None, t(1))
        .unwrap();
    v.on_market_event(&depth(id, Side::Buy, "100", "0", 2))
        .unwrap();
    v.on_market_event(&depth(id, Side::Sell, "99.99", "0.4", 3))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("cx"), s("100.00"), s("0.40000"), true)]
    );
    // The crossing quantity was consumed; more arriving fills the rest.
    v.on_market_event(&depth(id, Side::Sell, "99.99", "1", 4))
        .unwrap();
    let r = v.take_reports();
    assert_eq!(
        fill_summary(&r),
        vec![(s("cx"), s("100.00"), s("0.60000"), true)]
    );
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::Filled);
}

/// A crossing level we already took is no longer effective: an unrelated
/// update (the venue's book still shows it) fills nothing more.
#[test]
fn a_consumed_crossing_level_does_not_fill_twice() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    v.submit(A, &limit(id, "cc", Side::Buy, "1", "100"), None, t(1))
        .unwrap();
    v.take_reports();
    v.on_market_event(&depth(id, Side::Sell, "99.99", "0.4", 2))
        .unwrap();
    assert_eq!(
        fill_summary(&v.take_reports()),
        vec![(s("cc"), s("100.00"), s("0.40000"), true)]
    );
    // The venue still shows 0.4 at 99.99 (below our bid), all of it ours.
    v.on_market_event(&depth(id, Side::Buy, "98", "2", 3))
        .unwrap();
    v.on_market_event(&depth(id, Side::Sell, "102", "2", 4))
        .unwrap();
    assert!(fill_summary(&v.take_reports()).is_empty());
}

/// The sell side of the crossing check: updates that do not reach our ask
/// fill nothing, a bid at or above it fills us at our price.
#[test]
fn a_book_crossing_our_ask_fills_us_at_our_price() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("100", "5")], 0))
        .unwrap();
    let oid = v
        .submit(A, &limit(id, "sx", Side::Sell, "1", "100"), None, t(1))
        .unwrap();
    v.take_reports();
    // Bids below our ask: nothing.
    v.on_market_event(&depth(id, Side::Buy, "99.99", "3", 2))
        .unwrap();
    v.on_market_event(&depth(id, Side::Sell, "100", "0", 3))
        .unwrap();
    assert!(fill_summary(&v.take_reports()).is_empty());
    // A bid at 100.01 crosses our ask at 100: filled at 100.
    v.on_market_event(&depth(id, Side::Buy, "100.01", "0.25", 4))
        .unwrap();
    assert_eq!(
        fill_summary(&v.take_reports()),
        vec![(s("sx"), s("100.00"), s("0.25000"), true)]
    );
    assert_eq!(
        v.order(id, oid).unwrap().status,
        SimOrderStatus::PartiallyFilled
    );
}

#[test]
fn simulated_orders_match_each_other_behind_the_market_queue() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("99", "1")], &[("101", "2")], 0))
        .unwrap();
    let a = v
        .submit(A, &limit(id, "a", Side::Sell, "1", "101"), None, t(1))
        .unwrap();
    assert_eq!(v.order(id, a).unwrap().queue_ahead, q("2").raw());
    v.take_reports();
    v.submit(B, &limit(id, "b", Side::Buy, "3", "101"), None, t(2))
        .unwrap();
    let r = v.take_reports();
    let f = fills(&r);
    assert_eq!(
        fill_summary(&r),
        vec![
            (s("b"), s("101.00"), s("2.00000"), false),
            (s("b"), s("101.00"), s("1.00000"), false),
            (s("a"), s("101.00"), s("1.00000"), true)
        ]
    );
    // Both sides of the simulated trade share its trade id; ids increase.
    assert_eq!(f[0].trade_id, 1);
    assert_eq!(f[1].trade_id, 2);
    assert_eq!(f[2].trade_id, 2);
    // Maker fee for A: 0.1 % of 101 USDT proceeds.
    assert_eq!(f[2].fee, money("0.101", "USDT"));
    let trades: Vec<_> = r
        .iter()
        .filter_map(|x| match x {
            veloz_sim::SimReport::Trade(t) => Some(t.maker),
            _ => None,
        })
        .collect();
    assert_eq!(trades.len(), 2);
    assert_eq!(trades[0], veloz_sim::Counterparty::Market);
    assert!(matches!(trades[1], veloz_sim::Counterparty::Account { account, .. } if account == A));
}

#[test]
fn self_trade_prevention_modes() {
    let run = |mode: StpMode| {
        let (mut v, id) = funded_spot();
        v.on_market_event(&snapshot(id, &[], &[], 0)).unwrap();
        let maker = v
            .submit(A, &limit(id, "mk", Side::Sell, "1", "101"), None, t(1))
            .unwrap();
        let taker = v
            .submit(A, &limit(id, "tk", Side::Buy, "1", "101"), Some(mode), t(2))
            .unwrap();
        let r = v.take_reports();
        (
            v.order(id, maker).unwrap().status,
            v.order(id, taker).unwrap().status,
            fills(&r).len(),
        )
    };
    use SimOrderStatus::*;
    assert_eq!(run(StpMode::ExpireMaker), (ExpiredInMatch, New, 0));
    assert_eq!(run(StpMode::ExpireTaker), (New, ExpiredInMatch, 0));
    assert_eq!(
        run(StpMode::ExpireBoth),
        (ExpiredInMatch, ExpiredInMatch, 0)
    );
    assert_eq!(run(StpMode::None), (Filled, Filled, 2));
}

#[test]
fn cancel_modify_and_queue_priority() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("100", "5")], &[("101", "5")], 0))
        .unwrap();
    let e = v
        .cancel(A, id, OrderRef::Venue(VenueOrderId(999)), t(1))
        .unwrap_err();
    assert_eq!((e.code, e.msg.as_str()), (-2011, "Unknown order sent."));
    let oid = v
        .submit(A, &limit(id, "m", Side::Buy, "2", "100"), None, t(1))
        .unwrap();
    v.on_market_event(&trade(id, "100", "1", AggressorSide::Seller, 2))
        .unwrap();
    assert_eq!(v.order(id, oid).unwrap().queue_ahead, q("4").raw());
    let modify = |qty: Option<&str>, price: Option<&str>| ModifyOrder {
        strategy: veloz_core::StrategyId::new("test").unwrap(),
        instrument: id,
        client_order_id: veloz_core::ClientOrderId::new("m").unwrap(),
        venue_order_id: None,
        quantity: qty.map(q),
        price: price.map(p),
        trigger_price: None,
        ts_init: UnixNanos::ZERO,
    };
    // Smaller quantity, same price: keeps its place.
    v.modify(A, &modify(Some("1.5"), None), t(3)).unwrap();
    assert_eq!(v.order(id, oid).unwrap().queue_ahead, q("4").raw());
    assert_eq!(v.order(id, oid).unwrap().quantity, q("1.5"));
    // Same values: -5027.
    assert_eq!(
        v.modify(A, &modify(Some("1.5"), None), t(4))
            .unwrap_err()
            .code,
        -5027
    );
    // New price: back of the queue at the new level (market 0 there).
    v.modify(A, &modify(None, Some("100.5")), t(5)).unwrap();
    assert_eq!(v.order(id, oid).unwrap().queue_ahead, 0);
    // The lock followed: 1.5 × 100.5.
    let b = v.account(A).unwrap().spot_balance(cur("USDT"));
    assert_eq!(b.locked, money("150.75", "USDT").raw());
    v.cancel(
        A,
        id,
        OrderRef::Client(veloz_core::ClientOrderId::new("m").unwrap()),
        t(6),
    )
    .unwrap();
    let r = v.take_reports();
    assert_eq!(
        events(&r, "m"),
        ["accepted", "updated", "updated", "canceled"]
    );
    let b = v.account(A).unwrap().spot_balance(cur("USDT"));
    assert_eq!((b.free, b.locked), (money("1000000", "USDT").raw(), 0));
}

#[test]
fn gtd_orders_expire_at_their_time() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    let mut o = order(
        id,
        "gtd",
        Side::Buy,
        OrderType::Limit,
        "1",
        Some("100"),
        TimeInForce::Gtd,
    );
    o.expire_time = Some(t(1_000));
    assert_eq!(v.submit(A, &o, None, t(1)).unwrap_err().code, -5040);
    o.expire_time = Some(t(700_000));
    let oid = v.submit(A, &o, None, t(1)).unwrap();
    v.advance_time(t(699_999));
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::New);
    v.advance_time(t(700_000));
    let r = v.take_reports();
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::Expired);
    assert_eq!(
        order_reports(&r, "gtd").last().unwrap().expire_reason,
        Some(ExpireReason::GoodTillDate)
    );
    // Spot has no GTD.
    let (mut v, id) = funded_spot();
    let mut o = order(
        id,
        "g",
        Side::Buy,
        OrderType::Limit,
        "1",
        Some("100"),
        TimeInForce::Gtd,
    );
    o.expire_time = Some(t(10_000_000));
    assert_eq!(v.submit(A, &o, None, t(1)).unwrap_err().code, -1115);
}

/// The venue skips its expiry check until the earliest expiry it knows of:
/// an order given an earlier expiry later must still expire on time, with
/// the clock moved by market data (fast path and general path alike).
#[test]
fn an_earlier_expiry_added_later_still_expires_on_time() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    let gtd = |cid: &str, price: &str, expire: u64| {
        let mut o = order(
            id,
            cid,
            Side::Buy,
            OrderType::Limit,
            "1",
            Some(price),
            TimeInForce::Gtd,
        );
        o.expire_time = Some(t(expire));
        o
    };
    let late = v
        .submit(A, &gtd("late", "98", 9_000_000), None, t(1))
        .unwrap();
    // Market data moves the clock (the venue now knows of the late expiry only).
    v.on_market_event(&depth(id, Side::Sell, "102", "1", 1_000_000))
        .unwrap();
    let early = v
        .submit(A, &gtd("early", "97", 5_000_000), None, t(1_000_001))
        .unwrap();
    v.on_market_event(&depth(id, Side::Sell, "102", "2", 4_999_999))
        .unwrap();
    assert_eq!(v.order(id, early).unwrap().status, SimOrderStatus::New);
    v.on_market_event(&trade(id, "103", "1", AggressorSide::Buyer, 5_000_000))
        .unwrap();
    assert_eq!(v.order(id, early).unwrap().status, SimOrderStatus::Expired);
    assert_eq!(v.order(id, late).unwrap().status, SimOrderStatus::New);
    v.cancel(A, id, OrderRef::Venue(late), t(6_000_000))
        .unwrap();
    // Nothing rests now: the fast path moves the clock.
    let again = v
        .submit(A, &gtd("again", "96", 8_000_000), None, t(7_000_000))
        .unwrap();
    v.cancel(A, id, OrderRef::Venue(again), t(7_000_001))
        .unwrap();
    v.on_market_event(&depth(id, Side::Sell, "102", "3", 9_000_000))
        .unwrap();
    let third = v
        .submit(A, &gtd("third", "95", 9_700_000), None, t(9_000_001))
        .unwrap();
    v.on_market_event(&depth(id, Side::Sell, "102", "4", 9_699_999))
        .unwrap();
    assert_eq!(v.order(id, third).unwrap().status, SimOrderStatus::New);
    v.on_market_event(&depth(id, Side::Sell, "102", "5", 9_700_000))
        .unwrap();
    assert_eq!(v.order(id, third).unwrap().status, SimOrderStatus::Expired);
}

/// A public trade with nothing of ours on the book fills nothing but sets
/// the last price.
#[test]
fn a_trade_on_an_idle_book_sets_the_last_price() {
    let (mut v, id) = funded_spot();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    assert_eq!(v.last_price(id), None);
    v.on_market_event(&trade(id, "100.5", "0", AggressorSide::Buyer, 1))
        .unwrap();
    assert_eq!(v.last_price(id), None);
    v.on_market_event(&trade(id, "100.5", "2", AggressorSide::Buyer, 2))
        .unwrap();
    assert_eq!(v.last_price(id), Some(p("100.5")));
    assert!(v.take_reports().is_empty());
}

#[test]
fn filters_map_to_binance_errors() {
    let (mut v, id) = funded_spot();
    let e = v
        .submit(A, &limit(id, "x", Side::Buy, "1", "100.001"), None, t(1))
        .unwrap_err();
    assert_eq!(
        (e.code, e.msg.as_str()),
        (-1013, "Filter failure: PRICE_FILTER")
    );
    let e = v
        .submit(A, &limit(id, "x", Side::Buy, "0.000001", "100"), None, t(1))
        .unwrap_err();
    assert_eq!(e.msg, "Filter failure: LOT_SIZE");
    let e = v
        .submit(A, &limit(id, "x", Side::Buy, "0.001", "100"), None, t(1))
        .unwrap_err();
    assert_eq!(e.msg, "Filter failure: NOTIONAL");
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    let e = v
        .submit(A, &limit(id, "x", Side::Buy, "0.001", "100"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -4164);
    let e = v
        .submit(A, &limit(id, "x", Side::Buy, "1", "100.05"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -4014);
    let e = v
        .submit(A, &limit(id, "x", Side::Buy, "1.0005", "100"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -4023);
    // Duplicate client ids among open orders.
    v.submit(A, &limit(id, "dup", Side::Buy, "1", "100"), None, t(1))
        .unwrap();
    let e = v
        .submit(A, &limit(id, "dup", Side::Buy, "1", "100"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -4116);
}
