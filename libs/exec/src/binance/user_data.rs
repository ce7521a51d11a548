//! Binance user-data stream events (digest §7), parsed into normalised
//! `veloz-core` order and account events.
//!
//! Entry point: [`parse_user_data`] takes one text frame from a user-data
//! connection and returns a [`UserDataMessage`]. It understands the three
//! transports: the spot WebSocket-API envelope `{"subscriptionId":…,"event":{…}}`,
//! raw listenKey frames, and the combined-stream wrapper `{"stream":…,"data":…}`.
//!
//! Events: spot `executionReport`, `outboundAccountPosition`, `balanceUpdate`,
//! `listStatus`, `externalLockUpdate`, `eventStreamTerminated`; futures
//! `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`, `TRADE_LITE`, `ALGO_UPDATE`,
//! `MARGIN_CALL`, `ACCOUNT_CONFIG_UPDATE`; and `listenKeyExpired` on both.
//!
//! Every order report keeps the venue's own words (order status, execution type,
//! order type, reject and expiry reasons) next to the normalised
//! [`OrderEvent`]s, so the order manager can map them itself. Unknown fields are
//! ignored, unknown event types come back as [`UserDataMessage::Unknown`], and bad
//! input (including a client order id Binance should never send, such as an empty
//! one) is a [`UserDataError`], never a panic.

use std::borrow::Cow;

use serde::Deserialize;
use veloz_core::events::{
    AccountEvent, Balance, EventTimes, Fill, OrderEvent, OrderEventKind, PositionReport,
};
use veloz_core::{
    ClientOrderId, Currency, FixedError, IdError, InstrumentId, Liquidity, MarginMode, MarketKind,
    Money, OrderType, PositionSide, Price, Quantity, Side, TradeId, UnixNanos, VenueOrderId,
};

use super::stream::StreamSource;

/// The fee currency used when a fill reports a zero commission without an asset
/// (spot sends `"n":"0","N":null`; futures omit both).
pub const NO_FEE_ASSET: Currency = Currency::from_const("NONE");

/// Why a user-data frame could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum UserDataError {
    /// Not valid JSON, a required field is missing, or a field has the wrong type.
    #[error("malformed {what} event: {source}")]
    Json {
        /// Which event.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A price, quantity or amount is not an exact decimal.
    #[error("bad number in {what} field {field}: {source}")]
    Number {
        /// Which event.
        what: &'static str,
        /// Which field.
        field: &'static str,
        /// The decimal error.
        #[source]
        source: FixedError,
    },
    /// A symbol, asset or client order id is not a valid identifier.
    #[error("bad identifier in {what} field {field}: {source}")]
    Id {
        /// Which event.
        what: &'static str,
        /// Which field.
        field: &'static str,
        /// The id error.
        #[source]
        source: IdError,
    },
    /// A field has a value outside the set this parser knows.
    #[error("{what} field {field} has the unexpected value {value:?}")]
    BadValue {
        /// Which event.
        what: &'static str,
        /// Which field.
        field: &'static str,
        /// The value received.
        value: String,
    },
}

/// A venue order status, as Binance spells it (digest §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueOrderStatus {
    /// `NEW`.
    New,
    /// `PENDING_NEW` (spot order lists).
    PendingNew,
    /// `PARTIALLY_FILLED`.
    PartiallyFilled,
    /// `FILLED`.
    Filled,
    /// `CANCELED`.
    Canceled,
    /// `PENDING_CANCEL` (documented as unused).
    PendingCancel,
    /// `REJECTED`.
    Rejected,
    /// `EXPIRED`.
    Expired,
    /// `EXPIRED_IN_MATCH` (self-trade prevention).
    ExpiredInMatch,
    /// Any other value, kept verbatim (e.g. futures `NEW_ADL`, `NEW_INSURANCE`).
    Other(String),
}

impl VenueOrderStatus {
    fn parse(s: &str) -> Self {
        match s {
            "NEW" => Self::New,
            "PENDING_NEW" => Self::PendingNew,
            "PARTIALLY_FILLED" => Self::PartiallyFilled,
            "FILLED" => Self::Filled,
            "CANCELED" => Self::Canceled,
            "PENDING_CANCEL" => Self::PendingCancel,
            "REJECTED" => Self::Rejected,
            "EXPIRED" => Self::Expired,
            "EXPIRED_IN_MATCH" => Self::ExpiredInMatch,
            other => Self::Other(other.to_string()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "NEW",
            Self::PendingNew => "PENDING_NEW",
            Self::PartiallyFilled => "PARTIALLY_FILLED",
            Self::Filled => "FILLED",
            Self::Canceled => "CANCELED",
            Self::PendingCancel => "PENDING_CANCEL",
            Self::Rejected => "REJECTED",
            Self::Expired => "EXPIRED",
            Self::ExpiredInMatch => "EXPIRED_IN_MATCH",
            Self::Other(s) => s,
        }
    }

    /// Is the order finished (nothing left working on the book)?
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Canceled | Self::Rejected | Self::Expired | Self::ExpiredInMatch
        )
    }
}

/// What an order report is about (Binance execution type `x`, digest §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionType {
    /// `NEW`: accepted.
    New,
    /// `CANCELED`.
    Canceled,
    /// `REPLACED` (spot amend, keeping priority).
    Replaced,
    /// `REJECTED`.
    Rejected,
    /// `TRADE`: a fill.
    Trade,
    /// `EXPIRED`.
    Expired,
    /// `TRADE_PREVENTION` (spot self-trade prevention).
    TradePrevention,
    /// `CALCULATED` (futures liquidation or ADL execution).
    Calculated,
    /// `AMENDMENT` (futures order modified).
    Amendment,
    /// Any other value, kept verbatim.
    Other(String),
}

impl ExecutionType {
    fn parse(s: &str) -> Self {
        match s {
            "NEW" => Self::New,
            "CANCELED" => Self::Canceled,
            "REPLACED" => Self::Replaced,
            "REJECTED" => Self::Rejected,
            "TRADE" => Self::Trade,
            "EXPIRED" => Self::Expired,
            "TRADE_PREVENTION" => Self::TradePrevention,
            "CALCULATED" => Self::Calculated,
            "AMENDMENT" => Self::Amendment,
            other => Self::Other(other.to_string()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "NEW",
            Self::Canceled => "CANCELED",
            Self::Replaced => "REPLACED",
            Self::Rejected => "REJECTED",
            Self::Trade => "TRADE",
            Self::Expired => "EXPIRED",
            Self::TradePrevention => "TRADE_PREVENTION",
            Self::Calculated => "CALCULATED",
            Self::Amendment => "AMENDMENT",
            Self::Other(s) => s,
        }
    }
}

/// Who created an order the account did not place itself (futures client ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemOrder {
    /// A liquidation (`autoclose-…`).
    Liquidation,
    /// Auto-deleveraging (`adl_autoclose…`).
    Adl,
    /// Settlement of a delisted USD-M contract (`settlement_autoclose-…`).
    Settlement,
    /// Delivery of a COIN-M contract (`delivery_autoclose-…`).
    Delivery,
}

impl SystemOrder {
    fn of(client_order_id: &str) -> Option<Self> {
        if client_order_id.starts_with("autoclose-") {
            Some(Self::Liquidation)
        } else if client_order_id.starts_with("adl_autoclose") {
            Some(Self::Adl)
        } else if client_order_id.starts_with("settlement_autoclose") {
            Some(Self::Settlement)
        } else if client_order_id.starts_with("delivery_autoclose") {
            Some(Self::Delivery)
        } else {
            None
        }
    }
}

/// The venue's full account of one order at one update (spot `executionReport`,
/// futures `ORDER_TRADE_UPDATE`), raw venue values kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderReport {
    /// Instrument.
    pub instrument: InstrumentId,
    /// The order's client id: `C` (original id) when Binance sends one, else `c`.
    pub client_order_id: ClientOrderId,
    /// The `c` field verbatim (on a spot cancel, the cancel request's own id).
    pub wire_client_order_id: ClientOrderId,
    /// Venue order id (`i`).
    pub venue_order_id: VenueOrderId,
    /// Side (`S`).
    pub side: Side,
    /// Venue order type (`o`), e.g. `LIMIT`, `STOP_LOSS_LIMIT`, `LIQUIDATION`.
    pub order_type: String,
    /// Venue time in force (`f`).
    pub time_in_force: String,
    /// Order quantity (`q`).
    pub quantity: Quantity,
    /// Limit price (`p`; 0 for market orders).
    pub price: Price,
    /// Stop price (`P` spot, `sp` futures), if non-zero.
    pub stop_price: Option<Price>,
    /// Execution type (`x`).
    pub execution_type: ExecutionType,
    /// Order status (`X`).
    pub status: VenueOrderStatus,
    /// Reject reason (`r`), when not `NONE`.
    pub reject_reason: Option<String>,
    /// Expiry reason (spot `eR`, futures `er` code), when sent and not `0`.
    pub expiry_reason: Option<String>,
    /// Last executed quantity (`l`).
    pub last_qty: Quantity,
    /// Last executed price (`L`).
    pub last_price: Price,
    /// Cumulative filled quantity (`z`).
    pub cum_qty: Quantity,
    /// Average price (futures `ap`; spot `Z / z` is left to the caller), if non-zero.
    pub avg_price: Option<Price>,
    /// Trade id (`t`), when the report is a fill.
    pub trade_id: Option<TradeId>,
    /// Whether the fill was on the maker side (`m`).
    pub is_maker: bool,
    /// Position side (futures `ps`).
    pub position_side: Option<PositionSide>,
    /// Reduce-only (futures `R`).
    pub reduce_only: bool,
    /// Realised profit of this fill (futures `rp`), in the position's PnL asset.
    pub realized_profit: Option<Money>,
    /// Set when the order was created by the venue (liquidation, ADL, ...).
    pub system_order: Option<SystemOrder>,
    /// Clocks (exchange = transaction time `T`).
    pub times: EventTimes,
}

impl OrderReport {
    /// The venue order type as a VeloZ [`OrderType`], if it is one VeloZ places.
    pub fn core_order_type(&self) -> Option<OrderType> {
        Some(match self.order_type.as_str() {
            "LIMIT" | "LIMIT_MAKER" => OrderType::Limit,
            "MARKET" => OrderType::Market,
            "STOP_LOSS" | "STOP_MARKET" => OrderType::StopMarket,
            "STOP_LOSS_LIMIT" | "STOP" => OrderType::StopLimit,
            "TAKE_PROFIT_MARKET" => OrderType::TakeProfitMarket,
            // Spot TAKE_PROFIT is a market order; futures TAKE_PROFIT is a limit.
            "TAKE_PROFIT" if self.instrument.kind == MarketKind::Spot => {
                OrderType::TakeProfitMarket
            }
            "TAKE_PROFIT" | "TAKE_PROFIT_LIMIT" => OrderType::TakeProfitLimit,
            "TRAILING_STOP_MARKET" => OrderType::TrailingStopMarket,
            _ => return None,
        })
    }
}

/// An order report and the normalised events it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The raw report.
    pub report: OrderReport,
    /// Normalised events: `Accepted`, `Filled`, `Canceled`, `Expired`,
    /// `Rejected`, `Updated`. Empty for reports with no VeloZ meaning (a
    /// liquidation still being calculated, an unknown execution type).
    pub events: Vec<OrderEvent>,
}

/// A futures `TRADE_LITE`: a low-latency fill notice without commission. The
/// full `ORDER_TRADE_UPDATE` with the fee follows; it is deliberately not turned
/// into a `Filled` event, since fills are de-duplicated on trade id and the one
/// with the fee must win.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeLite {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Client order id (`c`).
    pub client_order_id: ClientOrderId,
    /// Venue order id (`i`).
    pub venue_order_id: VenueOrderId,
    /// Side (`S`).
    pub side: Side,
    /// Order quantity (`q`).
    pub order_qty: Quantity,
    /// Order price (`p`).
    pub order_price: Price,
    /// Fill price (`L`).
    pub price: Price,
    /// Fill quantity (`l`).
    pub qty: Quantity,
    /// Trade id (`t`).
    pub trade_id: TradeId,
    /// Maker or taker (`m`).
    pub liquidity: Liquidity,
    /// Clocks (exchange = `T`).
    pub times: EventTimes,
}

/// A futures conditional (algo) order update, `ALGO_UPDATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgoUpdate {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Client algo id (`caid`).
    pub client_order_id: ClientOrderId,
    /// Algo id (`aid`).
    pub algo_id: VenueOrderId,
    /// Algo type (`at`, e.g. `CONDITIONAL`).
    pub algo_type: String,
    /// Venue order type (`o`).
    pub order_type: String,
    /// Side (`S`).
    pub side: Side,
    /// Position side (`ps`).
    pub position_side: PositionSide,
    /// Time in force (`f`).
    pub time_in_force: String,
    /// Quantity (`q`).
    pub quantity: Quantity,
    /// Status (`X`): `NEW, CANCELED, TRIGGERING, TRIGGERED, FINISHED, REJECTED, EXPIRED`.
    pub status: String,
    /// Trigger price (`tp`), if non-zero.
    pub trigger_price: Option<Price>,
    /// Limit price (`p`), if non-zero.
    pub price: Option<Price>,
    /// The id of the order placed on the book when triggered (`ai`), if any.
    pub triggered_order_id: Option<VenueOrderId>,
    /// Average fill price of that order (`ap`), if non-zero.
    pub avg_price: Option<Price>,
    /// Its filled quantity (`aq`), if non-zero.
    pub filled_qty: Option<Quantity>,
    /// Reject or cancel message (`rm`), if any.
    pub reason: Option<String>,
    /// Reduce-only (`R`).
    pub reduce_only: bool,
    /// Close-position (`cp`).
    pub close_position: bool,
    /// Normalised events: `Accepted` (NEW), `Triggered`, `Canceled`, `Expired`,
    /// `Rejected`; none for `TRIGGERING` and `FINISHED`.
    pub events: Vec<OrderEvent>,
    /// Clocks (exchange = `T`).
    pub times: EventTimes,
}

/// A change of balance that is not a new absolute balance: spot `balanceUpdate`
/// (deposit, withdrawal, transfer) and `externalLockUpdate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceDelta {
    /// Signed change.
    pub delta: Money,
    /// Whether the change is to the externally locked amount (`externalLockUpdate`)
    /// rather than the free balance.
    pub locked: bool,
    /// Clear time (`T`).
    pub clear_time: UnixNanos,
    /// Clocks (exchange = `E`).
    pub times: EventTimes,
}

/// One asset of a futures `ACCOUNT_UPDATE`, raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuturesBalance {
    /// Wallet balance (`wb`).
    pub wallet_balance: Money,
    /// Cross wallet balance (`cw`).
    pub cross_wallet_balance: Money,
    /// Change excluding PnL and commission (`bc`).
    pub balance_change: Money,
}

/// Balances and positions from an account event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUpdate {
    /// Futures reason (`a.m`: `ORDER`, `FUNDING_FEE`, `DEPOSIT`, ...); `None` on spot.
    pub reason: Option<String>,
    /// Normalised events. Spot: one `Balance` per changed asset (free `f`, locked
    /// `l`). Futures: one `Balance` per asset with free = cross wallet balance and
    /// locked = wallet balance - cross wallet balance (the isolated wallets), then
    /// one `Position` per position.
    pub events: Vec<AccountEvent>,
    /// Futures balances as sent (same order as the `Balance` events).
    pub futures_balances: Vec<FuturesBalance>,
    /// Clocks (exchange = `T` on futures, `E` on spot).
    pub times: EventTimes,
}

/// One order of a spot order list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOrder {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Venue order id.
    pub venue_order_id: VenueOrderId,
    /// Client order id.
    pub client_order_id: ClientOrderId,
}

/// A spot order list (OCO, OTO, ...) update, `listStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStatus {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Order list id (`g`).
    pub order_list_id: i64,
    /// Contingency type (`c`: `OCO`, `OTO`).
    pub contingency_type: String,
    /// List status type (`l`: `RESPONSE`, `EXEC_STARTED`, `ALL_DONE`, ...).
    pub list_status_type: String,
    /// List order status (`L`: `EXECUTING`, `ALL_DONE`, `REJECT`).
    pub list_order_status: String,
    /// Reject reason (`r`), when not `NONE`.
    pub reject_reason: Option<String>,
    /// List client order id (`C`).
    pub list_client_order_id: ClientOrderId,
    /// The orders (`O`).
    pub orders: Vec<ListOrder>,
    /// Clocks (exchange = `T`).
    pub times: EventTimes,
}

/// One position in a `MARGIN_CALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarginCallPosition {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Position side (`ps`).
    pub position_side: PositionSide,
    /// Signed position amount (`pa`).
    pub qty: Quantity,
    /// Margin mode (`mt`).
    pub margin_mode: MarginMode,
    /// Isolated wallet (`iw`), in the PnL asset.
    pub isolated_wallet: Money,
    /// Mark price (`mp`).
    pub mark_price: Price,
    /// Unrealised PnL (`up`).
    pub unrealized_pnl: Money,
    /// Maintenance margin required (`mm`).
    pub maintenance_margin: Money,
}

/// A futures `MARGIN_CALL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginCall {
    /// Cross wallet balance (`cw`), in the first position's PnL asset; `None`
    /// when absent or when there is no position to name the asset.
    pub cross_wallet_balance: Option<Money>,
    /// Positions at risk (`p`).
    pub positions: Vec<MarginCallPosition>,
    /// Clocks (exchange = `E`).
    pub times: EventTimes,
}

/// A futures `ACCOUNT_CONFIG_UPDATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountConfig {
    /// Leverage of one symbol changed (`ac`).
    Leverage {
        /// Instrument.
        instrument: InstrumentId,
        /// New leverage.
        leverage: u32,
        /// Clocks.
        times: EventTimes,
    },
    /// Multi-assets margin mode switched (`ai.j`).
    MultiAssetsMode {
        /// On or off.
        enabled: bool,
        /// Clocks.
        times: EventTimes,
    },
}

/// One parsed user-data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDataMessage {
    /// An order changed (spot `executionReport`, futures `ORDER_TRADE_UPDATE`).
    Order(Box<OrderUpdate>),
    /// A futures `TRADE_LITE` fill notice.
    TradeLite(TradeLite),
    /// A futures conditional order changed (`ALGO_UPDATE`).
    Algo(Box<AlgoUpdate>),
    /// Balances or positions (spot `outboundAccountPosition`, futures `ACCOUNT_UPDATE`).
    Account(AccountUpdate),
    /// A balance change (spot `balanceUpdate`, `externalLockUpdate`).
    BalanceDelta(BalanceDelta),
    /// A spot order list update (`listStatus`).
    ListStatus(ListStatus),
    /// A futures `MARGIN_CALL`.
    MarginCall(MarginCall),
    /// A futures `ACCOUNT_CONFIG_UPDATE`.
    AccountConfig(AccountConfig),
    /// The listen key expired (`listenKeyExpired`): no more events will come on
    /// this connection; create a new key and reconnect.
    ListenKeyExpired {
        /// The key, if sent.
        listen_key: Option<String>,
        /// Clocks (`E`).
        times: EventTimes,
    },
    /// The spot WS-API user-data subscription ended (`eventStreamTerminated`).
    StreamTerminated {
        /// Clocks (`E`).
        times: EventTimes,
    },
    /// Several events in one frame (a JSON array).
    Batch(Vec<UserDataMessage>),
    /// An event type this parser does not know, or a frame that is not an event
    /// (a WS-API reply): count and log it, never fail.
    Unknown {
        /// The `e` field, or a description.
        event_type: String,
    },
}

impl UserDataMessage {
    /// Every normalised order event in the message, in order.
    pub fn order_events(&self) -> Vec<&OrderEvent> {
        match self {
            Self::Order(u) => u.events.iter().collect(),
            Self::Algo(a) => a.events.iter().collect(),
            Self::Batch(v) => v.iter().flat_map(Self::order_events).collect(),
            _ => Vec::new(),
        }
    }

    /// Every normalised account event in the message, in order.
    pub fn account_events(&self) -> Vec<&AccountEvent> {
        match self {
            Self::Account(a) => a.events.iter().collect(),
            Self::Batch(v) => v.iter().flat_map(Self::account_events).collect(),
            _ => Vec::new(),
        }
    }
}

// ------------------------------------------------------------------ helpers

type Res<T> = Result<T, UserDataError>;

fn json<'a, T: Deserialize<'a>>(what: &'static str, s: &'a str) -> Res<T> {
    serde_json::from_str(s).map_err(|source| UserDataError::Json { what, source })
}

fn price(what: &'static str, field: &'static str, s: &str) -> Res<Price> {
    Price::parse(s).map_err(|source| UserDataError::Number {
        what,
        field,
        source,
    })
}

fn qty(what: &'static str, field: &'static str, s: &str) -> Res<Quantity> {
    Quantity::parse(s).map_err(|source| UserDataError::Number {
        what,
        field,
        source,
    })
}

fn money(what: &'static str, field: &'static str, s: &str, currency: Currency) -> Res<Money> {
    Money::parse(s, currency).map_err(|source| UserDataError::Number {
        what,
        field,
        source,
    })
}

/// A price that Binance sends as `"0"` when not applicable.
fn nonzero_price(what: &'static str, field: &'static str, s: Option<&str>) -> Res<Option<Price>> {
    match s {
        None | Some("") => Ok(None),
        Some(v) => Ok(Some(price(what, field, v)?).filter(|p| !p.is_zero())),
    }
}

fn currency(what: &'static str, field: &'static str, s: &str) -> Res<Currency> {
    Currency::new(s).map_err(|source| UserDataError::Id {
        what,
        field,
        source,
    })
}

fn client_id(what: &'static str, field: &'static str, s: &str) -> Res<ClientOrderId> {
    ClientOrderId::new(s).map_err(|source| UserDataError::Id {
        what,
        field,
        source,
    })
}

fn instrument(src: &StreamSource, what: &'static str, symbol: &str) -> Res<InstrumentId> {
    veloz_core::Symbol::new(symbol)
        .map(|s| InstrumentId::new(src.venue, src.kind, s))
        .map_err(|source| UserDataError::Id {
            what,
            field: "s",
            source,
        })
}

fn side(what: &'static str, s: &str) -> Res<Side> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(UserDataError::BadValue {
            what,
            field: "S",
            value: s.into(),
        }),
    }
}

fn position_side(what: &'static str, s: &str) -> Res<PositionSide> {
    match s {
        "BOTH" => Ok(PositionSide::Both),
        "LONG" => Ok(PositionSide::Long),
        "SHORT" => Ok(PositionSide::Short),
        _ => Err(UserDataError::BadValue {
            what,
            field: "ps",
            value: s.into(),
        }),
    }
}

fn margin_mode(what: &'static str, s: &str) -> Res<MarginMode> {
    match s.to_ascii_lowercase().as_str() {
        "cross" | "crossed" => Ok(MarginMode::Cross),
        "isolated" => Ok(MarginMode::Isolated),
        _ => Err(UserDataError::BadValue {
            what,
            field: "mt",
            value: s.into(),
        }),
    }
}

const fn liquidity(is_maker: bool) -> Liquidity {
    if is_maker {
        Liquidity::Maker
    } else {
        Liquidity::Taker
    }
}

fn times(exchange_ms: u64, local: UnixNanos) -> EventTimes {
    EventTimes::new(UnixNanos::from_millis(exchange_ms), local)
}

/// The asset a futures position's PnL is counted in: the `ma` field when sent,
/// else the quote asset of a USD-M symbol (`BTCUSDT` -> `USDT`) or the base of a
/// COIN-M symbol (`BTCUSD_PERP` -> `BTC`).
fn pnl_asset(
    kind: MarketKind,
    symbol: &str,
    margin_asset: Option<&str>,
    what: &'static str,
) -> Res<Currency> {
    if let Some(ma) = margin_asset.filter(|m| !m.is_empty()) {
        return currency(what, "ma", ma);
    }
    let pair = symbol.split('_').next().unwrap_or(symbol);
    let guess = match kind {
        MarketKind::CoinM => pair.strip_suffix("USD"),
        MarketKind::UsdM | MarketKind::Spot => ["USDT", "USDC", "FDUSD", "BUSD"]
            .into_iter()
            .find(|q| pair.len() > q.len() && pair.ends_with(q)),
    };
    match guess.filter(|g| !g.is_empty()) {
        Some(g) => currency(what, "s", g),
        None => Err(UserDataError::BadValue {
            what,
            field: "s (cannot tell the PnL asset of this symbol)",
            value: symbol.into(),
        }),
    }
}

/// A fee: amount `n` in asset `N`; a zero fee may come without an asset.
fn fee(what: &'static str, n: Option<&str>, asset: Option<&str>) -> Res<Money> {
    match asset.filter(|a| !a.is_empty()) {
        Some(a) => money(what, "n", n.unwrap_or("0"), currency(what, "N", a)?),
        None => {
            let m = money(what, "n", n.unwrap_or("0"), NO_FEE_ASSET)?;
            if m.is_zero() {
                Ok(m)
            } else {
                Err(UserDataError::BadValue {
                    what,
                    field: "N (a commission without an asset)",
                    value: n.unwrap_or_default().into(),
                })
            }
        }
    }
}

/// The normalised event kinds one order report implies.
fn order_event_kinds(r: &OrderReport, fee: Option<Money>) -> Vec<OrderEventKind> {
    let fill = || -> Option<OrderEventKind> {
        if r.last_qty.is_zero() {
            return None;
        }
        Some(OrderEventKind::Filled(Fill {
            trade_id: r.trade_id?,
            side: r.side,
            price: r.last_price,
            qty: r.last_qty,
            fee: fee?,
            liquidity: liquidity(r.is_maker),
        }))
    };
    let kind = match r.execution_type {
        ExecutionType::New => Some(OrderEventKind::Accepted),
        ExecutionType::Trade | ExecutionType::Calculated => fill(),
        ExecutionType::Canceled => Some(OrderEventKind::Canceled),
        ExecutionType::Expired => Some(OrderEventKind::Expired),
        ExecutionType::Rejected => Some(OrderEventKind::Rejected {
            code: None,
            reason: r
                .reject_reason
                .clone()
                .unwrap_or_else(|| "rejected by the venue".into()),
        }),
        ExecutionType::Replaced | ExecutionType::Amendment => Some(OrderEventKind::Updated {
            quantity: r.quantity,
            price: Some(r.price).filter(|p| !p.is_zero()),
            trigger_price: r.stop_price,
        }),
        // Self-trade prevention: the order is gone only when its status says so.
        ExecutionType::TradePrevention => r.status.is_terminal().then_some(OrderEventKind::Expired),
        ExecutionType::Other(_) => None,
    };
    kind.into_iter().collect()
}

fn order_update(report: OrderReport, fee: Option<Money>) -> UserDataMessage {
    let events = order_event_kinds(&report, fee)
        .into_iter()
        .map(|kind| OrderEvent {
            instrument: report.instrument,
            client_order_id: report.client_order_id,
            venue_order_id: Some(report.venue_order_id),
            kind,
            times: report.times,
        })
        .collect();
    UserDataMessage::Order(Box::new(OrderUpdate { report, events }))
}

/// `"NONE"` and `""` mean no reason.
fn reason(s: Option<Cow<'_, str>>) -> Option<String> {
    s.filter(|r| !r.is_empty() && r != "NONE" && r != "0")
        .map(Cow::into_owned)
}

// ------------------------------------------------------------------ spot

#[derive(Deserialize)]
struct WireExecutionReport<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "c")]
    client_order_id: Cow<'a, str>,
    #[serde(borrow, rename = "C", default)]
    orig_client_order_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "S")]
    side: Cow<'a, str>,
    #[serde(borrow, rename = "o")]
    order_type: Cow<'a, str>,
    #[serde(borrow, rename = "f")]
    time_in_force: Cow<'a, str>,
    #[serde(borrow, rename = "q")]
    quantity: Cow<'a, str>,
    #[serde(borrow, rename = "p")]
    price: Cow<'a, str>,
    #[serde(borrow, rename = "P", default)]
    stop_price: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "x")]
    execution_type: Cow<'a, str>,
    #[serde(borrow, rename = "X")]
    status: Cow<'a, str>,
    #[serde(borrow, rename = "r", default)]
    reject_reason: Option<Cow<'a, str>>,
    #[serde(rename = "i")]
    order_id: u64,
    #[serde(borrow, rename = "l")]
    last_qty: Cow<'a, str>,
    #[serde(borrow, rename = "z")]
    cum_qty: Cow<'a, str>,
    #[serde(borrow, rename = "L")]
    last_price: Cow<'a, str>,
    #[serde(borrow, rename = "n", default)]
    commission: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "N", default)]
    commission_asset: Option<Cow<'a, str>>,
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(rename = "t")]
    trade_id: i64,
    #[serde(rename = "m")]
    is_maker: bool,
    #[serde(borrow, rename = "eR", default)]
    expiry_reason: Option<Cow<'a, str>>,
}

fn execution_report(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "executionReport";
    let w: WireExecutionReport<'_> = json(W, data)?;
    let wire_id = client_id(W, "c", &w.client_order_id)?;
    let client_order_id = match w.orig_client_order_id.as_deref() {
        Some(c) if !c.is_empty() => client_id(W, "C", c)?,
        _ => wire_id,
    };
    let execution_type = ExecutionType::parse(&w.execution_type);
    let fee = if execution_type == ExecutionType::Trade {
        Some(fee(
            W,
            w.commission.as_deref(),
            w.commission_asset.as_deref(),
        )?)
    } else {
        None
    };
    let report = OrderReport {
        instrument: instrument(src, W, &w.symbol)?,
        client_order_id,
        wire_client_order_id: wire_id,
        venue_order_id: VenueOrderId(w.order_id),
        side: side(W, &w.side)?,
        order_type: w.order_type.into_owned(),
        time_in_force: w.time_in_force.into_owned(),
        quantity: qty(W, "q", &w.quantity)?,
        price: price(W, "p", &w.price)?,
        stop_price: nonzero_price(W, "P", w.stop_price.as_deref())?,
        execution_type,
        status: VenueOrderStatus::parse(&w.status),
        reject_reason: reason(w.reject_reason),
        expiry_reason: reason(w.expiry_reason),
        last_qty: qty(W, "l", &w.last_qty)?,
        last_price: price(W, "L", &w.last_price)?,
        cum_qty: qty(W, "z", &w.cum_qty)?,
        avg_price: None,
        trade_id: u64::try_from(w.trade_id).ok().map(TradeId),
        is_maker: w.is_maker,
        position_side: None,
        reduce_only: false,
        realized_profit: None,
        system_order: None,
        times: times(w.transaction_time, local),
    };
    Ok(order_update(report, fee))
}

#[derive(Deserialize)]
struct WireSpotBalance<'a> {
    #[serde(borrow, rename = "a")]
    asset: Cow<'a, str>,
    #[serde(borrow, rename = "f")]
    free: Cow<'a, str>,
    #[serde(borrow, rename = "l")]
    locked: Cow<'a, str>,
}

#[derive(Deserialize)]
struct WireAccountPosition<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "B")]
    balances: Vec<WireSpotBalance<'a>>,
}

fn account_position(data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "outboundAccountPosition";
    let w: WireAccountPosition<'_> = json(W, data)?;
    let t = times(w.event_time, local);
    let events = w
        .balances
        .iter()
        .map(|b| {
            let c = currency(W, "B.a", &b.asset)?;
            Ok(AccountEvent::Balance(Balance {
                kind: MarketKind::Spot,
                asset: c,
                free: money(W, "B.f", &b.free, c)?,
                locked: money(W, "B.l", &b.locked, c)?,
                times: t,
            }))
        })
        .collect::<Res<Vec<_>>>()?;
    Ok(UserDataMessage::Account(AccountUpdate {
        reason: None,
        events,
        futures_balances: Vec::new(),
        times: t,
    }))
}

#[derive(Deserialize)]
struct WireBalanceUpdate<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "a")]
    asset: Cow<'a, str>,
    #[serde(borrow, rename = "d")]
    delta: Cow<'a, str>,
    #[serde(rename = "T")]
    clear_time: u64,
}

fn balance_delta(
    what: &'static str,
    data: &str,
    local: UnixNanos,
    locked: bool,
) -> Res<UserDataMessage> {
    let w: WireBalanceUpdate<'_> = json(what, data)?;
    let c = currency(what, "a", &w.asset)?;
    Ok(UserDataMessage::BalanceDelta(BalanceDelta {
        delta: money(what, "d", &w.delta, c)?,
        locked,
        clear_time: UnixNanos::from_millis(w.clear_time),
        times: times(w.event_time, local),
    }))
}

#[derive(Deserialize)]
struct WireListOrder<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(rename = "i")]
    order_id: u64,
    #[serde(borrow, rename = "c")]
    client_order_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct WireListStatus<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(rename = "g")]
    order_list_id: i64,
    #[serde(borrow, rename = "c")]
    contingency_type: Cow<'a, str>,
    #[serde(borrow, rename = "l")]
    list_status_type: Cow<'a, str>,
    #[serde(borrow, rename = "L")]
    list_order_status: Cow<'a, str>,
    #[serde(borrow, rename = "r", default)]
    reject_reason: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "C")]
    list_client_order_id: Cow<'a, str>,
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(borrow, rename = "O")]
    orders: Vec<WireListOrder<'a>>,
}

fn list_status(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "listStatus";
    let w: WireListStatus<'_> = json(W, data)?;
    let orders = w
        .orders
        .iter()
        .map(|o| {
            Ok(ListOrder {
                instrument: instrument(src, W, &o.symbol)?,
                venue_order_id: VenueOrderId(o.order_id),
                client_order_id: client_id(W, "O.c", &o.client_order_id)?,
            })
        })
        .collect::<Res<Vec<_>>>()?;
    Ok(UserDataMessage::ListStatus(ListStatus {
        instrument: instrument(src, W, &w.symbol)?,
        order_list_id: w.order_list_id,
        contingency_type: w.contingency_type.into_owned(),
        list_status_type: w.list_status_type.into_owned(),
        list_order_status: w.list_order_status.into_owned(),
        reject_reason: reason(w.reject_reason),
        list_client_order_id: client_id(W, "C", &w.list_client_order_id)?,
        orders,
        times: times(w.transaction_time, local),
    }))
}

// ------------------------------------------------------------------ futures

#[derive(Deserialize)]
struct WireOrderTradeUpdate<'a> {
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(borrow, rename = "o")]
    o: WireFuturesOrder<'a>,
}

#[derive(Deserialize)]
struct WireFuturesOrder<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "c")]
    client_order_id: Cow<'a, str>,
    #[serde(borrow, rename = "S")]
    side: Cow<'a, str>,
    #[serde(borrow, rename = "o")]
    order_type: Cow<'a, str>,
    #[serde(borrow, rename = "f")]
    time_in_force: Cow<'a, str>,
    #[serde(borrow, rename = "q")]
    quantity: Cow<'a, str>,
    #[serde(borrow, rename = "p")]
    price: Cow<'a, str>,
    #[serde(borrow, rename = "ap", default)]
    avg_price: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "sp", default)]
    stop_price: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "x")]
    execution_type: Cow<'a, str>,
    #[serde(borrow, rename = "X")]
    status: Cow<'a, str>,
    #[serde(rename = "i")]
    order_id: u64,
    #[serde(borrow, rename = "l")]
    last_qty: Cow<'a, str>,
    #[serde(borrow, rename = "z")]
    cum_qty: Cow<'a, str>,
    #[serde(borrow, rename = "L")]
    last_price: Cow<'a, str>,
    #[serde(borrow, rename = "N", default)]
    commission_asset: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "n", default)]
    commission: Option<Cow<'a, str>>,
    #[serde(rename = "T")]
    trade_time: Option<u64>,
    #[serde(rename = "t", default)]
    trade_id: u64,
    #[serde(rename = "m", default)]
    is_maker: bool,
    #[serde(rename = "R", default)]
    reduce_only: bool,
    #[serde(borrow, rename = "ps", default)]
    position_side: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "rp", default)]
    realized_profit: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "ma", default)]
    margin_asset: Option<Cow<'a, str>>,
    #[serde(rename = "er", default, deserialize_with = "string_or_number")]
    expiry_reason: Option<String>,
}

/// Accepts a JSON string or number (the futures `er` code is documented as a
/// string but is a number in some client models).
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum SoN<'a> {
        S(#[serde(borrow)] Cow<'a, str>),
        N(u64),
    }
    Ok(match Option::<SoN<'_>>::deserialize(d)? {
        None => None,
        Some(SoN::S(s)) => Some(s.into_owned()),
        Some(SoN::N(n)) => Some(n.to_string()),
    })
}

fn order_trade_update(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "ORDER_TRADE_UPDATE";
    let w: WireOrderTradeUpdate<'_> = json(W, data)?;
    let o = &w.o;
    let execution_type = ExecutionType::parse(&o.execution_type);
    let last_qty = qty(W, "o.l", &o.last_qty)?;
    let fee = if matches!(
        execution_type,
        ExecutionType::Trade | ExecutionType::Calculated
    ) && !last_qty.is_zero()
    {
        Some(fee(
            W,
            o.commission.as_deref(),
            o.commission_asset.as_deref(),
        )?)
    } else {
        None
    };
    let realized_profit = match o.realized_profit.as_deref() {
        None | Some("") => None,
        Some(rp) => {
            let c = pnl_asset(src.kind, &o.symbol, o.margin_asset.as_deref(), W)?;
            Some(money(W, "o.rp", rp, c)?)
        }
    };
    let report = OrderReport {
        instrument: instrument(src, W, &o.symbol)?,
        client_order_id: client_id(W, "o.c", &o.client_order_id)?,
        wire_client_order_id: client_id(W, "o.c", &o.client_order_id)?,
        venue_order_id: VenueOrderId(o.order_id),
        side: side(W, &o.side)?,
        order_type: o.order_type.to_string(),
        time_in_force: o.time_in_force.to_string(),
        quantity: qty(W, "o.q", &o.quantity)?,
        price: price(W, "o.p", &o.price)?,
        stop_price: nonzero_price(W, "o.sp", o.stop_price.as_deref())?,
        execution_type,
        status: VenueOrderStatus::parse(&o.status),
        reject_reason: None,
        expiry_reason: o.expiry_reason.clone().filter(|r| r != "0"),
        last_qty,
        last_price: price(W, "o.L", &o.last_price)?,
        cum_qty: qty(W, "o.z", &o.cum_qty)?,
        avg_price: nonzero_price(W, "o.ap", o.avg_price.as_deref())?,
        trade_id: Some(o.trade_id).filter(|&t| t > 0).map(TradeId),
        is_maker: o.is_maker,
        position_side: o
            .position_side
            .as_deref()
            .map(|p| position_side(W, p))
            .transpose()?,
        reduce_only: o.reduce_only,
        realized_profit,
        system_order: SystemOrder::of(&o.client_order_id),
        times: times(o.trade_time.unwrap_or(w.transaction_time), local),
    };
    Ok(order_update(report, fee))
}

#[derive(Deserialize)]
struct WireTradeLite<'a> {
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "q")]
    order_qty: Cow<'a, str>,
    #[serde(borrow, rename = "p")]
    order_price: Cow<'a, str>,
    #[serde(rename = "m")]
    is_maker: bool,
    #[serde(borrow, rename = "c")]
    client_order_id: Cow<'a, str>,
    #[serde(borrow, rename = "S")]
    side: Cow<'a, str>,
    #[serde(borrow, rename = "L")]
    price: Cow<'a, str>,
    #[serde(borrow, rename = "l")]
    qty: Cow<'a, str>,
    #[serde(rename = "t")]
    trade_id: u64,
    #[serde(rename = "i")]
    order_id: u64,
}

fn trade_lite(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "TRADE_LITE";
    let w: WireTradeLite<'_> = json(W, data)?;
    Ok(UserDataMessage::TradeLite(TradeLite {
        instrument: instrument(src, W, &w.symbol)?,
        client_order_id: client_id(W, "c", &w.client_order_id)?,
        venue_order_id: VenueOrderId(w.order_id),
        side: side(W, &w.side)?,
        order_qty: qty(W, "q", &w.order_qty)?,
        order_price: price(W, "p", &w.order_price)?,
        price: price(W, "L", &w.price)?,
        qty: qty(W, "l", &w.qty)?,
        trade_id: TradeId(w.trade_id),
        liquidity: liquidity(w.is_maker),
        times: times(w.transaction_time, local),
    }))
}

#[derive(Deserialize)]
struct WireAlgoUpdate<'a> {
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(borrow, rename = "o")]
    o: WireAlgoOrder<'a>,
}

#[derive(Deserialize)]
struct WireAlgoOrder<'a> {
    #[serde(borrow, rename = "caid")]
    client_algo_id: Cow<'a, str>,
    #[serde(rename = "aid")]
    algo_id: u64,
    #[serde(borrow, rename = "at")]
    algo_type: Cow<'a, str>,
    #[serde(borrow, rename = "o")]
    order_type: Cow<'a, str>,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "S")]
    side: Cow<'a, str>,
    #[serde(borrow, rename = "ps")]
    position_side: Cow<'a, str>,
    #[serde(borrow, rename = "f")]
    time_in_force: Cow<'a, str>,
    #[serde(borrow, rename = "q")]
    quantity: Cow<'a, str>,
    #[serde(borrow, rename = "X")]
    status: Cow<'a, str>,
    #[serde(borrow, rename = "ai", default)]
    triggered_order_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "ap", default)]
    avg_price: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "aq", default)]
    filled_qty: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "tp", default)]
    trigger_price: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "p", default)]
    price: Option<Cow<'a, str>>,
    #[serde(rename = "R", default)]
    reduce_only: bool,
    #[serde(rename = "cp", default)]
    close_position: bool,
    #[serde(borrow, rename = "rm", default)]
    reason: Option<Cow<'a, str>>,
}

fn algo_update(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "ALGO_UPDATE";
    let w: WireAlgoUpdate<'_> = json(W, data)?;
    let o = &w.o;
    let triggered_order_id = match o.triggered_order_id.as_deref() {
        None | Some("") => None,
        Some(s) => Some(VenueOrderId(s.parse().map_err(|_| {
            UserDataError::BadValue {
                what: W,
                field: "o.ai",
                value: s.into(),
            }
        })?)),
    };
    let filled_qty = match o.filled_qty.as_deref() {
        None | Some("") => None,
        Some(s) => Some(qty(W, "o.aq", s)?).filter(|q| !q.is_zero()),
    };
    let reason = o
        .reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let kind = match o.status.as_ref() {
        "NEW" => Some(OrderEventKind::Accepted),
        "TRIGGERED" => Some(OrderEventKind::Triggered),
        "CANCELED" => Some(OrderEventKind::Canceled),
        "EXPIRED" => Some(OrderEventKind::Expired),
        "REJECTED" => Some(OrderEventKind::Rejected {
            code: None,
            reason: reason
                .clone()
                .unwrap_or_else(|| "conditional order rejected by the venue".into()),
        }),
        // TRIGGERING is transient; FINISHED follows the triggered order's own
        // ORDER_TRADE_UPDATE events, which carry the fills.
        _ => None,
    };
    let inst = instrument(src, W, &o.symbol)?;
    let client_order_id = client_id(W, "o.caid", &o.client_algo_id)?;
    let t = times(w.transaction_time, local);
    let algo_id = VenueOrderId(o.algo_id);
    Ok(UserDataMessage::Algo(Box::new(AlgoUpdate {
        instrument: inst,
        client_order_id,
        algo_id,
        algo_type: o.algo_type.to_string(),
        order_type: o.order_type.to_string(),
        side: side(W, &o.side)?,
        position_side: position_side(W, &o.position_side)?,
        time_in_force: o.time_in_force.to_string(),
        quantity: qty(W, "o.q", &o.quantity)?,
        status: o.status.to_string(),
        trigger_price: nonzero_price(W, "o.tp", o.trigger_price.as_deref())?,
        price: nonzero_price(W, "o.p", o.price.as_deref())?,
        triggered_order_id,
        avg_price: nonzero_price(W, "o.ap", o.avg_price.as_deref())?,
        filled_qty,
        reason,
        reduce_only: o.reduce_only,
        close_position: o.close_position,
        events: kind
            .into_iter()
            .map(|kind| OrderEvent {
                instrument: inst,
                client_order_id,
                venue_order_id: Some(algo_id),
                kind,
                times: t,
            })
            .collect(),
        times: t,
    })))
}

#[derive(Deserialize)]
struct WireAccountUpdate<'a> {
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(borrow, rename = "a")]
    a: WireAccountUpdateBody<'a>,
}

#[derive(Deserialize)]
struct WireAccountUpdateBody<'a> {
    #[serde(borrow, rename = "m")]
    reason: Cow<'a, str>,
    #[serde(borrow, rename = "B", default)]
    balances: Vec<WireFuturesBalance<'a>>,
    #[serde(borrow, rename = "P", default)]
    positions: Vec<WireFuturesPosition<'a>>,
}

#[derive(Deserialize)]
struct WireFuturesBalance<'a> {
    #[serde(borrow, rename = "a")]
    asset: Cow<'a, str>,
    #[serde(borrow, rename = "wb")]
    wallet: Cow<'a, str>,
    #[serde(borrow, rename = "cw")]
    cross_wallet: Cow<'a, str>,
    #[serde(borrow, rename = "bc", default)]
    change: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireFuturesPosition<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "pa")]
    amount: Cow<'a, str>,
    #[serde(borrow, rename = "ep")]
    entry_price: Cow<'a, str>,
    #[serde(borrow, rename = "up")]
    unrealized_pnl: Cow<'a, str>,
    #[serde(borrow, rename = "mt")]
    margin_type: Cow<'a, str>,
    #[serde(borrow, rename = "ps")]
    position_side: Cow<'a, str>,
    #[serde(borrow, rename = "ma", default)]
    margin_asset: Option<Cow<'a, str>>,
}

fn account_update(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "ACCOUNT_UPDATE";
    let w: WireAccountUpdate<'_> = json(W, data)?;
    let t = times(w.transaction_time, local);
    let mut events = Vec::with_capacity(w.a.balances.len() + w.a.positions.len());
    let mut futures_balances = Vec::with_capacity(w.a.balances.len());
    for b in &w.a.balances {
        let c = currency(W, "a.B.a", &b.asset)?;
        let wallet = money(W, "a.B.wb", &b.wallet, c)?;
        let cross = money(W, "a.B.cw", &b.cross_wallet, c)?;
        let locked = wallet
            .checked_sub(cross)
            .map_err(|_| UserDataError::BadValue {
                what: W,
                field: "a.B.wb - a.B.cw (out of range)",
                value: b.wallet.to_string(),
            })?;
        events.push(AccountEvent::Balance(Balance {
            kind: src.kind,
            asset: c,
            free: cross,
            locked,
            times: t,
        }));
        futures_balances.push(FuturesBalance {
            wallet_balance: wallet,
            cross_wallet_balance: cross,
            balance_change: money(W, "a.B.bc", b.change.as_deref().unwrap_or("0"), c)?,
        });
    }
    for p in &w.a.positions {
        let c = pnl_asset(src.kind, &p.symbol, p.margin_asset.as_deref(), W)?;
        events.push(AccountEvent::Position(PositionReport {
            instrument: instrument(src, W, &p.symbol)?,
            position_side: position_side(W, &p.position_side)?,
            qty: qty(W, "a.P.pa", &p.amount)?,
            entry_price: price(W, "a.P.ep", &p.entry_price)?,
            unrealized_pnl: money(W, "a.P.up", &p.unrealized_pnl, c)?,
            margin_mode: margin_mode(W, &p.margin_type)?,
            times: t,
        }));
    }
    Ok(UserDataMessage::Account(AccountUpdate {
        reason: Some(w.a.reason.into_owned()),
        events,
        futures_balances,
        times: t,
    }))
}

#[derive(Deserialize)]
struct WireMarginCall<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "cw", default)]
    cross_wallet: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "p", default)]
    positions: Vec<WireMarginCallPosition<'a>>,
}

#[derive(Deserialize)]
struct WireMarginCallPosition<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(borrow, rename = "ps")]
    position_side: Cow<'a, str>,
    #[serde(borrow, rename = "pa")]
    amount: Cow<'a, str>,
    #[serde(borrow, rename = "mt")]
    margin_type: Cow<'a, str>,
    #[serde(borrow, rename = "iw")]
    isolated_wallet: Cow<'a, str>,
    #[serde(borrow, rename = "mp")]
    mark_price: Cow<'a, str>,
    #[serde(borrow, rename = "up")]
    unrealized_pnl: Cow<'a, str>,
    #[serde(borrow, rename = "mm")]
    maintenance_margin: Cow<'a, str>,
    #[serde(borrow, rename = "ma", default)]
    margin_asset: Option<Cow<'a, str>>,
}

fn margin_call(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "MARGIN_CALL";
    let w: WireMarginCall<'_> = json(W, data)?;
    let mut first_asset = None;
    let positions = w
        .positions
        .iter()
        .map(|p| {
            let c = pnl_asset(src.kind, &p.symbol, p.margin_asset.as_deref(), W)?;
            first_asset.get_or_insert(c);
            Ok(MarginCallPosition {
                instrument: instrument(src, W, &p.symbol)?,
                position_side: position_side(W, &p.position_side)?,
                qty: qty(W, "p.pa", &p.amount)?,
                margin_mode: margin_mode(W, &p.margin_type)?,
                isolated_wallet: money(W, "p.iw", &p.isolated_wallet, c)?,
                mark_price: price(W, "p.mp", &p.mark_price)?,
                unrealized_pnl: money(W, "p.up", &p.unrealized_pnl, c)?,
                maintenance_margin: money(W, "p.mm", &p.maintenance_margin, c)?,
            })
        })
        .collect::<Res<Vec<_>>>()?;
    let cross_wallet_balance = match (w.cross_wallet.as_deref(), first_asset) {
        (Some(cw), Some(c)) if !cw.is_empty() => Some(money(W, "cw", cw, c)?),
        _ => None,
    };
    Ok(UserDataMessage::MarginCall(MarginCall {
        cross_wallet_balance,
        positions,
        times: times(w.event_time, local),
    }))
}

#[derive(Deserialize)]
struct WireAccountConfig<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "T")]
    transaction_time: Option<u64>,
    #[serde(borrow, rename = "ac")]
    leverage: Option<WireLeverage<'a>>,
    #[serde(rename = "ai")]
    assets: Option<WireMultiAssets>,
}

#[derive(Deserialize)]
struct WireLeverage<'a> {
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(rename = "l")]
    leverage: u32,
}

#[derive(Deserialize)]
struct WireMultiAssets {
    #[serde(rename = "j")]
    enabled: bool,
}

fn account_config(src: &StreamSource, data: &str, local: UnixNanos) -> Res<UserDataMessage> {
    const W: &str = "ACCOUNT_CONFIG_UPDATE";
    let w: WireAccountConfig<'_> = json(W, data)?;
    let t = times(w.transaction_time.unwrap_or(w.event_time), local);
    if let Some(l) = &w.leverage {
        return Ok(UserDataMessage::AccountConfig(AccountConfig::Leverage {
            instrument: instrument(src, W, &l.symbol)?,
            leverage: l.leverage,
            times: t,
        }));
    }
    if let Some(a) = &w.assets {
        return Ok(UserDataMessage::AccountConfig(
            AccountConfig::MultiAssetsMode {
                enabled: a.enabled,
                times: t,
            },
        ));
    }
    Err(UserDataError::BadValue {
        what: W,
        field: "ac / ai",
        value: "neither a leverage (ac) nor a multi-assets (ai) change".into(),
    })
}

#[derive(Deserialize)]
struct WireListenKeyExpired<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "listenKey", default)]
    listen_key: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireEventTime {
    #[serde(rename = "E")]
    event_time: u64,
}

// ------------------------------------------------------------------ entry

/// The event object inside whichever envelope the frame uses.
fn unwrap_envelope(frame: &str) -> Res<&str> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        event: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow)]
        data: Option<&'a serde_json::value::RawValue>,
        #[serde(rename = "subscriptionId")]
        subscription_id: Option<serde::de::IgnoredAny>,
        stream: Option<serde::de::IgnoredAny>,
    }
    let t = frame.trim_start();
    if !t.starts_with('{') || !(t.contains("\"subscriptionId\"") || t.contains("\"stream\"")) {
        return Ok(frame);
    }
    let e: Envelope<'_> = json("user-data envelope", frame)?;
    match (e.subscription_id, e.event, e.stream, e.data) {
        (Some(_), Some(ev), _, _) => Ok(ev.get()),
        (_, _, Some(_), Some(d)) => Ok(d.get()),
        _ => Ok(frame),
    }
}

/// Parses one text frame from a user-data connection. `src` gives the venue and
/// market kind used for instrument ids (spot for spot, USD-M or COIN-M for
/// futures).
pub fn parse_user_data(
    src: &StreamSource,
    frame: &str,
    local: UnixNanos,
) -> Result<UserDataMessage, UserDataError> {
    let data = unwrap_envelope(frame)?;
    if data.trim_start().starts_with('[') {
        let items: Vec<&serde_json::value::RawValue> = json("user-data array", data)?;
        return items
            .into_iter()
            .map(|i| parse_user_data(src, i.get(), local))
            .collect::<Res<Vec<_>>>()
            .map(UserDataMessage::Batch);
    }
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(borrow, rename = "e")]
        e: Option<Cow<'a, str>>,
    }
    let peek: Peek<'_> = json("user-data", data)?;
    let Some(e) = peek.e else {
        return Ok(UserDataMessage::Unknown {
            event_type: "(no event type: not a user-data event)".into(),
        });
    };
    match e.as_ref() {
        "executionReport" => execution_report(src, data, local),
        "outboundAccountPosition" => account_position(data, local),
        "balanceUpdate" => balance_delta("balanceUpdate", data, local, false),
        "externalLockUpdate" => balance_delta("externalLockUpdate", data, local, true),
        "listStatus" => list_status(src, data, local),
        "ORDER_TRADE_UPDATE" => order_trade_update(src, data, local),
        "TRADE_LITE" => trade_lite(src, data, local),
        "ALGO_UPDATE" => algo_update(src, data, local),
        "ACCOUNT_UPDATE" => account_update(src, data, local),
        "MARGIN_CALL" => margin_call(src, data, local),
        "ACCOUNT_CONFIG_UPDATE" => account_config(src, data, local),
        "listenKeyExpired" => {
            let w: WireListenKeyExpired<'_> = json("listenKeyExpired", data)?;
            Ok(UserDataMessage::ListenKeyExpired {
                listen_key: w.listen_key.map(Cow::into_owned),
                times: times(w.event_time, local),
            })
        }
        "eventStreamTerminated" => {
            let w: WireEventTime = json("eventStreamTerminated", data)?;
            Ok(UserDataMessage::StreamTerminated {
                times: times(w.event_time, local),
            })
        }
        other => Ok(UserDataMessage::Unknown {
            event_type: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPOT: StreamSource = StreamSource::binance(MarketKind::Spot);
    const USDM: StreamSource = StreamSource::binance(MarketKind::UsdM);
    const COINM: StreamSource = StreamSource::binance(MarketKind::CoinM);

    #[test]
    fn pnl_assets() {
        let a = |k, s, ma| pnl_asset(k, s, ma, "t").map(|c| c.to_string());
        assert_eq!(a(MarketKind::UsdM, "BTCUSDT", None).unwrap(), "USDT");
        assert_eq!(a(MarketKind::UsdM, "ETHUSDC", None).unwrap(), "USDC");
        assert_eq!(a(MarketKind::UsdM, "BTCUSDT_240927", None).unwrap(), "USDT");
        assert_eq!(a(MarketKind::CoinM, "BTCUSD_PERP", None).unwrap(), "BTC");
        assert_eq!(
            a(MarketKind::UsdM, "BTCUSDT", Some("BNFCR")).unwrap(),
            "BNFCR"
        );
        assert!(a(MarketKind::UsdM, "USDT", None).is_err());
        assert!(a(MarketKind::CoinM, "BTCUSDT", None).is_err());
    }

    #[test]
    fn fees_without_an_asset_must_be_zero() {
        assert_eq!(
            fee("t", Some("0"), None).unwrap(),
            Money::zero(NO_FEE_ASSET)
        );
        assert_eq!(fee("t", None, None).unwrap(), Money::zero(NO_FEE_ASSET));
        assert!(fee("t", Some("0.1"), None).is_err());
        assert!(fee("t", Some("x"), Some("BNB")).is_err());
        assert_eq!(
            fee("t", Some("0.1"), Some("BNB")).unwrap().to_string(),
            "0.10000000 BNB"
        );
    }

    #[test]
    fn spot_cancel_reports_the_original_client_id() {
        let f = r#"{"e":"executionReport","E":2,"s":"ETHUSDT","c":"cancel-req-1","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"2500.00000000","P":"0.00000000","x":"CANCELED","X":"CANCELED","r":"NONE","i":7,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":3,"t":-1,"m":false,"C":"my-order-1"}"#;
        let UserDataMessage::Order(u) = parse_user_data(&SPOT, f, UnixNanos(9)).unwrap() else {
            panic!("not an order")
        };
        assert_eq!(u.report.client_order_id.as_str(), "my-order-1");
        assert_eq!(u.report.wire_client_order_id.as_str(), "cancel-req-1");
        assert_eq!(u.events.len(), 1);
        assert_eq!(u.events[0].kind, OrderEventKind::Canceled);
        assert_eq!(u.events[0].client_order_id.as_str(), "my-order-1");
        assert_eq!(u.events[0].times.exchange, UnixNanos::from_millis(3));
    }

    #[test]
    fn bad_client_ids_and_values_are_typed_errors() {
        for (src, bad) in [
            (
                SPOT,
                r#"{"e":"executionReport","E":2,"s":"ETHUSDT","c":"","S":"BUY","o":"LIMIT","f":"GTC","q":"1","p":"1","x":"NEW","X":"NEW","i":7,"l":"0","z":"0","L":"0","T":3,"t":-1,"m":false}"#,
            ),
            (
                SPOT,
                r#"{"e":"executionReport","E":2,"s":"ETHUSDT","c":"a b","S":"BUY","o":"LIMIT","f":"GTC","q":"1","p":"1","x":"NEW","X":"NEW","i":7,"l":"0","z":"0","L":"0","T":3,"t":-1,"m":false}"#,
            ),
            (
                SPOT,
                r#"{"e":"executionReport","E":2,"s":"ETHUSDT","c":"x","S":"BUYY","o":"LIMIT","f":"GTC","q":"1","p":"1","x":"NEW","X":"NEW","i":7,"l":"0","z":"0","L":"0","T":3,"t":-1,"m":false}"#,
            ),
            (
                USDM,
                r#"{"e":"TRADE_LITE","E":1,"T":1,"s":"BTCUSDT","q":"1","p":"1","m":true,"c":"","S":"BUY","L":"1","l":"1","t":1,"i":1}"#,
            ),
            (USDM, r#"{"e":"ACCOUNT_CONFIG_UPDATE","E":1,"T":1}"#),
            (
                COINM,
                r#"{"e":"MARGIN_CALL","E":1,"cw":"1","p":[{"s":"BTCUSD_PERP","ps":"UP","pa":"1","mt":"CROSSED","iw":"0","mp":"1","up":"0","mm":"0"}]}"#,
            ),
            (
                SPOT,
                r#"{"subscriptionId":0,"event":{"e":"balanceUpdate","E":1,"a":"BTC","d":"1e5","T":1}}"#,
            ),
            (SPOT, "{"),
            (SPOT, ""),
        ] {
            let r = parse_user_data(&src, bad, UnixNanos(0));
            assert!(r.is_err(), "{bad} -> {r:?}");
        }
    }
}
