//! Property tests of the order state machine: random event sequences (fills
//! with random and repeated trade ids and quantities, cancels, modifies,
//! rejects, acks, triggers, emulator events) applied to one order, with the
//! invariants checked after every single step, and random event streams over
//! several orders through the store, with the indexes checked after every step.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::Config;

use veloz_core::events::{EventTimes, Fill, OrderEvent, OrderEventKind, SubmitOrder};
use veloz_core::{
    ClientOrderId, Currency, InstrumentId, Liquidity, MarketKind, Money, OrderFlags, OrderType,
    PositionSide, Price, Quantity, Side, StrategyId, TimeInForce, TradeId, TriggerPriceType,
    UnixNanos, VenueOrderId,
};
use veloz_oms::{Applied, Order, OrderError, OrderStatus, OrderStore};

use OrderStatus as S;

/// Lot step of the generated quantities (0.001), so fills land exactly on the
/// leaves quantity often.
const STEP: i64 = 100_000;

#[derive(Debug, Clone)]
enum Op {
    Emulate,
    Release,
    Venue {
        kind: OrderEventKind,
        venue_order_id: Option<VenueOrderId>,
    },
}

fn fill_strategy() -> impl Strategy<Value = OrderEventKind> {
    (
        0u64..8,                    // few trade ids: many duplicates
        1i64..=5,                   // quantity in steps
        1i64..=3,                   // price 100, 101 or 102 (duplicates may conflict)
        prop::bool::weighted(0.05), // wrong side now and then
        -2i64..=3,                  // fee in 0.01 USDT (rebates included)
    )
        .prop_map(|(trade, steps, px, wrong_side, fee)| {
            OrderEventKind::Filled(Fill {
                trade_id: TradeId(trade),
                side: if wrong_side { Side::Sell } else { Side::Buy },
                price: Price::from_raw((99 + px) * 100_000_000, 2),
                qty: Quantity::from_raw(steps * STEP, 3),
                fee: Money::from_raw(i128::from(fee) * 1_000_000, usdt()),
                liquidity: Liquidity::Maker,
            })
        })
}

fn kind_strategy() -> impl Strategy<Value = OrderEventKind> {
    use OrderEventKind as K;
    prop_oneof![
        2 => Just(K::Submitted),
        2 => Just(K::Accepted),
        1 => Just(K::Rejected { code: Some(-2010), reason: "rejected".into() }),
        1 => Just(K::Denied { reason: "risk".into() }),
        1 => Just(K::Triggered),
        2 => Just(K::PendingUpdate),
        2 => Just(K::PendingCancel),
        2 => (0i64..=14).prop_map(|steps| K::Updated {
            quantity: Quantity::from_raw(steps * STEP, 3),
            price: Some(Price::from_raw(10_000_000_000, 2)),
            trigger_price: None,
        }),
        8 => fill_strategy(),
        1 => Just(K::Canceled),
        1 => Just(K::Expired),
        2 => Just(K::CancelRejected { reason: "unknown order".into() }),
        2 => Just(K::ModifyRejected { reason: "no".into() }),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Emulate),
        1 => Just(Op::Release),
        12 => (kind_strategy(), prop::option::weighted(0.8, Just(VenueOrderId(77))))
            .prop_map(|(kind, venue_order_id)| Op::Venue { kind, venue_order_id }),
    ]
}

fn usdt() -> Currency {
    Currency::new("USDT").unwrap()
}

fn instrument() -> InstrumentId {
    InstrumentId::binance(MarketKind::UsdM, "ETHUSDT").unwrap()
}

fn request(id: &str, conditional: bool, steps: i64) -> SubmitOrder {
    let order_type = if conditional {
        OrderType::StopLimit
    } else {
        OrderType::Limit
    };
    SubmitOrder {
        strategy: StrategyId::new("prop").unwrap(),
        instrument: instrument(),
        client_order_id: ClientOrderId::new(id).unwrap(),
        side: Side::Buy,
        order_type,
        quantity: Quantity::from_raw(steps * STEP, 3),
        price: Some(Price::from_raw(10_000_000_000, 2)),
        trigger_price: conditional.then(|| Price::from_raw(9_900_000_000, 2)),
        trigger_type: TriggerPriceType::Last,
        time_in_force: TimeInForce::Gtc,
        expire_time: None,
        flags: OrderFlags::NONE,
        position_side: PositionSide::Both,
        trailing: None,
        ts_init: UnixNanos::default(),
    }
}

/// Status changes the documentation allows (from != to). Written here
/// independently of the table in `fsm.rs`.
fn allowed_edges() -> BTreeSet<(S, S)> {
    let mut e = BTreeSet::new();
    let mut add = |from: S, tos: &[S]| {
        for to in tos {
            e.insert((from, *to));
        }
    };
    add(
        S::Initialized,
        &[S::Emulated, S::Submitted, S::Denied, S::Canceled],
    );
    add(S::Emulated, &[S::Released, S::Canceled, S::Expired]);
    add(S::Released, &[S::Submitted, S::Denied, S::Canceled]);
    add(
        S::Submitted,
        &[
            S::Accepted,
            S::Rejected,
            S::Triggered,
            S::PendingUpdate,
            S::PendingCancel,
            S::PartiallyFilled,
            S::Filled,
            S::Canceled,
            S::Expired,
        ],
    );
    let working = [
        S::PendingUpdate,
        S::PendingCancel,
        S::PartiallyFilled,
        S::Filled,
        S::Canceled,
        S::Expired,
    ];
    add(S::Accepted, &[S::Triggered]);
    add(S::Accepted, &working);
    add(S::Triggered, &working);
    add(
        S::PartiallyFilled,
        &[
            S::PendingUpdate,
            S::PendingCancel,
            S::Filled,
            S::Canceled,
            S::Expired,
        ],
    );
    let back = [S::Submitted, S::Accepted, S::Triggered, S::PartiallyFilled];
    let pending_exits = [S::Rejected, S::Filled, S::Canceled, S::Expired];
    add(S::PendingUpdate, &back);
    add(S::PendingUpdate, &pending_exits);
    add(S::PendingUpdate, &[S::PendingCancel]);
    add(S::PendingCancel, &back);
    add(S::PendingCancel, &pending_exits);
    add(S::PendingCancel, &[S::PendingUpdate]);
    e
}

/// Independent bookkeeping of what the order must contain.
#[derive(Debug, Default)]
struct Model {
    fills: BTreeMap<TradeId, (i64, i64)>, // trade id -> (price raw, qty raw)
}

fn apply_op(order: &mut Order, op: &Op) -> Result<Applied, OrderError> {
    match op {
        Op::Emulate => order.emulate(EventTimes::default()),
        Op::Release => order.release(EventTimes::default()),
        Op::Venue {
            kind,
            venue_order_id,
        } => order.apply(&OrderEvent {
            instrument: order.instrument(),
            client_order_id: order.client_order_id(),
            venue_order_id: *venue_order_id,
            kind: kind.clone(),
            times: EventTimes::default(),
        }),
    }
}

fn check_step(
    before: &Order,
    after: &Order,
    op: &Op,
    result: &Result<Applied, OrderError>,
    model: &mut Model,
    edges: &BTreeSet<(S, S)>,
) -> Result<(), TestCaseError> {
    let fill = match op {
        Op::Venue {
            kind: OrderEventKind::Filled(f),
            ..
        } => Some(*f),
        _ => None,
    };

    // Errors, ignored and duplicate events change nothing at all.
    match result {
        Err(_) | Ok(Applied::Ignored { .. }) | Ok(Applied::DuplicateFill { .. }) => {
            prop_assert_eq!(after, before, "{:?} -> {:?} changed the order", op, result);
        }
        Ok(Applied::Transition { from, to }) => {
            prop_assert_eq!(*from, before.status());
            prop_assert_eq!(*to, after.status());
            prop_assert_eq!(after.event_count(), before.event_count() + 1);
            if from != to {
                prop_assert!(
                    edges.contains(&(*from, *to)),
                    "undocumented edge {} -> {} on {:?}",
                    from,
                    to,
                    op
                );
            }
            if let Some(f) = fill {
                prop_assert!(!model.fills.contains_key(&f.trade_id));
                model.fills.insert(f.trade_id, (f.price.raw(), f.qty.raw()));
            }
        }
    }
    if let Ok(Applied::DuplicateFill { trade_id }) = result {
        prop_assert!(
            model.fills.contains_key(trade_id),
            "duplicate of an unseen trade"
        );
    }

    // Closed statuses absorb everything; only a late fill on CANCELED/EXPIRED
    // may change a closed order, and it stays in the same status.
    if before.is_closed() {
        prop_assert_eq!(after.status(), before.status());
        if after != before {
            prop_assert!(fill.is_some(), "{:?} changed a closed order", op);
            prop_assert!(matches!(before.status(), S::Canceled | S::Expired));
        }
    }

    // Quantities.
    let (q, f, l) = (
        after.quantity().raw(),
        after.filled_qty().raw(),
        after.leaves_qty().raw(),
    );
    prop_assert!(f >= 0 && f <= q, "filled {} quantity {}", f, q);
    prop_assert_eq!(l, q - f);
    let fills_sum: i64 = after.fills().iter().map(|x| x.qty.raw()).sum();
    prop_assert_eq!(f, fills_sum);
    let model_sum: i64 = model.fills.values().map(|(_, q)| q).sum();
    prop_assert_eq!(f, model_sum);
    let ids: BTreeSet<TradeId> = after.fills().iter().map(|x| x.trade_id).collect();
    prop_assert_eq!(
        ids.len(),
        after.fills().len(),
        "fill trade ids are distinct"
    );
    let notional: i128 = model
        .fills
        .values()
        .map(|(p, q)| i128::from(*p) * i128::from(*q))
        .sum();
    prop_assert_eq!(after.notional_raw_e16(), notional);
    let fee_sum: i128 = after.fills().iter().map(|x| x.fee.raw()).sum();
    prop_assert_eq!(after.fee(usdt()).raw(), fee_sum);
    if let Some(avg) = after.avg_px() {
        // Within half a raw unit of the exact average.
        let exact_num = notional;
        let den = i128::from(f);
        let diff = (i128::from(avg.raw()) * den - exact_num).abs();
        prop_assert!(diff * 2 <= den, "avg {} off the exact fraction", avg);
    }

    // Status-specific quantity facts.
    match after.status() {
        S::Initialized
        | S::Denied
        | S::Emulated
        | S::Released
        | S::Submitted
        | S::Accepted
        | S::Rejected
        | S::Triggered => prop_assert_eq!(f, 0, "{} with fills", after.status()),
        S::PartiallyFilled => prop_assert!(f > 0 && l > 0),
        S::PendingUpdate | S::PendingCancel => prop_assert!(l > 0),
        S::Filled => prop_assert_eq!(l, 0),
        S::Canceled | S::Expired => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn random_event_sequences_keep_the_invariants(
        conditional in any::<bool>(),
        steps in 1i64..=10,
        ops in prop::collection::vec(op_strategy(), 1..60),
    ) {
        let edges = allowed_edges();
        let mut order = Order::new(request("p-1", conditional, steps)).unwrap();
        let mut model = Model::default();
        for op in &ops {
            let before = order.clone();
            let result = apply_op(&mut order, op);
            check_step(&before, &order, op, &result, &mut model, &edges)?;
        }
    }

    /// Sequences that start like a live order (submitted, accepted) so the
    /// interesting races are reached quickly.
    #[test]
    fn live_orders_keep_the_invariants(
        conditional in any::<bool>(),
        steps in 1i64..=10,
        ops in prop::collection::vec(op_strategy(), 1..60),
    ) {
        let edges = allowed_edges();
        let mut order = Order::new(request("p-1", conditional, steps)).unwrap();
        let mut model = Model::default();
        let start = [OrderEventKind::Submitted, OrderEventKind::Accepted].map(|kind| Op::Venue {
            kind,
            venue_order_id: Some(VenueOrderId(77)),
        });
        for op in start.iter().chain(&ops) {
            let before = order.clone();
            let result = apply_op(&mut order, op);
            check_step(&before, &order, op, &result, &mut model, &edges)?;
        }
    }

    #[test]
    fn store_indexes_stay_consistent(
        events in prop::collection::vec((0usize..3, kind_strategy(), 0u64..4), 1..80),
    ) {
        let names = ["s-0", "s-1", "s-2"];
        let mut store = OrderStore::new();
        for (i, name) in names.iter().enumerate() {
            store.submit(request(name, i == 2, 3)).unwrap();
        }
        for (target, kind, venue) in events {
            let id = ClientOrderId::new(names[target]).unwrap();
            let event = OrderEvent {
                instrument: instrument(),
                client_order_id: id,
                // 0 = no id; otherwise ids shared between orders collide on purpose.
                venue_order_id: (venue > 0).then_some(VenueOrderId(venue)),
                kind,
                times: EventTimes::default(),
            };
            let before = store.get(&id).cloned();
            if store.apply(&event).is_err() {
                prop_assert_eq!(store.get(&id).cloned(), before);
            }
            let active: Vec<_> = store.active_orders(None).map(|o| o.client_order_id()).collect();
            let expect: Vec<_> = store.iter().filter(|o| !o.is_closed()).map(|o| o.client_order_id()).collect();
            prop_assert_eq!(active, expect);
            prop_assert!(store.open_orders(None).all(|o| o.is_open()));
            prop_assert_eq!(
                store.open_orders(None).count(),
                store.iter().filter(|o| o.is_open()).count()
            );
            let mut seen = BTreeSet::new();
            for order in store.iter() {
                if let Some(v) = order.venue_order_id() {
                    prop_assert!(seen.insert(v), "venue id {} on two orders", v);
                    prop_assert_eq!(
                        store.client_order_id_of(order.instrument(), v),
                        Some(order.client_order_id())
                    );
                }
            }
        }
    }
}
