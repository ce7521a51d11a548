//! VeloZ reports: one self-contained HTML file per backtest run folder
//! ([`render_run`], [`write_run_report`] → `<run>/report.html`) and per
//! parameter sweep ([`render_sweep`], [`write_sweep_report`] →
//! `<sweep>/sweep.html`).
//!
//! The files open without network access: charts are inline SVG drawn here
//! (no script, no external style sheet or font), and every piece of text read
//! from the run folder is HTML-escaped. The same inputs give the same bytes.
//!
//! A run report is complete from the run folder alone (`summary.json`,
//! `equity.csv`, `fills.csv`, `prices.csv`, `orders.csv`, `config.toml`).
//! Statistics computed elsewhere (the `veloz-analytics` JSON) can be passed
//! as a [`serde_json::Value`]; its sections are rendered generically as
//! tables, and its `pnl.decomposition` feeds the PnL decomposition chart.
//! See `docs/REPORT.md`.

pub mod data;
pub mod html;
mod run;
pub mod svg;
mod sweep;

use std::path::{Path, PathBuf};

pub use run::render_run;
pub use sweep::{render_sweep, render_sweep_by, SWEEP_METRICS};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An input file does not exist.
    #[error("{}: file not found; point the report at a folder written by `veloz backtest` (a run folder, or a sweep's --out folder for a sweep report)", path.display())]
    Missing {
        /// The missing file.
        path: PathBuf,
    },
    /// An input file cannot be understood.
    #[error("{}: {reason}", path.display())]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn write_file(path: PathBuf, text: &str) -> Result<PathBuf, ReportError> {
    std::fs::write(&path, text).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Renders the run folder's report and writes it to `<run_dir>/report.html`;
/// returns that path.
pub fn write_run_report(
    run_dir: &Path,
    analytics: Option<&serde_json::Value>,
) -> Result<PathBuf, ReportError> {
    let html = render_run(run_dir, analytics)?;
    write_file(run_dir.join("report.html"), &html)
}

/// Renders a sweep's report (ranked by the metric `sweep.csv` is sorted by)
/// and writes it to `<sweep_dir>/sweep.html`; returns that path.
pub fn write_sweep_report(sweep_dir: &Path) -> Result<PathBuf, ReportError> {
    let html = render_sweep(sweep_dir)?;
    write_file(sweep_dir.join("sweep.html"), &html)
}
