//! Spot (`/api/v3`) request builders.
//!
//! Market data: [`ping`], [`server_time`], [`exchange_info`], [`depth`],
//! [`klines`], [`recent_trades`]. Trading: [`new_order`] (every spot order
//! type: `LIMIT`, `MARKET` by quantity or by quote amount, `STOP_LOSS`,
//! `STOP_LOSS_LIMIT`, `TAKE_PROFIT`, `TAKE_PROFIT_LIMIT`, `LIMIT_MAKER`
//! post-only; iceberg, trailing delta, self-trade prevention, strategy ids,
//! pegged prices), [`test_order`], [`cancel_order`], [`cancel_all`],
//! [`cancel_replace`]. Account: [`query_order`], [`open_orders`],
//! [`all_orders`], [`my_trades`], [`account`].
//!
//! Weights are those of the spot docs (`shared/docs/binance-protocol.md` §3.1).
//! The legacy spot listenKey endpoints were retired on 2026-02-20 and are not
//! built here (spot user data goes through the WebSocket API).

use veloz_core::events::SubmitOrder;
use veloz_core::{
    ClientOrderId, Instrument, MarketKind, OrderFlags, Price, Quantity, Side, Symbol,
};

use super::format::{plain_price, price_param, qty_param, NumberPolicy, PriceRole};
use super::types::{
    CancelReplaceMode, CancelRestrictions, KlineInterval, NewOrderRespType,
    OrderRateLimitExceededMode, OrderType, PegOffsetType, PegPriceType, SelfTradePrevention,
    TimeInForce,
};
use super::{Endpoint, Method, OrderRef, RestRequest, Security};
use crate::binance::error::BuildError;
use crate::binance::ratelimit::Cost;

fn req(
    endpoint: Endpoint,
    method: Method,
    path: &'static str,
    security: Security,
    cost: Cost,
) -> RestRequest {
    RestRequest::new(MarketKind::Spot, endpoint, method, path, security, cost)
}

fn check_spot(inst: &Instrument) -> Result<(), BuildError> {
    if inst.id.kind == MarketKind::Spot {
        Ok(())
    } else {
        Err(BuildError::WrongProduct {
            instrument: inst.id.to_string(),
            expected: MarketKind::Spot,
        })
    }
}

/// `GET /api/v3/ping`.
pub fn ping() -> RestRequest {
    req(
        Endpoint::Ping,
        Method::Get,
        "/api/v3/ping",
        Security::None,
        Cost::weight(1),
    )
}

/// `GET /api/v3/time` (for [`crate::binance::signing::TimeSync`]).
pub fn server_time() -> RestRequest {
    req(
        Endpoint::ServerTime,
        Method::Get,
        "/api/v3/time",
        Security::None,
        Cost::weight(1),
    )
}

/// `GET /api/v3/exchangeInfo`, for every symbol (empty slice), one, or several.
pub fn exchange_info(symbols: &[Symbol]) -> RestRequest {
    let mut r = req(
        Endpoint::ExchangeInfo,
        Method::Get,
        "/api/v3/exchangeInfo",
        Security::None,
        Cost::weight(20),
    );
    match symbols {
        [] => {}
        [one] => r.push("symbol", one.as_str()),
        many => {
            let list: Vec<String> = many.iter().map(|s| format!("\"{}\"", s.as_str())).collect();
            r.push("symbols", format!("[{}]", list.join(",")));
        }
    }
    r
}

/// `GET /api/v3/depth`; `limit` 1..=5000 (default 100). Weight grows with the limit.
pub fn depth(symbol: &Symbol, limit: Option<u16>) -> Result<RestRequest, BuildError> {
    let l = limit.unwrap_or(100);
    let weight = match l {
        1..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        1001..=5000 => 250,
        _ => {
            return Err(BuildError::OutOfRange {
                param: "limit",
                value: l.to_string(),
                range: "1..=5000",
            })
        }
    };
    let mut r = req(
        Endpoint::Depth,
        Method::Get,
        "/api/v3/depth",
        Security::None,
        Cost::weight(weight),
    );
    r.push("symbol", symbol.as_str());
    if limit.is_some() {
        r.push("limit", l.to_string());
    }
    Ok(r)
}

/// Optional time range and count for history queries (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Range {
    /// `startTime`.
    pub start_ms: Option<u64>,
    /// `endTime`.
    pub end_ms: Option<u64>,
    /// `limit`.
    pub limit: Option<u16>,
}

/// `GET /api/v3/klines`; `limit` 1..=1000 (default 500).
pub fn klines(
    symbol: &Symbol,
    interval: KlineInterval,
    range: Range,
) -> Result<RestRequest, BuildError> {
    check_limit(range.limit, 1000)?;
    let mut r = req(
        Endpoint::Klines,
        Method::Get,
        "/api/v3/klines",
        Security::None,
        Cost::weight(2),
    );
    r.push("symbol", symbol.as_str());
    r.push("interval", interval.as_str());
    push_range(&mut r, range);
    Ok(r)
}

/// `GET /api/v3/trades` (recent trades); `limit` 1..=1000 (default 500).
pub fn recent_trades(symbol: &Symbol, limit: Option<u16>) -> Result<RestRequest, BuildError> {
    check_limit(limit, 1000)?;
    let mut r = req(
        Endpoint::RecentTrades,
        Method::Get,
        "/api/v3/trades",
        Security::None,
        Cost::weight(25),
    );
    r.push("symbol", symbol.as_str());
    r.push_opt("limit", limit.map(|l| l.to_string()));
    Ok(r)
}

pub(crate) fn check_limit(limit: Option<u16>, max: u16) -> Result<(), BuildError> {
    match limit {
        Some(l) if l == 0 || l > max => Err(BuildError::OutOfRange {
            param: "limit",
            value: l.to_string(),
            range: if max == 1000 {
                "1..=1000"
            } else if max == 1500 {
                "1..=1500"
            } else {
                "1..=max"
            },
        }),
        _ => Ok(()),
    }
}

pub(crate) fn push_range(r: &mut RestRequest, range: Range) {
    r.push_opt("startTime", range.start_ms.map(|v| v.to_string()));
    r.push_opt("endTime", range.end_ms.map(|v| v.to_string()));
    r.push_opt("limit", range.limit.map(|v| v.to_string()));
}

/// Pegged-price instructions (spot `pegPriceType`, `pegOffsetValue`, `pegOffsetType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peg {
    /// Which price to peg to.
    pub price_type: PegPriceType,
    /// Offset (price levels).
    pub offset_value: Option<u32>,
    /// Offset unit.
    pub offset_type: Option<PegOffsetType>,
}

/// A spot order. Build with a constructor ([`SpotOrder::limit`], ...) and the
/// setters; [`new_order`] checks that every parameter its type needs is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotOrder {
    /// Side.
    pub side: Side,
    /// Type (spot types only).
    pub order_type: OrderType,
    /// Time in force (`GTC`, `IOC`, `FOK`); required by the limit types except `LIMIT_MAKER`.
    pub time_in_force: Option<TimeInForce>,
    /// Base quantity.
    pub quantity: Option<Quantity>,
    /// Quote amount to spend/receive (`MARKET` only, instead of `quantity`).
    pub quote_order_qty: Option<Price>,
    /// Limit price.
    pub price: Option<Price>,
    /// Trigger price of stop/take-profit types.
    pub stop_price: Option<Price>,
    /// Trailing delta in basis points (instead of or with `stop_price`).
    pub trailing_delta: Option<u32>,
    /// Visible quantity of an iceberg (requires `GTC`).
    pub iceberg_qty: Option<Quantity>,
    /// Our id (`newClientOrderId`).
    pub client_order_id: Option<ClientOrderId>,
    /// `strategyId`.
    pub strategy_id: Option<u64>,
    /// `strategyType` (at least 1000000).
    pub strategy_type: Option<u32>,
    /// Response detail (defaults to `FULL`, so fills come back with the order).
    pub resp_type: NewOrderRespType,
    /// Self-trade prevention.
    pub self_trade_prevention: Option<SelfTradePrevention>,
    /// Pegged price.
    pub peg: Option<Peg>,
}

impl SpotOrder {
    fn base(side: Side, order_type: OrderType) -> Self {
        Self {
            side,
            order_type,
            time_in_force: None,
            quantity: None,
            quote_order_qty: None,
            price: None,
            stop_price: None,
            trailing_delta: None,
            iceberg_qty: None,
            client_order_id: None,
            strategy_id: None,
            strategy_type: None,
            resp_type: NewOrderRespType::Full,
            self_trade_prevention: None,
            peg: None,
        }
    }

    /// `LIMIT`, `GTC`.
    pub fn limit(side: Side, quantity: Quantity, price: Price) -> Self {
        let mut o = Self::base(side, OrderType::Limit);
        o.time_in_force = Some(TimeInForce::Gtc);
        o.quantity = Some(quantity);
        o.price = Some(price);
        o
    }

    /// `LIMIT_MAKER`: post-only, rejected if it would take.
    pub fn limit_maker(side: Side, quantity: Quantity, price: Price) -> Self {
        let mut o = Self::base(side, OrderType::LimitMaker);
        o.quantity = Some(quantity);
        o.price = Some(price);
        o
    }

    /// `MARKET` for a base quantity.
    pub fn market(side: Side, quantity: Quantity) -> Self {
        let mut o = Self::base(side, OrderType::Market);
        o.quantity = Some(quantity);
        o
    }

    /// `MARKET` for a quote amount (`quoteOrderQty`): spend (buy) or receive
    /// (sell) this much quote asset.
    pub fn market_quote(side: Side, quote_amount: Price) -> Self {
        let mut o = Self::base(side, OrderType::Market);
        o.quote_order_qty = Some(quote_amount);
        o
    }

    /// `STOP_LOSS`: market order when `stop_price` is reached.
    pub fn stop_loss(side: Side, quantity: Quantity, stop_price: Price) -> Self {
        let mut o = Self::base(side, OrderType::StopLoss);
        o.quantity = Some(quantity);
        o.stop_price = Some(stop_price);
        o
    }

    /// `STOP_LOSS_LIMIT`, `GTC`.
    pub fn stop_loss_limit(
        side: Side,
        quantity: Quantity,
        price: Price,
        stop_price: Price,
    ) -> Self {
        let mut o = Self::limit(side, quantity, price);
        o.order_type = OrderType::StopLossLimit;
        o.stop_price = Some(stop_price);
        o
    }

    /// `TAKE_PROFIT`: market order when `stop_price` is reached.
    pub fn take_profit(side: Side, quantity: Quantity, stop_price: Price) -> Self {
        let mut o = Self::stop_loss(side, quantity, stop_price);
        o.order_type = OrderType::TakeProfit;
        o
    }

    /// `TAKE_PROFIT_LIMIT`, `GTC`.
    pub fn take_profit_limit(
        side: Side,
        quantity: Quantity,
        price: Price,
        stop_price: Price,
    ) -> Self {
        let mut o = Self::stop_loss_limit(side, quantity, price, stop_price);
        o.order_type = OrderType::TakeProfitLimit;
        o
    }

    /// Sets the time in force.
    pub fn time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = Some(tif);
        self
    }

    /// Sets `newClientOrderId`.
    pub fn client_order_id(mut self, id: ClientOrderId) -> Self {
        self.client_order_id = Some(id);
        self
    }

    /// Makes it an iceberg showing `visible` at a time.
    pub fn iceberg(mut self, visible: Quantity) -> Self {
        self.iceberg_qty = Some(visible);
        self
    }

    /// Sets a trailing delta in basis points (`stop_price` becomes optional).
    pub fn trailing_delta(mut self, bips: u32) -> Self {
        self.trailing_delta = Some(bips);
        self
    }

    /// Removes the stop price (for trailing orders that trail from the entry).
    pub fn without_stop_price(mut self) -> Self {
        self.stop_price = None;
        self
    }

    /// Sets the self-trade prevention mode.
    pub fn self_trade_prevention(mut self, mode: SelfTradePrevention) -> Self {
        self.self_trade_prevention = Some(mode);
        self
    }

    /// Sets the response detail.
    pub fn resp_type(mut self, t: NewOrderRespType) -> Self {
        self.resp_type = t;
        self
    }

    /// Sets `strategyId` and `strategyType`.
    pub fn strategy(mut self, id: u64, strategy_type: u32) -> Self {
        self.strategy_id = Some(id);
        self.strategy_type = Some(strategy_type);
        self
    }

    /// Pegs the price.
    pub fn peg(mut self, peg: Peg) -> Self {
        self.peg = Some(peg);
        self
    }
}

impl SpotOrder {
    /// The spot order for a strategy's [`SubmitOrder`]: market, limit
    /// (`LIMIT_MAKER` when post-only), stop-loss and take-profit (market or
    /// limit). Futures-only features (reduce-only, close-position, trailing
    /// stops, GTX/GTD) are refused with a typed error.
    pub fn from_submit(cmd: &SubmitOrder) -> Result<Self, BuildError> {
        use veloz_core::OrderType as T;
        let flags = cmd.flags;
        if flags.contains(OrderFlags::REDUCE_ONLY) || flags.contains(OrderFlags::CLOSE_POSITION) {
            return Err(not_allowed(
                "reduceOnly",
                "spot has no reduce-only or close-position orders",
            ));
        }
        let price = || {
            cmd.price.ok_or(BuildError::Missing {
                param: "price",
                order_type: "limit",
            })
        };
        let trigger = || {
            cmd.trigger_price.ok_or(BuildError::Missing {
                param: "stopPrice",
                order_type: "stop",
            })
        };
        let post_only = flags.contains(OrderFlags::POST_ONLY);
        let mut o = match cmd.order_type {
            T::Market => Self::market(cmd.side, cmd.quantity),
            T::Limit if post_only => Self::limit_maker(cmd.side, cmd.quantity, price()?),
            T::Limit => Self::limit(cmd.side, cmd.quantity, price()?),
            T::StopMarket => Self::stop_loss(cmd.side, cmd.quantity, trigger()?),
            T::StopLimit => Self::stop_loss_limit(cmd.side, cmd.quantity, price()?, trigger()?),
            T::TakeProfitMarket => Self::take_profit(cmd.side, cmd.quantity, trigger()?),
            T::TakeProfitLimit => {
                Self::take_profit_limit(cmd.side, cmd.quantity, price()?, trigger()?)
            }
            T::TrailingStopMarket => {
                return Err(BuildError::Unsupported {
                    what: "TRAILING_STOP_MARKET (use a trailing delta on STOP_LOSS*)",
                    product: MarketKind::Spot,
                })
            }
        };
        if post_only && cmd.order_type != T::Limit {
            return Err(not_allowed(
                "postOnly",
                "spot post-only is LIMIT_MAKER, a plain limit order",
            ));
        }
        if o.time_in_force.is_some() {
            o.time_in_force = Some(match cmd.time_in_force {
                veloz_core::TimeInForce::Gtc => TimeInForce::Gtc,
                veloz_core::TimeInForce::Ioc => TimeInForce::Ioc,
                veloz_core::TimeInForce::Fok => TimeInForce::Fok,
                veloz_core::TimeInForce::Gtx | veloz_core::TimeInForce::Gtd => {
                    return Err(not_allowed(
                        "timeInForce",
                        "spot accepts GTC, IOC and FOK only",
                    ))
                }
            });
        }
        o.client_order_id = Some(cmd.client_order_id);
        Ok(o)
    }
}

fn missing(param: &'static str, t: OrderType) -> BuildError {
    BuildError::Missing {
        param,
        order_type: t.as_str(),
    }
}

fn not_allowed(param: &'static str, reason: &'static str) -> BuildError {
    BuildError::NotAllowed { param, reason }
}

/// Appends a spot order's parameters (everything after `symbol`).
fn push_order(
    r: &mut RestRequest,
    inst: &Instrument,
    o: &SpotOrder,
    policy: NumberPolicy,
) -> Result<(), BuildError> {
    let t = o.order_type;
    let (needs_tif, needs_price, needs_stop) = match t {
        OrderType::Limit => (true, true, false),
        OrderType::Market => (false, false, false),
        OrderType::StopLoss | OrderType::TakeProfit => (false, false, true),
        OrderType::StopLossLimit | OrderType::TakeProfitLimit => (true, true, true),
        OrderType::LimitMaker => (false, true, false),
        _ => {
            return Err(BuildError::Unsupported {
                what: "this order type",
                product: MarketKind::Spot,
            })
        }
    };
    // Time in force.
    match (needs_tif, o.time_in_force) {
        (true, None) => return Err(missing("timeInForce", t)),
        (false, Some(_)) => {
            return Err(not_allowed(
                "timeInForce",
                "only LIMIT, STOP_LOSS_LIMIT and TAKE_PROFIT_LIMIT take a time in force",
            ))
        }
        (true, Some(TimeInForce::Gtc | TimeInForce::Ioc | TimeInForce::Fok)) | (false, None) => {}
        (true, Some(_)) => {
            return Err(not_allowed(
                "timeInForce",
                "spot accepts GTC, IOC and FOK only (post-only is LIMIT_MAKER)",
            ))
        }
    }
    // Size.
    match (t, o.quantity, o.quote_order_qty) {
        (OrderType::Market, Some(_), Some(_)) => {
            return Err(not_allowed(
                "quoteOrderQty",
                "send quantity or quoteOrderQty, not both",
            ))
        }
        (OrderType::Market, None, None) => return Err(missing("quantity or quoteOrderQty", t)),
        (OrderType::Market, _, _) => {}
        (_, _, Some(_)) => {
            return Err(not_allowed(
                "quoteOrderQty",
                "only MARKET orders take a quote quantity",
            ))
        }
        (_, None, _) => return Err(missing("quantity", t)),
        _ => {}
    }
    // Prices.
    if needs_price && o.price.is_none() && o.peg.is_none() {
        return Err(missing("price", t));
    }
    if !needs_price && o.price.is_some() {
        return Err(not_allowed(
            "price",
            "market and stop-market types take no limit price",
        ));
    }
    if needs_stop && o.stop_price.is_none() && o.trailing_delta.is_none() {
        return Err(missing("stopPrice or trailingDelta", t));
    }
    if !needs_stop && (o.stop_price.is_some() || o.trailing_delta.is_some()) {
        return Err(not_allowed(
            "stopPrice",
            "only STOP_LOSS* and TAKE_PROFIT* orders trigger",
        ));
    }
    if o.iceberg_qty.is_some() {
        let ok = matches!(t, OrderType::LimitMaker)
            || (needs_price && o.time_in_force == Some(TimeInForce::Gtc));
        if !ok {
            return Err(not_allowed(
                "icebergQty",
                "icebergs need a limit type with timeInForce=GTC",
            ));
        }
    }
    if let Some(st) = o.strategy_type {
        if st < 1_000_000 {
            return Err(BuildError::OutOfRange {
                param: "strategyType",
                value: st.to_string(),
                range: ">= 1000000",
            });
        }
    }
    if o.self_trade_prevention == Some(SelfTradePrevention::Unknown) {
        return Err(not_allowed(
            "selfTradePreventionMode",
            "UNKNOWN is not a mode",
        ));
    }

    r.push("side", o.side.as_str());
    r.push("type", t.as_str());
    r.push_opt("timeInForce", o.time_in_force.map(|v| v.as_str()));
    if let Some(q) = o.quantity {
        r.push("quantity", qty_param(inst, "quantity", q, policy)?);
    }
    if let Some(qq) = o.quote_order_qty {
        if !qq.is_positive() {
            return Err(BuildError::NotPositive {
                param: "quoteOrderQty",
                value: qq.to_string(),
            });
        }
        r.push("quoteOrderQty", plain_price(qq));
    }
    if let Some(p) = o.price {
        r.push(
            "price",
            price_param(inst, "price", p, PriceRole::Limit(o.side), policy)?,
        );
    }
    if let Some(p) = o.stop_price {
        r.push(
            "stopPrice",
            price_param(inst, "stopPrice", p, PriceRole::Trigger, policy)?,
        );
    }
    r.push_opt("trailingDelta", o.trailing_delta.map(|v| v.to_string()));
    if let Some(q) = o.iceberg_qty {
        r.push("icebergQty", qty_param(inst, "icebergQty", q, policy)?);
    }
    r.push_opt(
        "newClientOrderId",
        o.client_order_id.map(|c| c.as_str().to_string()),
    );
    r.push_opt("strategyId", o.strategy_id.map(|v| v.to_string()));
    r.push_opt("strategyType", o.strategy_type.map(|v| v.to_string()));
    r.push("newOrderRespType", o.resp_type.as_str());
    r.push_opt(
        "selfTradePreventionMode",
        o.self_trade_prevention.map(|v| v.as_str()),
    );
    if let Some(peg) = o.peg {
        if peg.price_type == PegPriceType::Unknown
            || peg.offset_type == Some(PegOffsetType::Unknown)
        {
            return Err(not_allowed("pegPriceType", "UNKNOWN is not a peg type"));
        }
        r.push("pegPriceType", peg.price_type.as_str());
        r.push_opt("pegOffsetValue", peg.offset_value.map(|v| v.to_string()));
        r.push_opt("pegOffsetType", peg.offset_type.map(|v| v.as_str()));
    }
    Ok(())
}

/// `POST /api/v3/order`.
pub fn new_order(
    inst: &Instrument,
    order: &SpotOrder,
    policy: NumberPolicy,
) -> Result<RestRequest, BuildError> {
    check_spot(inst)?;
    let mut r = req(
        Endpoint::NewOrder,
        Method::Post,
        "/api/v3/order",
        Security::Trade,
        Cost {
            weight: 1,
            orders: 1,
        },
    );
    r.push("symbol", inst.id.symbol.as_str());
    push_order(&mut r, inst, order, policy)?;
    Ok(r)
}

/// `POST /api/v3/order/test`: validated by Binance, never executed. With
/// `compute_commission_rates` the answer carries the commission rates (weight 20).
pub fn test_order(
    inst: &Instrument,
    order: &SpotOrder,
    policy: NumberPolicy,
    compute_commission_rates: bool,
) -> Result<RestRequest, BuildError> {
    check_spot(inst)?;
    let weight = if compute_commission_rates { 20 } else { 1 };
    let mut r = req(
        Endpoint::TestOrder,
        Method::Post,
        "/api/v3/order/test",
        Security::Trade,
        Cost::weight(weight),
    );
    r.push("symbol", inst.id.symbol.as_str());
    push_order(&mut r, inst, order, policy)?;
    if compute_commission_rates {
        r.push("computeCommissionRates", "true");
    }
    Ok(r)
}

fn push_order_ref(r: &mut RestRequest, order: OrderRef) {
    match order {
        OrderRef::Venue(id) => r.push("orderId", id.0.to_string()),
        OrderRef::Client(id) => r.push("origClientOrderId", id.as_str()),
    }
}

/// `DELETE /api/v3/order`.
pub fn cancel_order(symbol: &Symbol, order: OrderRef) -> RestRequest {
    cancel_order_with(symbol, order, None, None)
}

/// `DELETE /api/v3/order` with the cancel's own client id and/or cancel restrictions.
pub fn cancel_order_with(
    symbol: &Symbol,
    order: OrderRef,
    new_client_order_id: Option<ClientOrderId>,
    restrictions: Option<CancelRestrictions>,
) -> RestRequest {
    let mut r = req(
        Endpoint::CancelOrder,
        Method::Delete,
        "/api/v3/order",
        Security::Trade,
        Cost::weight(1),
    );
    r.push("symbol", symbol.as_str());
    push_order_ref(&mut r, order);
    r.push_opt(
        "newClientOrderId",
        new_client_order_id.map(|c| c.as_str().to_string()),
    );
    r.push_opt("cancelRestrictions", restrictions.map(|v| v.as_str()));
    r
}

/// `DELETE /api/v3/openOrders`: cancels every open order (and order list) of a symbol.
pub fn cancel_all(symbol: &Symbol) -> RestRequest {
    let mut r = req(
        Endpoint::CancelAllOrders,
        Method::Delete,
        "/api/v3/openOrders",
        Security::Trade,
        Cost::weight(1),
    );
    r.push("symbol", symbol.as_str());
    r
}

/// The cancel half of a cancel-replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CancelReplace {
    /// What to do if the cancel fails.
    pub mode: CancelReplaceMode,
    /// The order to cancel.
    pub cancel: OrderRef,
    /// Client id of the cancel itself.
    pub cancel_new_client_order_id: Option<ClientOrderId>,
    /// Cancel only in these states.
    pub cancel_restrictions: Option<CancelRestrictions>,
    /// What to do when over the order rate limit.
    pub rate_limit_exceeded_mode: Option<OrderRateLimitExceededMode>,
}

impl CancelReplace {
    /// Cancel `order`; place the new one only if the cancel succeeded.
    pub fn stop_on_failure(order: OrderRef) -> Self {
        Self {
            mode: CancelReplaceMode::StopOnFailure,
            cancel: order,
            cancel_new_client_order_id: None,
            cancel_restrictions: None,
            rate_limit_exceeded_mode: None,
        }
    }
}

/// `POST /api/v3/order/cancelReplace`: cancel an order and place a new one in
/// one request. A partial success comes back as HTTP 409 (`-2021`/`-2022`).
pub fn cancel_replace(
    inst: &Instrument,
    cancel: &CancelReplace,
    new: &SpotOrder,
    policy: NumberPolicy,
) -> Result<RestRequest, BuildError> {
    check_spot(inst)?;
    let mut r = req(
        Endpoint::CancelReplace,
        Method::Post,
        "/api/v3/order/cancelReplace",
        Security::Trade,
        Cost {
            weight: 1,
            orders: 1,
        },
    );
    r.push("symbol", inst.id.symbol.as_str());
    push_order(&mut r, inst, new, policy)?;
    r.push("cancelReplaceMode", cancel.mode.as_str());
    match cancel.cancel {
        OrderRef::Venue(id) => r.push("cancelOrderId", id.0.to_string()),
        OrderRef::Client(id) => r.push("cancelOrigClientOrderId", id.as_str()),
    }
    r.push_opt(
        "cancelNewClientOrderId",
        cancel
            .cancel_new_client_order_id
            .map(|c| c.as_str().to_string()),
    );
    r.push_opt(
        "cancelRestrictions",
        cancel.cancel_restrictions.map(|v| v.as_str()),
    );
    r.push_opt(
        "orderRateLimitExceededMode",
        cancel.rate_limit_exceeded_mode.map(|v| v.as_str()),
    );
    Ok(r)
}

/// `GET /api/v3/order`.
pub fn query_order(symbol: &Symbol, order: OrderRef) -> RestRequest {
    let mut r = req(
        Endpoint::QueryOrder,
        Method::Get,
        "/api/v3/order",
        Security::UserData,
        Cost::weight(4),
    );
    r.push("symbol", symbol.as_str());
    push_order_ref(&mut r, order);
    r
}

/// `GET /api/v3/openOrders`, for one symbol (weight 6) or all (weight 80).
pub fn open_orders(symbol: Option<&Symbol>) -> RestRequest {
    let weight = if symbol.is_some() { 6 } else { 80 };
    let mut r = req(
        Endpoint::OpenOrders,
        Method::Get,
        "/api/v3/openOrders",
        Security::UserData,
        Cost::weight(weight),
    );
    r.push_opt("symbol", symbol.map(|s| s.as_str()));
    r
}

/// `GET /api/v3/allOrders`: from `order_id` on, or in a time range; `limit` ≤ 1000.
pub fn all_orders(
    symbol: &Symbol,
    order_id: Option<u64>,
    range: Range,
) -> Result<RestRequest, BuildError> {
    check_limit(range.limit, 1000)?;
    let mut r = req(
        Endpoint::AllOrders,
        Method::Get,
        "/api/v3/allOrders",
        Security::UserData,
        Cost::weight(20),
    );
    r.push("symbol", symbol.as_str());
    r.push_opt("orderId", order_id.map(|v| v.to_string()));
    push_range(&mut r, range);
    Ok(r)
}

/// `GET /api/v3/myTrades`: the account's trades of one order (`order_id`),
/// from a trade id (`from_id`), or in a time range; `limit` ≤ 1000.
pub fn my_trades(
    symbol: &Symbol,
    order_id: Option<u64>,
    from_id: Option<u64>,
    range: Range,
) -> Result<RestRequest, BuildError> {
    check_limit(range.limit, 1000)?;
    if from_id.is_some() && (range.start_ms.is_some() || range.end_ms.is_some()) {
        return Err(not_allowed(
            "fromId",
            "fromId cannot be combined with startTime/endTime",
        ));
    }
    let weight = if order_id.is_some() { 5 } else { 20 };
    let mut r = req(
        Endpoint::AccountTrades,
        Method::Get,
        "/api/v3/myTrades",
        Security::UserData,
        Cost::weight(weight),
    );
    r.push("symbol", symbol.as_str());
    r.push_opt("orderId", order_id.map(|v| v.to_string()));
    r.push_opt("fromId", from_id.map(|v| v.to_string()));
    push_range(&mut r, range);
    Ok(r)
}

/// `GET /api/v3/account` (balances, commission rates, permissions).
pub fn account(omit_zero_balances: bool) -> RestRequest {
    let mut r = req(
        Endpoint::Account,
        Method::Get,
        "/api/v3/account",
        Security::UserData,
        Cost::weight(20),
    );
    if omit_zero_balances {
        r.push("omitZeroBalances", "true");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{ContractKind, Currency, InstrumentId, LotLimits};

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn btc() -> Instrument {
        Instrument {
            id: InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap(),
            contract: ContractKind::Spot,
            base: Currency::new("BTC").unwrap(),
            quote: Currency::new("USDT").unwrap(),
            margin_asset: Currency::new("USDT").unwrap(),
            price_precision: 8,
            qty_precision: 8,
            tick_size: p("0.01"),
            min_price: p("0.01"),
            max_price: p("1000000"),
            lot: LotLimits {
                min_qty: q("0.00001"),
                max_qty: q("9000"),
                step: q("0.00001"),
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

    fn params(r: &RestRequest) -> Vec<(&str, &str)> {
        r.params().collect()
    }

    #[test]
    fn limit_order_parameters_in_order() {
        let r = new_order(
            &btc(),
            &SpotOrder::limit(Side::Buy, q("0.01000"), p("61737.60")),
            NumberPolicy::Exact,
        )
        .unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/api/v3/order");
        assert!(r.query.is_empty());
        assert_eq!(
            params(&r),
            vec![
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.01"),
                ("price", "61737.6"),
                ("newOrderRespType", "FULL"),
            ]
        );
        assert_eq!(
            r.cost,
            Cost {
                weight: 1,
                orders: 1
            }
        );
    }

    #[test]
    fn every_type_checks_its_mandatory_parameters() {
        let i = btc();
        let ok = |o: SpotOrder| new_order(&i, &o, NumberPolicy::Exact);
        assert!(ok(SpotOrder::limit_maker(Side::Sell, q("1"), p("2")))
            .unwrap()
            .get("timeInForce")
            .is_none());
        assert!(ok(SpotOrder::market(Side::Buy, q("1"))).is_ok());
        assert_eq!(
            ok(SpotOrder::market_quote(Side::Buy, p("10.5")))
                .unwrap()
                .get("quoteOrderQty"),
            Some("10.5")
        );
        assert_eq!(
            ok(SpotOrder::stop_loss(Side::Sell, q("1"), p("50000")))
                .unwrap()
                .get("stopPrice"),
            Some("50000")
        );
        assert!(ok(SpotOrder::stop_loss_limit(
            Side::Sell,
            q("1"),
            p("49000"),
            p("50000")
        ))
        .is_ok());
        assert!(ok(SpotOrder::take_profit(Side::Sell, q("1"), p("70000"))).is_ok());
        assert!(ok(SpotOrder::take_profit_limit(
            Side::Sell,
            q("1"),
            p("70000"),
            p("69000")
        ))
        .is_ok());
        let trailing = ok(
            SpotOrder::stop_loss_limit(Side::Sell, q("1"), p("49000"), p("1"))
                .without_stop_price()
                .trailing_delta(500),
        )
        .unwrap();
        assert_eq!(trailing.get("trailingDelta"), Some("500"));
        assert!(trailing.get("stopPrice").is_none());

        // Missing / forbidden combinations.
        let mut m = SpotOrder::market(Side::Buy, q("1"));
        m.quote_order_qty = Some(p("10"));
        assert!(matches!(
            ok(m),
            Err(BuildError::NotAllowed {
                param: "quoteOrderQty",
                ..
            })
        ));
        let mut l = SpotOrder::limit(Side::Buy, q("1"), p("1"));
        l.time_in_force = None;
        assert!(matches!(
            ok(l),
            Err(BuildError::Missing {
                param: "timeInForce",
                ..
            })
        ));
        assert!(matches!(
            ok(SpotOrder::limit(Side::Buy, q("1"), p("1")).time_in_force(TimeInForce::Gtx)),
            Err(BuildError::NotAllowed { .. })
        ));
        assert!(matches!(
            ok(SpotOrder::stop_loss(Side::Sell, q("1"), p("1")).without_stop_price()),
            Err(BuildError::Missing { .. })
        ));
        assert!(matches!(
            ok(SpotOrder::limit(Side::Buy, q("1"), p("1"))
                .time_in_force(TimeInForce::Ioc)
                .iceberg(q("0.1"))),
            Err(BuildError::NotAllowed {
                param: "icebergQty",
                ..
            })
        ));
        let mut f = SpotOrder::market(Side::Buy, q("1"));
        f.order_type = OrderType::StopMarket;
        assert!(matches!(ok(f), Err(BuildError::Unsupported { .. })));
        assert!(matches!(
            ok(SpotOrder::limit(Side::Buy, q("1"), p("1")).strategy(1, 5)),
            Err(BuildError::OutOfRange { .. })
        ));
    }

    #[test]
    fn market_data_weights_follow_the_limit() {
        let s = Symbol::new("BTCUSDT").unwrap();
        assert_eq!(depth(&s, None).unwrap().cost.weight, 5);
        assert_eq!(depth(&s, Some(1000)).unwrap().cost.weight, 50);
        assert_eq!(depth(&s, Some(5000)).unwrap().cost.weight, 250);
        assert!(depth(&s, Some(5001)).is_err());
        assert_eq!(open_orders(None).cost.weight, 80);
        assert_eq!(open_orders(Some(&s)).cost.weight, 6);
        let e = exchange_info(&[s, Symbol::new("ETHUSDT").unwrap()]);
        assert_eq!(e.get("symbols"), Some("[\"BTCUSDT\",\"ETHUSDT\"]"));
        let k = klines(
            &s,
            KlineInterval::M1,
            Range {
                start_ms: Some(1),
                end_ms: None,
                limit: Some(10),
            },
        )
        .unwrap();
        assert_eq!(
            k.params().collect::<Vec<_>>(),
            vec![
                ("symbol", "BTCUSDT"),
                ("interval", "1m"),
                ("startTime", "1"),
                ("limit", "10")
            ]
        );
    }
}
