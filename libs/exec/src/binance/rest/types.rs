//! Binance's enums as they appear on the wire (`shared/docs/binance-protocol.md` §8).
//!
//! Each enum prints and parses its exact wire spelling. Enums that appear in
//! answers have an `Unknown` variant so that a value added by Binance later
//! never makes a response unreadable; request builders refuse `Unknown`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
        $(unknown: $unknown:ident)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            $(
                /// A value this version does not know.
                $unknown,
            )?
        }

        impl $name {
            /// The wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $wire, )+
                    $( Self::$unknown => "UNKNOWN", )?
                }
            }

            /// Parses the wire spelling.
            pub fn from_wire(s: &str) -> Option<Self> {
                match s {
                    $( $wire => Some(Self::$variant), )+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                match Self::from_wire(&s) {
                    Some(v) => Ok(v),
                    None => wire_enum!(@unknown s, $name $(, $unknown)?),
                }
            }
        }
    };
    (@unknown $s:ident, $name:ident, $unknown:ident) => { Ok(Self::$unknown) };
    (@unknown $s:ident, $name:ident) => {
        Err(serde::de::Error::custom(format!(
            concat!("unknown ", stringify!($name), " {:?}"),
            $s
        )))
    };
}

wire_enum! {
    /// Order type, spot and futures (`type`, `origType`).
    OrderType {
        /// Limit.
        Limit => "LIMIT",
        /// Market.
        Market => "MARKET",
        /// Spot stop-loss (market when triggered).
        StopLoss => "STOP_LOSS",
        /// Spot stop-loss limit.
        StopLossLimit => "STOP_LOSS_LIMIT",
        /// Spot: take-profit, market when triggered; futures: take-profit, limit when triggered.
        TakeProfit => "TAKE_PROFIT",
        /// Spot take-profit limit.
        TakeProfitLimit => "TAKE_PROFIT_LIMIT",
        /// Spot post-only limit.
        LimitMaker => "LIMIT_MAKER",
        /// Futures stop (limit when triggered).
        Stop => "STOP",
        /// Futures stop-market.
        StopMarket => "STOP_MARKET",
        /// Futures take-profit-market.
        TakeProfitMarket => "TAKE_PROFIT_MARKET",
        /// Futures trailing stop.
        TrailingStopMarket => "TRAILING_STOP_MARKET",
        /// Futures liquidation (events only).
        Liquidation => "LIQUIDATION",
    }
    unknown: Unknown
}

impl OrderType {
    /// Futures conditional types (sent to the algo-order endpoint).
    pub const fn is_futures_conditional(self) -> bool {
        matches!(
            self,
            Self::Stop
                | Self::StopMarket
                | Self::TakeProfit
                | Self::TakeProfitMarket
                | Self::TrailingStopMarket
        )
    }
}

wire_enum! {
    /// Time in force.
    TimeInForce {
        /// Good till cancelled.
        Gtc => "GTC",
        /// Immediate or cancel.
        Ioc => "IOC",
        /// Fill or kill.
        Fok => "FOK",
        /// Futures post-only ("good till crossing").
        Gtx => "GTX",
        /// Futures good till date (`goodTillDate`).
        Gtd => "GTD",
        /// USD-M retail-price-improvement post-only.
        Rpi => "RPI",
    }
    unknown: Unknown
}

wire_enum! {
    /// Order status.
    OrderStatus {
        /// Accepted, open.
        New => "NEW",
        /// Spot: pending (order lists).
        PendingNew => "PENDING_NEW",
        /// Partly filled, open.
        PartiallyFilled => "PARTIALLY_FILLED",
        /// Filled.
        Filled => "FILLED",
        /// Cancelled.
        Canceled => "CANCELED",
        /// Spot: unused.
        PendingCancel => "PENDING_CANCEL",
        /// Rejected.
        Rejected => "REJECTED",
        /// Expired (IOC/FOK remainder, GTX that would take, ...).
        Expired => "EXPIRED",
        /// Expired by self-trade prevention.
        ExpiredInMatch => "EXPIRED_IN_MATCH",
    }
    unknown: Unknown
}

impl OrderStatus {
    /// Whether the order can still trade.
    pub const fn is_open(self) -> bool {
        matches!(self, Self::New | Self::PendingNew | Self::PartiallyFilled)
    }
}

wire_enum! {
    /// `newOrderRespType`.
    NewOrderRespType {
        /// Ids and time only.
        Ack => "ACK",
        /// Final state for orders that complete at once.
        Result => "RESULT",
        /// Spot: RESULT plus the fills.
        Full => "FULL",
    }
}

wire_enum! {
    /// `selfTradePreventionMode`.
    SelfTradePrevention {
        /// No STP (spot; shown in futures answers).
        None => "NONE",
        /// Expire the taker.
        ExpireTaker => "EXPIRE_TAKER",
        /// Expire the maker.
        ExpireMaker => "EXPIRE_MAKER",
        /// Expire both.
        ExpireBoth => "EXPIRE_BOTH",
        /// Spot: decrement both.
        Decrement => "DECREMENT",
        /// Spot: transfer.
        Transfer => "TRANSFER",
    }
    unknown: Unknown
}

wire_enum! {
    /// Futures `priceMatch`.
    PriceMatch {
        /// None (answers only).
        None => "NONE",
        /// Opponent best price.
        Opponent => "OPPONENT",
        /// Opponent 5th price.
        Opponent5 => "OPPONENT_5",
        /// Opponent 10th price.
        Opponent10 => "OPPONENT_10",
        /// Opponent 20th price.
        Opponent20 => "OPPONENT_20",
        /// Own-side best price.
        Queue => "QUEUE",
        /// Own-side 5th price.
        Queue5 => "QUEUE_5",
        /// Own-side 10th price.
        Queue10 => "QUEUE_10",
        /// Own-side 20th price.
        Queue20 => "QUEUE_20",
    }
    unknown: Unknown
}

wire_enum! {
    /// Futures `workingType` (which price triggers).
    WorkingType {
        /// Mark price.
        MarkPrice => "MARK_PRICE",
        /// Last price.
        ContractPrice => "CONTRACT_PRICE",
    }
    unknown: Unknown
}

wire_enum! {
    /// Futures position side.
    PositionSide {
        /// One-way mode.
        Both => "BOTH",
        /// Hedge mode, long.
        Long => "LONG",
        /// Hedge mode, short.
        Short => "SHORT",
    }
}

impl From<veloz_core::PositionSide> for PositionSide {
    fn from(p: veloz_core::PositionSide) -> Self {
        match p {
            veloz_core::PositionSide::Both => Self::Both,
            veloz_core::PositionSide::Long => Self::Long,
            veloz_core::PositionSide::Short => Self::Short,
        }
    }
}

impl From<PositionSide> for veloz_core::PositionSide {
    fn from(p: PositionSide) -> Self {
        match p {
            PositionSide::Both => Self::Both,
            PositionSide::Long => Self::Long,
            PositionSide::Short => Self::Short,
        }
    }
}

wire_enum! {
    /// `marginType` as sent to `POST /marginType`.
    MarginType {
        /// Isolated margin.
        Isolated => "ISOLATED",
        /// Cross margin.
        Crossed => "CROSSED",
    }
}

wire_enum! {
    /// Spot `cancelReplaceMode`.
    CancelReplaceMode {
        /// Do not place the new order if the cancel fails.
        StopOnFailure => "STOP_ON_FAILURE",
        /// Place the new order even if the cancel fails.
        AllowFailure => "ALLOW_FAILURE",
    }
}

wire_enum! {
    /// Spot `cancelRestrictions`.
    CancelRestrictions {
        /// Cancel only if NEW.
        OnlyNew => "ONLY_NEW",
        /// Cancel only if PARTIALLY_FILLED.
        OnlyPartiallyFilled => "ONLY_PARTIALLY_FILLED",
    }
}

wire_enum! {
    /// Spot `orderRateLimitExceededMode` (cancel-replace).
    OrderRateLimitExceededMode {
        /// Do nothing when over the order rate limit.
        DoNothing => "DO_NOTHING",
        /// Still cancel.
        CancelOnly => "CANCEL_ONLY",
    }
}

wire_enum! {
    /// Spot `pegPriceType`.
    PegPriceType {
        /// Best price on the order's side.
        PrimaryPeg => "PRIMARY_PEG",
        /// Best price on the opposite side.
        MarketPeg => "MARKET_PEG",
    }
    unknown: Unknown
}

wire_enum! {
    /// Spot `pegOffsetType`.
    PegOffsetType {
        /// Offset in price levels.
        PriceLevel => "PRICE_LEVEL",
    }
    unknown: Unknown
}

wire_enum! {
    /// Algo (conditional) order status.
    AlgoStatus {
        /// Waiting for the trigger.
        New => "NEW",
        /// Triggering.
        Triggering => "TRIGGERING",
        /// Triggered: an order was placed.
        Triggered => "TRIGGERED",
        /// Done.
        Finished => "FINISHED",
        /// Cancelled.
        Canceled => "CANCELED",
        /// Expired.
        Expired => "EXPIRED",
        /// Rejected.
        Rejected => "REJECTED",
    }
    unknown: Unknown
}

wire_enum! {
    /// Symbol trading status (`status` / `contractStatus`).
    SymbolStatus {
        /// Trading.
        Trading => "TRADING",
        /// Spot: end of day.
        EndOfDay => "END_OF_DAY",
        /// Halted.
        Halt => "HALT",
        /// Break.
        Break => "BREAK",
        /// Spot: cancel only.
        CancelOnly => "CANCEL_ONLY",
        /// Futures: not yet trading.
        PendingTrading => "PENDING_TRADING",
        /// Futures: before delivery.
        PreDelivering => "PRE_DELIVERING",
        /// Futures: delivering.
        Delivering => "DELIVERING",
        /// Futures: delivered.
        Delivered => "DELIVERED",
        /// Futures: before settlement.
        PreSettle => "PRE_SETTLE",
        /// Futures: settling.
        Settling => "SETTLING",
        /// Futures: closed.
        Close => "CLOSE",
    }
    unknown: Unknown
}

wire_enum! {
    /// Futures contract type.
    ContractType {
        /// Perpetual.
        Perpetual => "PERPETUAL",
        /// Current month.
        CurrentMonth => "CURRENT_MONTH",
        /// Next month.
        NextMonth => "NEXT_MONTH",
        /// Current quarter.
        CurrentQuarter => "CURRENT_QUARTER",
        /// Next quarter.
        NextQuarter => "NEXT_QUARTER",
        /// Perpetual being delivered.
        PerpetualDelivering => "PERPETUAL_DELIVERING",
        /// Not a contract (empty string on some symbols).
        None => "",
    }
    unknown: Unknown
}

wire_enum! {
    /// Kline interval.
    KlineInterval {
        /// 1 second (spot only).
        S1 => "1s",
        /// 1 minute.
        M1 => "1m",
        /// 3 minutes.
        M3 => "3m",
        /// 5 minutes.
        M5 => "5m",
        /// 15 minutes.
        M15 => "15m",
        /// 30 minutes.
        M30 => "30m",
        /// 1 hour.
        H1 => "1h",
        /// 2 hours.
        H2 => "2h",
        /// 4 hours.
        H4 => "4h",
        /// 6 hours.
        H6 => "6h",
        /// 8 hours.
        H8 => "8h",
        /// 12 hours.
        H12 => "12h",
        /// 1 day.
        D1 => "1d",
        /// 3 days.
        D3 => "3d",
        /// 1 week.
        W1 => "1w",
        /// 1 month.
        Mo1 => "1M",
    }
}

impl KlineInterval {
    /// Length in seconds (a month counts as 30 days).
    pub const fn seconds(self) -> u32 {
        match self {
            Self::S1 => 1,
            Self::M1 => 60,
            Self::M3 => 180,
            Self::M5 => 300,
            Self::M15 => 900,
            Self::M30 => 1800,
            Self::H1 => 3600,
            Self::H2 => 7200,
            Self::H4 => 14_400,
            Self::H6 => 21_600,
            Self::H8 => 28_800,
            Self::H12 => 43_200,
            Self::D1 => 86_400,
            Self::D3 => 259_200,
            Self::W1 => 604_800,
            Self::Mo1 => 2_592_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknowns() {
        assert_eq!(
            OrderType::from_wire("LIMIT_MAKER"),
            Some(OrderType::LimitMaker)
        );
        let t: OrderType = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(t, OrderType::Unknown);
        assert!(serde_json::from_str::<NewOrderRespType>("\"X\"").is_err());
        assert_eq!(serde_json::to_string(&TimeInForce::Gtx).unwrap(), "\"GTX\"");
        let c: ContractType = serde_json::from_str("\"\"").unwrap();
        assert_eq!(c, ContractType::None);
        assert_eq!(KlineInterval::Mo1.as_str(), "1M");
        assert!(OrderType::TrailingStopMarket.is_futures_conditional());
        assert!(!OrderType::Limit.is_futures_conditional());
    }
}
