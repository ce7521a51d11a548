//! `veloz demo`: replay a real Binance capture through local order-book sync.
//!
//! Reads a capture, keeps a local L2 book in sync exactly as Binance prescribes
//! (`veloz_exec::binance::book_sync`), prints the top of book when it changes
//! (at most once per second of exchange time), then prints the verifier's
//! summary (bridges, gaps, and the book checked against the venue's own
//! bookTicker stream wherever both are at the same update id). Then it trades
//! against the embedded venue simulator through the same adapter
//! ([`crate::venue_demo`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use std::io::Write;

use veloz_core::events::Level;
use veloz_core::{MarketKind, UnixNanos};
use veloz_exec::binance::book_sync::{BookSync, DeltaOutcome, SnapshotOutcome};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::stream::{parse_depth_snapshot, parse_frame, StreamMessage, StreamSource};
use veloz_exec::binance::verify::{verify_capture, VerifyOptions};
use veloz_market::L2Book;

/// Options of `veloz demo`.
#[derive(Debug, Default, Args)]
pub struct DemoArgs {
    /// Capture files to replay, in order (default: the real USD-M BTCUSDT capture
    /// in the shared fixtures).
    #[arg(long = "capture")]
    captures: Vec<PathBuf>,
    /// Market of the capture: spot, usdm or coinm (default: from the file name).
    #[arg(long)]
    kind: Option<String>,
    /// Print at most this many top-of-book lines (0 = no limit).
    #[arg(long, default_value_t = 40)]
    max_lines: usize,
    /// Skip the second part (trading against the embedded simulator).
    #[arg(long)]
    no_venue: bool,
    /// Skip the third part (a backtest of the market maker on the capture).
    #[arg(long)]
    no_backtest: bool,
}

fn kind_from_name(path: &std::path::Path) -> Option<MarketKind> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.starts_with("spot") {
        Some(MarketKind::Spot)
    } else if name.starts_with("usdm") || name.starts_with("um_") {
        Some(MarketKind::UsdM)
    } else if name.starts_with("cm_") || name.starts_with("coinm") {
        Some(MarketKind::CoinM)
    } else {
        None
    }
}

fn clock(t: UnixNanos) -> String {
    let ms = t.as_millis();
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

fn side_str(l: Option<Level>) -> (String, String) {
    l.map_or_else(
        || ("-".into(), "-".into()),
        |l| (l.price.to_string(), l.qty.to_string()),
    )
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let captures = if args.captures.is_empty() {
        vec![veloz_core::fixtures::fixture(
            "binance/hftbacktest/usdm_btcusdt_20240808.gz",
        )?]
    } else {
        args.captures.clone()
    };
    let mut reader = CaptureReader::open(&captures)?;
    let kind = match &args.kind {
        Some(k) => crate::parse_kind(k)?,
        None => match kind_from_name(&captures[0]) {
            Some(k) => k,
            None => bail!(
                "cannot tell the market of {:?} from its name; pass --kind spot, usdm or coinm",
                captures[0]
            ),
        },
    };
    let src = StreamSource::binance(kind);

    let mut sync: Option<(BookSync, L2Book)> = None;
    let mut pending_snapshot: Option<String> = None;
    let mut errors = 0u64;
    let mut printed = 0usize;
    let mut last_print: Option<(UnixNanos, Option<Level>, Option<Level>)> = None;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());

    writeln!(
        out,
        "VeloZ demo: local order-book sync on a real Binance {kind} capture"
    )?;
    for c in &captures {
        writeln!(out, "  capture: {}", c.display())?;
    }
    writeln!(
        out,
        "  top of book when the best prices change, at most once per second of exchange time"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<12}  {:>14} {:>12}   {:<12} {:<14}  {:>8}",
        "time (UTC)", "bid qty", "bid", "ask", "ask qty", "spread"
    )?;

    while let Some(line) = reader.next_line()? {
        let local = line.local;
        if line.is_snapshot() {
            // The snapshot's instrument is the one the depth stream is about.
            match &mut sync {
                Some((s, book)) => {
                    let snap = parse_depth_snapshot(s.instrument(), line.json, local)
                        .context("bad depth snapshot line")?;
                    if let SnapshotOutcome::GapInBuffer { gap, .. } = s.on_snapshot(book, &snap)? {
                        writeln!(out, "GAP after snapshot: {gap}")?;
                    }
                }
                None => pending_snapshot = Some(line.json.to_string()),
            }
            continue;
        }
        let d = match parse_frame(&src, line.json, local) {
            Ok(StreamMessage::Depth(d)) => d,
            Ok(_) => continue,
            Err(e) => {
                errors += 1;
                let (path, n) = reader.position();
                writeln!(out, "warning: {}:{n}: {e}", path.display())?;
                continue;
            }
        };
        let (s, book) = match &mut sync {
            Some(pair) => pair,
            None => {
                let pair = sync.insert((BookSync::new(d.instrument), L2Book::new(d.instrument)));
                // A snapshot read before the first diff belongs to this instrument.
                if let Some(json) = pending_snapshot.take() {
                    let snap = parse_depth_snapshot(d.instrument, &json, local)?;
                    pair.0.on_snapshot(&mut pair.1, &snap)?;
                }
                pair
            }
        };
        let t = d.times.exchange;
        if let DeltaOutcome::Gap(gap) = s.on_deltas(book, d)? {
            writeln!(out, "GAP: {gap}")?;
        }
        if !s.is_synced() {
            continue;
        }
        let (bid, ask) = (book.best_bid(), book.best_ask());
        let changed = last_print.is_none_or(|(pt, pb, pa)| {
            (pb.map(|l| l.price), pa.map(|l| l.price))
                != (bid.map(|l| l.price), ask.map(|l| l.price))
                && t.checked_duration_since(pt).unwrap_or(0) >= 1_000_000_000
        });
        if changed && (args.max_lines == 0 || printed < args.max_lines) {
            let (bp, bq) = side_str(bid);
            let (ap, aq) = side_str(ask);
            let spread = book.spread().map_or_else(|| "-".into(), |s| s.to_string());
            writeln!(
                out,
                "{:<12}  {bq:>14} {bp:>12} | {ap:<12} {aq:<14}  {spread:>8}",
                clock(t)
            )?;
            printed += 1;
            last_print = Some((t, bid, ask));
        }
    }

    if sync.is_none() {
        bail!("the capture has no depth updates; is it a Binance depth capture?");
    }
    writeln!(out)?;
    // The summary (counts, bridges, gaps, the bookTicker cross-check, the final
    // book) comes from the same verifier as `veloz data verify-book`.
    let options = VerifyOptions {
        kind: Some(kind),
        ..Default::default()
    };
    let report = verify_capture(&captures, &options)?;
    writeln!(out, "{report}")?;
    if !args.no_venue {
        writeln!(out)?;
        writeln!(
            out,
            "Trading against the embedded venue with VeloZ's Binance adapter"
        )?;
        out.flush()?;
        crate::venue_demo::run(&mut out)?;
    }
    if !args.no_backtest && kind == MarketKind::UsdM && captures.len() == 1 {
        writeln!(out)?;
        writeln!(
            out,
            "Backtesting the built-in market maker on the same capture (kernel + simulated venue)"
        )?;
        out.flush()?;
        let dir = PathBuf::from("runs/demo-market-maker");
        let s = crate::backtest::demo_run(&captures[0], &dir)?;
        writeln!(
            out,
            "  {} depth/trade messages, {} orders, {} fills ({} as maker), fees {} {}, PnL {} {}, max drawdown {}",
            s["events"],
            s["orders"],
            s["fills"],
            s["maker_fills"],
            s["fees"].as_str().unwrap_or("0"),
            s["currency"].as_str().unwrap_or(""),
            s["pnl"].as_str().unwrap_or("0"),
            s["currency"].as_str().unwrap_or(""),
            s["max_drawdown"].as_str().unwrap_or("n/a"),
        )?;
        writeln!(
            out,
            "  run folder: {} (open report.html in a browser)",
            dir.display()
        )?;
    }
    out.flush()?;
    Ok(if report.is_ok() && errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
