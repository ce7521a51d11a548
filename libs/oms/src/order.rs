//! [`Order`]: one order's request, machine state, executions and fees, and the
//! checks that run before the transition table ([`crate::fsm`]) is consulted.
//!
//! This module owns the per-order bookkeeping: filled and leaves quantity
//! (exact, in raw fixed-point units), the exact average fill price, fees per
//! asset, the fill list with de-duplication by trade id, the venue order id.
//! It does not decide which transitions are legal (that is [`crate::fsm`])
//! and does not index orders (that is [`crate::store`]).
//!
//! # Applying an event
//!
//! [`Order::apply`] either changes the order and returns what happened
//! ([`Applied`]), or returns an [`OrderError`] and leaves the order exactly as
//! it was: every check and every checked computation runs before anything is
//! written. The checks, in order:
//!
//! 1. the event is for this order (client order id, instrument, venue order id);
//! 2. a fill whose trade id is already recorded is a duplicate: identical price,
//!    quantity and side give `Ok(Applied::DuplicateFill)` and change nothing; a
//!    different one is [`OrderError::ConflictingDuplicateFill`];
//! 3. a fill must be on the order's side and have a positive quantity;
//! 4. `Triggered` is only for conditional order types;
//! 5. the transition table; an ignored event changes nothing;
//! 6. overfill: a fill larger than the leaves quantity is refused with
//!    [`OrderError::Overfill`] (see below);
//! 7. a modify (`Updated`) must leave something to work: the new quantity must
//!    be above the filled quantity.
//!
//! # Overfills
//!
//! A fill beyond the leaves quantity means VeloZ's view of the order is wrong
//! (a missed modify, a corrupted message, or a venue bug). The order is left
//! unchanged and the fill's trade id is **not** recorded, so the same fill can
//! be applied once reconciliation (an order query at the venue, then
//! `Updated` with the true quantity) has corrected the order. Accepting it
//! silently would make `filled > quantity` and every position and risk number
//! derived from it wrong.
//!
//! # Quantities and the average price
//!
//! `leaves = quantity - filled` is computed from the two exact values on every
//! call, so it can never drift. For `CANCELED` / `EXPIRED` orders `leaves` is
//! the unfilled remainder (nothing is working any more). The average fill price
//! keeps the exact numerator `Σ price × qty` in raw `10^-16` units (`i128`) and
//! the denominator `Σ qty` in raw `10^-8` units; [`Order::avg_px`] rounds the
//! quotient half-even to 8 decimals only when asked.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::inline_list::InlineList;
use crate::store::IdHasher;

use veloz_core::events::{EventTimes, Fill, OrderEvent, OrderEventKind, SubmitOrder};
use veloz_core::fixed::div_round_i128;
use veloz_core::{
    ClientOrderId, Currency, InstrumentId, Money, OrderType, Price, Quantity, Rounding, Side,
    StrategyId, TimeInForce, TradeId, VenueOrderId,
};

use crate::fsm::{transition, FsmState, IgnoreReason, Step};
use crate::status::{EventTag, OrderStatus};

/// Why an event was not applied. The order is unchanged after any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The transition table does not allow this event in this status.
    #[error(
        "order {order}: {event} is not allowed in status {from}; the event was not applied \
         (check the event order, or query the order at the venue and reconcile)"
    )]
    InvalidTransition {
        /// The order.
        order: ClientOrderId,
        /// Its status.
        from: OrderStatus,
        /// The refused event.
        event: EventTag,
    },
    /// A fill larger than the leaves quantity.
    #[error(
        "order {order}: fill {trade_id} of {fill_qty} exceeds the leaves quantity {leaves}; \
         the fill was not applied: query the order at the venue and reconcile its quantity"
    )]
    Overfill {
        /// The order.
        order: ClientOrderId,
        /// The fill's trade id.
        trade_id: TradeId,
        /// The fill's quantity.
        fill_qty: Quantity,
        /// What was left to fill.
        leaves: Quantity,
    },
    /// A fill on the other side of the order.
    #[error(
        "order {order}: fill {trade_id} is a {fill_side} but the order is a {order_side}; \
         the fill was not applied: the adapter mapped it to the wrong order"
    )]
    SideMismatch {
        /// The order.
        order: ClientOrderId,
        /// The fill's trade id.
        trade_id: TradeId,
        /// The order's side.
        order_side: Side,
        /// The fill's side.
        fill_side: Side,
    },
    /// A fill with a zero or negative quantity.
    #[error("order {order}: fill {trade_id} has quantity {qty}; a fill quantity must be positive")]
    NonPositiveFill {
        /// The order.
        order: ClientOrderId,
        /// The fill's trade id.
        trade_id: TradeId,
        /// The fill's quantity.
        qty: Quantity,
    },
    /// A trade id already recorded with a different price, quantity or side.
    #[error(
        "order {order}: trade {trade_id} was already applied with a different price, quantity \
         or side; the new report was not applied: compare both reports with the venue's trade list"
    )]
    ConflictingDuplicateFill {
        /// The order.
        order: ClientOrderId,
        /// The trade id.
        trade_id: TradeId,
    },
    /// A modify whose new quantity is at or below the filled quantity.
    #[error(
        "order {order}: new quantity {quantity} is not above the filled quantity {filled}; \
         the modify was not applied (to stop the order, cancel it)"
    )]
    UpdateBelowFilled {
        /// The order.
        order: ClientOrderId,
        /// The requested new quantity.
        quantity: Quantity,
        /// Already executed.
        filled: Quantity,
    },
    /// An order (or a modify) with a zero or negative quantity.
    #[error("order {order}: quantity {quantity} must be positive")]
    NonPositiveQuantity {
        /// The order.
        order: ClientOrderId,
        /// The quantity.
        quantity: Quantity,
    },
    /// The event names another order.
    #[error(
        "event for order {got} was applied to order {expected}; route events by client order id"
    )]
    WrongOrder {
        /// This order.
        expected: ClientOrderId,
        /// The event's order.
        got: ClientOrderId,
    },
    /// The event names another instrument.
    #[error("the order trades {expected} but the event is for {got}; the event was not applied")]
    WrongInstrument {
        /// The order's instrument.
        expected: InstrumentId,
        /// The event's instrument.
        got: InstrumentId,
    },
    /// The event carries a venue order id different from the one known.
    #[error(
        "order {order} has venue order id {known} but the event says {got}; the event was not \
         applied: the adapter mapped it to the wrong order"
    )]
    VenueOrderIdMismatch {
        /// The order.
        order: ClientOrderId,
        /// The id already known.
        known: VenueOrderId,
        /// The event's id.
        got: VenueOrderId,
    },
    /// `Triggered` for an order type without a trigger.
    #[error("order {order} is a {order_type:?} order; only conditional orders can be triggered")]
    NotConditional {
        /// The order.
        order: ClientOrderId,
        /// Its type.
        order_type: OrderType,
    },
    /// A checked sum overflowed (not reachable with venue-sized numbers).
    #[error(
        "order {order}: arithmetic overflow while applying {event}; the event was not applied"
    )]
    Overflow {
        /// The order.
        order: ClientOrderId,
        /// The event.
        event: EventTag,
    },
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was applied. `from` and `to` may be equal (a partial fill on
    /// `PARTIALLY_FILLED`, a fill during `PENDING_CANCEL`, a late fill on
    /// `CANCELED`).
    Transition {
        /// Status before.
        from: OrderStatus,
        /// Status after.
        to: OrderStatus,
    },
    /// A stale or duplicate report; nothing changed.
    Ignored {
        /// The (unchanged) status.
        status: OrderStatus,
        /// Why.
        reason: IgnoreReason,
    },
    /// A fill whose trade id was already recorded; nothing changed.
    DuplicateFill {
        /// The trade id.
        trade_id: TradeId,
    },
}

impl Applied {
    /// Did the order change?
    pub const fn changed(&self) -> bool {
        matches!(self, Self::Transition { .. })
    }
}

/// Up to this many fills an order finds a duplicate trade id by scanning its
/// fills; beyond, through its index.
const SCANNED_FILLS: usize = 16;

/// One order: the request as the strategy made it, its machine state and
/// everything executed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    request: SubmitOrder,
    fsm: FsmState,
    quantity: Quantity,
    price: Option<Price>,
    trigger_price: Option<Price>,
    filled: Quantity,
    /// Σ price × qty over the fills, raw `10^-16`.
    notional_e16: i128,
    /// Fee totals, one per asset, sorted by asset (nearly always one asset:
    /// kept inline, no allocation).
    fees: InlineList<Money>,
    venue_order_id: Option<VenueOrderId>,
    /// Fills in the order applied; the first one inline (most orders fill
    /// once), so a fill costs no allocation.
    fills: InlineList<Fill>,
    /// Position of each fill by trade id, kept only once the order has more
    /// than [`SCANNED_FILLS`] fills: below that a scan of `fills` finds a
    /// duplicate faster than a hash lookup, and most orders never need the
    /// table (nor its allocation).
    fill_index: HashMap<TradeId, usize, BuildHasherDefault<IdHasher>>,
    event_count: u64,
    last_event: Option<EventTimes>,
}

impl Order {
    /// A new order in status `INITIALIZED`. The quantity must be positive.
    pub fn new(request: SubmitOrder) -> Result<Self, OrderError> {
        if !request.quantity.is_positive() {
            return Err(OrderError::NonPositiveQuantity {
                order: request.client_order_id,
                quantity: request.quantity,
            });
        }
        Ok(Self {
            quantity: request.quantity,
            price: request.price,
            trigger_price: request.trigger_price,
            filled: Quantity::from_raw(0, request.quantity.precision()),
            fsm: FsmState::settled(OrderStatus::Initialized),
            request,
            notional_e16: 0,
            fees: InlineList::Empty,
            venue_order_id: None,
            fills: InlineList::Empty,
            fill_index: HashMap::default(),
            event_count: 0,
            last_event: None,
        })
    }

    /// Applies a venue or kernel event. On error the order is unchanged.
    pub fn apply(&mut self, event: &OrderEvent) -> Result<Applied, OrderError> {
        let order = self.request.client_order_id;
        if event.client_order_id != order {
            return Err(OrderError::WrongOrder {
                expected: order,
                got: event.client_order_id,
            });
        }
        if event.instrument != self.request.instrument {
            return Err(OrderError::WrongInstrument {
                expected: self.request.instrument,
                got: event.instrument,
            });
        }
        if let (Some(known), Some(got)) = (self.venue_order_id, event.venue_order_id) {
            if known != got {
                return Err(OrderError::VenueOrderIdMismatch { order, known, got });
            }
        }
        self.apply_inner(
            EventTag::of(&event.kind),
            Some(&event.kind),
            event.venue_order_id,
            event.times,
        )
    }

    /// The emulator takes this order (local `Emulated` event).
    pub fn emulate(&mut self, times: EventTimes) -> Result<Applied, OrderError> {
        self.apply_inner(EventTag::Emulated, None, None, times)
    }

    /// The emulator's trigger fired and it hands the order on (local
    /// `Released` event); next comes `Submitted` or `Denied`.
    pub fn release(&mut self, times: EventTimes) -> Result<Applied, OrderError> {
        self.apply_inner(EventTag::Released, None, None, times)
    }

    fn apply_inner(
        &mut self,
        tag: EventTag,
        kind: Option<&OrderEventKind>,
        venue_order_id: Option<VenueOrderId>,
        times: EventTimes,
    ) -> Result<Applied, OrderError> {
        let order = self.request.client_order_id;
        let fill = match kind {
            Some(OrderEventKind::Filled(fill)) => Some(fill),
            _ => None,
        };

        if let Some(fill) = fill {
            if let Some(i) = self.fill_position(fill.trade_id) {
                let same = self.fills.as_slice().get(i).is_some_and(|prev| {
                    prev.price == fill.price && prev.qty == fill.qty && prev.side == fill.side
                });
                return if same {
                    Ok(Applied::DuplicateFill {
                        trade_id: fill.trade_id,
                    })
                } else {
                    Err(OrderError::ConflictingDuplicateFill {
                        order,
                        trade_id: fill.trade_id,
                    })
                };
            }
            if fill.side != self.request.side {
                return Err(OrderError::SideMismatch {
                    order,
                    trade_id: fill.trade_id,
                    order_side: self.request.side,
                    fill_side: fill.side,
                });
            }
            if !fill.qty.is_positive() {
                return Err(OrderError::NonPositiveFill {
                    order,
                    trade_id: fill.trade_id,
                    qty: fill.qty,
                });
            }
        }
        if tag == EventTag::Triggered && !self.request.order_type.is_conditional() {
            return Err(OrderError::NotConditional {
                order,
                order_type: self.request.order_type,
            });
        }

        let leaves = self.leaves_qty();
        let completes = fill.is_some_and(|f| f.qty >= leaves);
        let step =
            transition(self.fsm, tag, completes).map_err(|e| OrderError::InvalidTransition {
                order,
                from: e.from,
                event: e.event,
            })?;
        let next = match step {
            Step::Ignore(reason) => {
                return Ok(Applied::Ignored {
                    status: self.fsm.status,
                    reason,
                })
            }
            Step::Move(next) => next,
        };

        // Compute every change before writing any of it.
        let overflow = OrderError::Overflow { order, event: tag };
        let mut filled = self.filled;
        let mut notional_e16 = self.notional_e16;
        let mut fee_update = None;
        if let Some(fill) = fill {
            if fill.qty > leaves {
                return Err(OrderError::Overfill {
                    order,
                    trade_id: fill.trade_id,
                    fill_qty: fill.qty,
                    leaves,
                });
            }
            filled = filled.checked_add(fill.qty).map_err(|_| overflow.clone())?;
            notional_e16 = notional_e16
                .checked_add(fill.price.notional_raw_e16(fill.qty))
                .ok_or_else(|| overflow.clone())?;
            if !fill.fee.is_zero() {
                let asset = fill.fee.currency();
                let before = self.fee(asset);
                let after = before.checked_add(fill.fee).map_err(|_| overflow.clone())?;
                fee_update = Some((asset, after));
            }
        }
        let mut new_terms = None;
        if let Some(OrderEventKind::Updated {
            quantity,
            price,
            trigger_price,
        }) = kind
        {
            if !quantity.is_positive() {
                return Err(OrderError::NonPositiveQuantity {
                    order,
                    quantity: *quantity,
                });
            }
            if *quantity <= self.filled {
                return Err(OrderError::UpdateBelowFilled {
                    order,
                    quantity: *quantity,
                    filled: self.filled,
                });
            }
            new_terms = Some((
                *quantity,
                price.or(self.price),
                trigger_price.or(self.trigger_price),
            ));
        }

        // Commit.
        let from = self.fsm.status;
        self.fsm = next;
        if let Some(fill) = fill {
            self.filled = filled;
            self.notional_e16 = notional_e16;
            if let Some((asset, total)) = fee_update {
                match self.fee_position(asset) {
                    Ok(i) => {
                        if let Some(slot) = self.fees.as_mut_slice().get_mut(i) {
                            *slot = total;
                        }
                    }
                    Err(i) => self.fees.insert(i, total),
                }
            }
            self.fills.push(*fill);
            if self.fills.len() > SCANNED_FILLS {
                if self.fill_index.is_empty() {
                    self.fill_index = self
                        .fills
                        .as_slice()
                        .iter()
                        .enumerate()
                        .map(|(i, f)| (f.trade_id, i))
                        .collect();
                } else {
                    self.fill_index.insert(fill.trade_id, self.fills.len() - 1);
                }
            }
        }
        if let Some((quantity, price, trigger_price)) = new_terms {
            self.quantity = quantity;
            self.price = price;
            self.trigger_price = trigger_price;
        }
        if self.venue_order_id.is_none() {
            self.venue_order_id = venue_order_id;
        }
        self.event_count += 1;
        self.last_event = Some(times);
        Ok(Applied::Transition {
            from,
            to: next.status,
        })
    }

    /// The request as the strategy made it (never changed by modifies).
    pub fn request(&self) -> &SubmitOrder {
        &self.request
    }

    /// Our id.
    pub fn client_order_id(&self) -> ClientOrderId {
        self.request.client_order_id
    }

    /// The instrument.
    pub fn instrument(&self) -> InstrumentId {
        self.request.instrument
    }

    /// The owning strategy.
    pub fn strategy(&self) -> StrategyId {
        self.request.strategy
    }

    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.request.side
    }

    /// Order type.
    pub fn order_type(&self) -> OrderType {
        self.request.order_type
    }

    /// Time in force.
    pub fn time_in_force(&self) -> TimeInForce {
        self.request.time_in_force
    }

    /// Current quantity (the request's, or the last applied modify's).
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// Current limit price, if any.
    pub fn price(&self) -> Option<Price> {
        self.price
    }

    /// Current trigger price, if any.
    pub fn trigger_price(&self) -> Option<Price> {
        self.trigger_price
    }

    /// Current status.
    pub fn status(&self) -> OrderStatus {
        self.fsm.status
    }

    /// The full machine state (status plus what pending states remember).
    pub fn fsm_state(&self) -> FsmState {
        self.fsm
    }

    /// Executed quantity.
    pub fn filled_qty(&self) -> Quantity {
        self.filled
    }

    /// `quantity - filled`, exact. For a closed order this is the unfilled
    /// remainder, not a working quantity.
    pub fn leaves_qty(&self) -> Quantity {
        // 0 <= filled <= quantity always holds (overfills and modifies below
        // the filled quantity are refused), so this cannot overflow.
        Quantity::from_raw(
            self.quantity.raw() - self.filled.raw(),
            self.quantity.precision().max(self.filled.precision()),
        )
    }

    /// Average fill price rounded half-even to 8 decimals; `None` before the
    /// first fill.
    pub fn avg_px(&self) -> Option<Price> {
        let (num, den) = self.avg_px_exact()?;
        let raw = div_round_i128(num, den, Rounding::HalfEven)?;
        i64::try_from(raw).ok().map(|raw| Price::from_raw(raw, 8))
    }

    /// The exact average fill price as a fraction: numerator `Σ price × qty` in
    /// raw `10^-16` units, denominator `Σ qty` in raw `10^-8` units, so the
    /// quotient is in raw `10^-8` price units. `None` before the first fill.
    pub fn avg_px_exact(&self) -> Option<(i128, i128)> {
        if self.filled.is_zero() {
            None
        } else {
            Some((self.notional_e16, i128::from(self.filled.raw())))
        }
    }

    /// Exact `Σ price × qty` over the fills, raw `10^-16`.
    pub fn notional_raw_e16(&self) -> i128 {
        self.notional_e16
    }

    /// Total fees per asset (negative = rebate), by asset. Assets with only
    /// zero fees are absent.
    pub fn fees(&self) -> impl ExactSizeIterator<Item = (Currency, Money)> + '_ {
        self.fees.as_slice().iter().map(|m| (m.currency(), *m))
    }

    /// Total fee in one asset (zero if none was charged).
    pub fn fee(&self, asset: Currency) -> Money {
        match self.fee_position(asset) {
            Ok(i) => self.fees.as_slice().get(i).copied(),
            Err(_) => None,
        }
        .unwrap_or(Money::zero(asset))
    }

    /// Where the total of `asset` is among the fee totals (sorted by asset),
    /// or where it would go.
    #[inline]
    fn fee_position(&self, asset: Currency) -> Result<usize, usize> {
        self.fees
            .as_slice()
            .binary_search_by(|m| m.currency().cmp(&asset))
    }

    /// The venue's id, once an event carried it.
    pub fn venue_order_id(&self) -> Option<VenueOrderId> {
        self.venue_order_id
    }

    /// Applied fills, in the order they were applied (distinct trade ids).
    pub fn fills(&self) -> &[Fill] {
        self.fills.as_slice()
    }

    /// Has a fill with this trade id been applied?
    pub fn has_fill(&self, trade_id: TradeId) -> bool {
        self.fill_position(trade_id).is_some()
    }

    /// Where the fill with this trade id is in `fills`.
    #[inline]
    fn fill_position(&self, trade_id: TradeId) -> Option<usize> {
        if self.fills.len() <= SCANNED_FILLS {
            self.fills
                .as_slice()
                .iter()
                .position(|f| f.trade_id == trade_id)
        } else {
            self.fill_index.get(&trade_id).copied()
        }
    }

    /// Number of events that changed the order (ignored and duplicate events
    /// are not counted).
    pub fn event_count(&self) -> u64 {
        self.event_count
    }

    /// Clocks of the last event that changed the order.
    pub fn last_event_times(&self) -> Option<EventTimes> {
        self.last_event
    }

    /// See [`OrderStatus::is_open`].
    pub fn is_open(&self) -> bool {
        self.fsm.status.is_open()
    }

    /// See [`OrderStatus::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.fsm.status.is_closed()
    }

    /// See [`OrderStatus::is_inflight`].
    pub fn is_inflight(&self) -> bool {
        self.fsm.status.is_inflight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{Liquidity, Money};
    use veloz_core::{MarketKind, OrderFlags, PositionSide, TriggerPriceType, UnixNanos};

    use OrderStatus as S;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn instrument() -> InstrumentId {
        InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap()
    }

    fn request(order_type: OrderType, tif: TimeInForce, qty: &str) -> SubmitOrder {
        SubmitOrder {
            strategy: StrategyId::new("test").unwrap(),
            instrument: instrument(),
            client_order_id: ClientOrderId::new("c-1").unwrap(),
            side: Side::Buy,
            order_type,
            quantity: q(qty),
            price: Some(p("100")),
            trigger_price: order_type.is_conditional().then(|| p("99")),
            trigger_type: TriggerPriceType::Last,
            time_in_force: tif,
            expire_time: None,
            flags: OrderFlags::NONE,
            position_side: PositionSide::Both,
            trailing: None,
            ts_init: UnixNanos::default(),
        }
    }

    fn limit(qty: &str) -> Order {
        Order::new(request(OrderType::Limit, TimeInForce::Gtc, qty)).unwrap()
    }

    fn event(kind: OrderEventKind) -> OrderEvent {
        OrderEvent {
            instrument: instrument(),
            client_order_id: ClientOrderId::new("c-1").unwrap(),
            venue_order_id: Some(VenueOrderId(42)),
            kind,
            times: EventTimes::default(),
        }
    }

    fn usdt() -> Currency {
        Currency::new("USDT").unwrap()
    }

    fn fill_kind(trade: u64, qty: &str, px: &str) -> OrderEventKind {
        OrderEventKind::Filled(Fill {
            trade_id: TradeId(trade),
            side: Side::Buy,
            price: p(px),
            qty: q(qty),
            fee: Money::parse("0.01", usdt()).unwrap(),
            liquidity: Liquidity::Maker,
        })
    }

    /// Applies a sequence of events that must all change the order.
    fn drive(order: &mut Order, kinds: &[OrderEventKind]) {
        for kind in kinds {
            let applied = order.apply(&event(kind.clone())).unwrap();
            assert!(applied.changed(), "{kind:?} gave {applied:?}");
        }
    }

    fn moved(from: S, to: S) -> Result<Applied, OrderError> {
        Ok(Applied::Transition { from, to })
    }

    fn cancel_rejected() -> OrderEventKind {
        OrderEventKind::CancelRejected {
            reason: "unknown order".into(),
        }
    }

    fn modify_rejected() -> OrderEventKind {
        OrderEventKind::ModifyRejected {
            reason: "no".into(),
        }
    }

    fn updated(qty: &str) -> OrderEventKind {
        OrderEventKind::Updated {
            quantity: q(qty),
            price: Some(p("101")),
            trigger_price: None,
        }
    }

    use OrderEventKind as K;

    #[test]
    fn happy_path_fills_and_averages_exactly() {
        let mut o = limit("3");
        drive(&mut o, &[K::Submitted, K::Accepted]);
        assert_eq!(o.venue_order_id(), Some(VenueOrderId(42)));
        assert_eq!(
            o.apply(&event(fill_kind(1, "1", "100"))),
            moved(S::Accepted, S::PartiallyFilled)
        );
        assert_eq!(
            o.apply(&event(fill_kind(2, "1", "101"))),
            moved(S::PartiallyFilled, S::PartiallyFilled)
        );
        assert_eq!(
            o.apply(&event(fill_kind(3, "1", "101"))),
            moved(S::PartiallyFilled, S::Filled)
        );
        assert_eq!(o.filled_qty(), q("3"));
        assert_eq!(o.leaves_qty(), Quantity::ZERO);
        // (100 + 101 + 101) / 3 = 100.666666666..., half-even at 8 decimals.
        assert_eq!(o.avg_px().unwrap().to_string(), "100.66666667");
        let (num, den) = o.avg_px_exact().unwrap();
        assert_eq!(num, 302 * 100_000_000 * 100_000_000);
        assert_eq!(den, 300_000_000);
        assert_eq!(o.fee(usdt()), Money::parse("0.03", usdt()).unwrap());
        assert_eq!(o.fills().len(), 3);
        assert_eq!(o.event_count(), 5);
        assert!(o.is_closed() && !o.is_open() && !o.is_inflight());
    }

    #[test]
    fn avg_px_rounds_half_even() {
        // Exact ties: (2e-8 + 3e-8) / 2 = 2.5e-8 -> 2e-8 (even);
        // (1e-8 + 2e-8) / 2 = 1.5e-8 -> 2e-8 (even).
        let mut o = limit("2");
        drive(
            &mut o,
            &[
                K::Submitted,
                fill_kind(1, "1", "0.00000002"),
                fill_kind(2, "1", "0.00000003"),
            ],
        );
        assert_eq!(o.avg_px().unwrap(), Price::from_raw(2, 8));
        let mut o = limit("2");
        drive(
            &mut o,
            &[
                K::Submitted,
                fill_kind(1, "1", "0.00000001"),
                fill_kind(2, "1", "0.00000002"),
            ],
        );
        assert_eq!(o.avg_px().unwrap(), Price::from_raw(2, 8));
        assert_eq!(limit("1").avg_px(), None);
    }

    #[test]
    fn race_fill_before_ack_then_late_ack_ignored() {
        let mut o = limit("2");
        drive(&mut o, &[K::Submitted]);
        assert_eq!(
            o.apply(&event(fill_kind(1, "1", "100"))),
            moved(S::Submitted, S::PartiallyFilled)
        );
        assert_eq!(
            o.apply(&event(K::Accepted)),
            Ok(Applied::Ignored {
                status: S::PartiallyFilled,
                reason: IgnoreReason::StaleAck
            })
        );
        // Full fill before the ack.
        let mut o = limit("2");
        drive(&mut o, &[K::Submitted]);
        assert_eq!(
            o.apply(&event(fill_kind(1, "2", "100"))),
            moved(S::Submitted, S::Filled)
        );
        let before = o.clone();
        assert!(!o.apply(&event(K::Accepted)).unwrap().changed());
        assert_eq!(o, before);
    }

    #[test]
    fn race_duplicate_ack_is_ignored() {
        let mut o = limit("1");
        drive(&mut o, &[K::Submitted, K::Accepted]);
        let before = o.clone();
        assert!(matches!(
            o.apply(&event(K::Accepted)),
            Ok(Applied::Ignored { .. })
        ));
        assert_eq!(o, before);
    }

    #[test]
    fn race_ioc_fok_close_straight_from_submitted() {
        for (tif, kind, to) in [
            (TimeInForce::Ioc, K::Canceled, S::Canceled),
            (TimeInForce::Ioc, K::Expired, S::Expired),
            (TimeInForce::Fok, K::Expired, S::Expired),
            (TimeInForce::Fok, K::Canceled, S::Canceled),
        ] {
            let mut o = Order::new(request(OrderType::Limit, tif, "1")).unwrap();
            drive(&mut o, &[K::Submitted]);
            assert_eq!(o.apply(&event(kind)), moved(S::Submitted, to));
            // ... and the ack that arrives afterwards is ignored.
            assert!(matches!(
                o.apply(&event(K::Accepted)),
                Ok(Applied::Ignored { .. })
            ));
            assert_eq!(o.status(), to);
        }
        // IOC partially filled, then the rest expires.
        let mut o = Order::new(request(OrderType::Limit, TimeInForce::Ioc, "2")).unwrap();
        drive(&mut o, &[K::Submitted, fill_kind(1, "0.5", "100")]);
        assert_eq!(
            o.apply(&event(K::Expired)),
            moved(S::PartiallyFilled, S::Expired)
        );
        assert_eq!(o.leaves_qty(), q("1.5"));
    }

    #[test]
    fn race_fill_during_pending_cancel_then_cancel_rejected() {
        let mut o = limit("2");
        drive(&mut o, &[K::Submitted, K::Accepted, K::PendingCancel]);
        assert_eq!(
            o.apply(&event(fill_kind(1, "1", "100"))),
            moved(S::PendingCancel, S::PendingCancel)
        );
        assert_eq!(o.filled_qty(), q("1"));
        // The cancel is refused: back to where the order rests now.
        assert_eq!(
            o.apply(&event(cancel_rejected())),
            moved(S::PendingCancel, S::PartiallyFilled)
        );
    }

    #[test]
    fn race_fill_completes_during_pending_cancel() {
        let mut o = limit("2");
        drive(&mut o, &[K::Submitted, K::Accepted, K::PendingCancel]);
        assert_eq!(
            o.apply(&event(fill_kind(1, "2", "100"))),
            moved(S::PendingCancel, S::Filled)
        );
        // The cancel lost the race; its refusal is ignored.
        assert_eq!(
            o.apply(&event(cancel_rejected())),
            Ok(Applied::Ignored {
                status: S::Filled,
                reason: IgnoreReason::CancelLostRace
            })
        );
        assert_eq!(o.status(), S::Filled);
    }

    #[test]
    fn race_fill_after_canceled_is_recorded_and_stays_closed() {
        let mut o = limit("3");
        drive(
            &mut o,
            &[
                K::Submitted,
                K::Accepted,
                fill_kind(1, "1", "100"),
                K::PendingCancel,
                K::Canceled,
            ],
        );
        assert_eq!(o.leaves_qty(), q("2"));
        assert_eq!(
            o.apply(&event(fill_kind(2, "1", "102"))),
            moved(S::Canceled, S::Canceled)
        );
        assert_eq!(o.filled_qty(), q("2"));
        assert_eq!(o.leaves_qty(), q("1"));
        assert_eq!(o.avg_px().unwrap(), p("101"));
        assert!(o.is_closed());
        // Even a late fill that completes the quantity keeps CANCELED.
        assert_eq!(
            o.apply(&event(fill_kind(3, "1", "102"))),
            moved(S::Canceled, S::Canceled)
        );
        assert_eq!(o.leaves_qty(), Quantity::ZERO);
        // An overfill on a closed order is still refused.
        let before = o.clone();
        assert!(matches!(
            o.apply(&event(fill_kind(4, "0.1", "102"))),
            Err(OrderError::Overfill { .. })
        ));
        assert_eq!(o, before);
        // And nothing else reopens it.
        for kind in [K::Accepted, K::Triggered, K::Canceled, cancel_rejected()] {
            let _ = o.apply(&event(kind));
            assert_eq!(o.status(), S::Canceled);
        }
    }

    #[test]
    fn race_fill_after_expired_is_recorded() {
        let mut o = limit("3");
        drive(&mut o, &[K::Submitted, K::Accepted, K::Expired]);
        assert_eq!(
            o.apply(&event(fill_kind(9, "1", "100"))),
            moved(S::Expired, S::Expired)
        );
        assert_eq!(o.filled_qty(), q("1"));
    }

    #[test]
    fn race_cancel_rejected_returns_to_previous_state() {
        for (prefix, resting) in [
            (vec![K::Submitted], S::Submitted),
            (vec![K::Submitted, K::Accepted], S::Accepted),
            (
                vec![K::Submitted, K::Accepted, fill_kind(1, "1", "100")],
                S::PartiallyFilled,
            ),
        ] {
            let mut o = limit("2");
            drive(&mut o, &prefix);
            drive(&mut o, &[K::PendingCancel]);
            assert_eq!(
                o.apply(&event(cancel_rejected())),
                moved(S::PendingCancel, resting)
            );
        }
        // Cancel sent before the ack; the ack arrives; the cancel is refused.
        let mut o = limit("2");
        drive(&mut o, &[K::Submitted, K::PendingCancel]);
        assert_eq!(
            o.apply(&event(K::Accepted)),
            moved(S::PendingCancel, S::PendingCancel)
        );
        assert_eq!(
            o.apply(&event(cancel_rejected())),
            moved(S::PendingCancel, S::Accepted)
        );
        // A refusal with no cancel in flight is illegal.
        let before = o.clone();
        assert_eq!(
            o.apply(&event(cancel_rejected())),
            Err(OrderError::InvalidTransition {
                order: o.client_order_id(),
                from: S::Accepted,
                event: EventTag::CancelRejected
            })
        );
        assert_eq!(o, before);
    }

    #[test]
    fn race_modify_rejected_and_updated_return_to_previous_state() {
        let mut o = limit("2");
        drive(
            &mut o,
            &[
                K::Submitted,
                K::Accepted,
                fill_kind(1, "1", "100"),
                K::PendingUpdate,
            ],
        );
        assert_eq!(
            o.apply(&event(modify_rejected())),
            moved(S::PendingUpdate, S::PartiallyFilled)
        );
        assert_eq!(o.quantity(), q("2"));
        drive(&mut o, &[K::PendingUpdate]);
        assert_eq!(
            o.apply(&event(updated("5"))),
            moved(S::PendingUpdate, S::PartiallyFilled)
        );
        assert_eq!(o.quantity(), q("5"));
        assert_eq!(o.leaves_qty(), q("4"));
        assert_eq!(o.price(), Some(p("101")));
        assert_eq!(o.request().quantity, q("2"), "the request is immutable");
    }

    #[test]
    fn updated_at_or_below_filled_is_an_error() {
        let mut o = limit("3");
        drive(
            &mut o,
            &[
                K::Submitted,
                K::Accepted,
                fill_kind(1, "2", "100"),
                K::PendingUpdate,
            ],
        );
        for qty in ["1", "2"] {
            let before = o.clone();
            assert_eq!(
                o.apply(&event(updated(qty))),
                Err(OrderError::UpdateBelowFilled {
                    order: o.client_order_id(),
                    quantity: q(qty),
                    filled: q("2")
                })
            );
            assert_eq!(o, before);
        }
        assert!(o.apply(&event(updated("2.5"))).is_ok());
        assert_eq!(o.leaves_qty(), q("0.5"));
    }

    #[test]
    fn race_cancel_while_modify_pending() {
        let mut o = limit("2");
        drive(&mut o, &[K::Submitted, K::Accepted, K::PendingUpdate]);
        assert_eq!(
            o.apply(&event(K::PendingCancel)),
            moved(S::PendingUpdate, S::PendingCancel)
        );
        // The cancel is refused while the modify is still unanswered.
        assert_eq!(
            o.apply(&event(cancel_rejected())),
            moved(S::PendingCancel, S::PendingUpdate)
        );
        // Again, but the modify is answered first.
        drive(&mut o, &[K::PendingCancel]);
        assert_eq!(
            o.apply(&event(updated("3"))),
            moved(S::PendingCancel, S::PendingCancel)
        );
        assert_eq!(o.quantity(), q("3"));
        assert_eq!(
            o.apply(&event(cancel_rejected())),
            moved(S::PendingCancel, S::Accepted)
        );
    }

    #[test]
    fn race_late_modify_rejected_after_close_is_ignored() {
        let mut o = limit("1");
        drive(
            &mut o,
            &[
                K::Submitted,
                K::Accepted,
                K::PendingUpdate,
                fill_kind(1, "1", "100"),
            ],
        );
        assert_eq!(o.status(), S::Filled);
        assert_eq!(
            o.apply(&event(modify_rejected())),
            Ok(Applied::Ignored {
                status: S::Filled,
                reason: IgnoreReason::ModifyLostRace
            })
        );
    }

    #[test]
    fn race_rejected_while_cancel_pending_before_ack() {
        let mut o = limit("1");
        drive(&mut o, &[K::Submitted, K::PendingCancel]);
        let rejected = K::Rejected {
            code: Some(-2010),
            reason: "insufficient balance".into(),
        };
        assert_eq!(
            o.apply(&event(rejected.clone())),
            moved(S::PendingCancel, S::Rejected)
        );
        assert!(matches!(
            o.apply(&event(cancel_rejected())),
            Ok(Applied::Ignored { .. })
        ));
        // After an ack the order itself cannot be rejected any more.
        let mut o = limit("1");
        drive(&mut o, &[K::Submitted, K::Accepted, K::PendingCancel]);
        assert!(matches!(
            o.apply(&event(rejected)),
            Err(OrderError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn race_duplicate_close_is_ignored() {
        let mut o = limit("1");
        drive(
            &mut o,
            &[K::Submitted, K::Accepted, K::PendingCancel, K::Canceled],
        );
        assert!(matches!(
            o.apply(&event(K::Canceled)),
            Ok(Applied::Ignored {
                reason: IgnoreReason::DuplicateClose,
                ..
            })
        ));
        assert!(matches!(
            o.apply(&event(K::Expired)),
            Err(OrderError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn triggered_for_conditional_orders() {
        let mut o = Order::new(request(OrderType::StopLimit, TimeInForce::Gtc, "1")).unwrap();
        drive(&mut o, &[K::Submitted]);
        // Trigger before the ack, then the late ack.
        assert_eq!(
            o.apply(&event(K::Triggered)),
            moved(S::Submitted, S::Triggered)
        );
        assert!(matches!(
            o.apply(&event(K::Accepted)),
            Ok(Applied::Ignored { .. })
        ));
        assert_eq!(
            o.apply(&event(fill_kind(1, "1", "100"))),
            moved(S::Triggered, S::Filled)
        );
        // A limit order cannot be triggered.
        let mut o = limit("1");
        drive(&mut o, &[K::Submitted, K::Accepted]);
        assert!(matches!(
            o.apply(&event(K::Triggered)),
            Err(OrderError::NotConditional { .. })
        ));
    }

    #[test]
    fn emulated_order_lifecycle() {
        let mut o = Order::new(request(OrderType::StopMarket, TimeInForce::Gtc, "1")).unwrap();
        let t = EventTimes::default();
        assert_eq!(o.emulate(t), moved(S::Initialized, S::Emulated));
        // Local modify.
        assert_eq!(
            o.apply(&event(updated("2"))),
            moved(S::Emulated, S::Emulated)
        );
        assert_eq!(o.release(t), moved(S::Emulated, S::Released));
        assert!(o.status().is_local());
        assert_eq!(
            o.apply(&event(K::Submitted)),
            moved(S::Released, S::Submitted)
        );
        assert!(matches!(
            o.release(t),
            Err(OrderError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn duplicate_fill_changes_nothing() {
        let mut o = limit("2");
        drive(
            &mut o,
            &[K::Submitted, K::Accepted, fill_kind(7, "1", "100")],
        );
        let before = o.clone();
        assert_eq!(
            o.apply(&event(fill_kind(7, "1", "100"))),
            Ok(Applied::DuplicateFill {
                trade_id: TradeId(7)
            })
        );
        assert_eq!(o, before);
        // Same trade id with another quantity: refused, also no change.
        assert_eq!(
            o.apply(&event(fill_kind(7, "0.5", "100"))),
            Err(OrderError::ConflictingDuplicateFill {
                order: o.client_order_id(),
                trade_id: TradeId(7)
            })
        );
        assert_eq!(o, before);
    }

    /// Duplicates are found by scanning the fills of a small order and
    /// through the index once it has more than `SCANNED_FILLS` fills.
    #[test]
    fn duplicate_fills_are_found_before_and_after_the_index_is_built() {
        let n = SCANNED_FILLS as u64 + 4;
        let mut o = limit("100");
        drive(&mut o, &[K::Submitted, K::Accepted]);
        for t in 1..=n {
            assert!(o.apply(&event(fill_kind(t, "1", "100"))).is_ok());
            // The first fill and the latest are known at every size.
            for known in [1, t] {
                assert!(o.has_fill(TradeId(known)));
                let before = o.clone();
                assert_eq!(
                    o.apply(&event(fill_kind(known, "1", "100"))),
                    Ok(Applied::DuplicateFill {
                        trade_id: TradeId(known)
                    })
                );
                assert_eq!(o, before);
            }
            assert!(!o.has_fill(TradeId(t + 1)));
        }
        assert_eq!(o.fills().len() as u64, n);
        assert_eq!(
            o.apply(&event(fill_kind(3, "2", "100"))),
            Err(OrderError::ConflictingDuplicateFill {
                order: o.client_order_id(),
                trade_id: TradeId(3)
            })
        );
        assert_eq!(o.filled_qty(), q("20"));
    }

    #[test]
    fn overfill_is_refused_and_changes_nothing() {
        let mut o = limit("2");
        drive(
            &mut o,
            &[K::Submitted, K::Accepted, fill_kind(1, "1.5", "100")],
        );
        let before = o.clone();
        assert_eq!(
            o.apply(&event(fill_kind(2, "0.50000001", "100"))),
            Err(OrderError::Overfill {
                order: o.client_order_id(),
                trade_id: TradeId(2),
                fill_qty: q("0.50000001"),
                leaves: q("0.5"),
            })
        );
        assert_eq!(o, before);
        assert!(
            !o.has_fill(TradeId(2)),
            "an overfill's trade id is not recorded"
        );
        // The exact remainder is fine.
        assert_eq!(
            o.apply(&event(fill_kind(2, "0.5", "100"))),
            moved(S::PartiallyFilled, S::Filled)
        );
    }

    #[test]
    fn fill_on_wrong_side_or_non_positive_is_refused() {
        let mut o = limit("2");
        drive(&mut o, &[K::Submitted, K::Accepted]);
        let before = o.clone();
        let mut f = Fill {
            trade_id: TradeId(1),
            side: Side::Sell,
            price: p("100"),
            qty: q("1"),
            fee: Money::zero(usdt()),
            liquidity: Liquidity::Taker,
        };
        assert!(matches!(
            o.apply(&event(K::Filled(f))),
            Err(OrderError::SideMismatch {
                order_side: Side::Buy,
                fill_side: Side::Sell,
                ..
            })
        ));
        f.side = Side::Buy;
        f.qty = Quantity::ZERO;
        assert!(matches!(
            o.apply(&event(K::Filled(f))),
            Err(OrderError::NonPositiveFill { .. })
        ));
        assert_eq!(o, before);
    }

    #[test]
    fn fees_are_summed_per_asset() {
        let mut o = limit("3");
        drive(&mut o, &[K::Submitted, K::Accepted]);
        let bnb = Currency::new("BNB").unwrap();
        for (i, fee) in [
            Money::parse("0.1", usdt()).unwrap(),
            Money::parse("0.002", bnb).unwrap(),
            Money::parse("-0.03", usdt()).unwrap(),
        ]
        .into_iter()
        .enumerate()
        {
            let f = Fill {
                trade_id: TradeId(i as u64),
                side: Side::Buy,
                price: p("100"),
                qty: q("1"),
                fee,
                liquidity: Liquidity::Maker,
            };
            o.apply(&event(K::Filled(f))).unwrap();
        }
        assert_eq!(o.fee(usdt()), Money::parse("0.07", usdt()).unwrap());
        assert_eq!(o.fee(bnb), Money::parse("0.002", bnb).unwrap());
        assert_eq!(o.fees().len(), 2);
        // By asset, whatever the order they were first charged in.
        let assets: Vec<Currency> = o.fees().map(|(c, _)| c).collect();
        let mut sorted = assets.clone();
        sorted.sort();
        assert_eq!(assets, sorted);
        assert!(o.fees().all(|(c, m)| m == o.fee(c)));
    }

    #[test]
    fn events_for_other_orders_are_refused() {
        let mut o = limit("1");
        drive(&mut o, &[K::Submitted, K::Accepted]);
        let before = o.clone();
        let mut e = event(K::Canceled);
        e.client_order_id = ClientOrderId::new("c-2").unwrap();
        assert!(matches!(o.apply(&e), Err(OrderError::WrongOrder { .. })));
        let mut e = event(K::Canceled);
        e.instrument = InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap();
        assert!(matches!(
            o.apply(&e),
            Err(OrderError::WrongInstrument { .. })
        ));
        let mut e = event(K::Canceled);
        e.venue_order_id = Some(VenueOrderId(43));
        assert!(matches!(
            o.apply(&e),
            Err(OrderError::VenueOrderIdMismatch { .. })
        ));
        assert_eq!(o, before);
        assert!(Order::new(request(OrderType::Limit, TimeInForce::Gtc, "0")).is_err());
    }

    #[test]
    fn errors_say_what_to_do() {
        let mut o = limit("1");
        let err = o.apply(&event(K::Accepted)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "order c-1: Accepted is not allowed in status INITIALIZED; the event was not applied \
             (check the event order, or query the order at the venue and reconcile)"
        );
    }
}
