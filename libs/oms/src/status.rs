//! The two axes of the order transition table: [`OrderStatus`] (where an order
//! is) and [`EventTag`] (what happened to it, without the payload).
//!
//! This module owns the status vocabulary and its groupings (local, open,
//! closed, in flight). It holds no order data and applies nothing; the table
//! itself lives in [`crate::fsm`].

use std::fmt;

use veloz_core::events::OrderEventKind;

/// Where an order is in its life.
///
/// Every status belongs to exactly one of three groups:
///
/// * **local** ([`Self::is_local`]): `INITIALIZED`, `EMULATED`, `RELEASED`; the
///   venue has never seen the order;
/// * **open** ([`Self::is_open`]): `SUBMITTED`, `ACCEPTED`, `TRIGGERED`,
///   `PENDING_UPDATE`, `PENDING_CANCEL`, `PARTIALLY_FILLED`; the venue has the
///   order, or may have it, so it can still fill;
/// * **closed** ([`Self::is_closed`]): `DENIED`, `REJECTED`, `FILLED`,
///   `CANCELED`, `EXPIRED`; terminal, no further state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    /// Created by a strategy, not yet sent anywhere.
    Initialized,
    /// Refused by VeloZ itself (risk or validation) before it left the process.
    Denied,
    /// Held locally by the emulator (a conditional order the venue cannot hold).
    Emulated,
    /// The emulator's trigger fired; about to be submitted.
    Released,
    /// Sent to the venue; no acknowledgement yet.
    Submitted,
    /// Acknowledged by the venue and working.
    Accepted,
    /// Refused by the venue.
    Rejected,
    /// A conditional order whose trigger fired at the venue; working.
    Triggered,
    /// A modify request is in flight.
    PendingUpdate,
    /// A cancel request is in flight.
    PendingCancel,
    /// Working, with part of the quantity executed.
    PartiallyFilled,
    /// Fully executed.
    Filled,
    /// Canceled (by us, by the venue, or the unfilled rest of an IOC/FOK).
    Canceled,
    /// Expired (GTD, or the venue expired it, e.g. self-trade prevention).
    Expired,
}

impl OrderStatus {
    /// Every status, in declaration order.
    pub const ALL: [Self; 14] = [
        Self::Initialized,
        Self::Denied,
        Self::Emulated,
        Self::Released,
        Self::Submitted,
        Self::Accepted,
        Self::Rejected,
        Self::Triggered,
        Self::PendingUpdate,
        Self::PendingCancel,
        Self::PartiallyFilled,
        Self::Filled,
        Self::Canceled,
        Self::Expired,
    ];

    /// Terminal: `DENIED`, `REJECTED`, `FILLED`, `CANCELED`, `EXPIRED`.
    pub const fn is_closed(self) -> bool {
        matches!(
            self,
            Self::Denied | Self::Rejected | Self::Filled | Self::Canceled | Self::Expired
        )
    }

    /// Known to the venue (or on its way there) and able to fill: `SUBMITTED`,
    /// `ACCEPTED`, `TRIGGERED`, `PENDING_UPDATE`, `PENDING_CANCEL`,
    /// `PARTIALLY_FILLED`.
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            Self::Submitted
                | Self::Accepted
                | Self::Triggered
                | Self::PendingUpdate
                | Self::PendingCancel
                | Self::PartiallyFilled
        )
    }

    /// Never sent to the venue: `INITIALIZED`, `EMULATED`, `RELEASED`.
    pub const fn is_local(self) -> bool {
        matches!(self, Self::Initialized | Self::Emulated | Self::Released)
    }

    /// A request to the venue awaits its answer: `SUBMITTED`, `PENDING_UPDATE`,
    /// `PENDING_CANCEL`. Such an order must not be re-sent blindly; the venue's
    /// answer (or an order query) decides what happened.
    pub const fn is_inflight(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::PendingUpdate | Self::PendingCancel
        )
    }

    /// A modify or cancel is in flight: `PENDING_UPDATE`, `PENDING_CANCEL`.
    pub const fn is_pending(self) -> bool {
        matches!(self, Self::PendingUpdate | Self::PendingCancel)
    }

    /// Upper snake case name, e.g. `PARTIALLY_FILLED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initialized => "INITIALIZED",
            Self::Denied => "DENIED",
            Self::Emulated => "EMULATED",
            Self::Released => "RELEASED",
            Self::Submitted => "SUBMITTED",
            Self::Accepted => "ACCEPTED",
            Self::Rejected => "REJECTED",
            Self::Triggered => "TRIGGERED",
            Self::PendingUpdate => "PENDING_UPDATE",
            Self::PendingCancel => "PENDING_CANCEL",
            Self::PartiallyFilled => "PARTIALLY_FILLED",
            Self::Filled => "FILLED",
            Self::Canceled => "CANCELED",
            Self::Expired => "EXPIRED",
        }
    }

    /// The short name used in the transition table of [`crate::fsm`].
    pub const fn abbrev(self) -> &'static str {
        match self {
            Self::Initialized => "INIT",
            Self::Denied => "DEN",
            Self::Emulated => "EMU",
            Self::Released => "REL",
            Self::Submitted => "SUB",
            Self::Accepted => "ACC",
            Self::Rejected => "REJ",
            Self::Triggered => "TRG",
            Self::PendingUpdate => "PU",
            Self::PendingCancel => "PC",
            Self::PartiallyFilled => "PF",
            Self::Filled => "FIL",
            Self::Canceled => "CXL",
            Self::Expired => "EXP",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an order, without its payload: the column of the
/// transition table.
///
/// Every [`OrderEventKind`] maps to one tag ([`Self::of`]). `Emulated` and
/// `Released` are local events of the order emulator; they have no venue
/// counterpart and are applied with [`crate::Order::emulate`] and
/// [`crate::Order::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventTag {
    /// Local: the emulator took the order.
    Emulated,
    /// Local: the emulator's trigger fired and handed the order on.
    Released,
    /// Sent to the venue.
    Submitted,
    /// Acknowledged by the venue.
    Accepted,
    /// Refused by the venue.
    Rejected,
    /// Refused by VeloZ before sending.
    Denied,
    /// A conditional order's trigger fired at the venue.
    Triggered,
    /// A modify request was sent.
    PendingUpdate,
    /// A cancel request was sent.
    PendingCancel,
    /// A modify was applied.
    Updated,
    /// An execution.
    Filled,
    /// Canceled.
    Canceled,
    /// Expired.
    Expired,
    /// A cancel request was refused.
    CancelRejected,
    /// A modify request was refused.
    ModifyRejected,
}

impl EventTag {
    /// Every tag, in declaration order (the column order of the table).
    pub const ALL: [Self; 15] = [
        Self::Emulated,
        Self::Released,
        Self::Submitted,
        Self::Accepted,
        Self::Rejected,
        Self::Denied,
        Self::Triggered,
        Self::PendingUpdate,
        Self::PendingCancel,
        Self::Updated,
        Self::Filled,
        Self::Canceled,
        Self::Expired,
        Self::CancelRejected,
        Self::ModifyRejected,
    ];

    /// The tag of a venue or kernel event.
    pub const fn of(kind: &OrderEventKind) -> Self {
        match kind {
            OrderEventKind::Submitted => Self::Submitted,
            OrderEventKind::Accepted => Self::Accepted,
            OrderEventKind::Rejected { .. } => Self::Rejected,
            OrderEventKind::Denied { .. } => Self::Denied,
            OrderEventKind::Triggered => Self::Triggered,
            OrderEventKind::PendingUpdate => Self::PendingUpdate,
            OrderEventKind::PendingCancel => Self::PendingCancel,
            OrderEventKind::Updated { .. } => Self::Updated,
            OrderEventKind::Filled(_) => Self::Filled,
            OrderEventKind::Canceled => Self::Canceled,
            OrderEventKind::Expired => Self::Expired,
            OrderEventKind::CancelRejected { .. } => Self::CancelRejected,
            OrderEventKind::ModifyRejected { .. } => Self::ModifyRejected,
        }
    }

    /// The event's name, e.g. `CancelRejected`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Emulated => "Emulated",
            Self::Released => "Released",
            Self::Submitted => "Submitted",
            Self::Accepted => "Accepted",
            Self::Rejected => "Rejected",
            Self::Denied => "Denied",
            Self::Triggered => "Triggered",
            Self::PendingUpdate => "PendingUpdate",
            Self::PendingCancel => "PendingCancel",
            Self::Updated => "Updated",
            Self::Filled => "Filled",
            Self::Canceled => "Canceled",
            Self::Expired => "Expired",
            Self::CancelRejected => "CancelRejected",
            Self::ModifyRejected => "ModifyRejected",
        }
    }
}

impl fmt::Display for EventTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_in_exactly_one_group() {
        for s in OrderStatus::ALL {
            let groups = [s.is_local(), s.is_open(), s.is_closed()];
            assert_eq!(groups.iter().filter(|g| **g).count(), 1, "{s}");
            if s.is_inflight() {
                assert!(s.is_open(), "{s}");
            }
        }
        assert_eq!(OrderStatus::ALL.iter().filter(|s| s.is_closed()).count(), 5);
    }

    #[test]
    fn names_are_distinct() {
        let names: std::collections::BTreeSet<_> =
            OrderStatus::ALL.iter().map(|s| s.abbrev()).collect();
        assert_eq!(names.len(), OrderStatus::ALL.len());
        let names: std::collections::BTreeSet<_> =
            EventTag::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), EventTag::ALL.len());
        assert_eq!(OrderStatus::PartiallyFilled.to_string(), "PARTIALLY_FILLED");
    }
}
