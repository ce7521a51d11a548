//! Shared helpers of the store's integration tests: fresh directories and
//! realistic market inputs.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use veloz_core::events::{BookDelta, BookDeltas, EventTimes, Level, MarketEvent, Quote};
use veloz_core::{InstrumentId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_runtime::{Input, Stamped};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty directory under the target's temporary directory.
pub fn fresh_dir(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("store-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn instrument() -> InstrumentId {
    InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap()
}

/// A market input, varied by `i` (quotes, book deltas, start/timer).
pub fn input(i: u64) -> Input {
    let t = UnixNanos::from_millis(1_700_000_000_000 + i);
    let times = EventTimes::new(t, t.add_nanos(250_000));
    match i % 5 {
        0 => Input::Timer,
        1 | 2 => Input::Market(MarketEvent::Quote(Quote {
            instrument: instrument(),
            bid: Level {
                price: Price::from_raw(6_500_000_000_000 + i as i64 * 1_000_000, 8),
                qty: Quantity::from_raw(100_000_000 + i as i64, 8),
            },
            ask: Level {
                price: Price::from_raw(6_500_010_000_000 + i as i64 * 1_000_000, 8),
                qty: Quantity::from_raw(5_000_000, 8),
            },
            update_id: Some(i),
            times,
        })),
        _ => Input::Market(MarketEvent::BookDeltas(BookDeltas {
            instrument: instrument(),
            first_update_id: i * 2,
            last_update_id: i * 2 + 1,
            prev_last_update_id: None,
            deltas: (0..(i % 7) as i64)
                .map(|k| BookDelta {
                    side: if k % 2 == 0 { Side::Buy } else { Side::Sell },
                    level: Level {
                        price: Price::from_raw(6_500_000_000_000 + k * 10_000_000, 8),
                        qty: Quantity::from_raw(k * 3_000_000, 8),
                    },
                })
                .collect(),
            times,
        })),
    }
}

/// The record with sequence number `seq`.
pub fn stamped(seq: u64) -> Stamped {
    Stamped {
        seq,
        time: UnixNanos::from_millis(1_700_000_000_000 + seq),
        input: input(seq),
    }
}

/// A small deterministic generator (SplitMix64) for seeded test choices.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}
