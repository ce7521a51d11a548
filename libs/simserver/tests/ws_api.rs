//! The spot WebSocket API: Ed25519 `session.logon`, user-data subscriptions
//! (after logon and by signature), signed and session-authenticated orders,
//! events read by our own user-data parser.

mod common;

use common::*;
use serde_json::{json, Value};
use veloz_core::events::{BookSnapshot, EventTimes, Level, MarketEvent, OrderEventKind};
use veloz_core::{MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::signing::{ws_api_payload, Signer};
use veloz_exec::binance::stream::StreamSource;
use veloz_exec::binance::user_data::{parse_user_data, UserDataMessage};
use veloz_exec::binance::user_stream::WsApiRequest;
use veloz_sim::presets;
use veloz_simserver::MarketStep;

fn spot_book() -> MarketStep {
    let inst = presets::spot_btcusdt();
    let l = |p: &str, q: &str| Level {
        price: Price::parse(p).unwrap(),
        qty: Quantity::parse(q).unwrap(),
    };
    MarketStep {
        time: UnixNanos(1),
        product: MarketKind::Spot,
        frames: vec![],
        events: vec![MarketEvent::BookSnapshot(BookSnapshot {
            instrument: inst.id,
            last_update_id: 5,
            bids: vec![l("59990.00", "1.00000")],
            asks: vec![l("60000.00", "1.00000")],
            times: EventTimes::new(UnixNanos::from_millis(1), UnixNanos::from_millis(1)),
        })],
    }
}

/// Signs `params` (adding apiKey and timestamp) the WebSocket API way.
fn signed(signer: &Signer, api_key: &str, mut params: Vec<(&str, String)>) -> Value {
    params.push(("apiKey", api_key.to_string()));
    params.push(("timestamp", now_ms().to_string()));
    let sig = signer.sign(ws_api_payload(&params).as_bytes()).unwrap();
    let mut m = serde_json::Map::new();
    for (k, v) in params {
        m.insert(k.to_string(), Value::String(v));
    }
    m.insert("signature".into(), Value::String(sig));
    Value::Object(m)
}

/// Sends a request built by our adapter (`WsApiRequest`) and returns its
/// answer; user-data events that arrive first are collected into `events`.
async fn call_request(ws: &mut Ws, r: &WsApiRequest, events: &mut Vec<String>) -> Value {
    send_text(ws, &r.to_json()).await;
    loop {
        let t = next_text(ws).await;
        let v: Value = serde_json::from_str(&t).unwrap();
        if v.get("id") == Some(&json!(r.id)) {
            return v;
        }
        events.push(t);
    }
}

/// Sends a request and returns its answer; user-data events that arrive
/// first are collected into `events`.
async fn call(
    ws: &mut Ws,
    id: u64,
    method: &str,
    params: Value,
    events: &mut Vec<String>,
) -> Value {
    send_text(
        ws,
        &json!({"id": id, "method": method, "params": params}).to_string(),
    )
    .await;
    loop {
        let t = next_text(ws).await;
        let v: Value = serde_json::from_str(&t).unwrap();
        if v.get("id") == Some(&json!(id)) {
            return v;
        }
        events.push(t);
    }
}

fn order_params() -> Vec<(&'static str, String)> {
    vec![
        ("symbol", "BTCUSDT".into()),
        ("side", "BUY".into()),
        ("type", "LIMIT".into()),
        ("timeInForce", "GTC".into()),
        ("quantity", "0.01000".into()),
        ("price", "60000.00".into()),
        ("newClientOrderId", "wsapi-1".into()),
    ]
}

#[tokio::test]
async fn ed25519_logon_subscribe_and_trade() {
    let srv = server().await;
    srv.push_market(spot_book()).await.unwrap();
    let signer = Signer::ed25519(ed_signing_key());
    let mut ws = ws(srv.spot, "/ws-api/v3").await;
    let mut events = Vec::new();

    // The adapter's own request builders: Ed25519 logon, then subscribe.
    let logon = WsApiRequest::session_logon("logon-1", ED_KEY, &signer, now_ms(), None).unwrap();
    let r = call_request(&mut ws, &logon, &mut events).await;
    assert_eq!(r["status"], 200, "{r}");
    assert!(r["result"]["authorizedSince"].is_u64());
    let r = call_request(
        &mut ws,
        &WsApiRequest::user_data_subscribe("sub-2"),
        &mut events,
    )
    .await;
    assert_eq!(r["result"], json!({"subscriptionId": 0}), "{r}");

    // After logon: only a timestamp.
    let mut p = serde_json::Map::new();
    for (k, v) in order_params() {
        p.insert(k.into(), Value::String(v));
    }
    p.insert("timestamp".into(), json!(now_ms()));
    let r = call(&mut ws, 3, "order.place", Value::Object(p), &mut events).await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["result"]["status"], "FILLED");
    assert_eq!(r["result"]["fills"][0]["price"], "60000.00");
    assert!(r["rateLimits"][0]["count"].is_u64());

    // Events: executionReport NEW and TRADE, then outboundAccountPosition.
    let src = StreamSource::binance(MarketKind::Spot);
    let mut filled = None;
    let mut balances = false;
    while filled.is_none() || !balances {
        let t = if events.is_empty() {
            next_text(&mut ws).await
        } else {
            events.remove(0)
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["subscriptionId"], 0, "{t}");
        let m = parse_user_data(&src, &t, UnixNanos(0)).unwrap_or_else(|e| panic!("{e}: {t}"));
        if matches!(m, UserDataMessage::Account(_)) {
            balances = true;
        }
        for ev in m.order_events() {
            if let OrderEventKind::Filled(f) = &ev.kind {
                filled = Some(*f);
            }
        }
    }
    let f = filled.unwrap();
    assert_eq!(f.side, Side::Buy);
    assert_eq!(f.qty, Quantity::parse("0.01").unwrap());
    // 0.1 % of 600 USDT... charged in BTC on a buy: 0.00001 BTC.
    assert_eq!(f.fee.currency().as_str(), "BTC");
    assert_eq!(f.fee.raw(), 1_000);

    let r = call(
        &mut ws,
        4,
        "userDataStream.unsubscribe",
        json!({"subscriptionId": 0}),
        &mut events,
    )
    .await;
    assert_eq!(r["status"], 200, "{r}");
    let r = call(
        &mut ws,
        5,
        "userDataStream.unsubscribe",
        json!({"subscriptionId": 0}),
        &mut events,
    )
    .await;
    assert_eq!(r["error"]["code"], -2036, "{r}");
}

#[tokio::test]
async fn hmac_signature_subscription_and_order_lifecycle() {
    let srv = server().await;
    let signer = Signer::hmac(HMAC_SECRET.as_bytes()).unwrap();
    let mut ws = ws(srv.spot, "/ws-api/v3").await;
    let mut events = Vec::new();

    // HMAC keys cannot log on (the adapter's builder refuses it before sending).
    assert!(WsApiRequest::session_logon("1", HMAC_KEY, &signer, now_ms(), None).is_err());
    let r = call(
        &mut ws,
        1,
        "session.logon",
        signed(&signer, HMAC_KEY, vec![]),
        &mut events,
    )
    .await;
    assert_eq!(r["status"], 400, "{r}");
    let sub = WsApiRequest::user_data_subscribe_signature(
        "sub-2",
        HMAC_KEY,
        &signer,
        now_ms(),
        Some(5000),
    )
    .unwrap();
    let r = call_request(&mut ws, &sub, &mut events).await;
    assert_eq!(r["result"]["subscriptionId"], 0, "{r}");

    // No market: the order rests.
    let r = call(
        &mut ws,
        3,
        "order.place",
        signed(&signer, HMAC_KEY, order_params()),
        &mut events,
    )
    .await;
    assert_eq!(r["result"]["status"], "NEW", "{r}");
    let id = r["result"]["orderId"].as_u64().unwrap();
    let q = vec![
        ("symbol", "BTCUSDT".to_string()),
        ("orderId", id.to_string()),
    ];
    let r = call(
        &mut ws,
        4,
        "order.status",
        signed(&signer, HMAC_KEY, q.clone()),
        &mut events,
    )
    .await;
    assert_eq!(r["result"]["status"], "NEW", "{r}");
    let r = call(
        &mut ws,
        5,
        "order.cancel",
        signed(&signer, HMAC_KEY, q),
        &mut events,
    )
    .await;
    assert_eq!(r["result"]["status"], "CANCELED", "{r}");

    // A tampered request: -1022. Unsigned without a session: refused.
    let mut bad = signed(&signer, HMAC_KEY, order_params());
    bad["quantity"] = json!("0.02000");
    let r = call(&mut ws, 6, "order.place", bad, &mut events).await;
    assert_eq!(r["error"]["code"], -1022, "{r}");
    let r = call(
        &mut ws,
        7,
        "order.place",
        json!({"symbol": "BTCUSDT", "timestamp": now_ms()}),
        &mut events,
    )
    .await;
    assert_eq!(r["status"], 400, "{r}");

    // The subscription saw NEW and CANCELED for the order.
    let src = StreamSource::binance(MarketKind::Spot);
    let mut kinds = Vec::new();
    while !kinds.iter().any(|k| matches!(k, OrderEventKind::Canceled)) {
        let t = if events.is_empty() {
            next_text(&mut ws).await
        } else {
            events.remove(0)
        };
        let m = parse_user_data(&src, &t, UnixNanos(0)).unwrap_or_else(|e| panic!("{e}: {t}"));
        kinds.extend(m.order_events().into_iter().map(|e| e.kind.clone()));
    }
    assert!(matches!(kinds[0], OrderEventKind::Accepted), "{kinds:?}");
}
