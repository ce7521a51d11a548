//! `veloz paper`: the strategies trade the simulated venue on the
//! simulator's live market; nothing reaches the exchange, the paper account
//! fills, the journal replays to the same state, and a paper journal cannot
//! be resumed (its simulated account is not journaled).

use std::time::Duration;

use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::transport::http::RestClient;
use veloz_live::config::LiveConfig;
use veloz_live::{LiveSetup, Mode, Status};
use veloz_simserver::{AccountConfig, MarketConfig, ServerConfig};

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
    let dir = std::env::temp_dir().join(format!("veloz-paper-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = LiveConfig::parse(CONFIG, std::path::Path::new("paper.toml")).unwrap();
    cfg.journal.dir = dir.clone();
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = ServerConfig {
        market: MarketConfig::Synthetic {
            synth: Default::default(),
            speed: 5,
        },
        accounts: vec![AccountConfig::demo()],
        ..ServerConfig::ephemeral()
    };
    let srv = sim_rt.block_on(veloz_simserver::start(server)).unwrap();
    let endpoints = srv.endpoints();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |cfg: LiveConfig| {
        let setup = LiveSetup {
            config: cfg,
            endpoints: endpoints.clone(),
            // Paper trading needs no key: market data is public.
            credentials: None,
            mode: Mode::Paper,
        };
        rt.block_on(async move {
            let (tx, _rx) = tokio::sync::watch::channel(Status::default());
            let (_c, crx) = tokio::sync::mpsc::channel(1);
            veloz_live::run(setup, tokio::time::sleep(Duration::from_secs(10)), tx, crx).await
        })
    };
    let summary = run(cfg.clone()).expect("the paper session runs");
    eprintln!("paper: {} inputs, {} fills", summary.inputs, summary.fills);
    assert!(summary.fills > 0, "the paper account never filled");
    assert_eq!(summary.open_orders_left, 0);
    veloz_live::engine::verify_replay(&cfg, &summary).expect("the journal replays");

    // Nothing reached the exchange: the simulator's account has no orders.
    let creds = Credentials::hmac("demo", "demo-secret").unwrap();
    let rest = RestClient::new(&endpoints, Some(creds), Duration::from_secs(5));
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
    let e = run(cfg).unwrap_err().to_string();
    assert!(e.contains("cannot resume"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
