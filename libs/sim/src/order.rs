//! Simulated orders: [`SimOrder`] (the venue-side record of one order of one
//! account), its status, self-trade prevention modes and trailing-stop state.
//!
//! A `SimOrder` is what the simulated venue knows about an order: original
//! parameters, executed quantity and quote, status, queue position while
//! resting, trigger state while waiting. Reports carry a snapshot of it after
//! each event, so a Binance-protocol server can build `executionReport` /
//! `ORDER_TRADE_UPDATE` messages without keeping its own copy.

use std::fmt;

use veloz_core::{
    ClientOrderId, InstrumentId, OrderFlags, OrderType, PositionSide, Price, Quantity, Rounding,
    Side, StrategyId, TimeInForce, TriggerPriceType, UnixNanos, VenueOrderId, FIXED_PRECISION,
};

use crate::arith::div_round;

/// One simulated account (a Binance user). Accounts are numbered by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Self-trade prevention: what happens when a taker meets a resting order of
/// the same account (Binance `selfTradePreventionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StpMode {
    /// Trade with yourself (fees are charged on both sides).
    None,
    /// The taker's remaining quantity expires.
    ExpireTaker,
    /// The resting order expires and matching continues.
    #[default]
    ExpireMaker,
    /// Both expire.
    ExpireBoth,
}

impl StpMode {
    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::ExpireTaker => "EXPIRE_TAKER",
            Self::ExpireMaker => "EXPIRE_MAKER",
            Self::ExpireBoth => "EXPIRE_BOTH",
        }
    }
}

/// Status of a simulated order (Binance's order statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimOrderStatus {
    /// Working (resting, or a conditional order waiting for its trigger).
    New,
    /// Partially executed and still working.
    PartiallyFilled,
    /// Fully executed.
    Filled,
    /// Canceled by its owner (or by the venue before a liquidation).
    Canceled,
    /// Expired: IOC/FOK/market leftovers, GTD expiry, reduce-only with nothing
    /// left to reduce, a triggered order that could not be placed.
    Expired,
    /// Expired by self-trade prevention (Binance `EXPIRED_IN_MATCH`).
    ExpiredInMatch,
}

impl SimOrderStatus {
    /// Is the order still working?
    pub const fn is_open(self) -> bool {
        matches!(self, Self::New | Self::PartiallyFilled)
    }

    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::PartiallyFilled => "PARTIALLY_FILLED",
            Self::Filled => "FILLED",
            Self::Canceled => "CANCELED",
            Self::Expired => "EXPIRED",
            Self::ExpiredInMatch => "EXPIRED_IN_MATCH",
        }
    }
}

/// State of a trailing stop (futures `TRAILING_STOP_MARKET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailingState {
    /// Callback rate in percent (`1` = 1 %).
    pub callback_rate: Price,
    /// Activation price, if any.
    pub activation_price: Option<Price>,
    /// Has the activation condition been met?
    pub activated: bool,
    /// Best price seen since activation: highest for a SELL trailing stop,
    /// lowest for a BUY one.
    pub extreme: Option<Price>,
}

/// The venue's record of one order (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOrder {
    /// Owner.
    pub account: AccountId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Venue order id (per instrument, increasing).
    pub venue_order_id: VenueOrderId,
    /// Client order id.
    pub client_order_id: ClientOrderId,
    /// Strategy that sent it.
    pub strategy: StrategyId,
    /// Side.
    pub side: Side,
    /// Order type as submitted.
    pub order_type: OrderType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Post-only (spot `LIMIT_MAKER`, futures `GTX`).
    pub post_only: bool,
    /// Limit price (for types that have one).
    pub price: Option<Price>,
    /// Trigger price (stop price); for a trailing stop, the current trigger level.
    pub trigger_price: Option<Price>,
    /// Which price triggers.
    pub trigger_type: TriggerPriceType,
    /// Trailing-stop state.
    pub trailing: Option<TrailingState>,
    /// Original quantity (for close-position orders: the position size when
    /// triggered, zero before).
    pub quantity: Quantity,
    /// Executed quantity.
    pub filled: Quantity,
    /// Sum of `price × qty` over fills, raw `10^-16` units (exact).
    pub cum_notional_e16: i128,
    /// Flags (reduce-only, close-position, post-only).
    pub flags: OrderFlags,
    /// Position side (futures).
    pub position_side: PositionSide,
    /// GTD expiry.
    pub expire_time: Option<UnixNanos>,
    /// Self-trade prevention mode.
    pub stp: StpMode,
    /// Status.
    pub status: SimOrderStatus,
    /// Has a conditional order been triggered (always `true` for plain orders).
    pub triggered: bool,
    /// When it was accepted.
    pub created: UnixNanos,
    /// Last change.
    pub updated: UnixNanos,
    /// Quantity of the market's queue ahead of it while resting (raw units).
    pub queue_ahead: i64,
    /// Time priority among simulated orders (lower = earlier).
    pub(crate) seq: u64,
    /// Spot: amount still locked for this order (raw units of the lock asset).
    pub(crate) locked: i128,
}

impl SimOrder {
    /// Quantity still to execute.
    pub fn remaining(&self) -> Quantity {
        Quantity::from_raw(
            (self.quantity.raw() - self.filled.raw()).max(0),
            self.quantity.precision(),
        )
    }

    /// Is the order still working?
    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }

    /// Is it resting on the book (working, triggered, with a limit price)?
    pub fn is_resting(&self) -> bool {
        self.is_open() && self.triggered && self.price.is_some()
    }

    /// Average execution price rounded with `rounding`, if anything executed.
    pub fn avg_price(&self, rounding: Rounding) -> Option<Price> {
        if self.filled.is_zero() {
            return None;
        }
        let raw = div_round(
            self.cum_notional_e16,
            i128::from(self.filled.raw()),
            rounding,
        )?;
        i64::try_from(raw)
            .ok()
            .map(|r| Price::from_raw(r, FIXED_PRECISION))
    }

    /// Executed quote amount (`Σ price × qty`) truncated to 8 decimals.
    pub fn cum_quote(&self) -> Price {
        let raw = div_round(self.cum_notional_e16, 100_000_000, Rounding::Down)
            .and_then(|r| i64::try_from(r).ok())
            .unwrap_or(i64::MAX);
        Price::from_raw(raw, FIXED_PRECISION)
    }

    /// The order's type after triggering: stop/take-profit market and trailing
    /// stops become market orders, stop/take-profit limits become limits.
    pub fn working_type(&self) -> OrderType {
        match self.order_type {
            OrderType::StopMarket | OrderType::TakeProfitMarket | OrderType::TrailingStopMarket => {
                OrderType::Market
            }
            OrderType::StopLimit | OrderType::TakeProfitLimit => OrderType::Limit,
            t => t,
        }
    }

    /// Does the order only reduce a position (reduce-only, close-position, or a
    /// closing leg in hedge mode)?
    pub fn is_reducing(&self) -> bool {
        self.flags.contains(OrderFlags::REDUCE_ONLY)
            || self.flags.contains(OrderFlags::CLOSE_POSITION)
            || matches!(
                (self.position_side, self.side),
                (PositionSide::Long, Side::Sell) | (PositionSide::Short, Side::Buy)
            )
    }
}
