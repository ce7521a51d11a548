//! A hand-computed run: three fills on one USD-M instrument, five orders, six
//! mid samples and three equity samples; every figure of the analysis is
//! checked against the arithmetic in the comments.

use super::*;

const U: i128 = 100_000_000;
const S: i64 = 1_000_000_000;
const ID: &str = "BINANCE.USDM.BTCUSDT";

fn d(s: &str) -> i128 {
    run::parse_dec(s).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-12)
}

// A fill row in one call; the arguments are its columns.
#[allow(clippy::too_many_arguments)]
fn fill(
    t: i64,
    id: &str,
    side: Side,
    price: &str,
    qty: &str,
    fee: &str,
    maker: bool,
    after: &str,
) -> FillRow {
    FillRow {
        time: t * S,
        instrument: ID.into(),
        client_order_id: id.into(),
        side,
        price: d(price) as i64,
        qty: d(qty) as i64,
        fee: d(fee),
        fee_asset: "USDT".into(),
        maker,
        position_after: d(after) as i64,
    }
}

fn order(id: &str, side: Side, qty: &str, status: &str, filled: &str, created: i64) -> OrderRow {
    OrderRow {
        client_order_id: id.into(),
        instrument: ID.into(),
        side,
        quantity: d(qty) as i64,
        status: status.into(),
        filled_qty: d(filled) as i64,
        created: created * S,
    }
}

fn eq(
    t: i64,
    equity: &str,
    realized: &str,
    unrealized: &str,
    fees: &str,
    exposure: &str,
) -> EquityRow {
    EquityRow {
        time: t * S,
        equity: d(equity),
        realized: d(realized),
        unrealized: d(unrealized),
        fees: d(fees),
        funding: 0,
        exposure: d(exposure),
    }
}

/// Mids: 0 s 100, 10 s 102, 20 s 101, 25 s 101.2, 70 s 99, 130 s 103.
/// Fills: 5 s BUY 1 @ 99.5 (order A, created 0 s), 20 s SELL 2 @ 101.5
/// (B, 15 s), 70 s BUY 1 @ 99 (C, 60 s).
fn run_data() -> RunData {
    let prices = [
        (0, "100"),
        (10, "102"),
        (20, "101"),
        (25, "101.2"),
        (70, "99"),
        (130, "103"),
    ]
    .iter()
    .map(|&(t, p)| PriceRow {
        time: t * S,
        instrument: ID.into(),
        price: d(p) as i64,
    })
    .collect();
    RunData {
        currency: "USDT".into(),
        start_equity: 1000 * U,
        start: 0,
        instruments: vec![ID.into()],
        fills: vec![
            fill(5, "A", Side::Buy, "99.5", "1", "0.01", true, "1"),
            fill(20, "B", Side::Sell, "101.5", "2", "0.02", false, "-1"),
            fill(70, "C", Side::Buy, "99", "1", "0.01", true, "0"),
        ],
        orders: vec![
            order("A", Side::Buy, "1", "Filled", "1", 0),
            order("B", Side::Sell, "2", "Filled", "2", 15),
            order("C", Side::Buy, "1", "Filled", "1", 60),
            order("D", Side::Buy, "5", "Rejected", "0", 61),
            order("E", Side::Sell, "1", "Canceled", "0", 62),
        ],
        // 60 s: short 1 @ 101.5, mid 101.2 → unrealised 0.3, realised 2,
        //       fees 0.03 → equity 1002.27, exposure 101.2
        // 120 s: flat, realised 4.5, fees 0.04 → 1004.46; 130 s the same.
        equity: vec![
            eq(60, "1002.27", "2", "0.3", "0.03", "101.2"),
            eq(120, "1004.46", "4.5", "0", "0.04", "0"),
            eq(130, "1004.46", "4.5", "0", "0.04", "0"),
        ],
        prices,
    }
}

#[test]
fn pnl_is_exact_and_decomposes() {
    let a = analyze_data(&run_data(), &AnalysisOptions::default()).unwrap();
    let t = &a.pnl.total;
    assert_eq!(t.realized.to_string(), "4.50000000");
    assert_eq!(t.net.0, d("4.46"));
    let i = &a.pnl.instruments[0];
    // f1 opens long 1 @ 99.5; f2 closes it: (101.5 − 99.5) × 1 = 2, flips short 1 @ 101.5;
    // f3 closes: (101.5 − 99) × 1 = 2.5
    assert_eq!(i.realized.0, d("4.5"));
    assert_eq!((i.position.0, i.entry_price.0, i.unrealized.0), (0, 0, 0));
    assert_eq!(i.fees.0, d("0.04"));
    assert_eq!(i.funding, Some(Amount(0)));
    assert_eq!(i.net.0, d("4.46"));
    assert_eq!(i.last_price, Some(Amount(103 * U)));
    // turnover 99.5 + 203 + 99 = 401.5
    assert_eq!(i.turnover.0, d("401.5"));
    // spread: f1 (100 − 99.5) × 1 = 0.5; f2 (101.5 − 101) × 2 = 1; f3 (99 − 99) = 0
    let dc = &a.pnl.decomposition;
    assert_eq!(dc.spread_capture.0, d("1.5"));
    // inventory = 4.5 + 0 − 1.5 = 3; net = 1.5 + 3 − 0.04 + 0
    assert_eq!(dc.inventory.0, 3 * U);
    assert_eq!(
        dc.spread_capture.0 + dc.inventory.0 - dc.fees.0 + dc.funding.0,
        dc.net.0
    );
    assert_eq!(dc.fills_without_mid, 0);
    let s = serde_json::to_value(&a).unwrap();
    assert_eq!(s["pnl"]["total"]["net"], "4.46000000");
    assert_eq!(s["series"]["equity"][1][1], "1002.27000000");
}

#[test]
fn trade_statistics() {
    let a = analyze_data(&run_data(), &AnalysisOptions::default()).unwrap();
    let st = &a.stats;
    // trades: f2 (+2) and f3 (+2.5)
    assert_eq!((st.trades, st.winning_trades, st.losing_trades), (2, 2, 0));
    assert_eq!(st.win_rate, Some(1.0));
    assert_eq!(st.profit_factor, None);
    assert_eq!(st.expectancy, Some(Amount(d("2.25"))));
    assert_eq!(st.gross_profit.0, d("4.5"));
    assert!(close(st.turnover_ratio.unwrap(), 0.4015));
    // in the market 5 s → 70 s of 130 s
    assert!(close(st.exposure, 0.5));
}

#[test]
fn return_statistics_per_sample_and_resampled() {
    let a = analyze_data(&run_data(), &AnalysisOptions::default()).unwrap();
    // 130 s < 3 h: every equity sample. r = 2.27/1000, 2.19/1002.27, 0
    let r: Vec<f64> = a.series.returns.iter().map(|x| x.1).collect();
    assert_eq!(r.len(), 3);
    assert!(close(r[0], 0.00227) && close(r[1], 2.19 / 1002.27) && r[2] == 0.0);
    assert_eq!(a.returns.frequency_secs, 0.0);
    // 3 periods in 130 s
    let n = SECONDS_PER_YEAR / (130.0 / 3.0);
    assert!(close(a.returns.periods_per_year, n));
    let m = (r[0] + r[1]) / 3.0;
    let sd = (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!(close(a.stats.volatility.unwrap(), sd * n.sqrt()));
    assert!(close(a.stats.sharpe.unwrap(), m / sd * n.sqrt()));
    // no negative period: Sortino undefined
    assert_eq!(a.stats.sortino, None);
    assert!(close(a.stats.total_return.unwrap(), 0.00446));
    // never below a peak
    assert_eq!(a.stats.max_drawdown, 0.0);
    assert_eq!(a.stats.max_drawdown_duration_secs, 0.0);
    assert_eq!(a.stats.calmar, None);
    // VaR on 3 returns: k = 1, the smallest return is 0
    assert_eq!(a.risk.var_95, Some(-0.0));

    // 100 s periods: 0 → 1000, 100 s → 1002.27 (the 60 s value), 130 s → 1004.46
    let opts = AnalysisOptions {
        frequency: Some(Duration::from_secs(100)),
        risk_free_rate_annual: 0.05,
        ..AnalysisOptions::default()
    };
    let b = analyze_data(&run_data(), &opts).unwrap();
    assert_eq!(b.series.returns.len(), 2);
    assert_eq!(b.series.returns[0].0, 100 * S);
    assert!(close(b.series.returns[1].1, 2.19 / 1002.27));
    assert!(close(b.returns.periods_per_year, 315_360.0));
    assert!(close(
        b.returns.risk_free_rate_period,
        1.05f64.powf(1.0 / 315_360.0) - 1.0
    ));
}

#[test]
fn trade_quality_by_hand() {
    let a = analyze_data(&run_data(), &AnalysisOptions::default()).unwrap();
    let q = &a.trade_quality;
    // not rejected: A 1/1, B 2/2, C 1/1, E 0/1 → 4/5; 3 of 4 orders filled
    assert_eq!((q.orders, q.rejected_orders, q.fills), (5, 1, 3));
    assert!(close(q.fill_ratio.unwrap(), 0.8));
    assert!(close(q.filled_order_share.unwrap(), 0.75));
    assert!(close(q.maker_share.unwrap(), 2.0 / 3.0));
    // slippage vs arrival mid: A buy 99.5 vs 100 → −0.5; B sell 101.5 vs 102 (10 s
    // sample) → +0.5; C buy 99 vs 101.2 → −2.2
    let sl = &q.slippage;
    assert_eq!(sl.fills, 3);
    assert!(close(sl.mean.unwrap(), -2.2 / 3.0));
    let bps = (-0.5 / 100.0 + 0.5 / 102.0 - 2.2 / 101.2) * 1e4 / 3.0;
    assert!(close(sl.mean_bps.unwrap(), bps));
    // cost −0.5 × 1 + 0.5 × 2 − 2.2 × 1 = −1.7
    assert_eq!(sl.total_cost.0, d("-1.7"));
    // markouts side × (mid(t+h) − mid(t)):
    // 1 s: all 0; 10 s: A +2 (100 → 102), B −0.2 (101 → 101.2), C 0;
    // 60 s: A +1.2 (→ 101.2 at 65 s), B +2 (→ 99 at 80 s), C +4 (→ 103 at 130 s)
    let m = &q.markouts;
    assert_eq!(m[0].mean, Some(0.0));
    assert!(close(m[1].mean.unwrap(), 0.6));
    assert!(close(
        m[1].mean_bps.unwrap(),
        (2.0 / 100.0 - 0.2 / 101.0) * 1e4 / 3.0
    ));
    assert!(close(m[2].mean.unwrap(), 2.4));
    assert_eq!(m[2].fills, 3);
    let ad = &q.adverse_selection;
    assert_eq!((ad.fills, ad.adverse_fills), (3, 1));
    assert!(close(ad.share.unwrap(), 1.0 / 3.0));
    assert!(close(ad.mean_adverse_bps.unwrap(), -0.2 / 101.0 * 1e4));
    // inventory: |pos| 1 on [5, 20) and [20, 70) → 65 of 130 s
    let inv = &q.inventory[0];
    assert_eq!(inv.max_abs_position.0, U);
    assert!(close(inv.mean_abs_position, 0.5));
    assert!(close(inv.time_flat_share, 0.5));
    assert!(close(inv.mean_abs_position_at_fills.unwrap(), 2.0 / 3.0));
    // per-fill series
    let f = &a.series.fills[1];
    assert_eq!(f.spread_capture, Some(Amount(U)));
    assert_eq!(f.realized, Amount(2 * U));
    assert!(close(f.markouts_bps[1].unwrap(), -0.2 / 101.0 * 1e4));
}

#[test]
fn risk_and_leverage() {
    let a = analyze_data(&run_data(), &AnalysisOptions::default()).unwrap();
    let lev = 101.2 / 1002.27;
    assert!(close(a.series.leverage[0].1, lev));
    assert!(close(a.risk.max_leverage.unwrap(), lev));
    assert!(close(a.risk.mean_leverage.unwrap(), lev / 3.0));
    assert_eq!(a.risk.max_position, vec![(ID.to_string(), Amount(U))]);
}

#[test]
fn drawdown_on_a_losing_curve() {
    let mut data = run_data();
    // equity 1000 → 1002.27 → 950 → 960: dd = 52.27/1002.27, under water 60 s → 130 s
    data.equity[1].equity = 950 * U;
    data.equity[2].equity = 960 * U;
    let a = analyze_data(&data, &AnalysisOptions::default()).unwrap();
    assert!(close(a.stats.max_drawdown, 52.27 / 1002.27));
    assert_eq!(a.stats.max_drawdown_duration_secs, 70.0);
    let ann = a.stats.annualised_return.unwrap();
    assert!(close(a.stats.calmar.unwrap(), ann / (52.27 / 1002.27)));
    // returns 0.00227, −52.27/1002.27, 10/950: one negative → Sortino defined
    assert!(a.stats.sortino.unwrap() < 0.0);
    let (v, c) = (a.risk.var_95.unwrap(), a.risk.cvar_95.unwrap());
    assert!(close(v, 52.27 / 1002.27) && close(c, v));
}

#[test]
fn run_folder_round_trip() {
    let dir = std::env::temp_dir().join(format!("veloz-analytics-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    w(
        "summary.json",
        r#"{"currency":"USDT","start":"1970-01-01 00:00:00","start_equity":"1000.00000000","instruments":["BINANCE.USDM.BTCUSDT"]}"#,
    );
    w(
        "fills.csv",
        "time,exchange_time,strategy,instrument,client_order_id,trade_id,side,price,qty,fee,fee_asset,liquidity,position_after\n\
         1970-01-01T00:00:05.000000000Z,1970-01-01T00:00:05Z,s,BINANCE.USDM.BTCUSDT,A,1,BUY,99.5,1,0.01,USDT,maker,1\n\
         1970-01-01T00:00:20.000000000Z,1970-01-01T00:00:20Z,s,BINANCE.USDM.BTCUSDT,B,2,SELL,101.5,2,0.02,USDT,taker,-1\n\
         1970-01-01T00:01:10.000000000Z,1970-01-01T00:01:10Z,s,BINANCE.USDM.BTCUSDT,C,3,BUY,99,1,0.01,USDT,maker,0\n",
    );
    w(
        "orders.csv",
        "client_order_id,strategy,instrument,side,type,time_in_force,quantity,price,status,filled_qty,avg_price,created\n\
         A,s,BINANCE.USDM.BTCUSDT,BUY,Limit,Gtc,1,99.5,Filled,1,99.5,1970-01-01T00:00:00Z\n\
         B,s,BINANCE.USDM.BTCUSDT,SELL,Limit,Gtc,2,101.5,Filled,2,101.5,1970-01-01T00:00:15Z\n\
         C,s,BINANCE.USDM.BTCUSDT,BUY,Limit,Gtc,1,99,Filled,1,99,1970-01-01T00:01:00Z\n\
         D,s,BINANCE.USDM.BTCUSDT,BUY,Limit,Gtc,5,90,Rejected,0,,1970-01-01T00:01:01Z\n\
         E,s,BINANCE.USDM.BTCUSDT,SELL,Limit,Gtc,1,110,Canceled,0,,1970-01-01T00:01:02Z\n",
    );
    w(
        "equity.csv",
        "time,equity,realized,unrealized,fees,funding,exposure\n\
         1970-01-01T00:01:00Z,1002.27,2,0.3,0.03,0,101.2\n\
         1970-01-01T00:02:00Z,1004.46,4.5,0,0.04,0,0\n\
         1970-01-01T00:02:10Z,1004.46,4.5,0,0.04,0,0\n",
    );
    w(
        "prices.csv",
        "time,instrument,price\n\
         1970-01-01T00:00:00Z,BINANCE.USDM.BTCUSDT,100\n\
         1970-01-01T00:00:10Z,BINANCE.USDM.BTCUSDT,102\n\
         1970-01-01T00:00:20Z,BINANCE.USDM.BTCUSDT,101\n\
         1970-01-01T00:00:25Z,BINANCE.USDM.BTCUSDT,101.2\n\
         1970-01-01T00:01:10Z,BINANCE.USDM.BTCUSDT,99\n\
         1970-01-01T00:02:10Z,BINANCE.USDM.BTCUSDT,103\n",
    );
    let from_files = analyze(&dir, &AnalysisOptions::default()).unwrap();
    let in_memory = analyze_data(&run_data(), &AnalysisOptions::default()).unwrap();
    assert_eq!(from_files, in_memory);
    std::fs::remove_file(dir.join("prices.csv")).unwrap();
    let err = analyze(&dir, &AnalysisOptions::default()).unwrap_err();
    assert!(err.to_string().contains("prices.csv"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_run_has_no_statistics_and_does_not_fail() {
    let data = RunData {
        currency: "USDT".into(),
        start_equity: 1000 * U,
        start: 10 * S,
        instruments: vec![ID.into()],
        fills: vec![],
        orders: vec![],
        equity: vec![],
        prices: vec![],
    };
    let a = analyze_data(&data, &AnalysisOptions::default()).unwrap();
    assert_eq!(a.returns.count, 0);
    assert_eq!(
        (a.stats.sharpe, a.stats.volatility, a.risk.var_95),
        (None, None, None)
    );
    assert_eq!(a.stats.total_return, Some(0.0));
    assert_eq!(a.stats.annualised_return, None);
    assert_eq!(
        (a.trade_quality.fill_ratio, a.trade_quality.maker_share),
        (None, None)
    );
    assert_eq!(a.pnl.total.net, Amount(0));
    assert_eq!(a.pnl.instruments[0].last_price, None);
    assert_eq!(a.stats.exposure, 0.0);
    // an equity sample stamped before the start and a huge frequency
    let mut data = run_data();
    data.equity[0].time = 0;
    data.start = 1;
    let opts = AnalysisOptions {
        frequency: Some(Duration::MAX),
        ..AnalysisOptions::default()
    };
    let a = analyze_data(&data, &opts).unwrap();
    // one period: first point (0 ns, 1002.27) to the last (1004.46)
    assert_eq!(a.returns.count, 1);
    assert!(close(a.series.returns[0].1, 2.19 / 1002.27));
}
