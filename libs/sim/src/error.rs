//! Errors of the simulated venue.
//!
//! * [`VenueError`]: a refusal the way Binance words it (`code` and `msg`), the
//!   answer to a command (new order, cancel, modify, leverage, ...). The
//!   simulator server sends it to its clients as is; a backtest turns it into
//!   an `OrderEventKind::Rejected` with [`VenueError::rejected`].
//! * [`SimError`]: a mistake in setting the simulation up (unknown instrument
//!   or account, bad model parameters), with a message that says how to fix it.
//!
//! The codes and messages follow Binance's published error tables (spot
//! `-1013 Filter failure: …`, `-2010`, `-2011`; futures `-2019`, `-2021`,
//! `-2022`, `-40xx`, `-4164`, `-5021`, `-5022`, ...). Where Binance has no
//! specific code for a condition the simulator checks, the closest documented
//! code is used and the message says what went wrong; `docs/SIMULATION.md`
//! lists them.

use veloz_core::events::{EventTimes, OrderEvent, OrderEventKind};
use veloz_core::{ClientOrderId, InstrumentId, MarketKind};

use crate::order::AccountId;

/// A command refused by the simulated venue, as Binance would answer it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {msg}")]
pub struct VenueError {
    /// Binance error code (negative).
    pub code: i64,
    /// Binance error message.
    pub msg: String,
}

impl VenueError {
    /// An error with `code` and `msg`.
    pub fn new(code: i64, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    /// `-1121 Invalid symbol.`
    pub fn invalid_symbol() -> Self {
        Self::new(-1121, "Invalid symbol.")
    }

    /// `-2015` for an account the simulator does not know.
    pub fn unknown_account() -> Self {
        Self::new(-2015, "Invalid API-key, IP, or permissions for action.")
    }

    /// `-1000` for an internal arithmetic overflow (absurd numbers).
    pub fn overflow() -> Self {
        Self::new(
            -1000,
            "An unknown error occured while processing the request: arithmetic overflow (numbers too large).",
        )
    }

    /// `-1102` for a missing mandatory parameter.
    pub fn missing_param(name: &str) -> Self {
        Self::new(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    /// `-1106` for a parameter that must not be sent.
    pub fn param_not_required(name: &str) -> Self {
        Self::new(-1106, format!("Parameter '{name}' sent when not required."))
    }

    /// `-1115 Invalid timeInForce.`
    pub fn invalid_tif() -> Self {
        Self::new(-1115, "Invalid timeInForce.")
    }

    /// `-1116 Invalid orderType.`
    pub fn invalid_order_type() -> Self {
        Self::new(-1116, "Invalid orderType.")
    }

    /// `-1130` for a parameter with an invalid value.
    pub fn invalid_param(name: &str) -> Self {
        Self::new(
            -1130,
            format!("Data sent for parameter '{name}' is not valid."),
        )
    }

    /// Duplicate client order id among open orders (spot `-2010`, futures `-4116`).
    pub fn duplicate_order(kind: MarketKind) -> Self {
        if kind.is_futures() {
            Self::new(-4116, "clientOrderId is duplicated.")
        } else {
            Self::new(-2010, "Duplicate order sent.")
        }
    }

    /// Spot `-2010 Account has insufficient balance for requested action.`
    pub fn insufficient_balance() -> Self {
        Self::new(
            -2010,
            "Account has insufficient balance for requested action.",
        )
    }

    /// Futures `-2019 Margin is insufficient.`
    pub fn insufficient_margin() -> Self {
        Self::new(-2019, "Margin is insufficient.")
    }

    /// Post-only order that would take: spot `-2010`, futures `-5022`.
    pub fn would_take(kind: MarketKind) -> Self {
        if kind.is_futures() {
            Self::new(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected.",
            )
        } else {
            Self::new(-2010, "Order would immediately match and take.")
        }
    }

    /// Futures `-5021`: a FOK order that cannot be filled in full.
    pub fn fok_rejected() -> Self {
        Self::new(
            -5021,
            "Due to the order could not be filled immediately, the FOK order has been rejected.",
        )
    }

    /// Conditional order that would trigger at once: spot `-2010`, futures `-2021`.
    pub fn would_trigger(kind: MarketKind) -> Self {
        if kind.is_futures() {
            Self::new(-2021, "Order would immediately trigger.")
        } else {
            Self::new(-2010, "Order would trigger immediately.")
        }
    }

    /// Futures `-2022 ReduceOnly Order is rejected.`
    pub fn reduce_only_rejected() -> Self {
        Self::new(-2022, "ReduceOnly Order is rejected.")
    }

    /// Futures `-4061`: position side does not match the position mode.
    pub fn position_side_mismatch() -> Self {
        Self::new(
            -4061,
            "Order's position side does not match user's setting.",
        )
    }

    /// Unknown order on cancel (`-2011`).
    pub fn unknown_order_cancel() -> Self {
        Self::new(-2011, "Unknown order sent.")
    }

    /// Unknown order on query or modify (`-2013`).
    pub fn no_such_order() -> Self {
        Self::new(-2013, "Order does not exist.")
    }

    /// `-5027 No need to modify the order.`
    pub fn same_order() -> Self {
        Self::new(-5027, "No need to modify the order.")
    }

    /// `-5040`: GTD expiry too close or too far.
    pub fn bad_good_till_date() -> Self {
        Self::new(
            -5040,
            "The goodTillDate timestamp must be greater than the current time plus 600 seconds and smaller than 253402300799000 (UTC 9999-12-31 23:59:59)",
        )
    }

    /// `-4028 Leverage is not valid.`
    pub fn invalid_leverage(leverage: u32) -> Self {
        Self::new(-4028, format!("Leverage {leverage} is not valid"))
    }

    /// The `Rejected` order event for this error.
    pub fn rejected(
        &self,
        instrument: InstrumentId,
        client_order_id: ClientOrderId,
        times: EventTimes,
    ) -> OrderEvent {
        OrderEvent {
            instrument,
            client_order_id,
            venue_order_id: None,
            kind: OrderEventKind::Rejected {
                code: Some(self.code),
                reason: self.msg.clone(),
            },
            times,
        }
    }
}

/// A mistake in setting up the simulation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The instrument was never added.
    #[error("instrument {0} is not simulated: add it with SimExchange::add_instrument first")]
    UnknownInstrument(InstrumentId),
    /// The instrument was added twice.
    #[error("instrument {0} is already simulated: add each instrument once")]
    DuplicateInstrument(InstrumentId),
    /// The account was never opened.
    #[error("account {0} does not exist: open it with SimExchange::open_account first")]
    UnknownAccount(AccountId),
    /// A model or configuration parameter is out of range.
    #[error("invalid simulation parameter: {0}")]
    InvalidParameter(String),
    /// A market event could not be applied to the simulated book.
    #[error("market event refused: {0}")]
    Market(String),
    /// Arithmetic overflow (absurd amounts).
    #[error("arithmetic overflow while {0}: the amounts are too large to simulate exactly")]
    Overflow(&'static str),
}
