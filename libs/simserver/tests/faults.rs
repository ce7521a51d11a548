//! Fault injection against a running simulator: for every fault kind, a
//! client (our own parsers, book sync, error classification and time sync)
//! sees the fault, and the server's counter equals the faults injected.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use veloz_core::events::{BookSnapshot, EventTimes, Level, MarketEvent};
use veloz_core::{ClientOrderId, InstrumentId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::book_sync::{BookSync, DeltaOutcome, SnapshotOutcome, SyncRules};
use veloz_exec::binance::error::{BinanceError, RetryClass};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::rest::OrderRef;
use veloz_exec::binance::signing::{TimeSample, TimeSync};
use veloz_exec::binance::stream::{parse_depth_snapshot, parse_frame, StreamMessage, StreamSource};
use veloz_exec::binance::user_data::{parse_user_data, UserDataMessage};
use veloz_market::L2Book;
use veloz_sim::presets;
use veloz_sim::synth::SynthConfig;
use veloz_simserver::{
    ConnectionKind, FaultKind, FaultRule, MarketConfig, MarketStep, ServerHandle, StreamFrame,
};

const DEPTH: &str = "btcusdt@depth@0ms";

fn usdm_id() -> InstrumentId {
    presets::usdm_btcusdt().id
}

fn usdm_book(update_id: u64) -> MarketEvent {
    let l = |p: &str, q: &str| Level {
        price: Price::parse(p).unwrap(),
        qty: Quantity::parse(q).unwrap(),
    };
    MarketEvent::BookSnapshot(BookSnapshot {
        instrument: usdm_id(),
        last_update_id: update_id,
        bids: vec![l("59990.0", "2.000"), l("59980.0", "1.000")],
        asks: vec![l("60000.0", "1.500"), l("60010.0", "3.000")],
        times: EventTimes::new(UnixNanos::from_millis(1), UnixNanos::from_millis(1)),
    })
}

/// A USD-M diff with `U = u = id`, `pu = id - 1`.
fn diff(id: u64) -> StreamFrame {
    let data = json!({
        "e": "depthUpdate", "E": 1000 + id, "T": 1000 + id, "s": "BTCUSDT",
        "U": id, "u": id, "pu": id - 1,
        "b": [["59990.0", format!("{}.000", id % 7 + 1)]], "a": []
    });
    StreamFrame {
        stream: Arc::from(DEPTH),
        data: Arc::from(data.to_string()),
    }
}

fn step(frames: Vec<StreamFrame>, events: Vec<MarketEvent>) -> MarketStep {
    MarketStep {
        time: UnixNanos(1),
        product: MarketKind::UsdM,
        frames,
        events,
    }
}

/// Waits until the server has registered the connection (its control reply).
async fn registered(ws: &mut Ws) {
    send_text(
        ws,
        &json!({"method": "LIST_SUBSCRIPTIONS", "id": 1}).to_string(),
    )
    .await;
    let v: Value = serde_json::from_str(&next_text(ws).await).unwrap();
    assert_eq!(v["id"], 1, "{v}");
}

/// A USD-M client whose book is set from the REST snapshot (`lastUpdateId`
/// 101, which diff 101 bridges: `U <= 101 <= u`) and that reads the `@depth@0ms` stream.
struct DepthClient {
    ws: Ws,
    sync: BookSync,
    book: L2Book,
}

impl DepthClient {
    async fn open(srv: &ServerHandle) -> Self {
        srv.push_market(step(vec![], vec![usdm_book(101)]))
            .await
            .unwrap();
        let mut ws = ws(srv.usdm, &format!("/ws/{DEPTH}")).await;
        registered(&mut ws).await;
        let a = http(srv.usdm, "GET", "/fapi/v1/depth?symbol=BTCUSDT", &[], "").await;
        assert_eq!(a.status, 200, "{}", a.body);
        let snap = parse_depth_snapshot(usdm_id(), &a.body, UnixNanos(0)).unwrap();
        assert_eq!(snap.last_update_id, 101);
        let mut sync = BookSync::with_rules(usdm_id(), SyncRules::Futures);
        let mut book = L2Book::new(usdm_id());
        let out = sync.on_snapshot(&mut book, &snap).unwrap();
        assert!(
            matches!(out, SnapshotOutcome::AwaitingBridge { .. }),
            "{out:?}"
        );
        Self { ws, sync, book }
    }

    /// Reads `n` diffs; returns their `u` and what the book sync made of them.
    async fn read(&mut self, n: usize) -> Vec<(u64, DeltaOutcome)> {
        let src = StreamSource::binance(MarketKind::UsdM);
        let mut out = Vec::new();
        while out.len() < n {
            let text = next_text(&mut self.ws).await;
            for ev in parse_frame(&src, &text, UnixNanos(0))
                .unwrap_or_else(|e| panic!("{e}: {text}"))
                .into_market_events()
            {
                if let MarketEvent::BookDeltas(d) = ev {
                    let u = d.last_update_id;
                    out.push((u, self.sync.on_deltas(&mut self.book, d).unwrap()));
                }
            }
        }
        out
    }
}

async fn push_diffs(srv: &ServerHandle, ids: std::ops::RangeInclusive<u64>) {
    for id in ids {
        srv.push_market(step(vec![diff(id)], vec![])).await.unwrap();
    }
}

fn ids(v: &[(u64, DeltaOutcome)]) -> Vec<u64> {
    v.iter().map(|(u, _)| *u).collect()
}

#[tokio::test]
async fn dropped_frame_is_a_gap_for_the_book_sync() {
    let srv = server().await;
    let mut c = DepthClient::open(&srv).await;
    srv.inject(
        FaultRule::new(FaultKind::DropFrames)
            .stream("btcusdt@depth")
            .every(2),
    )
    .await
    .unwrap();
    push_diffs(&srv, 101..=104).await;
    let got = c.read(3).await;
    assert_eq!(ids(&got), [101, 103, 104]);
    assert!(matches!(got[0].1, DeltaOutcome::Bridged(_)), "{got:?}");
    match got[1].1 {
        DeltaOutcome::Gap(g) => {
            assert_eq!(g.book_id, 101);
            assert_eq!(g.got.prev, Some(102));
        }
        o => panic!("expected a gap, got {o:?}"),
    }
    assert_eq!(srv.fault_count(FaultKind::DropFrames), 1);
}

#[tokio::test]
async fn duplicated_frame_is_stale_for_the_book_sync() {
    let srv = server().await;
    let mut c = DepthClient::open(&srv).await;
    srv.inject(FaultRule::new(FaultKind::DuplicateFrames).every(2).count(2))
        .await
        .unwrap();
    push_diffs(&srv, 101..=105).await;
    let got = c.read(7).await;
    assert_eq!(ids(&got), [101, 102, 102, 103, 104, 104, 105]);
    let stale: Vec<u64> = got
        .iter()
        .filter(|(_, o)| *o == DeltaOutcome::Stale)
        .map(|(u, _)| *u)
        .collect();
    assert_eq!(stale, [102, 104]);
    assert!(c.sync.is_synced());
    assert_eq!(srv.fault_count(FaultKind::DuplicateFrames), 2);
}

#[tokio::test]
async fn reordered_frames_arrive_swapped() {
    let srv = server().await;
    let mut c = DepthClient::open(&srv).await;
    srv.inject(FaultRule::new(FaultKind::ReorderFrames).every(2))
        .await
        .unwrap();
    push_diffs(&srv, 101..=104).await;
    let got = c.read(4).await;
    assert_eq!(ids(&got), [101, 103, 102, 104]);
    assert!(matches!(got[1].1, DeltaOutcome::Gap(_)), "{got:?}");
    assert_eq!(srv.fault_count(FaultKind::ReorderFrames), 1);
}

#[tokio::test]
async fn delayed_frame_arrives_after_later_frames() {
    let srv = server().await;
    let mut c = DepthClient::open(&srv).await;
    // Long enough that the later diffs are certainly published first.
    srv.inject(
        FaultRule::new(FaultKind::DelayFrames)
            .every(2)
            .delay_ms(1500),
    )
    .await
    .unwrap();
    push_diffs(&srv, 101..=104).await;
    let got = c.read(4).await;
    assert_eq!(ids(&got), [101, 103, 104, 102]);
    assert!(matches!(got[1].1, DeltaOutcome::Gap(_)), "{got:?}");
    assert_eq!(srv.fault_count(FaultKind::DelayFrames), 1);
}

#[tokio::test]
async fn skipped_depth_ids_are_a_gap_and_a_new_snapshot_resyncs() {
    let mut cfg = config();
    cfg.market = MarketConfig::Synthetic {
        synth: SynthConfig::default(),
        speed: 0,
    };
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let id = usdm_id();
    let src = StreamSource::binance(MarketKind::UsdM);
    let mut ws = ws(srv.usdm, &format!("/stream?streams={DEPTH}")).await;
    let mut sync = BookSync::with_rules(id, SyncRules::Futures);
    let mut book = L2Book::new(id);
    let mut diffs = 0u64;
    let mut injected = false;
    let mut gaps = Vec::new();
    let mut applied_after_resync = 0;
    while applied_after_resync < 50 {
        assert!(diffs < 50_000, "no gap seen after {diffs} diffs");
        let text = next_text(&mut ws).await;
        for ev in parse_frame(&src, &text, UnixNanos(0))
            .unwrap_or_else(|e| panic!("{e}: {text}"))
            .into_market_events()
        {
            let MarketEvent::BookDeltas(d) = ev else {
                continue;
            };
            diffs += 1;
            match sync.on_deltas(&mut book, d).unwrap() {
                DeltaOutcome::Gap(g) => gaps.push(g),
                DeltaOutcome::Applied if !gaps.is_empty() => applied_after_resync += 1,
                _ => {}
            }
        }
        if sync.needs_snapshot() && sync.buffered() > 0 {
            let a = http(
                srv.usdm,
                "GET",
                "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
                &[],
                "",
            )
            .await;
            assert_eq!(a.status, 200, "{}", a.body);
            let s = parse_depth_snapshot(id, &a.body, UnixNanos(0)).unwrap();
            sync.on_snapshot(&mut book, &s).unwrap();
        }
        if sync.is_synced() && diffs > 20 && !injected {
            injected = true;
            srv.inject(
                FaultRule::new(FaultKind::SkipDepthIds)
                    .product(MarketKind::UsdM)
                    .symbol("BTCUSDT"),
            )
            .await
            .unwrap();
        }
    }
    // Exactly one gap: the withheld diff; `pu` of the next one is the
    // withheld diff's `u`, not the book's.
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(!gaps[0].at_bridge);
    assert_ne!(gaps[0].got.prev, Some(gaps[0].book_id));
    assert!(sync.is_synced());
    assert!(!book.is_crossed());
    assert_eq!(srv.fault_count(FaultKind::SkipDepthIds), 1);
}

#[tokio::test]
async fn closed_market_connection_is_seen_by_the_client() {
    let srv = server().await;
    let mut ws = ws(srv.usdm, &format!("/ws/{DEPTH}")).await;
    registered(&mut ws).await;
    srv.inject(FaultRule::new(FaultKind::CloseConnections).connection(ConnectionKind::Market))
        .await
        .unwrap();
    // The next thing the client reads is the close (or the end of the stream).
    let next = ws.next().await;
    assert!(is_closed(&next), "{next:?}");
    assert_eq!(srv.fault_count(FaultKind::CloseConnections), 1);
}

fn is_closed(next: &Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> bool {
    matches!(next, None | Some(Ok(Message::Close(_))) | Some(Err(_)))
}

#[tokio::test]
async fn closed_user_data_and_ws_api_connections_are_seen_by_the_client() {
    let srv = server().await;
    let a = http(
        srv.usdm,
        "POST",
        "/fapi/v1/listenKey",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    let key = a.json()["listenKey"].as_str().unwrap().to_string();
    let mut market = ws(srv.usdm, &format!("/ws/{DEPTH}")).await;
    registered(&mut market).await;
    let mut user = ws(srv.usdm, &format!("/ws/{key}")).await;
    registered(&mut user).await;
    srv.inject(FaultRule::new(FaultKind::CloseConnections).connection(ConnectionKind::UserData))
        .await
        .unwrap();
    let next = user.next().await;
    assert!(is_closed(&next), "{next:?}");
    // The market connection is not in scope: it still answers.
    registered(&mut market).await;
    assert_eq!(srv.fault_count(FaultKind::CloseConnections), 1);

    // A WebSocket API connection is closed at its next request, unanswered.
    let mut api = ws(srv.spot, "/ws-api/v3").await;
    send_text(&mut api, &json!({"id": 1, "method": "ping"}).to_string()).await;
    let pong: Value = serde_json::from_str(&next_text(&mut api).await).unwrap();
    assert_eq!(pong["status"], 200, "{pong}");
    srv.inject(FaultRule::new(FaultKind::CloseConnections).connection(ConnectionKind::WsApi))
        .await
        .unwrap();
    send_text(&mut api, &json!({"id": 2, "method": "ping"}).to_string()).await;
    let next = api.next().await;
    assert!(is_closed(&next), "{next:?}");
    assert_eq!(srv.fault_count(FaultKind::CloseConnections), 2);
}

#[tokio::test]
async fn server_shutdown_is_parsed_then_the_connection_closes() {
    let srv = server().await;
    let mut ws = ws(srv.usdm, &format!("/ws/{DEPTH}")).await;
    registered(&mut ws).await;
    srv.inject(FaultRule::new(FaultKind::ServerShutdown).product(MarketKind::UsdM))
        .await
        .unwrap();
    let text = next_text(&mut ws).await;
    let m = parse_frame(
        &StreamSource::binance(MarketKind::UsdM),
        &text,
        UnixNanos(0),
    )
    .unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(matches!(m, StreamMessage::ServerShutdown { .. }), "{m:?}");
    let next = ws.next().await;
    assert!(is_closed(&next), "{next:?}");
    assert_eq!(srv.fault_count(FaultKind::ServerShutdown), 1);
}

#[tokio::test]
async fn listen_key_expired_is_parsed_and_the_key_is_gone() {
    let srv = server().await;
    let a = http(
        srv.usdm,
        "POST",
        "/fapi/v1/listenKey",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let key = a.json()["listenKey"].as_str().unwrap().to_string();
    let mut ws = ws(srv.usdm, &format!("/ws/{key}")).await;
    registered(&mut ws).await;
    srv.inject(FaultRule::new(FaultKind::ListenKeyExpired))
        .await
        .unwrap();
    let text = next_text(&mut ws).await;
    let m = parse_user_data(
        &StreamSource::binance(MarketKind::UsdM),
        &text,
        UnixNanos(0),
    )
    .unwrap_or_else(|e| panic!("{e}: {text}"));
    match m {
        UserDataMessage::ListenKeyExpired { .. } => {}
        other => panic!("expected listenKeyExpired, got {other:?}"),
    }
    let next = ws.next().await;
    assert!(is_closed(&next), "{next:?}");
    // The key is gone: keepalive fails, a client must create a new one.
    let a = http(
        srv.usdm,
        "PUT",
        "/fapi/v1/listenKey",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        &format!("listenKey={key}"),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(srv.fault_count(FaultKind::ListenKeyExpired), 1);
}

fn resting_order(cid: &str) -> veloz_exec::binance::rest::RestRequest {
    let o = FuturesOrder::limit(
        Side::Buy,
        Quantity::parse("0.010").unwrap(),
        Price::parse("50000.0").unwrap(),
    )
    .time_in_force(TimeInForce::Gtc)
    .client_order_id(ClientOrderId::new(cid).unwrap());
    FuturesApi::USDM
        .new_order(&presets::usdm_btcusdt(), &o, NumberPolicy::Exact)
        .unwrap()
}

async fn order_exists(srv: &ServerHandle, cid: &str) -> Value {
    let q = FuturesApi::USDM.query_order(
        &presets::usdm_btcusdt().id.symbol,
        OrderRef::Client(ClientOrderId::new(cid).unwrap()),
    );
    let a = send_signed(srv.usdm, &q, &hmac_creds()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

fn classify(a: &Answer) -> BinanceError {
    let headers: Vec<(&str, &str)> = a
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    BinanceError::check_response(a.status, &headers, a.body.as_bytes()).unwrap_err()
}

#[tokio::test]
async fn order_unknown_outcome_503_yet_the_order_exists() {
    let srv = server().await;
    srv.push_market(step(vec![], vec![usdm_book(10)]))
        .await
        .unwrap();
    srv.inject(
        FaultRule::new(FaultKind::OrderUnknownOutcome)
            .product(MarketKind::UsdM)
            .path("order"),
    )
    .await
    .unwrap();
    let a = send_signed(srv.usdm, &resting_order("unknown-1"), &hmac_creds()).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.code(), -1006);
    assert_eq!(classify(&a).retry_class(), RetryClass::Unknown);
    let o = order_exists(&srv, "unknown-1").await;
    assert_eq!(o["status"], "NEW", "{o}");
    assert_eq!(srv.fault_count(FaultKind::OrderUnknownOutcome), 1);
}

#[tokio::test]
async fn order_unknown_outcome_timeout_yet_the_order_exists() {
    let srv = server().await;
    srv.push_market(step(vec![], vec![usdm_book(10)]))
        .await
        .unwrap();
    srv.inject(
        FaultRule::new(FaultKind::OrderUnknownOutcome)
            .timeout(true)
            .delay_ms(600_000),
    )
    .await
    .unwrap();
    // The client gives up waiting: that is the observable (no server timing).
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        send_signed(srv.usdm, &resting_order("timeout-1"), &hmac_creds()),
    )
    .await;
    assert!(r.is_err(), "the answer should have been held: {r:?}");
    let o = order_exists(&srv, "timeout-1").await;
    assert_eq!(o["status"], "NEW", "{o}");
    assert_eq!(srv.fault_count(FaultKind::OrderUnknownOutcome), 1);
}

#[tokio::test]
async fn rate_limit_storm_answers_429_with_retry_after() {
    let srv = server().await;
    srv.inject(
        FaultRule::new(FaultKind::RateLimitStorm)
            .product(MarketKind::Spot)
            .count(3),
    )
    .await
    .unwrap();
    // Another product is not in scope.
    assert_eq!(
        http(srv.usdm, "GET", "/fapi/v1/ping", &[], "").await.status,
        200
    );
    for _ in 0..3 {
        let a = http(srv.spot, "GET", "/api/v3/ping", &[], "").await;
        assert_eq!(a.status, 429, "{}", a.body);
        assert_eq!(a.headers["retry-after"], "1");
        match classify(&a).retry_class() {
            RetryClass::RetryAfter { after, banned } => {
                assert_eq!(after, Some(Duration::from_secs(1)));
                assert!(!banned);
            }
            c => panic!("{c:?}"),
        }
    }
    assert_eq!(
        http(srv.spot, "GET", "/api/v3/ping", &[], "").await.status,
        200
    );
    assert_eq!(srv.fault_count(FaultKind::RateLimitStorm), 3);
}

#[tokio::test]
async fn clock_skew_gives_1021_until_the_client_resyncs() {
    let srv = server().await;
    srv.inject(
        FaultRule::new(FaultKind::ClockSkew)
            .product(MarketKind::UsdM)
            .skew_ms(120_000),
    )
    .await
    .unwrap();
    let api = FuturesApi::USDM;
    let open = api.open_orders(None);
    // Local clock: two minutes behind the server's, outside recvWindow.
    let a = send_signed(srv.usdm, &open, &hmac_creds()).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.code(), -1021);
    // Resync from /time.
    let mut ts = TimeSync::new();
    let sent = UnixNanos::from_millis(now_ms());
    let t = send(srv.usdm, &api.server_time().sign(None, 0, None).unwrap()).await;
    let received = UnixNanos::from_millis(now_ms());
    let server_time_ms = t.json()["serverTime"].as_u64().unwrap();
    let off = ts
        .record(TimeSample {
            sent,
            server_time_ms,
            received,
        })
        .unwrap();
    assert!(off > 100_000_000_000, "offset {off} ns");
    let stamp = ts.timestamp_ms(UnixNanos::from_millis(now_ms()));
    let signed = open.sign(Some(&hmac_creds()), stamp, None).unwrap();
    let a = send(srv.usdm, &signed).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Three requests were served on the shifted clock.
    assert_eq!(srv.fault_count(FaultKind::ClockSkew), 3);
    // Spot is not in scope: the local clock is right there.
    let a = http(srv.spot, "GET", "/api/v3/time", &[], "").await;
    let spot_time = a.json()["serverTime"].as_u64().unwrap();
    assert!(spot_time < now_ms() + 60_000, "{spot_time}");
    assert_eq!(srv.fault_count(FaultKind::ClockSkew), 3);
}

#[tokio::test]
async fn admin_endpoint_adds_lists_and_clears_rules() {
    let mut cfg = config();
    cfg.admin_port = Some(0);
    // A rule from the configuration is active from the start.
    cfg.faults = vec![FaultRule::new(FaultKind::RateLimitStorm).path("ping")];
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let admin = srv.admin.expect("admin endpoint configured");
    assert_eq!(
        http(srv.spot, "GET", "/api/v3/ping", &[], "").await.status,
        429
    );

    let rules = json!([
        {"fault": "rate_limit_storm", "product": "usdm", "path": "/fapi/v1/time", "count": 2, "retry_after_secs": 7},
        {"fault": "drop_frames", "stream": "btcusdt@trade", "every": 3}
    ]);
    let a = http(admin, "POST", "/faults", &[], &rules.to_string()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["ids"], json!([2, 3]));
    for _ in 0..2 {
        let a = http(srv.usdm, "GET", "/fapi/v1/time", &[], "").await;
        assert_eq!(a.status, 429);
        assert_eq!(a.headers["retry-after"], "7");
    }
    assert_eq!(
        http(srv.usdm, "GET", "/fapi/v1/time", &[], "").await.status,
        200
    );

    let a = http(admin, "GET", "/faults", &[], "").await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["rules"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["rules"][1]["fired"], 2);
    assert_eq!(v["rules"][1]["exhausted"], true);
    assert_eq!(v["rules"][2]["fired"], 0);
    assert_eq!(v["counters"]["rate_limit_storm"], 3, "{v}");

    // A bad rule is refused and adds nothing.
    let a = http(admin, "POST", "/faults", &[], r#"{"fault":"clock_skew"}"#).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.json()["error"].as_str().unwrap().contains("skew_ms"));
    let a = http(admin, "POST", "/faults", &[], r#"{"fault":"melt"}"#).await;
    assert_eq!(a.status, 400, "{}", a.body);

    let a = http(admin, "DELETE", "/faults", &[], "").await;
    assert_eq!(a.status, 200);
    let v = http(admin, "GET", "/faults", &[], "").await.json();
    assert_eq!(v["rules"], json!([]));
    assert_eq!(v["counters"]["rate_limit_storm"], 3);
    assert_eq!(srv.fault_report().rules.len(), 0);

    let v = http(admin, "GET", "/stats", &[], "").await.json();
    assert!(v["market_steps"].is_u64(), "{v}");
}

/// An HMAC-signed WebSocket API request (parameters sorted, as the API signs).
fn ws_api_signed(id: u64, method: &str, mut params: Vec<(&str, String)>) -> String {
    use veloz_exec::binance::signing::{ws_api_payload, Signer};
    params.push(("apiKey", HMAC_KEY.to_string()));
    params.push(("timestamp", now_ms().to_string()));
    let signer = Signer::hmac(HMAC_SECRET.as_bytes()).unwrap();
    let sig = signer.sign(ws_api_payload(&params).as_bytes()).unwrap();
    let mut m = serde_json::Map::new();
    for (k, v) in params {
        m.insert(k.to_string(), Value::String(v));
    }
    m.insert("signature".into(), Value::String(sig));
    json!({"id": id, "method": method, "params": m}).to_string()
}

async fn ws_api_call(ws: &mut Ws, text: &str) -> Value {
    send_text(ws, text).await;
    serde_json::from_str(&next_text(ws).await).unwrap()
}

#[tokio::test]
async fn ws_api_requests_see_skew_storms_and_unknown_outcomes() {
    let srv = server().await;
    let mut api = ws(srv.spot, veloz_simserver::ws_api::WS_API_PATH).await;
    let order = |cid: &str| {
        vec![
            ("symbol", "BTCUSDT".to_string()),
            ("side", "BUY".into()),
            ("type", "LIMIT".into()),
            ("timeInForce", "GTC".into()),
            ("quantity", "0.01000".into()),
            ("price", "50000.00".into()),
            ("newClientOrderId", cid.into()),
        ]
    };
    // Clock skew: -1021 on the local clock; `time` tells the shifted clock.
    srv.inject(
        FaultRule::new(FaultKind::ClockSkew)
            .path("/ws-api/v3")
            .skew_ms(-120_000),
    )
    .await
    .unwrap();
    let r = ws_api_call(&mut api, &ws_api_signed(1, "order.place", order("skewed"))).await;
    assert_eq!(r["error"]["code"], -1021, "{r}");
    let r = ws_api_call(&mut api, &json!({"id": 2, "method": "time"}).to_string()).await;
    let server_time = r["result"]["serverTime"].as_u64().unwrap();
    assert!(server_time + 100_000 < now_ms(), "{r}");
    assert_eq!(srv.fault_count(FaultKind::ClockSkew), 2);
    srv.clear_faults();

    // 429 storm: the answer carries retryAfter.
    srv.inject(FaultRule::new(FaultKind::RateLimitStorm).product(MarketKind::Spot))
        .await
        .unwrap();
    let r = ws_api_call(&mut api, &json!({"id": 3, "method": "ping"}).to_string()).await;
    assert_eq!(r["status"], 429, "{r}");
    assert_eq!(r["error"]["code"], -1003);
    assert!(r["retryAfter"].is_u64(), "{r}");
    assert_eq!(srv.fault_count(FaultKind::RateLimitStorm), 1);

    // Unknown outcome: 503 -1006, yet order.status finds the order.
    srv.inject(FaultRule::new(FaultKind::OrderUnknownOutcome))
        .await
        .unwrap();
    let r = ws_api_call(
        &mut api,
        &ws_api_signed(4, "order.place", order("ws-unknown")),
    )
    .await;
    assert_eq!(r["status"], 503, "{r}");
    assert_eq!(r["error"]["code"], -1006);
    let q = vec![
        ("symbol", "BTCUSDT".to_string()),
        ("origClientOrderId", "ws-unknown".into()),
    ];
    let r = ws_api_call(&mut api, &ws_api_signed(5, "order.status", q)).await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["result"]["status"], "NEW", "{r}");
    assert_eq!(srv.fault_count(FaultKind::OrderUnknownOutcome), 1);
}

/// Places a USD-M order that fills at once and reads the user-data events
/// until the fill and the account update arrived; returns what arrived, in
/// order (`accepted`, `filled`, `account`).
async fn fill_and_read(srv: &ServerHandle, user: &mut Ws, cid: &str) -> Vec<&'static str> {
    let o = FuturesOrder::limit(
        Side::Buy,
        Quantity::parse("0.010").unwrap(),
        Price::parse("60000.0").unwrap(),
    )
    .time_in_force(TimeInForce::Gtc)
    .client_order_id(ClientOrderId::new(cid).unwrap());
    let req = FuturesApi::USDM
        .new_order(&presets::usdm_btcusdt(), &o, NumberPolicy::Exact)
        .unwrap();
    let a = send_signed(srv.usdm, &req, &hmac_creds()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let src = StreamSource::binance(MarketKind::UsdM);
    let mut seen = Vec::new();
    while !(seen.contains(&"filled") && seen.contains(&"account")) {
        let text = next_text(user).await;
        let m =
            parse_user_data(&src, &text, UnixNanos(0)).unwrap_or_else(|e| panic!("{e}: {text}"));
        if matches!(m, UserDataMessage::Account(_)) {
            seen.push("account");
        }
        for ev in m.order_events() {
            assert_eq!(ev.client_order_id.as_str(), cid);
            match &ev.kind {
                veloz_core::events::OrderEventKind::Accepted => seen.push("accepted"),
                veloz_core::events::OrderEventKind::Filled(_) => seen.push("filled"),
                k => panic!("unexpected {k:?}"),
            }
        }
    }
    seen
}

#[tokio::test]
async fn user_data_frames_are_dropped_duplicated_and_reordered_when_scoped() {
    let srv = server().await;
    srv.push_market(step(vec![], vec![usdm_book(10)]))
        .await
        .unwrap();
    let a = http(
        srv.usdm,
        "POST",
        "/fapi/v1/listenKey",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    let key = a.json()["listenKey"].as_str().unwrap().to_string();
    let mut user = ws(srv.usdm, &format!("/ws/{key}")).await;
    registered(&mut user).await;

    // Unscoped frame rules keep to market frames.
    srv.inject(FaultRule::new(FaultKind::DropFrames).count(0))
        .await
        .unwrap();
    assert_eq!(
        fill_and_read(&srv, &mut user, "plain").await,
        ["accepted", "filled", "account"]
    );
    srv.clear_faults();
    assert_eq!(srv.fault_count(FaultKind::DropFrames), 0);

    let scoped = |k| FaultRule::new(k).connection(ConnectionKind::UserData);
    srv.inject(scoped(FaultKind::DropFrames)).await.unwrap();
    assert_eq!(
        fill_and_read(&srv, &mut user, "dropped").await,
        ["filled", "account"]
    );
    srv.inject(scoped(FaultKind::DuplicateFrames))
        .await
        .unwrap();
    assert_eq!(
        fill_and_read(&srv, &mut user, "twice").await,
        ["accepted", "accepted", "filled", "account"]
    );
    srv.inject(scoped(FaultKind::ReorderFrames)).await.unwrap();
    assert_eq!(
        fill_and_read(&srv, &mut user, "swapped").await,
        ["filled", "accepted", "account"]
    );
    assert_eq!(srv.fault_count(FaultKind::DropFrames), 1);
    assert_eq!(srv.fault_count(FaultKind::DuplicateFrames), 1);
    assert_eq!(srv.fault_count(FaultKind::ReorderFrames), 1);
}
