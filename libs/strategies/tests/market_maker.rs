//! The market maker in real backtests on synthetic quotes and trades:
//! quote prices (mid and microprice), the inventory skew, the position
//! limit, at most one live order per side under heavy requoting, the
//! refresh timer, and determinism.

mod common;

use common::*;
use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, Side};
use veloz_strategies::build;

const BASE: &str = "instrument = \"BINANCE.USDM.BTCUSDT\"\nhalf_spread_ticks = 5\nskew_ticks_per_unit = 2\norder_qty = \"0.002\"\nmax_position = \"0.004\"\n";

fn sent_summary(sent: &[Sent]) -> Vec<(Side, String, i64)> {
    sent.iter()
        .map(|s| (s.side, s.price.unwrap().to_string(), s.position_raw))
        .collect()
}

#[test]
fn quotes_skew_with_inventory_and_respect_max_position() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let (mut watch, seen) = Watch::new(build("market_maker", BASE).unwrap(), id);
    watch.one_per_side = true;
    watch.max_position_raw = Some(400_000);
    let events = vec![
        quote(id, 0, "99999.9", "1", "100000.1", "1"),
        // Sells through our bid: bid fills, long 0.002.
        trade(id, 100, 1, "99999.0", "1", true),
        // Again: long 0.004 = max; no more bid.
        trade(id, 200, 2, "99998.0", "1", true),
        // Nothing to fill.
        trade(id, 300, 3, "99997.0", "1", true),
        // Buys through our ask: short 0.002 of it, long 0.002.
        trade(id, 400, 4, "100001.0", "1", false),
        quote(id, 500, "99999.9", "1", "100000.1", "1"),
    ];
    let mut bt = backtest(inst, vec![money("100000", "USDT")], Box::new(watch), events);
    let out = run(&mut bt);
    let seen = seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert!(
        seen.denied.is_empty() && seen.rejected.is_empty(),
        "{seen:?}"
    );
    // Mid 100 000.0, half spread 0.5, skew 0.2 per 0.002 held.
    let want: Vec<(Side, String, i64)> = vec![
        (Side::Buy, "99999.50".into(), 0),
        (Side::Sell, "100000.50".into(), 0),
        (Side::Buy, "99999.30".into(), 200_000),
        (Side::Sell, "100000.30".into(), 200_000),
        // At the limit: only the ask, at 100 000.0 - 0.4 + 0.5.
        (Side::Sell, "100000.10".into(), 400_000),
        (Side::Buy, "99999.30".into(), 200_000),
        (Side::Sell, "100000.30".into(), 200_000),
    ];
    assert_eq!(sent_summary(&seen.sent), want);
    assert!(seen.sent.iter().all(|s| s.post_only && s.qty == q("0.002")));
    assert_eq!(seen.max_abs_position_raw, 400_000);
    assert_eq!(out.fills.len(), 3);
    assert_eq!(out.fills[2].position_after, q("0.002"));
}

#[test]
fn microprice_reference_leans_towards_the_thin_side() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let run_with = |reference: &str| {
        let text = format!("{BASE}reference = \"{reference}\"\n");
        let (watch, seen) = Watch::new(build("market_maker", &text).unwrap(), id);
        let events = vec![quote(id, 0, "99999.9", "3", "100000.1", "1")];
        let mut bt = backtest(
            inst.clone(),
            vec![money("100000", "USDT")],
            Box::new(watch),
            events,
        );
        run(&mut bt);
        let s = seen.lock().unwrap();
        sent_summary(&s.sent)
    };
    // Microprice (99 999.9 x 1 + 100 000.1 x 3) / 4 = 100 000.05.
    assert_eq!(
        run_with("microprice"),
        [
            (Side::Buy, "99999.50".to_string(), 0),
            (Side::Sell, "100000.60".to_string(), 0)
        ]
    );
    assert_eq!(
        run_with("mid"),
        [
            (Side::Buy, "99999.50".to_string(), 0),
            (Side::Sell, "100000.50".to_string(), 0)
        ]
    );
}

/// Quotes every millisecond, moving by a few ticks every 4 ms, with trades hitting both
/// sides now and then (15.0 beyond the quotes: the half spread is 1 bp,
/// 10.0).
fn churn(id: InstrumentId, n: u64) -> Vec<MarketEvent> {
    let mut evs = Vec::new();
    let mut tid = 1;
    for i in 0..n {
        let wiggle = [0i64, 3, 7, 2, -4, -9, -3, 5][((i / 4) % 8) as usize];
        let drift = ((i / 40) % 10) as i64 * 6 - 30;
        let mid_ticks = 1_000_000 + wiggle + drift; // ticks of 0.1
        let bid = mid_ticks - 1;
        let ask = mid_ticks + 1;
        let f = |t: i64| format!("{}.{}", t / 10, t % 10);
        evs.push(quote(id, i, &f(bid), "2", &f(ask), "1"));
        if i % 13 == 5 {
            evs.push(trade(id, i, tid, &f(bid - 150), "0.5", true));
            tid += 1;
        }
        if i % 17 == 9 {
            evs.push(trade(id, i, tid, &f(ask + 150), "0.5", false));
            tid += 1;
        }
    }
    evs
}

fn churn_run() -> (
    veloz_runtime::RunOutput,
    std::sync::Arc<std::sync::Mutex<Seen>>,
    veloz_runtime::Backtest,
) {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let text = "instrument = \"BINANCE.USDM.BTCUSDT\"\nreference = \"microprice\"\nhalf_spread_bps = 1\nskew_ticks_per_unit = 3\norder_qty = \"0.002\"\nmax_position = \"0.006\"\n";
    let (mut watch, seen) = Watch::new(build("market_maker", text).unwrap(), id);
    watch.one_per_side = true;
    watch.max_position_raw = Some(600_000);
    let mut bt = backtest(
        inst,
        vec![money("100000", "USDT")],
        Box::new(watch),
        churn(id, 2_000),
    );
    let out = run(&mut bt);
    (out, seen, bt)
}

#[test]
fn never_more_than_one_live_order_per_side() {
    let (out, seen, bt) = churn_run();
    let seen = seen.lock().unwrap();
    // The kernel never saw a cancel of a closed order nor an event its order
    // state machine refused.
    assert_eq!(out.kernel.stale_requests, 0);
    assert_eq!(out.kernel.refused_order_events, 0);

    assert!(
        seen.violations.is_empty(),
        "{:?}",
        &seen.violations[..seen.violations.len().min(5)]
    );
    assert!(seen.sent.len() > 100, "only {} orders", seen.sent.len());
    assert!(out.fills.len() > 10, "only {} fills", out.fills.len());
    assert!(seen.max_abs_position_raw <= 600_000);
    assert!(
        seen.max_abs_position_raw >= 400_000,
        "{}",
        seen.max_abs_position_raw
    );
    // Order lifetimes per side never overlap: each order is sent after the
    // previous one on its side was closed.
    for side in [Side::Buy, Side::Sell] {
        let mut orders: Vec<_> = bt
            .kernel()
            .orders()
            .iter()
            .filter(|o| o.side() == side)
            .collect();
        orders.sort_by_key(|o| (o.request().ts_init, o.client_order_id()));
        for w in orders.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert!(a.is_closed(), "{:?} still open", a.client_order_id());
            let closed_at = a.last_event_times().unwrap().local;
            assert!(
                b.request().ts_init >= closed_at,
                "{side:?} {} sent at {} before {} closed at {}",
                b.client_order_id(),
                b.request().ts_init.0,
                a.client_order_id(),
                closed_at.0
            );
        }
    }
    // Every order is accounted for: the venue never rejected a quote for
    // taking (post-only guard) and nothing was denied.
    assert!(seen.denied.is_empty(), "{:?}", seen.denied);
}

#[test]
fn market_maker_is_deterministic() {
    let (a, _, _) = churn_run();
    let (b, _, _) = churn_run();
    assert!(!a.fills.is_empty());
    assert_eq!(a.fills, b.fills);
}

#[test]
fn refresh_timer_requotes_small_moves() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    // The mid rises by one tick every 10 ms; a move of 1 000 ticks would be
    // needed to requote without the timer.
    let events: Vec<MarketEvent> = (0..100u64)
        .map(|i| {
            let t = 1_000_000 + i as i64;
            let f = |t: i64| format!("{}.{}", t / 10, t % 10);
            quote(id, i * 10, &f(t - 1), "1", &f(t + 1), "1")
        })
        .collect();
    let count = |extra: &str| {
        let text = format!(
            "instrument = \"BINANCE.USDM.BTCUSDT\"\nhalf_spread_ticks = 500\norder_qty = \"0.002\"\nmax_position = \"0.004\"\nrequote_ticks = 1000\n{extra}"
        );
        let (watch, seen) = Watch::new(build("market_maker", &text).unwrap(), id);
        let mut bt = backtest(
            inst.clone(),
            vec![money("100000", "USDT")],
            Box::new(watch),
            events.clone(),
        );
        run(&mut bt);
        let s = seen.lock().unwrap();
        s.sent.iter().map(|x| (x.side, x.time)).collect::<Vec<_>>()
    };
    assert_eq!(count("").len(), 2);
    let timed = count("refresh_ms = 100\n");
    // Initial pair at 0, then a pair 2 ms (cancel round trip) after each
    // timer at 100, 200, ..., 900 ms.
    let mut want = vec![(Side::Buy, at(0)), (Side::Sell, at(0))];
    for k in 1..=9u64 {
        want.push((Side::Buy, at(k * 100 + 2)));
        want.push((Side::Sell, at(k * 100 + 2)));
    }
    assert_eq!(timed, want);
}

#[test]
fn spot_asks_only_with_base_to_sell() {
    let inst = veloz_sim::presets::spot_btcusdt();
    let id = inst.id;
    let text = "instrument = \"BINANCE.SPOT.BTCUSDT\"\nhalf_spread_ticks = 50\norder_qty = \"0.001\"\nmax_position = \"0.003\"\n";
    let sides = |balances: Vec<veloz_core::Money>| {
        let (mut watch, seen) = Watch::new(build("market_maker", text).unwrap(), id);
        watch.one_per_side = true;
        let events = vec![
            quote(id, 0, "99999.99", "1", "100000.01", "1"),
            quote(id, 10, "99999.99", "1", "100000.01", "1"),
        ];
        let mut bt = backtest(inst.clone(), balances, Box::new(watch), events);
        run(&mut bt);
        let s = seen.lock().unwrap();
        assert!(
            s.rejected.is_empty() && s.denied.is_empty() && s.violations.is_empty(),
            "{s:?}"
        );
        // The starting balances are known at the start: quoting starts on
        // the first quote.
        assert!(s.sent.iter().all(|x| x.time == at(0)));
        sent_summary(&s.sent)
    };
    assert_eq!(
        sides(vec![money("1000", "USDT")]),
        [(Side::Buy, "99999.50".to_string(), 0)]
    );
    assert_eq!(
        sides(vec![money("1000", "USDT"), money("0.002", "BTC")]),
        [
            (Side::Buy, "99999.50".to_string(), 0),
            (Side::Sell, "100000.50".to_string(), 0)
        ]
    );
}
