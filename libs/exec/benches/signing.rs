//! Binance request-signing benchmarks.
//!
//! * `sign_payload/*`: the signature alone over a typical USD-M limit-order
//!   payload (176 bytes: the documented example plus a client order id),
//!   HMAC-SHA256 (hex) and Ed25519 (base64). Target: HMAC at most 500 ns median.
//! * `sign_request/*`: the whole [`RestRequest::sign`] of the same order:
//!   form-encoding query and body, appending `recvWindow`/`timestamp`,
//!   signing, appending the signature.
//!
//! Keys are Binance's published documentation example keys.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use veloz_core::{ClientOrderId, MarketKind, Price, Quantity, Side};
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::signing::Signer;

const HMAC_SECRET: &str = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n-----END PRIVATE KEY-----\n";
const PAYLOAD: &str = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=60000.1&newClientOrderId=grid.lz2k3m4n.1a&newOrderRespType=RESULT&recvWindow=5000&timestamp=1591702613943";

fn instrument() -> veloz_core::Instrument {
    let p = |s: &str| Price::parse(s).unwrap();
    let q = |s: &str| Quantity::parse(s).unwrap();
    veloz_core::Instrument {
        id: veloz_core::InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
        contract: veloz_core::ContractKind::LinearPerpetual,
        base: veloz_core::Currency::new("BTC").unwrap(),
        quote: veloz_core::Currency::new("USDT").unwrap(),
        margin_asset: veloz_core::Currency::new("USDT").unwrap(),
        price_precision: 2,
        qty_precision: 3,
        tick_size: p("0.10"),
        min_price: p("402"),
        max_price: p("1246396.60"),
        lot: veloz_core::LotLimits {
            min_qty: q("0.001"),
            max_qty: q("1000"),
            step: q("0.001"),
        },
        market_lot: None,
        min_notional: Some(p("10")),
        max_notional: None,
        min_notional_applies_to_market: true,
        percent_band: None,
        maker_fee: Price::ZERO,
        taker_fee: Price::ZERO,
    }
}

fn bench_signing(c: &mut Criterion) {
    let hmac = Signer::hmac(HMAC_SECRET.as_bytes()).unwrap();
    let ed = Signer::ed25519_pem(ED25519_PEM).unwrap();
    let mut g = c.benchmark_group("sign_payload");
    let mut out = String::with_capacity(128);
    g.bench_function("hmac_sha256_hex", |b| {
        b.iter(|| {
            out.clear();
            hmac.sign_into(black_box(PAYLOAD.as_bytes()), &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("ed25519_base64", |b| {
        b.iter(|| {
            out.clear();
            ed.sign_into(black_box(PAYLOAD.as_bytes()), &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    g.finish();

    let inst = instrument();
    let order = FuturesApi::USDM
        .new_order(
            &inst,
            &FuturesOrder::limit(
                Side::Buy,
                Quantity::parse("0.010").unwrap(),
                Price::parse("60000.1").unwrap(),
            )
            .client_order_id(ClientOrderId::new("grid.lz2k3m4n.1a").unwrap()),
            NumberPolicy::Exact,
        )
        .unwrap();
    let hmac_creds = Credentials::hmac("api-key", HMAC_SECRET).unwrap();
    let ed_creds = Credentials::ed25519_pem("api-key", ED25519_PEM).unwrap();
    let mut g = c.benchmark_group("sign_request");
    g.bench_function("hmac_sha256", |b| {
        b.iter(|| {
            black_box(
                order
                    .sign(Some(&hmac_creds), black_box(1591702613943), Some(5000))
                    .unwrap(),
            )
        })
    });
    g.bench_function("ed25519", |b| {
        b.iter(|| {
            black_box(
                order
                    .sign(Some(&ed_creds), black_box(1591702613943), Some(5000))
                    .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_signing);
criterion_main!(benches);
