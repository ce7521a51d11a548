//! Renders hand-made run and sweep folders and checks the charts, their point
//! counts, the tables, HTML escaping and the errors for missing or bad files.

use std::path::{Path, PathBuf};

use serde_json::json;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veloz-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const INST: &str = "BINANCE.USDM.BTCUSDT";

/// A two-minute run: 3 equity rows, 4 prices, 3 fills (2 buys, 1 sell).
fn run_folder(name: &str) -> PathBuf {
    let d = tmp(name);
    write(
        &d,
        "summary.json",
        &json!({
            "strategy": "market_maker",
            "instruments": [INST],
            "data": ["/data/<capture>.gz"],
            "currency": "USDT",
            "start": "2024-08-08 23:58:00",
            "end": "2024-08-09 00:00:00",
            "start_equity": "100000.00000000",
            "final_equity": "99999.00000000",
            "pnl": "-1.00000000",
            "total_return": "-0.00001000",
            "max_drawdown": "0.00002000",
            "fees": "0.30000000",
            "funding": "0.00000000",
            "orders": 4,
            "fills": 3,
            "kernel": {"inputs": 10},
        })
        .to_string(),
    );
    write(
        &d,
        "equity.csv",
        "time,equity,realized,unrealized,fees,funding,exposure\n\
         2024-08-08T23:59:00.000000000Z,99998,-1.5,-0.2,0.3,0,61.8\n\
         2024-08-09T00:00:00.000000000Z,99999,-0.5,-0.2,0.3,0,0\n\
         2024-08-09T00:00:00.500000000Z,99999,-0.5,-0.2,0.3,0,0\n",
    );
    write(
        &d,
        "fills.csv",
        &format!(
            "time,exchange_time,strategy,instrument,client_order_id,trade_id,side,price,qty,fee,fee_asset,liquidity,position_after\n\
             2024-08-08T23:58:10.000000000Z,2024-08-08T23:58:09.995000000Z,market_maker,{INST},VZ.1.1,1,BUY,61800.5,0.002,0.1,USDT,maker,0.002\n\
             2024-08-08T23:58:40.000000000Z,2024-08-08T23:58:39.995000000Z,market_maker,{INST},VZ.1.2,2,BUY,61801.5,0.002,0.1,USDT,maker,0.004\n\
             2024-08-08T23:59:30.000000000Z,2024-08-08T23:59:29.995000000Z,market_maker,{INST},VZ.1.3,3,SELL,61805,0.004,0.1,USDT,taker,0\n"
        ),
    );
    write(
        &d,
        "prices.csv",
        &format!(
            "time,instrument,price\n\
             2024-08-08T23:58:00.000000000Z,{INST},61800\n\
             2024-08-08T23:58:30.000000000Z,{INST},61802\n\
             2024-08-08T23:59:00.000000000Z,{INST},61799\n\
             2024-08-08T23:59:30.000000000Z,{INST},61806\n"
        ),
    );
    write(
        &d,
        "orders.csv",
        &format!(
            "client_order_id,strategy,instrument,side,type,time_in_force,quantity,price,status,filled_qty,avg_price,created\n\
             VZ.1.1,market_maker,{INST},BUY,Limit,Gtc,0.002,61800.5,Filled,0.002,61800.5,2024-08-08T23:58:00.000000000Z\n\
             VZ.1.2,market_maker,{INST},BUY,Limit,Gtc,0.002,61801.5,Filled,0.002,61801.5,2024-08-08T23:58:30.000000000Z\n\
             VZ.1.3,market_maker,{INST},SELL,Market,Gtc,0.004,,Filled,0.004,61805,2024-08-08T23:59:29.000000000Z\n\
             VZ.1.4,market_maker,{INST},SELL,Limit,Gtc,0.002,61900,Canceled,0,,2024-08-08T23:59:40.000000000Z\n"
        ),
    );
    write(
        &d,
        "config.toml",
        "half_spread_ticks = 5\nnote = \"<script>alert(1)</script>\"\n",
    );
    d
}

fn chart_points(html: &str, chart: &str) -> Option<usize> {
    let key = format!("data-chart=\"{chart}\" data-points=\"");
    let i = html.find(&key)? + key.len();
    let rest = &html[i..];
    rest[..rest.find('"')?].parse().ok()
}

#[test]
fn run_report_from_the_folder_alone() {
    let d = run_folder("alone");
    let html = veloz_report::render_run(&d, None).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // equity: start point + 3 rows; drawdown: same
    assert_eq!(chart_points(&html, "equity"), Some(4));
    assert_eq!(chart_points(&html, "drawdown"), Some(4));
    // price: 4 mids + 3 markers
    assert_eq!(chart_points(&html, "price-0"), Some(7));
    assert_eq!(html.matches("class=\"buy\"").count(), 2);
    assert_eq!(html.matches("class=\"sell\"").count(), 1);
    // position steps: start 0, 3 fills, end -> 5 points, 4 steps inserted
    assert_eq!(chart_points(&html, "position"), Some(9));
    assert_eq!(chart_points(&html, "exposure"), Some(3));
    // realised, unrealised, fees, funding, net
    assert_eq!(chart_points(&html, "pnl"), Some(5));
    assert!(html.contains(">-0.5</text>") && html.contains(">-0.3</text>"));
    assert!(html.contains(">-1</text>"), "net = -0.5 - 0.2 - 0.3 + 0");
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
    // summary and trade tables
    assert!(html.contains("<th>final equity</th><td class=\"n\">99999.00000000</td>"));
    assert!(html.contains(
        "<td>BINANCE.USDM.BTCUSDT</td><td>BUY</td><td class=\"n\">2</td><td class=\"n\">2</td><td class=\"n\">0.004</td><td class=\"n\">61801</td><td>0.2 USDT</td>"
    ), "exact quantity, VWAP and fees");
    assert!(html.contains("<td>Limit</td><td>Canceled</td><td class=\"n\">1</td>"));
    // escaped text from files, no scripts, no external resources
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("/data/&lt;capture&gt;.gz"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=") && !html.contains("<link"));
    assert!(html.contains("no analytics given"));
    // deterministic
    assert_eq!(html, veloz_report::render_run(&d, None).unwrap());
    let path = veloz_report::write_run_report(&d, None).unwrap();
    assert_eq!(path, d.join("report.html"));
    assert_eq!(std::fs::read_to_string(path).unwrap(), html);
}

#[test]
fn run_report_with_analytics() {
    let d = run_folder("analytics");
    let a = json!({
        "currency": "USDT",
        "start": 1_723_161_256_299_000_000_i64,
        "pnl": {"decomposition": {"spread_capture": "3.5", "inventory": "-4.2", "fees": "0.3", "funding": "0", "net": "-1", "fills_without_mid": 0}},
        "stats": {"sharpe": 1.234_567_89, "max_drawdown": 0.00002},
        "trade_quality": {"markouts": [{"horizon_secs": 1.0, "mean_bps": -0.5}, {"horizon_secs": 10.0, "mean_bps": null}]},
        "series": {"equity": [["x", "1"]]},
    });
    let html = veloz_report::render_run(&d, Some(&a)).unwrap();
    assert_eq!(chart_points(&html, "pnl"), Some(5));
    assert!(html.contains("<title>spread capture: 3.5</title>"));
    assert!(
        html.contains("<title>fees: -0.3</title>"),
        "fees drawn as a cost"
    );
    assert!(html.contains("<h3 class=\"stats\">stats</h3>"));
    assert!(html.contains("<th>sharpe</th><td class=\"n\">1.23457</td>"));
    assert!(html.contains("<th>horizon secs</th><th>mean bps</th>"));
    assert!(!html.contains("<h3 class=\"stats\">series</h3>"));
    assert!(!html.contains("no analytics given"));
    assert!(html.contains("<th>start</th><td>2024-08-08 23:54:16.299000000 UTC</td>"));
}

#[test]
fn missing_and_bad_files_are_named() {
    let d = tmp("missing");
    let e = veloz_report::render_run(&d, None).unwrap_err().to_string();
    assert!(
        e.contains("summary.json") && e.contains("veloz backtest"),
        "{e}"
    );
    let d = run_folder("bad");
    write(&d, "fills.csv", "time,side\n2024-01-01T00:00:00Z,BUY\n");
    let e = veloz_report::render_run(&d, None).unwrap_err().to_string();
    assert!(
        e.contains("fills.csv") && e.contains("no column \"instrument\""),
        "{e}"
    );
    let d = run_folder("badtime");
    write(&d, "equity.csv", "time,equity,exposure\nyesterday,1,0\n");
    let e = veloz_report::render_run(&d, None).unwrap_err().to_string();
    assert!(e.contains("equity.csv") && e.contains("line 2"), "{e}");
    let d = run_folder("nofills");
    std::fs::remove_file(d.join("fills.csv")).unwrap();
    let e = veloz_report::render_run(&d, None).unwrap_err().to_string();
    assert!(e.contains("fills.csv: file not found"), "{e}");
    let e = veloz_report::render_sweep(&tmp("nosweep"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("sweep.csv: file not found"), "{e}");
}

#[test]
fn run_without_prices_or_fills_still_renders() {
    let d = run_folder("quiet");
    std::fs::remove_file(d.join("prices.csv")).unwrap();
    write(
        &d,
        "fills.csv",
        "time,exchange_time,strategy,instrument,client_order_id,trade_id,side,price,qty,fee,fee_asset,liquidity,position_after\n",
    );
    let html = veloz_report::render_run(&d, None).unwrap();
    assert!(html.contains("prices.csv is missing"));
    assert_eq!(chart_points(&html, "price-0"), None);
    // flat position from start to end
    assert_eq!(chart_points(&html, "position"), Some(3));
    assert_eq!(chart_points(&html, "equity"), Some(4));
}

const SWEEP_HEADER: &str =
    "rank,run,fast,slow,mode,total_return,pnl,final_equity,max_drawdown,fills,orders,fees,realized_pnl\n";

#[test]
fn sweep_heatmaps_take_the_best_over_other_parameters() {
    let d = tmp("sweep3");
    let mut csv = String::from(SWEEP_HEADER);
    // ranked by total_return, descending
    let rows = [
        ("0003", 12, 26, "long_only", "0.002"),
        ("0001", 8, 26, "long_only", "0.001"),
        ("0000", 8, 26, "long_short", "-0.001"),
        ("0002", 12, 26, "long_short", "-0.002"),
        ("0005", 12, 40, "long_only", "-0.003"),
        ("0004", 8, 40, "<x>", "-0.004"),
    ];
    for (i, (run, f, s, m, r)) in rows.iter().enumerate() {
        csv.push_str(&format!(
            "{},{run},{f},{s},{m},{r},1,1,0.01,3,4,0.5,1\n",
            i + 1
        ));
    }
    write(&d, "sweep.csv", &csv);
    std::fs::create_dir_all(d.join("runs/0003")).unwrap();
    write(&d.join("runs/0003"), "report.html", "x");
    let html = veloz_report::render_sweep(&d).unwrap();
    assert!(
        html.contains("ranked by total_return"),
        "metric inferred from the order"
    );
    assert!(html.contains("higher is better"));
    // fast x slow: 4 cells; fast x mode: 2 x 3 with 5 filled; slow x mode: 4 filled
    assert_eq!(chart_points(&html, "sweep-0"), Some(4));
    assert_eq!(chart_points(&html, "sweep-1"), Some(5));
    assert_eq!(chart_points(&html, "sweep-2"), Some(4));
    assert!(
        html.contains("fast=12, slow=26: 0.002</title>"),
        "best of long_only and long_short"
    );
    assert!(html.contains("fast=8, slow=26: 0.001</title>"));
    assert!(html.contains("(best over the other parameters)"));
    assert!(html.contains("&lt;x&gt;") && !html.contains("<x>"));
    assert!(html.contains("<a href=\"runs/0003/report.html\">0003</a>"));
    assert!(
        html.contains("<td class=\"n\">0001</td>"),
        "no link without a report"
    );
    let p = veloz_report::write_sweep_report(&d).unwrap();
    assert_eq!(p, d.join("sweep.html"));

    // explicit metric, lower is better for max_drawdown when unsorted
    let html = veloz_report::render_sweep_by(&d, "fees").unwrap();
    assert!(html.contains("ranked by fees") && html.contains("lower is better"));
    let e = veloz_report::render_sweep_by(&d, "bogus")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column \"bogus\""), "{e}");
}

#[test]
fn sweep_with_one_parameter_draws_bars() {
    let d = tmp("sweep1");
    let csv =
        "rank,run,fast,total_return,pnl,final_equity,max_drawdown,fills,orders,fees,realized_pnl\n\
               1,0001,12,0.5,1,1,0.01,3,4,0.5,1\n\
               2,0000,8,-0.25,1,1,0.01,3,4,0.5,1\n";
    write(&d, "sweep.csv", csv);
    let html = veloz_report::render_sweep(&d).unwrap();
    assert_eq!(chart_points(&html, "sweep-0"), Some(2));
    let i8 = html.find("fast=8</text>").unwrap();
    let i12 = html.find("fast=12</text>").unwrap();
    assert!(i8 < i12, "numeric order of parameter values");
}
