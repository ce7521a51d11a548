//! An order placed outside VeloZ (by hand, another program) on an
//! instrument a session trades is found by reconciliation and reported as
//! external: an audit record and the `external_orders` metric; VeloZ leaves
//! it alone while trading.

mod common;

use std::time::Duration;

use veloz_core::{ClientOrderId, Price, Quantity, Side};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::transport::http::RestClient;
use veloz_live::Mode;

const CONFIG: &str = r#"
[[strategies]]
name = "market_maker"
id = "mm-usdm"
params = { instrument = "BINANCE.USDM.BTCUSDT", reference = "mid", half_spread_ticks = 3, skew_ticks_per_unit = 3, order_qty = "0.002", max_position = "0.010", post_only = true, requote_ticks = 2, refresh_ms = 1000, reject_backoff_ms = 500 }

[journal]
fsync = "never"

[live]
reconcile_interval_ms = 1000
"#;

#[test]
fn an_order_placed_by_hand_is_reported_as_external() {
    let cfg = common::config(CONFIG, "external");
    let (sim_rt, srv) = common::simulator(1, 1);
    let endpoints = srv.endpoints();
    let creds = common::demo_credentials();

    // The manual order: a resting buy far under the market, 2 s in.
    let manual = {
        let (endpoints, creds) = (endpoints.clone(), creds.clone());
        sim_rt.spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rest = RestClient::new(&endpoints, Some(creds), Duration::from_secs(5));
            rest.sync_time(veloz_core::MarketKind::UsdM).await.unwrap();
            let inst = veloz_sim::presets::usdm_btcusdt();
            let order = FuturesOrder::limit(
                Side::Buy,
                Quantity::from_raw(200_000, 3),
                Price::from_raw(5_700_000_000_000, 2),
            )
            .time_in_force(TimeInForce::Gtc)
            .client_order_id(ClientOrderId::new("manual-1").unwrap());
            let req = FuturesApi::USDM
                .new_order(&inst, &order, NumberPolicy::Exact)
                .unwrap();
            rest.send(&req).await.expect("the manual order is accepted");
        })
    };
    let summary =
        common::session(&cfg, &endpoints, Some(creds), Mode::Live, 6).expect("the session runs");
    sim_rt.block_on(manual).unwrap();
    assert_eq!(summary.metrics.external_orders, 1, "{:?}", summary.metrics);
    assert!(
        summary
            .audits
            .iter()
            .any(|a| a.contains("manual-1") && a.contains("external")),
        "no audit record names the external order"
    );
    // VeloZ's own orders are all closed; the external one is not VeloZ's.
    assert_eq!(summary.open_orders_left, 0);
    let _ = std::fs::remove_dir_all(&cfg.journal.dir);
}
