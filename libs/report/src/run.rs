//! The report of one backtest run folder: summary table, equity, drawdown,
//! price (with buys and sells), position, exposure and PnL decomposition
//! charts, trade tables, the optional analytics statistics, and the
//! parameters and data of the run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::data::{format_time, parse_num, parse_time, read_csv, read_text, Table};
use crate::html::{escape, json_tables, kv_table, label, page, scalar_text, table};
use crate::svg::{bar_chart, Format, Line, Marker, TimeChart};
use crate::ReportError;

/// Colours of successive lines.
const COLORS: [&str; 6] = [
    "#2563eb", "#7c3aed", "#0891b2", "#ea580c", "#4d7c0f", "#be185d",
];

/// Summary keys shown first, in this order (others follow).
const SUMMARY_KEYS: [&str; 18] = [
    "strategy",
    "instruments",
    "currency",
    "start",
    "end",
    "start_equity",
    "final_equity",
    "pnl",
    "total_return",
    "max_drawdown",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "funding",
    "orders",
    "fills",
    "maker_fills",
    "events",
];

/// Exact decimal text → raw units of 1e-8 (at most 8 fraction digits).
pub(crate) fn dec_raw(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || frac.len() > 8
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || int.len() > 28
    {
        return None;
    }
    let i: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..8 {
        f *= 10;
    }
    let v = i.checked_mul(100_000_000)?.checked_add(f)?;
    Some(if neg { -v } else { v })
}

/// Raw units of 1e-8 → decimal text without trailing zeros.
pub(crate) fn raw_dec(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let (i, f) = (a / 100_000_000, a % 100_000_000);
    if f == 0 {
        format!("{sign}{i}")
    } else {
        let fs = format!("{f:08}");
        format!("{sign}{i}.{}", fs.trim_end_matches('0'))
    }
}

fn negate_text(s: &str) -> String {
    match dec_raw(s) {
        Some(v) => raw_dec(-v),
        None => s.to_string(),
    }
}

fn summary_table(summary: &Value) -> String {
    let Some(map) = summary.as_object() else {
        return String::new();
    };
    let text = |v: &Value| match v {
        Value::Array(a) => a
            .iter()
            .map(|x| scalar_text(x).unwrap_or_else(|| x.to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        other => scalar_text(other).unwrap_or_else(|| other.to_string()),
    };
    let mut rows: Vec<(String, String)> = Vec::new();
    for k in SUMMARY_KEYS {
        if let Some(v) = map.get(k) {
            rows.push((label(k), text(v)));
        }
    }
    for (k, v) in map {
        if !SUMMARY_KEYS.contains(&k.as_str()) && k != "data" && !v.is_object() {
            rows.push((label(k), text(v)));
        }
    }
    let mut out = kv_table(&rows);
    let nested: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| v.is_object()).collect();
    if !nested.is_empty() {
        out.push_str("<details><summary>counters</summary>");
        for (k, v) in nested {
            let _ = write!(out, "<h3>{}</h3>{}", escape(&label(k)), json_tables(v, 1));
        }
        out.push_str("</details>");
    }
    out
}

/// One fill, for charts and tables.
struct Fill {
    t: f64,
    instrument: String,
    buy: bool,
    price: String,
    qty: String,
    fee: String,
    fee_asset: String,
    maker: bool,
    position_after: String,
}

fn read_fills(dir: &Path) -> Result<Vec<Fill>, ReportError> {
    let path = dir.join("fills.csv");
    let t = read_csv(&path)?;
    let c = |n: &str| t.col(&path, n);
    let (ct, ci, cs, cp, cq) = (
        c("time")?,
        c("instrument")?,
        c("side")?,
        c("price")?,
        c("qty")?,
    );
    let (cf, ca, cl, cpa) = (
        c("fee")?,
        c("fee_asset")?,
        c("liquidity")?,
        c("position_after")?,
    );
    let mut out = Vec::with_capacity(t.rows.len());
    for (i, r) in t.rows.iter().enumerate() {
        let time = parse_time(&r[ct]).ok_or_else(|| ReportError::Bad {
            path: path.clone(),
            reason: format!("line {}: bad time {:?} (expected RFC 3339)", i + 2, r[ct]),
        })?;
        out.push(Fill {
            t: time,
            instrument: r[ci].clone(),
            buy: r[cs].eq_ignore_ascii_case("BUY"),
            price: r[cp].clone(),
            qty: r[cq].clone(),
            fee: r[cf].clone(),
            fee_asset: r[ca].clone(),
            maker: r[cl].eq_ignore_ascii_case("maker"),
            position_after: r[cpa].clone(),
        });
    }
    Ok(out)
}

/// `(time, value)` of column `col` of a table with a `time` column.
fn series(path: &Path, t: &Table, col: &str) -> Result<Vec<(f64, f64)>, ReportError> {
    let (ct, cv) = (t.col(path, "time")?, t.col(path, col)?);
    let mut out = Vec::with_capacity(t.rows.len());
    for (i, r) in t.rows.iter().enumerate() {
        match (parse_time(&r[ct]), parse_num(&r[cv])) {
            (Some(x), Some(y)) => out.push((x, y)),
            _ => {
                return Err(ReportError::Bad {
                    path: path.to_path_buf(),
                    reason: format!(
                        "line {}: bad time or {col} ({:?}, {:?})",
                        i + 2,
                        r[ct],
                        r[cv]
                    ),
                })
            }
        }
    }
    Ok(out)
}

fn chart_or_note(svg: Option<String>, what: &str) -> String {
    svg.unwrap_or_else(|| format!("<p class=\"empty\">{}: no data</p>", escape(what)))
}

/// PnL decomposition bars: from the analytics JSON when it has
/// `pnl.decomposition`, else from the last equity row.
fn pnl_bars(
    analytics: Option<&Value>,
    equity: &Table,
    equity_path: &Path,
) -> (Vec<(String, f64, String)>, &'static str) {
    let mut bars = Vec::new();
    if let Some(d) = analytics
        .and_then(|a| a.pointer("/pnl/decomposition"))
        .and_then(Value::as_object)
    {
        for k in ["spread_capture", "inventory", "fees", "funding", "net"] {
            if let Some(v) = d.get(k).and_then(scalar_text) {
                let text = if k == "fees" { negate_text(&v) } else { v };
                if let Some(x) = parse_num(&text) {
                    bars.push((label(k), x, text));
                }
            }
        }
        if !bars.is_empty() {
            return (bars, "from the analytics: spread capture, inventory, fees (a cost, drawn negative), funding, net");
        }
    }
    let Some(last) = equity.rows.last() else {
        return (bars, "");
    };
    let mut net: i128 = 0;
    let mut exact = true;
    for k in ["realized", "unrealized", "fees", "funding"] {
        let Ok(c) = equity.col(equity_path, k) else {
            continue;
        };
        let text = if k == "fees" {
            negate_text(&last[c])
        } else {
            last[c].clone()
        };
        match dec_raw(&text) {
            Some(v) => net += v,
            None => exact = false,
        }
        if let Some(x) = parse_num(&text) {
            bars.push((label(k), x, text));
        }
    }
    if exact && !bars.is_empty() {
        bars.push(("net".into(), net as f64 / 1e8, raw_dec(net)));
    }
    (bars, "from equity.csv at the end of the run (no analytics given): realised, unrealised, fees (a cost, drawn negative), funding, net; spread capture and inventory need the analytics")
}

/// Per instrument and side: fills, maker fills, quantity, VWAP, fees by asset (exact).
fn fills_table(fills: &[Fill]) -> String {
    #[derive(Default)]
    struct Agg {
        n: usize,
        maker: usize,
        qty: i128,
        notional: i128,
        fees: BTreeMap<String, i128>,
        exact: bool,
    }
    let mut groups: BTreeMap<(String, &'static str), Agg> = BTreeMap::new();
    for f in fills {
        let g = groups
            .entry((f.instrument.clone(), if f.buy { "BUY" } else { "SELL" }))
            .or_insert_with(|| Agg {
                exact: true,
                ..Agg::default()
            });
        g.n += 1;
        g.maker += usize::from(f.maker);
        match (dec_raw(&f.qty), dec_raw(&f.price), dec_raw(&f.fee)) {
            (Some(q), Some(p), Some(fee)) => {
                g.qty += q;
                g.notional += p * q / 100_000_000;
                *g.fees.entry(f.fee_asset.clone()).or_default() += fee;
            }
            _ => g.exact = false,
        }
    }
    let header: Vec<String> = [
        "instrument",
        "side",
        "fills",
        "maker",
        "quantity",
        "VWAP",
        "fees",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|((inst, side), g)| {
            let vwap = if g.qty != 0 && g.exact {
                // round half away from zero to 8 decimals
                let num = g.notional * 100_000_000;
                let q = num / g.qty;
                let r = num % g.qty;
                raw_dec(if 2 * r.abs() >= g.qty.abs() {
                    q + num.signum() * g.qty.signum()
                } else {
                    q
                })
            } else {
                "–".into()
            };
            let fees = g
                .fees
                .iter()
                .map(|(a, v)| format!("{} {a}", raw_dec(*v)))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                inst.clone(),
                side.to_string(),
                g.n.to_string(),
                g.maker.to_string(),
                if g.exact {
                    raw_dec(g.qty)
                } else {
                    "–".into()
                },
                vwap,
                fees,
            ]
        })
        .collect();
    table(&header, &rows)
}

fn orders_table(dir: &Path) -> Result<Option<String>, ReportError> {
    let path = dir.join("orders.csv");
    let t = match read_csv(&path) {
        Ok(t) => t,
        Err(ReportError::Missing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (cs, cty) = (t.col(&path, "status")?, t.col(&path, "type")?);
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &t.rows {
        *counts.entry((r[cty].clone(), r[cs].clone())).or_default() += 1;
    }
    let header = vec!["type".to_string(), "final status".into(), "orders".into()];
    let rows: Vec<Vec<String>> = counts
        .into_iter()
        .map(|((ty, st), n)| vec![ty, st, n.to_string()])
        .collect();
    Ok(Some(table(&header, &rows)))
}

/// Renders the report of the run folder `run_dir` as one HTML page.
///
/// Reads `summary.json`, `equity.csv` and `fills.csv` (required), and
/// `prices.csv`, `orders.csv` and `config.toml` when present. `analytics` is
/// the statistics JSON of the run (any shape; `veloz-analytics` output is
/// expected), rendered as tables; its `series` key is not shown (the charts
/// are drawn from the CSV files).
pub fn render_run(run_dir: &Path, analytics: Option<&Value>) -> Result<String, ReportError> {
    let summary_path = run_dir.join("summary.json");
    let summary: Value =
        serde_json::from_str(&read_text(&summary_path)?).map_err(|e| ReportError::Bad {
            path: summary_path.clone(),
            reason: format!(
                "not valid JSON ({e}); rerun `veloz backtest` to rewrite the run folder"
            ),
        })?;
    let equity_path = run_dir.join("equity.csv");
    let equity = read_csv(&equity_path)?;
    let mut eq = series(&equity_path, &equity, "equity")?;
    let exposure = series(&equity_path, &equity, "exposure").unwrap_or_default();
    let fills = read_fills(run_dir)?;
    let prices_path = run_dir.join("prices.csv");
    let prices = match read_csv(&prices_path) {
        Ok(t) => Some(t),
        Err(ReportError::Missing { .. }) => None,
        Err(e) => return Err(e),
    };
    let config = match read_text(&run_dir.join("config.toml")) {
        Ok(t) => Some(t),
        Err(ReportError::Missing { .. }) => None,
        Err(e) => return Err(e),
    };

    let sget = |k: &str| summary.get(k).and_then(scalar_text).unwrap_or_default();
    let strategy = sget("strategy");
    let mut instruments: Vec<String> = summary
        .get("instruments")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for f in &fills {
        if !instruments.contains(&f.instrument) {
            instruments.push(f.instrument.clone());
        }
    }

    // run span: summary start/end, widened by the data
    let mut t0 = parse_time(&sget("start")).unwrap_or(f64::INFINITY);
    let mut t1 = parse_time(&sget("end")).unwrap_or(f64::NEG_INFINITY);
    for (t, _) in eq.iter() {
        t0 = t0.min(*t);
        t1 = t1.max(*t);
    }

    // the curve starts at the start equity at the start of the run
    if let (Some(ts), Some(e0)) = (parse_time(&sget("start")), parse_num(&sget("start_equity"))) {
        if eq.first().is_none_or(|p| ts < p.0) {
            eq.insert(0, (ts, e0));
        }
    }

    let mut body = String::new();
    let title = format!("VeloZ backtest: {strategy}");
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"sub\">{} · {} → {} · {}</p>",
        escape(&title),
        escape(&instruments.join(", ")),
        escape(&sget("start")),
        escape(&sget("end")),
        escape(&run_dir.display().to_string())
    );
    body.push_str("<h2>Summary</h2>");
    body.push_str(&summary_table(&summary));

    // equity and drawdown
    body.push_str("<h2>Equity and drawdown</h2>");
    let currency = sget("currency");
    let eq_chart = TimeChart {
        id: "equity".into(),
        title: format!("Equity ({currency})"),
        lines: vec![Line {
            name: "equity".into(),
            color: COLORS[0],
            points: eq.clone(),
            step: false,
            area: false,
        }],
        markers: vec![],
        format: Format::Plain,
        height: 300.0,
    };
    body.push_str(&chart_or_note(eq_chart.render(), "equity"));
    let mut peak = f64::NEG_INFINITY;
    let dd: Vec<(f64, f64)> = eq
        .iter()
        .map(|(t, v)| {
            peak = peak.max(*v);
            (*t, if peak > 0.0 { (v - peak) / peak } else { 0.0 })
        })
        .collect();
    let dd_chart = TimeChart {
        id: "drawdown".into(),
        title: "Drawdown from the running peak".into(),
        lines: vec![Line {
            name: "drawdown".into(),
            color: "#dc2626",
            points: dd,
            step: false,
            area: true,
        }],
        markers: vec![],
        format: Format::Percent,
        height: 220.0,
    };
    body.push_str(&chart_or_note(dd_chart.render(), "drawdown"));

    // prices with fills
    body.push_str("<h2>Prices and trades</h2>");
    match &prices {
        None => body.push_str(
            "<p class=\"empty\">prices.csv is missing (a run folder from an older VeloZ): rerun the backtest for price charts</p>",
        ),
        Some(pt) => {
            let (ct, ci, cp) = (
                pt.col(&prices_path, "time")?,
                pt.col(&prices_path, "instrument")?,
                pt.col(&prices_path, "price")?,
            );
            let mut per: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
            for (i, r) in pt.rows.iter().enumerate() {
                let (Some(x), Some(y)) = (parse_time(&r[ct]), parse_num(&r[cp])) else {
                    return Err(ReportError::Bad {
                        path: prices_path.clone(),
                        reason: format!("line {}: bad time or price", i + 2),
                    });
                };
                match per.iter_mut().find(|(n, _)| *n == r[ci]) {
                    Some((_, v)) => v.push((x, y)),
                    None => per.push((r[ci].clone(), vec![(x, y)])),
                }
            }
            if per.is_empty() {
                body.push_str("<p class=\"empty\">no prices were recorded</p>");
            }
            for (k, (inst, pts)) in per.into_iter().enumerate() {
                let markers: Vec<Marker> = fills
                    .iter()
                    .filter(|f| f.instrument == inst)
                    .filter_map(|f| {
                        Some(Marker {
                            t: f.t,
                            y: parse_num(&f.price)?,
                            buy: f.buy,
                        })
                    })
                    .collect();
                let nb = fills.iter().filter(|f| f.instrument == inst && f.buy).count();
                let ns = fills.iter().filter(|f| f.instrument == inst && !f.buy).count();
                let c = TimeChart {
                    id: format!("price-{k}"),
                    title: format!("{inst}: mid price, {nb} buys ▲, {ns} sells ▼"),
                    lines: vec![Line {
                        name: "mid".into(),
                        color: "#475569",
                        points: pts,
                        step: false,
                        area: false,
                    }],
                    markers,
                    format: Format::Plain,
                    height: 320.0,
                };
                body.push_str(&chart_or_note(c.render(), &inst));
            }
        }
    }

    // positions
    body.push_str("<h2>Position</h2>");
    let mut lines = Vec::new();
    for (k, inst) in instruments.iter().enumerate() {
        let mut pts = Vec::new();
        if t0.is_finite() {
            pts.push((t0, 0.0));
        }
        for f in fills.iter().filter(|f| &f.instrument == inst) {
            if let Some(p) = parse_num(&f.position_after) {
                pts.push((f.t, p));
            }
        }
        if let Some(&(t, p)) = pts.last() {
            if t1.is_finite() && t1 > t {
                pts.push((t1, p));
            }
        }
        if pts.len() > 1 {
            lines.push(Line {
                name: inst.clone(),
                color: COLORS[k % COLORS.len()],
                points: pts,
                step: true,
                area: true,
            });
        }
    }
    let pos = TimeChart {
        id: "position".into(),
        title: "Position after each fill (base units or contracts)".into(),
        lines,
        markers: vec![],
        format: Format::Plain,
        height: 240.0,
    };
    body.push_str(&chart_or_note(pos.render(), "position"));
    if !exposure.is_empty() {
        let ex = TimeChart {
            id: "exposure".into(),
            title: format!("Gross exposure ({currency})"),
            lines: vec![Line {
                name: "exposure".into(),
                color: COLORS[3],
                points: exposure,
                step: false,
                area: true,
            }],
            markers: vec![],
            format: Format::Plain,
            height: 220.0,
        };
        body.push_str(&chart_or_note(ex.render(), "exposure"));
    }

    // pnl decomposition
    body.push_str("<h2>PnL decomposition</h2>");
    let (bars, note) = pnl_bars(analytics, &equity, &equity_path);
    body.push_str(&chart_or_note(
        bar_chart("pnl", &format!("PnL decomposition ({currency})"), &bars),
        "PnL decomposition",
    ));
    let _ = write!(body, "<p class=\"note\">{}</p>", escape(note));

    // trades
    body.push_str("<h2>Trades</h2><h3>Fills by instrument and side</h3>");
    body.push_str(&fills_table(&fills));
    if let Some(t) = orders_table(run_dir)? {
        body.push_str("<h3>Orders by final status</h3>");
        body.push_str(&t);
    }

    // statistics
    body.push_str("<h2>Statistics</h2>");
    match analytics.and_then(Value::as_object) {
        Some(map) => {
            let top: Vec<(String, String)> = map
                .iter()
                .filter_map(|(k, v)| {
                    // nanosecond timestamps (`start`, `end`) as UTC times
                    let t = match v.as_i64() {
                        Some(ns) if ns > 100_000_000_000_000_000 => {
                            let secs = ns.div_euclid(1_000_000_000);
                            let sub = ns.rem_euclid(1_000_000_000);
                            format!(
                                "{}:{:02}.{sub:09} UTC",
                                format_time(secs as f64, true, false),
                                secs.rem_euclid(60)
                            )
                        }
                        _ => scalar_text(v)?,
                    };
                    Some((label(k), t))
                })
                .collect();
            if !top.is_empty() {
                body.push_str(&kv_table(&top));
            }
            for (k, v) in map {
                if k == "series" || !(v.is_object() || v.is_array()) {
                    continue;
                }
                let _ = write!(body, "<h3 class=\"stats\">{}</h3>", escape(&label(k)));
                body.push_str(&json_tables(v, 1));
            }
        }
        None => body.push_str(
            "<p class=\"empty\">no analytics given: the summary above is from summary.json</p>",
        ),
    }

    // parameters and data
    body.push_str("<h2>Parameters and data</h2>");
    let data: Vec<String> = summary
        .get("data")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar_text).collect())
        .unwrap_or_default();
    let mut rows = vec![
        ("strategy".to_string(), strategy.clone()),
        ("instruments".to_string(), instruments.join(", ")),
        ("data".to_string(), data.join(", ")),
        ("events".to_string(), sget("events")),
        (
            "span".to_string(),
            format!("{} → {}", sget("start"), sget("end")),
        ),
    ];
    rows.push(("run folder".into(), run_dir.display().to_string()));
    body.push_str(&kv_table(&rows));
    match config {
        Some(c) => {
            let _ = write!(body, "<h3>config.toml</h3><pre>{}</pre>", escape(&c));
        }
        None => body.push_str("<p class=\"empty\">config.toml is missing</p>"),
    }
    body.push_str(
        "<p class=\"note\">Generated by veloz-report. Long series are drawn downsampled (at most 2000 points per line, the lowest and highest value of each bucket kept); tables show the exact values of the run folder.</p>",
    );
    Ok(page(&title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(dec_raw("1.5"), Some(150_000_000));
        assert_eq!(dec_raw("-0.00000001"), Some(-1));
        assert_eq!(dec_raw("12"), Some(1_200_000_000));
        assert_eq!(dec_raw("1.123456789"), None);
        assert_eq!(dec_raw("abc"), None);
        assert_eq!(dec_raw(""), None);
        assert_eq!(raw_dec(-150_000_000), "-1.5");
        assert_eq!(raw_dec(1), "0.00000001");
        assert_eq!(negate_text("4.27071328"), "-4.27071328");
        assert_eq!(negate_text("0"), "0");
    }
}
