//! What the I/O tasks hand to the kernel's loop.

use veloz_core::events::{AccountEvent, MarketEvent, OrderEvent};
use veloz_core::UnixNanos;

/// One message from an I/O task to the engine loop. Market, order and
/// account messages become journaled kernel inputs; the others are
/// supervision (metrics, audit records, the status line).
#[derive(Debug, Clone)]
pub enum Inbound {
    /// Market data, with the local time its frame was received.
    Market {
        /// The event.
        event: MarketEvent,
        /// Frame receive time.
        received: UnixNanos,
    },
    /// An order event (REST answer, user-data stream, or reconciliation).
    Order(OrderEvent),
    /// An order event found by reconciliation (counted as recovered when
    /// it is a fill VeloZ did not have).
    Reconciled(OrderEvent),
    /// A balance or position from the venue.
    Account(AccountEvent),
    /// A connection went down or came back.
    Link {
        /// Which connection.
        what: String,
        /// Up or down.
        up: bool,
    },
    /// An operator's command (kill switch, trading state): journaled.
    Control(veloz_runtime::Control),
    /// A reconciliation mismatch: journaled (`Control::Finding`), audited.
    Finding(String),
    /// A finding worth an audit record (a reconciliation mismatch, an
    /// external order, a settled unknown outcome).
    Audit(String),
}
