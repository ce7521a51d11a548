//! `veloz backtest`: runs a built-in strategy on historical data with the
//! simulated venue and writes a run folder.
//!
//! The run folder holds `orders`, `fills`, `positions` and `equity` tables
//! (each as Parquet and CSV, exact decimals), `summary.json` and a copy of the
//! config. The config file is the strategy's TOML; an optional `[backtest]`
//! table in it sets the run (balances, latencies, queue model, fees), see
//! [`RunSettings`]. `--sweep FILE` runs a parameter grid in parallel.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde::Deserialize;
use veloz_catalog::{Catalog, ColumnType, Query, SourceOptions, TableWriter, Value, WriteOptions};
use veloz_core::{Currency, Instrument, InstrumentId, Money, Price, UnixNanos};
use veloz_runtime::backtest::{DataSource, Progress};
use veloz_runtime::{Backtest, BacktestSettings, KernelConfig, RunOutput};
use veloz_sim::backtest::{parse_duration_nanos, ConstantLatency, EmpiricalLatency, Latency};
use veloz_sim::{ConservativeQueue, ProbabilisticQueue, QueueModel};

/// Arguments of `veloz backtest`.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// Strategy name: grid, market_maker or ema_cross.
    #[arg(long)]
    pub strategy: String,
    /// Strategy config (TOML), with an optional [backtest] table.
    #[arg(long)]
    pub config: PathBuf,
    /// Market data: input files (captures, bar / funding / mark-price CSVs,
    /// data.binance.vision files; imported into the run's catalog first) or
    /// catalog folders written by `veloz data import`.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Run folder (default: runs/<strategy>-<UTC time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Parameter grid (TOML): runs every combination in parallel and ranks them.
    #[arg(long)]
    pub sweep: Option<PathBuf>,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The `[backtest]` table of a config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Starting balances, e.g. `["100000 USDT"]` (default: 100000 of the
    /// first instrument's quote or margin asset; 2 BTC for COIN-M).
    #[serde(default)]
    pub balances: Vec<String>,
    /// Leverage of futures instruments (default 10).
    #[serde(default)]
    pub leverage: Option<u32>,
    /// Order entry latency, e.g. `"5ms"` (default 5ms).
    #[serde(default)]
    pub entry_latency: Option<String>,
    /// Response latency (default 5ms).
    #[serde(default)]
    pub response_latency: Option<String>,
    /// File of recorded entry latencies (one per line); overrides `entry_latency`.
    #[serde(default)]
    pub entry_latency_file: Option<PathBuf>,
    /// File of recorded response latencies; overrides `response_latency`.
    #[serde(default)]
    pub response_latency_file: Option<PathBuf>,
    /// Feed latency for data without receive times (default 1ms).
    #[serde(default)]
    pub feed_latency: Option<String>,
    /// `"conservative"` (default) or `"probabilistic"`.
    #[serde(default)]
    pub queue: Option<String>,
    /// Power of the probabilistic queue model (default 2).
    #[serde(default)]
    pub queue_power: Option<u32>,
    /// Seed of every random draw (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Equity sampling interval (default `"60s"`).
    #[serde(default)]
    pub equity_interval: Option<String>,
    /// Maker fee rate override, e.g. `"0.0002"`.
    #[serde(default)]
    pub maker_fee: Option<String>,
    /// Taker fee rate override.
    #[serde(default)]
    pub taker_fee: Option<String>,
}

/// A config split into the strategy's part and the run settings.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Strategy TOML (without `[backtest]`).
    pub strategy_toml: String,
    /// Run settings.
    pub settings: RunSettings,
}

/// Splits a config file's text.
pub fn split_config(text: &str, path: &Path) -> anyhow::Result<RunConfig> {
    let mut table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let settings = match table.remove("backtest") {
        Some(v) => v
            .try_into::<RunSettings>()
            .with_context(|| format!("{}: [backtest] table", path.display()))?,
        None => RunSettings::default(),
    };
    Ok(RunConfig {
        strategy_toml: toml::to_string(&table)?,
        settings,
    })
}

fn duration(v: &Option<String>, default: u64, what: &str) -> anyhow::Result<u64> {
    match v {
        None => Ok(default),
        Some(s) => parse_duration_nanos(s).with_context(|| {
            format!("[backtest] {what} = {s:?}: write a whole number with a unit, e.g. \"5ms\", \"800us\", \"60s\"")
        }),
    }
}

fn latency(
    fixed: &Option<String>,
    file: &Option<PathBuf>,
    seed: u64,
    what: &str,
) -> anyhow::Result<Box<dyn Latency>> {
    if let Some(f) = file {
        return Ok(Box::new(EmpiricalLatency::from_file(f, seed)?));
    }
    Ok(Box::new(ConstantLatency(duration(fixed, 5_000_000, what)?)))
}

fn rate(v: &Option<String>, what: &str) -> anyhow::Result<Option<Price>> {
    v.as_ref()
        .map(|s| {
            Price::parse(s).with_context(|| {
                format!("[backtest] {what} = {s:?}: write a decimal rate such as \"0.0002\"")
            })
        })
        .transpose()
}

/// The instruments a config trades, with fee overrides applied.
fn instruments(strategy: &str, cfg: &RunConfig) -> anyhow::Result<Vec<Instrument>> {
    let ids = veloz_strategies::instruments_of(strategy, &cfg.strategy_toml)?;
    let maker = rate(&cfg.settings.maker_fee, "maker_fee")?;
    let taker = rate(&cfg.settings.taker_fee, "taker_fee")?;
    let mut out = Vec::new();
    for id in ids {
        let mut i = crate::instruments::resolve(id)?;
        if let Some(m) = maker {
            i.maker_fee = m;
        }
        if let Some(t) = taker {
            i.taker_fee = t;
        }
        out.push(i);
    }
    veloz_strategies::check_rules(strategy, &cfg.strategy_toml, &out)?;
    Ok(out)
}

fn balances(s: &RunSettings, instruments: &[Instrument]) -> anyhow::Result<Vec<Money>> {
    if s.balances.is_empty() {
        let first = &instruments[0];
        return Ok(vec![match first.contract {
            veloz_core::ContractKind::InversePerpetual { .. } => {
                Money::parse("2", first.margin_asset)?
            }
            veloz_core::ContractKind::Spot => Money::parse("100000", first.quote)?,
            _ => Money::parse("100000", first.margin_asset)?,
        }]);
    }
    s.balances
        .iter()
        .map(|b| {
            let mut it = b.split_whitespace();
            let (Some(amount), Some(cur), None) = (it.next(), it.next(), it.next()) else {
                bail!("[backtest] balances entry {b:?}: write an amount and an asset, e.g. \"100000 USDT\"");
            };
            let c = Currency::new(cur).with_context(|| format!("balances entry {b:?}"))?;
            Money::parse(amount, c).with_context(|| format!("balances entry {b:?}"))
        })
        .collect()
}

/// Market data for a run: catalog folders as they are; files imported into
/// `<run>/catalog` first (so funding rows are joined with mark prices).
fn data_sources(paths: &[PathBuf], run_dir: &Path) -> anyhow::Result<(Vec<PathBuf>, Option<u64>)> {
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let mut catalogs = Vec::new();
    let mut total = 0u64;
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .with_context(|| format!("--data {}: cannot read it; check the path", p.display()))?;
        if meta.is_dir() {
            catalogs.push(p.clone());
        } else {
            files.push(p.clone());
        }
    }
    if !files.is_empty() {
        let root = run_dir.join("catalog");
        if root.exists() {
            std::fs::remove_dir_all(&root)
                .with_context(|| format!("cannot clear {}", root.display()))?;
        }
        let cat = Catalog::open(&root)?;
        for f in &files {
            let src = veloz_catalog::open_source(f, &SourceOptions::default())
                .with_context(|| format!("--data {}", f.display()))?;
            let opts = WriteOptions {
                local_clock: src.info().local_clock,
                ..WriteOptions::default()
            };
            let w = cat
                .write(src, &opts)
                .with_context(|| format!("importing {}", f.display()))?;
            total += w.records();
        }
        catalogs.push(root);
    }
    // The number of records is known only when every input was imported here.
    let known = files.len() == paths.len();
    Ok((catalogs, known.then_some(total)))
}

fn open_catalogs(
    catalogs: &[PathBuf],
    instruments: &[InstrumentId],
) -> anyhow::Result<Vec<DataSource>> {
    let mut out: Vec<DataSource> = Vec::new();
    for c in catalogs {
        let cat = Catalog::open(c)?;
        let events = cat.read(&Query {
            instruments: instruments.to_vec(),
            ..Query::default()
        })?;
        out.push(Box::new(events.map(|r| r.map_err(|e| Box::new(e) as _))));
    }
    Ok(out)
}

/// Everything one run needs, already checked.
struct Prepared {
    strategy: String,
    cfg: RunConfig,
    instruments: Vec<Instrument>,
}

fn prepare(strategy: &str, cfg: RunConfig) -> anyhow::Result<Prepared> {
    if !veloz_strategies::names().contains(&strategy) {
        bail!(
            "unknown strategy {strategy:?}; choose one of: {}",
            veloz_strategies::names().join(", ")
        );
    }
    let instruments = instruments(strategy, &cfg)?;
    Ok(Prepared {
        strategy: strategy.to_string(),
        cfg,
        instruments,
    })
}

fn settings(p: &Prepared) -> anyhow::Result<BacktestSettings> {
    let s = &p.cfg.settings;
    let seed = s.seed.unwrap_or(1);
    let queue: Box<dyn QueueModel> = match s.queue.as_deref().unwrap_or("conservative") {
        "conservative" => Box::new(ConservativeQueue),
        "probabilistic" => Box::new(ProbabilisticQueue::new(s.queue_power.unwrap_or(2), seed)?),
        other => bail!("[backtest] queue = {other:?}: use \"conservative\" or \"probabilistic\""),
    };
    Ok(BacktestSettings {
        instruments: p.instruments.clone(),
        balances: balances(s, &p.instruments)?,
        leverage: Some(s.leverage.unwrap_or(10)),
        queue,
        entry_latency: latency(
            &s.entry_latency,
            &s.entry_latency_file,
            seed,
            "entry_latency",
        )?,
        response_latency: latency(
            &s.response_latency,
            &s.response_latency_file,
            seed.wrapping_add(1),
            "response_latency",
        )?,
        feed_latency: Box::new(ConstantLatency(duration(
            &s.feed_latency,
            1_000_000,
            "feed_latency",
        )?)),
        equity_interval_nanos: duration(&s.equity_interval, 60_000_000_000, "equity_interval")?,
        kernel: KernelConfig::default(),
    })
}

/// Runs one backtest and writes its folder; returns the summary.
fn run_one(
    p: &Prepared,
    catalogs: &[PathBuf],
    dir: &Path,
    show_progress: bool,
    total: Option<u64>,
) -> anyhow::Result<serde_json::Value> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ids: Vec<InstrumentId> = p.instruments.iter().map(|i| i.id).collect();
    let sources = open_catalogs(catalogs, &ids)?;
    let strategy = veloz_strategies::build(&p.strategy, &p.cfg.strategy_toml)?;
    let mut bt = Backtest::new(settings(p)?, vec![(p.strategy.clone(), strategy)], sources)?;
    bt.record_prices(1_000_000_000);
    let started = Instant::now();
    let draw = show_progress && std::io::stderr().is_terminal();
    let out = bt.run(5_000, |pr: Progress| {
        if draw {
            let bar = match total {
                Some(t) if t > 0 => {
                    let done = (pr.events.min(t) * 30 / t) as usize;
                    format!(
                        "[{}{}] {:>3}% ",
                        "#".repeat(done),
                        "-".repeat(30 - done),
                        pr.events.min(t) * 100 / t
                    )
                }
                _ => String::new(),
            };
            eprint!(
                "\r  {bar}{}  {:>10} events  {:>7} fills  {:>6.1}s ",
                fmt_time(pr.time),
                pr.events,
                pr.fills,
                started.elapsed().as_secs_f64()
            );
        }
    })?;
    if draw {
        eprintln!();
    }
    let wall = started.elapsed();
    write_tables(&bt, &out, dir)?;
    let mut log = String::new();
    for (t, sid, text) in bt.kernel().strategy_log() {
        log.push_str(&format!("{} {sid} {text}\n", fmt_time(*t)));
    }
    std::fs::write(dir.join("strategy.log"), log)?;
    let summary = summary(p, &bt, &out, catalogs, wall.as_secs_f64());
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    let mut cfg_copy = p.cfg.strategy_toml.clone();
    cfg_copy.push_str("\n# run settings\n");
    cfg_copy.push_str(&format!("# {:?}\n", p.cfg.settings));
    std::fs::write(dir.join("config.toml"), cfg_copy)?;
    report(dir)?;
    Ok(summary)
}

fn dec(raw: i128) -> String {
    let mut s = String::new();
    let _ = veloz_core::fixed::write_raw(&mut s, raw, 8);
    s
}

/// Exact `num / den` with 8 decimals, half-even.
fn ratio(num: i128, den: i128) -> Option<String> {
    let v = veloz_core::fixed::div_round_i128(
        num.checked_mul(100_000_000)?,
        den,
        veloz_core::Rounding::HalfEven,
    )?;
    Some(dec(v))
}

fn summary(
    p: &Prepared,
    bt: &Backtest,
    out: &RunOutput,
    catalogs: &[PathBuf],
    wall_secs: f64,
) -> serde_json::Value {
    let start = out.start_equity.raw();
    let end = out.equity.last().map(|e| e.equity.raw()).unwrap_or(start);
    let (mut peak, mut max_dd_num, mut max_dd_den) = (i128::MIN, 0i128, 1i128);
    for e in &out.equity {
        let v = e.equity.raw();
        peak = peak.max(v);
        let dd = peak - v;
        // compare dd/peak > max_dd_num/max_dd_den without division
        if peak > 0 && dd * max_dd_den > max_dd_num * peak {
            max_dd_num = dd;
            max_dd_den = peak;
        }
    }
    let orders = bt.kernel().orders();
    let last = out.equity.last();
    let maker = out
        .fills
        .iter()
        .filter(|f| f.fill.liquidity == veloz_core::Liquidity::Maker)
        .count();
    serde_json::json!({
        "strategy": p.strategy,
        "instruments": p.instruments.iter().map(|i| i.id.to_string()).collect::<Vec<_>>(),
        "data": catalogs.iter().map(|c| c.display().to_string()).collect::<Vec<_>>(),
        "currency": out.currency.to_string(),
        "start": fmt_time(out.span.0),
        "end": fmt_time(out.span.1),
        "start_equity": dec(start),
        "final_equity": dec(end),
        "pnl": dec(end - start),
        "total_return": if start > 0 { ratio(end - start, start) } else { None },
        "max_drawdown": ratio(max_dd_num, max_dd_den),
        "realized_pnl": last.map(|e| dec(e.realized.raw())),
        "unrealized_pnl": last.map(|e| dec(e.unrealized.raw())),
        "fees": last.map(|e| dec(e.fees.raw())),
        "funding": last.map(|e| dec(e.funding.raw())),
        "orders": orders.len(),
        "fills": out.fills.len(),
        "maker_fills": maker,
        "events": out.driver.data_events,
        "kernel": out.kernel,
        "driver": out.driver,
        "performance": {
            "wall_seconds": (wall_secs * 1000.0).round() / 1000.0,
            "events_per_second": if wall_secs > 0.0 { (out.driver.data_events as f64 / wall_secs).round() } else { 0.0 },
        },
    })
}

fn write_tables(bt: &Backtest, out: &RunOutput, dir: &Path) -> anyhow::Result<()> {
    use ColumnType::*;
    let mut fills = TableWriter::create(
        dir,
        "fills",
        &[
            ("time", Timestamp),
            ("exchange_time", Timestamp),
            ("strategy", Utf8),
            ("instrument", Utf8),
            ("client_order_id", Utf8),
            ("trade_id", I64),
            ("side", Utf8),
            ("price", Decimal),
            ("qty", Decimal),
            ("fee", Decimal),
            ("fee_asset", Utf8),
            ("liquidity", Utf8),
            ("position_after", Decimal),
        ],
    )?;
    let mut positions = TableWriter::create(
        dir,
        "positions",
        &[
            ("time", Timestamp),
            ("instrument", Utf8),
            ("position", Decimal),
        ],
    )?;
    for f in &out.fills {
        let (sid, iid, cid) = (
            f.strategy.to_string(),
            f.instrument.to_string(),
            f.client_order_id.to_string(),
        );
        let fee_asset = f.fill.fee.currency().to_string();
        fills.write_row(&[
            Value::Timestamp(f.time),
            Value::Timestamp(f.exchange_time),
            Value::Utf8(&sid),
            Value::Utf8(&iid),
            Value::Utf8(&cid),
            Value::I64(i64::try_from(f.fill.trade_id.0).unwrap_or(i64::MAX)),
            Value::Utf8(f.fill.side.as_str()),
            Value::Decimal(f.fill.price.raw().into()),
            Value::Decimal(f.fill.qty.raw().into()),
            Value::Decimal(f.fill.fee.raw()),
            Value::Utf8(&fee_asset),
            Value::Utf8(match f.fill.liquidity {
                veloz_core::Liquidity::Maker => "maker",
                veloz_core::Liquidity::Taker => "taker",
            }),
            Value::Decimal(f.position_after.raw().into()),
        ])?;
        positions.write_row(&[
            Value::Timestamp(f.time),
            Value::Utf8(&iid),
            Value::Decimal(f.position_after.raw().into()),
        ])?;
    }
    fills.finish()?;
    positions.finish()?;

    let mut prices = TableWriter::create(
        dir,
        "prices",
        &[
            ("time", Timestamp),
            ("instrument", Utf8),
            ("price", Decimal),
        ],
    )?;
    for p in &out.prices {
        let iid = p.instrument.to_string();
        prices.write_row(&[
            Value::Timestamp(p.time),
            Value::Utf8(&iid),
            Value::Decimal(p.price.raw().into()),
        ])?;
    }
    prices.finish()?;

    let mut eq = TableWriter::create(
        dir,
        "equity",
        &[
            ("time", Timestamp),
            ("equity", Decimal),
            ("realized", Decimal),
            ("unrealized", Decimal),
            ("fees", Decimal),
            ("funding", Decimal),
            ("exposure", Decimal),
        ],
    )?;
    for e in &out.equity {
        eq.write_row(&[
            Value::Timestamp(e.time),
            Value::Decimal(e.equity.raw()),
            Value::Decimal(e.realized.raw()),
            Value::Decimal(e.unrealized.raw()),
            Value::Decimal(e.fees.raw()),
            Value::Decimal(e.funding.raw()),
            Value::Decimal(e.exposure.raw()),
        ])?;
    }
    eq.finish()?;

    let mut orders = TableWriter::create(
        dir,
        "orders",
        &[
            ("client_order_id", Utf8),
            ("strategy", Utf8),
            ("instrument", Utf8),
            ("side", Utf8),
            ("type", Utf8),
            ("time_in_force", Utf8),
            ("quantity", Decimal),
            ("price", Decimal),
            ("status", Utf8),
            ("filled_qty", Decimal),
            ("avg_price", Decimal),
            ("created", Timestamp),
        ],
    )?;
    for o in bt.kernel().orders().iter() {
        let (cid, sid, iid) = (
            o.client_order_id().to_string(),
            o.strategy().to_string(),
            o.instrument().to_string(),
        );
        let (ty, tif, st) = (
            format!("{:?}", o.order_type()),
            format!("{:?}", o.time_in_force()),
            format!("{:?}", o.status()),
        );
        orders.write_row(&[
            Value::Utf8(&cid),
            Value::Utf8(&sid),
            Value::Utf8(&iid),
            Value::Utf8(o.side().as_str()),
            Value::Utf8(&ty),
            Value::Utf8(&tif),
            Value::Decimal(o.quantity().raw().into()),
            o.price()
                .map(|p| Value::Decimal(p.raw().into()))
                .unwrap_or(Value::Null),
            Value::Utf8(&st),
            Value::Decimal(o.filled_qty().raw().into()),
            o.avg_px()
                .map(|p| Value::Decimal(p.raw().into()))
                .unwrap_or(Value::Null),
            Value::Timestamp(o.request().ts_init),
        ])?;
    }
    orders.finish()?;
    Ok(())
}

/// Analytics (`analytics.json`) and the HTML report (`report.html`) of a
/// finished run folder; returns the report's path.
pub fn report(dir: &Path) -> anyhow::Result<PathBuf> {
    let analysis = veloz_analytics::analyze(dir, &veloz_analytics::AnalysisOptions::default())
        .with_context(|| format!("analytics of {}", dir.display()))?;
    let value = serde_json::to_value(&analysis)?;
    std::fs::write(
        dir.join("analytics.json"),
        serde_json::to_string_pretty(&value)? + "\n",
    )?;
    Ok(veloz_report::write_run_report(dir, Some(&value))?)
}

/// `veloz report DIR`: a run folder's analytics and report, or a sweep
/// folder's report (when it has `sweep.csv`).
pub fn report_command(dir: &Path) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        bail!(
            "{} is not a folder; pass a run folder written by `veloz backtest`",
            dir.display()
        );
    }
    let path = if dir.join("sweep.csv").exists() {
        veloz_report::write_sweep_report(dir)?
    } else {
        report(dir)?
    };
    println!("report: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `2025-05-04 15:33:00` (UTC) from nanoseconds.
pub fn fmt_time(t: UnixNanos) -> String {
    let secs = t.0 / 1_000_000_000;
    let (y, m, d) = veloz_core::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn default_out(strategy: &str) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let stamp = fmt_time(UnixNanos(now))
        .replace([' ', ':'], "")
        .replace('-', "");
    PathBuf::from("runs").join(format!("{strategy}-{stamp}"))
}

/// `veloz backtest`.
pub fn run(args: &BacktestArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("--config {}: cannot read it", args.config.display()))?;
    let cfg = split_config(&text, &args.config)?;
    let prepared = prepare(&args.strategy, cfg)?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.strategy));
    let (catalogs, total) = data_sources(&args.data, &out_dir)?;
    let ids: Vec<InstrumentId> = prepared.instruments.iter().map(|i| i.id).collect();
    if let Some(sweep) = &args.sweep {
        return run_sweep(&prepared, &catalogs, &out_dir, sweep);
    }
    eprintln!(
        "backtest {} on {} -> {}",
        prepared.strategy,
        ids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        out_dir.display()
    );
    let s = run_one(&prepared, &catalogs, &out_dir, !args.quiet, total)?;
    if s["events"].as_u64() == Some(0) {
        bail!(
            "the data has no events for {}; check that --data holds this instrument's market data",
            ids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "{} {}..{}: {} events, {} orders, {} fills, equity {} -> {} {} (return {}, max drawdown {}), fees {}\nrun folder: {}",
        prepared.strategy,
        s["start"].as_str().unwrap_or("?"),
        s["end"].as_str().unwrap_or("?"),
        s["events"],
        s["orders"],
        s["fills"],
        s["start_equity"].as_str().unwrap_or("?"),
        s["final_equity"].as_str().unwrap_or("?"),
        s["currency"].as_str().unwrap_or(""),
        s["total_return"].as_str().unwrap_or("n/a"),
        s["max_drawdown"].as_str().unwrap_or("n/a"),
        s["fees"].as_str().unwrap_or("0"),
        out_dir.display()
    );
    println!("report: {}", out_dir.join("report.html").display());
    Ok(ExitCode::SUCCESS)
}

/// The demo's backtest: the built-in market maker (its example config) on a
/// USD-M BTCUSDT capture, written to `out_dir`; returns the summary.
pub fn demo_run(capture: &Path, out_dir: &Path) -> anyhow::Result<serde_json::Value> {
    const CONFIG: &str =
        include_str!("../../../libs/strategies/examples/configs/mm_usdm_btcusdt.toml");
    let cfg = split_config(CONFIG, Path::new("mm_usdm_btcusdt.toml"))?;
    let prepared = prepare("market_maker", cfg)?;
    let (catalogs, _) = data_sources(&[capture.to_path_buf()], out_dir)?;
    run_one(&prepared, &catalogs, out_dir, false, None)
}

/// A sweep file: the parameters to vary and the metric to rank by.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    /// Metric of summary.json to rank by (default `total_return`).
    #[serde(default)]
    rank_by: Option<String>,
    /// Rank ascending instead of descending (e.g. for `max_drawdown`).
    #[serde(default)]
    ascending: bool,
    /// Parameter name → values.
    params: toml::Table,
}

const RANKABLE: &[&str] = &[
    "total_return",
    "pnl",
    "final_equity",
    "max_drawdown",
    "fills",
    "orders",
    "fees",
    "realized_pnl",
];

fn metric(v: &serde_json::Value) -> Option<i128> {
    match v {
        serde_json::Value::String(s) => veloz_core::fixed::parse_raw(s).ok().map(|(r, _)| r),
        serde_json::Value::Number(n) => n.as_i64().map(|x| i128::from(x) * 100_000_000),
        _ => None,
    }
}

fn run_sweep(
    base: &Prepared,
    catalogs: &[PathBuf],
    out_dir: &Path,
    sweep_path: &Path,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(sweep_path)
        .with_context(|| format!("--sweep {}: cannot read it", sweep_path.display()))?;
    let sweep: SweepFile = toml::from_str(&text).with_context(|| {
        format!(
            "--sweep {}: expected rank_by = \"...\" and a [params] table of arrays",
            sweep_path.display()
        )
    })?;
    let rank_by = sweep
        .rank_by
        .clone()
        .unwrap_or_else(|| "total_return".into());
    if !RANKABLE.contains(&rank_by.as_str()) {
        bail!(
            "--sweep: rank_by = {rank_by:?} is not a metric; use one of {}",
            RANKABLE.join(", ")
        );
    }
    // Every combination, in a fixed order (parameters sorted by name).
    let mut combos: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (name, vals) in &sweep.params {
        let toml::Value::Array(vals) = vals else {
            bail!("--sweep: params.{name} must be an array of values, e.g. {name} = [5, 10]");
        };
        if vals.is_empty() {
            bail!("--sweep: params.{name} is empty");
        }
        let mut next = Vec::new();
        for c in &combos {
            for v in vals {
                let mut c2 = c.clone();
                c2.push((name.clone(), v.clone()));
                next.push(c2);
            }
        }
        combos = next;
    }
    let base_table: toml::Table = base.cfg.strategy_toml.parse()?;
    let mut runs = Vec::new();
    for (i, combo) in combos.iter().enumerate() {
        let mut t = base_table.clone();
        for (k, v) in combo {
            t.insert(k.clone(), v.clone());
        }
        let cfg = RunConfig {
            strategy_toml: toml::to_string(&t)?,
            settings: base.cfg.settings.clone(),
        };
        let p = prepare(&base.strategy, cfg)
            .with_context(|| format!("sweep run {i} ({})", describe(combo)))?;
        runs.push((i, combo.clone(), p));
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(runs.len());
    eprintln!(
        "sweep: {} runs of {} on {} threads -> {}",
        runs.len(),
        base.strategy,
        workers,
        out_dir.display()
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, anyhow::Result<serde_json::Value>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((i, _, p)) = runs.get(k) else {
                    break;
                };
                let dir = out_dir.join("runs").join(format!("{i:04}"));
                let r = run_one(p, catalogs, &dir, false, None);
                if let Ok(mut v) = results.lock() {
                    v.push((*i, r));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a sweep worker panicked"))?;
    results.sort_by_key(|r| r.0);
    let mut rows = Vec::new();
    for (i, r) in results {
        let s = r.with_context(|| format!("sweep run {i} ({})", describe(&runs[i].1)))?;
        rows.push((i, s));
    }
    rows.sort_by(|a, b| {
        let (x, y) = (
            metric(&a.1[rank_by.as_str()]),
            metric(&b.1[rank_by.as_str()]),
        );
        let o = x.cmp(&y);
        let o = if sweep.ascending { o } else { o.reverse() };
        o.then(a.0.cmp(&b.0))
    });
    let names: Vec<&String> = sweep.params.keys().collect();
    let mut csv = String::from("rank,run");
    for n in &names {
        csv.push(',');
        csv.push_str(n);
    }
    for m in RANKABLE {
        csv.push(',');
        csv.push_str(m);
    }
    csv.push('\n');
    println!(
        "rank  run   {}  {rank_by}",
        names
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("  ")
    );
    for (rank, (i, s)) in rows.iter().enumerate() {
        let combo = &runs[*i].1;
        csv.push_str(&format!("{},{i:04}", rank + 1));
        for (_, v) in combo {
            csv.push(',');
            csv.push_str(&v.to_string().replace(',', ";"));
        }
        for m in RANKABLE {
            csv.push(',');
            match &s[*m] {
                serde_json::Value::String(x) => csv.push_str(x),
                serde_json::Value::Null => {}
                other => csv.push_str(&other.to_string()),
            }
        }
        csv.push('\n');
        println!(
            "{:>4}  {i:04}  {}  {}",
            rank + 1,
            describe(combo),
            match &s[rank_by.as_str()] {
                serde_json::Value::String(x) => x.clone(),
                other => other.to_string(),
            }
        );
    }
    std::fs::write(out_dir.join("sweep.csv"), csv)?;
    println!("sweep table: {}", out_dir.join("sweep.csv").display());
    let html = veloz_report::write_sweep_report(out_dir)?;
    println!("sweep report: {}", html.display());
    Ok(ExitCode::SUCCESS)
}

fn describe(combo: &[(String, toml::Value)]) -> String {
    combo
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_utc() {
        assert_eq!(
            fmt_time(UnixNanos::from_millis(1_746_372_780_000)),
            "2025-05-04 15:33:00"
        );
        assert_eq!(fmt_time(UnixNanos::ZERO), "1970-01-01 00:00:00");
        assert_eq!(
            fmt_time(UnixNanos::from_secs(951_782_400)),
            "2000-02-29 00:00:00"
        );
    }

    #[test]
    fn config_split_keeps_strategy_fields_and_reads_run_settings() {
        let c = split_config(
            "instrument = \"BINANCE.USDM.BTCUSDT\"\nfast = 3\n[backtest]\nbalances = [\"5 BTC\"]\nentry_latency = \"2ms\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert!(c.strategy_toml.contains("fast = 3"));
        assert!(!c.strategy_toml.contains("backtest"));
        assert_eq!(c.settings.balances, vec!["5 BTC".to_string()]);
        let e = split_config("[backtest]\nlatency = 1\n", Path::new("x.toml")).unwrap_err();
        assert!(format!("{e:#}").contains("latency"), "{e:#}");
    }

    #[test]
    fn exact_ratios() {
        assert_eq!(ratio(1, 3).unwrap(), "0.33333333");
        assert_eq!(ratio(-5, 100).unwrap(), "-0.05000000");
    }
}
