//! Futures accounts with hand-computed numbers: entry price, realised and
//! unrealised PnL, fees in the margin asset, margin checks, funding,
//! liquidation (cross and isolated), reduce-only, hedge mode; USD-M and COIN-M.

mod common;

use common::*;
use veloz_core::{AggressorSide, InstrumentId, MarginMode, OrderFlags, PositionSide, Side};
use veloz_sim::{ExpireReason, SimExchange, SimOrderStatus, SimReport};

fn usdt(s: &str) -> i128 {
    money(s, "USDT").raw()
}
fn btc(s: &str) -> i128 {
    money(s, "BTC").raw()
}

fn book(v: &mut SimExchange, id: InstrumentId, bid: &str, ask: &str, ms: u64) {
    v.on_market_event(&snapshot(id, &[(bid, "100")], &[(ask, "100")], ms))
        .unwrap();
}

fn wallet(v: &SimExchange, c: &str) -> i128 {
    v.account(A).unwrap().wallet_balance(cur(c)).raw()
}

fn pos(v: &SimExchange, id: InstrumentId) -> (String, String) {
    let p = v.position(A, id, PositionSide::Both).unwrap();
    (p.qty.to_string(), p.entry_price.to_string())
}

#[test]
fn usdm_entry_price_realised_pnl_fees_and_flip() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("20000", "USDT")).unwrap();
    book(&mut v, id, "59990", "60000", 0);
    v.submit(A, &market(id, "o1", Side::Buy, "1"), None, t(1))
        .unwrap();
    // Taker fee 0.05 % of 60000.
    assert_eq!(wallet(&v, "USDT"), usdt("19970"));
    assert_eq!(pos(&v, id), ("1.000".into(), "60000.00".into()));
    book(&mut v, id, "60990", "61000", 2);
    v.submit(A, &market(id, "o2", Side::Buy, "3"), None, t(3))
        .unwrap();
    assert_eq!(wallet(&v, "USDT"), usdt("19878.5"));
    // (1 × 60000 + 3 × 61000) / 4
    assert_eq!(pos(&v, id), ("4.000".into(), "60750.00".into()));
    v.on_market_event(&mark(id, "62000", None, None, 4))
        .unwrap();
    let p = v.position(A, id, PositionSide::Both).unwrap();
    assert_eq!(p.unrealized_pnl, money("5000", "USDT"));
    assert_eq!(p.notional, money("248000", "USDT"));
    // 4 × 62000 / 20
    assert_eq!(p.initial_margin, money("12400", "USDT"));
    // 0.4 % of 248000
    assert_eq!(p.maint_margin, money("992", "USDT"));
    book(&mut v, id, "62000", "62010", 5);
    v.submit(A, &market(id, "o3", Side::Sell, "2"), None, t(6))
        .unwrap();
    // + 2 × (62000 − 60750) − 0.05 % × 124000
    assert_eq!(wallet(&v, "USDT"), usdt("22316.5"));
    assert_eq!(pos(&v, id), ("2.000".into(), "60750.00".into()));
    assert_eq!(
        v.position(A, id, PositionSide::Both).unwrap().realized_pnl,
        money("2500", "USDT")
    );
    // Sell 3: closes 2 (+2500), opens 1 short at 62000; fee on all 3.
    v.submit(A, &market(id, "o4", Side::Sell, "3"), None, t(7))
        .unwrap();
    assert_eq!(wallet(&v, "USDT"), usdt("24723.5"));
    assert_eq!(pos(&v, id), ("-1.000".into(), "62000.00".into()));
    // Fees collected: 30 + 91.5 + 62 + 93.
    assert_eq!(v.fees_in(cur("USDT")), money("276.5", "USDT"));
    // The reports carry position and margin updates.
    let r = v.take_reports();
    assert!(r.iter().any(|x| matches!(
        x,
        SimReport::Account { event: veloz_core::events::AccountEvent::Position(p), .. } if p.qty == q("-1")
    )));
}

#[test]
fn margin_is_checked_before_opening() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(B, money("100", "USDT")).unwrap();
    book(&mut v, id, "59990", "60000", 0);
    // 1 BTC at 20× needs 3000 USDT of initial margin.
    let e = v
        .submit(B, &market(id, "x", Side::Buy, "1"), None, t(1))
        .unwrap_err();
    assert_eq!((e.code, e.msg.as_str()), (-2019, "Margin is insufficient."));
    let e = v
        .submit(B, &limit(id, "y", Side::Buy, "1", "59000"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -2019);
    // 0.03 BTC at 59000 needs 88.5: fine; it reserves that margin.
    v.submit(B, &limit(id, "z", Side::Buy, "0.03", "59000"), None, t(1))
        .unwrap();
    let m = v.margin(B, cur("USDT")).unwrap();
    assert_eq!(m.order_initial_margin, money("88.5", "USDT"));
    assert_eq!(m.available_balance, money("11.5", "USDT"));
    // Leverage 50× lowers the requirement of new orders.
    v.set_leverage(B, id, 50).unwrap();
    assert_eq!(v.set_leverage(B, id, 200).unwrap_err().code, -4028);
    v.submit(B, &limit(id, "w", Side::Buy, "0.009", "59000"), None, t(2))
        .unwrap();
}

#[test]
fn usdm_funding_is_paid_by_longs_when_the_rate_is_positive() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("20000", "USDT")).unwrap();
    v.deposit_futures(B, money("20000", "USDT")).unwrap();
    book(&mut v, id, "59990", "60000", 0);
    v.submit(A, &market(id, "a", Side::Buy, "2"), None, t(1))
        .unwrap();
    book(&mut v, id, "60000", "60010", 2);
    v.submit(B, &market(id, "b", Side::Sell, "1"), None, t(3))
        .unwrap();
    let funding_time = t(8 * 3_600_000);
    v.on_market_event(&mark(id, "60000", Some("0.0001"), Some(funding_time), 4))
        .unwrap();
    let (wa, wb) = (
        wallet(&v, "USDT"),
        v.account(B).unwrap().wallet_balance(cur("USDT")).raw(),
    );
    v.take_reports();
    // The next mark update after the funding time settles at the last mark
    // and rate published before it.
    v.on_market_event(&mark(
        id,
        "61000",
        Some("0.0003"),
        Some(t(16 * 3_600_000)),
        8 * 3_600_000 + 1_000,
    ))
    .unwrap();
    let r = v.take_reports();
    let pays: Vec<_> = r
        .iter()
        .filter_map(|x| match x {
            SimReport::Funding(f) => Some((f.account, f.amount, f.time)),
            _ => None,
        })
        .collect();
    assert_eq!(
        pays,
        vec![
            (A, money("-12", "USDT"), funding_time),
            (B, money("6", "USDT"), funding_time)
        ]
    );
    assert_eq!(wallet(&v, "USDT"), wa - usdt("12"));
    assert_eq!(
        v.account(B).unwrap().wallet_balance(cur("USDT")).raw(),
        wb + usdt("6")
    );
    assert_eq!(v.funding_net_in(cur("USDT")), money("-6", "USDT"));
    // Not settled twice.
    v.advance_time(t(9 * 3_600_000));
    assert!(!v
        .take_reports()
        .iter()
        .any(|x| matches!(x, SimReport::Funding(_))));
    // Funding from historical data, negative rate: longs receive.
    v.settle_funding(id, p("-0.0002"), t(9 * 3_600_000))
        .unwrap();
    // 2 × 61000 × 0.0002 = 24.4
    assert_eq!(wallet(&v, "USDT"), wa - usdt("12") + usdt("24.4"));
}

/// A USD-M venue where account `A` deposited 1000 USDT and bought 0.3 at
/// market against a 59990 / 60000 book (wallet 991 USDT after the fee).
fn long_0_3_at_60000() -> (SimExchange, InstrumentId) {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("1000", "USDT")).unwrap();
    book(&mut v, id, "59990", "60000", 0);
    v.submit(A, &market(id, "a", Side::Buy, "0.3"), None, t(1))
        .unwrap();
    (v, id)
}

/// Do the reports hold a liquidation?
fn liquidated(r: &[SimReport]) -> bool {
    r.iter().any(|x| matches!(x, SimReport::Liquidation(_)))
}

#[test]
fn cross_liquidation_when_margin_balance_falls_below_maintenance() {
    let (mut v, id) = long_0_3_at_60000();
    assert_eq!(wallet(&v, "USDT"), usdt("991"));
    // A resting order is canceled by the liquidation.
    let rest = v
        .submit(A, &limit(id, "r", Side::Buy, "0.001", "50000"), None, t(1))
        .unwrap();
    v.take_reports();
    // Mark 57000: margin balance 991 − 900 = 91 ≥ 0.4 % × 17100 = 68.4.
    v.on_market_event(&mark(id, "57000", None, None, 2))
        .unwrap();
    assert!(!v
        .take_reports()
        .iter()
        .any(|x| matches!(x, SimReport::Liquidation(_))));
    // Mark 56900: 991 − 930 = 61 < 68.28: liquidated at the mark.
    v.on_market_event(&mark(id, "56900", None, None, 3))
        .unwrap();
    let r = v.take_reports();
    let liq = r
        .iter()
        .find_map(|x| match x {
            SimReport::Liquidation(l) => Some(l.clone()),
            _ => None,
        })
        .expect("liquidated");
    assert_eq!(liq.positions.len(), 1);
    assert_eq!(liq.positions[0].price, p("56900"));
    assert_eq!(liq.positions[0].realized_pnl, money("-930", "USDT"));
    assert_eq!(liq.clearance_fee, money("61", "USDT"));
    assert_eq!(liq.insurance_cover, money("0", "USDT"));
    assert_eq!(wallet(&v, "USDT"), 0);
    assert_eq!(v.position(A, id, PositionSide::Both).unwrap().qty, q("0"));
    assert_eq!(v.order(id, rest).unwrap().status, SimOrderStatus::Canceled);
}

/// A check that found nothing is skipped until something it reads changes:
/// a fill (with the mark unchanged) and a wallet debit must still liquidate.
#[test]
fn liquidation_check_sees_fills_and_wallet_changes_after_a_clear_check() {
    // A fill at an unchanged mark.
    let (mut v, id) = long_0_3_at_60000();
    v.on_market_event(&mark(id, "57000", None, None, 2))
        .unwrap();
    // The same mark again, and a trade that fills nothing of ours: clear.
    v.on_market_event(&mark(id, "57000", None, None, 3))
        .unwrap();
    assert!(!liquidated(&v.take_reports()));
    // The book drops to 50000 (no fill: still clear), then selling 0.1 at
    // 50000 realises −1000 − 2.5 of fee with the mark still at 57000:
    // margin balance 991 − 1002.5 − 600 < 0, liquidated after the fill.
    book(&mut v, id, "50000", "50010", 4);
    assert!(!liquidated(&v.take_reports()));
    v.submit(A, &market(id, "b", Side::Sell, "0.1"), None, t(5))
        .unwrap();
    assert!(liquidated(&v.take_reports()));

    // A wallet debit at an unchanged mark.
    let (mut v, id) = long_0_3_at_60000();
    v.on_market_event(&mark(id, "57000", None, None, 2))
        .unwrap();
    assert!(!liquidated(&v.take_reports()));
    // 991 − 50 − 900 = 41 < 68.4, seen at the next mark of the same price.
    v.deposit_futures(A, money("-50", "USDT")).unwrap();
    v.on_market_event(&mark(id, "57000", None, None, 3))
        .unwrap();
    assert!(liquidated(&v.take_reports()));
}

/// Without a mark price positions are valued at the last trade: a public
/// trade on a book where nothing of ours rests (the venue's idle-book path)
/// must still make the next liquidation check run after a clear one.
#[test]
fn a_last_price_from_an_idle_book_trade_reaches_the_liquidation_check() {
    let (mut v, id) = long_0_3_at_60000();
    assert_eq!(wallet(&v, "USDT"), usdt("991"));
    // Last 59990: 991 − 3 = 988 ≥ maintenance, a clear check.
    v.on_market_event(&trade(id, "59990", "0.01", AggressorSide::Seller, 2))
        .unwrap();
    assert!(!liquidated(&v.take_reports()));
    // Last 56900: 991 − 930 = 61 < 0.4 % × 17070 = 68.28, liquidated.
    v.on_market_event(&trade(id, "56900", "0.01", AggressorSide::Seller, 3))
        .unwrap();
    assert!(liquidated(&v.take_reports()));
}

#[test]
fn isolated_liquidation_keeps_the_cross_wallet_and_the_fund_covers_gaps() {
    let run = |gap_mark: &str| {
        let (mut v, id) = venue_with(usdm());
        v.deposit_futures(A, money("1000", "USDT")).unwrap();
        v.set_margin_mode(A, id, MarginMode::Isolated).unwrap();
        v.set_leverage(A, id, 10).unwrap();
        book(&mut v, id, "59990", "60000", 0);
        v.submit(A, &market(id, "a", Side::Buy, "0.1"), None, t(1))
            .unwrap();
        // 600 moved into the position, 3 of fees.
        assert_eq!(wallet(&v, "USDT"), usdt("397"));
        let pv = v.position(A, id, PositionSide::Both).unwrap();
        assert_eq!(pv.isolated_margin, money("600", "USDT"));
        assert_eq!(pv.margin_mode, MarginMode::Isolated);
        // 600 − 570 = 30 ≥ 21.72: safe.
        v.on_market_event(&mark(id, "54300", None, None, 2))
            .unwrap();
        assert!(v
            .position(A, id, PositionSide::Both)
            .unwrap()
            .qty
            .is_positive());
        v.take_reports();
        v.on_market_event(&mark(id, gap_mark, None, None, 3))
            .unwrap();
        let r = v.take_reports();
        let liq = r
            .iter()
            .find_map(|x| match x {
                SimReport::Liquidation(l) => Some(l.clone()),
                _ => None,
            })
            .expect("liquidated");
        assert_eq!(wallet(&v, "USDT"), usdt("397"));
        (liq.clearance_fee, liq.insurance_cover)
    };
    // 600 − 580 = 20 < 21.68: the 20 left is the clearance fee.
    assert_eq!(run("54200"), (money("20", "USDT"), money("0", "USDT")));
    // A gap to 50000: the loss of 1000 exceeds the 600 margin by 400.
    assert_eq!(run("50000"), (money("0", "USDT"), money("400", "USDT")));
}

#[test]
fn coinm_inverse_pnl_entry_fees_and_funding() {
    let (mut v, id) = venue_with(coinm());
    v.deposit_futures(A, money("1", "BTC")).unwrap();
    book(&mut v, id, "49990", "50000", 0);
    v.submit(A, &market(id, "a", Side::Buy, "10"), None, t(1))
        .unwrap();
    // 10 × 100 / 50000 = 0.02 BTC notional, fee 0.05 % = 0.00001 BTC.
    assert_eq!(wallet(&v, "BTC"), btc("0.99999"));
    book(&mut v, id, "39990", "40000", 2);
    v.submit(A, &market(id, "b", Side::Buy, "10"), None, t(3))
        .unwrap();
    assert_eq!(wallet(&v, "BTC"), btc("0.9999775"));
    // Harmonic mean: 20 / (10/50000 + 10/40000) = 44444.444444444…
    assert_eq!(pos(&v, id), ("20".into(), "44444.44444444".into()));
    v.on_market_event(&mark(id, "50000", Some("0.0001"), Some(t(1_000_000)), 4))
        .unwrap();
    let pv = v.position(A, id, PositionSide::Both).unwrap();
    // 2000 × (1/44444.44444444 − 1/50000), rounded down.
    assert_eq!(pv.unrealized_pnl, money("0.005", "BTC"));
    assert_eq!(pv.notional, money("0.04", "BTC"));
    // Funding: 0.04 BTC × 0.0001 = 0.000004 BTC paid by the long.
    v.advance_time(t(1_000_000));
    assert_eq!(wallet(&v, "BTC"), btc("0.9999735"));
    book(&mut v, id, "50000", "50010", 1_000_001);
    v.submit(A, &market(id, "c", Side::Sell, "20"), None, t(1_000_002))
        .unwrap();
    // + 0.005 realised − 0.00002 fee.
    assert_eq!(wallet(&v, "BTC"), btc("1.0049535"));
    assert_eq!(v.position(A, id, PositionSide::Both).unwrap().qty, q("0"));
}

#[test]
fn reduce_only_is_clamped_and_expires_when_the_position_is_flat() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("20000", "USDT")).unwrap();
    book(&mut v, id, "59990", "60000", 0);
    let mut ro = market(id, "ro", Side::Sell, "2");
    ro.flags = OrderFlags::REDUCE_ONLY;
    let e = v.submit(A, &ro, None, t(1)).unwrap_err();
    assert_eq!(
        (e.code, e.msg.as_str()),
        (-2022, "ReduceOnly Order is rejected.")
    );
    v.submit(A, &market(id, "open", Side::Buy, "1"), None, t(2))
        .unwrap();
    let mut rl = limit(id, "rl", Side::Sell, "1", "65000");
    rl.flags = OrderFlags::REDUCE_ONLY;
    let rl_id = v.submit(A, &rl, None, t(3)).unwrap();
    v.take_reports();
    // The market reduce-only order of 2 only closes the 1 held.
    v.submit(A, &ro, None, t(4)).unwrap();
    let r = v.take_reports();
    assert_eq!(
        fills(&r).iter().map(|f| f.qty).collect::<Vec<_>>(),
        vec![q("1")]
    );
    assert_eq!(v.position(A, id, PositionSide::Both).unwrap().qty, q("0"));
    // The resting reduce-only order expired with the position.
    assert_eq!(v.order(id, rl_id).unwrap().status, SimOrderStatus::Expired);
    assert_eq!(
        order_reports(&r, "rl").last().unwrap().expire_reason,
        Some(ExpireReason::NothingToReduce)
    );
}

#[test]
fn hedge_mode_keeps_two_legs() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("50000", "USDT")).unwrap();
    v.set_hedge_mode(A, true).unwrap();
    assert_eq!(v.set_hedge_mode(A, true).unwrap_err().code, -4059);
    book(&mut v, id, "59990", "60000", 0);
    let e = v
        .submit(A, &market(id, "x", Side::Buy, "1"), None, t(1))
        .unwrap_err();
    assert_eq!(e.code, -4061);
    let leg = |cid: &str, side, ps| {
        let mut o = market(id, cid, side, "1");
        o.position_side = ps;
        o
    };
    v.submit(A, &leg("l", Side::Buy, PositionSide::Long), None, t(1))
        .unwrap();
    v.submit(A, &leg("s", Side::Sell, PositionSide::Short), None, t(2))
        .unwrap();
    let long = v.position(A, id, PositionSide::Long).unwrap();
    let short = v.position(A, id, PositionSide::Short).unwrap();
    assert_eq!((long.qty, short.qty), (q("1"), q("-1")));
    assert_eq!(long.entry_price, p("60000"));
    assert_eq!(short.entry_price, p("59990"));
    // Selling the long leg only closes it, never opens a short there.
    let mut close = leg("c", Side::Sell, PositionSide::Long);
    close.quantity = q("3");
    v.submit(A, &close, None, t(3)).unwrap();
    assert_eq!(v.position(A, id, PositionSide::Long).unwrap().qty, q("0"));
    assert_eq!(v.position(A, id, PositionSide::Short).unwrap().qty, q("-1"));
    // A closing leg with nothing to close is refused.
    assert_eq!(
        v.submit(A, &leg("d", Side::Sell, PositionSide::Long), None, t(4))
            .unwrap_err()
            .code,
        -2022
    );
    // Mode changes need a flat account.
    assert_eq!(v.set_hedge_mode(A, false).unwrap_err().code, -4068);
}

#[test]
fn coinm_cross_liquidation_in_coin() {
    let (mut v, id) = venue_with(coinm());
    v.deposit_futures(A, money("0.01", "BTC")).unwrap();
    book(&mut v, id, "49990", "50000", 0);
    // 100 contracts × 100 USD / 50000 = 0.2 BTC; 20× needs exactly the 0.01 BTC.
    v.submit(A, &market(id, "a", Side::Buy, "100"), None, t(1))
        .unwrap();
    assert_eq!(wallet(&v, "BTC"), btc("0.0099"));
    // Mark 48000: PnL 10000 × (1/50000 − 1/48000) = −0.00833334 (down);
    // margin balance 0.00156666 ≥ maintenance 0.4 % × 0.20833333 = 0.00083334.
    v.on_market_event(&mark(id, "48000", None, None, 2))
        .unwrap();
    let m = v.margin(A, cur("BTC")).unwrap();
    assert_eq!(m.margin_balance, money("0.00156666", "BTC"));
    assert_eq!(m.maint_margin, money("0.00083334", "BTC"));
    assert!(v
        .position(A, id, PositionSide::Both)
        .unwrap()
        .qty
        .is_positive());
    v.take_reports();
    // Mark 47700: 0.0099 − 0.00964361 = 0.00025639 < 0.00083858.
    v.on_market_event(&mark(id, "47700", None, None, 3))
        .unwrap();
    let liq = v
        .take_reports()
        .into_iter()
        .find_map(|x| match x {
            SimReport::Liquidation(l) => Some(l),
            _ => None,
        })
        .expect("liquidated");
    assert_eq!(liq.positions[0].realized_pnl, money("-0.00964361", "BTC"));
    assert_eq!(liq.clearance_fee, money("0.00025639", "BTC"));
    assert_eq!(wallet(&v, "BTC"), 0);
}

/// The liquidation check's price room (a clear check stays clear while the
/// price that values the positions stays within a bound it computed) against
/// the full check on every price change: on random walks of trade and mark
/// prices, with a cross account and an isolated one reopening positions on
/// random sides after each liquidation, every report must be the same, and
/// liquidations must happen (at the same step) many times.
#[test]
fn liquidation_price_room_matches_the_full_check() {
    for marks in [false, true] {
        let make = || {
            let (mut v, id) = venue_with(usdm());
            v.set_margin_mode(B, id, MarginMode::Isolated).unwrap();
            v.set_leverage(A, id, 125).unwrap();
            v.set_leverage(B, id, 100).unwrap();
            v.deposit_futures(B, money("10000", "USDT")).unwrap();
            v.take_reports();
            (v, id)
        };
        let (mut room, id) = make();
        let (mut full, _) = make();
        full.set_price_room(false);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(marks);
        let mut below = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        // Price in tenths of a USDT.
        let mut price = 600_000i64;
        let text = |p: i64| format!("{}.{}", p / 10, p % 10);
        let mut liquidations = 0;
        for step in 0..20_000u64 {
            let ms = 10 + step * 10;
            // Reopen flat positions (and top up the cross wallet).
            for (acct, qty) in [(A, "0.3"), (B, "0.3")] {
                let flat = room
                    .position(acct, id, PositionSide::Both)
                    .is_none_or(|p| p.qty.is_zero());
                if !flat {
                    continue;
                }
                let ev = snapshot(
                    id,
                    &[(&text(price - 1), "100")],
                    &[(&text(price + 1), "100")],
                    ms,
                );
                assert_eq!(room.on_market_event(&ev), full.on_market_event(&ev));
                if acct == A {
                    let d = money("300", "USDT");
                    assert_eq!(room.deposit_futures(A, d), full.deposit_futures(A, d));
                }
                let side = if below(2) == 0 { Side::Buy } else { Side::Sell };
                let o = market(id, &format!("{step}-{}", acct.0), side, qty);
                assert_eq!(
                    room.submit(acct, &o, None, t(ms)),
                    full.submit(acct, &o, None, t(ms)),
                    "step {step}"
                );
            }
            // A triangle wave of 2 500 USDT either side of 60 000 (so that
            // positions on either side meet their liquidation price) plus
            // noise of up to 30 USDT.
            let phase = (step % 400) as i64;
            let wave = if phase < 200 { phase } else { 400 - phase } * 250 - 25_000;
            price = 600_000 + wave + below(601) as i64 - 300;
            let ev = if marks && below(3) != 0 {
                mark(id, &text(price), None, None, ms + 1)
            } else {
                let aggressor = if below(2) == 0 {
                    AggressorSide::Buyer
                } else {
                    AggressorSide::Seller
                };
                trade(id, &text(price), "0.001", aggressor, ms + 1)
            };
            assert_eq!(room.on_market_event(&ev), full.on_market_event(&ev));
            let (a, b) = (room.take_reports(), full.take_reports());
            liquidations += a
                .iter()
                .filter(|x| matches!(x, SimReport::Liquidation(_)))
                .count();
            assert_eq!(a, b, "step {step} (marks: {marks})");
        }
        assert!(liquidations > 10, "liquidations: {liquidations}");
    }
}

/// The position and margin reports a fill sends (computed from the leg's
/// figures once) carry the figures the queries compute on their own
/// (`position`, `margin`): one-way and hedge mode, cross and isolated legs,
/// a resting order's reservation, positions valued at a mark that is not
/// the fill price.
#[test]
fn fill_reports_carry_the_figures_of_the_position_and_margin_queries() {
    for (hedge, isolated) in [(false, false), (false, true), (true, false)] {
        let (mut v, id) = venue_with(usdm());
        if hedge {
            v.set_hedge_mode(A, true).unwrap();
        }
        if isolated {
            v.set_margin_mode(A, id, MarginMode::Isolated).unwrap();
        }
        v.deposit_futures(A, money("100000", "USDT")).unwrap();
        book(&mut v, id, "59990", "60000", 0);
        v.on_market_event(&mark(id, "59950.5", None, None, 1))
            .unwrap();
        let leg = |side: Side| match (hedge, side) {
            (false, _) => PositionSide::Both,
            (true, Side::Buy) => PositionSide::Long,
            (true, Side::Sell) => PositionSide::Short,
        };
        let mut rest = limit(id, "rest", Side::Buy, "0.05", "50000");
        rest.position_side = leg(Side::Buy);
        v.submit(A, &rest, None, t(2)).unwrap();
        v.take_reports();
        // (side, qty, leg side): open, add, reduce, (one-way: flip).
        let steps = [
            (Side::Buy, "0.3", Side::Buy),
            (Side::Buy, "0.2", Side::Buy),
            (
                Side::Sell,
                "0.1",
                if hedge { Side::Buy } else { Side::Sell },
            ),
            (Side::Sell, "0.7", Side::Sell),
        ];
        for (n, (side, qty, leg_side)) in steps.into_iter().enumerate() {
            let mut o = market(id, &format!("m{n}"), side, qty);
            o.position_side = leg(leg_side);
            v.submit(A, &o, None, t(3 + n as u64)).unwrap();
            let reports = v.take_reports();
            let (mut positions, mut margins) = (0, 0);
            for r in &reports {
                let SimReport::Account { event, .. } = r else {
                    continue;
                };
                match event {
                    veloz_core::events::AccountEvent::Position(p) => {
                        let view = v.position(A, id, p.position_side).unwrap();
                        assert_eq!(p.qty, view.qty, "step {n}");
                        assert_eq!(p.entry_price, view.entry_price, "step {n}");
                        assert_eq!(p.unrealized_pnl, view.unrealized_pnl, "step {n}");
                        assert_eq!(p.margin_mode, view.margin_mode, "step {n}");
                        positions += 1;
                    }
                    veloz_core::events::AccountEvent::Margin(m) => {
                        let s = v.margin(A, cur("USDT")).unwrap();
                        assert_eq!(m.wallet_balance, s.wallet_balance, "step {n}");
                        assert_eq!(
                            m.initial_margin.raw(),
                            s.position_initial_margin.raw() + s.order_initial_margin.raw(),
                            "step {n}"
                        );
                        assert_eq!(m.maintenance_margin, s.maint_margin, "step {n}");
                        margins += 1;
                    }
                    _ => {}
                }
            }
            assert_eq!((positions, margins), (1, 1), "step {n}: {reports:?}");
        }
        let s = v.margin(A, cur("USDT")).unwrap();
        assert!(s.order_initial_margin.raw() > 0);
        if !isolated {
            assert!(s.maint_margin.raw() > 0);
        }
    }
}

/// A resting order reserves the initial margin of its opening part at its
/// price, whether it rests untouched (the reservation is the figure of the
/// placement's margin check) or after a partial fill moved the position
/// (computed again): hand-computed at the default 20x.
#[test]
fn resting_orders_reserve_the_margin_of_their_opening_part() {
    let (mut v, id) = venue_with(usdm());
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("59990", "100")], &[("60000", "0.2")], 0))
        .unwrap();
    let reserved = |v: &SimExchange| v.margin(A, cur("USDT")).unwrap().order_initial_margin;
    // Short 0.1.
    v.submit(A, &market(id, "s", Side::Sell, "0.1"), None, t(1))
        .unwrap();
    assert_eq!(reserved(&v), money("0", "USDT"));
    // Buy 0.3 at 50000 rests untouched: 0.1 closes the short, 0.2 opens:
    // 0.2 × 50000 / 20 = 500.
    v.submit(A, &limit(id, "b1", Side::Buy, "0.3", "50000"), None, t(2))
        .unwrap();
    assert_eq!(reserved(&v), money("500", "USDT"));
    // Buy 0.5 at 60000 takes the 0.2 offered (short 0.1 -> long 0.1) and
    // rests 0.3, all opening: 0.3 × 60000 / 20 = 900 more.
    v.submit(A, &limit(id, "b2", Side::Buy, "0.5", "60000"), None, t(3))
        .unwrap();
    assert_eq!(v.position(A, id, PositionSide::Both).unwrap().qty, q("0.1"));
    assert_eq!(reserved(&v), money("1400", "USDT"));
    // A sell of 0.05 at 70000 only reduces the long: nothing to reserve.
    v.submit(A, &limit(id, "s2", Side::Sell, "0.05", "70000"), None, t(4))
        .unwrap();
    assert_eq!(reserved(&v), money("1400", "USDT"));
}

/// A submit names its instrument once: on a second instrument it lands on
/// that instrument's book (its own order ids), an instrument never added is
/// `-1121` and an account never opened `-2015`, with nothing placed.
#[test]
fn submits_find_their_instrument_and_account() {
    let (mut v, id) = venue_with(usdm());
    let coin = coinm();
    let cid = coin.id;
    v.add_instrument(coin, veloz_sim::InstrumentSettings::default())
        .unwrap();
    v.deposit_futures(A, money("100000", "USDT")).unwrap();
    v.deposit_futures(A, money("10", "BTC")).unwrap();
    book(&mut v, id, "59990", "60000", 0);
    book(&mut v, cid, "59990", "60000", 0);
    let a = v
        .submit(A, &limit(id, "a", Side::Buy, "0.01", "50000"), None, t(1))
        .unwrap();
    let b = v
        .submit(A, &limit(cid, "b", Side::Buy, "1", "50000"), None, t(1))
        .unwrap();
    assert_eq!(v.order(id, a).unwrap().instrument, id);
    assert_eq!(v.order(cid, b).unwrap().instrument, cid);
    let spot_id = spot().id;
    let e = v
        .submit(
            A,
            &limit(spot_id, "c", Side::Buy, "0.01", "50000"),
            None,
            t(2),
        )
        .unwrap_err();
    assert_eq!(e.code, -1121);
    let e = v
        .submit(
            veloz_sim::AccountId(99),
            &limit(id, "d", Side::Buy, "0.01", "50000"),
            None,
            t(2),
        )
        .unwrap_err();
    assert_eq!(e.code, -2015);
    assert_eq!(v.open_orders(A, id).len(), 1);
    assert_eq!(v.open_orders(A, cid).len(), 1);
}
