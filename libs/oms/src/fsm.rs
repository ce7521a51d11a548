//! The order state machine: one pure, exhaustive transition function,
//! [`transition`].
//!
//! This module owns the rules of which event may move an order from which
//! status to which. It holds no order data (quantities, fills, fees live in
//! [`crate::order`]) and never panics: an illegal pair is an
//! [`IllegalTransition`] value.
//!
//! # Machine state
//!
//! The status alone is not enough to answer "where does a refused cancel
//! return to?". The machine state ([`FsmState`]) is the status plus two
//! facts remembered across the pending states:
//!
//! * `resting`: the settled status the order returns to when a pending request
//!   is refused (`SUBMITTED`, `ACCEPTED`, `TRIGGERED` or `PARTIALLY_FILLED`);
//!   acknowledgements, triggers and partial fills that arrive while a request is
//!   pending update it;
//! * `update_pending`: a modify is in flight (set on entering `PENDING_UPDATE`,
//!   kept if a cancel follows, cleared by `Updated` or `ModifyRejected`).
//!
//! # Transition table
//!
//! Rows are the current status, columns the event. Cell legend:
//!
//! * a status: the order moves there;
//! * `=`: the event is applied and the status stays (e.g. a fill is recorded);
//! * `·`: the event is a stale or duplicate report and is ignored: nothing
//!   changes and no error is raised;
//! * `—`: illegal; [`transition`] returns an error and the order is unchanged;
//! * `back`: return to the status before the pending request (see races 6–8);
//! * `a/b`: one of the outcomes, depending on the fill quantity or on the
//!   remembered facts (footnotes below).
//!
//! | status \ event | Emu | Rel | Sub | Acc | Rej | Den | Trg | PU | PC | Upd | Fill | Cxl | Exp | CxR | MdR |
//! |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
//! | INIT | EMU | — | SUB | — | — | DEN | — | — | — | — | — | CXL | — | — | — |
//! | DEN | — | — | — | — | — | — | — | — | — | — | — | — | — | — | — |
//! | EMU | — | REL | — | — | — | — | — | — | — | = | — | CXL | EXP | — | — |
//! | REL | — | — | SUB | — | — | DEN | — | — | — | — | — | CXL | — | — | — |
//! | SUB | — | — | — | ACC | REJ | — | TRG | PU | PC | — | PF/FIL | CXL | EXP | — | — |
//! | ACC | — | — | — | · | — | — | TRG | PU | PC | — | PF/FIL | CXL | EXP | — | — |
//! | REJ | — | — | — | — | — | — | — | — | — | — | — | — | — | · | · |
//! | TRG | — | — | — | · | — | — | · | PU | PC | — | PF/FIL | CXL | EXP | — | — |
//! | PU | — | — | — | =/· | REJ/— | — | =/· | — | PC | back | =/FIL | CXL | EXP | — | back |
//! | PC | — | — | — | =/· | REJ/— | — | =/· | — | — | =/— | =/FIL | CXL | EXP | back | =/— |
//! | PF | — | — | — | · | — | — | · | PU | PC | — | PF/FIL | CXL | EXP | — | — |
//! | FIL | — | — | — | · | — | — | · | — | — | — | — | — | — | · | · |
//! | CXL | — | — | — | · | — | — | · | — | — | — | = | · | — | · | · |
//! | EXP | — | — | — | · | — | — | · | — | — | — | = | — | · | · | · |
//!
//! Columns: `Emu` Emulated, `Rel` Released, `Sub` Submitted, `Acc` Accepted,
//! `Rej` Rejected, `Den` Denied, `Trg` Triggered, `PU` PendingUpdate, `PC`
//! PendingCancel, `Upd` Updated, `Fill` Filled, `Cxl` Canceled, `Exp` Expired,
//! `CxR` CancelRejected, `MdR` ModifyRejected. Rows use the same short names
//! for statuses ([`OrderStatus::abbrev`]). A unit test parses this table and
//! checks every cell against [`transition`], so the table cannot drift from
//! the code.
//!
//! Footnotes:
//!
//! * `PF/FIL`, `=/FIL`: `FILLED` when the fill takes the leaves quantity to
//!   zero, otherwise `PARTIALLY_FILLED` (or, while a request is pending, the
//!   status stays and `resting` becomes `PARTIALLY_FILLED`).
//! * `=/·` for `Accepted` / `Triggered` while pending: applied (only `resting`
//!   changes, to `ACCEPTED` / `TRIGGERED`) when it is news, i.e. `resting` was
//!   `SUBMITTED` (or `ACCEPTED` for a trigger); ignored otherwise.
//! * `REJ/—`: the order itself can only be rejected while pending if it was
//!   never acknowledged (`resting` is `SUBMITTED`).
//! * `=/—` for `Updated` / `ModifyRejected` in `PENDING_CANCEL`: legal only when
//!   a modify is still in flight (`update_pending`); it resolves the modify and
//!   the cancel stays pending.
//!
//! # Races (legal edges, each a real interleaving of venue messages)
//!
//! 1. **Fill before acknowledgement**: `SUBMITTED` + fill goes straight to
//!    `PARTIALLY_FILLED` or `FILLED` (the user-data stream's trade can beat the
//!    REST acknowledgement).
//! 2. **Stale acknowledgement**: `Accepted` after a fill, a trigger or closure,
//!    and `Triggered` after a fill or closure, are ignored; an order never goes
//!    back. A duplicate `Accepted` (REST answer and stream event) is ignored too.
//! 3. **Immediate orders**: IOC/FOK (and post-only orders that would take) are
//!    `CANCELED` or `EXPIRED` straight from `SUBMITTED`, with or without fills
//!    before.
//! 4. **Fill while a cancel is pending**: a partial fill keeps
//!    `PENDING_CANCEL` (the cancel is still in flight) and sets `resting` to
//!    `PARTIALLY_FILLED`; a fill that completes the order moves it to `FILLED`,
//!    and the `CancelRejected` that follows is ignored (race 9). The same holds
//!    for `PENDING_UPDATE`.
//! 5. **Fill after `CANCELED` / `EXPIRED`**: the execution happened at the venue
//!    before the cancel or expiry, but its report arrived after. The fill is
//!    recorded (filled quantity, average price, fees, fill list all updated,
//!    leaves shrinks) and the status **stays** `CANCELED` / `EXPIRED`: the order
//!    never reopens and a closed status never changes, even if the late fills
//!    bring the filled quantity up to the full quantity. Overfill and side
//!    checks still apply.
//! 6. **Cancel refused**: `CancelRejected` in `PENDING_CANCEL` returns to the
//!    status before `PENDING_CANCEL`: `PENDING_UPDATE` if a modify is still in
//!    flight, otherwise `resting` (which reflects any acknowledgement, trigger or
//!    partial fill received meanwhile).
//! 7. **Modify refused or applied**: `ModifyRejected` / `Updated` in
//!    `PENDING_UPDATE` return to `resting`; `Updated` also carries the new
//!    quantity and prices. A new quantity at or below the filled quantity is an
//!    error (the order would have nothing left to work).
//! 8. **Cancel while a modify is pending**: `PENDING_UPDATE` + `PendingCancel`
//!    goes to `PENDING_CANCEL` remembering the modify; its answer may still
//!    arrive (`=/—` cells).
//! 9. **Answer after closure**: `CancelRejected` / `ModifyRejected` on
//!    `FILLED`, `CANCELED`, `EXPIRED` or `REJECTED` are ignored: the request lost
//!    the race against the order's end (Binance answers "unknown order").
//! 10. **Rejected while a request is pending**: a cancel or modify sent before
//!     the acknowledgement, then the venue rejects the order itself: `REJECTED`.
//! 11. **Duplicate close**: a second `Canceled` on `CANCELED` (or `Expired` on
//!     `EXPIRED`), e.g. REST answer plus stream event, is ignored.
//! 12. **Trigger before acknowledgement**: `SUBMITTED` + `Triggered` goes to
//!     `TRIGGERED`; the late `Accepted` is then ignored.
//!
//! Duplicate fills (same trade id) never reach the table; [`crate::Order`]
//! detects them first.

use std::fmt;

use crate::status::{EventTag, OrderStatus};

/// The full machine state: status plus what the pending states must remember.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FsmState {
    /// Current status.
    pub status: OrderStatus,
    /// The settled status a pending request returns to when refused. Equal to
    /// `status` whenever the order is not pending.
    pub resting: OrderStatus,
    /// A modify request is in flight.
    pub update_pending: bool,
}

impl FsmState {
    /// A settled state: not pending, nothing in flight besides the status itself.
    pub const fn settled(status: OrderStatus) -> Self {
        Self {
            status,
            resting: status,
            update_pending: false,
        }
    }
}

/// Why an event was ignored rather than applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// An `Accepted` or `Triggered` report older than what is already known
    /// (after a fill, a trigger or closure), or a duplicate of one.
    StaleAck,
    /// A second `Canceled` / `Expired` for an order already closed that way.
    DuplicateClose,
    /// A `CancelRejected` for an order that had already closed.
    CancelLostRace,
    /// A `ModifyRejected` for an order that had already closed.
    ModifyLostRace,
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StaleAck => "stale or duplicate acknowledgement",
            Self::DuplicateClose => "duplicate close report",
            Self::CancelLostRace => "cancel refused after the order had closed",
            Self::ModifyLostRace => "modify refused after the order had closed",
        })
    }
}

/// The outcome of a legal pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Apply the event; the machine state becomes this (its status may be the
    /// same as before, e.g. a partial fill on `PARTIALLY_FILLED`).
    Move(FsmState),
    /// Ignore the event: a stale or duplicate report. Nothing changes.
    Ignore(IgnoreReason),
}

/// An event that is not allowed in the current status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IllegalTransition {
    /// The status the order was in.
    pub from: OrderStatus,
    /// The event that is not allowed there.
    pub event: EventTag,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not allowed in status {}", self.event, self.from)
    }
}

/// The transition table: what `event` does to an order in `state`.
///
/// `fill_completes` matters only for [`EventTag::Filled`]: does the fill take
/// the leaves quantity to zero (or beyond, which the caller then refuses as an
/// overfill)?
///
/// Every (status, event) pair has its own arm, grouped by event; there is no
/// catch-all, so adding a status or an event fails to compile until the table
/// says what it does.
pub fn transition(
    state: FsmState,
    event: EventTag,
    fill_completes: bool,
) -> Result<Step, IllegalTransition> {
    use EventTag as E;
    use OrderStatus as S;

    let illegal = Err(IllegalTransition {
        from: state.status,
        event,
    });
    let settle = |status| Ok(Step::Move(FsmState::settled(status)));
    // Stay in the current (pending or closed) status with new remembered facts.
    let stay = |resting, update_pending| {
        Ok(Step::Move(FsmState {
            status: state.status,
            resting,
            update_pending,
        }))
    };
    let ignore = |reason| Ok(Step::Ignore(reason));
    let resting = state.resting;
    let update_pending = state.update_pending;

    match (state.status, event) {
        // ------------------------------------------------------------ Emulated
        // Local: only a fresh order can be handed to the emulator.
        (S::Initialized, E::Emulated) => settle(S::Emulated),
        (
            S::Denied
            | S::Emulated
            | S::Released
            | S::Submitted
            | S::Accepted
            | S::Rejected
            | S::Triggered
            | S::PendingUpdate
            | S::PendingCancel
            | S::PartiallyFilled
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::Emulated,
        ) => illegal,

        // ------------------------------------------------------------ Released
        (S::Emulated, E::Released) => settle(S::Released),
        (
            S::Initialized
            | S::Denied
            | S::Released
            | S::Submitted
            | S::Accepted
            | S::Rejected
            | S::Triggered
            | S::PendingUpdate
            | S::PendingCancel
            | S::PartiallyFilled
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::Released,
        ) => illegal,

        // ----------------------------------------------------------- Submitted
        // An order is submitted once; a released emulated order is submitted too.
        (S::Initialized | S::Released, E::Submitted) => settle(S::Submitted),
        (
            S::Denied
            | S::Emulated
            | S::Submitted
            | S::Accepted
            | S::Rejected
            | S::Triggered
            | S::PendingUpdate
            | S::PendingCancel
            | S::PartiallyFilled
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::Submitted,
        ) => illegal,

        // ------------------------------------------------------------ Accepted
        (S::Submitted, E::Accepted) => settle(S::Accepted),
        // Race 2: a duplicate ack, or an ack older than a trigger, a fill or the
        // order's end. Never regress.
        (
            S::Accepted | S::Triggered | S::PartiallyFilled | S::Filled | S::Canceled | S::Expired,
            E::Accepted,
        ) => ignore(IgnoreReason::StaleAck),
        // The ack of an order whose cancel/modify went out before the ack: the
        // request stays pending; a refusal must now return to ACCEPTED.
        (S::PendingUpdate | S::PendingCancel, E::Accepted) => {
            if resting == S::Submitted {
                stay(S::Accepted, update_pending)
            } else {
                ignore(IgnoreReason::StaleAck)
            }
        }
        (S::Initialized | S::Denied | S::Emulated | S::Released | S::Rejected, E::Accepted) => {
            illegal
        }

        // ------------------------------------------------------------ Rejected
        (S::Submitted, E::Rejected) => settle(S::Rejected),
        // Race 10: a cancel/modify was sent before the ack, then the venue
        // rejected the order itself.
        (S::PendingUpdate | S::PendingCancel, E::Rejected) => {
            if resting == S::Submitted {
                settle(S::Rejected)
            } else {
                illegal
            }
        }
        (
            S::Initialized
            | S::Denied
            | S::Emulated
            | S::Released
            | S::Accepted
            | S::Rejected
            | S::Triggered
            | S::PartiallyFilled
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::Rejected,
        ) => illegal,

        // -------------------------------------------------------------- Denied
        // Risk or validation refuses before sending (also a released order).
        (S::Initialized | S::Released, E::Denied) => settle(S::Denied),
        (
            S::Denied
            | S::Emulated
            | S::Submitted
            | S::Accepted
            | S::Rejected
            | S::Triggered
            | S::PendingUpdate
            | S::PendingCancel
            | S::PartiallyFilled
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::Denied,
        ) => illegal,

        // ----------------------------------------------------------- Triggered
        // Race 12: the trigger can fire before the ack arrives.
        (S::Submitted | S::Accepted, E::Triggered) => settle(S::Triggered),
        // Race 2: a duplicate trigger, or one reported after a fill or closure
        // (the fill proves the trigger fired).
        (
            S::Triggered | S::PartiallyFilled | S::Filled | S::Canceled | S::Expired,
            E::Triggered,
        ) => ignore(IgnoreReason::StaleAck),
        (S::PendingUpdate | S::PendingCancel, E::Triggered) => {
            if matches!(resting, S::Submitted | S::Accepted) {
                stay(S::Triggered, update_pending)
            } else {
                ignore(IgnoreReason::StaleAck)
            }
        }
        (S::Initialized | S::Denied | S::Emulated | S::Released | S::Rejected, E::Triggered) => {
            illegal
        }

        // ------------------------------------------------------- PendingUpdate
        // One modify at a time, and none while a cancel is in flight.
        (S::Submitted | S::Accepted | S::Triggered | S::PartiallyFilled, E::PendingUpdate) => {
            Ok(Step::Move(FsmState {
                status: S::PendingUpdate,
                resting: state.status,
                update_pending: true,
            }))
        }
        (
            S::Initialized
            | S::Denied
            | S::Emulated
            | S::Released
            | S::Rejected
            | S::PendingUpdate
            | S::PendingCancel
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::PendingUpdate,
        ) => illegal,

        // ------------------------------------------------------- PendingCancel
        (S::Submitted | S::Accepted | S::Triggered | S::PartiallyFilled, E::PendingCancel) => {
            Ok(Step::Move(FsmState {
                status: S::PendingCancel,
                resting: state.status,
                update_pending: false,
            }))
        }
        // Race 8: cancel while a modify is in flight; remember the modify.
        (S::PendingUpdate, E::PendingCancel) => Ok(Step::Move(FsmState {
            status: S::PendingCancel,
            resting,
            update_pending: true,
        })),
        // A second cancel while one is in flight is the caller's bug (never
        // retry blindly); local orders are canceled directly (`Canceled`).
        (
            S::Initialized
            | S::Denied
            | S::Emulated
            | S::Released
            | S::Rejected
            | S::PendingCancel
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::PendingCancel,
        ) => illegal,

        // ------------------------------------------------------------- Updated
        // Race 7: the modify was applied; back to where the order rested.
        (S::PendingUpdate, E::Updated) => settle(resting),
        // Race 8: the modify's answer arrives while a later cancel is pending.
        (S::PendingCancel, E::Updated) => {
            if update_pending {
                stay(resting, false)
            } else {
                illegal
            }
        }
        // The emulator modifies a locally held order directly.
        (S::Emulated, E::Updated) => settle(S::Emulated),
        (
            S::Initialized
            | S::Denied
            | S::Released
            | S::Submitted
            | S::Accepted
            | S::Rejected
            | S::Triggered
            | S::PartiallyFilled
            | S::Filled
            | S::Canceled
            | S::Expired,
            E::Updated,
        ) => illegal,

        // -------------------------------------------------------------- Filled
        // Race 1 (fill before ack) is the SUBMITTED arm.
        (S::Submitted | S::Accepted | S::Triggered | S::PartiallyFilled, E::Filled) => {
            if fill_completes {
                settle(S::Filled)
            } else {
                settle(S::PartiallyFilled)
            }
        }
        // Race 4: the request stays in flight; a refusal returns to PARTIALLY_FILLED.
        (S::PendingUpdate | S::PendingCancel, E::Filled) => {
            if fill_completes {
                settle(S::Filled)
            } else {
                stay(S::PartiallyFilled, update_pending)
            }
        }
        // Race 5: the execution preceded the cancel/expiry at the venue. Record
        // it; the order stays closed with the same status.
        (S::Canceled | S::Expired, E::Filled) => stay(state.status, false),
        (
            S::Initialized | S::Denied | S::Emulated | S::Released | S::Rejected | S::Filled,
            E::Filled,
        ) => illegal,

        // ------------------------------------------------------------ Canceled
        // Race 3 (IOC/FOK leftovers) is the SUBMITTED arm; local orders are
        // canceled without a venue round trip.
        (
            S::Initialized
            | S::Emulated
            | S::Released
            | S::Submitted
            | S::Accepted
            | S::Triggered
            | S::PendingUpdate
            | S::PendingCancel
            | S::PartiallyFilled,
            E::Canceled,
        ) => settle(S::Canceled),
        // Race 11.
        (S::Canceled, E::Canceled) => ignore(IgnoreReason::DuplicateClose),
        (S::Denied | S::Rejected | S::Filled | S::Expired, E::Canceled) => illegal,

        // ------------------------------------------------------------- Expired
        // Race 3 again (Binance spot reports an IOC leftover as EXPIRED); the
        // emulator expires a GTD order it holds.
        (
            S::Emulated
            | S::Submitted
            | S::Accepted
            | S::Triggered
            | S::PendingUpdate
            | S::PendingCancel
            | S::PartiallyFilled,
            E::Expired,
        ) => settle(S::Expired),
        // Race 11.
        (S::Expired, E::Expired) => ignore(IgnoreReason::DuplicateClose),
        (
            S::Initialized | S::Denied | S::Released | S::Rejected | S::Filled | S::Canceled,
            E::Expired,
        ) => illegal,

        // ------------------------------------------------------ CancelRejected
        // Race 6: back to the status before PENDING_CANCEL.
        (S::PendingCancel, E::CancelRejected) => {
            if update_pending {
                Ok(Step::Move(FsmState {
                    status: S::PendingUpdate,
                    resting,
                    update_pending: true,
                }))
            } else {
                settle(resting)
            }
        }
        // Race 9: the cancel lost against a fill, a cancel, an expiry or a reject.
        (S::Rejected | S::Filled | S::Canceled | S::Expired, E::CancelRejected) => {
            ignore(IgnoreReason::CancelLostRace)
        }
        (
            S::Initialized
            | S::Denied
            | S::Emulated
            | S::Released
            | S::Submitted
            | S::Accepted
            | S::Triggered
            | S::PendingUpdate
            | S::PartiallyFilled,
            E::CancelRejected,
        ) => illegal,

        // ------------------------------------------------------ ModifyRejected
        // Race 7.
        (S::PendingUpdate, E::ModifyRejected) => settle(resting),
        // Race 8.
        (S::PendingCancel, E::ModifyRejected) => {
            if update_pending {
                stay(resting, false)
            } else {
                illegal
            }
        }
        // Race 9.
        (S::Rejected | S::Filled | S::Canceled | S::Expired, E::ModifyRejected) => {
            ignore(IgnoreReason::ModifyLostRace)
        }
        (
            S::Initialized
            | S::Denied
            | S::Emulated
            | S::Released
            | S::Submitted
            | S::Accepted
            | S::Triggered
            | S::PartiallyFilled,
            E::ModifyRejected,
        ) => illegal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use EventTag as E;
    use OrderStatus as S;

    const SETTLED_RESTING: [S; 4] = [S::Submitted, S::Accepted, S::Triggered, S::PartiallyFilled];

    /// Every machine state the order can really be in with status `status`.
    fn reachable_states(status: S) -> Vec<FsmState> {
        match status {
            S::PendingUpdate => SETTLED_RESTING
                .iter()
                .map(|&resting| FsmState {
                    status,
                    resting,
                    update_pending: true,
                })
                .collect(),
            S::PendingCancel => SETTLED_RESTING
                .iter()
                .flat_map(|&resting| {
                    [false, true].map(|update_pending| FsmState {
                        status,
                        resting,
                        update_pending,
                    })
                })
                .collect(),
            _ => vec![FsmState::settled(status)],
        }
    }

    /// Does one outcome match one cell token of the documented table?
    fn matches_token(from: S, outcome: &Result<Step, IllegalTransition>, token: &str) -> bool {
        match (outcome, token) {
            (Err(_), "—") => true,
            (Ok(Step::Ignore(_)), "·") => true,
            (Ok(Step::Move(next)), "=") => next.status == from,
            (Ok(Step::Move(next)), "back") => {
                next.status != from
                    && matches!(
                        next.status,
                        S::Submitted
                            | S::Accepted
                            | S::Triggered
                            | S::PartiallyFilled
                            | S::PendingUpdate
                    )
            }
            (Ok(Step::Move(next)), abbrev) => next.status.abbrev() == abbrev,
            _ => false,
        }
    }

    fn documented_table() -> Vec<(S, Vec<String>)> {
        let src = include_str!("fsm.rs");
        let mut rows = Vec::new();
        for line in src.lines() {
            let Some(rest) = line.strip_prefix("//! | ") else {
                continue;
            };
            let cells: Vec<String> = rest
                .trim_end_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            if let Some(status) = S::ALL.iter().find(|s| s.abbrev() == cells[0]) {
                rows.push((*status, cells[1..].to_vec()));
            }
        }
        rows
    }

    #[test]
    fn documented_table_matches_the_code() {
        let rows = documented_table();
        assert_eq!(rows.len(), S::ALL.len(), "one row per status");
        for (i, (status, cells)) in rows.iter().enumerate() {
            assert_eq!(*status, S::ALL[i], "rows in declaration order");
            assert_eq!(
                cells.len(),
                E::ALL.len(),
                "row {status}: one cell per event"
            );
            for (event, cell) in E::ALL.iter().zip(cells) {
                let tokens: Vec<&str> = cell.split('/').collect();
                let mut used = vec![false; tokens.len()];
                for state in reachable_states(*status) {
                    for completes in [false, true] {
                        let outcome = transition(state, *event, completes);
                        let hit = tokens
                            .iter()
                            .position(|t| matches_token(*status, &outcome, t));
                        match hit {
                            Some(k) => used[k] = true,
                            None => panic!(
                                "{status} + {event} in {state:?} (completes={completes}) gave \
                                 {outcome:?}, but the table says {cell:?}"
                            ),
                        }
                    }
                }
                assert!(
                    used.iter().all(|u| *u),
                    "{status} + {event}: cell {cell:?} lists an outcome the code never produces"
                );
            }
        }
    }

    #[test]
    fn closed_statuses_never_change() {
        for status in S::ALL.into_iter().filter(|s| s.is_closed()) {
            for event in E::ALL {
                for completes in [false, true] {
                    if let Ok(Step::Move(next)) =
                        transition(FsmState::settled(status), event, completes)
                    {
                        assert_eq!(next.status, status, "{status} + {event}");
                        assert_eq!(event, E::Filled, "only late fills touch {status}");
                    }
                }
            }
        }
    }

    #[test]
    fn refused_cancel_returns_to_previous_state() {
        for resting in SETTLED_RESTING {
            let pc = transition(FsmState::settled(resting), E::PendingCancel, false).unwrap();
            let Step::Move(pc) = pc else {
                panic!("PendingCancel must move")
            };
            assert_eq!(pc.status, S::PendingCancel);
            let back = transition(pc, E::CancelRejected, false).unwrap();
            assert_eq!(back, Step::Move(FsmState::settled(resting)));
        }
    }

    #[test]
    fn refused_cancel_during_modify_returns_to_pending_update() {
        let pu = FsmState {
            status: S::PendingUpdate,
            resting: S::Accepted,
            update_pending: true,
        };
        let Ok(Step::Move(pc)) = transition(pu, E::PendingCancel, false) else {
            panic!("cancel during modify must be legal")
        };
        assert_eq!(transition(pc, E::CancelRejected, false), Ok(Step::Move(pu)));
        // Once the modify is answered, a refused cancel returns to ACCEPTED.
        let Ok(Step::Move(pc2)) = transition(pc, E::ModifyRejected, false) else {
            panic!("modify answer during cancel must be legal")
        };
        assert_eq!(pc2.status, S::PendingCancel);
        assert!(!pc2.update_pending);
        assert_eq!(
            transition(pc2, E::CancelRejected, false),
            Ok(Step::Move(FsmState::settled(S::Accepted)))
        );
        // And a second modify answer is now illegal.
        assert_eq!(
            transition(pc2, E::Updated, false),
            Err(IllegalTransition {
                from: S::PendingCancel,
                event: E::Updated
            })
        );
    }
}
