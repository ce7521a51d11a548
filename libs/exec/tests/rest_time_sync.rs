//! A `-1021` is recovered by resynchronising, not by failing: a local clock
//! that is off makes Binance refuse the timestamp; the error is classified as
//! clock skew, [`TimeSync`] asks for the server time, and the same request,
//! rebuilt with a fresh timestamp, passes Binance's `recvWindow` rule.
//!
//! The "server" here is Binance's documented timing rule
//! ([`recv_window_accepts`]) applied to the exact bytes our builder produced.

use veloz_core::{MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::error::{BinanceError, RetryClass};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::responses::ServerTime;
use veloz_exec::binance::rest::SignedRequest;
use veloz_exec::binance::signing::{recv_window_accepts, TimeSample, TimeSync};

const RECV_WINDOW: u32 = 5_000;

/// A fake Binance whose clock is `skew_ms` ahead of ours.
struct Server {
    skew_ms: i64,
}

impl Server {
    fn now_ms(&self, local: UnixNanos) -> u64 {
        (local.as_millis() as i64 + self.skew_ms) as u64
    }

    /// Answers a signed request: 200, or 400 with -1021, per the docs' rule.
    fn answer(&self, req: &SignedRequest, local: UnixNanos) -> (u16, String) {
        let params = if req.body.is_empty() {
            &req.query
        } else {
            &req.body
        };
        let ts: u64 = params
            .split('&')
            .find_map(|kv| kv.strip_prefix("timestamp="))
            .unwrap()
            .parse()
            .unwrap();
        let rw: u32 = params
            .split('&')
            .find_map(|kv| kv.strip_prefix("recvWindow="))
            .unwrap()
            .parse()
            .unwrap();
        if recv_window_accepts(ts, self.now_ms(local), rw) {
            (200, r#"{"orderId":1}"#.into())
        } else {
            (
                400,
                r#"{"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the server's time."}"#.into(),
            )
        }
    }
}

fn recover(skew_ms: i64) {
    let server = Server { skew_ms };
    let creds = Credentials::hmac("api", "secret").unwrap();
    let api = FuturesApi::USDM;
    let inst = veloz_core::Instrument {
        id: veloz_core::InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
        contract: veloz_core::ContractKind::LinearPerpetual,
        base: veloz_core::Currency::new("BTC").unwrap(),
        quote: veloz_core::Currency::new("USDT").unwrap(),
        margin_asset: veloz_core::Currency::new("USDT").unwrap(),
        price_precision: 2,
        qty_precision: 3,
        tick_size: Price::parse("0.10").unwrap(),
        min_price: Price::parse("402").unwrap(),
        max_price: Price::parse("1000000").unwrap(),
        lot: veloz_core::LotLimits {
            min_qty: Quantity::parse("0.001").unwrap(),
            max_qty: Quantity::parse("1000").unwrap(),
            step: Quantity::parse("0.001").unwrap(),
        },
        market_lot: None,
        min_notional: Some(Price::parse("5").unwrap()),
        max_notional: None,
        min_notional_applies_to_market: true,
        percent_band: None,
        maker_fee: Price::ZERO,
        taker_fee: Price::ZERO,
    };
    let order = api
        .new_order(
            &inst,
            &FuturesOrder::limit(
                Side::Buy,
                Quantity::parse("0.010").unwrap(),
                Price::parse("60000").unwrap(),
            ),
            NumberPolicy::Exact,
        )
        .unwrap();

    let mut sync = TimeSync::new();
    let mut local = UnixNanos::from_millis(1_722_000_000_000);

    // First try with the raw local clock: refused.
    let first = order
        .sign(Some(&creds), sync.timestamp_ms(local), Some(RECV_WINDOW))
        .unwrap();
    let (status, body) = server.answer(&first, local);
    let err = BinanceError::check_response(status, &[], body.as_bytes()).unwrap_err();
    assert_eq!(err.retry_class(), RetryClass::ClockSkew, "{err}");
    assert!(err.to_string().contains("resynchronise"), "{err}");
    assert!(err.is_definite_failure(), "-1021: nothing was executed");
    assert!(sync.on_error(&err), "clock skew marks the offset stale");
    assert!(sync.needs_sync(local));

    // Resynchronise: GET /fapi/v1/time with a 30 ms round trip.
    let time_req = api.server_time().sign(None, 0, None).unwrap();
    assert_eq!(time_req.path_and_query(), "/fapi/v1/time");
    let sent = local;
    let server_ms = server.now_ms(sent.add_nanos(15_000_000));
    let received = sent.add_nanos(30_000_000);
    let answer: ServerTime =
        serde_json::from_str(&format!(r#"{{"serverTime":{server_ms}}}"#)).unwrap();
    sync.record(TimeSample {
        sent,
        server_time_ms: answer.server_time,
        received,
    })
    .unwrap();
    assert!(!sync.needs_sync(received));
    let off_ms = sync.offset_nanos().unwrap() / 1_000_000;
    assert!(
        (off_ms - skew_ms).abs() <= 1,
        "offset {off_ms} vs skew {skew_ms}"
    );

    // Resend the same request with a fresh timestamp: accepted.
    local = received.add_nanos(5_000_000);
    let second = order
        .sign(Some(&creds), sync.timestamp_ms(local), Some(RECV_WINDOW))
        .unwrap();
    assert_eq!(server.answer(&second, local).0, 200);
    // Only timestamp and signature changed.
    let strip = |r: &SignedRequest| {
        r.body
            .split('&')
            .filter(|kv| !kv.starts_with("timestamp=") && !kv.starts_with("signature="))
            .collect::<Vec<_>>()
            .join("&")
    };
    assert_eq!(strip(&first), strip(&second));
    assert_ne!(first.body, second.body);

    // A later unrelated error does not disturb the offset.
    let other = BinanceError::check_response(
        400,
        &[],
        br#"{"code":-2019,"msg":"Margin is insufficient."}"#,
    )
    .unwrap_err();
    assert!(!sync.on_error(&other));
    assert!(!sync.needs_sync(local));
}

#[test]
fn local_clock_ahead_is_recovered() {
    // Our clock 2.5 s ahead of Binance: timestamp >= serverTime + 1000.
    recover(-2_500);
}

#[test]
fn local_clock_behind_is_recovered() {
    // Our clock 8 s behind: serverTime - timestamp > recvWindow.
    recover(8_000);
}
