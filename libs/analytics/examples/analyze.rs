//! Prints the analysis of a backtest run folder as JSON (what `analytics.json`
//! holds).
//!
//! ```sh
//! cargo run -q -p veloz-analytics --example analyze -- RUN_DIR [FREQUENCY_SECS] [RISK_FREE_RATE]
//! ```
//!
//! `FREQUENCY_SECS` 0 means every equity sample; without it the frequency is
//! chosen from the run's length (see docs/ANALYTICS.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use veloz_analytics::{analyze, AnalysisOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: analyze RUN_DIR [FREQUENCY_SECS] [RISK_FREE_RATE]");
        return ExitCode::from(2);
    };
    let mut opts = AnalysisOptions::default();
    if let Some(f) = args.get(1) {
        match f.parse::<u64>() {
            Ok(secs) => opts.frequency = Some(Duration::from_secs(secs)),
            Err(_) => {
                eprintln!("error: FREQUENCY_SECS must be a whole number of seconds, got `{f}`");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(r) = args.get(2) {
        match r.parse::<f64>() {
            Ok(v) if v.is_finite() && v > -1.0 => opts.risk_free_rate_annual = v,
            _ => {
                eprintln!("error: RISK_FREE_RATE must be a number above -1, got `{r}`");
                return ExitCode::from(2);
            }
        }
    }
    match analyze(&PathBuf::from(dir), &opts) {
        Ok(a) => match serde_json::to_string_pretty(&a) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
