//! listenKey life: expiry tells the connection `listenKeyExpired` and closes
//! it; the retired spot listenKey API serves unwrapped `executionReport`s
//! when enabled and is absent otherwise.

mod common;

use common::*;
use futures_util::StreamExt;
use veloz_core::{ClientOrderId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::spot::{self, SpotOrder};
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::stream::StreamSource;
use veloz_exec::binance::user_data::{parse_user_data, UserDataMessage};
use veloz_sim::presets;

#[tokio::test]
async fn expired_listen_key_is_announced_and_the_stream_ends() {
    let mut cfg = config();
    cfg.listen_key_ttl_secs = 1;
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let a = http(
        srv.coinm,
        "POST",
        "/dapi/v1/listenKey",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let key = a.json()["listenKey"].as_str().unwrap().to_string();
    let mut ws = ws(srv.coinm, &format!("/ws/{key}")).await;
    send_text(&mut ws, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}").await;
    next_text(&mut ws).await;
    // Waits for the event (the key lives one second).
    let t = next_text(&mut ws).await;
    let m = parse_user_data(&StreamSource::binance(MarketKind::CoinM), &t, UnixNanos(0)).unwrap();
    match m {
        UserDataMessage::ListenKeyExpired { listen_key, .. } => {
            assert_eq!(listen_key.as_deref(), Some(key.as_str()))
        }
        other => panic!("{other:?}"),
    }
    // Then the connection ends.
    loop {
        match ws.next().await {
            None | Some(Err(_)) => break,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => break,
            Some(Ok(other)) => assert!(!other.is_text(), "frame after expiry: {other:?}"),
        }
    }
    // The key is gone: keepalive answers -1125.
    let a = http(
        srv.coinm,
        "PUT",
        &format!("/dapi/v1/listenKey?listenKey={key}"),
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!((a.status, a.code()), (400, -1125), "{}", a.body);
}

#[tokio::test]
async fn legacy_spot_listen_key_behind_its_option() {
    let srv = server().await;
    let a = http(
        srv.spot,
        "POST",
        "/api/v3/userDataStream",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!(a.status, 404, "off by default: {}", a.body);

    let mut cfg = config();
    cfg.spot_listen_key = true;
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let a = http(
        srv.spot,
        "POST",
        "/api/v3/userDataStream",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let key = a.json()["listenKey"].as_str().unwrap().to_string();
    let mut ws = ws(srv.spot, &format!("/ws/{key}")).await;
    send_text(&mut ws, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}").await;
    next_text(&mut ws).await;

    let inst = presets::spot_btcusdt();
    let o = SpotOrder::limit(
        Side::Sell,
        Quantity::parse("0.01").unwrap(),
        Price::parse("70000.00").unwrap(),
    )
    .time_in_force(TimeInForce::Gtc)
    .client_order_id(ClientOrderId::new("legacy-1").unwrap());
    let a = send_signed(
        srv.spot,
        &spot::new_order(&inst, &o, NumberPolicy::Exact).unwrap(),
        &hmac_creds(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let src = StreamSource::binance(MarketKind::Spot);
    let mut saw_order = false;
    let mut saw_balance = false;
    while !(saw_order && saw_balance) {
        let t = next_text(&mut ws).await;
        assert!(t.starts_with("{\"e\":") || t.contains("\"e\":"), "{t}");
        assert!(
            !t.contains("subscriptionId"),
            "legacy events are not wrapped: {t}"
        );
        match parse_user_data(&src, &t, UnixNanos(0)).unwrap() {
            UserDataMessage::Order(u) => {
                assert_eq!(u.report.client_order_id.as_str(), "legacy-1");
                saw_order = true;
            }
            UserDataMessage::Account(_) => saw_balance = true,
            other => panic!("{other:?}"),
        }
    }
    let a = http(
        srv.spot,
        "DELETE",
        &format!("/api/v3/userDataStream?listenKey={key}"),
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
}
