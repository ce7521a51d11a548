//! `veloz data import`: imports market data files into the Parquet catalog.
//!
//! Inputs are files or folders (walked recursively, in name order; hidden files,
//! `.CHECKSUM` files and anything that is not `.gz`, `.zip` or `.csv` are
//! skipped). Each file becomes its own set of part files in the catalog (see
//! `docs/DATA.md`). The command prints what each file held (rows per table,
//! time range) and fails on the first bad file with a message naming the file
//! and line; the parts of a failed file are removed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use veloz_catalog::{format_time, Catalog, SourceOptions, WriteOptions};
use veloz_core::{InstrumentId, MarketKind};

/// Arguments of `veloz data import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Input files or folders: Binance captures (`<ns> <json>` lines, .gz),
    /// bar/mark-price/funding CSVs (.csv, .csv.gz), data.binance.vision files
    /// (.zip, .csv).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Catalog folder.
    #[arg(long, default_value = "data/catalog")]
    pub catalog: PathBuf,
    /// Instrument of every row, e.g. `BINANCE.USDM.BTCUSDT` (default: from the
    /// file name or content).
    #[arg(long)]
    pub instrument: Option<String>,
    /// Market of data.binance.vision files whose path does not say: spot, usdm
    /// or coinm.
    #[arg(long)]
    pub market: Option<String>,
    /// Bar length for bar files whose name does not say, e.g. `1m`, `15m`, `1h`.
    #[arg(long)]
    pub interval: Option<String>,
    /// Largest Parquet row group, in rows.
    #[arg(long, default_value_t = 65_536)]
    pub row_group_rows: usize,
}

fn interval_secs(s: &str) -> Option<u32> {
    let at = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u32 = s[..at].parse().ok()?;
    let unit = match &s[at..] {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(unit).filter(|&v| v > 0)
}

fn wanted(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    !name.starts_with('.')
        && (name.ends_with(".gz") || name.ends_with(".zip") || name.ends_with(".csv"))
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", path.display()))?;
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect(&e, out)?;
        } else if wanted(&e) {
            out.push(e);
        }
    }
    Ok(())
}

/// Runs `veloz data import`.
pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let instrument = args
        .instrument
        .as_deref()
        .map(|s| s.parse::<InstrumentId>())
        .transpose()
        .context("--instrument must look like BINANCE.USDM.BTCUSDT")?;
    let market = args
        .market
        .as_deref()
        .map(|s| s.parse::<MarketKind>())
        .transpose()
        .context("--market must be spot, usdm or coinm")?;
    let interval_secs = match args.interval.as_deref() {
        None => None,
        Some(s) => match interval_secs(s) {
            Some(v) => Some(v),
            None => bail!("--interval {s:?}: expected a length like 1m, 15m, 1h, 8h or 1d"),
        },
    };
    if args.row_group_rows == 0 {
        bail!("--row-group-rows must be at least 1");
    }
    let mut files = Vec::new();
    for input in &args.inputs {
        collect(input, &mut files)?;
    }
    if files.is_empty() {
        bail!("no .gz, .zip or .csv files found in the inputs");
    }
    let catalog = Catalog::open(&args.catalog)
        .with_context(|| format!("cannot open the catalog {}", args.catalog.display()))?;
    let opts = SourceOptions {
        instrument,
        market,
        interval_secs,
    };
    let mut total = 0;
    for file in &files {
        let write = WriteOptions {
            row_group_rows: args.row_group_rows,
            ..WriteOptions::default()
        };
        let (info, summary) = catalog.import(file, &opts, &write).with_context(|| {
            format!(
                "importing {} failed; nothing of it was kept",
                file.display()
            )
        })?;
        println!(
            "{}: {} ({}; ts_local = {} time)",
            file.display(),
            info.layout.name(),
            info.instrument,
            info.local_clock.as_str()
        );
        if summary.tables.is_empty() {
            println!("  no rows");
        }
        for t in &summary.tables {
            let range = match (t.first, t.last) {
                (Some(a), Some(b)) => format!("{} .. {}", format_time(a), format_time(b)),
                _ => "-".into(),
            };
            println!(
                "  {:<12} {:<28} {:>10} records {:>10} rows  {range}",
                t.table.name(),
                t.instrument.to_string(),
                t.records,
                t.rows
            );
        }
        total += summary.records();
    }
    println!(
        "imported {total} records from {} file(s) into {}",
        files.len(),
        args.catalog.display()
    );
    Ok(())
}
