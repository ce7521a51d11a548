//! `veloz paper`: the strategies trade the simulated venue on the
//! simulator's live market; nothing reaches the exchange, the paper account
//! fills, the journal replays to the same state, and a paper journal cannot
//! be resumed (its simulated account is not journaled).

mod common;

use std::time::Duration;

use veloz_exec::binance::transport::http::RestClient;
use veloz_live::Mode;

const CONFIG: &str = r#"
[[strategies]]
name = "market_maker"
id = "mm-usdm"
params = { instrument = "BINANCE.USDM.BTCUSDT", reference = "mid", half_spread_ticks = 1, skew_ticks_per_unit = 3, order_qty = "0.002", max_position = "0.010", post_only = true, requote_ticks = 2, refresh_ms = 500, reject_backoff_ms = 500 }

[[strategies]]
name = "grid"
id = "grid-spot"
params = { instrument = "BINANCE.SPOT.BTCUSDT", lower = "59950", upper = "60050", levels = 10, qty_per_level = "0.002", spacing = "arithmetic", out_of_range = "hold", post_only = false }

[paper]
balances = ["50000 USDT", "1 BTC"]
entry_latency_ms = 2
response_latency_ms = 2

[journal]
fsync = "never"
"#;

#[test]
fn paper_trades_the_simulated_venue_only() {
    let cfg = common::config(CONFIG, "paper");
    let dir = cfg.journal.dir.clone();
    let (sim_rt, srv) = common::simulator(5, 1);
    let endpoints = srv.endpoints();
    // Paper trading needs no key: market data is public.
    let summary =
        common::session(&cfg, &endpoints, None, Mode::Paper, 10).expect("the paper session runs");
    eprintln!("paper: {} inputs, {} fills", summary.inputs, summary.fills);
    assert!(summary.fills > 0, "the paper account never filled");
    assert_eq!(summary.open_orders_left, 0);
    veloz_live::engine::verify_replay(&cfg, &summary).expect("the journal replays");

    // Nothing reached the exchange: the simulator's account has no orders.
    let rest = RestClient::new(
        &endpoints,
        Some(common::demo_credentials()),
        Duration::from_secs(5),
    );
    let kernel = veloz_live::engine::replay_kernel(&cfg, &dir, &summary.instruments).unwrap();
    let cmp = sim_rt
        .block_on(veloz_live::verify::compare_with_venue(&rest, &kernel))
        .unwrap();
    assert_eq!(
        cmp.orders, 0,
        "a paper order reached the exchange: {:?}",
        cmp.differences
    );
    assert_eq!(cmp.fills, 0);

    // A paper journal cannot be resumed.
    let e = common::session(&cfg, &endpoints, None, Mode::Paper, 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot resume"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
