//! REST against a running simulator: requests built and signed by our own
//! adapter (`veloz_exec::binance::rest`), answers read by its parsers.

mod common;

use common::*;
use veloz_core::{ClientOrderId, MarketKind, Price, Quantity, Side};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::responses::{FuturesOrderReport, SpotAccount, SpotOrderReport};
use veloz_exec::binance::rest::spot::{self, SpotOrder};
use veloz_exec::binance::rest::types::OrderStatus;
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::rest::OrderRef;
use veloz_sim::presets;

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

#[tokio::test]
async fn server_time_on_every_product() {
    let srv = server().await;
    for (kind, path) in [
        (MarketKind::Spot, "/api/v3/time"),
        (MarketKind::UsdM, "/fapi/v1/time"),
        (MarketKind::CoinM, "/dapi/v1/time"),
    ] {
        let a = http(srv.addr(kind), "GET", path, &[], "").await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        let t = a.json()["serverTime"].as_u64().unwrap();
        assert!(t > 1_600_000_000_000);
        assert_eq!(a.headers["x-mbx-used-weight-1m"], "1");
    }
    // Our adapter's requests reach the right port from the endpoints alone.
    for (kind, r) in [
        (MarketKind::Spot, spot::server_time()),
        (MarketKind::UsdM, FuturesApi::USDM.server_time()),
        (MarketKind::CoinM, FuturesApi::COINM.server_time()),
    ] {
        let signed = r.sign(None, now_ms(), None).unwrap();
        let a = send_to(&srv, &signed).await;
        assert_eq!(a.status, 200, "{kind:?}: {}", a.body);
        assert!(srv
            .endpoints()
            .rest_base(kind)
            .ends_with(&srv.addr(kind).port().to_string()));
    }
    // A product's path on another product's port is not served.
    let a = http(srv.spot, "GET", "/fapi/v1/time", &[], "").await;
    assert_eq!(a.status, 404);
}

async fn spot_round_trip(creds: veloz_exec::binance::config::Credentials) {
    let srv = server().await;
    let inst = presets::spot_btcusdt();
    let order = SpotOrder::limit(Side::Buy, q("0.01"), p("50000.00"))
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(ClientOrderId::new("rt-1").unwrap());
    let req = spot::new_order(&inst, &order, NumberPolicy::Exact).unwrap();
    let a = send_signed(srv.spot, &req, &creds).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["x-mbx-order-count-10s"], "1");
    assert_eq!(a.headers["x-mbx-order-count-1d"], "1");
    let r: SpotOrderReport = serde_json::from_str(&a.body).unwrap();
    assert_eq!(r.client_order_id, "rt-1");
    assert_eq!(r.status, Some(OrderStatus::New));
    assert_eq!(r.price, Some(p("50000.00")));
    assert_eq!(r.orig_qty, Some(q("0.01")));
    assert!(r.fills.is_empty());

    // The quote is locked.
    let a = send_signed(srv.spot, &spot::account(false), &creds).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let acc: SpotAccount = serde_json::from_str(&a.body).unwrap();
    let usdt = acc.balances.iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!(usdt.locked.0, 500 * 100_000_000);

    let sym = inst.id.symbol;
    let a = send_signed(
        srv.spot,
        &spot::query_order(&sym, OrderRef::Client(ClientOrderId::new("rt-1").unwrap())),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let got: SpotOrderReport = serde_json::from_str(&a.body).unwrap();
    assert_eq!(got.order_id, r.order_id);
    assert_eq!(got.is_working, Some(true));

    let a = send_signed(
        srv.spot,
        &spot::cancel_order(&sym, OrderRef::Venue(veloz_core::VenueOrderId(r.order_id))),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let c: SpotOrderReport = serde_json::from_str(&a.body).unwrap();
    assert_eq!(c.status, Some(OrderStatus::Canceled));

    // Cancelling again: -2011.
    let a = send_signed(
        srv.spot,
        &spot::cancel_order(&sym, OrderRef::Venue(veloz_core::VenueOrderId(r.order_id))),
        &creds,
    )
    .await;
    assert_eq!((a.status, a.code()), (400, -2011), "{}", a.body);
}

#[tokio::test]
async fn spot_order_round_trip_hmac() {
    spot_round_trip(hmac_creds()).await;
}

#[tokio::test]
async fn spot_order_round_trip_ed25519() {
    spot_round_trip(ed_creds()).await;
}

#[tokio::test]
async fn futures_order_round_trip() {
    let srv = server().await;
    for (inst, api, qty) in [
        (presets::usdm_btcusdt(), FuturesApi::USDM, "0.010"),
        (presets::coinm_btcusd_perp(), FuturesApi::COINM, "1"),
    ] {
        let addr = srv.addr(inst.id.kind);
        let o = FuturesOrder::limit(Side::Sell, q(qty), p("70000.0"))
            .time_in_force(TimeInForce::Gtc)
            .client_order_id(ClientOrderId::new("f-1").unwrap());
        let req = api.new_order(&inst, &o, NumberPolicy::Exact).unwrap();
        let a = send_signed(addr, &req, &hmac_creds()).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let r: FuturesOrderReport = serde_json::from_str(&a.body).unwrap();
        assert_eq!(r.status, OrderStatus::New);
        assert!(a.headers.contains_key("x-mbx-order-count-10s"));
        assert!(a.headers.contains_key("x-mbx-order-count-1m"));
        assert_eq!(r.orig_qty, q(qty));
        let a = send_signed(
            addr,
            &api.cancel_order(
                &inst.id.symbol,
                OrderRef::Client(ClientOrderId::new("f-1").unwrap()),
            ),
            &hmac_creds(),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let r: FuturesOrderReport = serde_json::from_str(&a.body).unwrap();
        assert_eq!(r.status, OrderStatus::Canceled);
    }
}

#[tokio::test]
async fn authentication_errors() {
    let srv = server().await;
    let inst = presets::spot_btcusdt();
    let order =
        SpotOrder::limit(Side::Buy, q("0.01"), p("50000.00")).time_in_force(TimeInForce::Gtc);
    let req = spot::new_order(&inst, &order, NumberPolicy::Exact).unwrap();

    // Wrong secret: -1022.
    let wrong = veloz_exec::binance::config::Credentials::hmac(HMAC_KEY, "not-the-secret").unwrap();
    let a = send_signed(srv.spot, &req, &wrong).await;
    assert_eq!((a.status, a.code()), (400, -1022), "{}", a.body);

    // Ed25519 key signing with another private key: -1022.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let pem = other.to_pkcs8_pem(LineEnding::LF).unwrap();
    let forged =
        veloz_exec::binance::config::Credentials::ed25519_pem(ED_KEY, pem.as_str()).unwrap();
    let a = send_signed(srv.spot, &req, &forged).await;
    assert_eq!((a.status, a.code()), (400, -1022), "{}", a.body);

    // Old timestamp: -1021.
    let signed = req
        .sign(Some(&hmac_creds()), now_ms() - 60_000, None)
        .unwrap();
    let a = send(srv.spot, &signed).await;
    assert_eq!((a.status, a.code()), (400, -1021), "{}", a.body);
    // Within a wider recvWindow it passes.
    let signed = req
        .sign(Some(&hmac_creds()), now_ms() - 30_000, Some(59_000))
        .unwrap();
    let a = send(srv.spot, &signed).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // In the future: -1021.
    let signed = req
        .sign(Some(&hmac_creds()), now_ms() + 10_000, None)
        .unwrap();
    let a = send(srv.spot, &signed).await;
    assert_eq!(a.code(), -1021);

    // Unknown key: -2015 (401); no key: -2014.
    let unknown = veloz_exec::binance::config::Credentials::hmac("nobody", HMAC_SECRET).unwrap();
    let a = send_signed(srv.spot, &req, &unknown).await;
    assert_eq!((a.status, a.code()), (401, -2015), "{}", a.body);
    let signed = req.sign(Some(&hmac_creds()), now_ms(), None).unwrap();
    let a = http(
        srv.spot,
        "POST",
        &signed.path_and_query(),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &signed.body,
    )
    .await;
    assert_eq!((a.status, a.code()), (401, -2014), "{}", a.body);

    // Missing timestamp: -1102.
    let a = http(
        srv.spot,
        "GET",
        "/api/v3/openOrders?signature=00",
        &[("X-MBX-APIKEY", HMAC_KEY)],
        "",
    )
    .await;
    assert_eq!((a.status, a.code()), (400, -1102), "{}", a.body);
}

#[tokio::test]
async fn exchange_info_parses_back_into_the_same_instruments() {
    use veloz_exec::binance::rest::exchange_info::ExchangeInfo;
    let srv = server().await;
    for (inst, path) in [
        (presets::spot_btcusdt(), "/api/v3/exchangeInfo"),
        (presets::usdm_btcusdt(), "/fapi/v1/exchangeInfo"),
        (presets::coinm_btcusd_perp(), "/dapi/v1/exchangeInfo"),
    ] {
        let a = http(srv.addr(inst.id.kind), "GET", path, &[], "").await;
        assert_eq!(a.status, 200);
        let info: ExchangeInfo = serde_json::from_str(&a.body).unwrap();
        let (list, errors) = info.instruments(inst.id.kind);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(list.len(), 1);
        let mut expected = inst.clone();
        expected.maker_fee = Price::ZERO;
        expected.taker_fee = Price::ZERO;
        // Without a minimum notional, whether it applies to market orders
        // has no meaning (and no wire field).
        if expected.min_notional.is_none() {
            expected.min_notional_applies_to_market =
                list[0].instrument.min_notional_applies_to_market;
        }
        assert_eq!(list[0].instrument, expected);
    }
}

#[tokio::test]
async fn rate_limit_429_then_418() {
    let mut cfg = config();
    cfg.rate_limits.weight_per_minute = 5;
    cfg.rate_limits.ban_after_429s = 2;
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let mut seen_429 = false;
    let mut seen_418 = false;
    for _ in 0..40 {
        let a = http(srv.spot, "GET", "/api/v3/time", &[], "").await;
        match a.status {
            // A new minute may start in the middle: its window is fresh.
            200 => seen_429 = false,
            429 => {
                assert_eq!(a.code(), -1003);
                assert!(a.headers["retry-after"].parse::<u64>().unwrap() >= 1);
                seen_429 = true;
            }
            418 => {
                assert!(seen_429, "418 before any 429");
                assert_eq!(a.headers["retry-after"], "120");
                seen_418 = true;
                break;
            }
            s => panic!("status {s}: {}", a.body),
        }
    }
    assert!(seen_418);
    // Banned on every product path of the port.
    let a = http(srv.spot, "GET", "/api/v3/depth?symbol=BTCUSDT", &[], "").await;
    assert_eq!(a.status, 418);
}

#[tokio::test]
async fn order_count_limit_answers_1015() {
    let mut cfg = config();
    cfg.rate_limits.orders_per_10s = 2;
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let inst = presets::spot_btcusdt();
    let mut codes = Vec::new();
    for i in 0..3 {
        let o = SpotOrder::limit(Side::Buy, q("0.01"), p("50000.00"))
            .time_in_force(TimeInForce::Gtc)
            .client_order_id(ClientOrderId::new(&format!("n-{i}")).unwrap());
        let a = send_signed(
            srv.spot,
            &spot::new_order(&inst, &o, NumberPolicy::Exact).unwrap(),
            &hmac_creds(),
        )
        .await;
        codes.push((a.status, a.headers.get("x-mbx-order-count-10s").cloned()));
        if a.status == 429 {
            assert_eq!(a.code(), -1015);
            assert!(a.headers.contains_key("retry-after"));
        }
    }
    // A 10 s window boundary may fall between the requests: then all pass.
    let refused = codes.iter().filter(|(s, _)| *s == 429).count();
    assert!(refused <= 1, "{codes:?}");
    if refused == 1 {
        assert_eq!(codes[2].0, 429, "{codes:?}");
        assert_eq!(codes[1].1.as_deref(), Some("2"));
    }
    // exchangeInfo states the configured limits.
    let a = http(srv.spot, "GET", "/api/v3/exchangeInfo", &[], "").await;
    assert_eq!(a.json()["rateLimits"][1]["limit"], 2);
}

#[tokio::test]
async fn spot_market_order_by_quote_amount() {
    use veloz_core::events::{BookSnapshot, EventTimes, Level, MarketEvent};
    use veloz_core::UnixNanos;
    let srv = server().await;
    let inst = presets::spot_btcusdt();
    let l = |px: &str, qty: &str| Level {
        price: p(px),
        qty: q(qty),
    };
    srv.push_market(veloz_simserver::MarketStep {
        time: UnixNanos(1),
        product: MarketKind::Spot,
        frames: vec![],
        events: vec![MarketEvent::BookSnapshot(BookSnapshot {
            instrument: inst.id,
            last_update_id: 1,
            bids: vec![l("59990.00", "1.00000")],
            asks: vec![l("60000.00", "0.01000"), l("60010.00", "1.00000")],
            times: EventTimes::new(UnixNanos::from_millis(1), UnixNanos::from_millis(1)),
        })],
    })
    .await
    .unwrap();
    let o = SpotOrder::market_quote(Side::Buy, p("1000"));
    let a = send_signed(
        srv.spot,
        &spot::new_order(&inst, &o, NumberPolicy::Exact).unwrap(),
        &hmac_creds(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r: SpotOrderReport = serde_json::from_str(&a.body).unwrap();
    // 600 USDT buys 0.01 at 60000; 400 more buy 0.00666 at 60010 (step 0.00001).
    assert_eq!(r.executed_qty, Some(q("0.01666")));
    assert_eq!(r.status, Some(OrderStatus::Filled));
    assert_eq!(r.fills.len(), 2);
    assert_eq!(
        r.orig_quote_order_qty.map(|a| a.0),
        Some(1000 * 100_000_000)
    );
}
