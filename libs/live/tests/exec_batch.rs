//! Batch orders in the execution client ([`veloz_live::exec`]), against the
//! Binance simulator running in-process.
//!
//! The commands are queued before [`exec::run`] starts, and `exec::run` runs
//! on a current-thread runtime: its router forwards every queued command to
//! the instrument's worker before the worker first runs, so the worker
//! wakes up to all of them and the grouping is the same on every run.
//!
//! HTTP requests are counted by the simulator: clock-skew fault rules of
//! 1 ms (harmless next to the 5 s `recvWindow`, and firing on every request
//! in scope until cleared) count, in this order, the requests to
//! `batchOrders`, to `order`, and to anything else. The simulator fires the
//! first matching rule only, so each request is counted exactly once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use veloz_core::events::{CancelOrder, Command, OrderEventKind, SubmitOrder};
use veloz_core::{
    ClientOrderId, Instrument, InstrumentId, MarketKind, OrderFlags, OrderType, PositionSide,
    Price, Quantity, Rounding, Side, StrategyId, TimeInForce, TriggerPriceType, VenueOrderId,
};
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::rest::exchange_info::ExchangeInfo;
use veloz_exec::binance::rest::futures::FuturesApi;
use veloz_exec::binance::rest::responses::{DepthSnapshot, FuturesOrderReport};
use veloz_exec::binance::rest::spot::Range;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;
use veloz_live::exec::{self, ExecShared};
use veloz_live::venue::Outbound;
use veloz_live::{Inbound, LiveMetrics};
use veloz_simserver::{AccountConfig, FaultKind, FaultRule, ServerConfig, ServerHandle};

/// The simulator on its own runtime, and a runtime for the client side.
struct Venue {
    sim_rt: Runtime,
    rt: Runtime,
    srv: ServerHandle,
    rest: Arc<RestClient>,
}

fn venue() -> Venue {
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("simulator runtime");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let account = AccountConfig::demo();
    let creds = Credentials::hmac(
        account.api_key.clone(),
        account.hmac_secret.clone().expect("demo secret"),
    )
    .expect("credentials");
    let server = ServerConfig {
        accounts: vec![account],
        ..ServerConfig::ephemeral()
    };
    let srv = sim_rt
        .block_on(veloz_simserver::start(server))
        .expect("simulator starts");
    let rest = Arc::new(RestClient::new(
        &srv.endpoints(),
        Some(creds),
        Duration::from_secs(10),
    ));
    Venue {
        sim_rt,
        rt,
        srv,
        rest,
    }
}

impl Venue {
    /// The venue's trading rules of `id`.
    fn instrument(&self, id: InstrumentId) -> Instrument {
        let api = FuturesApi::for_kind(id.kind).expect("a futures instrument");
        self.rt.block_on(async {
            self.rest.sync_time(id.kind).await.expect("server time");
            let info: ExchangeInfo = self
                .rest
                .send_json(&api.exchange_info())
                .await
                .expect("exchangeInfo");
            info.symbol(id.symbol.as_str())
                .expect("the simulator lists the symbol")
                .to_instrument(id.kind)
                .expect("rules convert")
                .instrument
        })
    }

    /// The best bid, once the synthetic market has one (bounded wait).
    fn best_bid(&self, id: InstrumentId) -> Price {
        let api = FuturesApi::for_kind(id.kind).expect("a futures instrument");
        let req = api.depth(&id.symbol, Some(5)).expect("depth request");
        self.rt.block_on(async {
            for _ in 0..100 {
                let d: DepthSnapshot = self.rest.send_json(&req).await.expect("depth");
                if let Some(b) = d.bids.first() {
                    return b.0;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the simulator's market never showed a bid on {id}");
        })
    }

    /// Waits (bounded) until the venue has a mark price for `id`: its
    /// percent-price band applies only then.
    fn wait_for_mark(&self, id: InstrumentId) {
        let path = match id.kind {
            MarketKind::UsdM => format!("/fapi/v1/premiumIndex?symbol={}", id.symbol.as_str()),
            _ => format!("/dapi/v1/premiumIndex?symbol={}", id.symbol.as_str()),
        };
        self.rt.block_on(async {
            for _ in 0..100 {
                let a = self
                    .rest
                    .http(id.kind)
                    .request("GET", &path, &[], &[], true)
                    .await
                    .expect("premiumIndex");
                let v: serde_json::Value =
                    serde_json::from_slice(&a.body).expect("premiumIndex is JSON");
                let row = if v.is_array() { &v[0] } else { &v };
                let mark = row["markPrice"]
                    .as_str()
                    .and_then(|s| Price::parse(s).ok())
                    .unwrap_or(Price::ZERO);
                if mark.raw() > 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the simulator never published a mark price on {id}");
        })
    }

    /// Installs the request counters (see the module docs); returns their
    /// rule ids: `[batchOrders, order, other]`.
    fn count_requests(&self, kind: MarketKind) -> [u64; 3] {
        let product = match kind {
            MarketKind::UsdM => "usdm",
            _ => "coinm",
        };
        let rule = |path: Option<&str>| FaultRule {
            product: Some(product.into()),
            path: path.map(Into::into),
            count: Some(0),
            skew_ms: 1,
            ..FaultRule::new(FaultKind::ClockSkew)
        };
        self.sim_rt.block_on(async {
            let mut ids = [0; 3];
            for (slot, path) in [Some("batchOrders"), Some("order"), None]
                .into_iter()
                .enumerate()
            {
                ids[slot] = self.srv.inject(rule(path)).await.expect("counter rule");
            }
            ids
        })
    }

    /// Requests counted by the rules `ids` so far.
    fn requests(&self, ids: [u64; 3]) -> [u64; 3] {
        let report = self.srv.fault_report();
        ids.map(|id| {
            report
                .rules
                .iter()
                .find(|r| r.id == id)
                .map_or(0, |r| r.fired)
        })
    }

    /// Every order of the account on `id`, as the venue lists them.
    fn all_orders(&self, id: InstrumentId) -> Vec<FuturesOrderReport> {
        let api = FuturesApi::for_kind(id.kind).expect("a futures instrument");
        let req = api
            .all_orders(
                &id.symbol,
                None,
                Range {
                    limit: Some(1000),
                    ..Range::default()
                },
            )
            .expect("allOrders request");
        self.rt
            .block_on(self.rest.send_json(&req))
            .expect("allOrders")
    }

    /// Runs the execution client over `commands` (all queued before it
    /// starts) and returns what it reported, and its metrics.
    fn execute(&self, inst: &Instrument, commands: Vec<Outbound>) -> (Vec<Inbound>, LiveMetrics) {
        let (out_tx, mut out_rx) = mpsc::channel(1024);
        let metrics = Arc::new(Mutex::new(LiveMetrics::default()));
        let shared = ExecShared {
            rest: self.rest.clone(),
            instruments: Arc::new(BTreeMap::from([(inst.id, inst.clone())])),
            out: out_tx,
            metrics: metrics.clone(),
            tracker: Default::default(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        for c in commands {
            tx.send(c).expect("queue open");
        }
        drop(tx);
        self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), exec::run(shared, rx))
                .await
                .expect("the execution client finishes its commands");
        });
        let mut events = Vec::new();
        while let Ok(e) = out_rx.try_recv() {
            events.push(e);
        }
        let m = metrics.lock().map(|m| m.clone()).expect("metrics lock");
        (events, m)
    }
}

fn limit_buy(inst: &Instrument, id: &str, price: Price, quantity: Quantity) -> Outbound {
    Outbound {
        command: Command::Submit(SubmitOrder {
            strategy: StrategyId::new("batch-test").expect("strategy id"),
            instrument: inst.id,
            client_order_id: ClientOrderId::new(id).expect("client id"),
            side: Side::Buy,
            order_type: OrderType::Limit,
            quantity,
            price: Some(price),
            trigger_price: None,
            trigger_type: TriggerPriceType::default(),
            time_in_force: TimeInForce::Gtc,
            expire_time: None,
            flags: OrderFlags::NONE,
            position_side: PositionSide::Both,
            trailing: None,
            ts_init: local_now(),
        }),
        sent_at: local_now(),
        trigger: Some(local_now()),
        order: None,
    }
}

fn cancel(inst: &Instrument, id: &str, venue: Option<VenueOrderId>) -> Outbound {
    Outbound {
        command: Command::Cancel(CancelOrder {
            strategy: StrategyId::new("batch-test").expect("strategy id"),
            instrument: inst.id,
            client_order_id: ClientOrderId::new(id).expect("client id"),
            venue_order_id: venue,
            ts_init: local_now(),
        }),
        sent_at: local_now(),
        trigger: None,
        order: None,
    }
}

/// `bid × percent / 100 − steps ticks`, on the tick grid.
fn price_near(inst: &Instrument, bid: Price, percent: i64, steps: i64) -> Price {
    let raw = bid.raw() / 100 * percent - inst.tick_size.raw() * steps;
    Price::from_raw(raw, inst.price_precision)
        .round_to_increment(inst.tick_size, Rounding::Down)
        .expect("price on the tick grid")
}

/// Order events per client id.
fn by_order(events: &[Inbound]) -> BTreeMap<String, Vec<(OrderEventKind, Option<VenueOrderId>)>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for e in events {
        if let Inbound::Order(o) = e {
            out.entry(o.client_order_id.as_str().to_string())
                .or_default()
                .push((o.kind.clone(), o.venue_order_id));
        }
    }
    out
}

fn audits(events: &[Inbound]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Inbound::Audit(a) => Some(a.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn runs_of_submits_and_cancels_go_out_in_batches() {
    let v = venue();
    let id = InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").expect("instrument id");
    let inst = v.instrument(id);
    let bid = v.best_bid(id);
    let qty = Quantity::parse("0.010").expect("quantity");
    let ids: Vec<String> = (0..7).map(|i| format!("bt-usdm-{i}")).collect();
    let mut commands: Vec<Outbound> = ids
        .iter()
        .enumerate()
        .map(|(i, cid)| limit_buy(&inst, cid, price_near(&inst, bid, 98, i as i64), qty))
        .collect();
    commands.extend(ids.iter().map(|cid| cancel(&inst, cid, None)));
    let n_commands = commands.len() as u64;

    let counters = v.count_requests(MarketKind::UsdM);
    let (events, metrics) = v.execute(&inst, commands);
    let [batch, single, other] = v.requests(counters);
    v.srv.clear_faults();

    assert!(audits(&events).is_empty(), "audits: {:?}", audits(&events));
    let venue_orders = v.all_orders(id);
    let per_order = by_order(&events);
    assert_eq!(per_order.len(), ids.len(), "events: {events:?}");
    for cid in &ids {
        let listed: Vec<&FuturesOrderReport> = venue_orders
            .iter()
            .filter(|o| o.client_order_id == *cid)
            .collect();
        assert_eq!(listed.len(), 1, "{cid} at the venue: {listed:?}");
        let venue_id = VenueOrderId(listed[0].order_id);
        let evs = &per_order[cid];
        let accepted: Vec<_> = evs
            .iter()
            .filter(|(k, _)| *k == OrderEventKind::Accepted)
            .collect();
        assert_eq!(accepted.len(), 1, "{cid}: {evs:?}");
        assert_eq!(accepted[0].1, Some(venue_id), "{cid}: venue id");
        let canceled = evs
            .iter()
            .filter(|(k, _)| *k == OrderEventKind::Canceled)
            .count();
        assert_eq!(canceled, 1, "{cid}: {evs:?}");
        assert_eq!(evs.len(), 2, "{cid}: {evs:?}");
        // The cancel came after the submit's answer.
        assert_eq!(evs[0].0, OrderEventKind::Accepted, "{cid}: {evs:?}");
    }

    // 7 submits = batches of 5 and 2; 7 cancels = one batch of 7.
    eprintln!("requests: {batch} batchOrders, {single} order, {other} other");
    assert!(batch + single + other < n_commands);
    assert_eq!((batch, single, other), (3, 0, 0));

    // Every batched order was acknowledged at the batch's written time.
    assert_eq!(metrics.order_ack.count(), 7);
    assert_eq!(metrics.tick_to_trade.count(), 7);
    assert_eq!(metrics.commands, 14);
}

#[test]
fn an_order_refused_inside_a_batch_is_rejected_alone() {
    let v = venue();
    let id = InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").expect("instrument id");
    let inst = v.instrument(id);
    let bid = v.best_bid(id);
    let qty = Quantity::parse("0.010").expect("quantity");
    v.wait_for_mark(id);
    let ids: Vec<String> = (0..5).map(|i| format!("bt-band-{i}")).collect();
    // Order 2 bids 20 % above the market: above the venue's percent-price
    // band (mark × 1.05), so Binance refuses that element with -4016.
    let commands: Vec<Outbound> = ids
        .iter()
        .enumerate()
        .map(|(i, cid)| {
            let price = if i == 2 {
                price_near(&inst, bid, 120, 0)
            } else {
                price_near(&inst, bid, 98, i as i64)
            };
            limit_buy(&inst, cid, price, qty)
        })
        .collect();

    let counters = v.count_requests(MarketKind::UsdM);
    let (events, metrics) = v.execute(&inst, commands);
    let [batch, single, other] = v.requests(counters);
    assert_eq!((batch, single, other), (1, 0, 0), "one batchOrders request");
    assert!(audits(&events).is_empty(), "audits: {:?}", audits(&events));

    let per_order = by_order(&events);
    let mut accepted = Vec::new();
    for (i, cid) in ids.iter().enumerate() {
        let evs = &per_order[cid];
        assert_eq!(evs.len(), 1, "{cid}: {evs:?}");
        if i == 2 {
            match &evs[0] {
                (OrderEventKind::Rejected { code, .. }, None) => {
                    assert_eq!(*code, Some(-4016), "{cid}: {evs:?}")
                }
                other => panic!("{cid} should be rejected, got {other:?}"),
            }
        } else {
            assert_eq!(evs[0].0, OrderEventKind::Accepted, "{cid}: {evs:?}");
            let venue_id = evs[0].1.expect("the venue's order id");
            accepted.push((cid.clone(), venue_id));
        }
    }
    assert_eq!(metrics.order_ack.count(), 4);
    assert_eq!(metrics.rejects, 1);

    // The venue holds the four, not the refused one.
    let venue_orders = v.all_orders(id);
    for (cid, venue_id) in &accepted {
        let listed: Vec<_> = venue_orders
            .iter()
            .filter(|o| o.client_order_id == *cid)
            .collect();
        assert_eq!(listed.len(), 1, "{cid}");
        assert_eq!(VenueOrderId(listed[0].order_id), *venue_id);
    }
    assert!(!venue_orders.iter().any(|o| o.client_order_id == ids[2]));

    // Cancels by venue id go out as one batch too, and the refused order's
    // cancel (by client id, unknown at the venue) goes alone after them.
    let mut cancels: Vec<Outbound> = accepted
        .iter()
        .map(|(cid, v)| cancel(&inst, cid, Some(*v)))
        .collect();
    cancels.push(cancel(&inst, &ids[2], None));
    let [batch, single, other] = v.requests(counters);
    let (events, _) = v.execute(&inst, cancels);
    let [batch2, single2, other2] = v.requests(counters);
    v.srv.clear_faults();
    assert_eq!(
        (batch2 - batch, single2 - single, other2 - other),
        (1, 1, 0),
        "one batch cancel, one single cancel"
    );
    let per_order = by_order(&events);
    for (cid, venue_id) in &accepted {
        assert_eq!(
            per_order[cid],
            vec![(OrderEventKind::Canceled, Some(*venue_id))],
            "{cid}"
        );
    }
    assert!(
        matches!(
            per_order[&ids[2]].as_slice(),
            [(OrderEventKind::CancelRejected { .. }, None)]
        ),
        "{:?}",
        per_order[&ids[2]]
    );
}

#[test]
fn an_unknown_outcome_of_a_batch_leaves_every_order_in_flight() {
    let v = venue();
    let id = InstrumentId::binance(MarketKind::CoinM, "BTCUSD_PERP").expect("instrument id");
    let inst = v.instrument(id);
    let bid = v.best_bid(id);
    let qty = Quantity::parse("1").expect("quantity");
    let ids: Vec<String> = (0..3).map(|i| format!("bt-coinm-{i}")).collect();
    let commands: Vec<Outbound> = ids
        .iter()
        .enumerate()
        .map(|(i, cid)| limit_buy(&inst, cid, price_near(&inst, bid, 98, i as i64), qty))
        .collect();
    // The venue executes the batch, then answers 503 -1006.
    v.sim_rt
        .block_on(v.srv.inject(FaultRule {
            product: Some("coinm".into()),
            path: Some("batchOrders".into()),
            count: Some(1),
            ..FaultRule::new(FaultKind::OrderUnknownOutcome)
        }))
        .expect("fault rule");
    let (events, metrics) = v.execute(&inst, commands);
    assert_eq!(v.srv.fault_count(FaultKind::OrderUnknownOutcome), 1);
    v.srv.clear_faults();

    // No order event at all (no Accepted, no Rejected): each order is left
    // in flight with its own audit record.
    assert!(by_order(&events).is_empty(), "events: {events:?}");
    let audits = audits(&events);
    assert_eq!(audits.len(), ids.len(), "{audits:?}");
    for cid in &ids {
        assert!(
            audits
                .iter()
                .any(|a| a.contains(cid.as_str()) && a.contains("in flight")),
            "{cid}: {audits:?}"
        );
    }
    assert_eq!(metrics.unknown_outcomes, ids.len() as u64);
    assert_eq!(metrics.order_ack.count(), 0);

    // The venue did place them, once each.
    let venue_orders = v.all_orders(id);
    for cid in &ids {
        assert_eq!(
            venue_orders
                .iter()
                .filter(|o| o.client_order_id == *cid)
                .count(),
            1,
            "{cid}"
        );
    }
}
