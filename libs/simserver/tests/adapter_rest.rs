//! Our REST client (`veloz_exec::binance::transport::http::RestClient`)
//! against the simulator's REST faults: an order executed but answered 503
//! (or never answered) comes back as an unknown outcome, is not resent, and
//! the order is found by querying; a 429 storm blocks the client-side limiter
//! until `Retry-After`, then the request goes; a skewed server clock gives
//! `-1021`, and after `sync_time` the request is accepted.
//!
//! Waits are bounded; nothing asserts on speed.

mod common;

use std::time::Duration;

use common::*;
use veloz_core::{ClientOrderId, MarketKind, Price, Quantity, Side};
use veloz_exec::binance::error::BinanceError;
use veloz_exec::binance::error::{RetryClass, UnknownCause};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::responses::{DepthSnapshot, FuturesOrderReport};
use veloz_exec::binance::rest::types::{OrderStatus, TimeInForce};
use veloz_exec::binance::rest::{OrderRef, RestRequest};
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;
use veloz_sim::presets;
use veloz_sim::synth::SynthConfig;
use veloz_simserver::{FaultKind, FaultRule, MarketConfig, ServerHandle};

async fn synthetic_server() -> ServerHandle {
    let mut cfg = config();
    cfg.market = MarketConfig::Synthetic {
        synth: SynthConfig::default(),
        speed: 0,
    };
    veloz_simserver::start(cfg).await.unwrap()
}

/// A GTC buy 2 % under the best bid (rests on the book).
async fn resting_buy(rest: &RestClient, cid: &str) -> RestRequest {
    let inst = presets::usdm_btcusdt();
    let depth = FuturesApi::USDM.depth(&inst.id.symbol, Some(5)).unwrap();
    let snap: DepthSnapshot = rest.send_json(&depth).await.unwrap();
    let bid = snap.bids.first().expect("the synthetic book has bids").0;
    let price = Price::from_raw(bid.raw() / 100 * 98, bid.precision());
    let o = FuturesOrder::limit(Side::Buy, Quantity::parse("0.010").unwrap(), price)
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(ClientOrderId::new(cid).unwrap());
    FuturesApi::USDM
        .new_order(&inst, &o, NumberPolicy::Snap)
        .unwrap()
}

async fn open_orders(rest: &RestClient) -> Vec<FuturesOrderReport> {
    let q = FuturesApi::USDM.open_orders(Some(&presets::usdm_btcusdt().id.symbol));
    rest.send_json(&q).await.unwrap()
}

fn market_buy(cid: &str) -> RestRequest {
    let o = FuturesOrder::market(Side::Buy, Quantity::parse("0.010").unwrap())
        .client_order_id(ClientOrderId::new(cid).unwrap());
    FuturesApi::USDM
        .new_order(&presets::usdm_btcusdt(), &o, NumberPolicy::Exact)
        .unwrap()
}

async fn query(rest: &RestClient, cid: &str) -> FuturesOrderReport {
    let q = FuturesApi::USDM.query_order(
        &presets::usdm_btcusdt().id.symbol,
        OrderRef::Client(ClientOrderId::new(cid).unwrap()),
    );
    rest.send_json(&q).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcomes_are_reported_not_retried_and_the_order_is_found() {
    let srv = synthetic_server().await;
    let rest = RestClient::new(&srv.endpoints(), Some(hmac_creds()), Duration::from_secs(2));

    // Executed, then answered 503 -1006.
    srv.inject(
        FaultRule::new(FaultKind::OrderUnknownOutcome)
            .product(MarketKind::UsdM)
            .path("order"),
    )
    .await
    .unwrap();
    let e = rest
        .send(&resting_buy(&rest, "unknown-1").await)
        .await
        .unwrap_err();
    assert!(e.is_unknown_outcome(), "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Unknown);
    assert_eq!(e.code(), Some(-1006));
    // The order was executed and not resent by the client: exactly one.
    let o = query(&rest, "unknown-1").await;
    assert_eq!(o.status, OrderStatus::New);
    assert_eq!(open_orders(&rest).await.len(), 1);
    assert_eq!(srv.fault_count(FaultKind::OrderUnknownOutcome), 1);

    // Executed, then no answer: our request timeout makes it unknown.
    srv.inject(
        FaultRule::new(FaultKind::OrderUnknownOutcome)
            .product(MarketKind::UsdM)
            .path("order")
            .timeout(true)
            .delay_ms(60_000),
    )
    .await
    .unwrap();
    let e = rest
        .send(&resting_buy(&rest, "unknown-2").await)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            BinanceError::Unknown {
                cause: UnknownCause::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_unknown_outcome());
    // The timed-out connection was dropped, not reused: the next requests work.
    let o = query(&rest, "unknown-2").await;
    assert_eq!(o.status, OrderStatus::New);
    assert_eq!(open_orders(&rest).await.len(), 2);
    assert_eq!(srv.fault_count(FaultKind::OrderUnknownOutcome), 2);
    // A market order with no fault: filled, answered.
    let placed: FuturesOrderReport = rest.send_json(&market_buy("known-3")).await.unwrap();
    assert_eq!(placed.client_order_id, "known-3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_blocks_the_limiter_until_retry_after_then_the_request_goes() {
    let srv = synthetic_server().await;
    let rest = RestClient::new(&srv.endpoints(), Some(hmac_creds()), Duration::from_secs(5));
    srv.inject(
        FaultRule::new(FaultKind::RateLimitStorm)
            .product(MarketKind::UsdM)
            .path("time"),
    )
    .await
    .unwrap();
    let e = rest.sync_time(MarketKind::UsdM).await.unwrap_err();
    assert!(
        matches!(
            e.retry_class(),
            RetryClass::RetryAfter { after: Some(_), .. }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), Some(-1003));
    let blocked = rest
        .with_rate_limiter(|l| l.blocked_until(local_now()))
        .unwrap();
    assert!(blocked.is_some(), "the limiter took the Retry-After");
    // The next request waits for the block to end, then succeeds.
    rest.sync_time(MarketKind::UsdM).await.unwrap();
    assert_eq!(srv.fault_count(FaultKind::RateLimitStorm), 1);
    assert!(rest
        .with_rate_limiter(|l| l.blocked_until(local_now()))
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_gives_1021_and_sync_time_fixes_it() {
    let srv = synthetic_server().await;
    let rest = RestClient::new(&srv.endpoints(), Some(hmac_creds()), Duration::from_secs(5))
        .with_recv_window_ms(5_000);
    // The server's clock runs 20 s ahead of ours.
    srv.inject(
        FaultRule::new(FaultKind::ClockSkew)
            .product(MarketKind::UsdM)
            .skew_ms(20_000),
    )
    .await
    .unwrap();
    let e = rest.send(&market_buy("skew-1")).await.unwrap_err();
    assert_eq!(e.retry_class(), RetryClass::ClockSkew, "{e:?}");
    assert_eq!(e.code(), Some(-1021));
    assert!(e.is_definite_failure(), "{e:?}");
    assert!(rest.time_sync().unwrap().offset_nanos().is_none());
    // Measure the server clock, then the same order is accepted.
    let offset = rest.sync_time(MarketKind::UsdM).await.unwrap();
    assert!(
        (15_000_000_000..25_000_000_000).contains(&offset),
        "offset {offset} ns"
    );
    let placed: FuturesOrderReport = rest.send_json(&market_buy("skew-1")).await.unwrap();
    assert_eq!(placed.client_order_id, "skew-1");
    srv.clear_faults();
}
