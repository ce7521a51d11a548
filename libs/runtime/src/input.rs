//! What the kernel consumes: every input that can change trading state, in
//! one enum, so that one journal records all of them and a replay feeds them
//! back in the same order.

use serde::{Deserialize, Serialize};
use veloz_core::events::{AccountEvent, MarketEvent, OrderEvent};
use veloz_core::{InstrumentId, Money, Price, Quantity, UnixNanos};
use veloz_risk::TradingState;

/// A funding payment on a perpetual position (positive = received).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingEvent {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Signed position quantity at the funding time.
    pub position_qty: Quantity,
    /// Mark price used.
    pub mark: Price,
    /// Funding rate.
    pub rate: Price,
    /// Amount credited (negative = paid), in the margin asset.
    pub amount: Money,
    /// Funding time (exchange clock).
    pub time: UnixNanos,
}

/// An operator's or a supervisor's command to the kernel. Journaled like
/// every other input, so a replay takes the same decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Halt trading, cancel every open order, and with `flatten` close every
    /// position with reduce-only market orders.
    KillSwitch {
        /// Close positions too.
        flatten: bool,
        /// Why (audited).
        reason: String,
    },
    /// Set the risk engine's trading state (resume after a halt, reduce only).
    SetTradingState {
        /// The new state.
        state: TradingState,
        /// Why (audited).
        reason: String,
    },
    /// A venue connection (market data, user data, order entry) went up or
    /// down; the risk engine halts on a loss if configured to.
    Connection {
        /// Up or down.
        up: bool,
        /// Which connection.
        what: String,
    },
    /// A supervisor's finding that changes no state but belongs in the
    /// journal (a reconciliation mismatch, an order placed outside VeloZ):
    /// the step's audit records it.
    Finding {
        /// Who found it (`reconcile`, ...).
        source: String,
        /// What was found.
        text: String,
    },
}

/// One input to the kernel. `time` of the envelope ([`Stamped`]) is the local
/// (receive) time; the events inside carry both clocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", content = "event", rename_all = "snake_case")]
pub enum Input {
    /// Start the strategies (the first input of a run).
    Start,
    /// Market data.
    Market(MarketEvent),
    /// An order event reported by the venue.
    Order(OrderEvent),
    /// A balance, margin or position update reported by the venue.
    Account(AccountEvent),
    /// A funding payment reported by the venue.
    Funding(FundingEvent),
    /// Timers due at or before this time fire.
    Timer,
    /// Stop the strategies (the last input of a run).
    Stop,
    /// An operator or supervisor command (kill switch, trading state,
    /// connection status).
    Control(Control),
}

impl Input {
    /// A short name for logs and audit records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Market(_) => "market",
            Self::Order(_) => "order",
            Self::Account(_) => "account",
            Self::Funding(_) => "funding",
            Self::Timer => "timer",
            Self::Stop => "stop",
            Self::Control(_) => "control",
        }
    }
}

/// An input with its sequence number and local time, as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamped {
    /// Position in the run, from 1, without gaps.
    pub seq: u64,
    /// Local time at which the kernel handles it.
    pub time: UnixNanos,
    /// The input.
    pub input: Input,
}

impl Input {
    /// The kernel input of a simulated venue's report (backtests and paper
    /// trading); `None` for a liquidation, which reaches the kernel as the
    /// order and account events that come with it.
    pub fn from_venue(msg: veloz_sim::backtest::VenueMessage) -> Option<Self> {
        use veloz_sim::backtest::VenueMessage;
        Some(match msg {
            VenueMessage::Order(ev) => Self::Order(ev),
            VenueMessage::Account(ev) => Self::Account(ev),
            VenueMessage::Funding(f) => Self::Funding(FundingEvent {
                instrument: f.instrument,
                position_qty: f.position_qty,
                mark: f.mark,
                rate: f.rate,
                amount: f.amount,
                time: f.time,
            }),
            VenueMessage::Liquidation(_) => return None,
        })
    }
}
