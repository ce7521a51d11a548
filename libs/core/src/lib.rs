//! # veloz-core
//!
//! The vocabulary every other VeloZ crate speaks:
//!
//! * [`time`]: [`UnixNanos`] and the [`Clock`] trait (live and manual clocks);
//! * [`fixed`] and [`money`]: exact fixed-point [`Price`], [`Quantity`] and
//!   [`Money`] (no floating point anywhere);
//! * [`ids`]: venue, market kind, symbol, [`InstrumentId`], strategy, order and
//!   trade ids, and deterministic [`ClientOrderIdGenerator`];
//! * [`instrument`]: instruments with their trading rules, snapping helpers and
//!   the order validator;
//! * [`enums`]: side, order type, time in force, flags, ...;
//! * [`events`]: market data, commands, order and account events;
//! * [`fixtures`]: where tests find the shared third-party fixtures.
//!
//! This crate owns types and pure rules only. It does no I/O (except locating
//! fixture files), keeps no global state and knows nothing about any venue's
//! wire format.

pub mod deltas;
pub mod enums;
pub mod events;
pub mod fixed;
pub mod fixtures;
pub mod ids;
pub(crate) mod inline;
pub mod instrument;
pub mod money;
pub mod time;

pub use enums::*;
pub use fixed::{FixedError, Price, Quantity, Rounding, FIXED_PRECISION, FIXED_SCALE};
pub use ids::{
    ClientOrderId, ClientOrderIdGenerator, InstrumentId, MarketKind, StrategyId, Symbol, TradeId,
    Venue, VenueOrderId,
};
pub use inline::IdError;
pub use instrument::{ContractKind, Instrument, LotLimits, OrderCheck, PercentBand, Violation};
pub use money::{Currency, Money, MoneyError};
pub use time::{civil_from_days, days_from_civil, Clock, LiveClock, ManualClock, UnixNanos};
