//! `veloz backtest` end to end on the real fixture data: the three built-in
//! strategies trade and write their run folders, a run repeated gives
//! byte-identical fills and equity files, a sweep ranks its runs, and bad
//! input fails with a message that says what to fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use veloz_core::fixtures::fixture;

fn veloz() -> Command {
    Command::new(env!("CARGO_BIN_EXE_veloz"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(name: &str) -> PathBuf {
    repo().join("libs/strategies/examples/configs").join(name)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("veloz-bt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn backtest(strategy: &str, cfg: &Path, data: &[PathBuf], out: &Path) -> Output {
    let mut c = veloz();
    c.args(["backtest", "--quiet", "--strategy", strategy, "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .arg("--data")
        .args(data);
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        s,
        String::from_utf8_lossy(&o.stderr)
    );
    s
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn usdm_bars() -> Vec<PathBuf> {
    vec![
        fixture("binance/market/usdm_btcusdt_1m_20250504_20250603.csv.gz").unwrap(),
        fixture("binance/market/usdm_btcusdt_funding_20250306_20250603.csv.gz").unwrap(),
        fixture("binance/market/usdm_btcusdt_markprice_8h_20250306_20250603.csv.gz").unwrap(),
    ]
}

#[test]
fn ema_cross_on_usdm_bars_is_deterministic() {
    let (a, b) = (scratch("ema-a"), scratch("ema-b"));
    let cfg = config("ema_cross_usdm_btcusdt.toml");
    let out = ok(&backtest("ema_cross", &cfg, &usdm_bars(), &a));
    assert!(out.contains("run folder"), "{out}");
    ok(&backtest("ema_cross", &cfg, &usdm_bars(), &b));
    for f in [
        "fills.csv",
        "fills.parquet",
        "equity.csv",
        "equity.parquet",
        "orders.csv",
        "positions.parquet",
    ] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(!x.is_empty(), "{f} is empty");
        assert!(x == y, "{f} differs between two identical runs");
    }
    let s = summary(&a);
    assert!(s["fills"].as_u64().unwrap() > 100, "{s}");
    assert_eq!(s["instruments"][0], "BINANCE.USDM.BTCUSDT");
    assert_eq!(s["kernel"]["refused_order_events"], 0);
    // Funding was settled on the open positions.
    assert_ne!(s["funding"], "0.00000000", "{s}");
    // Equity = start + realised + unrealised + funding - fees, exactly.
    let last = std::fs::read_to_string(a.join("equity.csv")).unwrap();
    let row: Vec<&str> = last.lines().last().unwrap().split(',').collect();
    let p = |x: &str| veloz_core::fixed::parse_raw(x).unwrap().0;
    assert_eq!(
        p(row[1]),
        p("100000") + p(row[2]) + p(row[3]) - p(row[4]) + p(row[5]),
        "{row:?}"
    );
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn grid_on_spot_bars_trades_both_ways() {
    let d = scratch("grid");
    let data = vec![fixture("binance/market/spot_btcusdt_1m_20241130_20241229.csv.gz").unwrap()];
    ok(&backtest(
        "grid",
        &config("grid_spot_btcusdt.toml"),
        &data,
        &d,
    ));
    let fills = std::fs::read_to_string(d.join("fills.csv")).unwrap();
    assert!(fills.lines().any(|l| l.contains(",BUY,")), "no buys");
    assert!(fills.lines().any(|l| l.contains(",SELL,")), "no sells");
    let s = summary(&d);
    assert_eq!(s["maker_fills"], s["fills"], "a post-only grid only makes");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn market_maker_on_a_usdm_book_capture_quotes_and_fills() {
    let d = scratch("mm");
    let data = vec![fixture("binance/hftbacktest/usdm_btcusdt_20240808.gz").unwrap()];
    ok(&backtest(
        "market_maker",
        &config("mm_usdm_btcusdt.toml"),
        &data,
        &d,
    ));
    let s = summary(&d);
    assert!(s["fills"].as_u64().unwrap() > 10, "{s}");
    assert!(s["events"].as_u64().unwrap() > 50_000, "{s}");
    // Position never beyond max_position (0.010) plus one order (0.002).
    let fills = std::fs::read_to_string(d.join("fills.csv")).unwrap();
    for l in fills.lines().skip(1) {
        let pos = l.rsplit(',').next().unwrap();
        let raw = veloz_core::fixed::parse_raw(pos).unwrap().0.abs();
        assert!(raw <= 1_200_000, "position {pos} beyond the limit");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sweep_ranks_every_combination() {
    let d = scratch("sweep");
    let sweep = d.join("sweep.toml");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        &sweep,
        "rank_by = \"total_return\"\n[params]\nfast = [8, 12]\nslow = [26, 40]\n",
    )
    .unwrap();
    let data = vec![fixture("binance/market/usdm_btcusdt_1m_20250504_20250603.csv.gz").unwrap()];
    let mut c = veloz();
    c.args(["backtest", "--quiet", "--strategy", "ema_cross", "--config"])
        .arg(config("ema_cross_usdm_btcusdt.toml"))
        .arg("--out")
        .arg(d.join("out"))
        .arg("--sweep")
        .arg(&sweep)
        .arg("--data")
        .args(&data);
    ok(&c.output().unwrap());
    let table = std::fs::read_to_string(d.join("out/sweep.csv")).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 5, "{table}");
    assert!(rows[0].starts_with("rank,run,fast,slow,total_return"));
    let ret = |r: &str| {
        veloz_core::fixed::parse_raw(r.split(',').nth(4).unwrap())
            .unwrap()
            .0
    };
    assert!(ret(rows[1]) >= ret(rows[2]) && ret(rows[2]) >= ret(rows[4]));
    for i in 0..4 {
        assert!(d.join(format!("out/runs/{i:04}/fills.csv")).exists());
    }
    let _ = std::fs::remove_dir_all(&d);
}

fn fails_with(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "should have failed");
    assert!(err.contains(needle), "message lacks {needle:?}: {err}");
}

#[test]
fn bad_input_fails_with_a_message_that_says_what_to_fix() {
    let d = scratch("bad");
    std::fs::create_dir_all(&d).unwrap();
    let data = vec![fixture("binance/market/usdm_btcusdt_1m_20250504_20250603.csv.gz").unwrap()];
    // unknown field in the strategy config
    let cfg = d.join("bad.toml");
    std::fs::write(
        &cfg,
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 3\nslow = 9\nqty = \"0.002\"\nfasst = 4\n",
    )
    .unwrap();
    fails_with(&backtest("ema_cross", &cfg, &data, &d.join("o1")), "fasst");
    // unknown strategy
    fails_with(
        &backtest(
            "martingale",
            &config("ema_cross_usdm_btcusdt.toml"),
            &data,
            &d.join("o2"),
        ),
        "grid",
    );
    // missing data file
    fails_with(
        &backtest(
            "ema_cross",
            &config("ema_cross_usdm_btcusdt.toml"),
            &[d.join("nope.csv.gz")],
            &d.join("o3"),
        ),
        "--data",
    );
    // bad run settings
    let cfg2 = d.join("bad2.toml");
    std::fs::write(&cfg2, "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 3\nslow = 9\nqty = \"0.002\"\n[backtest]\nentry_latency = \"1.5ms\"\n").unwrap();
    fails_with(
        &backtest("ema_cross", &cfg2, &data, &d.join("o4")),
        "entry_latency",
    );
    // data of another instrument
    let spot = vec![fixture("binance/market/spot_btcusdt_1m_20241130_20241229.csv.gz").unwrap()];
    fails_with(
        &backtest(
            "ema_cross",
            &config("ema_cross_usdm_btcusdt.toml"),
            &spot,
            &d.join("o5"),
        ),
        "no events",
    );
    let _ = std::fs::remove_dir_all(&d);
}
