//! The kernel's side of live execution: [`ChannelVenue`] implements the
//! kernel's [`Venue`] by queueing each command for the execution task
//! ([`crate::exec`]) without blocking, stamped with its send time and, when a
//! market event caused it, that event's receive time (for tick-to-trade).

use std::collections::HashMap;

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

/// The kernel's venue in live trading (see the module docs).
#[derive(Debug)]
pub struct ChannelVenue {
    tx: mpsc::UnboundedSender<Outbound>,
    /// Receive time of the market frame being handled.
    pub trigger: Option<UnixNanos>,
    sent: HashMap<ClientOrderId, SentOrder>,
    /// Commands that could not be queued (the execution task had stopped).
    pub undeliverable: u64,
}

impl ChannelVenue {
    /// A venue writing to `tx`.
    pub fn new(tx: mpsc::UnboundedSender<Outbound>) -> Self {
        Self {
            tx,
            trigger: None,
            sent: HashMap::new(),
            undeliverable: 0,
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
