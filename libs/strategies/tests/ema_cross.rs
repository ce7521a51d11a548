//! The EMA crossover in real backtests on synthetic one-minute bars: it
//! trades exactly at the crosses, with the expected sides, quantities and
//! prices, on USD-M (long only and long/short) and spot.

mod common;

use common::*;
use veloz_core::{Quantity, Side};
use veloz_strategies::ema_cross::{ema_step, EMA_SCALE};
use veloz_strategies::{build, EmaCross, EmaCrossConfig};

/// Closes: ten bars falling by 100 from 100 000, five rising by 1 000, five
/// falling by 1 000. With fast 2 and slow 4 the fast EMA crosses above at
/// bar 10 and below at bar 16 (checked with exact fractions).
fn closes() -> Vec<i64> {
    let mut c = Vec::new();
    for i in 0..10 {
        c.push(100_000 - 100 * i);
    }
    for i in 1..=5 {
        c.push(99_100 + 1_000 * i);
    }
    for i in 1..=5 {
        c.push(104_100 - 1_000 * i);
    }
    c
}

fn bars(id: veloz_core::InstrumentId) -> Vec<veloz_core::events::MarketEvent> {
    let c = closes();
    let mut prev = c[0];
    c.iter()
        .enumerate()
        .map(|(i, &close)| {
            let b = bar(id, i as u64, prev, close);
            prev = close;
            b
        })
        .collect()
}

/// Bar `i` closes at `(i + 1)` minutes.
fn bar_close(i: u64) -> veloz_core::UnixNanos {
    at((i + 1) * 60_000)
}

#[test]
fn ema_step_is_the_exact_rational_update() {
    // n = 3: alpha = 1/2. From 100 towards 110: 105.
    let prev = 100 * 100_000_000 * EMA_SCALE;
    assert_eq!(
        ema_step(prev, 110 * 100_000_000, 3),
        Some(105 * 100_000_000 * EMA_SCALE)
    );
    // n = 2: alpha = 2/3 of (1 raw unit): 2/3 of 10^8 scaled units, half-even.
    assert_eq!(ema_step(0, 1, 2), Some(66_666_667));
}

#[test]
fn usdm_long_only_enters_and_exits_at_the_crosses() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let cfg = "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 2\nslow = 4\nqty = \"0.002\"\n";
    let strategy = build("ema_cross", cfg).unwrap();
    let mut bt = backtest(inst, vec![money("100000", "USDT")], strategy, bars(id));
    let out = run(&mut bt);
    assert_eq!(out.fills.len(), 2, "{:#?}", out.fills);
    // Cross up on bar 10 (the first rising close, 100 100): bought at the
    // next bar's open plus one tick, sent when bar 10 closed.
    let buy = &out.fills[0];
    assert_eq!(buy.fill.side, Side::Buy);
    assert_eq!(buy.fill.qty, q("0.002"));
    assert_eq!(buy.fill.price, p("100100.1"));
    assert!(buy.time > bar_close(10) && buy.time < bar_close(11));
    // Cross down on bar 16 (close 102 100; at bar 15 the fast EMA is still
    // above: 103 267.4 vs 102 876.9 in exact fractions).
    let sell = &out.fills[1];
    assert_eq!(sell.fill.side, Side::Sell);
    assert_eq!(sell.fill.qty, q("0.002"));
    assert_eq!(sell.fill.price, p("102099.9"));
    assert!(sell.time > bar_close(16) && sell.time < bar_close(17));
    assert_eq!(sell.position_after, Quantity::ZERO);
    // The exit is reduce-only.
    let orders: Vec<_> = bt.kernel().orders().iter().collect();
    assert_eq!(orders.len(), 2);
    let reduce: Vec<bool> = orders
        .iter()
        .map(|o| {
            o.request()
                .flags
                .contains(veloz_core::OrderFlags::REDUCE_ONLY)
        })
        .collect();
    assert_eq!(reduce.iter().filter(|r| **r).count(), 1);
}

#[test]
fn usdm_long_short_reverses_at_the_cross_down() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let cfg = EmaCrossConfig::from_toml(
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 2\nslow = 4\nqty = \"0.002\"\nmode = \"long_short\"\n",
    )
    .unwrap();
    let strategy = Box::new(EmaCross::new(cfg).unwrap());
    let mut bt = backtest(inst, vec![money("100000", "USDT")], strategy, bars(id));
    let out = run(&mut bt);
    assert_eq!(out.fills.len(), 2, "{:#?}", out.fills);
    assert_eq!(out.fills[0].fill.side, Side::Buy);
    assert_eq!(out.fills[0].fill.qty, q("0.002"));
    assert_eq!(out.fills[1].fill.side, Side::Sell);
    assert_eq!(out.fills[1].fill.qty, q("0.004"));
    assert!(out.fills[1].time > bar_close(16) && out.fills[1].time < bar_close(17));
    assert_eq!(out.fills[1].position_after, q("-0.002"));
}

#[test]
fn no_trade_without_a_cross() {
    // Only falling closes: the order of the EMAs never changes.
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let evs: Vec<_> = (0..20)
        .map(|i| {
            bar(
                id,
                i,
                100_000 - 100 * i as i64,
                100_000 - 100 * (i as i64 + 1),
            )
        })
        .collect();
    let cfg = "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 2\nslow = 4\nqty = \"0.002\"\n";
    let mut bt = backtest(
        inst,
        vec![money("100000", "USDT")],
        build("ema_cross", cfg).unwrap(),
        evs,
    );
    let out = run(&mut bt);
    assert!(out.fills.is_empty());
    assert_eq!(bt.kernel().orders().len(), 0);
}

#[test]
fn spot_sells_what_the_buy_delivered_after_fees() {
    let inst = veloz_sim::presets::spot_btcusdt();
    let id = inst.id;
    let cfg = "instrument = \"BINANCE.SPOT.BTCUSDT\"\nfast = 2\nslow = 4\nqty = \"0.001\"\n";
    let mut bt = backtest(
        inst,
        vec![money("10000", "USDT")],
        build("ema_cross", cfg).unwrap(),
        bars(id),
    );
    let out = run(&mut bt);
    assert_eq!(out.fills.len(), 2, "{:#?}", out.fills);
    let buy = &out.fills[0];
    assert_eq!(buy.fill.side, Side::Buy);
    assert_eq!(buy.fill.qty, q("0.001"));
    assert_eq!(buy.fill.price, p("100100.01"));
    // 0.1 % fee in BTC: 0.000001 BTC; 0.000999 rounds down to the 0.00001 step.
    assert_eq!(buy.fill.fee.raw(), 100);
    let sell = &out.fills[1];
    assert_eq!(sell.fill.side, Side::Sell);
    assert_eq!(sell.fill.qty, q("0.00099"));
    assert!(sell.time > bar_close(16) && sell.time < bar_close(17));
    assert_eq!(sell.fill.price, p("102099.99"));
}

#[test]
fn ema_cross_is_deterministic() {
    let run_once = || {
        let inst = veloz_sim::presets::usdm_btcusdt();
        let id = inst.id;
        let cfg = "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 2\nslow = 4\nqty = \"0.002\"\nmode = \"long_short\"\n";
        let mut bt = backtest(
            inst,
            vec![money("100000", "USDT")],
            build("ema_cross", cfg).unwrap(),
            bars(id),
        );
        run(&mut bt).fills
    };
    let a = run_once();
    assert_eq!(a.len(), 2);
    assert_eq!(a, run_once());
}
