//! Capture replay: the real USD-M capture served as fast as the client reads;
//! frames arrive verbatim and in order, and the REST depth snapshot taken
//! mid-replay is the book after exactly one of the published updates.

mod common;

use common::*;
use veloz_core::events::MarketEvent;
use veloz_core::fixtures::fixture;
use veloz_core::{InstrumentId, MarketKind, Side, UnixNanos};
use veloz_exec::binance::capture::{split_line, CaptureReader};
use veloz_exec::binance::rest::responses::DepthSnapshot;
use veloz_exec::binance::stream::{parse_depth_snapshot, parse_frame, StreamSource};
use veloz_market::L2Book;
use veloz_simserver::config::CaptureFileConfig;
use veloz_simserver::MarketConfig;

#[tokio::test]
async fn usdm_capture_replays_verbatim_with_a_consistent_snapshot() {
    let path =
        fixture("binance/hftbacktest/usdm_btcusdt_20240808.gz").expect("USD-M capture fixture");
    let mut cfg = config();
    cfg.market = MarketConfig::Capture {
        files: vec![CaptureFileConfig {
            product: "usdm".into(),
            path: path.clone(),
        }],
        speed: 0,
    };
    let srv = veloz_simserver::start(cfg).await.unwrap();

    // The capture's depth frames, in order.
    let mut expected = Vec::new();
    let mut reader = CaptureReader::open(&[&path]).unwrap();
    let mut all_lines = Vec::new();
    while let Some(l) = reader.next_line().unwrap() {
        if l.json.starts_with("{\"stream\":\"btcusdt@depth@0ms\"") {
            expected.push(l.json.to_string());
        }
        all_lines.push(format!("{} {}", l.local.0, l.json));
    }
    let mut ws = ws(srv.usdm, "/stream?streams=btcusdt@depth@0ms").await;
    for (i, want) in expected.iter().take(400).enumerate() {
        let got = next_text(&mut ws).await;
        assert_eq!(&got, want, "depth frame {i}");
    }

    // A snapshot now: the book after one of the replayed updates.
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200);
    let snap: DepthSnapshot = serde_json::from_str(&a.body).unwrap();
    let id = InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap();
    let src = StreamSource::binance(MarketKind::UsdM);
    let mut book = L2Book::new(id);
    let mut base: Option<u64> = None;
    let mut found = false;
    for line in &all_lines {
        let l = split_line(line).unwrap();
        if l.is_snapshot() {
            let s = parse_depth_snapshot(id, l.json, UnixNanos(0)).unwrap();
            book.apply_snapshot(&s).unwrap();
            base = Some(s.last_update_id);
            continue;
        }
        let Some(b) = base else { continue };
        for ev in parse_frame(&src, l.json, UnixNanos(0))
            .unwrap()
            .into_market_events()
        {
            if let MarketEvent::BookDeltas(d) = ev {
                if d.last_update_id > b {
                    book.apply_deltas(&d).unwrap();
                }
            }
        }
        if base.is_some() && book.last_update_id() == snap.last_update_id {
            found = true;
            break;
        }
    }
    assert!(
        found,
        "lastUpdateId {} is not the id of a replayed update",
        snap.last_update_id
    );
    let raw = |v: &[veloz_exec::binance::rest::responses::DepthLevel]| -> Vec<(i64, i64)> {
        v.iter().map(|l| (l.0.raw(), l.1.raw())).collect()
    };
    let local = |s: Side| -> Vec<(i64, i64)> {
        book.top(s, 1000)
            .iter()
            .map(|l| (l.price.raw(), l.qty.raw()))
            .collect()
    };
    assert!(!snap.bids.is_empty());
    for (side, got) in [(Side::Buy, raw(&snap.bids)), (Side::Sell, raw(&snap.asks))] {
        let want = local(side);
        let diff = got.iter().zip(&want).position(|(a, b)| a != b);
        assert_eq!(diff, None, "{side:?} first difference at level {diff:?}");
        assert_eq!(got.len(), want.len(), "{side:?} levels");
    }
    let stats = srv.stats().await.unwrap();
    assert!(stats.market_frames_sent >= 400);
    assert_eq!(stats.slow_disconnects, 0);
}
