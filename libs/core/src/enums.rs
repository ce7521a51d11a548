//! Trading enums shared by every crate: side, order type, time in force, order
//! flags, position side, trigger price type, liquidity side.
//!
//! The serde names are VeloZ's own (upper snake case); venue adapters map to and
//! from wire names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// Buy (bid).
    Buy,
    /// Sell (ask).
    Sell,
}

impl Side {
    /// The other side.
    pub const fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }

    /// +1 for buy, -1 for sell.
    pub const fn sign(self) -> i64 {
        match self {
            Self::Buy => 1,
            Self::Sell => -1,
        }
    }

    /// `BUY` or `SELL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "BUY",
            Self::Sell => "SELL",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Order type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderType {
    /// Market order.
    Market,
    /// Limit order.
    Limit,
    /// Stop-market (Binance `STOP_MARKET`, spot `STOP_LOSS`).
    StopMarket,
    /// Stop-limit (Binance futures `STOP`, spot `STOP_LOSS_LIMIT`).
    StopLimit,
    /// Take-profit market (`TAKE_PROFIT_MARKET`, spot `TAKE_PROFIT`).
    TakeProfitMarket,
    /// Take-profit limit (`TAKE_PROFIT`, spot `TAKE_PROFIT_LIMIT`).
    TakeProfitLimit,
    /// Trailing stop market (futures `TRAILING_STOP_MARKET`).
    TrailingStopMarket,
}

impl OrderType {
    /// Does the order carry a limit price?
    pub const fn has_limit_price(self) -> bool {
        matches!(self, Self::Limit | Self::StopLimit | Self::TakeProfitLimit)
    }

    /// Does the order wait for a trigger price?
    pub const fn is_conditional(self) -> bool {
        matches!(
            self,
            Self::StopMarket
                | Self::StopLimit
                | Self::TakeProfitMarket
                | Self::TakeProfitLimit
                | Self::TrailingStopMarket
        )
    }
}

/// Time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeInForce {
    /// Good till canceled.
    #[serde(rename = "GTC")]
    Gtc,
    /// Immediate or cancel.
    #[serde(rename = "IOC")]
    Ioc,
    /// Fill or kill.
    #[serde(rename = "FOK")]
    Fok,
    /// Good till crossing: post-only, rejected if it would take (futures `GTX`;
    /// spot expresses this as order type `LIMIT_MAKER`).
    #[serde(rename = "GTX")]
    Gtx,
    /// Good till date (futures `GTD` with `goodTillDate`).
    #[serde(rename = "GTD")]
    Gtd,
}

impl TimeInForce {
    /// Does an order with this time in force leave nothing resting on the book?
    pub const fn is_immediate(self) -> bool {
        matches!(self, Self::Ioc | Self::Fok)
    }
}

/// Order flags. `Copy` bit set; combine with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct OrderFlags(u8);

impl OrderFlags {
    /// No flags.
    pub const NONE: Self = Self(0);
    /// Post-only: never take liquidity (spot `LIMIT_MAKER`, futures `GTX`).
    pub const POST_ONLY: Self = Self(1);
    /// Reduce-only (futures).
    pub const REDUCE_ONLY: Self = Self(2);
    /// Close the whole position when triggered (futures `closePosition`).
    pub const CLOSE_POSITION: Self = Self(4);

    /// Are all flags of `other` set?
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Is any flag set?
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for OrderFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// Position side (futures): `BOTH` in one-way mode, `LONG`/`SHORT` in hedge mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PositionSide {
    /// One-way mode.
    #[default]
    Both,
    /// Hedge mode, long leg.
    Long,
    /// Hedge mode, short leg.
    Short,
}

/// Which price triggers a conditional order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TriggerPriceType {
    /// Last traded price (Binance `CONTRACT_PRICE`).
    #[default]
    Last,
    /// Mark price (Binance `MARK_PRICE`).
    Mark,
}

/// Whether a fill added or removed liquidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Liquidity {
    /// The order was resting: maker.
    Maker,
    /// The order crossed the book: taker.
    Taker,
}

/// Which side of the market the aggressor of a public trade was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AggressorSide {
    /// The buyer took liquidity (Binance `m == false`).
    Buyer,
    /// The seller took liquidity (Binance `m == true`).
    Seller,
}

/// Futures margin mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MarginMode {
    /// Cross margin.
    #[default]
    Cross,
    /// Isolated margin.
    Isolated,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_combine() {
        let f = OrderFlags::POST_ONLY | OrderFlags::REDUCE_ONLY;
        assert!(f.contains(OrderFlags::POST_ONLY));
        assert!(f.contains(OrderFlags::REDUCE_ONLY));
        assert!(!f.contains(OrderFlags::CLOSE_POSITION));
        assert!(OrderFlags::NONE.is_empty());
    }

    #[test]
    fn order_type_properties() {
        assert!(OrderType::StopLimit.has_limit_price());
        assert!(!OrderType::Market.is_conditional());
        assert!(OrderType::TrailingStopMarket.is_conditional());
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert!(TimeInForce::Fok.is_immediate());
    }
}
