//! The live status the terminal shows: positions and PnL, open orders,
//! latency, connections, counters.

use std::collections::BTreeMap;
use std::fmt::Write;

use veloz_core::{InstrumentId, Money, Price, Quantity, UnixNanos};

use crate::metrics::LiveMetrics;

/// One position line.
#[derive(Debug, Clone)]
pub struct PositionLine {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Signed quantity.
    pub qty: Quantity,
    /// Entry price.
    pub entry: Option<Price>,
    /// Mid (or last) price.
    pub mid: Option<Price>,
    /// Realised PnL.
    pub realized: Money,
    /// Unrealised PnL at the mid, raw units of the PnL currency.
    pub unrealized_raw: Option<i128>,
    /// Fills.
    pub fills: u64,
}

/// A snapshot of the session.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// When.
    pub time: UnixNanos,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Positions.
    pub positions: Vec<PositionLine>,
    /// Open orders.
    pub open_orders: usize,
    /// Open orders by strategy.
    pub open_by_strategy: Vec<(String, usize)>,
    /// Orders placed.
    pub orders_total: usize,
    /// Fills.
    pub fills: usize,
    /// Metrics.
    pub metrics: LiveMetrics,
    /// The risk engine's trading state.
    pub trading_state: Option<String>,
    /// The latest audit line.
    pub last_audit: Option<String>,
    /// Connections (name, up).
    pub links: BTreeMap<String, bool>,
    /// Balances (asset, free, locked).
    pub balances: Vec<(String, Money, Money)>,
}

fn money(raw: i128, currency: &str) -> String {
    Money::from_raw(
        raw,
        veloz_core::Currency::new(currency).unwrap_or(veloz_core::Currency::from_const("X")),
    )
    .format_amount(4)
        + " "
        + currency
}

impl Status {
    /// The status as terminal lines.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "VeloZ live | {} | up {}s | orders {} open / {} placed | fills {} | market events {}",
            self.trading_state.as_deref().unwrap_or("no risk engine"),
            self.uptime_s,
            self.open_orders,
            self.orders_total,
            self.fills,
            self.metrics.market_events
        );
        for p in &self.positions {
            let cur = p.realized.currency();
            let _ = writeln!(
                s,
                "  {:<28} pos {:>10} entry {:>10} mid {:>10} | realised {} | unrealised {} | fills {}",
                p.instrument.to_string(),
                p.qty.to_string(),
                p.entry.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
                p.mid.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
                money(p.realized.raw(), cur.as_str()),
                p.unrealized_raw
                    .map(|u| money(u, cur.as_str()))
                    .unwrap_or_else(|| "-".into()),
                p.fills
            );
        }
        if !self.open_by_strategy.is_empty() {
            let v: Vec<String> = self
                .open_by_strategy
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            let _ = writeln!(s, "  open orders by strategy: {}", v.join(", "));
        }
        let m = &self.metrics;
        let _ = writeln!(s, "  tick-to-trade {}", m.tick_to_trade.summary_us());
        let _ = writeln!(s, "  order ack     {}", m.order_ack.summary_us());
        let _ = writeln!(
            s,
            "  reconnects {} | rejects {} | unknown outcomes {} | reconciliations {} ({} mismatches, {} fills recovered, {} external) | dead-man renewals {}",
            m.reconnects,
            m.rejects,
            m.unknown_outcomes,
            m.reconciliations,
            m.mismatches,
            m.recovered_fills,
            m.external_orders,
            m.heartbeats
        );
        if let Some(h) = m.rate_limit_headroom_per_mille {
            let _ = writeln!(
                s,
                "  rate-limit headroom {}.{}% | book resyncs {}",
                h / 10,
                h % 10,
                m.resyncs
            );
        }
        let links: Vec<String> = self
            .links
            .iter()
            .map(|(k, up)| format!("{k} {}", if *up { "up" } else { "DOWN" }))
            .collect();
        if !links.is_empty() {
            let _ = writeln!(s, "  links: {}", links.join(", "));
        }
        let _ = writeln!(
            s,
            "  commands (type + Enter): kill | flatten (kill and close positions) | reduce | resume"
        );
        if let Some(a) = &self.last_audit {
            let _ = writeln!(s, "  last audit: {a}");
        }
        s
    }
}
