//! Minimal Binance JSON encoders of the simulator (REST order answers,
//! accounts, depth snapshots and user-data events), built from the engine's
//! `SimOrder`s and `SimReport`s. Field names and value spellings follow
//! `shared/docs/binance-protocol.md` §3 and §7; the tests check them with our
//! own parsers (`veloz_exec::binance::{rest::responses, user_data}`).
//!
//! The market-stream encoders from core events (`veloz_exec::binance::encode`)
//! are being written elsewhere; capture replay serves recorded frames
//! verbatim and needs none.

use serde_json::{json, Value};
use veloz_core::events::{AccountEvent, OrderEvent, OrderEventKind};
use veloz_core::{
    Instrument, Liquidity, MarketKind, Money, OrderFlags, OrderType, PositionSide, Price, Quantity,
    Rounding, Side, TimeInForce,
};
use veloz_market::L2Book;
use veloz_sim::{ExpireReason, OrderReport, SimOrder, SimOrderStatus};

/// `BUY` / `SELL`.
pub fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// A price at the instrument's precision.
pub fn px(inst: &Instrument, p: Price) -> String {
    p.with_precision(inst.price_precision)
        .map_or_else(|_| p.to_string(), |p| p.to_string())
}

/// An optional price (`"0.00"`-style zero when absent).
pub fn px_or_zero(inst: &Instrument, p: Option<Price>) -> String {
    px(inst, p.unwrap_or(Price::from_raw(0, inst.price_precision)))
}

/// A quantity at the instrument's precision.
pub fn qty(inst: &Instrument, q: Quantity) -> String {
    q.with_precision(inst.qty_precision)
        .map_or_else(|_| q.to_string(), |q| q.to_string())
}

/// An amount with 8 decimals.
pub fn money(m: Money) -> String {
    m.format_amount(8)
}

/// The wire order type of a simulated order.
pub fn order_type(kind: MarketKind, o: &SimOrder) -> &'static str {
    order_type_of(kind, o.order_type, o.post_only)
}

fn order_type_of(kind: MarketKind, t: OrderType, post_only: bool) -> &'static str {
    if kind.is_futures() {
        match t {
            OrderType::Market => "MARKET",
            OrderType::Limit => "LIMIT",
            OrderType::StopMarket => "STOP_MARKET",
            OrderType::StopLimit => "STOP",
            OrderType::TakeProfitMarket => "TAKE_PROFIT_MARKET",
            OrderType::TakeProfitLimit => "TAKE_PROFIT",
            OrderType::TrailingStopMarket => "TRAILING_STOP_MARKET",
        }
    } else {
        match t {
            OrderType::Market => "MARKET",
            OrderType::Limit if post_only => "LIMIT_MAKER",
            OrderType::Limit => "LIMIT",
            OrderType::StopMarket => "STOP_LOSS",
            OrderType::StopLimit => "STOP_LOSS_LIMIT",
            OrderType::TakeProfitMarket => "TAKE_PROFIT",
            OrderType::TakeProfitLimit => "TAKE_PROFIT_LIMIT",
            OrderType::TrailingStopMarket => "STOP_LOSS",
        }
    }
}

/// The wire time in force.
pub fn tif(kind: MarketKind, o: &SimOrder) -> &'static str {
    if kind.is_futures() && o.post_only {
        return "GTX";
    }
    match o.time_in_force {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::Gtx => "GTX",
        TimeInForce::Gtd => "GTD",
    }
}

/// `BOTH` / `LONG` / `SHORT`.
pub fn position_side(p: PositionSide) -> &'static str {
    match p {
        PositionSide::Both => "BOTH",
        PositionSide::Long => "LONG",
        PositionSide::Short => "SHORT",
    }
}

fn ms(t: veloz_core::UnixNanos) -> u64 {
    t.0 / 1_000_000
}

/// One fill of a spot `FULL` answer.
#[derive(Debug, Clone)]
pub struct FillLine {
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Fee.
    pub fee: Money,
    /// Trade id.
    pub trade_id: u64,
}

/// A spot order as `POST/GET/DELETE /api/v3/order` return it.
pub fn spot_order(
    inst: &Instrument,
    o: &SimOrder,
    fills: Option<&[FillLine]>,
    transact_ms: u64,
) -> Value {
    let kind = MarketKind::Spot;
    let mut v = json!({
        "symbol": inst.id.symbol.as_str(),
        "orderId": o.venue_order_id.0,
        "orderListId": -1,
        "clientOrderId": o.client_order_id.as_str(),
        "price": px_or_zero(inst, o.price),
        "origQty": qty(inst, o.quantity),
        "executedQty": qty(inst, o.filled),
        "cummulativeQuoteQty": o.cum_quote().to_string(),
        "origQuoteOrderQty": "0.00000000",
        "status": o.status.as_str(),
        "timeInForce": tif(kind, o),
        "type": order_type(kind, o),
        "side": side(o.side),
        "stopPrice": px_or_zero(inst, o.trigger_price),
        "workingTime": if o.order_type.is_conditional() && !o.triggered { -1 } else { ms(o.created) as i64 },
        "selfTradePreventionMode": o.stp.as_str(),
    });
    if let Some(obj) = v.as_object_mut() {
        match fills {
            Some(f) => {
                obj.insert("transactTime".into(), json!(transact_ms));
                obj.insert(
                    "fills".into(),
                    Value::Array(
                        f.iter()
                            .map(|l| {
                                json!({
                                    "price": px(inst, l.price),
                                    "qty": qty(inst, l.qty),
                                    "commission": money(l.fee),
                                    "commissionAsset": l.fee.currency().as_str(),
                                    "tradeId": l.trade_id,
                                })
                            })
                            .collect(),
                    ),
                );
            }
            None => {
                obj.insert("icebergQty".into(), json!("0.00000000"));
                obj.insert("time".into(), json!(ms(o.created)));
                obj.insert("updateTime".into(), json!(ms(o.updated)));
                obj.insert("isWorking".into(), json!(o.is_resting()));
            }
        }
    }
    v
}

/// A futures order as the `/fapi` and `/dapi` order endpoints return it.
pub fn futures_order(inst: &Instrument, o: &SimOrder) -> Value {
    let kind = inst.id.kind;
    let avg = o
        .avg_price(Rounding::HalfEven)
        .map_or_else(|| px_or_zero(inst, None), |p| p.to_string());
    let mut v = json!({
        "orderId": o.venue_order_id.0,
        "symbol": inst.id.symbol.as_str(),
        "status": o.status.as_str(),
        "clientOrderId": o.client_order_id.as_str(),
        "price": px_or_zero(inst, o.price),
        "avgPrice": avg,
        "origQty": qty(inst, o.quantity),
        "executedQty": qty(inst, o.filled),
        "cumQty": qty(inst, o.filled),
        "timeInForce": tif(kind, o),
        "type": order_type(kind, o),
        "origType": order_type(kind, o),
        "reduceOnly": o.flags.contains(OrderFlags::REDUCE_ONLY),
        "closePosition": o.flags.contains(OrderFlags::CLOSE_POSITION),
        "side": side(o.side),
        "positionSide": position_side(o.position_side),
        "stopPrice": px_or_zero(inst, o.trigger_price),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": false,
        "priceMatch": "NONE",
        "selfTradePreventionMode": o.stp.as_str(),
        "goodTillDate": o.expire_time.map_or(0, ms),
        "time": ms(o.created),
        "updateTime": ms(o.updated),
    });
    if let Some(obj) = v.as_object_mut() {
        if kind == MarketKind::CoinM {
            obj.insert("cumBase".into(), json!(o.cum_quote().to_string()));
            obj.insert(
                "pair".into(),
                json!(inst.base.as_str().to_string() + inst.quote.as_str()),
            );
        } else {
            obj.insert("cumQuote".into(), json!(o.cum_quote().to_string()));
        }
    }
    v
}

/// A depth snapshot body (`GET /api/v3/depth`, `/fapi/v1/depth`, `/dapi/v1/depth`).
pub fn depth(inst: &Instrument, book: Option<&L2Book>, limit: usize, now_ms: u64) -> Value {
    let levels = |s: Side| -> Vec<Value> {
        book.map(|b| b.top(s, limit))
            .unwrap_or_default()
            .iter()
            .map(|l| json!([px(inst, l.price), qty(inst, l.qty)]))
            .collect()
    };
    let mut v = json!({
        "lastUpdateId": book.map_or(0, L2Book::last_update_id),
        "bids": levels(Side::Buy),
        "asks": levels(Side::Sell),
    });
    if inst.id.kind.is_futures() {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("E".into(), json!(now_ms));
            obj.insert("T".into(), json!(now_ms));
            if inst.id.kind == MarketKind::CoinM {
                obj.insert("symbol".into(), json!(inst.id.symbol.as_str()));
                obj.insert(
                    "pair".into(),
                    json!(inst.base.as_str().to_string() + inst.quote.as_str()),
                );
            }
        }
    }
    v
}

fn exec_type(ev: &OrderEvent) -> Option<&'static str> {
    Some(match &ev.kind {
        OrderEventKind::Accepted => "NEW",
        OrderEventKind::Filled(_) => "TRADE",
        OrderEventKind::Canceled => "CANCELED",
        OrderEventKind::Expired => "EXPIRED",
        OrderEventKind::Rejected { .. } => "REJECTED",
        OrderEventKind::Updated { .. } => "AMENDMENT",
        _ => return None,
    })
}

/// The spot `executionReport` of an order report (`None` for events spot
/// does not report).
pub fn execution_report(inst: &Instrument, r: &OrderReport, event_ms: u64) -> Option<Value> {
    let o = &r.order;
    let x = exec_type(&r.event)?;
    let x = if x == "AMENDMENT" { "REPLACED" } else { x };
    let x = if o.status == SimOrderStatus::ExpiredInMatch && x == "EXPIRED" {
        "TRADE_PREVENTION"
    } else {
        x
    };
    let (l, lp, n, na, t, m, y) = match &r.event.kind {
        OrderEventKind::Filled(f) => (
            qty(inst, f.qty),
            px(inst, f.price),
            money(f.fee),
            Value::from(f.fee.currency().as_str()),
            f.trade_id.0 as i64,
            f.liquidity == Liquidity::Maker,
            quote_of(f.price, f.qty),
        ),
        _ => (
            qty(inst, Quantity::from_raw(0, inst.qty_precision)),
            px_or_zero(inst, None),
            "0".to_string(),
            Value::Null,
            -1,
            false,
            "0.00000000".to_string(),
        ),
    };
    let kind = MarketKind::Spot;
    let mut v = json!({
        "e": "executionReport",
        "E": event_ms,
        "s": inst.id.symbol.as_str(),
        "c": o.client_order_id.as_str(),
        "S": side(o.side),
        "o": order_type(kind, o),
        "f": tif(kind, o),
        "q": qty(inst, o.quantity),
        "p": px_or_zero(inst, o.price),
        "P": px_or_zero(inst, o.trigger_price),
        "F": "0.00000000",
        "g": -1,
        "C": if x == "CANCELED" { o.client_order_id.as_str() } else { "" },
        "x": x,
        "X": o.status.as_str(),
        "r": match &r.event.kind { OrderEventKind::Rejected { .. } => "INSUFFICIENT_BALANCES", _ => "NONE" },
        "i": o.venue_order_id.0,
        "l": l,
        "z": qty(inst, o.filled),
        "L": lp,
        "n": n,
        "N": na,
        "T": ms(r.event.times.exchange).max(ms(o.updated)),
        "t": t,
        "I": event_ms,
        "w": o.is_resting(),
        "m": m,
        "M": false,
        "O": ms(o.created),
        "Z": o.cum_quote().to_string(),
        "Y": y,
        "Q": "0.00000000",
        "W": ms(o.created),
        "V": o.stp.as_str(),
    });
    if let (Some(reason), Some(obj)) = (r.expire_reason, v.as_object_mut()) {
        let er = match reason {
            ExpireReason::ImmediateLeftover => "UNFILLED_IOC_QUANTITY_EXPIRED",
            ExpireReason::FillOrKill => "UNFILLED_FOK_ORDER_EXPIRED",
            _ => "EXCHANGE_CANCELED",
        };
        obj.insert("eR".into(), json!(er));
    }
    Some(v)
}

fn quote_of(p: Price, q: Quantity) -> String {
    let raw = i128::from(p.raw()) * i128::from(q.raw()) / 100_000_000;
    i64::try_from(raw).map_or_else(|_| "0".into(), |r| Price::from_raw(r, 8).to_string())
}

/// The futures `ORDER_TRADE_UPDATE` of an order report.
pub fn order_trade_update(inst: &Instrument, r: &OrderReport, event_ms: u64) -> Option<Value> {
    let o = &r.order;
    let x = exec_type(&r.event)?;
    let kind = inst.id.kind;
    let mut od = json!({
        "s": inst.id.symbol.as_str(),
        "c": o.client_order_id.as_str(),
        "S": side(o.side),
        "o": order_type(kind, o),
        "f": tif(kind, o),
        "q": qty(inst, o.quantity),
        "p": px_or_zero(inst, o.price),
        "ap": o.avg_price(Rounding::HalfEven).map_or_else(|| px_or_zero(inst, None), |p| p.to_string()),
        "sp": px_or_zero(inst, o.trigger_price),
        "x": x,
        "X": o.status.as_str(),
        "i": o.venue_order_id.0,
        "l": "0",
        "z": qty(inst, o.filled),
        "L": "0",
        "T": ms(r.event.times.exchange).max(ms(o.updated)),
        "t": 0,
        "b": "0",
        "a": "0",
        "m": false,
        "R": o.flags.contains(OrderFlags::REDUCE_ONLY),
        "wt": "CONTRACT_PRICE",
        "ot": order_type(kind, o),
        "ps": position_side(o.position_side),
        "cp": o.flags.contains(OrderFlags::CLOSE_POSITION),
        "rp": "0",
        "pP": false,
        "si": 0,
        "ss": 0,
        "V": o.stp.as_str(),
        "pm": "NONE",
        "gtd": o.expire_time.map_or(0, ms),
    });
    if let Some(obj) = od.as_object_mut() {
        if let OrderEventKind::Filled(f) = &r.event.kind {
            obj.insert("l".into(), json!(qty(inst, f.qty)));
            obj.insert("L".into(), json!(px(inst, f.price)));
            obj.insert("n".into(), json!(money(f.fee)));
            obj.insert("N".into(), json!(f.fee.currency().as_str()));
            obj.insert("t".into(), json!(f.trade_id.0));
            obj.insert("m".into(), json!(f.liquidity == Liquidity::Maker));
        }
        if let Some(reason) = r.expire_reason {
            let er = match reason {
                ExpireReason::SelfTradePrevention => "1",
                ExpireReason::ImmediateLeftover => "2",
                ExpireReason::NothingToReduce => "4",
                ExpireReason::GoodTillDate => "6",
                ExpireReason::FillOrKill => "10",
                ExpireReason::TriggerFailed { .. } => "8",
            };
            obj.insert("er".into(), json!(er));
        }
        if kind == MarketKind::CoinM {
            obj.insert("ma".into(), json!(inst.margin_asset.as_str()));
        }
    }
    let mut v = json!({"e": "ORDER_TRADE_UPDATE", "E": event_ms, "T": event_ms, "o": od});
    if kind == MarketKind::CoinM {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("i".into(), json!("sim"));
        }
    }
    Some(v)
}

/// The spot `outboundAccountPosition` of balance updates.
pub fn outbound_account_position(events: &[&AccountEvent], event_ms: u64) -> Option<Value> {
    let b: Vec<Value> = events
        .iter()
        .filter_map(|e| match e {
            AccountEvent::Balance(b) => Some(json!({
                "a": b.asset.as_str(),
                "f": money(b.free),
                "l": money(b.locked),
            })),
            _ => None,
        })
        .collect();
    if b.is_empty() {
        return None;
    }
    Some(json!({"e": "outboundAccountPosition", "E": event_ms, "u": event_ms, "B": b}))
}

/// The futures `ACCOUNT_UPDATE` of margin and position updates (reason `ORDER`).
pub fn account_update(
    kind: MarketKind,
    events: &[&AccountEvent],
    inst_of: impl Fn(veloz_core::InstrumentId) -> Option<Instrument>,
    event_ms: u64,
) -> Option<Value> {
    let mut bal = Vec::new();
    let mut pos = Vec::new();
    for e in events {
        match e {
            AccountEvent::Margin(m) => bal.push(json!({
                "a": m.asset.as_str(),
                "wb": money(m.wallet_balance),
                "cw": money(m.wallet_balance),
                "bc": "0",
            })),
            AccountEvent::Position(p) => {
                let Some(inst) = inst_of(p.instrument) else {
                    continue;
                };
                pos.push(json!({
                    "s": inst.id.symbol.as_str(),
                    "pa": qty(&inst, p.qty),
                    "ep": p.entry_price.to_string(),
                    "bep": p.entry_price.to_string(),
                    "cr": "0",
                    "up": money(p.unrealized_pnl),
                    "mt": match p.margin_mode { veloz_core::MarginMode::Isolated => "isolated", _ => "cross" },
                    "iw": "0",
                    "ps": position_side(p.position_side),
                }))
            }
            AccountEvent::Balance(_) => {}
        }
    }
    if bal.is_empty() && pos.is_empty() {
        return None;
    }
    let mut v = json!({
        "e": "ACCOUNT_UPDATE", "E": event_ms, "T": event_ms,
        "a": {"m": "ORDER", "B": bal, "P": pos},
    });
    if kind == MarketKind::CoinM {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("i".into(), json!("sim"));
        }
    }
    Some(v)
}

/// A row of spot `myTrades` or futures `userTrades`.
pub fn account_trade(inst: &Instrument, f: &crate::engine::FillRecord) -> Value {
    let buyer = f.fill.side == Side::Buy;
    let maker = f.fill.liquidity == Liquidity::Maker;
    let quote = quote_of(f.fill.price, f.fill.qty);
    if inst.id.kind.is_futures() {
        let mut v = json!({
            "symbol": inst.id.symbol.as_str(),
            "id": f.fill.trade_id.0,
            "orderId": f.order_id.0,
            "side": side(f.fill.side),
            "price": px(inst, f.fill.price),
            "qty": qty(inst, f.fill.qty),
            "realizedPnl": "0",
            "quoteQty": quote,
            "commission": money(f.fill.fee),
            "commissionAsset": f.fill.fee.currency().as_str(),
            "time": f.time_ms,
            "positionSide": position_side(f.position_side),
            "buyer": buyer,
            "maker": maker,
        });
        if inst.id.kind == MarketKind::CoinM {
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "pair".into(),
                    json!(format!("{}{}", inst.base.as_str(), inst.quote.as_str())),
                );
                obj.insert("marginAsset".into(), json!(inst.margin_asset.as_str()));
                obj.insert("baseQty".into(), json!("0"));
            }
        }
        v
    } else {
        json!({
            "symbol": inst.id.symbol.as_str(),
            "id": f.fill.trade_id.0,
            "orderId": f.order_id.0,
            "orderListId": -1,
            "price": px(inst, f.fill.price),
            "qty": qty(inst, f.fill.qty),
            "quoteQty": quote,
            "commission": money(f.fill.fee),
            "commissionAsset": f.fill.fee.currency().as_str(),
            "time": f.time_ms,
            "isBuyer": buyer,
            "isMaker": maker,
            "isBestMatch": true,
        })
    }
}

/// A row of `GET …/trades`.
pub fn public_trade(inst: &Instrument, t: &veloz_core::events::Trade) -> Value {
    let mut v = json!({
        "id": t.trade_id.0,
        "price": px(inst, t.price),
        "qty": qty(inst, t.qty),
        "quoteQty": quote_of(t.price, t.qty),
        "time": t.times.exchange.0 / 1_000_000,
        "isBuyerMaker": t.aggressor == veloz_core::AggressorSide::Seller,
    });
    if !inst.id.kind.is_futures() {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("isBestMatch".into(), json!(true));
        }
    }
    v
}

/// A row of `GET …/klines` from an aggregated bar of `len_ms`.
pub fn kline(inst: &Instrument, b: &crate::engine::MinuteBar, len_ms: u64) -> Value {
    let price = |raw: i64| px(inst, Price::from_raw(raw, inst.price_precision));
    let base = |raw: i128| {
        i64::try_from(raw).map_or_else(
            |_| "0".into(),
            |r| qty(inst, Quantity::from_raw(r, inst.qty_precision)),
        )
    };
    let quote = |raw: i128| Money::from_raw(raw, inst.quote).format_amount(8);
    json!([
        b.open_ms,
        price(b.open),
        price(b.high),
        price(b.low),
        price(b.close),
        base(b.volume),
        b.open_ms + len_ms - 1,
        quote(b.quote_volume),
        b.trades,
        base(b.taker_buy_volume),
        quote(b.taker_buy_quote),
        "0",
    ])
}
