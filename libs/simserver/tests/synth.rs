//! The default synthetic market end to end: a client syncs its book from the
//! REST snapshot and the diff stream by Binance's procedure, with no gap, on
//! spot and USD-M; the market runs as fast as the client reads.

mod common;

use common::*;
use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, MarketKind, UnixNanos};
use veloz_exec::binance::book_sync::{BookSync, DeltaOutcome, SnapshotOutcome, SyncRules};
use veloz_exec::binance::stream::{parse_depth_snapshot, parse_frame, StreamSource};
use veloz_market::L2Book;
use veloz_sim::synth::SynthConfig;
use veloz_simserver::MarketConfig;

async fn sync_from_server(kind: MarketKind, rest_path: &str, depth_stream: &str) {
    let mut cfg = config();
    cfg.market = MarketConfig::Synthetic {
        synth: SynthConfig::default(),
        speed: 0,
    };
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let addr = srv.addr(kind);
    let mut ws = ws(
        addr,
        &format!("/stream?streams={depth_stream}/btcusdt@bookTicker/btcusdt@trade"),
    )
    .await;
    let id = InstrumentId::binance(kind, "BTCUSDT").unwrap();
    let src = StreamSource::binance(kind);
    let mut book = L2Book::new(id);
    let mut sync = BookSync::with_rules(
        id,
        if kind.is_futures() {
            SyncRules::Futures
        } else {
            SyncRules::Spot
        },
    );
    let mut diffs = 0;
    let mut trades = 0;
    let mut snapshot_taken = false;
    while diffs < 300 {
        let text = next_text(&mut ws).await;
        for ev in parse_frame(&src, &text, UnixNanos(0))
            .unwrap_or_else(|e| panic!("{e}: {text}"))
            .into_market_events()
        {
            match ev {
                MarketEvent::BookDeltas(d) => {
                    diffs += 1;
                    let out = sync.on_deltas(&mut book, d).unwrap();
                    assert!(
                        !matches!(out, DeltaOutcome::Gap(_)),
                        "gap after {diffs} diffs: {out:?}"
                    );
                }
                MarketEvent::Trade(_) => trades += 1,
                _ => {}
            }
        }
        if diffs == 10 && !snapshot_taken {
            snapshot_taken = true;
            let a = http(
                addr,
                "GET",
                &format!("{rest_path}?symbol=BTCUSDT&limit=1000"),
                &[],
                "",
            )
            .await;
            assert_eq!(a.status, 200, "{}", a.body);
            let s = parse_depth_snapshot(id, &a.body, UnixNanos(0)).unwrap();
            let out = sync.on_snapshot(&mut book, &s).unwrap();
            assert!(
                matches!(
                    out,
                    SnapshotOutcome::Bridged { .. } | SnapshotOutcome::AwaitingBridge { .. }
                ),
                "{out:?}"
            );
        }
    }
    assert!(sync.is_synced(), "{:?}", sync.state());
    assert!(!book.is_crossed());
    assert!(book.best_bid().is_some() && book.best_ask().is_some());
    assert!(trades > 0);
    assert_eq!(srv.stats().await.unwrap().slow_disconnects, 0);
}

#[tokio::test]
async fn spot_book_syncs_from_snapshot_and_diffs() {
    sync_from_server(MarketKind::Spot, "/api/v3/depth", "btcusdt@depth@100ms").await;
}

#[tokio::test]
async fn usdm_book_syncs_from_snapshot_and_diffs() {
    sync_from_server(MarketKind::UsdM, "/fapi/v1/depth", "btcusdt@depth@0ms").await;
}

#[tokio::test]
async fn the_default_market_has_a_book_and_fills_orders_from_the_start() {
    // Default configuration apart from ports and accounts: synthetic, real time.
    let mut cfg = config();
    cfg.market = MarketConfig::default();
    let srv = veloz_simserver::start(cfg).await.unwrap();
    // A REST snapshot is there from the start.
    let a = http(
        srv.coinm,
        "GET",
        "/dapi/v1/depth?symbol=BTCUSD_PERP&limit=5",
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["bids"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["asks"].as_array().unwrap().len(), 5, "{v}");
    // A market order fills against the synthetic book.
    use veloz_exec::binance::rest::format::NumberPolicy;
    use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
    let inst = veloz_sim::presets::usdm_btcusdt();
    let o = FuturesOrder::market(
        veloz_core::Side::Buy,
        veloz_core::Quantity::parse("0.010").unwrap(),
    );
    let req = FuturesApi::USDM
        .new_order(&inst, &o, NumberPolicy::Exact)
        .unwrap();
    let a = send_signed(srv.usdm, &req, &hmac_creds()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["status"], "FILLED", "{}", a.body);
}
