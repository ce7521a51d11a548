//! The kernel's side of live execution: [`ChannelVenue`] implements the
//! kernel's [`Venue`] by queueing each command for the execution task
//! ([`crate::exec`]) without blocking, stamped with its send time and, when a
//! market event caused it, that event's receive time (for tick-to-trade).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use veloz_core::events::Command;
use veloz_core::{ClientOrderId, InstrumentId, Price, Quantity, Side, UnixNanos};
use veloz_runtime::Venue;

/// A command on its way to the venue.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The command.
    pub command: Command,
    /// Kernel time when it was sent.
    pub sent_at: UnixNanos,
    /// Receive time of the market frame that caused it, if one did.
    pub trigger: Option<UnixNanos>,
    /// For a modify: the order as last sent (side, quantity, price), which
    /// Binance's modify needs in full.
    pub order: Option<SentOrder>,
}

/// What was last sent for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentOrder {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Quantity.
    pub quantity: Quantity,
    /// Limit price.
    pub price: Option<Price>,
    /// Kernel time of the submit.
    pub submitted_at: UnixNanos,
}

/// Where a submit is between the kernel and the venue. The reconciler asks
/// before it concludes that an order the venue does not know never reached
/// it: a submit still queued or being sent is not an order that vanished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitState {
    /// Queued for the execution task.
    Queued,
    /// The execution task is sending it (attempts included).
    Sending,
    /// Its request finished (answered, failed or timed out) at this time.
    Done(UnixNanos),
}

/// Submit states by client order id, shared by the kernel's venue, the
/// execution task and the reconciler.
#[derive(Debug, Default)]
pub struct SubmitTracker {
    states: HashMap<ClientOrderId, SubmitState>,
}

/// The shared tracker.
pub type SharedTracker = Arc<Mutex<SubmitTracker>>;

impl SubmitTracker {
    /// Records `state` for `id`.
    pub fn set(&mut self, id: ClientOrderId, state: SubmitState) {
        self.states.insert(id, state);
    }

    /// The state of `id` (`None`: not sent in this session).
    pub fn get(&self, id: &ClientOrderId) -> Option<SubmitState> {
        self.states.get(id).copied()
    }

    /// Forgets `id` (its order closed).
    pub fn remove(&mut self, id: &ClientOrderId) {
        self.states.remove(id);
    }
}

/// Sets `state` for `id` in a shared tracker (a poisoned lock is ignored:
/// the reconciler then falls back to the submit time).
pub fn track(tracker: &SharedTracker, id: ClientOrderId, state: SubmitState) {
    if let Ok(mut t) = tracker.lock() {
        t.set(id, state);
    }
}

/// The kernel's venue in live trading (see the module docs).
#[derive(Debug)]
pub struct ChannelVenue {
    tx: mpsc::UnboundedSender<Outbound>,
    /// Receive time of the market frame being handled.
    pub trigger: Option<UnixNanos>,
    sent: HashMap<ClientOrderId, SentOrder>,
    /// Commands that could not be queued (the execution task had stopped).
    pub undeliverable: u64,
    tracker: SharedTracker,
}

impl ChannelVenue {
    /// A venue writing to `tx`, recording submits in `tracker`.
    pub fn new(tx: mpsc::UnboundedSender<Outbound>, tracker: SharedTracker) -> Self {
        Self {
            tx,
            trigger: None,
            sent: HashMap::new(),
            undeliverable: 0,
            tracker,
        }
    }

    /// What was sent for `id`.
    pub fn sent(&self, id: &ClientOrderId) -> Option<&SentOrder> {
        self.sent.get(id)
    }

    /// Forgets orders that are closed (the engine calls it with the ids the
    /// order store reports closed).
    pub fn forget(&mut self, id: &ClientOrderId) {
        self.sent.remove(id);
        if let Ok(mut t) = self.tracker.lock() {
            t.remove(id);
        }
    }

    /// How many orders it remembers.
    pub fn remembered(&self) -> usize {
        self.sent.len()
    }
}

impl Venue for ChannelVenue {
    fn send(&mut self, command: &Command, now: UnixNanos) {
        let mut order = None;
        match command {
            Command::Submit(o) => {
                track(&self.tracker, o.client_order_id, SubmitState::Queued);
                self.sent.insert(
                    o.client_order_id,
                    SentOrder {
                        instrument: o.instrument,
                        side: o.side,
                        quantity: o.quantity,
                        price: o.price,
                        submitted_at: now,
                    },
                );
            }
            Command::Modify(m) => {
                if let Some(s) = self.sent.get_mut(&m.client_order_id) {
                    order = Some(*s);
                    if let Some(q) = m.quantity {
                        s.quantity = q;
                    }
                    if m.price.is_some() {
                        s.price = m.price;
                    }
                }
            }
            Command::Cancel(_) | Command::CancelAll(_) => {}
        }
        let out = Outbound {
            command: command.clone(),
            sent_at: now,
            trigger: self.trigger,
            order,
        };
        if self.tx.send(out).is_err() {
            self.undeliverable += 1;
        }
    }
}
