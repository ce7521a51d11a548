//! Imports files into a catalog, then reads the whole catalog back, printing
//! rates: `cargo run --release -p veloz-catalog --example import -- <catalog> <file>...`.
//! (`veloz data import` does the import with more options; this example exists
//! so `python/check_catalog.py` can be run without the app, and to measure.)

use std::time::Instant;

use veloz_catalog::{Catalog, Query, SourceOptions, WriteOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: import <catalog dir> <file>...")?;
    let catalog = Catalog::open(&root)?;
    for file in args {
        let t = Instant::now();
        let (info, summary) = catalog.import(
            file.as_ref(),
            &SourceOptions::default(),
            &WriteOptions::default(),
        )?;
        let secs = t.elapsed().as_secs_f64();
        let rows: u64 = summary.tables.iter().map(|t| t.rows).sum();
        println!(
            "{file}: {} records, {rows} rows ({}) in {secs:.2} s: {:.0} records/s",
            summary.records(),
            info.layout.name(),
            summary.records() as f64 / secs
        );
    }
    let t = Instant::now();
    let mut n = 0u64;
    for e in catalog.read(&Query::default())? {
        e?;
        n += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "read back {n} events in {secs:.2} s: {:.0} events/s",
        n as f64 / secs
    );
    Ok(())
}
