//! Spot balances: locking on placement, release on fills and cancels, fees in
//! the received asset, insufficient-balance refusals, money conservation
//! between two simulated accounts.

mod common;

use common::*;
use veloz_core::{OrderType, Side, TimeInForce};
use veloz_sim::{OrderRef, SimOrderStatus, SpotBalance};

fn bal(v: &veloz_sim::SimExchange, a: veloz_sim::AccountId, c: &str) -> SpotBalance {
    v.account(a).unwrap().spot_balance(cur(c))
}

fn raw(s: &str) -> i128 {
    money(s, "USDT").raw()
}

#[test]
fn limit_buy_locks_quote_and_fills_at_better_prices_release_it() {
    let (mut v, id) = venue_with(spot());
    v.deposit_spot(A, money("1000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("90", "1")], &[("99", "1")], 0))
        .unwrap();
    let oid = v
        .submit(A, &limit(id, "b", Side::Buy, "2", "100"), None, t(1))
        .unwrap();
    // 1 BTC bought at 99 (taker); 1 BTC rests at 100, so 100 stays locked.
    let usdt = bal(&v, A, "USDT");
    assert_eq!((usdt.free, usdt.locked), (raw("801"), raw("100")));
    // Received 1 BTC less the 0.2 % taker fee, in BTC.
    assert_eq!(bal(&v, A, "BTC").free, money("0.998", "BTC").raw());
    assert_eq!(v.fees_in(cur("BTC")), money("0.002", "BTC"));
    v.cancel(A, id, OrderRef::Venue(oid), t(2)).unwrap();
    let usdt = bal(&v, A, "USDT");
    assert_eq!((usdt.free, usdt.locked), (raw("901"), 0));
    assert_eq!(v.order(id, oid).unwrap().status, SimOrderStatus::Canceled);
}

#[test]
fn sell_locks_base_and_pays_the_fee_in_quote() {
    let (mut v, id) = venue_with(spot());
    v.deposit_spot(A, money("3", "BTC")).unwrap();
    v.on_market_event(&snapshot(id, &[("100", "5")], &[("101", "5")], 0))
        .unwrap();
    v.submit(A, &limit(id, "s", Side::Sell, "2", "102"), None, t(1))
        .unwrap();
    let btc = bal(&v, A, "BTC");
    assert_eq!(
        (btc.free, btc.locked),
        (money("1", "BTC").raw(), money("2", "BTC").raw())
    );
    // A buy trade through 102 fills us as maker: 2 × 102 = 204, fee 0.1 %.
    v.on_market_event(&trade(
        id,
        "102.5",
        "3",
        veloz_core::AggressorSide::Buyer,
        2,
    ))
    .unwrap();
    let btc = bal(&v, A, "BTC");
    assert_eq!((btc.free, btc.locked), (money("1", "BTC").raw(), 0));
    assert_eq!(bal(&v, A, "USDT").free, raw("203.796"));
    assert_eq!(v.fees_in(cur("USDT")), money("0.204", "USDT"));
}

#[test]
fn insufficient_balance_is_refused_with_binance_error() {
    let (mut v, id) = venue_with(spot());
    v.deposit_spot(A, money("100", "USDT")).unwrap();
    v.deposit_spot(A, money("0.5", "BTC")).unwrap();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    let e = v
        .submit(A, &limit(id, "x", Side::Buy, "1.1", "100"), None, t(1))
        .unwrap_err();
    assert_eq!(
        (e.code, e.msg.as_str()),
        (
            -2010,
            "Account has insufficient balance for requested action."
        )
    );
    let e = v
        .submit(A, &limit(id, "y", Side::Sell, "0.6", "105"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -2010);
    // A market buy is checked against what the book would cost: 1 × 101 > 100.
    let e = v
        .submit(A, &market(id, "z", Side::Buy, "1"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -2010);
    v.submit(A, &market(id, "w", Side::Buy, "0.99"), None, t(2))
        .unwrap();
    let usdt = bal(&v, A, "USDT");
    assert_eq!((usdt.free, usdt.locked), (raw("0.01"), 0));
    // Nothing was changed by the refusals.
    assert_eq!(bal(&v, A, "BTC").free, money("1.48802", "BTC").raw());
}

#[test]
fn fees_round_up_to_the_fee_precision() {
    let mut inst = spot();
    inst.taker_fee = p("0.0015");
    let (mut v, id) = venue_with(inst);
    v.deposit_spot(A, money("1000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("99", "5")], &[("101", "5")], 0))
        .unwrap();
    v.submit(
        A,
        &order(
            id,
            "f",
            Side::Buy,
            OrderType::Limit,
            "0.00999",
            Some("101"),
            TimeInForce::Ioc,
        ),
        None,
        t(1),
    )
    .unwrap();
    let r = v.take_reports();
    // 0.00999 × 0.0015 = 0.000014985 -> 0.00001499 BTC (up, 8 decimals).
    assert_eq!(fills(&r)[0].fee, money("0.00001499", "BTC"));
}

#[test]
fn money_is_conserved_between_two_accounts() {
    let (mut v, id) = venue_with(spot());
    for a in [A, B] {
        v.deposit_spot(a, money("10000", "USDT")).unwrap();
        v.deposit_spot(a, money("10", "BTC")).unwrap();
    }
    v.on_market_event(&snapshot(id, &[], &[], 0)).unwrap();
    v.submit(A, &limit(id, "a1", Side::Sell, "1.5", "100"), None, t(1))
        .unwrap();
    v.submit(A, &limit(id, "a2", Side::Sell, "1", "101.37"), None, t(1))
        .unwrap();
    v.submit(B, &limit(id, "b1", Side::Buy, "2", "101.37"), None, t(2))
        .unwrap();
    v.submit(B, &limit(id, "b2", Side::Buy, "3", "99.99"), None, t(3))
        .unwrap();
    v.submit(A, &market(id, "a3", Side::Sell, "0.77777"), None, t(4))
        .unwrap();
    let total = |c: &str| {
        [A, B]
            .iter()
            .map(|a| {
                let b = bal(&v, *a, c);
                b.free + b.locked
            })
            .sum::<i128>()
            + v.fees_in(cur(c)).raw()
    };
    assert_eq!(total("USDT"), raw("20000"));
    assert_eq!(total("BTC"), money("20", "BTC").raw());
    // b2 rests (3 - 0.77777) × 99.99 after a3 sold into it.
    let b_usdt = bal(&v, B, "USDT");
    assert_eq!(b_usdt.locked, money("222.2007777", "USDT").raw());
}
