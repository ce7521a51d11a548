//! `GET …/exchangeInfo` of the simulated instruments, written so that our own
//! parser (`veloz_exec::binance::rest::exchange_info`) turns it back into the
//! same `Instrument`s (fees aside: Binance does not publish them there).
//! Precisions are the instrument's (Binance's spot `baseAssetPrecision` and
//! `quoteAssetPrecision` are 8; the simulator states the traded precision).

use serde_json::{json, Value};
use veloz_core::{ContractKind, Instrument, MarketKind};

use crate::wire::{px, qty};

fn symbol(inst: &Instrument) -> Value {
    let kind = inst.id.kind;
    let mut filters = vec![
        json!({"filterType": "PRICE_FILTER", "minPrice": px(inst, inst.min_price), "maxPrice": px(inst, inst.max_price), "tickSize": px(inst, inst.tick_size)}),
        json!({"filterType": "LOT_SIZE", "minQty": qty(inst, inst.lot.min_qty), "maxQty": qty(inst, inst.lot.max_qty), "stepSize": qty(inst, inst.lot.step)}),
    ];
    if let Some(l) = inst.market_lot {
        filters.push(json!({"filterType": "MARKET_LOT_SIZE", "minQty": qty(inst, l.min_qty), "maxQty": qty(inst, l.max_qty), "stepSize": qty(inst, l.step)}));
    }
    if let Some(b) = inst.percent_band {
        if kind.is_futures() {
            filters.push(json!({"filterType": "PERCENT_PRICE", "multiplierUp": b.up.to_string(), "multiplierDown": b.down.to_string(), "multiplierDecimal": "4"}));
        } else {
            filters.push(json!({"filterType": "PERCENT_PRICE", "multiplierUp": b.up.to_string(), "multiplierDown": b.down.to_string(), "avgPriceMins": 5}));
        }
    }
    if kind.is_futures() {
        if let Some(n) = inst.min_notional {
            filters.push(json!({"filterType": "MIN_NOTIONAL", "notional": n.to_string()}));
        }
    } else if let Some(n) = inst.min_notional {
        filters.push(json!({
            "filterType": "NOTIONAL",
            "minNotional": n.to_string(),
            "applyMinToMarket": inst.min_notional_applies_to_market,
            "maxNotional": inst.max_notional.map_or_else(|| "9000000000.00000000".to_string(), |m| m.to_string()),
            "applyMaxToMarket": false,
            "avgPriceMins": 5,
        }));
    }
    let mut v = json!({
        "symbol": inst.id.symbol.as_str(),
        "baseAsset": inst.base.as_str(),
        "quoteAsset": inst.quote.as_str(),
        "filters": filters,
    });
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    if kind.is_futures() {
        obj.insert(
            "pair".into(),
            json!(format!("{}{}", inst.base.as_str(), inst.quote.as_str())),
        );
        obj.insert("contractType".into(), json!("PERPETUAL"));
        obj.insert("marginAsset".into(), json!(inst.margin_asset.as_str()));
        obj.insert("pricePrecision".into(), json!(inst.price_precision));
        obj.insert("quantityPrecision".into(), json!(inst.qty_precision));
        obj.insert(
            "orderTypes".into(),
            json!([
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET"
            ]),
        );
        obj.insert(
            "timeInForce".into(),
            json!(["GTC", "IOC", "FOK", "GTX", "GTD"]),
        );
        if kind == MarketKind::CoinM {
            obj.insert("contractStatus".into(), json!("TRADING"));
            if let ContractKind::InversePerpetual { contract_size } = inst.contract {
                obj.insert(
                    "contractSize".into(),
                    json!(contract_size.raw() / 100_000_000),
                );
            }
        } else {
            obj.insert("status".into(), json!("TRADING"));
        }
    } else {
        obj.insert("status".into(), json!("TRADING"));
        obj.insert("baseAssetPrecision".into(), json!(inst.qty_precision));
        obj.insert("quoteAssetPrecision".into(), json!(inst.price_precision));
        obj.insert("quotePrecision".into(), json!(inst.price_precision));
        obj.insert(
            "orderTypes".into(),
            json!([
                "LIMIT",
                "LIMIT_MAKER",
                "MARKET",
                "STOP_LOSS",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT",
                "TAKE_PROFIT_LIMIT"
            ]),
        );
        obj.insert("icebergAllowed".into(), json!(false));
        obj.insert("ocoAllowed".into(), json!(false));
        obj.insert("quoteOrderQtyMarketAllowed".into(), json!(false));
        obj.insert("isSpotTradingAllowed".into(), json!(true));
        obj.insert("permissions".into(), json!(["SPOT"]));
    }
    v
}

/// The exchangeInfo body of `product`.
pub fn exchange_info(
    product: MarketKind,
    instruments: &[Instrument],
    limits: &crate::config::RateLimitConfig,
    now_ms: u64,
) -> Value {
    let limits = json!([
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limits.weight_per_minute},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": limits.orders_per_10s},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": limits.orders_per_day},
    ]);
    let mut v = json!({
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": limits,
        "exchangeFilters": [],
        "symbols": instruments.iter().map(symbol).collect::<Vec<_>>(),
    });
    if product.is_futures() {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("assets".into(), json!([]));
        }
    }
    v
}
