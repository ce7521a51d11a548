//! The registry and the configs: names, building from TOML, the instruments
//! a config trades, rule checks against the instruments, errors that name
//! the wrong field, the example config files, and the examples on real
//! fixture bars.

mod common;

use std::path::PathBuf;

use common::*;
use veloz_core::{Instrument, InstrumentId, MarketKind, Quantity, Side};
use veloz_strategies::{
    build, check_rules, instruments_of, names, EmaCrossConfig, GridConfig, MarketMakerConfig,
    StrategyConfigError,
};

fn presets() -> Vec<Instrument> {
    vec![
        veloz_sim::presets::spot_btcusdt(),
        veloz_sim::presets::usdm_btcusdt(),
        veloz_sim::presets::coinm_btcusd_perp(),
    ]
}

/// Every example config with its strategy name (from its `# strategy:` line).
fn examples() -> Vec<(PathBuf, String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/configs");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("# strategy: "))
            .unwrap_or_else(|| panic!("{} has no `# strategy:` line", path.display()))
            .trim()
            .to_string();
        out.push((path, name, text));
    }
    out.sort();
    out
}

fn invalid_field(r: Result<impl std::fmt::Debug, StrategyConfigError>) -> (&'static str, String) {
    let e = r.unwrap_err();
    let msg = e.to_string();
    (
        e.field()
            .unwrap_or_else(|| panic!("not a field error: {msg}")),
        msg,
    )
}

fn parse_message(r: Result<impl std::fmt::Debug, StrategyConfigError>) -> String {
    match r.unwrap_err() {
        e @ StrategyConfigError::Parse { .. } => e.to_string(),
        other => panic!("expected a parse error, got {other}"),
    }
}

#[test]
fn names_and_unknown_strategy() {
    assert_eq!(names(), ["grid", "market_maker", "ema_cross"]);
    let e = build("martingale", "").unwrap_err();
    assert!(matches!(e, StrategyConfigError::UnknownStrategy { .. }));
    assert!(
        e.to_string().contains("grid, market_maker, ema_cross"),
        "{e}"
    );
}

#[test]
fn every_example_config_builds_and_fits_its_instrument() {
    let ex = examples();
    let files: Vec<String> = ex
        .iter()
        .map(|(p, _, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "grid_spot_btcusdt.toml",
        "grid_usdm_btcusdt.toml",
        "mm_usdm_btcusdt.toml",
        "ema_cross_usdm_btcusdt.toml",
        "ema_cross_spot_btcusdt.toml",
    ] {
        assert!(files.iter().any(|f| f == want), "missing {want}");
    }
    for (path, name, text) in &ex {
        let s = build(name, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(s.name(), name.as_str());
        let ids = instruments_of(name, text).unwrap();
        assert_eq!(ids.len(), 1);
        let file = path.file_name().unwrap().to_string_lossy();
        let kind = if file.contains("spot") {
            MarketKind::Spot
        } else if file.contains("usdm") {
            MarketKind::UsdM
        } else {
            MarketKind::CoinM
        };
        assert_eq!(ids[0].kind, kind, "{file}");
        check_rules(name, text, &presets()).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn instruments_of_reads_the_instrument_id() {
    let ids = instruments_of(
        "ema_cross",
        "instrument = \"BINANCE.COINM.BTCUSD_PERP\"\nfast = 3\nslow = 9\nqty = 1\n",
    )
    .unwrap();
    assert_eq!(
        ids,
        [InstrumentId::binance(MarketKind::CoinM, "BTCUSD_PERP").unwrap()]
    );
}

const GRID: &str = "instrument = \"BINANCE.USDM.BTCUSDT\"\nlower = \"100000\"\nupper = \"101000\"\nqty_per_level = \"0.002\"\n";

#[test]
fn grid_config_errors_name_the_field() {
    let g = |extra: &str| GridConfig::from_toml(&format!("{GRID}{extra}"));
    assert!(g("levels = 10\n").is_ok());
    assert_eq!(invalid_field(g("levels = 0\n")).0, "levels");
    assert_eq!(invalid_field(g("levels = 100000\n")).0, "levels");
    let (f, msg) = invalid_field(GridConfig::from_toml(
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nlower = \"101000\"\nupper = \"100000\"\nlevels = 4\nqty_per_level = \"0.002\"\n",
    ));
    assert_eq!(f, "upper");
    assert!(msg.contains("must be above `lower`"), "{msg}");
    assert_eq!(
        invalid_field(GridConfig::from_toml(
            "instrument = \"BINANCE.USDM.BTCUSDT\"\nlower = \"100000\"\nupper = \"101000\"\nlevels = 4\nqty_per_level = \"0\"\n"
        ))
        .0,
        "qty_per_level"
    );
    // Parse errors name the field too.
    let msg = parse_message(g("levels = 10\nlevelz = 3\n"));
    assert!(msg.contains("unknown field `levelz`"), "{msg}");
    let msg = parse_message(GridConfig::from_toml(GRID));
    assert!(msg.contains("missing field `levels`"), "{msg}");
    let msg = parse_message(g("levels = 10\nspacing = \"log\"\n"));
    assert!(
        msg.contains("spacing") && msg.contains("arithmetic"),
        "{msg}"
    );
    let msg = parse_message(g("levels = 10\nout_of_range = \"panic\"\n"));
    assert!(
        msg.contains("out_of_range") && msg.contains("cancel"),
        "{msg}"
    );
    let msg = parse_message(GridConfig::from_toml(
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nlower = 100000.5\nupper = \"101000\"\nlevels = 4\nqty_per_level = \"0.002\"\n",
    ));
    assert!(
        msg.contains("lower") && msg.contains("floating-point"),
        "{msg}"
    );
    let msg = parse_message(GridConfig::from_toml(
        "instrument = \"BINANCE.FUTURES2.BTCUSDT\"\nlower = 1\nupper = 2\nlevels = 1\nqty_per_level = 1\n",
    ));
    assert!(
        msg.contains("instrument") && msg.contains("SPOT, USDM or COINM"),
        "{msg}"
    );
    // Whole numbers are accepted for prices and quantities.
    let c = GridConfig::from_toml(
        "instrument = \"BINANCE.COINM.BTCUSD_PERP\"\nlower = 60000\nupper = 62000\nlevels = 4\nqty_per_level = 1\n",
    )
    .unwrap();
    assert_eq!(c.qty_per_level, Quantity::from_int(1).unwrap());
}

#[test]
fn rule_checks_name_the_field() {
    let usdm = presets();
    let check = |extra: &str| check_rules("grid", &format!("{GRID}{extra}"), &usdm);
    assert!(check("levels = 10\n").is_ok());
    // 0.1 tick: 50 USDT cannot hold 1 001 distinct lines.
    let (f, msg) = invalid_field(check_rules(
        "grid",
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nlower = \"100000\"\nupper = \"100050\"\nlevels = 1000\nqty_per_level = \"0.002\"\n",
        &usdm,
    ));
    assert_eq!(f, "levels");
    assert!(msg.contains("too many"), "{msg}");
    let (f, msg) = invalid_field(check_rules(
        "grid",
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nlower = \"100000\"\nupper = \"101000\"\nlevels = 4\nqty_per_level = \"0.0025\"\n",
        &usdm,
    ));
    assert_eq!(f, "qty_per_level");
    assert!(msg.contains("step"), "{msg}");
    let (f, msg) = invalid_field(check_rules(
        "grid",
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nlower = \"50000\"\nupper = \"51000\"\nlevels = 4\nqty_per_level = \"0.001\"\n",
        &usdm,
    ));
    assert_eq!(f, "qty_per_level");
    assert!(msg.contains("minimum notional"), "{msg}");
    let (f, _) = invalid_field(check_rules(
        "market_maker",
        "instrument = \"BINANCE.SPOT.BTCUSDT\"\nhalf_spread_ticks = 2\norder_qty = \"0.000001\"\nmax_position = \"0.01\"\n",
        &usdm,
    ));
    assert_eq!(f, "order_qty");
    let (f, msg) = invalid_field(check_rules(
        "ema_cross",
        "instrument = \"BINANCE.USDM.ETHUSDT\"\nfast = 2\nslow = 3\nqty = \"0.01\"\n",
        &usdm,
    ));
    assert_eq!(f, "instrument");
    assert!(msg.contains("BINANCE.USDM.ETHUSDT"), "{msg}");
}

#[test]
fn market_maker_and_ema_config_errors_name_the_field() {
    let mm = |body: &str| {
        MarketMakerConfig::from_toml(&format!(
            "instrument = \"BINANCE.USDM.BTCUSDT\"\norder_qty = \"0.002\"\nmax_position = \"0.01\"\n{body}"
        ))
    };
    let c = mm("half_spread_ticks = 3\n").unwrap();
    assert!(c.post_only, "post_only defaults to true");
    assert_eq!(c.requote_ticks, 1);
    assert_eq!(invalid_field(mm("")).0, "half_spread_ticks");
    assert_eq!(
        invalid_field(mm("half_spread_ticks = 3\nhalf_spread_bps = 2\n")).0,
        "half_spread_ticks"
    );
    assert_eq!(
        invalid_field(mm("half_spread_bps = 20000\n")).0,
        "half_spread_bps"
    );
    assert_eq!(
        invalid_field(mm("half_spread_ticks = 3\nrequote_ticks = 0\n")).0,
        "requote_ticks"
    );
    let (f, msg) = invalid_field(MarketMakerConfig::from_toml(
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nhalf_spread_ticks = 2\norder_qty = \"0.002\"\nmax_position = \"0.001\"\n",
    ));
    assert_eq!(f, "max_position");
    assert!(msg.contains("at least `order_qty`"), "{msg}");
    let msg = parse_message(mm("half_spread_ticks = 3\nreference = \"vwap\"\n"));
    assert!(
        msg.contains("reference") && msg.contains("microprice"),
        "{msg}"
    );

    let ema = |body: &str| EmaCrossConfig::from_toml(body);
    assert_eq!(
        invalid_field(ema(
            "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 5\nslow = 5\nqty = \"0.002\"\n"
        ))
        .0,
        "slow"
    );
    assert_eq!(
        invalid_field(ema(
            "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 0\nslow = 5\nqty = \"0.002\"\n"
        ))
        .0,
        "fast"
    );
    let (f, msg) = invalid_field(ema(
        "instrument = \"BINANCE.SPOT.BTCUSDT\"\nfast = 5\nslow = 10\nqty = \"0.002\"\nmode = \"long_short\"\n",
    ));
    assert_eq!(f, "mode");
    assert!(msg.contains("long_only"), "{msg}");
    let msg = parse_message(ema("instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 5\nslow = 10\nqty = \"0.002\"\nstop_loss = 3\n"));
    assert!(msg.contains("unknown field `stop_loss`"), "{msg}");
    let msg = parse_message(ema(
        "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = -5\nslow = 10\nqty = \"0.002\"\n",
    ));
    assert!(msg.contains("fast"), "{msg}");
}

#[test]
fn configs_read_from_json_too() {
    let c: GridConfig = serde_json::from_str(
        r#"{"instrument":"BINANCE.SPOT.BTCUSDT","lower":"95000","upper":"105000","levels":10,"qty_per_level":"0.001","spacing":"geometric"}"#,
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.lower, p("95000"));
    let e = serde_json::from_str::<MarketMakerConfig>(
        r#"{"instrument":"BINANCE.USDM.BTCUSDT","half_spread_ticks":2,"order_qty":0.002,"max_position":"0.01"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("floating-point"), "{e}");
}

const USDM_BARS: &str = "binance/market/usdm_btcusdt_1m_20250504_20250603.csv.gz";

fn example(file: &str) -> (String, String) {
    let (_, name, text) = examples()
        .into_iter()
        .find(|(p, _, _)| p.ends_with(file))
        .unwrap();
    (name, text)
}

#[test]
fn ema_cross_example_on_real_usdm_bars() {
    let (name, text) = example("ema_cross_usdm_btcusdt.toml");
    let once = || {
        let inst = veloz_sim::presets::usdm_btcusdt();
        let bars = fixture_bars(USDM_BARS, inst.id, 3_000);
        assert_eq!(bars.len(), 3_000);
        let mut bt = backtest(
            inst,
            vec![money("100000", "USDT")],
            build(&name, &text).unwrap(),
            bars,
        );
        let out = run(&mut bt);
        assert_eq!(out.kernel.denied, 0);
        out.fills
    };
    let fills = once();
    assert!(fills.len() >= 20, "only {} fills in 3000 bars", fills.len());
    // One entry of 0.002, then reversals of 0.004: never more than 0.002 held.
    assert_eq!(fills[0].fill.qty, q("0.002"));
    for f in &fills[1..] {
        assert_eq!(f.fill.qty, q("0.004"), "{f:?}");
    }
    for w in fills.windows(2) {
        assert_ne!(w[0].fill.side, w[1].fill.side);
    }
    assert!(fills
        .iter()
        .all(|f| f.position_after.raw().abs() == 200_000));
    assert_eq!(fills, once());
}

#[test]
fn grid_example_on_real_usdm_bars() {
    let (name, text) = example("grid_usdm_btcusdt.toml");
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let bars = fixture_bars(USDM_BARS, id, 50_000);
    let (watch, seen) = Watch::new(build(&name, &text).unwrap(), id);
    let mut bt = backtest(inst, vec![money("100000", "USDT")], Box::new(watch), bars);
    let out = run(&mut bt);
    let seen = seen.lock().unwrap();
    assert!(
        seen.denied.is_empty(),
        "{:?}",
        &seen.denied[..seen.denied.len().min(3)]
    );
    assert!(
        seen.rejected.is_empty(),
        "{:?}",
        &seen.rejected[..seen.rejected.len().min(3)]
    );
    assert!(out.fills.len() >= 20, "only {} fills", out.fills.len());
    // Every order sits on a line of the ladder 100 000, 100 500, ..., 106 000.
    for s in &seen.sent {
        let px = s.price.unwrap().raw();
        assert_eq!(px % (500 * 100_000_000), 0, "{s:?}");
        assert!((100_000..=106_000).contains(&(px / 100_000_000)), "{s:?}");
    }
    // A grid never holds more than its lines' worth: 12 orders of 0.002.
    assert!(seen.max_abs_position_raw <= 12 * 200_000);
    // Counter-orders: every sell fill at line k came after a buy at k - 1 or
    // from the initial ladder; check buys and sells alternate per line pair.
    let buys = out
        .fills
        .iter()
        .filter(|f| f.fill.side == Side::Buy)
        .count();
    let sells = out.fills.len() - buys;
    assert!(buys > 0 && sells > 0);
}
