//! The grid in real backtests on synthetic quotes: the initial ladder
//! (arithmetic and geometric), counter-orders one line up or down after
//! fills, spot inventory rules, and the three out-of-range behaviours.

mod common;

use common::*;
use veloz_core::{OrderType, Price, Quantity, Side};
use veloz_strategies::grid::{geometric_ratio, grid_lines, RATIO_SCALE};
use veloz_strategies::{build, GridConfig};

const USDM: &str = "BINANCE.USDM.BTCUSDT";
const SPOT: &str = "BINANCE.SPOT.BTCUSDT";

fn cfg(instrument: &str, extra: &str) -> String {
    format!(
        "instrument = \"{instrument}\"\nlower = \"100000\"\nupper = \"101000\"\nlevels = 10\nqty_per_level = \"{}\"\n{extra}",
        if instrument == USDM { "0.002" } else { "0.001" }
    )
}

fn prices(sent: &[Sent]) -> Vec<(Side, String)> {
    sent.iter()
        .map(|s| (s.side, s.price.map(|p| p.to_string()).unwrap_or_default()))
        .collect()
}

fn ladder(side: Side, from: i64, to: i64) -> Vec<(Side, String)> {
    (from..=to)
        .map(|k| (side, format!("{}.00", 100_000 + 100 * k)))
        .collect()
}

#[test]
fn arithmetic_lines_and_geometric_lines_are_exact() {
    let usdm = veloz_sim::presets::usdm_btcusdt();
    let spot = veloz_sim::presets::spot_btcusdt();
    let c = GridConfig::from_toml(&cfg(USDM, "")).unwrap();
    let lines: Vec<String> = grid_lines(&c, &usdm)
        .unwrap()
        .iter()
        .map(Price::to_string)
        .collect();
    let want: Vec<String> = (0..=10)
        .map(|k| format!("{}.00", 100_000 + 100 * k))
        .collect();
    assert_eq!(lines, want);

    // Geometric: lower * (upper/lower)^(k/n), snapped to the tick (checked
    // against 50-digit decimal arithmetic).
    let g = GridConfig::from_toml(
        "instrument = \"BINANCE.SPOT.BTCUSDT\"\nlower = \"100\"\nupper = \"200\"\nlevels = 4\nqty_per_level = \"0.1\"\nspacing = \"geometric\"\n",
    )
    .unwrap();
    let lines: Vec<String> = grid_lines(&g, &spot)
        .unwrap()
        .iter()
        .map(Price::to_string)
        .collect();
    assert_eq!(lines, ["100.00", "118.92", "141.42", "168.18", "200.00"]);
    // The ratio is 2^(1/4) = 1.189207115002721... truncated by the bisection.
    let r = geometric_ratio(100 * 100_000_000, 200 * 100_000_000, 4).unwrap();
    // Rounding each step to a raw unit leaves a little room above it.
    assert!((1_189_207_115_002..=1_189_207_115_020).contains(&r), "{r}");
    assert!(r < 2 * RATIO_SCALE);

    let g = GridConfig::from_toml(&format!(
        "instrument = \"{USDM}\"\nlower = \"100000\"\nupper = \"102400\"\nlevels = 4\nqty_per_level = \"0.002\"\nspacing = \"geometric\"\n"
    ))
    .unwrap();
    let lines: Vec<String> = grid_lines(&g, &usdm)
        .unwrap()
        .iter()
        .map(Price::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "100000.00",
            "100594.70",
            "101192.90",
            "101794.70",
            "102400.00"
        ]
    );

    let g = GridConfig::from_toml(
        "instrument = \"BINANCE.SPOT.BTCUSDT\"\nlower = \"95000\"\nupper = \"105000\"\nlevels = 10\nqty_per_level = \"0.001\"\nspacing = \"geometric\"\n",
    )
    .unwrap();
    let lines: Vec<String> = grid_lines(&g, &spot)
        .unwrap()
        .iter()
        .map(Price::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "95000.00",
            "95955.57",
            "96920.75",
            "97895.63",
            "98880.32",
            "99874.92",
            "100879.52",
            "101894.23",
            "102919.14",
            "103954.36",
            "105000.00"
        ]
    );
}

#[test]
fn futures_grid_places_levels_orders_and_answers_fills_one_line_away() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let (watch, seen) = Watch::new(build("grid", &cfg(USDM, "")).unwrap(), id);
    let events = vec![
        quote(id, 0, "100529.9", "1", "100530.1", "1"),
        // The ask comes down to our buy at 100 400: it fills.
        quote(id, 100, "100399.9", "1", "100400.0", "1"),
        // The bid goes up to the counter-sell at 100 500: it fills.
        quote(id, 200, "100500.0", "1", "100500.1", "1"),
        quote(id, 300, "100529.9", "1", "100530.1", "1"),
    ];
    let mut bt = backtest(inst, vec![money("100000", "USDT")], Box::new(watch), events);
    let out = run(&mut bt);
    let seen = seen.lock().unwrap();
    assert!(
        seen.denied.is_empty() && seen.rejected.is_empty(),
        "{seen:?}"
    );
    // 10 intervals: the line nearest 100 530 (100 500) stays empty, 5 buys
    // below it and 5 sells above it.
    let mut want = ladder(Side::Buy, 0, 4);
    want.extend(ladder(Side::Sell, 6, 10));
    // Buy at line 4 filled -> sell at line 5; that sell filled -> buy at line 4.
    want.push((Side::Sell, "100500.00".into()));
    want.push((Side::Buy, "100400.00".into()));
    assert_eq!(prices(&seen.sent), want);
    assert!(seen
        .sent
        .iter()
        .all(|s| s.qty == q("0.002") && !s.post_only));
    assert!(seen.sent[..10].iter().all(|s| s.time == at(0)));
    assert_eq!(out.fills.len(), 2);
    assert_eq!(
        (out.fills[0].fill.side, out.fills[0].fill.price),
        (Side::Buy, p("100400"))
    );
    assert_eq!(
        (out.fills[1].fill.side, out.fills[1].fill.price),
        (Side::Sell, p("100500"))
    );
    assert_eq!(out.fills[1].position_after, Quantity::ZERO);
}

#[test]
fn geometric_post_only_grid_in_a_backtest() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let text = format!(
        "instrument = \"{USDM}\"\nlower = \"100000\"\nupper = \"102400\"\nlevels = 4\nqty_per_level = \"0.002\"\nspacing = \"geometric\"\npost_only = true\n"
    );
    let (watch, seen) = Watch::new(build("grid", &text).unwrap(), id);
    let events = vec![quote(id, 0, "101100.0", "1", "101100.1", "1")];
    let mut bt = backtest(inst, vec![money("100000", "USDT")], Box::new(watch), events);
    run(&mut bt);
    let seen = seen.lock().unwrap();
    assert_eq!(
        prices(&seen.sent),
        [
            (Side::Buy, "100000.00".to_string()),
            (Side::Buy, "100594.70".to_string()),
            (Side::Sell, "101794.70".to_string()),
            (Side::Sell, "102400.00".to_string()),
        ]
    );
    assert!(seen.sent.iter().all(|s| s.post_only));
}

#[test]
fn spot_grid_without_base_buys_only_and_sells_what_a_buy_delivered() {
    let inst = veloz_sim::presets::spot_btcusdt();
    let id = inst.id;
    let (watch, seen) = Watch::new(build("grid", &cfg(SPOT, "")).unwrap(), id);
    // A spot grid starts once the venue reported a balance (after the first
    // quote in a backtest).
    let events = vec![
        quote(id, 0, "100529.99", "1", "100530.01", "1"),
        quote(id, 50, "100529.99", "1", "100530.01", "1"),
        quote(id, 100, "100399.99", "1", "100400.00", "1"),
    ];
    let mut bt = backtest(inst, vec![money("10000", "USDT")], Box::new(watch), events);
    let out = run(&mut bt);
    let seen = seen.lock().unwrap();
    let mut want = ladder(Side::Buy, 0, 4);
    want.push((Side::Sell, "100500.00".into()));
    assert_eq!(prices(&seen.sent), want);
    assert_eq!(out.fills.len(), 1);
    // 0.001 bought, 0.000001 BTC fee: the sell is 0.00099 (step 0.00001).
    assert_eq!(seen.sent[5].qty, q("0.00099"));
}

#[test]
fn spot_grid_sells_above_as_far_as_the_base_balance_goes() {
    let inst = veloz_sim::presets::spot_btcusdt();
    let id = inst.id;
    let (watch, seen) = Watch::new(build("grid", &cfg(SPOT, "")).unwrap(), id);
    let events = vec![
        quote(id, 0, "100529.99", "1", "100530.01", "1"),
        quote(id, 10, "100529.99", "1", "100530.01", "1"),
    ];
    let balances = vec![money("10000", "USDT"), money("0.0025", "BTC")];
    let mut bt = backtest(inst, balances, Box::new(watch), events);
    run(&mut bt);
    let seen = seen.lock().unwrap();
    let mut want = ladder(Side::Buy, 0, 4);
    want.extend(ladder(Side::Sell, 6, 7));
    assert_eq!(prices(&seen.sent), want);
}

/// Spot grid without base: 5 buys; the price jumps above the range (no
/// order is crossed) and comes back.
fn out_of_range_run(mode: &str) -> (Vec<Sent>, Vec<veloz_oms::OrderStatus>) {
    let inst = veloz_sim::presets::spot_btcusdt();
    let id = inst.id;
    let text = cfg(SPOT, &format!("out_of_range = \"{mode}\"\n"));
    let (watch, seen) = Watch::new(build("grid", &text).unwrap(), id);
    let events = vec![
        quote(id, 0, "100529.99", "1", "100530.01", "1"),
        quote(id, 50, "100529.99", "1", "100530.01", "1"),
        quote(id, 100, "101500.00", "1", "101500.01", "1"),
        quote(id, 200, "101500.00", "1", "101500.01", "1"),
        quote(id, 300, "100529.99", "1", "100530.01", "1"),
    ];
    let mut bt = backtest(inst, vec![money("10000", "USDT")], Box::new(watch), events);
    let out = run(&mut bt);
    assert!(out.fills.is_empty());
    let statuses = bt.kernel().orders().iter().map(|o| o.status()).collect();
    let sent = seen.lock().unwrap().sent.clone();
    (sent, statuses)
}

#[test]
fn out_of_range_hold_keeps_the_orders() {
    let (sent, _) = out_of_range_run("hold");
    assert_eq!(prices(&sent), ladder(Side::Buy, 0, 4));
}

#[test]
fn out_of_range_cancel_cancels_and_restarts_inside_the_range() {
    let (sent, statuses) = out_of_range_run("cancel");
    let mut want = ladder(Side::Buy, 0, 4);
    want.extend(ladder(Side::Buy, 0, 4));
    assert_eq!(prices(&sent), want);
    // The starting balance is known at the start: the grid goes out on the
    // first quote, before the price leaves the range.
    assert!(sent[..5]
        .iter()
        .all(|s| s.time == sent[0].time && s.time < at(100)));
    assert!(sent[5..].iter().all(|s| s.time == at(300)));
    // First batch canceled when the price left, second one at the stop.
    assert_eq!(statuses.len(), 10);
    assert!(statuses
        .iter()
        .all(|s| *s == veloz_oms::OrderStatus::Canceled));
}

#[test]
fn out_of_range_close_flattens_a_futures_position() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let text = cfg(USDM, "out_of_range = \"close\"\n");
    let (watch, seen) = Watch::new(build("grid", &text).unwrap(), id);
    let events = vec![
        quote(id, 0, "100529.9", "1", "100530.1", "1"),
        // Buy at 100 400 fills: long 0.002, counter-sell at 100 500.
        quote(id, 100, "100399.9", "1", "100400.0", "1"),
        quote(id, 200, "100429.9", "1", "100430.1", "1"),
        // Price goes above the range, through every sell (100 500 .. 101 000).
        quote(id, 300, "101200.0", "1", "101200.1", "1"),
        quote(id, 400, "101200.0", "1", "101200.1", "1"),
        quote(id, 500, "101200.0", "1", "101200.1", "1"),
    ];
    let mut bt = backtest(inst, vec![money("100000", "USDT")], Box::new(watch), events);
    let out = run(&mut bt);
    let seen = seen.lock().unwrap();
    let last = seen.sent.last().unwrap();
    assert_eq!(last.side, Side::Buy);
    assert!(last.reduce_only);
    assert_eq!(last.price, None);
    // Six sells filled (0.012) against one buy (0.002): short 0.010, bought back.
    assert_eq!(last.qty, q("0.010"));
    let kinds: Vec<OrderType> = bt
        .kernel()
        .orders()
        .iter()
        .map(|o| o.order_type())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == OrderType::Market).count(), 1);
    let fin = out.fills.last().unwrap();
    assert_eq!(fin.fill.side, Side::Buy);
    assert_eq!(fin.position_after, Quantity::ZERO);
    assert_eq!(
        bt.kernel().portfolio().position(id).unwrap().qty(),
        Quantity::ZERO
    );
}

#[test]
fn grid_is_deterministic() {
    let once = || {
        let inst = veloz_sim::presets::usdm_btcusdt();
        let id = inst.id;
        let mut events = Vec::new();
        for i in 0..200u64 {
            // A saw-tooth between 100 050 and 100 950.
            let k = (i % 20) as i64;
            let mid = if k < 10 {
                100_050 + 90 * k
            } else {
                100_950 - 90 * (k - 10)
            };
            events.push(quote(
                id,
                i * 50,
                &format!("{}.0", mid - 1),
                "1",
                &format!("{mid}.0"),
                "1",
            ));
        }
        let mut bt = backtest(
            inst,
            vec![money("100000", "USDT")],
            build("grid", &cfg(USDM, "")).unwrap(),
            events,
        );
        run(&mut bt).fills
    };
    let a = once();
    assert!(a.len() > 10, "{}", a.len());
    assert_eq!(a, once());
}
