//! Writes the report of a run folder (`<RUN_DIR>/report.html`) or, for a
//! folder holding `sweep.csv`, the sweep report (`<DIR>/sweep.html`).
//!
//! ```sh
//! cargo run -p veloz-report --example render -- RUN_DIR [ANALYTICS.json]
//! ```

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: render RUN_DIR|SWEEP_DIR [ANALYTICS.json]");
        return ExitCode::from(2);
    };
    let dir = Path::new(dir);
    let result = if dir.join("sweep.csv").is_file() {
        veloz_report::write_sweep_report(dir)
    } else {
        let analytics = match args.get(1) {
            Some(p) => match std::fs::read_to_string(p)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            {
                Ok(v) => Some(v),
                Err(e) => {
                    eprintln!("error: {p}: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        veloz_report::write_run_report(dir, analytics.as_ref())
    };
    match result {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
