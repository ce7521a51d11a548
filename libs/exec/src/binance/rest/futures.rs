//! USD-M (`/fapi`) and COIN-M (`/dapi`) request builders.
//!
//! The two products share almost every endpoint; [`FuturesApi`] is built for
//! one of them ([`FuturesApi::USDM`], [`FuturesApi::COINM`]) and picks the
//! paths and versions that differ (account v3 on USD-M, v1 on COIN-M, ...).
//!
//! Orders: [`FuturesApi::new_order`] takes any [`FuturesOrder`] and routes it:
//! `LIMIT` and `MARKET` go to `POST /order`; the conditional types (`STOP`,
//! `STOP_MARKET`, `TAKE_PROFIT`, `TAKE_PROFIT_MARKET`, `TRAILING_STOP_MARKET`)
//! go to `POST /algoOrder` with `algoType=CONDITIONAL`, `triggerPrice` and
//! `clientAlgoId` (USD-M moved them there on 2025-12-09, `-4120` otherwise;
//! COIN-M conditionals are sent the same way). Post-only is `GTX`; hedge mode
//! is `positionSide`; `reduceOnly`, `closePosition`, `priceMatch`, `goodTillDate`,
//! `workingType`, `priceProtect`, trailing `callbackRate`/`activationPrice` and
//! self-trade prevention are all typed.
//!
//! Weights follow the futures docs (`shared/docs/binance-protocol.md` §3.2-3.3).

use veloz_core::events::SubmitOrder;
use veloz_core::{
    ClientOrderId, Instrument, MarketKind, OrderFlags, Price, Quantity, Side, Symbol,
};

use super::format::{plain_price, price_param, qty_param, NumberPolicy, PriceRole};
use super::spot::{check_limit, push_range, Range};
use super::types::{
    KlineInterval, MarginType, NewOrderRespType, OrderType, PositionSide, PriceMatch,
    SelfTradePrevention, TimeInForce, WorkingType,
};
use super::{AlgoRef, Endpoint, Method, OrderRef, RestRequest, Security};
use crate::binance::error::BuildError;
use crate::binance::ratelimit::Cost;

/// USD-M or COIN-M.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FuturesKind {
    /// USD-M (`/fapi`).
    UsdM,
    /// COIN-M (`/dapi`).
    CoinM,
}

impl FuturesKind {
    /// The `veloz-core` market kind.
    pub const fn market_kind(self) -> MarketKind {
        match self {
            Self::UsdM => MarketKind::UsdM,
            Self::CoinM => MarketKind::CoinM,
        }
    }
}

macro_rules! path {
    ($kind:expr, $p:literal) => {
        match $kind {
            FuturesKind::UsdM => concat!("/fapi", $p),
            FuturesKind::CoinM => concat!("/dapi", $p),
        }
    };
}

/// Largest number of orders in one `batchOrders` placement or modification.
pub const MAX_BATCH_ORDERS: usize = 5;
/// Largest number of ids in one batch cancel.
pub const MAX_BATCH_CANCEL: usize = 10;

/// A futures order. Build with a constructor and the setters;
/// [`FuturesApi::new_order`] checks that every parameter its type needs is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuturesOrder {
    /// Side.
    pub side: Side,
    /// Type (futures types only).
    pub order_type: OrderType,
    /// `positionSide`: must be sent (LONG/SHORT) in hedge mode.
    pub position_side: Option<PositionSide>,
    /// Time in force (`GTC`, `IOC`, `FOK`, `GTX` post-only, `GTD`, `RPI`).
    pub time_in_force: Option<TimeInForce>,
    /// Quantity (contracts on COIN-M); none with `closePosition`.
    pub quantity: Option<Quantity>,
    /// Limit price (`LIMIT`, `STOP`, `TAKE_PROFIT`), unless `price_match`.
    pub price: Option<Price>,
    /// Trigger price of conditional types.
    pub trigger_price: Option<Price>,
    /// `reduceOnly=true` (one-way mode only).
    pub reduce_only: bool,
    /// `closePosition=true` (`STOP_MARKET` / `TAKE_PROFIT_MARKET` only; no quantity).
    pub close_position: bool,
    /// Trailing stop activation price.
    pub activation_price: Option<Price>,
    /// Trailing stop callback rate in percent (0.1 to 10).
    pub callback_rate: Option<Price>,
    /// Which price triggers.
    pub working_type: Option<WorkingType>,
    /// `priceProtect=TRUE`.
    pub price_protect: bool,
    /// Our id (`newClientOrderId`, or `clientAlgoId` for conditional orders).
    pub client_order_id: Option<ClientOrderId>,
    /// Response detail (defaults to `RESULT`).
    pub resp_type: NewOrderRespType,
    /// Price from the book instead of `price`.
    pub price_match: Option<PriceMatch>,
    /// Self-trade prevention.
    pub self_trade_prevention: Option<SelfTradePrevention>,
    /// `goodTillDate` (ms) for `GTD`.
    pub good_till_date_ms: Option<u64>,
}

impl FuturesOrder {
    fn base(side: Side, order_type: OrderType, quantity: Option<Quantity>) -> Self {
        Self {
            side,
            order_type,
            position_side: None,
            time_in_force: None,
            quantity,
            price: None,
            trigger_price: None,
            reduce_only: false,
            close_position: false,
            activation_price: None,
            callback_rate: None,
            working_type: None,
            price_protect: false,
            client_order_id: None,
            resp_type: NewOrderRespType::Result,
            price_match: None,
            self_trade_prevention: None,
            good_till_date_ms: None,
        }
    }

    /// `LIMIT`, `GTC`.
    pub fn limit(side: Side, quantity: Quantity, price: Price) -> Self {
        let mut o = Self::base(side, OrderType::Limit, Some(quantity));
        o.time_in_force = Some(TimeInForce::Gtc);
        o.price = Some(price);
        o
    }

    /// `LIMIT`, `GTC`, priced by `priceMatch` instead of a price.
    pub fn limit_price_match(side: Side, quantity: Quantity, price_match: PriceMatch) -> Self {
        let mut o = Self::base(side, OrderType::Limit, Some(quantity));
        o.time_in_force = Some(TimeInForce::Gtc);
        o.price_match = Some(price_match);
        o
    }

    /// `MARKET`.
    pub fn market(side: Side, quantity: Quantity) -> Self {
        Self::base(side, OrderType::Market, Some(quantity))
    }

    /// `STOP`: a limit order at `price` placed when `trigger` is reached.
    pub fn stop(side: Side, quantity: Quantity, price: Price, trigger: Price) -> Self {
        let mut o = Self::base(side, OrderType::Stop, Some(quantity));
        o.price = Some(price);
        o.trigger_price = Some(trigger);
        o
    }

    /// `STOP_MARKET`.
    pub fn stop_market(side: Side, quantity: Quantity, trigger: Price) -> Self {
        let mut o = Self::base(side, OrderType::StopMarket, Some(quantity));
        o.trigger_price = Some(trigger);
        o
    }

    /// `TAKE_PROFIT`: a limit order at `price` placed when `trigger` is reached.
    pub fn take_profit(side: Side, quantity: Quantity, price: Price, trigger: Price) -> Self {
        let mut o = Self::stop(side, quantity, price, trigger);
        o.order_type = OrderType::TakeProfit;
        o
    }

    /// `TAKE_PROFIT_MARKET`.
    pub fn take_profit_market(side: Side, quantity: Quantity, trigger: Price) -> Self {
        let mut o = Self::stop_market(side, quantity, trigger);
        o.order_type = OrderType::TakeProfitMarket;
        o
    }

    /// `STOP_MARKET` / `TAKE_PROFIT_MARKET` with `closePosition=true`: closes
    /// the whole position when triggered.
    pub fn close_position(side: Side, order_type: OrderType, trigger: Price) -> Self {
        let mut o = Self::base(side, order_type, None);
        o.trigger_price = Some(trigger);
        o.close_position = true;
        o
    }

    /// `TRAILING_STOP_MARKET` with a callback rate in percent (0.1 to 10).
    pub fn trailing_stop_market(side: Side, quantity: Quantity, callback_rate: Price) -> Self {
        let mut o = Self::base(side, OrderType::TrailingStopMarket, Some(quantity));
        o.callback_rate = Some(callback_rate);
        o
    }

    /// Post-only: `timeInForce=GTX`.
    pub fn post_only(mut self) -> Self {
        self.time_in_force = Some(TimeInForce::Gtx);
        self
    }

    /// Good till `expire_ms`: `timeInForce=GTD`, `goodTillDate`.
    pub fn good_till(mut self, expire_ms: u64) -> Self {
        self.time_in_force = Some(TimeInForce::Gtd);
        self.good_till_date_ms = Some(expire_ms);
        self
    }

    /// Sets the time in force.
    pub fn time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = Some(tif);
        self
    }

    /// `reduceOnly=true`.
    pub fn reduce_only(mut self) -> Self {
        self.reduce_only = true;
        self
    }

    /// Sets `positionSide` (hedge mode: LONG or SHORT).
    pub fn position_side(mut self, ps: PositionSide) -> Self {
        self.position_side = Some(ps);
        self
    }

    /// Sets the client order id.
    pub fn client_order_id(mut self, id: ClientOrderId) -> Self {
        self.client_order_id = Some(id);
        self
    }

    /// Sets `workingType`.
    pub fn working_type(mut self, w: WorkingType) -> Self {
        self.working_type = Some(w);
        self
    }

    /// `priceProtect=TRUE`.
    pub fn price_protect(mut self) -> Self {
        self.price_protect = true;
        self
    }

    /// Sets the trailing activation price.
    pub fn activation_price(mut self, p: Price) -> Self {
        self.activation_price = Some(p);
        self
    }

    /// Sets `priceMatch` (removes the price).
    pub fn price_match(mut self, m: PriceMatch) -> Self {
        self.price_match = Some(m);
        self.price = None;
        self
    }

    /// Sets self-trade prevention.
    pub fn self_trade_prevention(mut self, mode: SelfTradePrevention) -> Self {
        self.self_trade_prevention = Some(mode);
        self
    }

    /// Sets the response detail (`ACK` or `RESULT`).
    pub fn resp_type(mut self, t: NewOrderRespType) -> Self {
        self.resp_type = t;
        self
    }

    /// Whether this goes to the algo-order endpoint.
    pub fn is_conditional(&self) -> bool {
        self.order_type.is_futures_conditional()
    }
}

/// A price/quantity change of an open `LIMIT` order (`PUT /order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuturesModify {
    /// The order.
    pub order: OrderRef,
    /// Its side (Binance requires it).
    pub side: Side,
    /// New (or unchanged) quantity.
    pub quantity: Quantity,
    /// New price; or
    pub price: Option<Price>,
    /// a price match instead.
    pub price_match: Option<PriceMatch>,
}

impl FuturesOrder {
    /// The futures order for a strategy's [`SubmitOrder`]: market, limit
    /// (`GTX` when post-only), stop and take-profit (market or limit),
    /// trailing stop; reduce-only, close-position, hedge-mode position side,
    /// mark-price triggers and GTD expiry are carried over.
    pub fn from_submit(cmd: &SubmitOrder) -> Result<Self, BuildError> {
        use veloz_core::OrderType as T;
        let flags = cmd.flags;
        let price = || {
            cmd.price.ok_or(BuildError::Missing {
                param: "price",
                order_type: "limit",
            })
        };
        let trigger = || {
            cmd.trigger_price.ok_or(BuildError::Missing {
                param: "triggerPrice",
                order_type: "conditional",
            })
        };
        let close = flags.contains(OrderFlags::CLOSE_POSITION);
        let mut o = match cmd.order_type {
            T::Market => Self::market(cmd.side, cmd.quantity),
            T::Limit => Self::limit(cmd.side, cmd.quantity, price()?),
            T::StopMarket if close => {
                Self::close_position(cmd.side, OrderType::StopMarket, trigger()?)
            }
            T::StopMarket => Self::stop_market(cmd.side, cmd.quantity, trigger()?),
            T::StopLimit => Self::stop(cmd.side, cmd.quantity, price()?, trigger()?),
            T::TakeProfitMarket if close => {
                Self::close_position(cmd.side, OrderType::TakeProfitMarket, trigger()?)
            }
            T::TakeProfitMarket => Self::take_profit_market(cmd.side, cmd.quantity, trigger()?),
            T::TakeProfitLimit => Self::take_profit(cmd.side, cmd.quantity, price()?, trigger()?),
            T::TrailingStopMarket => {
                let t = cmd.trailing.ok_or(BuildError::Missing {
                    param: "callbackRate",
                    order_type: "TRAILING_STOP_MARKET",
                })?;
                let mut o = Self::trailing_stop_market(cmd.side, cmd.quantity, t.callback_rate);
                o.activation_price = t.activation_price;
                if cmd.trigger_price.is_some() {
                    o.activation_price = o.activation_price.or(cmd.trigger_price);
                }
                o
            }
        };
        if close && !matches!(cmd.order_type, T::StopMarket | T::TakeProfitMarket) {
            return Err(not_allowed(
                "closePosition",
                "closePosition works with STOP_MARKET and TAKE_PROFIT_MARKET only",
            ));
        }
        if cmd.order_type.has_limit_price() {
            o.time_in_force = Some(match cmd.time_in_force {
                veloz_core::TimeInForce::Gtc => TimeInForce::Gtc,
                veloz_core::TimeInForce::Ioc => TimeInForce::Ioc,
                veloz_core::TimeInForce::Fok => TimeInForce::Fok,
                veloz_core::TimeInForce::Gtx => TimeInForce::Gtx,
                veloz_core::TimeInForce::Gtd => TimeInForce::Gtd,
            });
            if flags.contains(OrderFlags::POST_ONLY) {
                o.time_in_force = Some(TimeInForce::Gtx);
            }
            if o.time_in_force == Some(TimeInForce::Gtd) {
                o.good_till_date_ms = Some(
                    cmd.expire_time
                        .ok_or(BuildError::Missing {
                            param: "goodTillDate",
                            order_type: "GTD",
                        })?
                        .as_millis(),
                );
            }
        } else if flags.contains(OrderFlags::POST_ONLY) {
            return Err(not_allowed("postOnly", "post-only needs a limit price"));
        }
        if flags.contains(OrderFlags::REDUCE_ONLY) && !close {
            o.reduce_only = true;
        }
        o.position_side = match cmd.position_side {
            veloz_core::PositionSide::Both => None,
            ps => Some(ps.into()),
        };
        if o.is_conditional() {
            o.working_type = Some(match cmd.trigger_type {
                veloz_core::TriggerPriceType::Last => WorkingType::ContractPrice,
                veloz_core::TriggerPriceType::Mark => WorkingType::MarkPrice,
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

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Checks a futures order and returns its parameters (without `symbol`).
fn order_params(
    inst: &Instrument,
    o: &FuturesOrder,
    policy: NumberPolicy,
) -> Result<Vec<(&'static str, String)>, BuildError> {
    let t = o.order_type;
    let conditional = t.is_futures_conditional();
    let (limit_price, trigger) = match t {
        OrderType::Limit => (true, false),
        OrderType::Market => (false, false),
        OrderType::Stop | OrderType::TakeProfit => (true, true),
        OrderType::StopMarket | OrderType::TakeProfitMarket => (false, true),
        OrderType::TrailingStopMarket => (false, false),
        _ => {
            return Err(BuildError::Unsupported {
                what: "this order type (spot types are LIMIT_MAKER, STOP_LOSS...)",
                product: inst.id.kind,
            })
        }
    };
    // Price or price match.
    match (limit_price, o.price, o.price_match) {
        (true, None, None) => return Err(missing("price or priceMatch", t)),
        (true, Some(_), Some(_)) => {
            return Err(not_allowed(
                "priceMatch",
                "priceMatch cannot be sent with price",
            ))
        }
        (false, Some(_), _) => {
            return Err(not_allowed(
                "price",
                "market-type orders take no limit price",
            ))
        }
        (false, _, Some(_)) => {
            return Err(not_allowed(
                "priceMatch",
                "only LIMIT, STOP and TAKE_PROFIT take priceMatch",
            ))
        }
        _ => {}
    }
    if let Some(PriceMatch::None | PriceMatch::Unknown) = o.price_match {
        return Err(not_allowed("priceMatch", "NONE/UNKNOWN cannot be sent"));
    }
    // Time in force: mandatory on LIMIT; optional on STOP/TAKE_PROFIT; not on market types.
    match (t, o.time_in_force) {
        (OrderType::Limit, None) => return Err(missing("timeInForce", t)),
        (_, Some(TimeInForce::Unknown)) => {
            return Err(not_allowed("timeInForce", "UNKNOWN cannot be sent"))
        }
        (_, Some(_)) if !limit_price => {
            return Err(not_allowed(
                "timeInForce",
                "market-type orders take no time in force",
            ))
        }
        _ => {}
    }
    match (o.time_in_force, o.good_till_date_ms) {
        (Some(TimeInForce::Gtd), None) => return Err(missing("goodTillDate", t)),
        (Some(TimeInForce::Gtd), Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(not_allowed(
                "goodTillDate",
                "goodTillDate needs timeInForce=GTD",
            ))
        }
    }
    if trigger && o.trigger_price.is_none() {
        return Err(missing("triggerPrice", t));
    }
    if !trigger && o.trigger_price.is_some() {
        return Err(not_allowed(
            "triggerPrice",
            "only STOP*/TAKE_PROFIT* orders have a trigger price",
        ));
    }
    // Size.
    if o.close_position {
        if !matches!(t, OrderType::StopMarket | OrderType::TakeProfitMarket) {
            return Err(not_allowed(
                "closePosition",
                "closePosition works with STOP_MARKET and TAKE_PROFIT_MARKET only",
            ));
        }
        if o.quantity.is_some() {
            return Err(not_allowed(
                "quantity",
                "closePosition=true closes the whole position: send no quantity",
            ));
        }
        if o.reduce_only {
            return Err(not_allowed(
                "reduceOnly",
                "reduceOnly cannot be sent with closePosition=true",
            ));
        }
    } else if o.quantity.is_none() {
        return Err(missing("quantity", t));
    }
    if o.reduce_only
        && matches!(
            o.position_side,
            Some(PositionSide::Long | PositionSide::Short)
        )
    {
        return Err(not_allowed(
            "reduceOnly",
            "reduceOnly cannot be sent in hedge mode: closing is side + positionSide",
        ));
    }
    // Trailing.
    match (t, o.callback_rate) {
        (OrderType::TrailingStopMarket, None) => return Err(missing("callbackRate", t)),
        (OrderType::TrailingStopMarket, Some(r)) => {
            let (lo, hi) = (
                Price::from_raw(10_000_000, 1),
                Price::from_raw(1_000_000_000, 0),
            );
            if r < lo || r > hi {
                return Err(BuildError::OutOfRange {
                    param: "callbackRate",
                    value: r.to_string(),
                    range: "0.1..=10 (percent)",
                });
            }
        }
        (_, Some(_)) => {
            return Err(not_allowed(
                "callbackRate",
                "only TRAILING_STOP_MARKET trails",
            ))
        }
        (_, None) => {}
    }
    if o.activation_price.is_some() && t != OrderType::TrailingStopMarket {
        return Err(not_allowed(
            "activationPrice",
            "only TRAILING_STOP_MARKET has an activation price",
        ));
    }
    if !conditional && (o.working_type.is_some() || o.price_protect) {
        return Err(not_allowed(
            "workingType",
            "workingType/priceProtect apply to conditional orders",
        ));
    }
    if o.working_type == Some(WorkingType::Unknown) {
        return Err(not_allowed("workingType", "UNKNOWN cannot be sent"));
    }
    match o.self_trade_prevention {
        Some(
            SelfTradePrevention::ExpireTaker
            | SelfTradePrevention::ExpireMaker
            | SelfTradePrevention::ExpireBoth,
        )
        | None => {}
        Some(_) => {
            return Err(not_allowed(
                "selfTradePreventionMode",
                "futures accept EXPIRE_TAKER, EXPIRE_MAKER and EXPIRE_BOTH",
            ))
        }
    }
    if o.resp_type == NewOrderRespType::Full {
        return Err(not_allowed(
            "newOrderRespType",
            "futures answer ACK or RESULT (FULL is spot only)",
        ));
    }

    let mut p: Vec<(&'static str, String)> = Vec::with_capacity(16);
    if conditional {
        p.push(("algoType", "CONDITIONAL".into()));
    }
    p.push(("side", o.side.as_str().into()));
    if let Some(ps) = o.position_side {
        p.push(("positionSide", ps.as_str().into()));
    }
    p.push(("type", t.as_str().into()));
    if let Some(tif) = o.time_in_force {
        p.push(("timeInForce", tif.as_str().into()));
    }
    if let Some(q) = o.quantity {
        p.push(("quantity", qty_param(inst, "quantity", q, policy)?));
    }
    if let Some(px) = o.price {
        p.push((
            "price",
            price_param(inst, "price", px, PriceRole::Limit(o.side), policy)?,
        ));
    }
    if let Some(tp) = o.trigger_price {
        p.push((
            "triggerPrice",
            price_param(inst, "triggerPrice", tp, PriceRole::Trigger, policy)?,
        ));
    }
    if let Some(w) = o.working_type {
        p.push(("workingType", w.as_str().into()));
    }
    if let Some(m) = o.price_match {
        p.push(("priceMatch", m.as_str().into()));
    }
    if o.close_position {
        p.push(("closePosition", "true".into()));
    }
    if o.price_protect {
        p.push(("priceProtect", "TRUE".into()));
    }
    if o.reduce_only {
        p.push(("reduceOnly", bool_str(true).into()));
    }
    if let Some(a) = o.activation_price {
        p.push((
            "activationPrice",
            price_param(inst, "activationPrice", a, PriceRole::Trigger, policy)?,
        ));
    }
    if let Some(r) = o.callback_rate {
        p.push(("callbackRate", plain_price(r)));
    }
    if let Some(id) = o.client_order_id {
        let name = if conditional {
            "clientAlgoId"
        } else {
            "newClientOrderId"
        };
        p.push((name, id.as_str().into()));
    }
    p.push(("newOrderRespType", o.resp_type.as_str().into()));
    if let Some(stp) = o.self_trade_prevention {
        p.push(("selfTradePreventionMode", stp.as_str().into()));
    }
    if let Some(gtd) = o.good_till_date_ms {
        p.push(("goodTillDate", gtd.to_string()));
    }
    Ok(p)
}

fn modify_params(
    inst: &Instrument,
    m: &FuturesModify,
    policy: NumberPolicy,
) -> Result<Vec<(&'static str, String)>, BuildError> {
    let mut p: Vec<(&'static str, String)> = Vec::with_capacity(6);
    match m.order {
        OrderRef::Venue(id) => p.push(("orderId", id.0.to_string())),
        OrderRef::Client(id) => p.push(("origClientOrderId", id.as_str().into())),
    }
    p.push(("side", m.side.as_str().into()));
    p.push(("quantity", qty_param(inst, "quantity", m.quantity, policy)?));
    match (m.price, m.price_match) {
        (Some(px), None) => p.push((
            "price",
            price_param(inst, "price", px, PriceRole::Limit(m.side), policy)?,
        )),
        (None, Some(PriceMatch::None | PriceMatch::Unknown)) => {
            return Err(not_allowed("priceMatch", "NONE/UNKNOWN cannot be sent"))
        }
        (None, Some(pm)) => p.push(("priceMatch", pm.as_str().into())),
        (Some(_), Some(_)) => {
            return Err(not_allowed(
                "priceMatch",
                "priceMatch cannot be sent with price",
            ))
        }
        (None, None) => {
            return Err(BuildError::Missing {
                param: "price or priceMatch",
                order_type: "modify",
            })
        }
    }
    Ok(p)
}

/// A JSON object with string values, in order (one element of `batchOrders`).
fn json_object(symbol: &str, params: &[(&'static str, String)]) -> String {
    let mut s = String::with_capacity(64 + params.len() * 24);
    s.push('{');
    let all =
        std::iter::once(("symbol", symbol)).chain(params.iter().map(|(k, v)| (*k, v.as_str())));
    for (i, (k, v)) in all.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::Value::from(k).to_string());
        s.push(':');
        s.push_str(&serde_json::Value::from(v).to_string());
    }
    s.push('}');
    s
}

/// Builds requests for one futures product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FuturesApi {
    /// USD-M or COIN-M.
    pub kind: FuturesKind,
}

impl FuturesApi {
    /// USD-M (`/fapi`).
    pub const USDM: Self = Self {
        kind: FuturesKind::UsdM,
    };
    /// COIN-M (`/dapi`).
    pub const COINM: Self = Self {
        kind: FuturesKind::CoinM,
    };

    /// The builder for a futures market kind (`None` for spot).
    pub fn for_kind(kind: MarketKind) -> Option<Self> {
        match kind {
            MarketKind::UsdM => Some(Self::USDM),
            MarketKind::CoinM => Some(Self::COINM),
            MarketKind::Spot => None,
        }
    }

    fn req(
        &self,
        endpoint: Endpoint,
        method: Method,
        path: &'static str,
        security: Security,
        cost: Cost,
    ) -> RestRequest {
        RestRequest::new(
            self.kind.market_kind(),
            endpoint,
            method,
            path,
            security,
            cost,
        )
    }

    fn check(&self, inst: &Instrument) -> Result<(), BuildError> {
        if inst.id.kind == self.kind.market_kind() {
            Ok(())
        } else {
            Err(BuildError::WrongProduct {
                instrument: inst.id.to_string(),
                expected: self.kind.market_kind(),
            })
        }
    }

    fn um(&self) -> bool {
        self.kind == FuturesKind::UsdM
    }

    /// `GET /v1/ping`.
    pub fn ping(&self) -> RestRequest {
        self.req(
            Endpoint::Ping,
            Method::Get,
            path!(self.kind, "/v1/ping"),
            Security::None,
            Cost::weight(1),
        )
    }

    /// `GET /v1/time` (for [`crate::binance::signing::TimeSync`]).
    pub fn server_time(&self) -> RestRequest {
        self.req(
            Endpoint::ServerTime,
            Method::Get,
            path!(self.kind, "/v1/time"),
            Security::None,
            Cost::weight(1),
        )
    }

    /// `GET /v1/exchangeInfo` (every symbol).
    pub fn exchange_info(&self) -> RestRequest {
        self.req(
            Endpoint::ExchangeInfo,
            Method::Get,
            path!(self.kind, "/v1/exchangeInfo"),
            Security::None,
            Cost::weight(1),
        )
    }

    /// `GET /v1/depth`; `limit` one of 5, 10, 20, 50, 100, 500, 1000 (default 500).
    pub fn depth(&self, symbol: &Symbol, limit: Option<u16>) -> Result<RestRequest, BuildError> {
        let l = limit.unwrap_or(500);
        let weight = match l {
            5 | 10 | 20 | 50 => 2,
            100 => 5,
            500 => 10,
            1000 => 20,
            _ => {
                return Err(BuildError::OutOfRange {
                    param: "limit",
                    value: l.to_string(),
                    range: "one of 5, 10, 20, 50, 100, 500, 1000",
                })
            }
        };
        let mut r = self.req(
            Endpoint::Depth,
            Method::Get,
            path!(self.kind, "/v1/depth"),
            Security::None,
            Cost::weight(weight),
        );
        r.push("symbol", symbol.as_str());
        if limit.is_some() {
            r.push("limit", l.to_string());
        }
        Ok(r)
    }

    /// `GET /v1/klines`; `limit` ≤ 1500 (default 500). Weight grows with the limit.
    pub fn klines(
        &self,
        symbol: &Symbol,
        interval: KlineInterval,
        range: Range,
    ) -> Result<RestRequest, BuildError> {
        check_limit(range.limit, 1500)?;
        if interval == KlineInterval::S1 {
            return Err(BuildError::Unsupported {
                what: "1s klines",
                product: self.kind.market_kind(),
            });
        }
        let weight = match range.limit.unwrap_or(500) {
            0..=99 => 1,
            100..=499 => 2,
            500..=1000 => 5,
            _ => 10,
        };
        let mut r = self.req(
            Endpoint::Klines,
            Method::Get,
            path!(self.kind, "/v1/klines"),
            Security::None,
            Cost::weight(weight),
        );
        r.push("symbol", symbol.as_str());
        r.push("interval", interval.as_str());
        push_range(&mut r, range);
        Ok(r)
    }

    /// `GET /v1/trades` (recent trades); `limit` ≤ 1000.
    pub fn recent_trades(
        &self,
        symbol: &Symbol,
        limit: Option<u16>,
    ) -> Result<RestRequest, BuildError> {
        check_limit(limit, 1000)?;
        let mut r = self.req(
            Endpoint::RecentTrades,
            Method::Get,
            path!(self.kind, "/v1/trades"),
            Security::None,
            Cost::weight(5),
        );
        r.push("symbol", symbol.as_str());
        r.push_opt("limit", limit.map(|l| l.to_string()));
        Ok(r)
    }

    /// Places an order: `POST /v1/order` for `LIMIT`/`MARKET`, `POST
    /// /v1/algoOrder` for conditional types (see the module docs). Check
    /// [`RestRequest::endpoint`] to know which answer to expect.
    pub fn new_order(
        &self,
        inst: &Instrument,
        order: &FuturesOrder,
        policy: NumberPolicy,
    ) -> Result<RestRequest, BuildError> {
        self.check(inst)?;
        let params = order_params(inst, order, policy)?;
        let mut r = if order.is_conditional() {
            self.req(
                Endpoint::NewAlgoOrder,
                Method::Post,
                path!(self.kind, "/v1/algoOrder"),
                Security::Trade,
                Cost {
                    weight: 0,
                    orders: 1,
                },
            )
        } else {
            self.req(
                Endpoint::NewOrder,
                Method::Post,
                path!(self.kind, "/v1/order"),
                Security::Trade,
                Cost {
                    weight: 0,
                    orders: 1,
                },
            )
        };
        // algoType first, then symbol, as the docs list them.
        let mut it = params.into_iter().peekable();
        if let Some(("algoType", _)) = it.peek() {
            if let Some((k, v)) = it.next() {
                r.push(k, v);
            }
        }
        r.push("symbol", inst.id.symbol.as_str());
        for (k, v) in it {
            r.push(k, v);
        }
        Ok(r)
    }

    /// `POST /fapi/v1/order/test` (USD-M only): validated, never executed.
    pub fn test_order(
        &self,
        inst: &Instrument,
        order: &FuturesOrder,
        policy: NumberPolicy,
    ) -> Result<RestRequest, BuildError> {
        self.check(inst)?;
        if !self.um() {
            return Err(BuildError::Unsupported {
                what: "test orders",
                product: MarketKind::CoinM,
            });
        }
        if order.is_conditional() {
            return Err(BuildError::Unsupported {
                what: "test orders of conditional types",
                product: MarketKind::UsdM,
            });
        }
        let mut r = self.req(
            Endpoint::TestOrder,
            Method::Post,
            "/fapi/v1/order/test",
            Security::Trade,
            Cost::weight(0),
        );
        r.push("symbol", inst.id.symbol.as_str());
        for (k, v) in order_params(inst, order, policy)? {
            r.push(k, v);
        }
        Ok(r)
    }

    /// `DELETE /v1/order`.
    pub fn cancel_order(&self, symbol: &Symbol, order: OrderRef) -> RestRequest {
        let mut r = self.req(
            Endpoint::CancelOrder,
            Method::Delete,
            path!(self.kind, "/v1/order"),
            Security::Trade,
            Cost::weight(1),
        );
        r.push("symbol", symbol.as_str());
        push_order_ref(&mut r, order);
        r
    }

    /// `DELETE /v1/allOpenOrders` (answers `{"code":200,...}`).
    pub fn cancel_all(&self, symbol: &Symbol) -> RestRequest {
        let mut r = self.req(
            Endpoint::CancelAllOrders,
            Method::Delete,
            path!(self.kind, "/v1/allOpenOrders"),
            Security::Trade,
            Cost::weight(1),
        );
        r.push("symbol", symbol.as_str());
        r
    }

    /// `PUT /v1/order`: change price and/or quantity of an open `LIMIT` order.
    pub fn modify_order(
        &self,
        inst: &Instrument,
        m: &FuturesModify,
        policy: NumberPolicy,
    ) -> Result<RestRequest, BuildError> {
        self.check(inst)?;
        let mut r = self.req(
            Endpoint::ModifyOrder,
            Method::Put,
            path!(self.kind, "/v1/order"),
            Security::Trade,
            Cost {
                weight: 1,
                orders: 1,
            },
        );
        r.push("symbol", inst.id.symbol.as_str());
        for (k, v) in modify_params(inst, m, policy)? {
            r.push(k, v);
        }
        Ok(r)
    }

    /// `POST /v1/batchOrders`: up to 5 `LIMIT`/`MARKET` orders of one
    /// instrument (`batchOrders=[{...},...]`, every value a string). The
    /// answer has one order or one `{code,msg}` per element, in order.
    pub fn batch_new_orders(
        &self,
        inst: &Instrument,
        orders: &[FuturesOrder],
        policy: NumberPolicy,
    ) -> Result<RestRequest, BuildError> {
        self.check(inst)?;
        check_count("batchOrders", orders.len(), MAX_BATCH_ORDERS)?;
        let mut items = Vec::with_capacity(orders.len());
        for o in orders {
            if o.is_conditional() {
                return Err(not_allowed(
                    "batchOrders",
                    "conditional orders go one by one to the algo-order endpoint",
                ));
            }
            items.push(json_object(
                inst.id.symbol.as_str(),
                &order_params(inst, o, policy)?,
            ));
        }
        let n = u32::try_from(orders.len()).unwrap_or(u32::MAX);
        let mut r = self.req(
            Endpoint::BatchNewOrders,
            Method::Post,
            path!(self.kind, "/v1/batchOrders"),
            Security::Trade,
            Cost {
                weight: 5,
                orders: n,
            },
        );
        r.push("batchOrders", format!("[{}]", items.join(",")));
        Ok(r)
    }

    /// `PUT /v1/batchOrders`: up to 5 modifications.
    pub fn batch_modify_orders(
        &self,
        inst: &Instrument,
        mods: &[FuturesModify],
        policy: NumberPolicy,
    ) -> Result<RestRequest, BuildError> {
        self.check(inst)?;
        check_count("batchOrders", mods.len(), MAX_BATCH_ORDERS)?;
        let mut items = Vec::with_capacity(mods.len());
        for m in mods {
            items.push(json_object(
                inst.id.symbol.as_str(),
                &modify_params(inst, m, policy)?,
            ));
        }
        let n = u32::try_from(mods.len()).unwrap_or(u32::MAX);
        let mut r = self.req(
            Endpoint::BatchModifyOrders,
            Method::Put,
            path!(self.kind, "/v1/batchOrders"),
            Security::Trade,
            Cost {
                weight: 5,
                orders: n,
            },
        );
        r.push("batchOrders", format!("[{}]", items.join(",")));
        Ok(r)
    }

    /// `DELETE /v1/batchOrders`: up to 10 orders of one symbol, all by venue id
    /// (`orderIdList=[1,2]`) or all by client id (`origClientOrderIdList=["a","b"]`).
    pub fn batch_cancel_orders(
        &self,
        symbol: &Symbol,
        orders: &[OrderRef],
    ) -> Result<RestRequest, BuildError> {
        check_count("orderIdList", orders.len(), MAX_BATCH_CANCEL)?;
        let venue: Vec<String> = orders
            .iter()
            .filter_map(|o| match o {
                OrderRef::Venue(id) => Some(id.0.to_string()),
                OrderRef::Client(_) => None,
            })
            .collect();
        let client: Vec<String> = orders
            .iter()
            .filter_map(|o| match o {
                OrderRef::Client(id) => Some(serde_json::Value::from(id.as_str()).to_string()),
                OrderRef::Venue(_) => None,
            })
            .collect();
        let mut r = self.req(
            Endpoint::BatchCancelOrders,
            Method::Delete,
            path!(self.kind, "/v1/batchOrders"),
            Security::Trade,
            Cost::weight(1),
        );
        r.push("symbol", symbol.as_str());
        match (venue.is_empty(), client.is_empty()) {
            (false, true) => r.push("orderIdList", format!("[{}]", venue.join(","))),
            (true, false) => r.push("origClientOrderIdList", format!("[{}]", client.join(","))),
            _ => {
                return Err(not_allowed(
                    "orderIdList",
                    "one batch cancel takes venue ids or client ids, not both",
                ))
            }
        }
        Ok(r)
    }

    /// `GET /v1/order`.
    pub fn query_order(&self, symbol: &Symbol, order: OrderRef) -> RestRequest {
        let mut r = self.req(
            Endpoint::QueryOrder,
            Method::Get,
            path!(self.kind, "/v1/order"),
            Security::UserData,
            Cost::weight(1),
        );
        r.push("symbol", symbol.as_str());
        push_order_ref(&mut r, order);
        r
    }

    /// `GET /v1/openOrders`, for one symbol (weight 1) or all (weight 40).
    pub fn open_orders(&self, symbol: Option<&Symbol>) -> RestRequest {
        let weight = if symbol.is_some() { 1 } else { 40 };
        let mut r = self.req(
            Endpoint::OpenOrders,
            Method::Get,
            path!(self.kind, "/v1/openOrders"),
            Security::UserData,
            Cost::weight(weight),
        );
        r.push_opt("symbol", symbol.map(|s| s.as_str()));
        r
    }

    /// `GET /v1/allOrders`; `limit` ≤ 1000.
    pub fn all_orders(
        &self,
        symbol: &Symbol,
        order_id: Option<u64>,
        range: Range,
    ) -> Result<RestRequest, BuildError> {
        check_limit(range.limit, 1000)?;
        let weight = if self.um() { 5 } else { 20 };
        let mut r = self.req(
            Endpoint::AllOrders,
            Method::Get,
            path!(self.kind, "/v1/allOrders"),
            Security::UserData,
            Cost::weight(weight),
        );
        r.push("symbol", symbol.as_str());
        r.push_opt("orderId", order_id.map(|v| v.to_string()));
        push_range(&mut r, range);
        Ok(r)
    }

    /// `GET /v1/userTrades`: the account's trades, by order, from a trade id,
    /// or in a time range; `limit` ≤ 1000.
    pub fn account_trades(
        &self,
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
        let weight = if self.um() { 5 } else { 20 };
        let mut r = self.req(
            Endpoint::AccountTrades,
            Method::Get,
            path!(self.kind, "/v1/userTrades"),
            Security::UserData,
            Cost::weight(weight),
        );
        r.push("symbol", symbol.as_str());
        r.push_opt("orderId", order_id.map(|v| v.to_string()));
        r.push_opt("fromId", from_id.map(|v| v.to_string()));
        push_range(&mut r, range);
        Ok(r)
    }

    /// Account: `GET /fapi/v3/account` (assets and positions in use) or `GET /dapi/v1/account`.
    pub fn account(&self) -> RestRequest {
        let p = if self.um() {
            "/fapi/v3/account"
        } else {
            "/dapi/v1/account"
        };
        self.req(
            Endpoint::Account,
            Method::Get,
            p,
            Security::UserData,
            Cost::weight(5),
        )
    }

    /// USD-M `GET /fapi/v2/account` (every asset and symbol, with leverage).
    pub fn account_v2(&self) -> Result<RestRequest, BuildError> {
        if !self.um() {
            return Err(BuildError::Unsupported {
                what: "account v2",
                product: MarketKind::CoinM,
            });
        }
        Ok(self.req(
            Endpoint::Account,
            Method::Get,
            "/fapi/v2/account",
            Security::UserData,
            Cost::weight(5),
        ))
    }

    /// Balances: `GET /fapi/v3/balance` (weight 5) or `GET /dapi/v1/balance` (weight 1).
    pub fn balance(&self) -> RestRequest {
        if self.um() {
            self.req(
                Endpoint::Balance,
                Method::Get,
                "/fapi/v3/balance",
                Security::UserData,
                Cost::weight(5),
            )
        } else {
            self.req(
                Endpoint::Balance,
                Method::Get,
                "/dapi/v1/balance",
                Security::UserData,
                Cost::weight(1),
            )
        }
    }

    /// Positions: USD-M `GET /fapi/v2/positionRisk` filtered by `symbol`
    /// (v2 carries leverage and margin type); COIN-M `GET /dapi/v1/positionRisk`
    /// filtered by `pair` (e.g. `BTCUSD`).
    pub fn position_risk(&self, symbol_or_pair: Option<&str>) -> RestRequest {
        let mut r = if self.um() {
            self.req(
                Endpoint::PositionRisk,
                Method::Get,
                "/fapi/v2/positionRisk",
                Security::UserData,
                Cost::weight(5),
            )
        } else {
            self.req(
                Endpoint::PositionRisk,
                Method::Get,
                "/dapi/v1/positionRisk",
                Security::UserData,
                Cost::weight(1),
            )
        };
        let name = if self.um() { "symbol" } else { "pair" };
        r.push_opt(name, symbol_or_pair);
        r
    }

    /// USD-M `GET /fapi/v3/positionRisk` (only symbols with a position or open orders).
    pub fn position_risk_v3(&self, symbol: Option<&Symbol>) -> Result<RestRequest, BuildError> {
        if !self.um() {
            return Err(BuildError::Unsupported {
                what: "positionRisk v3",
                product: MarketKind::CoinM,
            });
        }
        let mut r = self.req(
            Endpoint::PositionRisk,
            Method::Get,
            "/fapi/v3/positionRisk",
            Security::UserData,
            Cost::weight(5),
        );
        r.push_opt("symbol", symbol.map(|s| s.as_str()));
        Ok(r)
    }

    /// `POST /v1/leverage` (1 to 125).
    pub fn leverage(&self, symbol: &Symbol, leverage: u8) -> Result<RestRequest, BuildError> {
        if !(1..=125).contains(&leverage) {
            return Err(BuildError::OutOfRange {
                param: "leverage",
                value: leverage.to_string(),
                range: "1..=125",
            });
        }
        let mut r = self.req(
            Endpoint::Leverage,
            Method::Post,
            path!(self.kind, "/v1/leverage"),
            Security::Trade,
            Cost::weight(1),
        );
        r.push("symbol", symbol.as_str());
        r.push("leverage", leverage.to_string());
        Ok(r)
    }

    /// `POST /v1/marginType` (`ISOLATED` or `CROSSED`).
    pub fn margin_type(&self, symbol: &Symbol, margin: MarginType) -> RestRequest {
        let mut r = self.req(
            Endpoint::MarginType,
            Method::Post,
            path!(self.kind, "/v1/marginType"),
            Security::Trade,
            Cost::weight(1),
        );
        r.push("symbol", symbol.as_str());
        r.push("marginType", margin.as_str());
        r
    }

    /// `POST /v1/positionSide/dual`: hedge mode (`true`) or one-way (`false`), for every symbol.
    pub fn set_position_mode(&self, hedge: bool) -> RestRequest {
        let mut r = self.req(
            Endpoint::SetPositionMode,
            Method::Post,
            path!(self.kind, "/v1/positionSide/dual"),
            Security::Trade,
            Cost::weight(1),
        );
        r.push("dualSidePosition", bool_str(hedge));
        r
    }

    /// `GET /v1/positionSide/dual`.
    pub fn get_position_mode(&self) -> RestRequest {
        self.req(
            Endpoint::GetPositionMode,
            Method::Get,
            path!(self.kind, "/v1/positionSide/dual"),
            Security::UserData,
            Cost::weight(30),
        )
    }

    /// `POST /v1/listenKey`: creates (or returns and extends) the user-data stream key.
    pub fn listen_key_create(&self) -> RestRequest {
        self.req(
            Endpoint::ListenKeyCreate,
            Method::Post,
            path!(self.kind, "/v1/listenKey"),
            Security::UserStream,
            Cost::weight(1),
        )
    }

    /// `PUT /v1/listenKey`: extends the key by 60 minutes (send every ~30 minutes).
    pub fn listen_key_keepalive(&self) -> RestRequest {
        self.req(
            Endpoint::ListenKeyKeepalive,
            Method::Put,
            path!(self.kind, "/v1/listenKey"),
            Security::UserStream,
            Cost::weight(1),
        )
    }

    /// `DELETE /v1/listenKey`: closes the stream.
    pub fn listen_key_close(&self) -> RestRequest {
        self.req(
            Endpoint::ListenKeyClose,
            Method::Delete,
            path!(self.kind, "/v1/listenKey"),
            Security::UserStream,
            Cost::weight(1),
        )
    }

    /// `POST /v1/countdownCancelAll`: cancel every open order of `symbol` unless
    /// this is sent again within `countdown_ms` (a dead-man's switch; 0 turns it off).
    pub fn countdown_cancel_all(&self, symbol: &Symbol, countdown_ms: u64) -> RestRequest {
        let mut r = self.req(
            Endpoint::CountdownCancelAll,
            Method::Post,
            path!(self.kind, "/v1/countdownCancelAll"),
            Security::Trade,
            Cost::weight(10),
        );
        r.push("symbol", symbol.as_str());
        r.push("countdownTime", countdown_ms.to_string());
        r
    }

    /// `DELETE /v1/algoOrder` (by `algoId` or `clientAlgoId`).
    pub fn cancel_algo_order(&self, algo: AlgoRef) -> RestRequest {
        let mut r = self.req(
            Endpoint::CancelAlgoOrder,
            Method::Delete,
            path!(self.kind, "/v1/algoOrder"),
            Security::Trade,
            Cost::weight(1),
        );
        push_algo_ref(&mut r, algo);
        r
    }

    /// `DELETE /v1/algoOpenOrders`: cancels every conditional order of a symbol.
    pub fn cancel_all_algo_orders(&self, symbol: &Symbol) -> RestRequest {
        let mut r = self.req(
            Endpoint::CancelAllAlgoOrders,
            Method::Delete,
            path!(self.kind, "/v1/algoOpenOrders"),
            Security::Trade,
            Cost::weight(1),
        );
        r.push("symbol", symbol.as_str());
        r
    }

    /// `GET /v1/algoOrder`.
    pub fn query_algo_order(&self, algo: AlgoRef) -> RestRequest {
        let mut r = self.req(
            Endpoint::QueryAlgoOrder,
            Method::Get,
            path!(self.kind, "/v1/algoOrder"),
            Security::UserData,
            Cost::weight(1),
        );
        push_algo_ref(&mut r, algo);
        r
    }

    /// `GET /v1/openAlgoOrders`, for one symbol (weight 1) or all (weight 40).
    pub fn open_algo_orders(&self, symbol: Option<&Symbol>) -> RestRequest {
        let weight = if symbol.is_some() { 1 } else { 40 };
        let mut r = self.req(
            Endpoint::OpenAlgoOrders,
            Method::Get,
            path!(self.kind, "/v1/openAlgoOrders"),
            Security::UserData,
            Cost::weight(weight),
        );
        r.push_opt("symbol", symbol.map(|s| s.as_str()));
        r
    }

    /// `GET /v1/allAlgoOrders`; `limit` ≤ 1000.
    pub fn all_algo_orders(
        &self,
        symbol: &Symbol,
        range: Range,
    ) -> Result<RestRequest, BuildError> {
        check_limit(range.limit, 1000)?;
        let mut r = self.req(
            Endpoint::AllAlgoOrders,
            Method::Get,
            path!(self.kind, "/v1/allAlgoOrders"),
            Security::UserData,
            Cost::weight(5),
        );
        r.push("symbol", symbol.as_str());
        push_range(&mut r, range);
        Ok(r)
    }
}

fn check_count(what: &'static str, got: usize, max: usize) -> Result<(), BuildError> {
    if got == 0 || got > max {
        Err(BuildError::Count {
            what,
            got,
            min: 1,
            max,
        })
    } else {
        Ok(())
    }
}

fn push_order_ref(r: &mut RestRequest, order: OrderRef) {
    match order {
        OrderRef::Venue(id) => r.push("orderId", id.0.to_string()),
        OrderRef::Client(id) => r.push("origClientOrderId", id.as_str()),
    }
}

fn push_algo_ref(r: &mut RestRequest, algo: AlgoRef) {
    match algo {
        AlgoRef::Venue(id) => r.push("algoId", id.to_string()),
        AlgoRef::Client(id) => r.push("clientAlgoId", id.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{ContractKind, Currency, InstrumentId, LotLimits, VenueOrderId};

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn btcusdt() -> Instrument {
        Instrument {
            id: InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
            contract: ContractKind::LinearPerpetual,
            base: Currency::new("BTC").unwrap(),
            quote: Currency::new("USDT").unwrap(),
            margin_asset: Currency::new("USDT").unwrap(),
            price_precision: 2,
            qty_precision: 3,
            tick_size: p("0.10"),
            min_price: p("556.80"),
            max_price: p("4529764"),
            lot: LotLimits {
                min_qty: q("0.001"),
                max_qty: q("1000"),
                step: q("0.001"),
            },
            market_lot: None,
            min_notional: Some(p("100")),
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
    fn routes_plain_and_conditional_orders() {
        let i = btcusdt();
        let api = FuturesApi::USDM;
        let r = api
            .new_order(
                &i,
                &FuturesOrder::limit(Side::Buy, q("0.010"), p("60000.10")).post_only(),
                NumberPolicy::Exact,
            )
            .unwrap();
        assert_eq!(
            (r.endpoint, r.method, r.path),
            (Endpoint::NewOrder, Method::Post, "/fapi/v1/order")
        );
        assert_eq!(
            params(&r),
            vec![
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTX"),
                ("quantity", "0.01"),
                ("price", "60000.1"),
                ("newOrderRespType", "RESULT"),
            ]
        );
        let id = ClientOrderId::new("grid.1.a").unwrap();
        let r = FuturesApi::COINM
            .new_order(
                &Instrument {
                    id: InstrumentId::binance(MarketKind::CoinM, "BTCUSD_PERP").unwrap(),
                    ..btcusdt()
                },
                &FuturesOrder::close_position(Side::Sell, OrderType::StopMarket, p("55000"))
                    .working_type(WorkingType::MarkPrice)
                    .price_protect()
                    .client_order_id(id),
                NumberPolicy::Exact,
            )
            .unwrap();
        assert_eq!(
            (r.endpoint, r.path),
            (Endpoint::NewAlgoOrder, "/dapi/v1/algoOrder")
        );
        assert_eq!(
            params(&r),
            vec![
                ("algoType", "CONDITIONAL"),
                ("symbol", "BTCUSD_PERP"),
                ("side", "SELL"),
                ("type", "STOP_MARKET"),
                ("triggerPrice", "55000"),
                ("workingType", "MARK_PRICE"),
                ("closePosition", "true"),
                ("priceProtect", "TRUE"),
                ("clientAlgoId", "grid.1.a"),
                ("newOrderRespType", "RESULT"),
            ]
        );
        // Wrong product.
        assert!(matches!(
            FuturesApi::COINM.new_order(
                &i,
                &FuturesOrder::market(Side::Buy, q("1")),
                NumberPolicy::Exact
            ),
            Err(BuildError::WrongProduct { .. })
        ));
    }

    #[test]
    fn futures_order_rules() {
        let i = btcusdt();
        let api = FuturesApi::USDM;
        let b = |o: FuturesOrder| api.new_order(&i, &o, NumberPolicy::Exact);
        assert!(matches!(
            b(FuturesOrder::market(Side::Sell, q("1"))
                .reduce_only()
                .position_side(PositionSide::Long)),
            Err(BuildError::NotAllowed {
                param: "reduceOnly",
                ..
            })
        ));
        assert!(matches!(
            b(FuturesOrder::market(Side::Buy, q("1")).post_only()),
            Err(BuildError::NotAllowed {
                param: "timeInForce",
                ..
            })
        ));
        let mut l = FuturesOrder::limit(Side::Buy, q("1"), p("60000"));
        l.price_match = Some(PriceMatch::Opponent);
        assert!(matches!(
            b(l),
            Err(BuildError::NotAllowed {
                param: "priceMatch",
                ..
            })
        ));
        assert!(matches!(
            b(FuturesOrder::limit(Side::Buy, q("1"), p("60000")).time_in_force(TimeInForce::Gtd)),
            Err(BuildError::Missing {
                param: "goodTillDate",
                ..
            })
        ));
        let gtd =
            b(FuturesOrder::limit(Side::Buy, q("1"), p("60000")).good_till(1_900_000_000_000))
                .unwrap();
        assert_eq!(gtd.get("goodTillDate"), Some("1900000000000"));
        assert!(matches!(
            b(FuturesOrder::trailing_stop_market(
                Side::Sell,
                q("1"),
                p("11")
            )),
            Err(BuildError::OutOfRange { .. })
        ));
        let t = b(
            FuturesOrder::trailing_stop_market(Side::Sell, q("1"), p("0.5"))
                .activation_price(p("65000")),
        )
        .unwrap();
        assert_eq!(t.get("callbackRate"), Some("0.5"));
        assert_eq!(t.get("activationPrice"), Some("65000"));
        let mut c = FuturesOrder::close_position(Side::Sell, OrderType::StopMarket, p("55000"));
        c.quantity = Some(q("1"));
        assert!(matches!(
            b(c),
            Err(BuildError::NotAllowed {
                param: "quantity",
                ..
            })
        ));
        let mut cs = FuturesOrder::stop(Side::Sell, q("1"), p("54000"), p("55000"));
        cs.quantity = None;
        cs.close_position = true;
        assert!(matches!(
            b(cs),
            Err(BuildError::NotAllowed {
                param: "closePosition",
                ..
            })
        ));
        assert!(matches!(
            b(FuturesOrder::limit(Side::Buy, q("1"), p("60000.05"))),
            Err(BuildError::OffTick { .. })
        ));
        assert!(matches!(
            b(FuturesOrder::limit(Side::Buy, q("1"), p("1")).resp_type(NewOrderRespType::Full)),
            Err(BuildError::NotAllowed { .. })
        ));
        let mut lm = FuturesOrder::limit(Side::Buy, q("1"), p("1"));
        lm.order_type = OrderType::LimitMaker;
        assert!(matches!(b(lm), Err(BuildError::Unsupported { .. })));
    }

    #[test]
    fn strategy_commands_map_to_orders() {
        use veloz_core::events::{SubmitOrder, Trailing};
        use veloz_core::{StrategyId, TriggerPriceType, UnixNanos};
        let i = btcusdt();
        let base = SubmitOrder {
            strategy: StrategyId::new("s1").unwrap(),
            instrument: i.id,
            client_order_id: ClientOrderId::new("s1.x.1").unwrap(),
            side: Side::Sell,
            order_type: veloz_core::OrderType::Limit,
            quantity: q("0.010"),
            price: Some(p("61000")),
            trigger_price: None,
            trigger_type: TriggerPriceType::Last,
            time_in_force: veloz_core::TimeInForce::Gtc,
            expire_time: None,
            flags: OrderFlags::POST_ONLY | OrderFlags::REDUCE_ONLY,
            position_side: veloz_core::PositionSide::Both,
            trailing: None,
            ts_init: UnixNanos(0),
        };
        let r = FuturesApi::USDM
            .new_order(
                &i,
                &FuturesOrder::from_submit(&base).unwrap(),
                NumberPolicy::Exact,
            )
            .unwrap();
        assert_eq!(r.get("timeInForce"), Some("GTX"));
        assert_eq!(r.get("reduceOnly"), Some("true"));
        assert_eq!(r.get("newClientOrderId"), Some("s1.x.1"));
        assert_eq!(r.get("positionSide"), None);
        let trail = SubmitOrder {
            order_type: veloz_core::OrderType::TrailingStopMarket,
            price: None,
            flags: OrderFlags::NONE,
            trigger_type: TriggerPriceType::Mark,
            position_side: veloz_core::PositionSide::Long,
            trailing: Some(Trailing {
                callback_rate: p("1.5"),
                activation_price: Some(p("62000")),
            }),
            ..base.clone()
        };
        let r = FuturesApi::USDM
            .new_order(
                &i,
                &FuturesOrder::from_submit(&trail).unwrap(),
                NumberPolicy::Exact,
            )
            .unwrap();
        assert_eq!(r.endpoint, Endpoint::NewAlgoOrder);
        assert_eq!(r.get("callbackRate"), Some("1.5"));
        assert_eq!(r.get("activationPrice"), Some("62000"));
        assert_eq!(r.get("workingType"), Some("MARK_PRICE"));
        assert_eq!(r.get("positionSide"), Some("LONG"));
        assert_eq!(r.get("clientAlgoId"), Some("s1.x.1"));
        let gtd = SubmitOrder {
            flags: OrderFlags::NONE,
            time_in_force: veloz_core::TimeInForce::Gtd,
            ..base.clone()
        };
        assert!(FuturesOrder::from_submit(&gtd).is_err());
        let gtd = SubmitOrder {
            expire_time: Some(UnixNanos::from_millis(1_900_000_000_000)),
            ..gtd
        };
        assert_eq!(
            FuturesOrder::from_submit(&gtd).unwrap().good_till_date_ms,
            Some(1_900_000_000_000)
        );
        // Spot: post-only limit is LIMIT_MAKER; reduce-only is refused.
        let spot = SubmitOrder {
            flags: OrderFlags::POST_ONLY,
            ..base.clone()
        };
        assert_eq!(
            super::super::spot::SpotOrder::from_submit(&spot)
                .unwrap()
                .order_type,
            OrderType::LimitMaker
        );
        assert!(super::super::spot::SpotOrder::from_submit(&base).is_err());
    }

    #[test]
    fn batches_and_account_endpoints() {
        let i = btcusdt();
        let api = FuturesApi::USDM;
        let r = api
            .batch_new_orders(
                &i,
                &[
                    FuturesOrder::limit(Side::Buy, q("0.1"), p("60")),
                    FuturesOrder::market(Side::Sell, q("0.2")).reduce_only(),
                ],
                NumberPolicy::Exact,
            )
            .unwrap();
        assert_eq!(
            r.cost,
            Cost {
                weight: 5,
                orders: 2
            }
        );
        assert_eq!(
            r.get("batchOrders"),
            Some(
                r#"[{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"0.1","price":"60","newOrderRespType":"RESULT"},{"symbol":"BTCUSDT","side":"SELL","type":"MARKET","quantity":"0.2","reduceOnly":"true","newOrderRespType":"RESULT"}]"#
            )
        );
        assert!(api
            .batch_new_orders(
                &i,
                &vec![FuturesOrder::market(Side::Buy, q("1")); 6],
                NumberPolicy::Exact
            )
            .is_err());
        let s = Symbol::new("BTCUSDT").unwrap();
        let mixed = [
            OrderRef::Venue(VenueOrderId(1)),
            OrderRef::Client(ClientOrderId::new("a").unwrap()),
        ];
        assert!(api.batch_cancel_orders(&s, &mixed).is_err());
        assert_eq!(
            api.batch_cancel_orders(&s, &mixed[..1])
                .unwrap()
                .get("orderIdList"),
            Some("[1]")
        );
        assert_eq!(api.account().path, "/fapi/v3/account");
        assert_eq!(FuturesApi::COINM.account().path, "/dapi/v1/account");
        assert_eq!(
            FuturesApi::COINM.position_risk(Some("BTCUSD")).get("pair"),
            Some("BTCUSD")
        );
        assert_eq!(
            api.set_position_mode(true).get("dualSidePosition"),
            Some("true")
        );
        assert_eq!(api.listen_key_keepalive().security, Security::UserStream);
        assert!(api.leverage(&s, 0).is_err());
        assert!(api.depth(&s, Some(200)).is_err());
        assert_eq!(api.depth(&s, Some(1000)).unwrap().cost.weight, 20);
        assert!(FuturesApi::COINM
            .test_order(
                &Instrument {
                    id: InstrumentId::binance(MarketKind::CoinM, "BTCUSD_PERP").unwrap(),
                    ..btcusdt()
                },
                &FuturesOrder::market(Side::Buy, q("1")),
                NumberPolicy::Exact
            )
            .is_err());
        let m = api
            .modify_order(
                &i,
                &FuturesModify {
                    order: OrderRef::Venue(VenueOrderId(7)),
                    side: Side::Buy,
                    quantity: q("0.25"),
                    price: Some(p("60000")),
                    price_match: None,
                },
                NumberPolicy::Exact,
            )
            .unwrap();
        assert_eq!((m.method, m.path), (Method::Put, "/fapi/v1/order"));
        assert_eq!(
            params(&m),
            vec![
                ("symbol", "BTCUSDT"),
                ("orderId", "7"),
                ("side", "BUY"),
                ("quantity", "0.25"),
                ("price", "60000")
            ]
        );
    }
}
