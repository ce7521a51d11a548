//! `veloz`: the VeloZ command line.
//!
//! This binary owns argument parsing, files, exit codes and human-readable
//! output. Trading logic lives in the libraries.

mod backtest;
mod data_import;
mod demo;
mod instruments;
mod live;
mod sim;
mod venue_demo;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// VeloZ: a crypto quant trading framework for Binance spot, USD-M and COIN-M.
#[derive(Debug, Parser)]
#[command(name = "veloz", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Three short demonstrations: local order-book sync on a real capture,
    /// orders over the wire on the embedded simulator, and a market-maker
    /// backtest with its report.
    Demo(demo::DemoArgs),
    /// Trade live with the configured strategies (the default when no command
    /// is given: the embedded simulator with a grid and a market maker, until
    /// Ctrl-C). See docs/LIVE.md.
    Live(live::LiveArgs),
    /// Paper trading: the configured strategies on live (or simulated)
    /// market data against the simulated venue (queue position, latency,
    /// fees) with a starting balance; nothing reaches the exchange. Same
    /// configuration as `veloz live` plus a `[paper]` table (docs/LIVE.md).
    Paper(live::LiveArgs),
    /// Market data tools.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run the Binance venue simulator on 127.0.0.1 (spot, USD-M and COIN-M
    /// REST and WebSocket; see docs/SIMULATOR.md) until Ctrl-C.
    Sim(sim::SimArgs),
    /// Run a built-in strategy on historical data against the simulated venue
    /// (latency, queue position, fees, funding) and write a run folder with
    /// orders, fills, positions, the equity curve and a summary.
    Backtest(backtest::BacktestArgs),
    /// Write the analytics (analytics.json) and the self-contained HTML report
    /// (report.html) of a run folder, or the report of a sweep folder.
    Report {
        /// Run folder of `veloz backtest` (or its --out folder for a sweep).
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Import market data files (Binance WebSocket captures, bar / funding /
    /// mark-price CSVs, data.binance.vision files) into the Parquet catalog
    /// (see docs/DATA.md).
    Import(data_import::ImportArgs),
    /// Replay a recorded capture (`<ns> <json>` lines, gzip'd or not) through
    /// Binance's order-book sync procedure and report events, gaps, resyncs,
    /// bridges and the final top of book. Several files are one continuous
    /// capture, in order. Exits non-zero when the capture is broken.
    VerifyBook {
        /// Capture files, in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Market of the capture: spot, usdm or coinm (default: inferred from the
        /// first depth update).
        #[arg(long)]
        kind: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli
        .command
        .unwrap_or(Command::Live(live::LiveArgs::default()))
    {
        Command::Demo(args) => demo::run(&args),
        Command::Live(args) => live::run(&args, veloz_live::Mode::Live),
        Command::Paper(args) => live::run(&args, veloz_live::Mode::Paper),
        Command::Sim(args) => sim::run(&args),
        Command::Backtest(args) => backtest::run(&args),
        Command::Report { dir } => backtest::report_command(&dir),
        Command::Data(DataCommand::Import(args)) => {
            data_import::run(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Data(DataCommand::VerifyBook { files, kind }) => {
            verify_book(&files, kind.as_deref())
        }
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`veloz demo | head`) is the reader's choice, not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Parses a `--kind` value.
pub(crate) fn parse_kind(kind: &str) -> anyhow::Result<veloz_core::MarketKind> {
    kind.parse()
        .map_err(|e| anyhow::anyhow!("--kind {kind:?}: {e}"))
}

fn verify_book(files: &[PathBuf], kind: Option<&str>) -> anyhow::Result<ExitCode> {
    let options = veloz_exec::binance::verify::VerifyOptions {
        kind: kind.map(parse_kind).transpose()?,
        ..Default::default()
    };
    let report = veloz_exec::binance::verify::verify_capture(files, &options)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{report}")?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The error and its causes, skipping causes whose text the message already
/// includes (many library errors print their source themselves).
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}
