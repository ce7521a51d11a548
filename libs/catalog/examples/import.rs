//! Imports files into a catalog: `cargo run -p veloz-catalog --example import -- <catalog> <file>...`.
//! (The `veloz data import` command does the same with more options; this
//! example exists so `python/check_catalog.py` can be run without the app.)

use veloz_catalog::{open_source, Catalog, SourceOptions, WriteOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: import <catalog dir> <file>...")?;
    let catalog = Catalog::open(&root)?;
    for file in args {
        let src = open_source(file.as_ref(), &SourceOptions::default())?;
        let opts = WriteOptions {
            local_clock: src.info().local_clock,
            ..WriteOptions::default()
        };
        let summary = catalog.write(src, &opts)?;
        println!("{file}: {} records", summary.records());
    }
    Ok(())
}
