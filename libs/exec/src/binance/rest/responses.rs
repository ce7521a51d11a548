//! Typed REST answers for the endpoints built in [`super::spot`] and
//! [`super::futures`] (exchangeInfo is in [`super::exchange_info`]).
//!
//! Prices and quantities are parsed exactly into `veloz-core` fixed point;
//! amounts that can exceed an `i64` of `10^-8` units (quote volumes,
//! balances) are [`Amount`]s (`i128`). Unknown fields are ignored; fields that
//! only some versions or endpoints send are `Option`s, so one type reads the
//! ACK, RESULT and FULL shapes, and the USD-M and COIN-M variants. A few
//! helpers turn answers into normalised `veloz-core` events.

use std::fmt;

use serde::{Deserialize, Deserializer};
use veloz_core::events::{Balance, Bar, BookSnapshot, EventTimes, Level, PositionReport, Trade};
use veloz_core::fixed::{parse_raw, write_raw};
use veloz_core::{
    AggressorSide, Currency, FixedError, InstrumentId, MarginMode, Money, Price, Quantity, Side,
    TradeId, UnixNanos,
};

use super::types::{
    AlgoStatus, OrderStatus, OrderType, PositionSide, PriceMatch, SelfTradePrevention, TimeInForce,
    WorkingType,
};
use crate::binance::error::{de_lenient_i64, ApiErrorBody};

/// An exact decimal amount in `i128` raw units of `10^-8` (balances, quote
/// volumes, PnL: anything that may not fit a `Price`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount(pub i128);

impl Amount {
    /// Parses a plain decimal string (at most 8 decimals).
    pub fn parse(s: &str) -> Result<Self, FixedError> {
        parse_raw(s).map(|(raw, _)| Self(raw))
    }

    /// Raw `10^-8` units.
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// As money of `currency`.
    pub fn money(self, currency: Currency) -> Money {
        Money::from_raw(self.0, currency)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_raw(f, self.0, 0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A `u32` sent as a JSON number or a string (`"leverage":"20"` vs `20`).
pub(crate) fn de_lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = de_lenient_i64(d)?;
    u32::try_from(v).map_err(serde::de::Error::custom)
}

fn de_opt_lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "de_lenient_u32")] u32);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

fn de_opt_lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "de_lenient_i64")] i64);
    match Option::<W>::deserialize(d)? {
        Some(W(v)) => u64::try_from(v).map(Some).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// A bool sent as `true` or `"true"`.
fn de_opt_lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    match Option::<B>::deserialize(d)? {
        None => Ok(None),
        Some(B::Bool(b)) => Ok(Some(b)),
        Some(B::Str(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom(format!(
                "expected a boolean, got {s:?}"
            ))),
        },
    }
}

/// A margin mode in any of Binance's spellings (`"cross"`, `"CROSSED"`, `"isolated"`, `"ISOLATED"`).
fn de_opt_margin<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MarginMode>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => match s.to_ascii_lowercase().as_str() {
            "cross" | "crossed" => Ok(Some(MarginMode::Cross)),
            "isolated" => Ok(Some(MarginMode::Isolated)),
            _ => Err(serde::de::Error::custom(format!(
                "unknown margin type {s:?}"
            ))),
        },
    }
}

fn ms(v: u64) -> UnixNanos {
    UnixNanos::from_millis(v)
}

// ------------------------------------------------------------------ market data

/// `GET /api/v3/time`, `/fapi/v1/time`, `/dapi/v1/time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerTime {
    /// Server time (ms).
    pub server_time: u64,
}

/// An empty answer (`ping`, spot test order, listenKey keepalive/close).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Empty {}

/// One `[price, qty]` level of a depth snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct DepthLevel(pub Price, pub Quantity);

/// `GET .../depth`: spot `{lastUpdateId,bids,asks}`, USD-M adds `E`/`T`,
/// COIN-M adds `symbol`/`pair`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DepthSnapshot {
    /// Update id the snapshot is as of.
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: u64,
    /// Message time (futures).
    #[serde(rename = "E", default)]
    pub event_time: Option<u64>,
    /// Transaction time (futures).
    #[serde(rename = "T", default)]
    pub transaction_time: Option<u64>,
    /// Symbol (COIN-M).
    #[serde(default)]
    pub symbol: Option<String>,
    /// Pair (COIN-M).
    #[serde(default)]
    pub pair: Option<String>,
    /// Bids, best first.
    pub bids: Vec<DepthLevel>,
    /// Asks, best first.
    pub asks: Vec<DepthLevel>,
}

impl DepthSnapshot {
    /// As a normalised snapshot (exchange time: `T` if sent, else `local`).
    pub fn to_book_snapshot(&self, instrument: InstrumentId, local: UnixNanos) -> BookSnapshot {
        let level = |l: &DepthLevel| Level {
            price: l.0,
            qty: l.1,
        };
        BookSnapshot {
            instrument,
            last_update_id: self.last_update_id,
            bids: self.bids.iter().map(level).collect(),
            asks: self.asks.iter().map(level).collect(),
            times: EventTimes::new(
                self.transaction_time.or(self.event_time).map_or(local, ms),
                local,
            ),
        }
    }
}

/// One kline (`[openTime, open, high, low, close, volume, closeTime,
/// quoteVolume, trades, takerBuyBase, takerBuyQuote, ignore]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kline {
    /// Open time (ms).
    pub open_time: u64,
    /// Open.
    pub open: Price,
    /// High.
    pub high: Price,
    /// Low.
    pub low: Price,
    /// Close.
    pub close: Price,
    /// Base volume.
    pub volume: Quantity,
    /// Close time (ms).
    pub close_time: u64,
    /// Quote volume.
    pub quote_volume: Amount,
    /// Number of trades.
    pub trades: u64,
    /// Taker buy base volume.
    pub taker_buy_base_volume: Quantity,
    /// Taker buy quote volume.
    pub taker_buy_quote_volume: Amount,
}

impl<'de> Deserialize<'de> for Kline {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Row(
            u64,
            Price,
            Price,
            Price,
            Price,
            Quantity,
            u64,
            Amount,
            u64,
            Quantity,
            Amount,
            serde::de::IgnoredAny,
        );
        let r = Row::deserialize(d)?;
        Ok(Self {
            open_time: r.0,
            open: r.1,
            high: r.2,
            low: r.3,
            close: r.4,
            volume: r.5,
            close_time: r.6,
            quote_volume: r.7,
            trades: r.8,
            taker_buy_base_volume: r.9,
            taker_buy_quote_volume: r.10,
        })
    }
}

impl Kline {
    /// As a normalised bar (`closed`: whether the caller knows it is final).
    pub fn to_bar(
        &self,
        instrument: InstrumentId,
        interval_secs: u32,
        closed: bool,
        local: UnixNanos,
    ) -> Bar {
        Bar {
            instrument,
            interval_secs,
            open_time: ms(self.open_time),
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
            closed,
            times: EventTimes::new(ms(self.close_time), local),
        }
    }
}

/// One recent trade (`GET .../trades`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentTrade {
    /// Trade id.
    pub id: u64,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Quote quantity.
    pub quote_qty: Amount,
    /// Time (ms).
    pub time: u64,
    /// Whether the buyer was the maker (so the seller took).
    pub is_buyer_maker: bool,
    /// Spot only.
    #[serde(default)]
    pub is_best_match: Option<bool>,
}

impl RecentTrade {
    /// As a normalised trade.
    pub fn to_trade(&self, instrument: InstrumentId, local: UnixNanos) -> Trade {
        Trade {
            instrument,
            trade_id: TradeId(self.id),
            price: self.price,
            qty: self.qty,
            aggressor: if self.is_buyer_maker {
                AggressorSide::Seller
            } else {
                AggressorSide::Buyer
            },
            times: EventTimes::new(ms(self.time), local),
        }
    }
}

// ------------------------------------------------------------------ spot orders

/// One fill of a spot `FULL` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotFill {
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Commission.
    pub commission: Amount,
    /// Commission asset.
    pub commission_asset: String,
    /// Trade id.
    pub trade_id: u64,
}

/// A spot order as new-order (ACK/RESULT/FULL), cancel, query and open/all
/// orders return it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotOrderReport {
    /// Symbol.
    pub symbol: String,
    /// Binance order id.
    pub order_id: u64,
    /// Order list id (-1 if none).
    #[serde(default)]
    pub order_list_id: Option<i64>,
    /// Client order id (for a cancel: the cancel's own id).
    pub client_order_id: String,
    /// Client id of the cancelled order (cancel answers).
    #[serde(default)]
    pub orig_client_order_id: Option<String>,
    /// Transaction time (new/cancel answers).
    #[serde(default)]
    pub transact_time: Option<u64>,
    /// Limit price.
    #[serde(default)]
    pub price: Option<Price>,
    /// Ordered quantity.
    #[serde(default)]
    pub orig_qty: Option<Quantity>,
    /// Filled quantity.
    #[serde(default)]
    pub executed_qty: Option<Quantity>,
    /// Filled quote amount (sic: `cummulativeQuoteQty`).
    #[serde(default, rename = "cummulativeQuoteQty")]
    pub cumulative_quote_qty: Option<Amount>,
    /// Ordered quote amount.
    #[serde(default)]
    pub orig_quote_order_qty: Option<Amount>,
    /// Status.
    #[serde(default)]
    pub status: Option<OrderStatus>,
    /// Time in force.
    #[serde(default)]
    pub time_in_force: Option<TimeInForce>,
    /// Type.
    #[serde(default, rename = "type")]
    pub order_type: Option<OrderType>,
    /// Side.
    #[serde(default)]
    pub side: Option<Side>,
    /// Trigger price.
    #[serde(default)]
    pub stop_price: Option<Price>,
    /// Iceberg quantity.
    #[serde(default)]
    pub iceberg_qty: Option<Quantity>,
    /// Trailing delta.
    #[serde(default)]
    pub trailing_delta: Option<u32>,
    /// Creation time (query answers).
    #[serde(default)]
    pub time: Option<u64>,
    /// Last update (query answers).
    #[serde(default)]
    pub update_time: Option<u64>,
    /// Whether it is on the book.
    #[serde(default)]
    pub is_working: Option<bool>,
    /// When it started working.
    #[serde(default)]
    pub working_time: Option<u64>,
    /// STP mode.
    #[serde(default)]
    pub self_trade_prevention_mode: Option<SelfTradePrevention>,
    /// Fills (`FULL` answers).
    #[serde(default)]
    pub fills: Vec<SpotFill>,
}

/// One order of an order list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotListOrder {
    /// Symbol.
    pub symbol: String,
    /// Order id.
    pub order_id: u64,
    /// Client order id.
    pub client_order_id: String,
}

/// An order list (OCO, OTO, ...) as cancel-all returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotOrderListReport {
    /// List id.
    pub order_list_id: i64,
    /// `OCO`, `OTO`, ...
    pub contingency_type: String,
    /// List status type.
    pub list_status_type: String,
    /// List order status.
    pub list_order_status: String,
    /// Client list id.
    pub list_client_order_id: String,
    /// Time.
    pub transaction_time: u64,
    /// Symbol.
    pub symbol: String,
    /// Member orders.
    pub orders: Vec<SpotListOrder>,
    /// Cancel reports of the members.
    #[serde(default)]
    pub order_reports: Vec<SpotOrderReport>,
}

/// One element of `DELETE /api/v3/openOrders`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SpotCancelAllItem {
    /// An order list.
    List(SpotOrderListReport),
    /// A single order.
    Order(SpotOrderReport),
}

/// Either an order report or an error (cancel-replace halves, batch items).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OrderOrError<T> {
    /// An error `{code,msg}`.
    Error(ApiErrorBody),
    /// The order.
    Order(T),
}

/// `POST /api/v3/order/cancelReplace` answer (HTTP 200), or the `data` of its
/// HTTP 409 partial-failure body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelReplaceResult {
    /// `SUCCESS`, `FAILURE` or `NOT_ATTEMPTED`.
    pub cancel_result: String,
    /// `SUCCESS`, `FAILURE` or `NOT_ATTEMPTED`.
    pub new_order_result: String,
    /// The cancel's report or error.
    #[serde(default)]
    pub cancel_response: Option<OrderOrError<SpotOrderReport>>,
    /// The new order's report or error.
    #[serde(default)]
    pub new_order_response: Option<OrderOrError<SpotOrderReport>>,
}

/// The HTTP 409 body of a partly failed cancel-replace (`-2021`/`-2022`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CancelReplaceFailure {
    /// Error code.
    #[serde(deserialize_with = "de_lenient_i64")]
    pub code: i64,
    /// Message.
    pub msg: String,
    /// What happened to each half.
    pub data: CancelReplaceResult,
}

/// Spot commission rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct CommissionRates {
    /// Maker.
    pub maker: Price,
    /// Taker.
    pub taker: Price,
    /// Buyer.
    pub buyer: Price,
    /// Seller.
    pub seller: Price,
}

/// One spot balance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpotBalance {
    /// Asset.
    pub asset: String,
    /// Free.
    pub free: Amount,
    /// Locked in orders.
    pub locked: Amount,
}

/// `GET /api/v3/account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotAccount {
    /// Maker commission (bips).
    pub maker_commission: i64,
    /// Taker commission (bips).
    pub taker_commission: i64,
    /// Buyer commission (bips).
    #[serde(default)]
    pub buyer_commission: i64,
    /// Seller commission (bips).
    #[serde(default)]
    pub seller_commission: i64,
    /// Commission rates.
    #[serde(default)]
    pub commission_rates: Option<CommissionRates>,
    /// Can trade.
    pub can_trade: bool,
    /// Can withdraw.
    pub can_withdraw: bool,
    /// Can deposit.
    pub can_deposit: bool,
    /// Brokered.
    #[serde(default)]
    pub brokered: Option<bool>,
    /// Must use STP.
    #[serde(default)]
    pub require_self_trade_prevention: Option<bool>,
    /// SOR disabled.
    #[serde(default)]
    pub prevent_sor: Option<bool>,
    /// Last update (ms).
    pub update_time: u64,
    /// `SPOT`, ...
    pub account_type: String,
    /// Balances.
    pub balances: Vec<SpotBalance>,
    /// Permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// User id.
    #[serde(default)]
    pub uid: Option<u64>,
}

impl SpotAccount {
    /// As normalised balances (assets whose code `veloz-core` cannot hold are
    /// returned by name in the error list rather than dropped silently).
    pub fn to_balances(&self, local: UnixNanos) -> (Vec<Balance>, Vec<String>) {
        let times = EventTimes::new(ms(self.update_time), local);
        let mut out = Vec::with_capacity(self.balances.len());
        let mut bad = Vec::new();
        for b in &self.balances {
            match Currency::new(&b.asset) {
                Ok(c) => out.push(Balance {
                    kind: veloz_core::MarketKind::Spot,
                    asset: c,
                    free: b.free.money(c),
                    locked: b.locked.money(c),
                    times,
                }),
                Err(_) => bad.push(b.asset.clone()),
            }
        }
        (out, bad)
    }
}

/// One spot account trade (`GET /api/v3/myTrades`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotAccountTrade {
    /// Symbol.
    pub symbol: String,
    /// Trade id.
    pub id: u64,
    /// Order id.
    pub order_id: u64,
    /// Order list id.
    #[serde(default)]
    pub order_list_id: Option<i64>,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Quote quantity.
    pub quote_qty: Amount,
    /// Commission.
    pub commission: Amount,
    /// Commission asset.
    pub commission_asset: String,
    /// Time (ms).
    pub time: u64,
    /// We bought.
    pub is_buyer: bool,
    /// We were maker.
    pub is_maker: bool,
    /// Best match.
    #[serde(default)]
    pub is_best_match: Option<bool>,
}

// ------------------------------------------------------------------ futures orders

/// A futures order as new-order, cancel, modify, query and open/all orders
/// return it (USD-M and COIN-M).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesOrderReport {
    /// Binance order id.
    pub order_id: u64,
    /// Symbol.
    pub symbol: String,
    /// Pair (COIN-M).
    #[serde(default)]
    pub pair: Option<String>,
    /// Status.
    pub status: OrderStatus,
    /// Client order id.
    pub client_order_id: String,
    /// Limit price (0 for market types).
    pub price: Price,
    /// Average fill price (absent in some ACK answers).
    #[serde(default)]
    pub avg_price: Option<Price>,
    /// Ordered quantity.
    pub orig_qty: Quantity,
    /// Filled quantity.
    pub executed_qty: Quantity,
    /// Filled quantity (`cumQty`).
    #[serde(default)]
    pub cum_qty: Option<Quantity>,
    /// Filled quote amount (USD-M).
    #[serde(default)]
    pub cum_quote: Option<Amount>,
    /// Filled base amount (COIN-M).
    #[serde(default)]
    pub cum_base: Option<Amount>,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Type.
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// Original type.
    #[serde(default)]
    pub orig_type: Option<OrderType>,
    /// Reduce-only.
    #[serde(default)]
    pub reduce_only: Option<bool>,
    /// Close-position.
    #[serde(default)]
    pub close_position: Option<bool>,
    /// Side.
    pub side: Side,
    /// Position side.
    pub position_side: PositionSide,
    /// Trigger price.
    #[serde(default)]
    pub stop_price: Option<Price>,
    /// Trigger source.
    #[serde(default)]
    pub working_type: Option<WorkingType>,
    /// Price protection.
    #[serde(default)]
    pub price_protect: Option<bool>,
    /// Trailing activation price.
    #[serde(default)]
    pub activate_price: Option<Price>,
    /// Trailing callback rate.
    #[serde(default)]
    pub price_rate: Option<Price>,
    /// Price match.
    #[serde(default)]
    pub price_match: Option<PriceMatch>,
    /// STP mode.
    #[serde(default)]
    pub self_trade_prevention_mode: Option<SelfTradePrevention>,
    /// GTD expiry (ms, 0 if none).
    #[serde(default)]
    pub good_till_date: Option<u64>,
    /// Creation time (query answers).
    #[serde(default)]
    pub time: Option<u64>,
    /// Last update (ms).
    #[serde(default)]
    pub update_time: Option<u64>,
}

/// One element of a futures batch answer: the order or its error.
pub type FuturesBatchItem = OrderOrError<FuturesOrderReport>;

/// A futures conditional (algo) order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgoOrderReport {
    /// Binance algo id.
    pub algo_id: u64,
    /// Client algo id.
    pub client_algo_id: String,
    /// `CONDITIONAL`.
    #[serde(default)]
    pub algo_type: Option<String>,
    /// Type (`orderType` in the docs, `type` in some answers).
    #[serde(alias = "type")]
    pub order_type: OrderType,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Position side.
    #[serde(default)]
    pub position_side: Option<PositionSide>,
    /// Time in force.
    #[serde(default)]
    pub time_in_force: Option<TimeInForce>,
    /// Quantity.
    #[serde(default)]
    pub quantity: Option<Quantity>,
    /// Status.
    pub algo_status: AlgoStatus,
    /// Trigger price.
    #[serde(default)]
    pub trigger_price: Option<Price>,
    /// Limit price.
    #[serde(default)]
    pub price: Option<Price>,
    /// Trigger source.
    #[serde(default)]
    pub working_type: Option<WorkingType>,
    /// Price match.
    #[serde(default)]
    pub price_match: Option<PriceMatch>,
    /// STP mode.
    #[serde(default)]
    pub self_trade_prevention_mode: Option<SelfTradePrevention>,
    /// Close-position.
    #[serde(default)]
    pub close_position: Option<bool>,
    /// Price protection.
    #[serde(default)]
    pub price_protect: Option<bool>,
    /// Reduce-only.
    #[serde(default)]
    pub reduce_only: Option<bool>,
    /// Trailing activation price.
    #[serde(default)]
    pub activate_price: Option<Price>,
    /// Trailing callback rate.
    #[serde(default)]
    pub callback_rate: Option<Price>,
    /// Creation time.
    #[serde(default)]
    pub create_time: Option<u64>,
    /// Last update.
    #[serde(default)]
    pub update_time: Option<u64>,
    /// Trigger time (0 if not triggered).
    #[serde(default)]
    pub trigger_time: Option<u64>,
    /// GTD expiry.
    #[serde(default)]
    pub good_till_date: Option<u64>,
}

/// `DELETE /algoOrder` answer: `{"algoId":…,"clientAlgoId":…,"code":"200","msg":"success"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgoCancelAck {
    /// Algo id.
    pub algo_id: u64,
    /// Client algo id.
    pub client_algo_id: String,
    /// `200`.
    #[serde(deserialize_with = "de_lenient_i64")]
    pub code: i64,
    /// `success`.
    #[serde(default)]
    pub msg: String,
}

/// A `{"code":200,"msg":"..."}` acknowledgement (cancel-all, margin type, position mode).
pub type CodeAck = ApiErrorBody;

// ------------------------------------------------------------------ futures account

/// One asset of a futures account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesAccountAsset {
    /// Asset.
    pub asset: String,
    /// Wallet balance.
    pub wallet_balance: Amount,
    /// Unrealised PnL.
    pub unrealized_profit: Amount,
    /// Margin balance.
    pub margin_balance: Amount,
    /// Maintenance margin.
    pub maint_margin: Amount,
    /// Initial margin.
    pub initial_margin: Amount,
    /// Position initial margin.
    pub position_initial_margin: Amount,
    /// Open-order initial margin.
    pub open_order_initial_margin: Amount,
    /// Cross wallet balance.
    #[serde(default)]
    pub cross_wallet_balance: Option<Amount>,
    /// Cross unrealised PnL.
    #[serde(default)]
    pub cross_un_pnl: Option<Amount>,
    /// Available balance.
    #[serde(default)]
    pub available_balance: Option<Amount>,
    /// Max withdrawable.
    #[serde(default)]
    pub max_withdraw_amount: Option<Amount>,
    /// Usable as margin (multi-assets mode).
    #[serde(default)]
    pub margin_available: Option<bool>,
    /// Last update.
    #[serde(default)]
    pub update_time: Option<u64>,
}

/// One position of a futures account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesAccountPosition {
    /// Symbol.
    pub symbol: String,
    /// Position side.
    pub position_side: PositionSide,
    /// Signed position size.
    pub position_amt: Quantity,
    /// Unrealised PnL.
    pub unrealized_profit: Amount,
    /// Initial margin.
    #[serde(default)]
    pub initial_margin: Option<Amount>,
    /// Maintenance margin.
    #[serde(default)]
    pub maint_margin: Option<Amount>,
    /// Leverage (v2 / COIN-M).
    #[serde(default, deserialize_with = "de_opt_lenient_u32")]
    pub leverage: Option<u32>,
    /// Isolated (v2 / COIN-M).
    #[serde(default)]
    pub isolated: Option<bool>,
    /// Entry price (v2 / COIN-M).
    #[serde(default)]
    pub entry_price: Option<Price>,
    /// Notional.
    #[serde(default)]
    pub notional: Option<Amount>,
    /// Last update.
    #[serde(default)]
    pub update_time: Option<u64>,
}

/// `GET /fapi/v2|v3/account`, `GET /dapi/v1/account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesAccount {
    /// Fee tier.
    #[serde(default)]
    pub fee_tier: Option<u32>,
    /// Can trade.
    #[serde(default)]
    pub can_trade: Option<bool>,
    /// Can deposit.
    #[serde(default)]
    pub can_deposit: Option<bool>,
    /// Can withdraw.
    #[serde(default)]
    pub can_withdraw: Option<bool>,
    /// Multi-assets margin mode (USD-M).
    #[serde(default)]
    pub multi_assets_margin: Option<bool>,
    /// Total initial margin (USD-M).
    #[serde(default)]
    pub total_initial_margin: Option<Amount>,
    /// Total maintenance margin (USD-M).
    #[serde(default)]
    pub total_maint_margin: Option<Amount>,
    /// Total wallet balance (USD-M).
    #[serde(default)]
    pub total_wallet_balance: Option<Amount>,
    /// Total unrealised PnL (USD-M).
    #[serde(default)]
    pub total_unrealized_profit: Option<Amount>,
    /// Total margin balance (USD-M).
    #[serde(default)]
    pub total_margin_balance: Option<Amount>,
    /// Available balance (USD-M).
    #[serde(default)]
    pub available_balance: Option<Amount>,
    /// Max withdrawable (USD-M).
    #[serde(default)]
    pub max_withdraw_amount: Option<Amount>,
    /// Last update.
    #[serde(default)]
    pub update_time: Option<u64>,
    /// Assets.
    #[serde(default)]
    pub assets: Vec<FuturesAccountAsset>,
    /// Positions.
    #[serde(default)]
    pub positions: Vec<FuturesAccountPosition>,
}

/// One element of `GET /fapi/v3/balance` / `GET /dapi/v1/balance`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesBalance {
    /// Account alias.
    pub account_alias: String,
    /// Asset.
    pub asset: String,
    /// Wallet balance.
    pub balance: Amount,
    /// Cross wallet balance.
    pub cross_wallet_balance: Amount,
    /// Cross unrealised PnL.
    pub cross_un_pnl: Amount,
    /// Available balance.
    pub available_balance: Amount,
    /// Max withdrawable (USD-M).
    #[serde(default)]
    pub max_withdraw_amount: Option<Amount>,
    /// Withdrawable (COIN-M).
    #[serde(default)]
    pub withdraw_available: Option<Amount>,
    /// Usable as margin (USD-M).
    #[serde(default)]
    pub margin_available: Option<bool>,
    /// Last update.
    pub update_time: u64,
}

/// One element of `GET .../positionRisk` (USD-M v2/v3, COIN-M v1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionRisk {
    /// Symbol.
    pub symbol: String,
    /// Signed position size (contracts on COIN-M).
    pub position_amt: Quantity,
    /// Entry price.
    pub entry_price: Price,
    /// Break-even price.
    #[serde(default)]
    pub break_even_price: Option<Price>,
    /// Mark price.
    pub mark_price: Price,
    /// Unrealised PnL.
    pub un_realized_profit: Amount,
    /// Liquidation price.
    pub liquidation_price: Price,
    /// Leverage (v2 / COIN-M).
    #[serde(default, deserialize_with = "de_opt_lenient_u32")]
    pub leverage: Option<u32>,
    /// Max notional at this leverage (USD-M v2).
    #[serde(default)]
    pub max_notional_value: Option<String>,
    /// Max quantity at this leverage (COIN-M).
    #[serde(default)]
    pub max_qty: Option<String>,
    /// Margin mode (`"cross"`/`"isolated"`).
    #[serde(default, deserialize_with = "de_opt_margin")]
    pub margin_type: Option<MarginMode>,
    /// Isolated margin.
    #[serde(default)]
    pub isolated_margin: Option<Amount>,
    /// Auto add margin (`"false"`).
    #[serde(default, deserialize_with = "de_opt_lenient_bool")]
    pub is_auto_add_margin: Option<bool>,
    /// Position side.
    pub position_side: PositionSide,
    /// Notional (USD-M).
    #[serde(default)]
    pub notional: Option<Amount>,
    /// Notional value (COIN-M).
    #[serde(default)]
    pub notional_value: Option<Amount>,
    /// Isolated wallet.
    #[serde(default)]
    pub isolated_wallet: Option<Amount>,
    /// Margin asset (v3).
    #[serde(default)]
    pub margin_asset: Option<String>,
    /// Initial margin (v3).
    #[serde(default)]
    pub initial_margin: Option<Amount>,
    /// Maintenance margin (v3).
    #[serde(default)]
    pub maint_margin: Option<Amount>,
    /// Last update (ms, 0 if never).
    #[serde(default)]
    pub update_time: Option<u64>,
}

impl PositionRisk {
    /// As a normalised position report; `pnl_currency` is the margin asset
    /// (USDT for USD-M, the base coin for COIN-M).
    pub fn to_report(
        &self,
        instrument: InstrumentId,
        pnl_currency: Currency,
        local: UnixNanos,
    ) -> PositionReport {
        PositionReport {
            instrument,
            position_side: self.position_side.into(),
            qty: self.position_amt,
            entry_price: self.entry_price,
            unrealized_pnl: self.un_realized_profit.money(pnl_currency),
            margin_mode: self.margin_type.unwrap_or_default(),
            times: EventTimes::new(self.update_time.filter(|t| *t > 0).map_or(local, ms), local),
        }
    }
}

/// `POST /leverage` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeverageResponse {
    /// Symbol.
    pub symbol: String,
    /// New leverage.
    #[serde(deserialize_with = "de_lenient_u32")]
    pub leverage: u32,
    /// Max notional (USD-M).
    #[serde(default)]
    pub max_notional_value: Option<String>,
    /// Max quantity (COIN-M).
    #[serde(default)]
    pub max_qty: Option<String>,
}

/// `GET /positionSide/dual` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionMode {
    /// `true`: hedge mode.
    pub dual_side_position: bool,
}

/// `POST /listenKey` (and USD-M `PUT`) answer.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenKey {
    /// The key (a bearer token for the user-data stream: not printed by `Debug`).
    pub listen_key: String,
}

impl fmt::Debug for ListenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ListenKey(***)")
    }
}

/// `POST /countdownCancelAll` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountdownCancelAll {
    /// Symbol.
    pub symbol: String,
    /// Countdown (ms).
    #[serde(deserialize_with = "de_opt_lenient_u64")]
    pub countdown_time: Option<u64>,
}

/// One futures account trade (`GET .../userTrades`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesAccountTrade {
    /// Symbol.
    pub symbol: String,
    /// Trade id.
    pub id: u64,
    /// Order id.
    pub order_id: u64,
    /// Pair (COIN-M).
    #[serde(default)]
    pub pair: Option<String>,
    /// Side.
    pub side: Side,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Realised PnL.
    pub realized_pnl: Amount,
    /// Margin asset.
    #[serde(default)]
    pub margin_asset: Option<String>,
    /// Quote quantity (USD-M).
    #[serde(default)]
    pub quote_qty: Option<Amount>,
    /// Base quantity (COIN-M).
    #[serde(default)]
    pub base_qty: Option<Amount>,
    /// Commission.
    pub commission: Amount,
    /// Commission asset.
    pub commission_asset: String,
    /// Time (ms).
    pub time: u64,
    /// Position side.
    pub position_side: PositionSide,
    /// We bought.
    pub buyer: bool,
    /// We were maker.
    pub maker: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_and_lenient_fields() {
        let a: Amount = serde_json::from_str("\"123456789012345.12345678\"").unwrap();
        assert_eq!(a.to_string(), "123456789012345.12345678");
        assert!(serde_json::from_str::<Amount>("\"1e5\"").is_err());
        let p: PositionMode = serde_json::from_str(r#"{"dualSidePosition":true}"#).unwrap();
        assert!(p.dual_side_position);
        let l: LeverageResponse = serde_json::from_str(
            r#"{"leverage":21,"maxNotionalValue":"1000000","symbol":"BTCUSDT"}"#,
        )
        .unwrap();
        assert_eq!(l.leverage, 21);
        let k: ListenKey = serde_json::from_str(
            r#"{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}"#,
        )
        .unwrap();
        assert_eq!(format!("{k:?}"), "ListenKey(***)");
        let c: CountdownCancelAll =
            serde_json::from_str(r#"{"symbol":"BTCUSDT","countdownTime":"100000"}"#).unwrap();
        assert_eq!(c.countdown_time, Some(100_000));
    }
}
