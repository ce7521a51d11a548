//! What the simulated venue reports back from each call: order events (with a
//! snapshot of the order), account updates, trades it created, funding
//! payments and liquidations.
//!
//! Reports come out in the order things happened within the call. Order
//! events use `veloz_core`'s [`OrderEvent`] (with [`OrderEventKind::Filled`]
//! carrying the trade id, price, quantity, fee and maker/taker flag); account
//! updates use [`AccountEvent`] (spot balances as `Balance`, futures as
//! `Margin` and `Position`).

use veloz_core::events::{AccountEvent, OrderEvent, OrderEventKind};
use veloz_core::{
    AggressorSide, Currency, InstrumentId, Money, PositionSide, Price, Quantity, TradeId, UnixNanos,
};

use crate::order::{AccountId, SimOrder};

/// Why an order expired (Binance's `expiryReason` idea, simulator wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireReason {
    /// IOC or market order with quantity left after matching.
    ImmediateLeftover,
    /// FOK order that could not fill in full (spot; futures rejects with -5021).
    FillOrKill,
    /// Good-till-date expiry time reached.
    GoodTillDate,
    /// Self-trade prevention.
    SelfTradePrevention,
    /// Reduce-only / close-position order with no position left to reduce.
    NothingToReduce,
    /// A triggered order could not be placed (margin or balance, post-only
    /// would take, ...); the venue error is given.
    TriggerFailed {
        /// Binance error code.
        code: i64,
    },
}

/// An event about one order, with the order's state after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderReport {
    /// Owner.
    pub account: AccountId,
    /// The event.
    pub event: OrderEvent,
    /// Why it expired, for `Expired` events.
    pub expire_reason: Option<ExpireReason>,
    /// The order after the event.
    pub order: SimOrder,
}

/// Who was on the other side of a simulated trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counterparty {
    /// The replayed market's liquidity.
    Market,
    /// Another simulated order.
    Account {
        /// Its owner.
        account: AccountId,
        /// Its venue order id.
        venue_order_id: veloz_core::VenueOrderId,
    },
}

/// A trade the simulator executed (one per trade id; both sides' fills carry it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimTrade {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Simulator trade id (per instrument, increasing).
    pub trade_id: TradeId,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Quantity,
    /// Side of the taker (for a fill triggered by the replayed market against a
    /// resting simulated order, the market's side).
    pub aggressor: AggressorSide,
    /// Account of the simulated taker, if the taker was simulated.
    pub taker: Option<AccountId>,
    /// The maker.
    pub maker: Counterparty,
    /// When.
    pub time: UnixNanos,
}

/// A funding payment of one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingPayment {
    /// Account.
    pub account: AccountId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Position leg.
    pub position_side: PositionSide,
    /// Signed position quantity at the funding time.
    pub position_qty: Quantity,
    /// Mark price used.
    pub mark: Price,
    /// Funding rate applied.
    pub rate: Price,
    /// Amount credited to the wallet (negative = paid).
    pub amount: Money,
    /// Funding time.
    pub time: UnixNanos,
}

/// One position closed by a liquidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidatedPosition {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Position leg.
    pub position_side: PositionSide,
    /// Signed quantity closed.
    pub qty: Quantity,
    /// Price the position was closed at (the mark price).
    pub price: Price,
    /// Realised PnL of the close at that price.
    pub realized_pnl: Money,
}

/// A liquidation: every cross position of one margin asset, or one isolated
/// position, closed at the mark price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiquidationReport {
    /// Account.
    pub account: AccountId,
    /// Margin asset.
    pub margin_asset: Currency,
    /// The positions closed.
    pub positions: Vec<LiquidatedPosition>,
    /// Margin left after the closes that the venue kept as the clearance fee.
    pub clearance_fee: Money,
    /// Loss beyond the margin, covered by the insurance fund.
    pub insurance_cover: Money,
    /// When.
    pub time: UnixNanos,
}

/// One thing the simulated venue reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimReport {
    /// An order event (boxed: it carries a snapshot of the order).
    Order(Box<OrderReport>),
    /// A balance, margin or position update.
    Account {
        /// Account.
        account: AccountId,
        /// The update.
        event: AccountEvent,
    },
    /// A trade the simulator executed.
    Trade(SimTrade),
    /// A funding payment.
    Funding(FundingPayment),
    /// A liquidation.
    Liquidation(LiquidationReport),
}

impl SimReport {
    /// The order report, if this is one.
    pub fn as_order(&self) -> Option<&OrderReport> {
        match self {
            Self::Order(o) => Some(&**o),
            _ => None,
        }
    }

    /// The fill, if this is a fill report.
    pub fn as_fill(&self) -> Option<&veloz_core::events::Fill> {
        match &self.as_order()?.event {
            OrderEvent {
                kind: OrderEventKind::Filled(f),
                ..
            } => Some(f),
            _ => None,
        }
    }
}

/// Sum of a list of fees by currency (a helper for tests and reports).
pub fn total_fees(reports: &[SimReport]) -> Vec<(Currency, Money)> {
    let mut out: Vec<(Currency, Money)> = Vec::new();
    for f in reports.iter().filter_map(SimReport::as_fill) {
        let c = f.fee.currency();
        match out.iter_mut().find(|(k, _)| *k == c) {
            Some((_, m)) => *m = Money::from_raw(m.raw() + f.fee.raw(), c),
            None => out.push((c, f.fee)),
        }
    }
    out
}
