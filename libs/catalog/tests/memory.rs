//! Bounded memory: importing and reading 4× more rows must not take more memory.
//!
//! A counting global allocator (`peak_alloc`, a tiny dependency-free crate: the
//! workspace forbids `unsafe_code`, which a hand-written `GlobalAlloc` needs and
//! an `#![allow]` cannot lift) tracks the live heap and its peak. The test first
//! checks that the meter does see memory that grows with the data (collecting
//! the rows into a `Vec`), then that importing and reading do not. It is the
//! only test in this binary, so no other test thread disturbs the measurement.

use std::io::Write;
use std::path::{Path, PathBuf};

use peak_alloc::PeakAlloc;
use veloz_catalog::{open_source, Catalog, Query, SourceOptions, WriteOptions};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// Peak live heap growth (bytes) while `f` runs.
fn peak_growth(f: impl FnOnce()) -> usize {
    HEAP.reset_peak_usage();
    let before = HEAP.current_usage();
    f();
    HEAP.peak_usage().saturating_sub(before)
}

/// A synthetic 1m bar CSV of `rows` rows in the USD-M fixture layout.
fn synthetic_bars(dir: &Path, rows: u64) -> PathBuf {
    let path = dir.join(format!("usdm_testusdt_1m_{rows}.csv"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(w, "open_time,open,high,low,close,volume").unwrap();
    let t0 = 1_700_000_000_000u64;
    for i in 0..rows {
        let base = 30_000 + (i * 7919) % 5_000;
        writeln!(
            w,
            "{},{base}.{:02},{}.5,{}.25,{base}.75,{}.{:03}",
            t0 + i * 60_000,
            i % 100,
            base + 3,
            base - 2,
            1 + i % 97,
            i % 1000
        )
        .unwrap();
    }
    w.flush().unwrap();
    path
}

fn import(dir: &Path, csv: &Path) -> u64 {
    let cat = Catalog::open(dir).unwrap();
    let opts = WriteOptions {
        row_group_rows: 8_192,
        batch_rows: 2_048,
        ..WriteOptions::default()
    };
    cat.write(open_source(csv, &SourceOptions::default()).unwrap(), &opts)
        .unwrap()
        .records()
}

fn read(dir: &Path) -> u64 {
    let cat = Catalog::open(dir).unwrap();
    let mut n = 0;
    for e in cat.read(&Query::default()).unwrap() {
        e.unwrap();
        n += 1;
    }
    n
}

#[test]
fn import_and_read_memory_does_not_grow_with_the_data() {
    const N: u64 = 60_000;
    let root = std::env::temp_dir().join(format!("veloz-catalog-mem-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let small = synthetic_bars(&root, N);
    let large = synthetic_bars(&root, 4 * N);
    let (cat_small, cat_large) = (root.join("cat-small"), root.join("cat-large"));

    // Warm up (first-use allocations: thread pools, buffers, page cache).
    let warm = root.join("cat-warm");
    import(&warm, &small);
    read(&warm);

    // The meter sees memory that does grow with the data.
    let held = peak_growth(|| {
        let v: Vec<_> = open_source(&large, &SourceOptions::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(v.len() as u64, 4 * N);
    });
    assert!(
        held > 20 << 20,
        "holding 4N bars should take > 20 MiB, saw {held}"
    );

    let mut imported = (0, 0);
    let imp_small = peak_growth(|| imported.0 = import(&cat_small, &small));
    let imp_large = peak_growth(|| imported.1 = import(&cat_large, &large));
    assert_eq!(imported, (N, 4 * N));
    let mut read_n = (0, 0);
    let read_small = peak_growth(|| read_n.0 = read(&cat_small));
    let read_large = peak_growth(|| read_n.1 = read(&cat_large));
    assert_eq!(read_n, (N, 4 * N));

    eprintln!(
        "peak growth: hold 4N {held} B; import N {imp_small} B, 4N {imp_large} B; read N {read_small} B, 4N {read_large} B"
    );
    let slack = 4 << 20;
    assert!(
        imp_large <= imp_small * 3 / 2 + slack,
        "import memory grew with the data: {imp_small} -> {imp_large}"
    );
    assert!(
        read_large <= read_small * 3 / 2 + slack,
        "read memory grew with the data: {read_small} -> {read_large}"
    );
    // And both stay far below what holding the data takes.
    assert!(imp_large < held / 2 && read_large < held / 2);
    let _ = std::fs::remove_dir_all(&root);
}
