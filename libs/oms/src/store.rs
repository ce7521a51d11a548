//! [`OrderStore`]: every order of a session by client order id, with indexes by
//! venue order id, by instrument and by liveness, applying events and
//! returning one audit outcome per event.
//!
//! This module owns routing and indexing. It does not decide transitions (that
//! is [`crate::fsm`]) nor keep per-order numbers (that is [`crate::order`]).
//! All maps are `BTreeMap`/`BTreeSet`, so iteration order is deterministic and
//! a replayed journal visits orders in the same order.
//!
//! Venue order ids are indexed per instrument: Binance's `orderId` is unique
//! per symbol, not across symbols.

use std::collections::{BTreeMap, BTreeSet};

use veloz_core::events::{EventTimes, OrderEvent, SubmitOrder};
use veloz_core::{ClientOrderId, InstrumentId, VenueOrderId};

use crate::order::{Applied, Order, OrderError};

/// Why the store refused a request. The store and its orders are unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// An order with this client order id is already stored.
    #[error("order {0} already exists; client order ids must be unique")]
    DuplicateOrder(ClientOrderId),
    /// No order with this client order id.
    #[error("unknown order {0}; it was never added to this store (an order from outside VeloZ?)")]
    UnknownOrder(ClientOrderId),
    /// The event's venue order id already belongs to another order.
    #[error(
        "venue order id {venue_order_id} on {instrument} already belongs to order {owner}; \
         the event was not applied: the adapter mapped it to the wrong order"
    )]
    VenueOrderIdTaken {
        /// Instrument.
        instrument: InstrumentId,
        /// The venue id.
        venue_order_id: VenueOrderId,
        /// Its current owner.
        owner: ClientOrderId,
    },
    /// The order refused the event.
    #[error(transparent)]
    Order(#[from] OrderError),
}

/// One applied event, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    /// The order.
    pub client_order_id: ClientOrderId,
    /// What happened to it.
    pub applied: Applied,
}

/// Orders by client order id, with indexes.
#[derive(Debug, Clone, Default)]
pub struct OrderStore {
    orders: BTreeMap<ClientOrderId, Order>,
    by_venue: BTreeMap<(InstrumentId, VenueOrderId), ClientOrderId>,
    by_instrument: BTreeMap<InstrumentId, BTreeSet<ClientOrderId>>,
    not_closed: BTreeSet<ClientOrderId>,
}

impl OrderStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an `INITIALIZED` order from a request and stores it.
    pub fn submit(&mut self, request: SubmitOrder) -> Result<&Order, StoreError> {
        let order = Order::new(request)?;
        self.insert(order)
    }

    /// Stores an order (in whatever state it is).
    pub fn insert(&mut self, order: Order) -> Result<&Order, StoreError> {
        let id = order.client_order_id();
        if self.orders.contains_key(&id) {
            return Err(StoreError::DuplicateOrder(id));
        }
        if let Some(venue_order_id) = order.venue_order_id() {
            let key = (order.instrument(), venue_order_id);
            if let Some(owner) = self.by_venue.get(&key) {
                return Err(StoreError::VenueOrderIdTaken {
                    instrument: key.0,
                    venue_order_id,
                    owner: *owner,
                });
            }
            self.by_venue.insert(key, id);
        }
        self.by_instrument
            .entry(order.instrument())
            .or_default()
            .insert(id);
        if !order.is_closed() {
            self.not_closed.insert(id);
        }
        Ok(self.orders.entry(id).or_insert(order))
    }

    /// Applies an event to the order it names and updates the indexes.
    pub fn apply(&mut self, event: &OrderEvent) -> Result<Audit, StoreError> {
        let id = event.client_order_id;
        let order = self.orders.get(&id).ok_or(StoreError::UnknownOrder(id))?;
        if let Some(venue_order_id) = event.venue_order_id {
            if let Some(owner) = self.by_venue.get(&(event.instrument, venue_order_id)) {
                if *owner != id {
                    return Err(StoreError::VenueOrderIdTaken {
                        instrument: event.instrument,
                        venue_order_id,
                        owner: *owner,
                    });
                }
            }
        }
        let had_venue_id = order.venue_order_id().is_some();
        let order = self
            .orders
            .get_mut(&id)
            .ok_or(StoreError::UnknownOrder(id))?;
        let applied = order.apply(event)?;
        let (closed, instrument, venue_id) = (
            order.is_closed(),
            order.instrument(),
            order.venue_order_id(),
        );
        if !had_venue_id {
            if let Some(v) = venue_id {
                self.by_venue.insert((instrument, v), id);
            }
        }
        if closed {
            self.not_closed.remove(&id);
        }
        Ok(Audit {
            client_order_id: id,
            applied,
        })
    }

    /// The emulator takes an order (see [`Order::emulate`]).
    pub fn emulate(&mut self, id: ClientOrderId, times: EventTimes) -> Result<Audit, StoreError> {
        let order = self
            .orders
            .get_mut(&id)
            .ok_or(StoreError::UnknownOrder(id))?;
        let applied = order.emulate(times)?;
        Ok(Audit {
            client_order_id: id,
            applied,
        })
    }

    /// The emulator releases an order (see [`Order::release`]).
    pub fn release(&mut self, id: ClientOrderId, times: EventTimes) -> Result<Audit, StoreError> {
        let order = self
            .orders
            .get_mut(&id)
            .ok_or(StoreError::UnknownOrder(id))?;
        let applied = order.release(times)?;
        Ok(Audit {
            client_order_id: id,
            applied,
        })
    }

    /// The order with this client order id.
    pub fn get(&self, id: &ClientOrderId) -> Option<&Order> {
        self.orders.get(id)
    }

    /// The client order id behind a venue order id on an instrument.
    pub fn client_order_id_of(
        &self,
        instrument: InstrumentId,
        venue_order_id: VenueOrderId,
    ) -> Option<ClientOrderId> {
        self.by_venue.get(&(instrument, venue_order_id)).copied()
    }

    /// The order behind a venue order id on an instrument.
    pub fn get_by_venue_id(
        &self,
        instrument: InstrumentId,
        venue_order_id: VenueOrderId,
    ) -> Option<&Order> {
        self.client_order_id_of(instrument, venue_order_id)
            .and_then(|id| self.orders.get(&id))
    }

    /// Every order, by client order id.
    pub fn iter(&self) -> impl Iterator<Item = &Order> {
        self.orders.values()
    }

    /// Every order of one instrument.
    pub fn orders_for(&self, instrument: InstrumentId) -> impl Iterator<Item = &Order> {
        self.by_instrument
            .get(&instrument)
            .into_iter()
            .flatten()
            .filter_map(|id| self.orders.get(id))
    }

    /// Orders that are not closed (local and open), optionally of one instrument.
    pub fn active_orders(&self, instrument: Option<InstrumentId>) -> impl Iterator<Item = &Order> {
        self.not_closed
            .iter()
            .filter_map(|id| self.orders.get(id))
            .filter(move |o| instrument.is_none_or(|i| o.instrument() == i))
    }

    /// Open orders ([`Order::is_open`]: at the venue or on their way), optionally
    /// of one instrument.
    pub fn open_orders(&self, instrument: Option<InstrumentId>) -> impl Iterator<Item = &Order> {
        self.active_orders(instrument).filter(|o| o.is_open())
    }

    /// Number of orders.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// No orders at all?
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::events::{Fill, OrderEventKind};
    use veloz_core::{
        Currency, Liquidity, MarketKind, Money, OrderFlags, OrderType, PositionSide, Price,
        Quantity, Side, StrategyId, TimeInForce, TradeId, TriggerPriceType, UnixNanos,
    };

    use crate::status::OrderStatus as S;

    fn instrument(sym: &str) -> InstrumentId {
        InstrumentId::binance(MarketKind::Spot, sym).unwrap()
    }

    fn request(id: &str, sym: &str) -> SubmitOrder {
        SubmitOrder {
            strategy: StrategyId::new("s").unwrap(),
            instrument: instrument(sym),
            client_order_id: ClientOrderId::new(id).unwrap(),
            side: Side::Sell,
            order_type: OrderType::Limit,
            quantity: Quantity::parse("1").unwrap(),
            price: Some(Price::parse("10").unwrap()),
            trigger_price: None,
            trigger_type: TriggerPriceType::Last,
            time_in_force: TimeInForce::Gtc,
            expire_time: None,
            flags: OrderFlags::NONE,
            position_side: PositionSide::Both,
            trailing: None,
            ts_init: UnixNanos::default(),
        }
    }

    fn event(id: &str, sym: &str, venue: Option<u64>, kind: OrderEventKind) -> OrderEvent {
        OrderEvent {
            instrument: instrument(sym),
            client_order_id: ClientOrderId::new(id).unwrap(),
            venue_order_id: venue.map(VenueOrderId),
            kind,
            times: EventTimes::default(),
        }
    }

    fn fill(trade: u64) -> OrderEventKind {
        OrderEventKind::Filled(Fill {
            trade_id: TradeId(trade),
            side: Side::Sell,
            price: Price::parse("10").unwrap(),
            qty: Quantity::parse("1").unwrap(),
            fee: Money::zero(Currency::new("USDT").unwrap()),
            liquidity: Liquidity::Maker,
        })
    }

    fn ids<'a>(it: impl Iterator<Item = &'a Order>) -> Vec<String> {
        it.map(|o| o.client_order_id().to_string()).collect()
    }

    #[test]
    fn indexes_follow_the_orders() {
        let mut store = OrderStore::new();
        store.submit(request("a", "BTCUSDT")).unwrap();
        store.submit(request("b", "BTCUSDT")).unwrap();
        store.submit(request("c", "ETHUSDT")).unwrap();
        assert_eq!(
            store.submit(request("a", "ETHUSDT")).unwrap_err(),
            StoreError::DuplicateOrder(ClientOrderId::new("a").unwrap())
        );
        assert_eq!(store.len(), 3);
        assert_eq!(ids(store.active_orders(None)), ["a", "b", "c"]);
        assert!(store.open_orders(None).next().is_none(), "nothing sent yet");

        let audit = store
            .apply(&event("a", "BTCUSDT", None, OrderEventKind::Submitted))
            .unwrap();
        assert_eq!(
            audit.applied,
            Applied::Transition {
                from: S::Initialized,
                to: S::Submitted
            }
        );
        store
            .apply(&event("a", "BTCUSDT", Some(7), OrderEventKind::Accepted))
            .unwrap();
        store
            .apply(&event("c", "ETHUSDT", None, OrderEventKind::Submitted))
            .unwrap();
        // Same venue id on another symbol is another order (Binance ids are per symbol).
        store
            .apply(&event("c", "ETHUSDT", Some(7), OrderEventKind::Accepted))
            .unwrap();
        assert_eq!(ids(store.open_orders(None)), ["a", "c"]);
        assert_eq!(ids(store.open_orders(Some(instrument("ETHUSDT")))), ["c"]);
        assert_eq!(ids(store.orders_for(instrument("BTCUSDT"))), ["a", "b"]);
        assert_eq!(
            store
                .get_by_venue_id(instrument("BTCUSDT"), VenueOrderId(7))
                .map(|o| o.client_order_id().to_string()),
            Some("a".to_string())
        );

        store
            .apply(&event("a", "BTCUSDT", Some(7), fill(1)))
            .unwrap();
        assert_eq!(
            store
                .get(&ClientOrderId::new("a").unwrap())
                .unwrap()
                .status(),
            S::Filled
        );
        assert_eq!(ids(store.active_orders(None)), ["b", "c"]);
        assert_eq!(ids(store.open_orders(None)), ["c"]);
        // Closed orders stay retrievable, also by venue id, for late events.
        let dup = store
            .apply(&event("a", "BTCUSDT", Some(7), fill(1)))
            .unwrap();
        assert_eq!(
            dup.applied,
            Applied::DuplicateFill {
                trade_id: TradeId(1)
            }
        );
    }

    #[test]
    fn refuses_unknown_orders_and_stolen_venue_ids() {
        let mut store = OrderStore::new();
        store.submit(request("a", "BTCUSDT")).unwrap();
        store.submit(request("b", "BTCUSDT")).unwrap();
        assert_eq!(
            store
                .apply(&event("zz", "BTCUSDT", None, OrderEventKind::Submitted))
                .unwrap_err(),
            StoreError::UnknownOrder(ClientOrderId::new("zz").unwrap())
        );
        for id in ["a", "b"] {
            store
                .apply(&event(id, "BTCUSDT", None, OrderEventKind::Submitted))
                .unwrap();
        }
        store
            .apply(&event("a", "BTCUSDT", Some(5), OrderEventKind::Accepted))
            .unwrap();
        let before = store.get(&ClientOrderId::new("b").unwrap()).cloned();
        let err = store
            .apply(&event("b", "BTCUSDT", Some(5), OrderEventKind::Accepted))
            .unwrap_err();
        assert!(matches!(err, StoreError::VenueOrderIdTaken { .. }), "{err}");
        assert_eq!(
            store.get(&ClientOrderId::new("b").unwrap()).cloned(),
            before
        );
        // Order errors come through unchanged.
        let err = store
            .apply(&event("b", "BTCUSDT", None, OrderEventKind::Submitted))
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Order(OrderError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn emulator_events_go_through_the_store() {
        let mut store = OrderStore::new();
        let id = ClientOrderId::new("e").unwrap();
        store.submit(request("e", "BTCUSDT")).unwrap();
        let t = EventTimes::default();
        assert_eq!(
            store.emulate(id, t).unwrap().applied,
            Applied::Transition {
                from: S::Initialized,
                to: S::Emulated
            }
        );
        store.release(id, t).unwrap();
        assert_eq!(store.get(&id).unwrap().status(), S::Released);
        assert!(store.emulate(ClientOrderId::new("x").unwrap(), t).is_err());
        store
            .apply(&event("e", "BTCUSDT", None, OrderEventKind::Canceled))
            .unwrap();
        assert_eq!(store.active_orders(None).count(), 0);
    }
}
