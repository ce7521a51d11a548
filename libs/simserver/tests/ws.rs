//! WebSocket against a running simulator: market-stream subscriptions with
//! ids, combined streams, and futures user data on a listenKey, read with our
//! own parsers. The market is driven by the test (`push_market`).

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use veloz_core::events::{BookSnapshot, EventTimes, Level, MarketEvent, OrderEventKind};
use veloz_core::{ClientOrderId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::responses::DepthSnapshot;
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::stream::StreamSource;
use veloz_exec::binance::user_data::{parse_user_data, UserDataMessage};
use veloz_exec::binance::user_stream::futures_user_stream_url;
use veloz_sim::presets;
use veloz_simserver::{MarketStep, StreamFrame};

fn frame(stream: &str, data: &str) -> StreamFrame {
    StreamFrame {
        stream: Arc::from(stream),
        data: Arc::from(data),
    }
}

fn step(product: MarketKind, frames: Vec<StreamFrame>, events: Vec<MarketEvent>) -> MarketStep {
    MarketStep {
        time: UnixNanos(1),
        product,
        frames,
        events,
    }
}

async fn request(ws: &mut Ws, v: Value) -> Value {
    send_text(ws, &v.to_string()).await;
    serde_json::from_str(&next_text(ws).await).unwrap()
}

#[tokio::test]
async fn subscribe_list_unsubscribe_with_ids() {
    let srv = server().await;
    let mut ws = ws(srv.spot, "/ws").await;
    let r = request(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 1}));
    srv.push_market(step(
        MarketKind::Spot,
        vec![
            frame("btcusdt@trade", "{\"e\":\"trade\",\"x\":0}"),
            frame("btcusdt@depth@100ms", "{\"e\":\"depthUpdate\",\"x\":1}"),
        ],
        vec![],
    ))
    .await
    .unwrap();
    // Raw stream: the payload only, and only the subscribed stream.
    assert_eq!(next_text(&mut ws).await, "{\"e\":\"depthUpdate\",\"x\":1}");
    let r = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 2})).await;
    assert_eq!(r, json!({"result": ["btcusdt@depth@100ms"], "id": 2}));
    let r = request(
        &mut ws,
        json!({"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 3}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 3}));
    srv.push_market(step(
        MarketKind::Spot,
        vec![frame("btcusdt@depth@100ms", "{\"x\":2}")],
        vec![],
    ))
    .await
    .unwrap();
    // Nothing was queued before this answer.
    let r = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 4})).await;
    assert_eq!(r, json!({"result": [], "id": 4}));
    // Unknown method: an error with the id.
    let r = request(&mut ws, json!({"method": "NOPE", "id": 5})).await;
    assert_eq!(r["id"], 5);
    assert!(r["error"]["code"].is_i64());
    // Frames of another product's port never arrive here.
    srv.push_market(step(
        MarketKind::UsdM,
        vec![frame("btcusdt@depth@100ms", "{\"x\":3}")],
        vec![],
    ))
    .await
    .unwrap();
    let r = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 6})).await;
    assert_eq!(r["id"], 6);
}

#[tokio::test]
async fn combined_stream_wraps_frames() {
    let srv = server().await;
    let mut ws = ws(
        srv.usdm,
        "/stream?streams=btcusdt@bookTicker/btcusdt@depth@0ms",
    )
    .await;
    // Barrier: the connection is registered once it answers.
    let r = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(
        r["result"],
        json!(["btcusdt@bookTicker", "btcusdt@depth@0ms"])
    );
    srv.push_market(step(
        MarketKind::UsdM,
        vec![frame("btcusdt@bookTicker", "{\"e\":\"bookTicker\"}")],
        vec![],
    ))
    .await
    .unwrap();
    let v: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(
        v,
        json!({"stream": "btcusdt@bookTicker", "data": {"e": "bookTicker"}})
    );
}

fn usdm_book(update_id: u64) -> MarketEvent {
    let inst = presets::usdm_btcusdt();
    let l = |p: &str, q: &str| Level {
        price: Price::parse(p).unwrap(),
        qty: Quantity::parse(q).unwrap(),
    };
    MarketEvent::BookSnapshot(BookSnapshot {
        instrument: inst.id,
        last_update_id: update_id,
        bids: vec![l("59990.0", "2.000"), l("59980.0", "1.000")],
        asks: vec![l("60000.0", "1.500"), l("60010.0", "3.000")],
        times: EventTimes::new(UnixNanos::from_millis(1), UnixNanos::from_millis(1)),
    })
}

#[tokio::test]
async fn rest_depth_matches_the_applied_book() {
    let srv = server().await;
    srv.push_market(step(MarketKind::UsdM, vec![], vec![usdm_book(777)]))
        .await
        .unwrap();
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=5",
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let d: DepthSnapshot = serde_json::from_str(&a.body).unwrap();
    assert_eq!(d.last_update_id, 777);
    assert_eq!(d.bids.len(), 2);
    assert_eq!(d.asks[0].0, Price::parse("60000.0").unwrap());
    assert_eq!(d.asks[0].1, Quantity::parse("1.500").unwrap());
    assert_eq!(d.bids[1].0, Price::parse("59980.0").unwrap());
    assert_eq!(a.headers["x-mbx-used-weight-1m"], "10");
}

#[tokio::test]
async fn futures_fills_arrive_on_the_listen_key_stream() {
    let srv = server().await;
    srv.push_market(step(MarketKind::UsdM, vec![], vec![usdm_book(10)]))
        .await
        .unwrap();
    let api = FuturesApi::USDM;
    // listenKey: API key only.
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
    let a = http(
        srv.usdm,
        "PUT",
        "/fapi/v1/listenKey",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!(a.json()["listenKey"], key.as_str());
    // The adapter's own URL for the USD-M user stream (the routed /private path).
    let url =
        futures_user_stream_url(&format!("ws://{}", srv.usdm), MarketKind::UsdM, &key).unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let r = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(r["id"], 1);
    // An unknown key is refused.
    let bad = tokio_tungstenite::connect_async(format!("ws://{}/private/ws/nokey", srv.usdm)).await;
    assert!(bad.is_err());

    let inst = presets::usdm_btcusdt();
    let o = FuturesOrder::limit(
        Side::Buy,
        Quantity::parse("0.010").unwrap(),
        Price::parse("60000.0").unwrap(),
    )
    .time_in_force(TimeInForce::Gtc)
    .client_order_id(ClientOrderId::new("take-1").unwrap());
    let req = api.new_order(&inst, &o, NumberPolicy::Exact).unwrap();
    let a = send_signed(srv.usdm, &req, &hmac_creds()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["status"], "FILLED");

    let src = StreamSource::binance(MarketKind::UsdM);
    let mut fills = Vec::new();
    let mut accepted = false;
    let mut account_updates = 0;
    while fills.is_empty() || account_updates == 0 {
        let text = next_text(&mut ws).await;
        let m =
            parse_user_data(&src, &text, UnixNanos(0)).unwrap_or_else(|e| panic!("{e}: {text}"));
        if matches!(m, UserDataMessage::Account(_)) {
            account_updates += 1;
        }
        for ev in m.order_events() {
            assert_eq!(ev.client_order_id.as_str(), "take-1");
            match &ev.kind {
                OrderEventKind::Accepted => accepted = true,
                OrderEventKind::Filled(f) => fills.push(*f),
                k => panic!("unexpected {k:?}"),
            }
        }
    }
    assert!(accepted);
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, Price::parse("60000.0").unwrap());
    assert_eq!(fills[0].qty, Quantity::parse("0.010").unwrap());
    assert_eq!(fills[0].side, Side::Buy);
    // Taker fee 0.05 % of 600 USDT.
    assert_eq!(fills[0].fee.raw(), 30_000_000);
}

#[tokio::test]
async fn a_slow_subscriber_is_disconnected_and_counted() {
    let mut cfg = config();
    cfg.subscriber_queue = 2;
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let mut slow = ws(srv.spot, "/ws/btcusdt@trade").await;
    let r = request(&mut slow, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(r["id"], 1);
    // Ten frames at once into a queue of two: the engine does not wait.
    let frames = (0..10)
        .map(|i| frame("btcusdt@trade", &format!("{{\"n\":{i}}}")))
        .collect();
    srv.push_market(step(MarketKind::Spot, frames, vec![]))
        .await
        .unwrap();
    let stats = srv.stats().await.unwrap();
    assert_eq!(stats.slow_disconnects, 1);
    assert!(stats.market_frames_sent <= 3, "{stats:?}");
    // What was queued arrives, then the connection ends.
    use futures_util::StreamExt;
    let mut texts = Vec::new();
    while let Some(Ok(m)) = slow.next().await {
        match m {
            tokio_tungstenite::tungstenite::Message::Text(t) => texts.push(t.to_string()),
            tokio_tungstenite::tungstenite::Message::Close(_) => break,
            _ => {}
        }
    }
    assert!(!texts.is_empty() && texts.len() <= 3, "{texts:?}");
    assert_eq!(texts[0], "{\"n\":0}");
}

#[tokio::test]
async fn recent_trades_list_market_and_simulated_trades() {
    use veloz_core::events::Trade;
    use veloz_core::{AggressorSide, TradeId};
    use veloz_exec::binance::rest::responses::RecentTrade;
    let srv = server().await;
    let inst = presets::usdm_btcusdt();
    let t = Trade {
        instrument: inst.id,
        trade_id: TradeId(42),
        price: Price::parse("60001.0").unwrap(),
        qty: Quantity::parse("0.500").unwrap(),
        aggressor: AggressorSide::Seller,
        times: EventTimes::new(UnixNanos::from_millis(5), UnixNanos::from_millis(5)),
    };
    srv.push_market(step(
        MarketKind::UsdM,
        vec![],
        vec![usdm_book(10), MarketEvent::Trade(t)],
    ))
    .await
    .unwrap();
    let o = FuturesOrder::market(Side::Buy, Quantity::parse("0.010").unwrap());
    let req = FuturesApi::USDM
        .new_order(&inst, &o, NumberPolicy::Exact)
        .unwrap();
    assert_eq!(send_signed(srv.usdm, &req, &hmac_creds()).await.status, 200);
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/trades?symbol=BTCUSDT&limit=10",
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let list: Vec<RecentTrade> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(list.len(), 2, "{}", a.body);
    assert_eq!((list[0].id, list[0].is_buyer_maker), (42, true));
    assert_eq!(list[1].price, Price::parse("60000.0").unwrap());
    assert!(!list[1].is_buyer_maker);
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/trades?symbol=BTCUSDT&limit=1",
        &[],
        "",
    )
    .await;
    let list: Vec<RecentTrade> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].qty, Quantity::parse("0.010").unwrap());
}

#[tokio::test]
async fn routed_usdm_paths_serve_the_same_streams() {
    let srv = server().await;
    let mut routed = ws(srv.usdm, "/market/ws/btcusdt@aggTrade").await;
    let r = request(
        &mut routed,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 2}),
    )
    .await;
    assert_eq!(r["result"], json!(["btcusdt@aggTrade"]));
    srv.push_market(step(
        MarketKind::UsdM,
        vec![frame("btcusdt@aggTrade", "{\"e\":\"aggTrade\"}")],
        vec![],
    ))
    .await
    .unwrap();
    assert_eq!(next_text(&mut routed).await, "{\"e\":\"aggTrade\"}");
    // The spot port has no routed paths.
    let bad =
        tokio_tungstenite::connect_async(format!("ws://{}/market/ws/btcusdt@aggTrade", srv.spot))
            .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn tickers_and_premium_index_follow_the_market() {
    use veloz_core::events::MarkPrice;
    let srv = server().await;
    let inst = presets::usdm_btcusdt();
    let m = MarkPrice {
        instrument: inst.id,
        mark: Price::parse("59995.5").unwrap(),
        index: Some(Price::parse("59990.1").unwrap()),
        funding_rate: Some(Price::parse("0.0001").unwrap()),
        next_funding_time: Some(UnixNanos::from_millis(1_700_000_000_000)),
        times: EventTimes::new(UnixNanos::from_millis(2), UnixNanos::from_millis(2)),
    };
    srv.push_market(step(
        MarketKind::UsdM,
        vec![],
        vec![usdm_book(10), MarketEvent::MarkPrice(m)],
    ))
    .await
    .unwrap();
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/premiumIndex?symbol=BTCUSDT",
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["markPrice"], "59995.50");
    assert_eq!(v["indexPrice"], "59990.10");
    assert_eq!(v["nextFundingTime"], 1_700_000_000_000u64);
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/ticker/bookTicker?symbol=BTCUSDT",
        &[],
        "",
    )
    .await;
    let v = a.json();
    assert_eq!(
        (v["bidPrice"].as_str(), v["askPrice"].as_str()),
        (Some("59990.00"), Some("60000.00")),
        "{v}"
    );
    assert_eq!(v["askQty"], "1.500");
    let a = http(srv.spot, "GET", "/api/v3/ticker/price", &[], "").await;
    assert_eq!(a.json()[0]["symbol"], "BTCUSDT");
    let a = http(srv.spot, "GET", "/api/v3/premiumIndex", &[], "").await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn leverage_change_is_pushed_and_account_settings_answer() {
    use veloz_exec::binance::rest::responses::{LeverageResponse, PositionMode};
    let srv = server().await;
    let api = FuturesApi::COINM;
    let inst = presets::coinm_btcusd_perp();
    let creds = hmac_creds();
    let a = send_signed(srv.coinm, &api.listen_key_create(), &creds).await;
    let key = a.json()["listenKey"].as_str().unwrap().to_string();
    let url =
        futures_user_stream_url(&format!("ws://{}", srv.coinm), MarketKind::CoinM, &key).unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let r = request(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(r["id"], 1);

    let a = send_signed(
        srv.coinm,
        &api.leverage(&inst.id.symbol, 7).unwrap(),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let l: LeverageResponse = serde_json::from_str(&a.body).unwrap();
    assert_eq!(l.leverage, 7);
    let t = next_text(&mut ws).await;
    let m = parse_user_data(&StreamSource::binance(MarketKind::CoinM), &t, UnixNanos(0)).unwrap();
    assert!(matches!(m, UserDataMessage::AccountConfig(_)), "{m:?}");

    let a = send_signed(srv.coinm, &api.set_position_mode(true), &creds).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = send_signed(srv.coinm, &api.get_position_mode(), &creds).await;
    let pm: PositionMode = serde_json::from_str(&a.body).unwrap();
    assert!(pm.dual_side_position);
}

#[tokio::test]
async fn klines_aggregate_the_trades() {
    use veloz_core::events::Trade;
    use veloz_core::{AggressorSide, TradeId};
    use veloz_exec::binance::rest::responses::Kline;
    let srv = server().await;
    let inst = presets::usdm_btcusdt();
    let tr = |id: u64, ms: u64, px: &str, qty: &str, buy: bool| {
        MarketEvent::Trade(Trade {
            instrument: inst.id,
            trade_id: TradeId(id),
            price: Price::parse(px).unwrap(),
            qty: Quantity::parse(qty).unwrap(),
            aggressor: if buy {
                AggressorSide::Buyer
            } else {
                AggressorSide::Seller
            },
            times: EventTimes::new(UnixNanos::from_millis(ms), UnixNanos::from_millis(ms)),
        })
    };
    let events = vec![
        tr(1, 120_000, "100.0", "1.000", true),
        tr(2, 150_000, "110.0", "2.000", false),
        tr(3, 180_500, "90.0", "1.000", true),
        tr(4, 420_000, "95.0", "0.500", false),
    ];
    srv.push_market(step(MarketKind::UsdM, vec![], events))
        .await
        .unwrap();
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/klines?symbol=BTCUSDT&interval=1m",
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let k: Vec<Kline> = serde_json::from_str(&a.body).unwrap();
    let opens: Vec<u64> = k.iter().map(|k| k.open_time).collect();
    assert_eq!(opens, [120_000, 180_000, 420_000]);
    assert_eq!(k[0].high, Price::parse("110.0").unwrap());
    assert_eq!(k[0].close, Price::parse("110.0").unwrap());
    assert_eq!(k[0].volume, Quantity::parse("3.000").unwrap());
    assert_eq!(k[0].trades, 2);
    assert_eq!(
        k[0].taker_buy_base_volume,
        Quantity::parse("1.000").unwrap()
    );
    assert_eq!(k[0].close_time, 179_999);

    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=1",
        &[],
        "",
    )
    .await;
    let k: Vec<Kline> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].open_time, 300_000);
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/klines?symbol=BTCUSDT&interval=5m",
        &[],
        "",
    )
    .await;
    let k: Vec<Kline> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(k.len(), 2);
    assert_eq!(
        (k[0].open, k[0].high, k[0].low, k[0].close),
        (
            Price::parse("100.0").unwrap(),
            Price::parse("110.0").unwrap(),
            Price::parse("90.0").unwrap(),
            Price::parse("90.0").unwrap(),
        )
    );
    assert_eq!(k[0].quote_volume.0, 410 * 100_000_000);
    let a = http(
        srv.usdm,
        "GET",
        "/fapi/v1/klines?symbol=BTCUSDT&interval=7m",
        &[],
        "",
    )
    .await;
    assert_eq!((a.status, a.code()), (400, -1120));
}
