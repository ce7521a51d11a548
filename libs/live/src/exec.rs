//! The Binance execution client: takes the kernel's commands from
//! [`crate::venue::ChannelVenue`] and turns them into REST requests, and the
//! answers into order events for the kernel.
//!
//! Rules it keeps:
//!
//! * **Never a blind retry of an order.** An answer that proves nothing was
//!   executed (busy, rate limited before sending, refused timestamp, no
//!   connection) is retried with the same client order id (Binance refuses a
//!   duplicate id, so even a wrong guess cannot place it twice), at most
//!   [`MAX_ATTEMPTS`] times. An unknown outcome (HTTP 5xx, timeout, dropped
//!   connection) is never retried: the order stays `SUBMITTED` until the
//!   user-data stream or an order query ([`crate::reconcile`]) settles it.
//! * **One instrument, one queue.** Commands of one instrument go out in the
//!   order the kernel sent them (a cancel cannot overtake its order's submit);
//!   instruments run concurrently.
//! * **Batches on futures.** When a worker wakes up to several queued
//!   commands of a USD-M or COIN-M instrument, it sends a run of consecutive
//!   plain (`LIMIT`/`MARKET`, not conditional) submits as one `batchOrders`
//!   request (at most [`MAX_BATCH_ORDERS`]) and a run of consecutive cancels
//!   as one `batchCancelOrders` request (at most [`MAX_BATCH_CANCEL`], all by
//!   venue id or all by client id). Only runs of the same kind are grouped,
//!   so the kernel's order is kept. A lone command goes alone (lowest
//!   latency); spot has no batch orders and always goes one by one. Each
//!   element of a batch answer becomes its order's own events exactly as a
//!   single answer would; an unknown outcome of the whole batch leaves every
//!   order of it in flight (one audit record per order). An element refused
//!   with a "nothing executed, try again" error (busy, rate limit, clock) is
//!   resent alone with the same client order id, by the single path.
//! * The REST answer to a submit gives `Accepted` (or `Rejected`); fills and
//!   closures come from the user-data stream, and from reconciliation when a
//!   stream message was lost. A cancel's answer gives `Canceled` (or
//!   `CancelRejected`).
//! * Metrics: every acknowledged order (alone or in a batch, which gives each
//!   of its orders the batch's written time) records `order_ack` and, when a
//!   market frame caused it, `tick_to_trade`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use veloz_core::events::{
    CancelAllOrders, CancelOrder, Command, EventTimes, ModifyOrder, OrderEvent, OrderEventKind,
    SubmitOrder,
};
use veloz_core::{ClientOrderId, Instrument, InstrumentId, MarketKind, UnixNanos, VenueOrderId};
use veloz_exec::binance::error::{BinanceError, RetryClass};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{
    FuturesApi, FuturesModify, FuturesOrder, MAX_BATCH_CANCEL, MAX_BATCH_ORDERS,
};
use veloz_exec::binance::rest::responses::{
    FuturesBatchItem, FuturesOrderReport, OrderOrError, SpotOrderReport,
};
use veloz_exec::binance::rest::spot::{self, SpotOrder};
use veloz_exec::binance::rest::types::OrderStatus as WireStatus;
use veloz_exec::binance::rest::{OrderRef, RestRequest};
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;

use crate::inbound::Inbound;
use crate::metrics::LiveMetrics;
use crate::venue::Outbound;

/// Attempts for a request that definitely was not executed.
pub const MAX_ATTEMPTS: u32 = 3;

/// What the execution client shares with its per-instrument workers.
#[derive(Clone)]
pub struct ExecShared {
    /// The REST client.
    pub rest: Arc<RestClient>,
    /// Instruments by id.
    pub instruments: Arc<BTreeMap<InstrumentId, Instrument>>,
    /// Where order events go.
    pub out: mpsc::Sender<Inbound>,
    /// Metrics.
    pub metrics: Arc<Mutex<LiveMetrics>>,
    /// Where each submit is (for the reconciler).
    pub tracker: crate::venue::SharedTracker,
}

impl std::fmt::Debug for ExecShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecShared")
            .field("instruments", &self.instruments.len())
            .finish_non_exhaustive()
    }
}

/// Runs until the command channel closes: routes each command to its
/// instrument's worker.
pub async fn run(shared: ExecShared, mut rx: mpsc::UnboundedReceiver<Outbound>) {
    let mut workers: HashMap<InstrumentId, mpsc::UnboundedSender<Outbound>> = HashMap::new();
    let mut tasks = Vec::new();
    while let Some(out) = rx.recv().await {
        let id = instrument_of(&out.command);
        let tx = workers.entry(id).or_insert_with(|| {
            let (tx, wrx) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(worker(shared.clone(), wrx)));
            tx
        });
        if tx.send(out).is_err() {
            break;
        }
    }
    drop(workers);
    for t in tasks {
        let _ = t.await;
    }
}

fn instrument_of(c: &Command) -> InstrumentId {
    match c {
        Command::Submit(o) => o.instrument,
        Command::Cancel(c) => c.instrument,
        Command::CancelAll(c) => c.instrument,
        Command::Modify(m) => m.instrument,
    }
}

async fn worker(shared: ExecShared, mut rx: mpsc::UnboundedReceiver<Outbound>) {
    let mut queue: VecDeque<Outbound> = VecDeque::new();
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(out) => queue.push_back(out),
                None => return,
            }
        }
        // Everything already waiting joins the queue, so runs of submits or
        // cancels can go out together.
        while let Ok(out) = rx.try_recv() {
            queue.push_back(out);
        }
        let Some(group) = next_group(&shared, &mut queue) else {
            continue;
        };
        let submits = group.submit_ids();
        for id in &submits {
            crate::venue::track(&shared.tracker, *id, crate::venue::SubmitState::Sending);
        }
        let events = match group {
            Group::One(out) => single(&shared, &out).await,
            Group::Submits { api, inst, batch } => submit_batch(&shared, api, &inst, batch).await,
            Group::Cancels { api, batch } => cancel_batch(&shared, api, batch).await,
        };
        if !submits.is_empty() {
            let done = crate::venue::SubmitState::Done(local_now());
            for id in submits {
                crate::venue::track(&shared.tracker, id, done);
            }
        }
        for e in events {
            if shared.out.send(e).await.is_err() {
                return;
            }
        }
    }
}

/// One command, alone.
async fn single(shared: &ExecShared, out: &Outbound) -> Vec<Inbound> {
    match &out.command {
        Command::Submit(o) => submit(shared, o, out.trigger).await,
        Command::Cancel(c) => cancel(shared, c).await,
        Command::CancelAll(c) => cancel_all(shared, c).await,
        Command::Modify(m) => modify(shared, m, out).await,
    }
}

/// What the worker sends next: one command, or a run of the same kind.
enum Group {
    One(Outbound),
    Submits {
        api: FuturesApi,
        inst: Instrument,
        /// Each submit with its order as built for the venue.
        batch: Vec<(Outbound, SubmitOrder, FuturesOrder)>,
    },
    Cancels {
        api: FuturesApi,
        batch: Vec<CancelOrder>,
    },
}

impl Group {
    /// The client order ids of the submits in the group.
    fn submit_ids(&self) -> Vec<ClientOrderId> {
        match self {
            Self::One(out) => match &out.command {
                Command::Submit(o) => vec![o.client_order_id],
                _ => vec![],
            },
            Self::Submits { batch, .. } => {
                batch.iter().map(|(_, o, _)| o.client_order_id).collect()
            }
            Self::Cancels { .. } => vec![],
        }
    }
}

/// The futures order of `o` if it may go in a `batchOrders` request: a
/// plain (not conditional) order that builds. Anything else goes alone, and
/// the single path reports why it cannot be sent.
fn batchable_submit(api: FuturesApi, inst: &Instrument, o: &SubmitOrder) -> Option<FuturesOrder> {
    let order = FuturesOrder::from_submit(o).ok()?;
    if order.is_conditional() || api.new_order(inst, &order, NumberPolicy::Exact).is_err() {
        return None;
    }
    Some(order)
}

fn cancel_ref(c: &CancelOrder) -> OrderRef {
    match c.venue_order_id {
        Some(v) => OrderRef::Venue(v),
        None => OrderRef::Client(c.client_order_id),
    }
}

/// Takes the next command off `queue`, with the commands after it that can
/// share its request (see the module docs).
fn next_group(shared: &ExecShared, queue: &mut VecDeque<Outbound>) -> Option<Group> {
    let first = queue.pop_front()?;
    let Some(api) = FuturesApi::for_kind(instrument_of(&first.command).kind) else {
        return Some(Group::One(first));
    };
    match &first.command {
        Command::Submit(o) => {
            let Some(inst) = shared.instruments.get(&o.instrument) else {
                return Some(Group::One(first));
            };
            let Some(order) = batchable_submit(api, inst, o) else {
                return Some(Group::One(first));
            };
            let o = o.clone();
            let mut batch = vec![(first, o, order)];
            while batch.len() < MAX_BATCH_ORDERS {
                let Some(Command::Submit(next)) = queue.front().map(|n| &n.command) else {
                    break;
                };
                let Some(order) = batchable_submit(api, inst, next) else {
                    break;
                };
                let next = next.clone();
                let Some(out) = queue.pop_front() else { break };
                batch.push((out, next, order));
            }
            if batch.len() == 1 {
                return batch.pop().map(|(out, _, _)| Group::One(out));
            }
            Some(Group::Submits {
                api,
                inst: inst.clone(),
                batch,
            })
        }
        Command::Cancel(c) => {
            let by_venue = c.venue_order_id.is_some();
            let mut batch = vec![c.clone()];
            while batch.len() < MAX_BATCH_CANCEL {
                match queue.front().map(|n| &n.command) {
                    Some(Command::Cancel(next)) if next.venue_order_id.is_some() == by_venue => {
                        batch.push(next.clone());
                        queue.pop_front();
                    }
                    _ => break,
                }
            }
            if batch.len() == 1 {
                return Some(Group::One(first));
            }
            Some(Group::Cancels { api, batch })
        }
        Command::CancelAll(_) | Command::Modify(_) => Some(Group::One(first)),
    }
}

/// Whether a batch element's error proves nothing was executed and asks
/// for a resend (busy, rate limited, clock skew).
fn resend_alone(e: &BinanceError) -> bool {
    matches!(
        e.retry_class(),
        RetryClass::RetryAfter { banned: false, .. } | RetryClass::ClockSkew
    )
}

/// A batch element's `{code,msg}` as the error a single request would have
/// got (Binance answers a single refused order with HTTP 400).
fn element_error(body: veloz_exec::binance::error::ApiErrorBody) -> BinanceError {
    BinanceError::from_api(400, body, None)
}

/// Reads a batch answer: one element per order, in order.
fn batch_items(body: &[u8], n: usize) -> Result<Vec<FuturesBatchItem>, String> {
    let items: Vec<FuturesBatchItem> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if items.len() != n {
        return Err(format!("{} elements for {n} orders", items.len()));
    }
    Ok(items)
}

/// Sends a run of submits as one `batchOrders` request.
async fn submit_batch(
    shared: &ExecShared,
    api: FuturesApi,
    inst: &Instrument,
    batch: Vec<(Outbound, SubmitOrder, FuturesOrder)>,
) -> Vec<Inbound> {
    let inst_id = inst.id;
    let orders: Vec<FuturesOrder> = batch.iter().map(|(_, _, o)| o.clone()).collect();
    let mut out = Vec::new();
    let req = match api.batch_new_orders(inst, &orders, NumberPolicy::Exact) {
        Ok(r) => r,
        Err(_) => {
            // Each order built alone; send them alone.
            for (o, s, _) in &batch {
                out.extend(submit(shared, s, o.trigger).await);
            }
            return out;
        }
    };
    let answer = match send_checked(shared, &req).await {
        Ok(a) => a,
        Err(e) => {
            for (_, s, _) in &batch {
                note_outcome(shared, &e);
                let id = s.client_order_id;
                out.push(if e.is_unknown_outcome() {
                    Inbound::Audit(format!(
                        "order {id} (batch of {}): {e}; left in flight until the user stream or an order query settles it",
                        batch.len()
                    ))
                } else {
                    event(inst_id, id, None, definite_reject(&e))
                });
            }
            return out;
        }
    };
    let done = local_now();
    let items = match batch_items(&answer.body, batch.len()) {
        Ok(items) => items,
        Err(why) => {
            return batch
                .iter()
                .map(|(_, s, _)| Inbound::Audit(format!(
                    "order {}: the venue answered the batch but its answer is unreadable ({why}); left in flight until the user stream or an order query settles it",
                    s.client_order_id
                )))
                .collect();
        }
    };
    let mut again = Vec::new();
    for ((o, s, _), item) in batch.iter().zip(items) {
        let id = s.client_order_id;
        match item {
            OrderOrError::Order(r) if r.client_order_id == id.as_str() => {
                if let Ok(mut m) = shared.metrics.lock() {
                    m.commands += 1;
                    m.order_ack.record(done.0.saturating_sub(answer.written.0));
                    if let Some(t) = o.trigger {
                        m.tick_to_trade.record(answer.written.0.saturating_sub(t.0));
                    }
                }
                out.extend(
                    answer_kinds(Some(r.status))
                        .into_iter()
                        .map(|k| event(inst_id, id, Some(VenueOrderId(r.order_id)), k)),
                );
            }
            OrderOrError::Order(r) => out.push(Inbound::Audit(format!(
                "order {id}: its place in the batch answer holds order {} ({}); left in flight until the user stream or an order query settles it",
                r.order_id, r.client_order_id
            ))),
            OrderOrError::Error(body) => {
                let e = element_error(body);
                if resend_alone(&e) {
                    again.push((s, o.trigger));
                    continue;
                }
                note_outcome(shared, &e);
                out.push(if e.is_unknown_outcome() {
                    Inbound::Audit(format!(
                        "order {id}: {e}; left in flight until the user stream or an order query settles it"
                    ))
                } else {
                    event(inst_id, id, None, definite_reject(&e))
                });
            }
        }
    }
    for (s, trigger) in again {
        out.extend(submit(shared, s, trigger).await);
    }
    out
}

/// Sends a run of cancels (all by venue id or all by client id) as one
/// `batchCancelOrders` request.
async fn cancel_batch(
    shared: &ExecShared,
    api: FuturesApi,
    batch: Vec<CancelOrder>,
) -> Vec<Inbound> {
    let mut out = Vec::new();
    let Some(inst_id) = batch.first().map(|c| c.instrument) else {
        return out;
    };
    let refs: Vec<OrderRef> = batch.iter().map(cancel_ref).collect();
    let req = match api.batch_cancel_orders(&inst_id.symbol, &refs) {
        Ok(r) => r,
        Err(_) => {
            for c in &batch {
                out.extend(cancel(shared, c).await);
            }
            return out;
        }
    };
    let answer = match send_checked(shared, &req).await {
        Ok(a) => a,
        Err(e) => {
            for c in &batch {
                let id = c.client_order_id;
                out.push(if e.is_unknown_outcome() {
                    note_outcome(shared, &e);
                    Inbound::Audit(format!(
                        "cancel of {id} (batch of {}): {e}; the order's state will be settled by the user stream or reconciliation",
                        batch.len()
                    ))
                } else {
                    event(
                        inst_id,
                        id,
                        c.venue_order_id,
                        OrderEventKind::CancelRejected {
                            reason: e.to_string(),
                        },
                    )
                });
            }
            return out;
        }
    };
    let items = match batch_items(&answer.body, batch.len()) {
        Ok(items) => items,
        Err(why) => {
            return batch
                .iter()
                .map(|c| Inbound::Audit(format!(
                    "cancel of {}: the venue answered the batch but its answer is unreadable ({why}); the order's state will be settled by the user stream or reconciliation",
                    c.client_order_id
                )))
                .collect();
        }
    };
    let mut again = Vec::new();
    for (c, item) in batch.iter().zip(items) {
        let id = c.client_order_id;
        match item {
            OrderOrError::Order(r) => {
                let same = match cancel_ref(c) {
                    OrderRef::Venue(v) => v.0 == r.order_id,
                    OrderRef::Client(cid) => r.client_order_id == cid.as_str(),
                };
                if !same {
                    out.push(Inbound::Audit(format!(
                        "cancel of {id}: its place in the batch answer holds order {} ({}); the order's state will be settled by the user stream or reconciliation",
                        r.order_id, r.client_order_id
                    )));
                    continue;
                }
                if let Ok(mut m) = shared.metrics.lock() {
                    m.commands += 1;
                }
                out.push(event(
                    inst_id,
                    id,
                    c.venue_order_id.or(Some(VenueOrderId(r.order_id))),
                    OrderEventKind::Canceled,
                ));
            }
            OrderOrError::Error(body) => {
                let e = element_error(body);
                if resend_alone(&e) {
                    again.push(c);
                } else if e.is_unknown_outcome() {
                    note_outcome(shared, &e);
                    out.push(Inbound::Audit(format!(
                        "cancel of {id}: {e}; the order's state will be settled by the user stream or reconciliation"
                    )));
                } else {
                    out.push(event(
                        inst_id,
                        id,
                        c.venue_order_id,
                        OrderEventKind::CancelRejected {
                            reason: e.to_string(),
                        },
                    ));
                }
            }
        }
    }
    for c in again {
        out.extend(cancel(shared, c).await);
    }
    out
}

fn event(
    instrument: InstrumentId,
    id: ClientOrderId,
    venue: Option<VenueOrderId>,
    kind: OrderEventKind,
) -> Inbound {
    let now = local_now();
    Inbound::Order(OrderEvent {
        instrument,
        client_order_id: id,
        venue_order_id: venue,
        kind,
        times: EventTimes {
            exchange: now,
            local: now,
        },
    })
}

/// Sends `req`, retrying only answers that prove nothing was executed.
async fn send_checked(
    shared: &ExecShared,
    req: &RestRequest,
) -> Result<veloz_exec::binance::transport::http::HttpAnswer, BinanceError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r = shared.rest.send(req).await;
        let Err(e) = r else { return r };
        let retry = match &e {
            BinanceError::Busy { .. } | BinanceError::ConnectFailed { .. } => {
                Some(Duration::from_millis(200 << attempt.min(4)))
            }
            BinanceError::ClockSkew { .. } => {
                let _ = shared.rest.sync_time(req.product).await;
                Some(Duration::ZERO)
            }
            BinanceError::RateLimited {
                retry_after,
                banned: false,
                ..
            } => retry_after
                .filter(|d| *d <= Duration::from_secs(2))
                .or(Some(Duration::from_millis(500))),
            _ => None,
        };
        match retry {
            Some(d) if attempt < MAX_ATTEMPTS => tokio::time::sleep(d).await,
            _ => return Err(e),
        }
    }
}

fn definite_reject(e: &BinanceError) -> OrderEventKind {
    OrderEventKind::Rejected {
        code: e.code(),
        reason: e.to_string(),
    }
}

fn note_outcome(shared: &ExecShared, e: &BinanceError) {
    if let Ok(mut m) = shared.metrics.lock() {
        if e.is_unknown_outcome() {
            m.unknown_outcomes += 1;
        } else {
            m.rejects += 1;
        }
    }
}

/// The REST request of a submit (spot `order`, futures `order` or
/// `algoOrder`), numbers exact to the instrument's tick and step.
pub fn build_submit(inst: &Instrument, o: &SubmitOrder) -> Result<RestRequest, BinanceError> {
    Ok(match inst.id.kind {
        MarketKind::Spot => {
            spot::new_order(inst, &SpotOrder::from_submit(o)?, NumberPolicy::Exact)?
        }
        kind => {
            let api = FuturesApi::for_kind(kind).ok_or(BinanceError::Build(
                veloz_exec::binance::error::BuildError::Unsupported {
                    what: "orders on this market kind",
                    product: kind,
                },
            ))?;
            api.new_order(inst, &FuturesOrder::from_submit(o)?, NumberPolicy::Exact)?
        }
    })
}

/// Order events implied by a submit answer's status.
fn answer_kinds(status: Option<WireStatus>) -> Vec<OrderEventKind> {
    match status {
        Some(WireStatus::Rejected) => vec![OrderEventKind::Rejected {
            code: None,
            reason: "the venue answered REJECTED".into(),
        }],
        Some(WireStatus::Expired | WireStatus::ExpiredInMatch) => {
            vec![OrderEventKind::Accepted, OrderEventKind::Expired]
        }
        Some(WireStatus::Canceled) => vec![OrderEventKind::Accepted, OrderEventKind::Canceled],
        _ => vec![OrderEventKind::Accepted],
    }
}

async fn submit(shared: &ExecShared, o: &SubmitOrder, trigger: Option<UnixNanos>) -> Vec<Inbound> {
    let (id, inst_id) = (o.client_order_id, o.instrument);
    let Some(inst) = shared.instruments.get(&inst_id) else {
        return vec![event(
            inst_id,
            id,
            None,
            OrderEventKind::Rejected {
                code: None,
                reason: format!("{inst_id}: no trading rules loaded; not sent"),
            },
        )];
    };
    let req = match build_submit(inst, o) {
        Ok(r) => r,
        Err(e) => {
            note_outcome(shared, &e);
            return vec![event(inst_id, id, None, definite_reject(&e))];
        }
    };
    let answer = match send_checked(shared, &req).await {
        Ok(a) => a,
        Err(e) => {
            note_outcome(shared, &e);
            if e.is_unknown_outcome() {
                return vec![Inbound::Audit(format!(
                    "order {id}: {e}; left in flight until the user stream or an order query settles it"
                ))];
            }
            return vec![event(inst_id, id, None, definite_reject(&e))];
        }
    };
    let done = local_now();
    if let Ok(mut m) = shared.metrics.lock() {
        m.commands += 1;
        m.order_ack.record(done.0.saturating_sub(answer.written.0));
        if let Some(t) = trigger {
            m.tick_to_trade.record(answer.written.0.saturating_sub(t.0));
        }
    }
    let parsed: Result<(u64, Option<WireStatus>), serde_json::Error> = match inst_id.kind {
        MarketKind::Spot => {
            serde_json::from_slice::<SpotOrderReport>(&answer.body).map(|r| (r.order_id, r.status))
        }
        _ => serde_json::from_slice::<FuturesOrderReport>(&answer.body)
            .map(|r| (r.order_id, Some(r.status))),
    };
    match parsed {
        Ok((venue_id, status)) => answer_kinds(status)
            .into_iter()
            .map(|k| event(inst_id, id, Some(VenueOrderId(venue_id)), k))
            .collect(),
        Err(e) => vec![Inbound::Audit(format!(
            "order {id}: the venue accepted the request but its answer is unreadable ({e}); left in flight until the user stream or an order query settles it"
        ))],
    }
}

async fn cancel(shared: &ExecShared, c: &CancelOrder) -> Vec<Inbound> {
    let (id, inst_id) = (c.client_order_id, c.instrument);
    let order = match c.venue_order_id {
        Some(v) => OrderRef::Venue(v),
        None => OrderRef::Client(id),
    };
    let req = match inst_id.kind {
        MarketKind::Spot => spot::cancel_order(&inst_id.symbol, order),
        kind => match FuturesApi::for_kind(kind) {
            Some(api) => api.cancel_order(&inst_id.symbol, order),
            None => return vec![],
        },
    };
    match send_checked(shared, &req).await {
        Ok(_) => {
            if let Ok(mut m) = shared.metrics.lock() {
                m.commands += 1;
            }
            vec![event(
                inst_id,
                id,
                c.venue_order_id,
                OrderEventKind::Canceled,
            )]
        }
        Err(e) if e.is_unknown_outcome() => {
            note_outcome(shared, &e);
            vec![Inbound::Audit(format!(
                "cancel of {id}: {e}; the order's state will be settled by the user stream or reconciliation"
            ))]
        }
        Err(e) => vec![event(
            inst_id,
            id,
            c.venue_order_id,
            OrderEventKind::CancelRejected {
                reason: e.to_string(),
            },
        )],
    }
}

async fn cancel_all(shared: &ExecShared, c: &CancelAllOrders) -> Vec<Inbound> {
    let inst_id = c.instrument;
    let req = match inst_id.kind {
        MarketKind::Spot => spot::cancel_all(&inst_id.symbol),
        kind => match FuturesApi::for_kind(kind) {
            Some(api) => api.cancel_all(&inst_id.symbol),
            None => return vec![],
        },
    };
    match send_checked(shared, &req).await {
        Ok(_) => {
            if let Ok(mut m) = shared.metrics.lock() {
                m.commands += 1;
            }
            // Each cancelled order is reported on the user stream (and
            // found by reconciliation if that report is lost).
            vec![]
        }
        // Spot answers -2011 when there was nothing to cancel.
        Err(e) if e.code() == Some(-2011) => vec![],
        Err(e) => {
            note_outcome(shared, &e);
            vec![Inbound::Audit(format!(
                "cancel-all on {inst_id}: {e}; reconciliation will settle the orders"
            ))]
        }
    }
}

async fn modify(shared: &ExecShared, m: &ModifyOrder, out: &Outbound) -> Vec<Inbound> {
    let (id, inst_id) = (m.client_order_id, m.instrument);
    let refuse = |reason: String| {
        vec![event(
            inst_id,
            id,
            m.venue_order_id,
            OrderEventKind::ModifyRejected { reason },
        )]
    };
    let Some(api) = FuturesApi::for_kind(inst_id.kind) else {
        return refuse(
            "spot orders cannot be modified in place; cancel and submit a new order".into(),
        );
    };
    let (Some(inst), Some(sent)) = (shared.instruments.get(&inst_id), out.order) else {
        return refuse("the order's side and quantity are unknown to the execution client".into());
    };
    let quantity = m.quantity.unwrap_or(sent.quantity);
    let price = m.price.or(sent.price);
    let req = FuturesModify {
        order: match m.venue_order_id {
            Some(v) => OrderRef::Venue(v),
            None => OrderRef::Client(id),
        },
        side: sent.side,
        quantity,
        price,
        price_match: None,
    };
    let req = match api.modify_order(inst, &req, NumberPolicy::Exact) {
        Ok(r) => r,
        Err(e) => return refuse(e.to_string()),
    };
    match send_checked(shared, &req).await {
        Ok(_) => vec![event(
            inst_id,
            id,
            m.venue_order_id,
            OrderEventKind::Updated {
                quantity,
                price,
                trigger_price: None,
            },
        )],
        Err(e) if e.is_unknown_outcome() => {
            note_outcome(shared, &e);
            vec![Inbound::Audit(format!(
                "modify of {id}: {e}; reconciliation will settle it"
            ))]
        }
        Err(e) => refuse(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_answers_map_to_events() {
        assert_eq!(
            answer_kinds(Some(WireStatus::New)),
            vec![OrderEventKind::Accepted]
        );
        assert_eq!(
            answer_kinds(Some(WireStatus::Filled)),
            vec![OrderEventKind::Accepted]
        );
        assert_eq!(
            answer_kinds(Some(WireStatus::Expired)),
            vec![OrderEventKind::Accepted, OrderEventKind::Expired]
        );
        assert!(matches!(
            answer_kinds(Some(WireStatus::Rejected))[0],
            OrderEventKind::Rejected { .. }
        ));
        assert_eq!(answer_kinds(None), vec![OrderEventKind::Accepted]);
    }
}
