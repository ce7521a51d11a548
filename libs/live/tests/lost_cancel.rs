//! A cancel that never reached the venue (the process died with it in
//! flight, or its outcome stayed unknown) leaves the order `PENDING_CANCEL`
//! locally while it works at the venue. Reconciliation gives it back: once
//! the cancel is older than `not_found_after` (so beyond `recvWindow`: it
//! can no longer be executed), the order gets a `CancelRejected`; a younger
//! pending cancel is left alone (its request may still arrive).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use veloz_core::events::OrderEventKind;
use veloz_core::{ClientOrderId, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;
use veloz_live::reconcile::{LocalOrder, ReconcileSettings, Reconciler, Snapshot};
use veloz_live::{Inbound, LiveMetrics};

#[test]
fn a_lost_cancel_is_refused_locally_once_it_can_no_longer_arrive() {
    let (sim_rt, srv) = common::simulator(1, 3);
    let inst = veloz_sim::presets::usdm_btcusdt();
    let rest = Arc::new(RestClient::new(
        &srv.endpoints(),
        Some(common::demo_credentials()),
        Duration::from_secs(5),
    ));
    let id = ClientOrderId::new("VZ-lost-cancel").unwrap();
    // The order works at the venue (a resting buy far under the market).
    sim_rt.block_on(async {
        rest.sync_time(veloz_core::MarketKind::UsdM).await.unwrap();
        let order = FuturesOrder::limit(
            Side::Buy,
            Quantity::from_raw(200_000, 3),
            Price::from_raw(5_700_000_000_000, 2),
        )
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(id);
        let req = FuturesApi::USDM
            .new_order(&inst, &order, NumberPolicy::Exact)
            .unwrap();
        rest.send(&req).await.expect("the order is accepted");
    });
    let not_found_after_ms = 6_000;
    let mut reconciler = Reconciler::new(
        rest,
        Arc::new(BTreeMap::from([(inst.id, inst.clone())])),
        Arc::new(Mutex::new(LiveMetrics::default())),
        Arc::default(),
        ReconcileSettings {
            grace_ms: 1_000,
            not_found_after_ms,
            epoch: 0,
        },
    );
    let snapshot = |pending_for_ms: u64| Snapshot {
        orders: vec![LocalOrder {
            id,
            instrument: inst.id,
            venue_id: None,
            open: true,
            unacknowledged: false,
            filled: Quantity::ZERO,
            submitted_at: UnixNanos(local_now().0 - 60_000_000_000),
            cancel_pending_since: Some(UnixNanos(local_now().0 - pending_for_ms * 1_000_000)),
        }],
        positions: BTreeMap::new(),
    };
    let cancel_refusals = |events: &[Inbound]| {
        events
            .iter()
            .filter(|e| {
                matches!(e, Inbound::Reconciled(o) if o.client_order_id == id
                    && matches!(o.kind, OrderEventKind::CancelRejected { .. }))
            })
            .count()
    };

    // A cancel pending for 1 s may still arrive: left alone.
    let young = sim_rt.block_on(reconciler.pass(&snapshot(1_000)));
    assert!(young.errors.is_empty(), "{:?}", young.errors);
    assert_eq!(cancel_refusals(&young.events), 0, "{:?}", young.events);

    // Pending for longer than not_found_after: lost, refused locally, with a
    // finding saying so.
    let old = sim_rt.block_on(reconciler.pass(&snapshot(not_found_after_ms + 1_000)));
    assert!(old.errors.is_empty(), "{:?}", old.errors);
    assert_eq!(cancel_refusals(&old.events), 1, "{:?}", old.events);
    assert!(old.events.iter().any(
        |e| matches!(e, Inbound::Finding(f) if f.contains("VZ-lost-cancel") && f.contains("lost"))
    ));
}
