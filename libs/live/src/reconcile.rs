//! Reconciliation: local orders, fills, balances and positions against what
//! the venue says, on start and every `reconcile_interval_ms`.
//!
//! The engine hands a [`Snapshot`] of the kernel's orders and positions to
//! [`Reconciler::pass`], which asks the venue (REST) and returns the order
//! and account events that bring the kernel in line, plus an audit line for
//! every mismatch. Everything it returns goes through the kernel like any
//! other venue report, so it is journaled and idempotent: fills carry the
//! venue's trade ids (the order store drops a fill it already has), closures
//! of closed orders are ignored.
//!
//! One pass, per instrument:
//!
//! 1. **Open orders at the venue.** One VeloZ does not know is reported as
//!    external (once). One VeloZ still has as `SUBMITTED` (an unknown outcome)
//!    gets its `Accepted`. One whose executed quantity is above VeloZ's has
//!    its trades fetched. One VeloZ has as `PENDING_CANCEL` for
//!    `not_found_after` (longer than `recvWindow`, so the cancel request can
//!    no longer be executed) lost its cancel: the process died with it in
//!    flight, or its outcome stayed unknown. It gets a `CancelRejected`, so
//!    the order is working again locally and its strategy can cancel anew.
//! 2. **Open orders VeloZ has that the venue does not list** (older than a
//!    grace period, so a request in flight is not misread): an order query
//!    says how they ended; their trades are fetched; then the closure.
//!    An order the venue has never heard of, `not_found_after` after its
//!    request ended (or, for one sent before a restart, after its submit),
//!    is `Rejected` (it never arrived: the request timed out before Binance
//!    got it, or the process died before sending it); one still queued or
//!    being sent by the execution task is left alone.
//! 3. **Trades** since the last one seen (`fromId`): any fill the user
//!    stream lost, even of an order that is closed locally, is recovered with
//!    its trade id (so a second restart cannot count it twice).
//! 4. **Balances and positions** from the venue become account events; a
//!    futures position that differs from the one VeloZ computed from fills in
//!    two passes in a row is a mismatch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use veloz_core::events::{AccountEvent, Balance, EventTimes, OrderEvent, OrderEventKind};
use veloz_core::{
    ClientOrderId, Instrument, InstrumentId, MarketKind, Money, Quantity, UnixNanos, VenueOrderId,
};
use veloz_exec::binance::error::BinanceError;
use veloz_exec::binance::rest::futures::FuturesApi;
use veloz_exec::binance::rest::responses::{FuturesBalance, PositionRisk, SpotAccount};
use veloz_exec::binance::rest::spot;
use veloz_exec::binance::rest::types::OrderStatus as WireStatus;
use veloz_exec::binance::rest::OrderRef;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;

use crate::inbound::Inbound;
use crate::metrics::LiveMetrics;
use crate::records::{self, currency, VenueOrder, VenueTrade};
use crate::venue::SubmitState;

/// One local order, as the reconciler needs it.
#[derive(Debug, Clone)]
pub struct LocalOrder {
    /// Client order id.
    pub id: ClientOrderId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Venue id, once known.
    pub venue_id: Option<VenueOrderId>,
    /// Still open (working, or in flight).
    pub open: bool,
    /// Never acknowledged (`SUBMITTED`).
    pub unacknowledged: bool,
    /// Filled so far.
    pub filled: Quantity,
    /// Kernel time of the submit.
    pub submitted_at: UnixNanos,
    /// While a cancel is pending (`PENDING_CANCEL`): kernel time of the
    /// order's last event, no earlier than the cancel request.
    pub cancel_pending_since: Option<UnixNanos>,
}

/// The kernel's orders and positions at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every order the kernel knows.
    pub orders: Vec<LocalOrder>,
    /// Futures positions from fills.
    pub positions: BTreeMap<InstrumentId, Quantity>,
}

/// Settings of the reconciler.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileSettings {
    /// Orders younger than this are not queried (their request may be in flight).
    pub grace_ms: u64,
    /// An order the venue does not know is declared never placed after this.
    pub not_found_after_ms: u64,
    /// This session's client-order-id epoch: an id of this epoch the
    /// snapshot does not hold yet was placed after the snapshot was taken,
    /// not outside VeloZ.
    pub epoch: u64,
}

/// The reconciler's memory between passes (see the module docs).
pub struct Reconciler {
    rest: Arc<RestClient>,
    instruments: Arc<BTreeMap<InstrumentId, Instrument>>,
    metrics: Arc<Mutex<LiveMetrics>>,
    settings: ReconcileSettings,
    tracker: crate::venue::SharedTracker,
    last_trade: HashMap<InstrumentId, u64>,
    external: HashSet<(InstrumentId, u64)>,
    position_streak: HashMap<InstrumentId, u32>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("settings", &self.settings)
            .field("last_trade", &self.last_trade)
            .finish_non_exhaustive()
    }
}

/// What one pass found.
#[derive(Debug, Default)]
pub struct PassResult {
    /// Events for the kernel, in order.
    pub events: Vec<Inbound>,
    /// Requests that failed (the pass goes on; the next pass retries).
    pub errors: Vec<String>,
}

fn order_event(
    instrument: InstrumentId,
    id: ClientOrderId,
    venue: Option<VenueOrderId>,
    kind: OrderEventKind,
    exchange: UnixNanos,
) -> Inbound {
    Inbound::Reconciled(OrderEvent {
        instrument,
        client_order_id: id,
        venue_order_id: venue,
        kind,
        times: EventTimes {
            exchange,
            local: local_now(),
        },
    })
}

impl Reconciler {
    /// A reconciler over `instruments`.
    pub fn new(
        rest: Arc<RestClient>,
        instruments: Arc<BTreeMap<InstrumentId, Instrument>>,
        metrics: Arc<Mutex<LiveMetrics>>,
        tracker: crate::venue::SharedTracker,
        settings: ReconcileSettings,
    ) -> Self {
        Self {
            rest,
            instruments,
            metrics,
            settings,
            tracker,
            last_trade: HashMap::new(),
            external: HashSet::new(),
            position_streak: HashMap::new(),
        }
    }

    fn count(&self, f: impl FnOnce(&mut LiveMetrics)) {
        if let Ok(mut m) = self.metrics.lock() {
            f(&mut m);
        }
    }

    async fn query(&self, id: InstrumentId, r: OrderRef) -> Result<VenueOrder, BinanceError> {
        self.count(|m| m.order_queries += 1);
        records::query_order(&self.rest, id, r).await
    }

    /// One reconciliation pass (see the module docs).
    pub async fn pass(&mut self, snap: &Snapshot) -> PassResult {
        self.count(|m| m.reconciliations += 1);
        let mut res = PassResult::default();
        let now = local_now();
        let ids: Vec<InstrumentId> = self.instruments.keys().copied().collect();
        for id in ids {
            if let Err(e) = self.instrument_pass(id, snap, now, &mut res).await {
                res.errors.push(format!("{id}: {e}"));
            }
        }
        if let Err(e) = self.account_pass(snap, &mut res).await {
            res.errors.push(format!("balances and positions: {e}"));
        }
        res
    }

    async fn instrument_pass(
        &mut self,
        id: InstrumentId,
        snap: &Snapshot,
        now: UnixNanos,
        res: &mut PassResult,
    ) -> Result<(), BinanceError> {
        let local: Vec<&LocalOrder> = snap.orders.iter().filter(|o| o.instrument == id).collect();
        let by_client: HashMap<&str, &LocalOrder> =
            local.iter().map(|o| (o.id.as_str(), *o)).collect();
        let mut by_venue: HashMap<u64, &LocalOrder> = local
            .iter()
            .filter_map(|o| o.venue_id.map(|v| (v.0, *o)))
            .collect();
        let venue_open = records::open_orders(&self.rest, id).await?;
        let mut listed: HashSet<&str> = HashSet::new();
        let mut fetch_trades_of: Vec<(u64, ClientOrderId)> = Vec::new();
        for v in &venue_open {
            listed.insert(v.client_id.as_str());
            match by_client.get(v.client_id.as_str()) {
                None if self.is_ours(&v.client_id) => {
                    // Placed after the snapshot: the next pass sees it.
                }
                None => {
                    if self.external.insert((id, v.venue_id)) {
                        self.count(|m| {
                            m.external_orders += 1;
                            m.mismatches += 1;
                        });
                        res.events.push(Inbound::Finding(format!(
                            "reconcile {id}: open order {} (client id {:?}) was not placed by VeloZ (external); left alone",
                            v.venue_id, v.client_id
                        )));
                    }
                }
                Some(o) => {
                    by_venue.insert(v.venue_id, o);
                    let young =
                        now.0.saturating_sub(o.submitted_at.0) < self.settings.grace_ms * 1_000_000;
                    if o.unacknowledged && !young {
                        self.count(|m| m.mismatches += 1);
                        res.events.push(Inbound::Finding(format!(
                            "reconcile {id}: order {} is working at the venue; acknowledgement recovered",
                            o.id
                        )));
                        res.events.push(order_event(
                            id,
                            o.id,
                            Some(VenueOrderId(v.venue_id)),
                            OrderEventKind::Accepted,
                            now,
                        ));
                    }
                    if v.executed > o.filled {
                        fetch_trades_of.push((v.venue_id, o.id));
                    }
                    let lost_after = self.settings.not_found_after_ms * 1_000_000;
                    if o.cancel_pending_since
                        .is_some_and(|t| now.0.saturating_sub(t.0) >= lost_after)
                    {
                        self.count(|m| m.mismatches += 1);
                        res.events.push(Inbound::Finding(format!(
                            "reconcile {id}: the cancel of order {} was lost (the order is still working at the venue); the order is working again locally",
                            o.id
                        )));
                        res.events.push(order_event(
                            id,
                            o.id,
                            Some(VenueOrderId(v.venue_id)),
                            OrderEventKind::CancelRejected {
                                reason: "the cancel request never reached the venue".into(),
                            },
                            now,
                        ));
                    }
                }
            }
        }
        let grace = self.settings.grace_ms * 1_000_000;
        for o in local.iter().filter(|o| o.open) {
            if listed.contains(o.id.as_str()) {
                continue;
            }
            // Since when the venue could know the order: its request's end
            // in this session; the submit time for one sent before a restart.
            let since = match self.tracker.lock().ok().and_then(|t| t.get(&o.id)) {
                Some(SubmitState::Queued | SubmitState::Sending) => continue,
                Some(SubmitState::Done(t)) => t,
                None => o.submitted_at,
            };
            let age = now.0.saturating_sub(since.0);
            if age < grace {
                continue;
            }
            match self.query(id, OrderRef::Client(o.id)).await {
                Ok(v) => {
                    by_venue.insert(v.venue_id, o);
                    let venue = Some(VenueOrderId(v.venue_id));
                    if v.executed > o.filled {
                        fetch_trades_of.push((v.venue_id, o.id));
                    }
                    let closing = match v.status {
                        WireStatus::Canceled => Some(OrderEventKind::Canceled),
                        WireStatus::Expired | WireStatus::ExpiredInMatch => {
                            Some(OrderEventKind::Expired)
                        }
                        WireStatus::Rejected => Some(OrderEventKind::Rejected {
                            code: None,
                            reason: "the venue reports the order REJECTED".into(),
                        }),
                        WireStatus::New | WireStatus::PartiallyFilled | WireStatus::PendingNew => {
                            Some(OrderEventKind::Accepted)
                        }
                        _ => None,
                    };
                    if o.unacknowledged {
                        res.events.push(order_event(
                            id,
                            o.id,
                            venue,
                            OrderEventKind::Accepted,
                            now,
                        ));
                    }
                    // Fills first, then the closure.
                    if let Some(i) = fetch_trades_of
                        .iter()
                        .position(|(vid, _)| *vid == v.venue_id)
                    {
                        let (vid, cid) = fetch_trades_of.remove(i);
                        self.push_order_trades(id, vid, cid, res).await?;
                    }
                    if let Some(k) = closing {
                        if !matches!(k, OrderEventKind::Accepted) {
                            self.count(|m| m.mismatches += 1);
                            res.events.push(Inbound::Finding(format!(
                                "reconcile {id}: order {} is {:?} at the venue; closed locally",
                                o.id, v.status
                            )));
                        }
                        res.events.push(order_event(id, o.id, venue, k, now));
                    }
                }
                Err(e) if e.code() == Some(-2013) => {
                    if age >= self.settings.not_found_after_ms * 1_000_000 {
                        self.count(|m| m.mismatches += 1);
                        res.events.push(Inbound::Finding(format!(
                            "reconcile {id}: order {} never reached the venue; marked rejected",
                            o.id
                        )));
                        res.events.push(order_event(
                            id,
                            o.id,
                            None,
                            OrderEventKind::Rejected {
                                code: Some(-2013),
                                reason: "the venue has no such order: the request never arrived"
                                    .into(),
                            },
                            now,
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        for (vid, cid) in fetch_trades_of {
            self.push_order_trades(id, vid, cid, res).await?;
        }
        // Every trade since the last one seen: fills the user stream lost.
        let from = self.last_trade.get(&id).map(|t| t + 1);
        let trades = records::trades(&self.rest, id, None, from).await?;
        for t in &trades {
            let owner = match by_venue.get(&t.order_id) {
                Some(o) => Ok(o.id),
                None => match self
                    .query(id, OrderRef::Venue(VenueOrderId(t.order_id)))
                    .await
                {
                    Ok(v) => match by_client.get(v.client_id.as_str()) {
                        Some(o) => Ok(o.id),
                        None => Err(Some(v.client_id)),
                    },
                    Err(_) => Err(None),
                },
            };
            match owner {
                Ok(cid) => res.events.push(self.fill_event(id, cid, t)),
                // An order of ours placed after the snapshot: stop here
                // and take this trade again in the next pass.
                Err(Some(client)) if self.is_ours(&client) => break,
                Err(client) => {
                    if self.external.insert((id, t.order_id)) {
                        self.count(|m| m.mismatches += 1);
                        res.events.push(Inbound::Finding(format!(
                            "reconcile {id}: trade {} of order {} ({}) that VeloZ did not place (external)",
                            t.id,
                            t.order_id,
                            client.as_deref().unwrap_or("order unknown to the venue's query")
                        )));
                    }
                }
            }
            let last = self.last_trade.entry(id).or_insert(0);
            *last = (*last).max(t.id);
        }
        Ok(())
    }

    fn is_ours(&self, client_id: &str) -> bool {
        veloz_core::ClientOrderIdGenerator::parse(client_id)
            .is_some_and(|p| p.epoch == self.settings.epoch)
    }

    fn fill_event(&self, id: InstrumentId, cid: ClientOrderId, t: &VenueTrade) -> Inbound {
        order_event(
            id,
            cid,
            Some(VenueOrderId(t.order_id)),
            OrderEventKind::Filled(t.fill),
            UnixNanos::from_millis(t.time),
        )
    }

    async fn push_order_trades(
        &mut self,
        id: InstrumentId,
        venue_id: u64,
        cid: ClientOrderId,
        res: &mut PassResult,
    ) -> Result<(), BinanceError> {
        let trades = records::trades(&self.rest, id, Some(venue_id), None).await?;
        for t in &trades {
            res.events.push(self.fill_event(id, cid, t));
        }
        Ok(())
    }

    async fn account_pass(
        &mut self,
        snap: &Snapshot,
        res: &mut PassResult,
    ) -> Result<(), BinanceError> {
        let kinds: HashSet<MarketKind> = self.instruments.keys().map(|i| i.kind).collect();
        let now = local_now();
        let times = EventTimes {
            exchange: now,
            local: now,
        };
        for kind in kinds {
            match kind {
                MarketKind::Spot => {
                    let acct: SpotAccount = self.rest.send_json(&spot::account(true)).await?;
                    let (balances, _) = acct.to_balances(now);
                    for b in balances {
                        res.events.push(Inbound::Account(AccountEvent::Balance(b)));
                    }
                }
                kind => {
                    let Some(api) = FuturesApi::for_kind(kind) else {
                        continue;
                    };
                    let balances: Vec<FuturesBalance> = self.rest.send_json(&api.balance()).await?;
                    for b in balances {
                        // As the user stream's ACCOUNT_UPDATE reports it:
                        // free = cross wallet, locked = wallet - cross wallet.
                        let asset = currency(&b.asset);
                        let free = b.cross_wallet_balance.money(asset);
                        let total = b.balance.money(asset);
                        let locked = total
                            .checked_sub(free)
                            .unwrap_or_else(|_| Money::zero(asset));
                        res.events
                            .push(Inbound::Account(AccountEvent::Balance(Balance {
                                kind,
                                asset,
                                free,
                                locked,
                                times,
                            })));
                    }
                    let risks: Vec<PositionRisk> =
                        self.rest.send_json(&api.position_risk(None)).await?;
                    for r in risks {
                        let Some(inst) = self
                            .instruments
                            .values()
                            .find(|i| i.id.kind == kind && i.id.symbol.as_str() == r.symbol)
                        else {
                            continue;
                        };
                        let pnl_currency = inst.margin_asset;
                        res.events
                            .push(Inbound::Account(AccountEvent::Position(r.to_report(
                                inst.id,
                                pnl_currency,
                                now,
                            ))));
                        let local = snap
                            .positions
                            .get(&inst.id)
                            .copied()
                            .unwrap_or(Quantity::ZERO);
                        let streak = self.position_streak.entry(inst.id).or_insert(0);
                        if local == r.position_amt {
                            *streak = 0;
                        } else {
                            *streak += 1;
                            if *streak == 2 {
                                if let Ok(mut m) = self.metrics.lock() {
                                    m.mismatches += 1;
                                }
                                res.events.push(Inbound::Finding(format!(
                                    "reconcile {}: position {} from VeloZ's fills, {} at the venue (two passes in a row)",
                                    inst.id, local, r.position_amt
                                )));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
