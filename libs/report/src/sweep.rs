//! The report of a parameter sweep (`veloz backtest --sweep`): the ranked
//! table of `sweep.csv` and, for each pair of swept parameters, a heatmap of
//! the ranking metric (with more than two parameters, each cell shows the best
//! value over the other parameters); with one parameter, a bar chart.

use std::fmt::Write as _;
use std::path::Path;

use crate::data::{parse_num, read_csv, Table};
use crate::html::{escape, page};
use crate::svg::{bar_chart, Heatmap};
use crate::ReportError;

/// The metric columns of `sweep.csv`, in file order.
pub const SWEEP_METRICS: [&str; 8] = [
    "total_return",
    "pnl",
    "final_equity",
    "max_drawdown",
    "fills",
    "orders",
    "fees",
    "realized_pnl",
];

/// Whether the values of column `c` in rank order never increase (`Some(false)`)
/// or never decrease (`Some(true)`); `None` if neither or unreadable. A
/// constant column counts as never increasing.
fn monotone(t: &Table, c: usize) -> Option<bool> {
    let vals: Option<Vec<f64>> = t.rows.iter().map(|r| parse_num(&r[c])).collect();
    let vals = vals?;
    if vals.windows(2).all(|w| w[0] >= w[1]) {
        Some(false)
    } else if vals.windows(2).all(|w| w[0] <= w[1]) {
        Some(true)
    } else {
        None
    }
}

/// Renders `<sweep_dir>/sweep.csv` as a page. The metric shown is the one the
/// table is ranked by: the first metric column (in `sweep.csv` order) whose
/// values are sorted in rank order and not all equal, else `total_return`.
pub fn render_sweep(sweep_dir: &Path) -> Result<String, ReportError> {
    let path = sweep_dir.join("sweep.csv");
    let t = read_csv(&path)?;
    let mut chosen = None;
    for m in SWEEP_METRICS {
        if let Some(c) = t.header.iter().position(|h| h == m) {
            let varies = t.rows.iter().any(|r| r[c] != t.rows[0][c]);
            if varies && monotone(&t, c).is_some() {
                chosen = Some(m);
                break;
            }
        }
    }
    render(sweep_dir, &path, &t, chosen.unwrap_or("total_return"))
}

/// Renders `<sweep_dir>/sweep.csv` with the heatmaps of `metric` (one of
/// [`SWEEP_METRICS`]). Lower is better when the column ascends in rank order,
/// or, when it is not sorted, for `max_drawdown` and `fees`.
pub fn render_sweep_by(sweep_dir: &Path, metric: &str) -> Result<String, ReportError> {
    let path = sweep_dir.join("sweep.csv");
    let t = read_csv(&path)?;
    render(sweep_dir, &path, &t, metric)
}

fn sort_labels(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    if v.iter().all(|s| parse_num(s).is_some()) {
        v.sort_by(|a, b| {
            let (x, y) = (parse_num(a).unwrap_or(0.0), parse_num(b).unwrap_or(0.0));
            x.total_cmp(&y)
        });
    }
    v
}

fn render(dir: &Path, path: &Path, t: &Table, metric: &str) -> Result<String, ReportError> {
    let mc = t.col(path, metric)?;
    let run_c = t.col(path, "run")?;
    let first_metric = t
        .header
        .iter()
        .position(|h| SWEEP_METRICS.contains(&h.as_str()))
        .unwrap_or(t.header.len());
    let params: Vec<usize> = (run_c + 1..first_metric).collect();
    let ascending = match monotone(t, mc) {
        Some(asc) if t.rows.iter().any(|r| r[mc] != t.rows[0][mc]) => asc,
        _ => matches!(metric, "max_drawdown" | "fees"),
    };
    let better = |a: f64, b: f64| if ascending { a < b } else { a > b };

    let mut body = String::new();
    let title = format!("VeloZ sweep: {} runs ranked by {metric}", t.rows.len());
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"sub\">{} · {} is better · {}</p>",
        escape(&title),
        escape(&dir.display().to_string()),
        if ascending { "lower" } else { "higher" },
        escape(
            &params
                .iter()
                .map(|&c| t.header[c].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    );

    body.push_str("<h2>Heatmaps</h2>");
    let mut charts = 0;
    let best_text = |rows: Vec<&Vec<String>>| -> Option<(f64, String)> {
        let mut best: Option<(f64, String)> = None;
        for r in rows {
            if let Some(v) = parse_num(&r[mc]) {
                if best.as_ref().is_none_or(|b| better(v, b.0)) {
                    best = Some((v, r[mc].clone()));
                }
            }
        }
        best
    };
    if params.len() == 1 {
        let pc = params[0];
        let labels = sort_labels(t.rows.iter().map(|r| r[pc].clone()).collect());
        let bars: Vec<(String, f64, String)> = labels
            .iter()
            .filter_map(|l| {
                let (v, text) = best_text(t.rows.iter().filter(|r| &r[pc] == l).collect())?;
                Some((format!("{}={l}", t.header[pc]), v, text))
            })
            .collect();
        if let Some(svg) = bar_chart("sweep-0", &format!("{metric} by {}", t.header[pc]), &bars) {
            body.push_str(&svg);
            charts += 1;
        }
    }
    for (i, &a) in params.iter().enumerate() {
        for &b in &params[i + 1..] {
            let xl = sort_labels(t.rows.iter().map(|r| r[a].clone()).collect());
            let yl = sort_labels(t.rows.iter().map(|r| r[b].clone()).collect());
            let cells = yl
                .iter()
                .map(|y| {
                    xl.iter()
                        .map(|x| {
                            best_text(t.rows.iter().filter(|r| &r[a] == x && &r[b] == y).collect())
                        })
                        .collect()
                })
                .collect();
            let others = params.len() > 2;
            let h = Heatmap {
                id: format!("sweep-{charts}"),
                title: format!(
                    "{metric} over {} × {}{}",
                    t.header[a],
                    t.header[b],
                    if others {
                        " (best over the other parameters)"
                    } else {
                        ""
                    }
                ),
                x_name: t.header[a].clone(),
                y_name: t.header[b].clone(),
                x_labels: xl,
                y_labels: yl,
                cells,
            };
            if let Some(svg) = h.render() {
                body.push_str(&svg);
                charts += 1;
            }
        }
    }
    if charts == 0 {
        body.push_str("<p class=\"empty\">no parameter varies: nothing to chart</p>");
    }

    body.push_str("<h2>Runs</h2><table><tr>");
    for h in &t.header {
        let _ = write!(body, "<th>{}</th>", escape(h));
    }
    body.push_str("</tr>");
    for (i, r) in t.rows.iter().enumerate() {
        let _ = write!(
            body,
            "<tr{}>",
            if i == 0 {
                " class=\"best\" style=\"background:#ecfdf5\""
            } else {
                ""
            }
        );
        for (c, v) in r.iter().enumerate() {
            let report = dir.join("runs").join(v).join("report.html");
            if c == run_c && !v.contains(['/', '\\', '.']) && report.is_file() {
                let _ = write!(
                    body,
                    "<td><a href=\"runs/{}/report.html\">{}</a></td>",
                    escape(v),
                    escape(v)
                );
            } else if parse_num(v).is_some() {
                let _ = write!(body, "<td class=\"n\">{}</td>", escape(v));
            } else {
                let _ = write!(body, "<td>{}</td>", escape(v));
            }
        }
        body.push_str("</tr>");
    }
    body.push_str("</table><p class=\"note\">Generated by veloz-report from sweep.csv; each run's folder is runs/NNNN/.</p>");
    Ok(page(&title, &body))
}
