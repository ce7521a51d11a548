//! The event vocabulary: market data, commands, order events and account events.
//!
//! These are the normalised types the kernel sees; venue adapters translate wire
//! messages into them and back. Every event carries [`EventTimes`]: the venue's
//! time (exchange clock) and the time VeloZ received it (local clock), so
//! backtests can model feed latency and live runs can measure it.

use serde::{Deserialize, Serialize};

pub use crate::deltas::DeltaList;
use crate::enums::{
    AggressorSide, Liquidity, MarginMode, OrderFlags, OrderType, PositionSide, Side, TimeInForce,
    TriggerPriceType,
};
use crate::fixed::{Price, Quantity};
use crate::ids::{ClientOrderId, InstrumentId, StrategyId, TradeId, VenueOrderId};
use crate::money::{Currency, Money};
use crate::time::UnixNanos;

/// The two clocks of every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventTimes {
    /// When the venue says it happened (Binance `E`/`T`).
    pub exchange: UnixNanos,
    /// When VeloZ received it.
    pub local: UnixNanos,
}

impl EventTimes {
    /// Both clocks.
    pub const fn new(exchange: UnixNanos, local: UnixNanos) -> Self {
        Self { exchange, local }
    }
}

// ---------------------------------------------------------------- market data

/// One price level: price and absolute quantity at that price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// Price.
    pub price: Price,
    /// Total quantity at the price (0 in a delta removes the level).
    pub qty: Quantity,
}

/// A full L2 book snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSnapshot {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Venue update id the snapshot is as of (`lastUpdateId`).
    pub last_update_id: u64,
    /// Bids, best first.
    pub bids: Vec<Level>,
    /// Asks, best first.
    pub asks: Vec<Level>,
    /// Clocks.
    pub times: EventTimes,
}

/// One side's level change within a [`BookDeltas`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookDelta {
    /// Bid or ask side.
    pub side: Side,
    /// The level's new absolute state (qty 0 deletes).
    pub level: Level,
}

/// A batch of L2 changes from one venue message (a Binance `depthUpdate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookDeltas {
    /// Instrument.
    pub instrument: InstrumentId,
    /// First update id in the batch (`U`).
    pub first_update_id: u64,
    /// Last update id in the batch (`u`).
    pub last_update_id: u64,
    /// The previous batch's last update id (futures `pu`), if the venue sends it.
    pub prev_last_update_id: Option<u64>,
    /// Changes, in venue order (one change is stored inline, see [`DeltaList`]).
    pub deltas: DeltaList,
    /// Clocks.
    pub times: EventTimes,
}

/// Best bid and offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Best bid.
    pub bid: Level,
    /// Best ask.
    pub ask: Level,
    /// Venue update id, if any (`u`).
    pub update_id: Option<u64>,
    /// Clocks.
    pub times: EventTimes,
}

/// A public trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Venue trade id.
    pub trade_id: TradeId,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Who took liquidity.
    pub aggressor: AggressorSide,
    /// Clocks.
    pub times: EventTimes,
}

/// An OHLCV bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Bar length in seconds.
    pub interval_secs: u32,
    /// Open time.
    pub open_time: UnixNanos,
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
    /// Whether the bar is final.
    pub closed: bool,
    /// Clocks (exchange = close time).
    pub times: EventTimes,
}

/// Mark price with the current funding rate (perpetuals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkPrice {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Mark price.
    pub mark: Price,
    /// Index price, if sent.
    pub index: Option<Price>,
    /// Current funding rate (e.g. `0.00010000`), if the contract funds.
    pub funding_rate: Option<Price>,
    /// Next funding time, if the contract funds.
    pub next_funding_time: Option<UnixNanos>,
    /// Clocks.
    pub times: EventTimes,
}

/// A liquidation order on the public feed (Binance `forceOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liquidation {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side of the liquidation order.
    pub side: Side,
    /// Order price.
    pub price: Price,
    /// Average fill price.
    pub avg_price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Clocks.
    pub times: EventTimes,
}

/// Any market-data event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MarketEvent {
    /// Full book.
    BookSnapshot(BookSnapshot),
    /// Book changes.
    BookDeltas(BookDeltas),
    /// Top of book.
    Quote(Quote),
    /// Public trade.
    Trade(Trade),
    /// Bar.
    Bar(Bar),
    /// Mark price and funding.
    MarkPrice(MarkPrice),
    /// Liquidation.
    Liquidation(Liquidation),
}

impl MarketEvent {
    /// Replaces the event's clocks (paper trading runs the simulated venue on
    /// the local clock).
    pub fn set_times(&mut self, times: EventTimes) {
        match self {
            Self::BookSnapshot(e) => e.times = times,
            Self::BookDeltas(e) => e.times = times,
            Self::Quote(e) => e.times = times,
            Self::Trade(e) => e.times = times,
            Self::Bar(e) => e.times = times,
            Self::MarkPrice(e) => e.times = times,
            Self::Liquidation(e) => e.times = times,
        }
    }

    /// The event's clocks.
    pub fn times(&self) -> EventTimes {
        match self {
            Self::BookSnapshot(e) => e.times,
            Self::BookDeltas(e) => e.times,
            Self::Quote(e) => e.times,
            Self::Trade(e) => e.times,
            Self::Bar(e) => e.times,
            Self::MarkPrice(e) => e.times,
            Self::Liquidation(e) => e.times,
        }
    }

    /// The instrument and the clocks, with one look at the kind of event
    /// (for hot paths that need both).
    #[inline]
    pub fn instrument_and_times(&self) -> (&InstrumentId, EventTimes) {
        match self {
            Self::BookSnapshot(e) => (&e.instrument, e.times),
            Self::BookDeltas(e) => (&e.instrument, e.times),
            Self::Quote(e) => (&e.instrument, e.times),
            Self::Trade(e) => (&e.instrument, e.times),
            Self::Bar(e) => (&e.instrument, e.times),
            Self::MarkPrice(e) => (&e.instrument, e.times),
            Self::Liquidation(e) => (&e.instrument, e.times),
        }
    }

    /// The instrument.
    pub fn instrument(&self) -> InstrumentId {
        *self.instrument_ref()
    }

    /// The instrument, by reference (no copy of the id on hot paths).
    #[inline]
    pub fn instrument_ref(&self) -> &InstrumentId {
        match self {
            Self::BookSnapshot(e) => &e.instrument,
            Self::BookDeltas(e) => &e.instrument,
            Self::Quote(e) => &e.instrument,
            Self::Trade(e) => &e.instrument,
            Self::Bar(e) => &e.instrument,
            Self::MarkPrice(e) => &e.instrument,
            Self::Liquidation(e) => &e.instrument,
        }
    }
}

// ---------------------------------------------------------------- commands

/// Trailing-stop parameters (futures `TRAILING_STOP_MARKET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailing {
    /// Callback rate in percent (Binance `callbackRate`, 0.1 to 10).
    pub callback_rate: Price,
    /// Activation price, if any.
    pub activation_price: Option<Price>,
}

/// A new order, as a strategy asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitOrder {
    /// Strategy that owns the order.
    pub strategy: StrategyId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Deterministic client order id.
    pub client_order_id: ClientOrderId,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Quantity.
    pub quantity: Quantity,
    /// Limit price.
    pub price: Option<Price>,
    /// Trigger price.
    pub trigger_price: Option<Price>,
    /// Which price triggers.
    pub trigger_type: TriggerPriceType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Expiry for GTD.
    pub expire_time: Option<UnixNanos>,
    /// Flags.
    pub flags: OrderFlags,
    /// Position side (hedge mode).
    pub position_side: PositionSide,
    /// Trailing-stop parameters.
    pub trailing: Option<Trailing>,
    /// When the strategy asked.
    pub ts_init: UnixNanos,
}

/// Cancel one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrder {
    /// Strategy.
    pub strategy: StrategyId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// The order.
    pub client_order_id: ClientOrderId,
    /// Venue id, if known.
    pub venue_order_id: Option<VenueOrderId>,
    /// When asked.
    pub ts_init: UnixNanos,
}

/// Cancel every open order of an instrument (optionally one side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelAllOrders {
    /// Strategy.
    pub strategy: StrategyId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Only this side, if set.
    pub side: Option<Side>,
    /// When asked.
    pub ts_init: UnixNanos,
}

/// Change the price and/or quantity of an open order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyOrder {
    /// Strategy.
    pub strategy: StrategyId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// The order.
    pub client_order_id: ClientOrderId,
    /// Venue id, if known.
    pub venue_order_id: Option<VenueOrderId>,
    /// New quantity, if changed.
    pub quantity: Option<Quantity>,
    /// New price, if changed.
    pub price: Option<Price>,
    /// New trigger price, if changed.
    pub trigger_price: Option<Price>,
    /// When asked.
    pub ts_init: UnixNanos,
}

/// Any trading command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// New order.
    Submit(SubmitOrder),
    /// Cancel.
    Cancel(CancelOrder),
    /// Cancel all.
    CancelAll(CancelAllOrders),
    /// Modify.
    Modify(ModifyOrder),
}

// ---------------------------------------------------------------- order events

/// One execution of one of our orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Venue trade id (fills are de-duplicated on it).
    pub trade_id: TradeId,
    /// Side of our order.
    pub side: Side,
    /// Execution price.
    pub price: Price,
    /// Executed quantity.
    pub qty: Quantity,
    /// Fee charged (negative = rebate), in the fee asset.
    pub fee: Money,
    /// Maker or taker.
    pub liquidity: Liquidity,
}

/// What happened to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderEventKind {
    /// Sent to the venue.
    Submitted,
    /// Acknowledged by the venue and working.
    Accepted,
    /// Refused by the venue.
    Rejected {
        /// Venue error code, if any (Binance `code`).
        code: Option<i64>,
        /// Reason.
        reason: String,
    },
    /// Refused before it left VeloZ (risk or validation).
    Denied {
        /// Reason.
        reason: String,
    },
    /// A conditional order's trigger fired.
    Triggered,
    /// A modify was sent.
    PendingUpdate,
    /// A cancel was sent.
    PendingCancel,
    /// A modify was applied.
    Updated {
        /// New quantity.
        quantity: Quantity,
        /// New price.
        price: Option<Price>,
        /// New trigger price.
        trigger_price: Option<Price>,
    },
    /// A (partial) execution.
    Filled(Fill),
    /// Canceled (by us, the venue, or IOC/FOK leftovers).
    Canceled,
    /// Expired (GTD, or the venue expired it, e.g. self-trade prevention).
    Expired,
    /// A cancel was refused (the order is still working, or already done).
    CancelRejected {
        /// Reason.
        reason: String,
    },
    /// A modify was refused.
    ModifyRejected {
        /// Reason.
        reason: String,
    },
}

/// An event about one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Our id.
    pub client_order_id: ClientOrderId,
    /// The venue's id, once known.
    pub venue_order_id: Option<VenueOrderId>,
    /// What happened.
    pub kind: OrderEventKind,
    /// Clocks.
    pub times: EventTimes,
}

// ---------------------------------------------------------------- account events

fn spot_wallet() -> crate::MarketKind {
    crate::MarketKind::Spot
}

/// A balance of one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Which wallet: spot, or the USD-M / COIN-M futures wallet (journals
    /// written before this field existed read as spot).
    #[serde(default = "spot_wallet")]
    pub kind: crate::MarketKind,
    /// Asset.
    pub asset: Currency,
    /// Available.
    pub free: Money,
    /// Locked in orders (spot) or used as margin.
    pub locked: Money,
    /// Clocks.
    pub times: EventTimes,
}

/// A futures position as the venue reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionReport {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Leg.
    pub position_side: PositionSide,
    /// Signed quantity (negative = short).
    pub qty: Quantity,
    /// Entry price.
    pub entry_price: Price,
    /// Unrealised PnL.
    pub unrealized_pnl: Money,
    /// Margin mode.
    pub margin_mode: MarginMode,
    /// Clocks.
    pub times: EventTimes,
}

/// Margin summary of a futures account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginReport {
    /// Margin asset.
    pub asset: Currency,
    /// Wallet balance.
    pub wallet_balance: Money,
    /// Initial margin in use.
    pub initial_margin: Money,
    /// Maintenance margin.
    pub maintenance_margin: Money,
    /// Clocks.
    pub times: EventTimes,
}

/// Any account event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountEvent {
    /// Balance.
    Balance(Balance),
    /// Position.
    Position(PositionReport),
    /// Margin.
    Margin(MarginReport),
}

impl AccountEvent {
    /// Replaces the event's clocks (a venue stamps its reports when they leave it).
    pub fn set_times(&mut self, times: EventTimes) {
        match self {
            Self::Balance(b) => b.times = times,
            Self::Position(p) => p.times = times,
            Self::Margin(m) => m.times = times,
        }
    }
}
