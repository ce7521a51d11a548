//! Comparing a kernel's state with the venue's, order by order and fill by
//! fill: what the fault and restart tests assert, and what an operator runs
//! to prove a session ended clean.
//!
//! [`compare_with_venue`] lists every difference between the kernel (usually
//! one rebuilt from the journal) and the venue's own records (`allOrders`,
//! account trades, positions, balances):
//!
//! * an order at the venue that VeloZ does not have, or one VeloZ sent whose
//!   venue id the venue does not know;
//! * a client order id the venue saw twice (an order submitted twice);
//! * an order open on one side and closed on the other, or with a different
//!   filled quantity;
//! * a trade at the venue that is not a fill in VeloZ, or the other way
//!   round, or one whose price or quantity differs;
//! * a futures position or a balance that differs.

use std::collections::{BTreeMap, HashMap};

use crate::records::{self, VenueOrder, VenueTrade, PAGE};
use veloz_core::{InstrumentId, MarketKind, Price, Quantity};
use veloz_exec::binance::error::BinanceError;
use veloz_exec::binance::rest::futures::FuturesApi;
use veloz_exec::binance::rest::responses::{FuturesBalance, PositionRisk, SpotAccount};
use veloz_exec::binance::rest::spot;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;
use veloz_runtime::Kernel;

/// The result of a comparison.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// Every difference, in words.
    pub differences: Vec<String>,
    /// Orders compared (venue side).
    pub orders: usize,
    /// Fills compared (venue side).
    pub fills: usize,
    /// Positions compared.
    pub positions: usize,
    /// Balances compared.
    pub balances: usize,
}

impl Comparison {
    /// No difference.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Every order of `id` at the venue, page by page.
async fn all_orders(rest: &RestClient, id: InstrumentId) -> Result<Vec<VenueOrder>, BinanceError> {
    let mut out: Vec<VenueOrder> = Vec::new();
    let mut from = None;
    loop {
        let page = records::all_orders(rest, id, from).await?;
        let n = page.len();
        from = page.iter().map(|o| o.venue_id + 1).max();
        out.extend(page);
        if n < usize::from(PAGE) {
            return Ok(out);
        }
    }
}

/// Every trade of ours on `id` at the venue, page by page.
async fn all_trades(rest: &RestClient, id: InstrumentId) -> Result<Vec<VenueTrade>, BinanceError> {
    let mut out: Vec<VenueTrade> = Vec::new();
    let mut from = Some(0);
    loop {
        let page = records::trades(rest, id, None, from).await?;
        let n = page.len();
        from = page.iter().map(|t| t.id + 1).max();
        out.extend(page);
        if n < usize::from(PAGE) {
            return Ok(out);
        }
    }
}

/// Compares `kernel` with the venue behind `rest` (see the module docs).
pub async fn compare_with_venue(
    rest: &RestClient,
    kernel: &Kernel,
) -> Result<Comparison, BinanceError> {
    let mut c = Comparison::default();
    let ids: Vec<InstrumentId> = kernel.instruments().keys().copied().collect();
    for id in &ids {
        let venue = all_orders(rest, *id).await?;
        c.orders += venue.len();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for v in &venue {
            *seen.entry(v.client_id.as_str()).or_default() += 1;
        }
        for (client, n) in &seen {
            if *n > 1 {
                c.differences.push(format!(
                    "{id}: client order id {client} was submitted {n} times"
                ));
            }
        }
        let local: BTreeMap<String, &veloz_oms::Order> = kernel
            .orders()
            .orders_for(*id)
            .map(|o| (o.client_order_id().as_str().to_string(), o))
            .collect();
        for v in &venue {
            let Some(o) = local.get(&v.client_id) else {
                c.differences.push(format!(
                    "{id}: venue order {} ({}) is unknown to VeloZ",
                    v.venue_id, v.client_id
                ));
                continue;
            };
            if o.venue_order_id().is_some_and(|x| x.0 != v.venue_id) {
                c.differences.push(format!(
                    "{id}: {} has venue id {:?} locally, {} at the venue",
                    v.client_id,
                    o.venue_order_id(),
                    v.venue_id
                ));
            }
            let venue_open = v.status.is_open();
            if o.is_open() != venue_open {
                c.differences.push(format!(
                    "{id}: {} is {:?} locally but {} at the venue",
                    v.client_id,
                    o.status(),
                    if venue_open { "open" } else { "closed" }
                ));
            }
            if o.filled_qty() != v.executed {
                c.differences.push(format!(
                    "{id}: {} filled {} locally, {} at the venue",
                    v.client_id,
                    o.filled_qty(),
                    v.executed
                ));
            }
        }
        let venue_clients: std::collections::HashSet<&str> =
            venue.iter().map(|v| v.client_id.as_str()).collect();
        for (client, o) in &local {
            if o.venue_order_id().is_some() && !venue_clients.contains(client.as_str()) {
                c.differences.push(format!(
                    "{id}: {client} has a venue id locally but the venue has no such order"
                ));
            }
        }
        // Fills.
        let trades = all_trades(rest, *id).await?;
        c.fills += trades.len();
        let mut local_fills: BTreeMap<u64, (Price, Quantity)> = BTreeMap::new();
        for o in local.values() {
            for f in o.fills() {
                local_fills.insert(f.trade_id.0, (f.price, f.qty));
            }
        }
        for t in &trades {
            let (tid, price, qty) = (t.id, t.fill.price, t.fill.qty);
            match local_fills.remove(&tid) {
                None => c
                    .differences
                    .push(format!("{id}: venue trade {tid} is not a fill in VeloZ")),
                Some((p, q)) => {
                    if p != price || q != qty {
                        c.differences.push(format!(
                            "{id}: trade {tid}: {q} @ {p} locally, {qty} @ {price} at the venue"
                        ));
                    }
                }
            }
        }
        for tid in local_fills.keys() {
            c.differences
                .push(format!("{id}: fill {tid} in VeloZ is not a venue trade"));
        }
    }
    // Positions and balances.
    let kinds: std::collections::BTreeSet<MarketKind> = ids.iter().map(|i| i.kind).collect();
    let now = local_now();
    for kind in kinds {
        match kind {
            MarketKind::Spot => {
                let acct: SpotAccount = rest.send_json(&spot::account(true)).await?;
                let (balances, _) = acct.to_balances(now);
                for b in balances {
                    c.balances += 1;
                    match kernel.portfolio().balance(b.asset) {
                        Some((free, locked)) if free == b.free && locked == b.locked => {}
                        other => c.differences.push(format!(
                            "spot {}: {other:?} locally, free {} locked {} at the venue",
                            b.asset, b.free, b.locked
                        )),
                    }
                }
            }
            kind => {
                let Some(api) = FuturesApi::for_kind(kind) else {
                    continue;
                };
                let risks: Vec<PositionRisk> = rest.send_json(&api.position_risk(None)).await?;
                for id in ids.iter().filter(|i| i.kind == kind) {
                    c.positions += 1;
                    let venue = risks
                        .iter()
                        .filter(|r| r.symbol == id.symbol.as_str())
                        .map(|r| r.position_amt)
                        .next()
                        .unwrap_or(Quantity::ZERO);
                    let local = kernel
                        .portfolio()
                        .position(*id)
                        .map(|p| p.qty())
                        .unwrap_or(Quantity::ZERO);
                    if local != venue {
                        c.differences.push(format!(
                            "{id}: position {local} locally, {venue} at the venue"
                        ));
                    }
                }
                let balances: Vec<FuturesBalance> = rest.send_json(&api.balance()).await?;
                for b in balances {
                    let Ok(asset) = veloz_core::Currency::new(&b.asset) else {
                        continue;
                    };
                    c.balances += 1;
                    let free = b.cross_wallet_balance.money(asset);
                    match kernel.portfolio().wallet(kind, asset) {
                        Some((f, _)) if f == free => {}
                        other => c.differences.push(format!(
                            "{kind:?} {}: {other:?} locally, cross wallet {} at the venue",
                            b.asset, free
                        )),
                    }
                }
            }
        }
    }
    Ok(c)
}
