//! # veloz-oms
//!
//! The order management core: what state every order is in, and what it has
//! executed.
//!
//! * [`status`]: [`OrderStatus`] (the states of ARCHITECTURE §4, plus local
//!   `EMULATED` / `RELEASED`) and [`EventTag`] (one per
//!   [`veloz_core::events::OrderEventKind`], plus the two local emulator events);
//! * [`fsm`]: the one exhaustive transition function, [`transition`], with the
//!   transition table and the list of venue races it accepts as legal edges;
//! * [`order`]: [`Order`], the per-order bookkeeping (filled / leaves quantity,
//!   exact average price, fees per asset, fills de-duplicated by trade id,
//!   overfill detection);
//! * [`store`]: [`OrderStore`], orders by client order id with indexes by venue
//!   order id, instrument and liveness, returning an [`Audit`] per event.
//!
//! Applying an event never panics: an illegal or inconsistent event is a typed
//! [`OrderError`] and leaves the order unchanged, so the caller can record it,
//! count it and reconcile with the venue.
//!
//! This crate does no I/O, knows no venue wire format, sends nothing and keeps
//! no clock: venue adapters turn wire messages into
//! [`veloz_core::events::OrderEvent`]s and the kernel feeds them here.

pub mod fsm;
mod inline_list;
pub mod order;
pub mod status;
pub mod store;

pub use fsm::{transition, FsmState, IgnoreReason, IllegalTransition, Step};
pub use order::{Applied, Order, OrderError};
pub use status::{EventTag, OrderStatus};
pub use store::{Audit, OrderStore, StoreError};
