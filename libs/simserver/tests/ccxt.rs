//! Every order ccxt sends to spot `/api/v3/order`, USD-M `/fapi/v1/order`
//! and COIN-M `/dapi/v1/order` (the recorded requests of
//! `shared/fixtures/binance/ccxt/request_binance_subset.json`) is read by the
//! simulator's order parser. Spot `quoteOrderQty` market orders are turned
//! into a quantity from the book by the endpoint before parsing (tested in
//! `rest.rs`); the parser alone refuses them with a clear error.

use serde_json::Value;
use veloz_core::fixtures::fixture;
use veloz_core::MarketKind;
use veloz_sim::presets;
use veloz_simserver::params::Params;
use veloz_simserver::rest::parse_order;

#[test]
fn ccxt_orders_parse() {
    let path = fixture("binance/ccxt/request_binance_subset.json").expect("ccxt request fixture");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    let mut refused = Vec::new();
    for (method, list) in d["methods"].as_object().unwrap() {
        for e in list.as_array().unwrap() {
            let url = e["url"].as_str().unwrap();
            let (product, inst) = if url.contains("/api/v3/order") && !url.contains("cancelReplace")
            {
                (MarketKind::Spot, presets::spot_btcusdt())
            } else if url.ends_with("/fapi/v1/order") && method.starts_with("create") {
                (MarketKind::UsdM, presets::usdm_btcusdt())
            } else if url.ends_with("/dapi/v1/order") && method.starts_with("create") {
                (MarketKind::CoinM, presets::coinm_btcusd_perp())
            } else {
                continue;
            };
            let Some(out) = e["output"].as_str() else {
                continue;
            };
            let p = Params::parse("", out).unwrap();
            match parse_order(product, &inst, &p) {
                Ok((o, _)) => {
                    assert_eq!(o.instrument, inst.id);
                    checked += 1;
                }
                Err(err) => refused.push((
                    e["description"].as_str().unwrap_or("").to_string(),
                    err.code,
                    err.msg,
                )),
            }
        }
    }
    assert!(checked >= 12, "only {checked} orders checked");
    // quoteOrderQty market orders are the documented exception.
    for (desc, code, msg) in &refused {
        assert_eq!(*code, -1106, "{desc}: {code} {msg}");
        assert!(msg.contains("quoteOrderQty"), "{desc}: {msg}");
    }
    assert!(!refused.is_empty());
}
