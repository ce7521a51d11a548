//! The REST API of one product port: Binance's paths under `/api/v3` (spot),
//! `/fapi` (USD-M) and `/dapi` (COIN-M), with authentication, rate limits,
//! headers and error bodies as Binance sends them.
//!
//! One handler takes every REST request: it finds the endpoint (weight,
//! security), charges the limiter, authenticates, decodes the parameters,
//! then runs the endpoint as a job on the engine.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use veloz_core::events::SubmitOrder;
use veloz_core::{
    ClientOrderId, MarketKind, OrderFlags, OrderType, PositionSide, Price, Quantity, Side,
    StrategyId, TimeInForce, TriggerPriceType, VenueOrderId,
};
use veloz_sim::{AccountId, OrderRef, SimReport, StpMode};

use crate::auth::Keyring;
use crate::engine::{now_ms, now_nanos, Engine, EngineHandle, ListenKey, OrderHistory};
use crate::error::ApiError;
use crate::faults::{self, FaultKind, Target};
use crate::limits::{RateLimiter, Usage};
use crate::params::Params;
use crate::wire;

/// Shared state of one product port.
#[derive(Debug, Clone)]
pub struct PortState {
    /// Spot, USD-M or COIN-M.
    pub product: MarketKind,
    /// The engine.
    pub engine: EngineHandle,
    /// Keys.
    pub keys: Arc<Keyring>,
    /// Rate limiter of this port.
    pub limiter: Arc<RateLimiter>,
    /// Serve the retired spot listenKey endpoints.
    pub spot_listen_key: bool,
    /// Capacity of subscriber queues.
    pub queue: usize,
    /// Fault rules (shared with the engine and the admin endpoint).
    pub faults: crate::faults::SharedFaults,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sec {
    None,
    Key,
    Signed,
}

/// Endpoint name (path without the product prefix and version) and method.
fn route(product: MarketKind, path: &str) -> Option<&str> {
    match product {
        MarketKind::Spot => path.strip_prefix("/api/v3/"),
        MarketKind::UsdM => path
            .strip_prefix("/fapi/v1/")
            .or_else(|| path.strip_prefix("/fapi/v2/"))
            .or_else(|| path.strip_prefix("/fapi/v3/")),
        _ => path.strip_prefix("/dapi/v1/"),
    }
}

fn spec(product: MarketKind, method: &Method, name: &str) -> Option<(u32, Sec, bool)> {
    let futures = product.is_futures();
    let m = method.as_str();
    // (weight, security, counts as an order)
    Some(match (m, name) {
        ("GET", "ping") => (1, Sec::None, false),
        ("GET", "time") => (1, Sec::None, false),
        ("GET", "exchangeInfo") => (if futures { 1 } else { 20 }, Sec::None, false),
        ("GET", "depth") => (if futures { 10 } else { 25 }, Sec::None, false),
        ("GET", "trades") => (if futures { 5 } else { 25 }, Sec::None, false),
        ("GET", "klines") => (if futures { 5 } else { 2 }, Sec::None, false),
        ("GET", "ticker/bookTicker") => (if futures { 2 } else { 4 }, Sec::None, false),
        ("GET", "ticker/price") => (if futures { 1 } else { 4 }, Sec::None, false),
        ("GET", "premiumIndex") if futures => (1, Sec::None, false),
        ("POST", "order") => (if futures { 0 } else { 1 }, Sec::Signed, true),
        ("POST", "order/test") => (1, Sec::Signed, false),
        ("GET", "order") => (if futures { 1 } else { 4 }, Sec::Signed, false),
        ("DELETE", "order") => (1, Sec::Signed, false),
        ("PUT", "order") if futures => (1, Sec::Signed, false),
        ("GET", "openOrders") => (if futures { 1 } else { 6 }, Sec::Signed, false),
        ("DELETE", "openOrders") if !futures => (1, Sec::Signed, false),
        ("DELETE", "allOpenOrders") if futures => (1, Sec::Signed, false),
        ("GET", "account") => (if futures { 5 } else { 20 }, Sec::Signed, false),
        ("GET", "balance") if futures => (5, Sec::Signed, false),
        ("GET", "positionRisk") if futures => (5, Sec::Signed, false),
        ("POST", "leverage") if futures => (1, Sec::Signed, false),
        ("POST", "marginType") if futures => (1, Sec::Signed, false),
        ("POST", "positionSide/dual") if futures => (1, Sec::Signed, false),
        ("GET", "positionSide/dual") if futures => (30, Sec::Signed, false),
        ("POST", "countdownCancelAll") if futures => (10, Sec::Signed, false),
        ("POST", "batchOrders") if futures => (5, Sec::Signed, true),
        ("DELETE", "batchOrders") if futures => (1, Sec::Signed, false),
        ("POST", "order/cancelReplace") if !futures => (1, Sec::Signed, true),
        ("GET", "myTrades") if !futures => (20, Sec::Signed, false),
        ("GET", "userTrades") if futures => (5, Sec::Signed, false),
        ("GET", "allOrders") => (if futures { 5 } else { 20 }, Sec::Signed, false),
        ("POST" | "PUT" | "DELETE", "listenKey") if futures => (1, Sec::Key, false),
        ("POST" | "PUT" | "DELETE", "userDataStream") if !futures => (2, Sec::Key, false),
        _ => return None,
    })
}

fn respond(status: u16, body: String, usage: Option<Usage>, retry_after: Option<u64>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    if let Some(u) = usage {
        for (k, v) in u.headers() {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
    }
    if let Some(s) = retry_after {
        h.insert("Retry-After", HeaderValue::from(s));
    }
    r
}

fn error_response(e: &ApiError, usage: Option<Usage>) -> Response {
    respond(e.status, e.body(), usage, e.retry_after)
}

/// The handler of every REST path of a port.
pub async fn handle(
    State(st): State<PortState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = uri.path();
    let Some(name) = route(st.product, path) else {
        return not_found(path);
    };
    let Some((weight, sec, is_order)) = spec(st.product, &method, name) else {
        return not_found(path);
    };
    if name == "userDataStream" && !st.spot_listen_key {
        return not_found(path);
    }
    let target = Target::path(st.product, path);
    if let Some(r) = faults::fire(&st.faults, FaultKind::RateLimitStorm, &target) {
        let e = ApiError::new(
            429,
            -1003,
            "Too many requests; the simulator is injecting a 429 storm (fault injection). Back off for Retry-After seconds.",
        );
        return respond(429, e.body(), None, Some(r.retry_after_secs));
    }
    let skew = faults::fire(&st.faults, FaultKind::ClockSkew, &target).map_or(0, |r| r.skew_ms);
    let now = now_ms();
    // The server's clock as the client sees it (clock_skew shifts it).
    let server_now = now.saturating_add_signed(skew);
    if skew != 0 && name == "time" {
        return respond(
            200,
            json!({"serverTime": server_now}).to_string(),
            None,
            None,
        );
    }
    let mut usage = match st.limiter.charge(peer.ip(), weight, now) {
        Ok(u) => u,
        Err(e) => return error_response(&e, None),
    };
    let query = uri.query().unwrap_or("");
    let params = match Params::parse(query, &body) {
        Ok(p) => p,
        Err(e) => return error_response(&e, Some(usage)),
    };
    let api_key = headers.get("X-MBX-APIKEY").and_then(|v| v.to_str().ok());
    let account = match sec {
        Sec::None => None,
        Sec::Key => match st.keys.lookup(api_key) {
            Ok(k) => Some(k.account),
            Err(e) => return error_response(&e, Some(usage)),
        },
        Sec::Signed => match st
            .keys
            .verify_signed(api_key, query, &body, &params, server_now)
        {
            Ok(k) => Some(k.account),
            Err(e) => return error_response(&e, Some(usage)),
        },
    };
    if is_order {
        if let Some(a) = account {
            if let Err(e) = st.limiter.charge_order(a, &mut usage, now) {
                return error_response(&e, Some(usage));
            }
        }
    }
    let product = st.product;
    let m = method.clone();
    let n = name.to_string();
    let r = st
        .engine
        .call(move |e| endpoint(e, product, &m, &n, &params, account))
        .await
        .and_then(|r| r);
    if is_order && r.is_ok() {
        if let Some(rule) = faults::fire(&st.faults, FaultKind::OrderUnknownOutcome, &target) {
            // The order was executed; the client is not told.
            if rule.timeout {
                let ms = if rule.delay_ms == 0 {
                    60_000
                } else {
                    rule.delay_ms
                };
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                let e = ApiError::new(
                    503,
                    -1007,
                    "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
                );
                return error_response(&e, Some(usage));
            }
            let e = ApiError::new(
                503,
                -1006,
                "An unexpected response was received from the message bus. Execution status unknown.",
            );
            return error_response(&e, Some(usage));
        }
    }
    match r {
        Ok(v) => respond(200, v.to_string(), Some(usage), None),
        Err(e) => error_response(&e, Some(usage)),
    }
}

fn not_found(path: &str) -> Response {
    respond(
        404,
        json!({"code": -1000, "msg": format!("The simulator does not serve {path}; see docs/SIMULATOR.md for the endpoints it serves.")}).to_string(),
        None,
        None,
    )
}

fn need_account(a: Option<AccountId>) -> Result<AccountId, ApiError> {
    a.ok_or_else(ApiError::bad_key_format)
}

pub(crate) fn endpoint(
    e: &mut Engine,
    product: MarketKind,
    method: &Method,
    name: &str,
    p: &Params,
    account: Option<AccountId>,
) -> Result<Value, ApiError> {
    let now = now_ms();
    match (method.as_str(), name) {
        ("GET", "ping") => Ok(json!({})),
        ("GET", "time") => Ok(json!({"serverTime": now})),
        ("GET", "exchangeInfo") => Ok(crate::info::exchange_info(
            product,
            &e.instruments_of(product),
            &e.rate_limits,
            now,
        )),
        ("GET", "depth") => {
            let inst = e.instrument(product, p.req("symbol")?)?;
            let limit = p
                .opt("limit", |v| v.parse::<usize>().ok())?
                .unwrap_or(100)
                .clamp(1, 5000);
            let book = e.depth_book(inst.id);
            Ok(wire::depth(&inst, book, limit, now))
        }
        ("GET", "ticker/bookTicker") | ("GET", "ticker/price") | ("GET", "premiumIndex") => {
            let insts = match p.get("symbol") {
                Some(s) => vec![e.instrument(product, s)?],
                None => e.instruments_of(product),
            };
            let rows: Vec<Value> = insts
                .iter()
                .map(|inst| match name {
                    "ticker/bookTicker" => {
                        let (b, a) = e.depth_book(inst.id).map_or((None, None), |b| (b.best_bid(), b.best_ask()));
                        let lv = |l: Option<veloz_core::events::Level>| {
                            l.map_or_else(
                                || (wire::px_or_zero(inst, None), wire::qty(inst, Quantity::from_raw(0, inst.qty_precision))),
                                |l| (wire::px(inst, l.price), wire::qty(inst, l.qty)),
                            )
                        };
                        let ((bp, bq), (ap, aq)) = (lv(b), lv(a));
                        let mut v = json!({"symbol": inst.id.symbol.as_str(), "bidPrice": bp, "bidQty": bq, "askPrice": ap, "askQty": aq});
                        if product.is_futures() {
                            if let Some(obj) = v.as_object_mut() {
                                obj.insert("time".into(), json!(now));
                            }
                        }
                        v
                    }
                    "ticker/price" => {
                        let last = e.trades.get(&inst.id).and_then(|t| t.back()).map(|t| t.price);
                        let mut v = json!({"symbol": inst.id.symbol.as_str(), "price": wire::px_or_zero(inst, last)});
                        if product.is_futures() {
                            if let Some(obj) = v.as_object_mut() {
                                obj.insert("time".into(), json!(now));
                            }
                        }
                        v
                    }
                    _ => {
                        let m = e.marks.get(&inst.id);
                        let mark = m.map(|m| m.mark).or_else(|| e.sim.mark_price(inst.id));
                        json!({
                            "symbol": inst.id.symbol.as_str(),
                            "markPrice": wire::px_or_zero(inst, mark),
                            "indexPrice": wire::px_or_zero(inst, m.and_then(|m| m.index).or(mark)),
                            "estimatedSettlePrice": wire::px_or_zero(inst, mark),
                            "lastFundingRate": m.and_then(|m| m.funding_rate).map_or_else(|| "0.00000000".to_string(), |r| r.to_string()),
                            "interestRate": "0.00010000",
                            "nextFundingTime": m.and_then(|m| m.next_funding_time).map_or(0, |t| t.0 / 1_000_000),
                            "time": now,
                        })
                    }
                })
                .collect();
            if p.get("symbol").is_some() {
                Ok(rows.into_iter().next().unwrap_or(Value::Null))
            } else {
                Ok(Value::Array(rows))
            }
        }
        ("GET", "klines") => {
            let inst = e.instrument(product, p.req("symbol")?)?;
            let interval =
                veloz_exec::binance::rest::types::KlineInterval::from_wire(p.req("interval")?)
                    .filter(|i| i.seconds() >= 60)
                    .ok_or_else(|| ApiError::new(400, -1120, "Invalid interval."))?;
            let max = if product.is_futures() { 1500 } else { 1000 };
            let limit = p
                .opt("limit", |v| v.parse::<usize>().ok())?
                .unwrap_or(500)
                .clamp(1, max);
            let start = p.opt("startTime", |v| v.parse::<u64>().ok())?;
            let end = p.opt("endTime", |v| v.parse::<u64>().ok())?;
            let len = u64::from(interval.seconds()) * 1000;
            let mut groups: Vec<crate::engine::MinuteBar> = Vec::new();
            for b in e.bars.get(&inst.id).into_iter().flatten() {
                let open = b.open_ms - b.open_ms % len;
                if start.is_some_and(|s| open + len <= s) || end.is_some_and(|t| open > t) {
                    continue;
                }
                match groups.last_mut() {
                    Some(g) if g.open_ms == open => {
                        g.high = g.high.max(b.high);
                        g.low = g.low.min(b.low);
                        g.close = b.close;
                        g.volume += b.volume;
                        g.quote_volume += b.quote_volume;
                        g.trades += b.trades;
                        g.taker_buy_volume += b.taker_buy_volume;
                        g.taker_buy_quote += b.taker_buy_quote;
                    }
                    _ => groups.push(crate::engine::MinuteBar {
                        open_ms: open,
                        ..*b
                    }),
                }
            }
            let skip = if start.is_some() {
                0
            } else {
                groups.len().saturating_sub(limit)
            };
            Ok(Value::Array(
                groups
                    .iter()
                    .skip(skip)
                    .take(limit)
                    .map(|g| wire::kline(&inst, g, len))
                    .collect(),
            ))
        }
        ("GET", "trades") => {
            let inst = e.instrument(product, p.req("symbol")?)?;
            let limit = p
                .opt("limit", |v| v.parse::<usize>().ok())?
                .unwrap_or(500)
                .clamp(1, 1000);
            let list = e.trades.get(&inst.id);
            let skip = list.map_or(0, |l| l.len().saturating_sub(limit));
            Ok(Value::Array(
                list.into_iter()
                    .flatten()
                    .skip(skip)
                    .map(|t| wire::public_trade(&inst, t))
                    .collect(),
            ))
        }
        ("POST", "order") | ("POST", "order/test") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let quote_qty = quote_order_quantity(e, product, &inst, p)?;
            let with_qty;
            let p = match &quote_qty {
                Some((_, q)) => {
                    with_qty = p.with("quantity", wire::qty(&inst, *q));
                    &with_qty
                }
                None => p,
            };
            let (order, stp) = parse_order(product, &inst, p)?;
            if name == "order/test" {
                return Ok(json!({}));
            }
            let id = e.sim.submit(account, &order, stp, now_nanos())?;
            let reports = e.drain();
            let o = e
                .sim
                .order(inst.id, id)
                .cloned()
                .ok_or_else(|| ApiError::new(400, -2013, "Order does not exist."))?;
            if product.is_futures() {
                Ok(wire::futures_order(&inst, &o))
            } else {
                let fills: Vec<wire::FillLine> = reports
                    .iter()
                    .filter_map(|r| match r {
                        SimReport::Order(or)
                            if or.order.venue_order_id == id && or.account == account =>
                        {
                            r.as_fill().map(|f| wire::FillLine {
                                price: f.price,
                                qty: f.qty,
                                fee: f.fee,
                                trade_id: f.trade_id.0,
                            })
                        }
                        _ => None,
                    })
                    .collect();
                let mut v = wire::spot_order(&inst, &o, Some(&fills), now);
                if let (Some((quote, _)), Some(obj)) = (quote_qty, v.as_object_mut()) {
                    obj.insert("origQuoteOrderQty".into(), json!(quote.to_string()));
                }
                Ok(v)
            }
        }
        ("GET", "order") | ("DELETE", "order") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let r = order_ref(p)?;
            let id = match r {
                OrderRef::Venue(id) => id,
                OrderRef::Client(c) => e
                    .sim
                    .open_order_by_client_id(account, inst.id, c)
                    .map(|o| o.venue_order_id)
                    .ok_or_else(|| ApiError::new(400, -2013, "Order does not exist."))?,
            };
            if method == Method::DELETE {
                e.sim
                    .cancel(account, inst.id, OrderRef::Venue(id), now_nanos())
                    .map_err(|v| {
                        if product.is_futures() {
                            ApiError::new(400, -2011, "Unknown order sent.")
                        } else {
                            ApiError::from(v)
                        }
                    })?;
                e.drain();
            }
            let o = e
                .sim
                .order(inst.id, id)
                .filter(|o| o.account == account)
                .cloned()
                .ok_or_else(|| ApiError::new(400, -2013, "Order does not exist."))?;
            Ok(if product.is_futures() {
                wire::futures_order(&inst, &o)
            } else {
                let mut v = wire::spot_order(&inst, &o, None, now);
                if method == Method::DELETE {
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert(
                            "origClientOrderId".into(),
                            json!(o.client_order_id.as_str()),
                        );
                        obj.insert("transactTime".into(), json!(now));
                    }
                }
                v
            })
        }
        ("GET", "openOrders") => {
            let account = need_account(account)?;
            let insts = match p.get("symbol") {
                Some(s) => vec![e.instrument(product, s)?],
                None => e.instruments_of(product),
            };
            let mut out = Vec::new();
            for inst in insts {
                for o in e.sim.open_orders(account, inst.id) {
                    out.push(if product.is_futures() {
                        wire::futures_order(&inst, o)
                    } else {
                        wire::spot_order(&inst, o, None, now)
                    });
                }
            }
            Ok(Value::Array(out))
        }
        ("DELETE", "openOrders") | ("DELETE", "allOpenOrders") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let open: Vec<_> = e
                .sim
                .open_orders(account, inst.id)
                .into_iter()
                .cloned()
                .collect();
            e.sim.cancel_all(account, inst.id, None, now_nanos())?;
            e.drain();
            if product.is_futures() {
                return Ok(
                    json!({"code": 200, "msg": "The operation of cancel all open order is done."}),
                );
            }
            Ok(Value::Array(
                open.iter()
                    .filter_map(|o| e.sim.order(inst.id, o.venue_order_id))
                    .map(|o| wire::spot_order(&inst, o, None, now))
                    .collect(),
            ))
        }
        ("GET", "account") if !product.is_futures() => {
            let account = need_account(account)?;
            let a = e.sim.account(account).ok_or_else(ApiError::unknown_key)?;
            let balances: Vec<Value> = a
                .spot_balances()
                .map(|(c, b)| {
                    json!({
                        "asset": c.as_str(),
                        "free": veloz_core::Money::from_raw(b.free, c).format_amount(8),
                        "locked": veloz_core::Money::from_raw(b.locked, c).format_amount(8),
                    })
                })
                .collect();
            Ok(json!({
                "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
                "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
                "canTrade": true, "canWithdraw": true, "canDeposit": true, "brokered": false,
                "requireSelfTradePrevention": false, "preventSor": false,
                "updateTime": now, "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"],
                "uid": account.0,
            }))
        }
        ("GET", "account") | ("GET", "balance") => {
            let account = need_account(account)?;
            futures_balances(e, product, account, name == "account", now)
        }
        ("PUT", "order") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let id = resolve(e, account, &inst, order_ref(p)?)?;
            let o = e
                .sim
                .order(inst.id, id)
                .cloned()
                .ok_or_else(|| ApiError::new(400, -2013, "Order does not exist."))?;
            let m = veloz_core::events::ModifyOrder {
                strategy: o.strategy,
                instrument: inst.id,
                client_order_id: o.client_order_id,
                venue_order_id: Some(id),
                quantity: p.opt("quantity", |v| Quantity::parse(v).ok())?,
                price: parse_price(p, "price")?,
                trigger_price: None,
                ts_init: now_nanos(),
            };
            e.sim.modify(account, &m, now_nanos())?;
            e.drain();
            let o = e
                .sim
                .order(inst.id, id)
                .cloned()
                .ok_or_else(|| ApiError::new(400, -2013, "Order does not exist."))?;
            Ok(wire::futures_order(&inst, &o))
        }
        ("POST", "batchOrders") => {
            let list: Vec<serde_json::Map<String, Value>> =
                serde_json::from_str(p.req("batchOrders")?)
                    .map_err(|_| ApiError::malformed("batchOrders"))?;
            if list.is_empty() || list.len() > 5 {
                return Err(ApiError::new(
                    400,
                    -1102,
                    "Param 'batchOrders' must hold 1 to 5 orders.",
                ));
            }
            let mut out = Vec::new();
            for item in list {
                let pairs =
                    Params::from_pairs(item.into_iter().map(|(k, v)| (k, json_str(&v))).collect());
                out.push(
                    match endpoint(e, product, &Method::POST, "order", &pairs, account) {
                        Ok(v) => v,
                        Err(err) => json!({"code": err.code, "msg": err.msg}),
                    },
                );
            }
            Ok(Value::Array(out))
        }
        ("DELETE", "batchOrders") => {
            let symbol = p.req("symbol")?.to_string();
            let ids: Vec<String> = if let Some(v) = p.get("orderIdList") {
                let ids: Vec<u64> =
                    serde_json::from_str(v).map_err(|_| ApiError::malformed("orderIdList"))?;
                ids.iter().map(|i| format!("orderId={i}")).collect()
            } else {
                let ids: Vec<String> = serde_json::from_str(p.req("origClientOrderIdList")?)
                    .map_err(|_| ApiError::malformed("origClientOrderIdList"))?;
                ids.iter()
                    .map(|i| format!("origClientOrderId={i}"))
                    .collect()
            };
            let mut out = Vec::new();
            for id in ids {
                let (k, v) = id.split_once('=').unwrap_or((id.as_str(), ""));
                let pairs = Params::from_pairs(vec![
                    ("symbol".into(), symbol.clone()),
                    (k.into(), v.into()),
                ]);
                out.push(
                    match endpoint(e, product, &Method::DELETE, "order", &pairs, account) {
                        Ok(v) => v,
                        Err(err) => json!({"code": err.code, "msg": err.msg}),
                    },
                );
            }
            Ok(Value::Array(out))
        }
        ("POST", "order/cancelReplace") => {
            let mode = p.req("cancelReplaceMode")?;
            let allow = match mode {
                "STOP_ON_FAILURE" => false,
                "ALLOW_FAILURE" => true,
                _ => return Err(ApiError::malformed("cancelReplaceMode")),
            };
            let mut cancel = vec![("symbol".to_string(), p.req("symbol")?.to_string())];
            if let Some(v) = p.get("cancelOrderId") {
                cancel.push(("orderId".into(), v.into()));
            }
            if let Some(v) = p.get("cancelOrigClientOrderId") {
                cancel.push(("origClientOrderId".into(), v.into()));
            }
            let cancel = Params::from_pairs(cancel);
            let c = endpoint(e, product, &Method::DELETE, "order", &cancel, account);
            let err = |x: &ApiError| json!({"code": x.code, "msg": x.msg});
            match c {
                Err(ce) if !allow => {
                    let mut out = ApiError::new(400, -2022, "Order cancel-replace failed.");
                    out.data = Some(
                        json!({"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED", "cancelResponse": err(&ce), "newOrderResponse": null}),
                    );
                    Err(out)
                }
                c => {
                    let n = endpoint(e, product, &Method::POST, "order", p, account);
                    let ok = c.is_ok() && n.is_ok();
                    let body = json!({
                        "cancelResult": if c.is_ok() { "SUCCESS" } else { "FAILURE" },
                        "newOrderResult": if n.is_ok() { "SUCCESS" } else { "FAILURE" },
                        "cancelResponse": c.as_ref().map_or_else(err, Clone::clone),
                        "newOrderResponse": n.as_ref().map_or_else(err, Clone::clone),
                    });
                    if ok {
                        Ok(body)
                    } else {
                        let code = if c.is_ok() || n.is_ok() { -2021 } else { -2022 };
                        let status = if code == -2021 { 409 } else { 400 };
                        let mut out =
                            ApiError::new(status, code, "Order cancel-replace partially failed.");
                        out.data = Some(body);
                        Err(out)
                    }
                }
            }
        }
        ("GET", "myTrades") | ("GET", "userTrades") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let limit = p
                .opt("limit", |v| v.parse::<usize>().ok())?
                .unwrap_or(500)
                .clamp(1, 1000);
            let order = p.opt("orderId", |v| v.parse::<u64>().ok())?;
            let from = p.opt("fromId", |v| v.parse::<u64>().ok())?;
            let rows: Vec<Value> = e
                .fills
                .get(&account)
                .into_iter()
                .flatten()
                .filter(|f| f.instrument == inst.id)
                .filter(|f| order.is_none_or(|o| f.order_id.0 == o))
                .filter(|f| from.is_none_or(|id| f.fill.trade_id.0 >= id))
                .take(limit)
                .map(|f| wire::account_trade(&inst, f))
                .collect();
            Ok(Value::Array(rows))
        }
        ("GET", "allOrders") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let limit = p
                .opt("limit", |v| v.parse::<usize>().ok())?
                .unwrap_or(500)
                .clamp(1, 1000);
            let from = p.opt("orderId", |v| v.parse::<u64>().ok())?;
            let rows: Vec<Value> = e
                .orders
                .get(&account)
                .into_iter()
                .flat_map(OrderHistory::iter)
                .filter(|(i, id)| *i == inst.id && from.is_none_or(|f| id.0 >= f))
                .filter_map(|(i, id)| e.sim.order(*i, *id))
                .take(limit)
                .map(|o| {
                    if product.is_futures() {
                        wire::futures_order(&inst, o)
                    } else {
                        wire::spot_order(&inst, o, None, now)
                    }
                })
                .collect();
            Ok(Value::Array(rows))
        }
        ("GET", "positionRisk") => {
            let account = need_account(account)?;
            let mut out = Vec::new();
            for pv in e.sim.positions(account) {
                if pv.instrument.kind != product {
                    continue;
                }
                let Ok(inst) = e.instrument(product, pv.instrument.symbol.as_str()) else {
                    continue;
                };
                if let Some(s) = p.get("symbol") {
                    if s != inst.id.symbol.as_str() {
                        continue;
                    }
                }
                let cfg = e
                    .sim
                    .account(account)
                    .and_then(|a| a.symbol_config(inst.id));
                out.push(json!({
                    "symbol": inst.id.symbol.as_str(),
                    "positionAmt": wire::qty(&inst, pv.qty),
                    "entryPrice": pv.entry_price.to_string(),
                    "breakEvenPrice": pv.entry_price.to_string(),
                    "markPrice": pv.mark_price.to_string(),
                    "unRealizedProfit": wire::money(pv.unrealized_pnl),
                    "liquidationPrice": "0",
                    "leverage": cfg.map_or(veloz_sim::DEFAULT_LEVERAGE, |c| c.leverage).to_string(),
                    "marginType": match cfg.map(|c| c.margin_mode) { Some(veloz_core::MarginMode::Isolated) => "isolated", _ => "cross" },
                    "isolatedMargin": "0",
                    "isAutoAddMargin": "false",
                    "positionSide": wire::position_side(pv.position_side),
                    "updateTime": now,
                }));
            }
            Ok(Value::Array(out))
        }
        ("POST", "leverage") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let lev = p
                .opt("leverage", |v| v.parse::<u32>().ok())?
                .ok_or_else(|| ApiError::missing("leverage"))?;
            e.sim.set_leverage(account, inst.id, lev)?;
            let ev = json!({"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now,
                "ac": {"s": inst.id.symbol.as_str(), "l": lev}});
            e.push_user(account, product, &ev);
            Ok(
                json!({"leverage": lev, "maxNotionalValue": "1000000", "maxQty": "1000000", "symbol": inst.id.symbol.as_str()}),
            )
        }
        ("POST", "marginType") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let mode = match p.req("marginType")?.to_ascii_uppercase().as_str() {
                "ISOLATED" => veloz_core::MarginMode::Isolated,
                "CROSSED" | "CROSS" => veloz_core::MarginMode::Cross,
                _ => return Err(ApiError::malformed("marginType")),
            };
            e.sim.set_margin_mode(account, inst.id, mode)?;
            Ok(json!({"code": 200, "msg": "success"}))
        }
        ("POST", "positionSide/dual") => {
            let account = need_account(account)?;
            let dual = p.req("dualSidePosition")?;
            e.sim
                .set_hedge_mode(account, dual.eq_ignore_ascii_case("true"))?;
            Ok(json!({"code": 200, "msg": "success"}))
        }
        ("GET", "positionSide/dual") => {
            let account = need_account(account)?;
            let hedge = e.sim.account(account).is_some_and(|a| a.hedge_mode());
            Ok(json!({"dualSidePosition": hedge}))
        }
        ("POST", "countdownCancelAll") => {
            let account = need_account(account)?;
            let inst = e.instrument(product, p.req("symbol")?)?;
            let ms = p
                .opt("countdownTime", |v| v.parse::<u64>().ok())?
                .ok_or_else(|| ApiError::missing("countdownTime"))?;
            if ms == 0 {
                e.countdowns.remove(&(account, inst.id));
            } else {
                e.countdowns.insert((account, inst.id), now + ms);
            }
            Ok(json!({"symbol": inst.id.symbol.as_str(), "countdownTime": ms.to_string()}))
        }
        ("POST", "listenKey") | ("POST", "userDataStream") => {
            let account = need_account(account)?;
            // One key per account and product, as Binance does.
            let existing = e
                .listen_keys
                .iter()
                .find(|(_, k)| k.account == account && k.product == product)
                .map(|(s, _)| s.clone());
            let key = existing.unwrap_or_else(|| new_listen_key(account, product, now));
            e.listen_keys.insert(
                key.clone(),
                ListenKey {
                    account,
                    product,
                    expires_ms: now + e.listen_key_ttl_ms,
                },
            );
            Ok(json!({"listenKey": key}))
        }
        ("PUT", "listenKey") | ("PUT", "userDataStream") => {
            let account = need_account(account)?;
            let key = match p.get("listenKey") {
                Some(k) => Some(k.to_string()),
                None => e
                    .listen_keys
                    .iter()
                    .find(|(_, k)| k.account == account && k.product == product)
                    .map(|(s, _)| s.clone()),
            };
            let ttl = e.listen_key_ttl_ms;
            let k = key
                .and_then(|k| e.listen_keys.get_mut(&k).map(|v| (k, v)))
                .filter(|(_, v)| v.account == account);
            match k {
                Some((key, v)) => {
                    v.expires_ms = now + ttl;
                    Ok(if product.is_futures() {
                        json!({"listenKey": key})
                    } else {
                        json!({})
                    })
                }
                None => Err(ApiError::bad_listen_key()),
            }
        }
        ("DELETE", "listenKey") | ("DELETE", "userDataStream") => {
            let account = need_account(account)?;
            e.listen_keys
                .retain(|_, k| !(k.account == account && k.product == product));
            Ok(json!({}))
        }
        _ => Err(ApiError::new(
            400,
            -1000,
            "endpoint not implemented by the simulator",
        )),
    }
}

fn new_listen_key(account: AccountId, product: MarketKind, now: u64) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(format!("{}:{:?}:{}:{:?}", account.0, product, now, now_nanos()).as_bytes());
    let d = h.finalize();
    let mut s = hex::encode(d);
    s.truncate(60);
    s
}

fn futures_balances(
    e: &Engine,
    product: MarketKind,
    account: AccountId,
    as_account: bool,
    now: u64,
) -> Result<Value, ApiError> {
    let a = e.sim.account(account).ok_or_else(ApiError::unknown_key)?;
    let assets: Vec<veloz_core::Currency> = e
        .instruments_of(product)
        .iter()
        .map(|i| i.margin_asset)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let zero = "0.00000000".to_string();
    let m8 = |m: Option<veloz_core::Money>| m.map_or_else(|| zero.clone(), wire::money);
    let mut list = Vec::new();
    for c in assets {
        let wallet = a.wallet_balance(c);
        let m = e.sim.margin(account, c);
        let avail = m.map_or(wallet, |m| m.available_balance);
        let mut row = json!({
            "asset": c.as_str(),
            "walletBalance": wire::money(wallet),
            "crossWalletBalance": wire::money(wallet),
            "crossUnPnl": m8(m.map(|m| m.cross_unrealized_pnl)),
            "unrealizedProfit": m8(m.map(|m| m.cross_unrealized_pnl)),
            "availableBalance": wire::money(avail),
            "maxWithdrawAmount": wire::money(avail),
            "marginAvailable": true,
            "updateTime": now,
        });
        if let Some(obj) = row.as_object_mut() {
            if as_account {
                obj.insert(
                    "marginBalance".into(),
                    json!(m8(m.map(|m| m.margin_balance))),
                );
                obj.insert("maintMargin".into(), json!(m8(m.map(|m| m.maint_margin))));
                let pim = m.map(|m| m.position_initial_margin);
                let oim = m.map(|m| m.order_initial_margin);
                let im = match (pim, oim) {
                    (Some(p), Some(o)) => p.checked_add(o).ok(),
                    _ => None,
                };
                obj.insert("initialMargin".into(), json!(m8(im)));
                obj.insert("positionInitialMargin".into(), json!(m8(pim)));
                obj.insert("openOrderInitialMargin".into(), json!(m8(oim)));
            } else {
                obj.insert("accountAlias".into(), json!("sim"));
                obj.insert("balance".into(), json!(wire::money(wallet)));
            }
        }
        list.push(row);
    }
    if !as_account {
        return Ok(Value::Array(list));
    }
    let mut positions = Vec::new();
    for pv in e.sim.positions(account) {
        if pv.instrument.kind != product {
            continue;
        }
        let Ok(inst) = e.instrument(product, pv.instrument.symbol.as_str()) else {
            continue;
        };
        positions.push(json!({
            "symbol": inst.id.symbol.as_str(),
            "positionSide": wire::position_side(pv.position_side),
            "positionAmt": wire::qty(&inst, pv.qty),
            "unrealizedProfit": wire::money(pv.unrealized_pnl),
            "leverage": pv.leverage.to_string(),
            "isolated": pv.margin_mode == veloz_core::MarginMode::Isolated,
            "entryPrice": pv.entry_price.to_string(),
            "isolatedWallet": wire::money(pv.isolated_margin),
            "updateTime": now,
        }));
    }
    Ok(json!({
        "feeTier": 0,
        "canTrade": true,
        "canDeposit": true,
        "canWithdraw": true,
        "multiAssetsMargin": false,
        "updateTime": now,
        "assets": list,
        "positions": positions,
    }))
}

/// A spot `MARKET` order with `quoteOrderQty` and no `quantity`: the base
/// quantity that the book's opposite side gives for that quote amount now
/// (walking the levels, rounded down to the market lot step). Binance fills
/// the quote amount exactly; the simulator sends the equivalent quantity.
fn quote_order_quantity(
    e: &Engine,
    product: MarketKind,
    inst: &veloz_core::Instrument,
    p: &Params,
) -> Result<Option<(Price, Quantity)>, ApiError> {
    let Some(raw) = p.get("quoteOrderQty") else {
        return Ok(None);
    };
    if product.is_futures() || p.get("type") != Some("MARKET") || p.get("quantity").is_some() {
        return Ok(None);
    }
    let quote = Price::parse(raw).map_err(|_| ApiError::malformed("quoteOrderQty"))?;
    if !quote.is_positive() {
        return Err(ApiError::malformed("quoteOrderQty"));
    }
    let take_from = match p.get("side") {
        Some("BUY") => Side::Sell,
        Some("SELL") => Side::Buy,
        _ => return Err(ApiError::invalid_value("side", -1117)),
    };
    let mut left = i128::from(quote.raw());
    let mut qty: i128 = 0;
    if let Some(book) = e.sim.market_book(inst.id) {
        for (px, q) in book.effective_levels(take_from) {
            if px <= 0 || left <= 0 {
                break;
            }
            let cost = i128::from(px) * i128::from(q) / 100_000_000;
            if cost <= left {
                qty += i128::from(q);
                left -= cost;
            } else {
                qty += left * 100_000_000 / i128::from(px);
                break;
            }
        }
    }
    let step = i128::from(inst.market_lot.unwrap_or(inst.lot).step.raw()).max(1);
    let qty = qty - qty % step;
    let qty = i64::try_from(qty).map_err(|_| ApiError::from(veloz_sim::VenueError::overflow()))?;
    if qty <= 0 {
        return Err(ApiError::new(
            400,
            -2010,
            "Order book liquidity is less than LOT_SIZE filter minimum quantity.",
        ));
    }
    Ok(Some((quote, Quantity::from_raw(qty, inst.qty_precision))))
}

fn json_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn resolve(
    e: &Engine,
    account: AccountId,
    inst: &veloz_core::Instrument,
    r: OrderRef,
) -> Result<VenueOrderId, ApiError> {
    match r {
        OrderRef::Venue(id) => Ok(id),
        OrderRef::Client(c) => e
            .sim
            .open_order_by_client_id(account, inst.id, c)
            .map(|o| o.venue_order_id)
            .ok_or_else(|| ApiError::new(400, -2013, "Order does not exist.")),
    }
}

fn order_ref(p: &Params) -> Result<OrderRef, ApiError> {
    if let Some(id) = p.opt("orderId", |v| v.parse::<u64>().ok())? {
        return Ok(OrderRef::Venue(VenueOrderId(id)));
    }
    match p.get("origClientOrderId") {
        Some(c) => {
            Ok(OrderRef::Client(ClientOrderId::new(c).map_err(|_| {
                ApiError::new(400, -2013, "Order does not exist.")
            })?))
        }
        None => Err(ApiError::new(
            400,
            -1102,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
        )),
    }
}

fn parse_price(p: &Params, name: &str) -> Result<Option<Price>, ApiError> {
    p.opt(name, |v| Price::parse(v).ok())
}

/// Reads a new order the way Binance does (spot or futures parameters).
pub fn parse_order(
    product: MarketKind,
    inst: &veloz_core::Instrument,
    p: &Params,
) -> Result<(SubmitOrder, Option<StpMode>), ApiError> {
    let futures = product.is_futures();
    let side = match p.req("side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(ApiError::invalid_value("side", -1117)),
    };
    let wire_type = p.req("type")?;
    let mut flags = OrderFlags::NONE;
    let order_type = match (futures, wire_type) {
        (_, "LIMIT") => OrderType::Limit,
        (_, "MARKET") => OrderType::Market,
        (false, "LIMIT_MAKER") => {
            flags = flags | OrderFlags::POST_ONLY;
            OrderType::Limit
        }
        (false, "STOP_LOSS") | (true, "STOP_MARKET") => OrderType::StopMarket,
        (false, "STOP_LOSS_LIMIT") | (true, "STOP") => OrderType::StopLimit,
        (false, "TAKE_PROFIT") | (true, "TAKE_PROFIT_MARKET") => OrderType::TakeProfitMarket,
        (false, "TAKE_PROFIT_LIMIT") | (true, "TAKE_PROFIT") => OrderType::TakeProfitLimit,
        (true, "TRAILING_STOP_MARKET") => OrderType::TrailingStopMarket,
        _ => return Err(ApiError::invalid_value("type", -1116)),
    };
    let tif = match p.get("timeInForce") {
        None => {
            if !futures && order_type.has_limit_price() && !flags.contains(OrderFlags::POST_ONLY) {
                return Err(ApiError::missing("timeInForce"));
            }
            TimeInForce::Gtc
        }
        Some("GTC") => TimeInForce::Gtc,
        Some("IOC") => TimeInForce::Ioc,
        Some("FOK") => TimeInForce::Fok,
        Some("GTX") if futures => TimeInForce::Gtx,
        Some("GTD") if futures => TimeInForce::Gtd,
        Some(_) => return Err(ApiError::invalid_value("timeInForce", -1115)),
    };
    if p.flag("reduceOnly")? {
        flags = flags | OrderFlags::REDUCE_ONLY;
    }
    if p.flag("closePosition")? {
        flags = flags | OrderFlags::CLOSE_POSITION;
    }
    let quantity =
        match p.opt("quantity", |v| Quantity::parse(v).ok())? {
            Some(q) => q,
            None if flags.contains(OrderFlags::CLOSE_POSITION) => {
                Quantity::from_raw(0, inst.qty_precision)
            }
            None if p.get("quoteOrderQty").is_some() => return Err(ApiError::new(
                400,
                -1106,
                "Parameter 'quoteOrderQty' sent when not required: the simulator needs 'quantity'.",
            )),
            None => return Err(ApiError::missing("quantity")),
        };
    let price = parse_price(p, "price")?;
    let trigger_price = parse_price(p, "stopPrice")?;
    let position_side = match p.get("positionSide") {
        None | Some("BOTH") => PositionSide::Both,
        Some("LONG") => PositionSide::Long,
        Some("SHORT") => PositionSide::Short,
        Some(_) => return Err(ApiError::malformed("positionSide")),
    };
    let trigger_type = match p.get("workingType") {
        Some("MARK_PRICE") => TriggerPriceType::Mark,
        _ => TriggerPriceType::Last,
    };
    let expire_time = p
        .opt("goodTillDate", |v| v.parse::<u64>().ok())?
        .map(veloz_core::UnixNanos::from_millis);
    let trailing = match parse_price(p, "callbackRate")? {
        Some(rate) => Some(veloz_core::events::Trailing {
            callback_rate: rate,
            activation_price: parse_price(p, "activationPrice")?,
        }),
        None => None,
    };
    let client_order_id = match p.get("newClientOrderId") {
        Some(c) => {
            ClientOrderId::new(c).map_err(|_| ApiError::invalid_value("newClientOrderId", -1100))?
        }
        None => {
            let n = now_nanos().0;
            ClientOrderId::new(&format!("sim{n}"))
                .map_err(|_| ApiError::malformed("newClientOrderId"))?
        }
    };
    let stp = match p.get("selfTradePreventionMode") {
        None => None,
        Some("NONE") => Some(StpMode::None),
        Some("EXPIRE_TAKER") => Some(StpMode::ExpireTaker),
        Some("EXPIRE_MAKER") => Some(StpMode::ExpireMaker),
        Some("EXPIRE_BOTH") => Some(StpMode::ExpireBoth),
        Some(_) => return Err(ApiError::malformed("selfTradePreventionMode")),
    };
    Ok((
        SubmitOrder {
            strategy: StrategyId::from_const("sim"),
            instrument: inst.id,
            client_order_id,
            side,
            order_type,
            quantity,
            price,
            trigger_price,
            trigger_type,
            time_in_force: tif,
            expire_time,
            flags,
            position_side,
            trailing,
            ts_init: now_nanos(),
        },
        stp,
    ))
}
