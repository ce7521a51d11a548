//! Cost of `FileJournal::append` per record for typical market inputs (a
//! top-of-book quote and a ten-level book delta batch) under each fsync
//! policy. Run: `cargo bench -p veloz-store --bench append`.
//!
//! Each measured iteration appends one record to a journal in a directory
//! under the target's temporary directory; segments roll at 64 MiB as in
//! production.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use veloz_core::events::{BookDelta, BookDeltas, EventTimes, Level, MarketEvent, Quote};
use veloz_core::{InstrumentId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_runtime::{Input, Journal, Stamped};
use veloz_store::{FileJournal, FsyncPolicy, JournalOptions};

fn instrument() -> InstrumentId {
    match InstrumentId::binance(MarketKind::UsdM, "BTCUSDT") {
        Ok(id) => id,
        Err(e) => panic!("instrument id: {e}"),
    }
}

fn quote(i: u64) -> Input {
    let t = UnixNanos::from_millis(1_700_000_000_000 + i);
    Input::Market(MarketEvent::Quote(Quote {
        instrument: instrument(),
        bid: Level {
            price: Price::from_raw(6_512_340_000_000 + (i % 100) as i64 * 10_000_000, 8),
            qty: Quantity::from_raw(1_234_000_000, 8),
        },
        ask: Level {
            price: Price::from_raw(6_512_350_000_000 + (i % 100) as i64 * 10_000_000, 8),
            qty: Quantity::from_raw(87_000_000, 8),
        },
        update_id: Some(40_000_000_000 + i),
        times: EventTimes::new(t, t.add_nanos(350_000)),
    }))
}

fn deltas(i: u64) -> Input {
    let t = UnixNanos::from_millis(1_700_000_000_000 + i);
    let deltas = (0..10)
        .map(|k| BookDelta {
            side: if k % 2 == 0 { Side::Buy } else { Side::Sell },
            level: Level {
                price: Price::from_raw(6_512_340_000_000 + k * 10_000_000, 8),
                qty: Quantity::from_raw(k * 1_000_000, 8),
            },
        })
        .collect();
    Input::Market(MarketEvent::BookDeltas(BookDeltas {
        instrument: instrument(),
        first_update_id: 40_000_000_000 + i * 3,
        last_update_id: 40_000_000_002 + i * 3,
        prev_last_update_id: Some(39_999_999_999 + i * 3),
        deltas,
        times: EventTimes::new(t, t.add_nanos(350_000)),
    }))
}

fn bench_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veloz-store-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Builds the input of a given seq.
type MakeInput = fn(u64) -> Input;

fn bench(c: &mut Criterion) {
    let policies = [
        ("never", FsyncPolicy::Never),
        (
            "group256_2ms",
            FsyncPolicy::Group {
                max_records: 256,
                max_delay_ms: 2,
            },
        ),
        ("every_record", FsyncPolicy::EveryRecord),
    ];
    let inputs: [(&str, MakeInput); 2] = [("quote", quote), ("book_deltas10", deltas)];
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    for (pname, policy) in policies {
        for (iname, make) in inputs {
            let dir = bench_dir(&format!("{pname}-{iname}"));
            let mut j = match FileJournal::open(&dir, JournalOptions::with_fsync(policy)) {
                Ok(j) => j,
                Err(e) => panic!("open {}: {e}", dir.display()),
            };
            let mut seq = j.last_seq();
            g.bench_function(format!("{pname}/{iname}"), |b| {
                b.iter_batched(
                    || {
                        seq += 1;
                        Stamped {
                            seq,
                            time: UnixNanos(seq),
                            input: make(seq),
                        }
                    },
                    |e| {
                        if let Err(err) = j.append(&e) {
                            panic!("append: {err}");
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
            drop(j);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
