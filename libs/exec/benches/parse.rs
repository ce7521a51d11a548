//! Parse benchmarks on real Binance captures (`shared/fixtures/binance/hftbacktest`):
//! a futures `depthUpdate` frame into normalised deltas, a `bookTicker`, a `trade`.
//!
//! Frames are decoded from the gzip captures before any timing starts. Each
//! benchmark cycles through every frame of its kind in capture order, so the
//! time per iteration is the mean over the real size distribution; a second
//! benchmark times the frame of median length. After criterion, the binary
//! prints the per-frame median and tail over the whole capture (each frame timed
//! on its own), which is the figure compared with the targets in
//! `docs/BENCHMARKS.md`.
//!
//! Run: `cargo bench -p veloz-exec --bench parse`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion, Throughput};
use veloz_core::fixtures::fixture;
use veloz_core::{MarketKind, UnixNanos};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::stream::{
    parse_frame, parse_frame_reference, StreamMessage, StreamSource,
};

/// The frames of one stream kind in a capture.
fn frames(file: &str, stream_suffix: &str) -> Vec<String> {
    let path = fixture(&format!("binance/hftbacktest/{file}")).expect("fixture");
    let mut r = CaptureReader::open(&[path]).expect("open capture");
    let needle = format!("@{stream_suffix}\"");
    let mut out = Vec::new();
    while let Some(line) = r.next_line().expect("read capture") {
        if line.json.contains(&needle) {
            out.push(line.json.to_string());
        }
    }
    assert!(!out.is_empty(), "no {stream_suffix} frames in {file}");
    out
}

fn median_len(v: &[String]) -> &str {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by_key(|&i| v[i].len());
    &v[idx[idx.len() / 2]]
}

struct Set {
    name: &'static str,
    src: StreamSource,
    frames: Vec<String>,
}

fn sets() -> Vec<Set> {
    let usdm = StreamSource::binance(MarketKind::UsdM);
    let spot = StreamSource::binance(MarketKind::Spot);
    let coinm = StreamSource::binance(MarketKind::CoinM);
    vec![
        Set {
            name: "depthUpdate/usdm",
            src: usdm,
            frames: frames("usdm_btcusdt_20240808.gz", "depth@0ms"),
        },
        Set {
            name: "depthUpdate/coinm",
            src: coinm,
            frames: frames("cm_btcusd_perp_20240808.gz", "depth@0ms"),
        },
        Set {
            name: "depthUpdate/spot",
            src: spot,
            frames: frames("spot_btcusdt_20240808.gz", "depth@100ms"),
        },
        Set {
            name: "bookTicker/usdm",
            src: usdm,
            frames: frames("usdm_btcusdt_20240808.gz", "bookTicker"),
        },
        Set {
            name: "bookTicker/spot",
            src: spot,
            frames: frames("spot_btcusdt_20240808.gz", "bookTicker"),
        },
        Set {
            name: "trade/usdm",
            src: usdm,
            frames: frames("usdm_btcusdt_20240808.gz", "trade"),
        },
    ]
}

fn check(set: &Set) {
    // Every frame must parse into the expected kind before it is timed.
    for f in &set.frames {
        let m = parse_frame(&set.src, f, UnixNanos(1)).expect("frame parses");
        let ok = match set.name.split('/').next() {
            Some("depthUpdate") => matches!(m, StreamMessage::Depth(_)),
            Some("bookTicker") => matches!(m, StreamMessage::BookTicker(_)),
            Some("trade") => matches!(m, StreamMessage::Trade(_)),
            _ => false,
        };
        assert!(ok, "{}: unexpected message {m:?}", set.name);
    }
}

fn bench_parse(c: &mut Criterion) {
    let sets = sets();
    let mut g = c.benchmark_group("parse");
    for set in &sets {
        check(set);
        g.throughput(Throughput::Elements(1));
        let mut i = 0usize;
        g.bench_function(format!("{}/every_frame", set.name), |b| {
            b.iter(|| {
                // (A compare, not `%`: a division would cost more than a small frame.)
                i += 1;
                if i == set.frames.len() {
                    i = 0;
                }
                parse_frame(&set.src, black_box(&set.frames[i]), UnixNanos(1))
            })
        });
        let m = median_len(&set.frames);
        g.bench_function(format!("{}/median_length_frame", set.name), |b| {
            b.iter(|| parse_frame(&set.src, black_box(m), UnixNanos(1)))
        });
    }
    // The serde-only reference parser, for comparison.
    let depth = &sets[0];
    let mut i = 0usize;
    g.bench_function("depthUpdate/usdm/every_frame_reference_parser", |b| {
        b.iter(|| {
            i += 1;
            if i == depth.frames.len() {
                i = 0;
            }
            parse_frame_reference(&depth.src, black_box(&depth.frames[i]), UnixNanos(1))
        })
    });
    g.finish();
}

/// Times every frame on its own (best of a few batches) and prints the median,
/// 90th and 99th percentile per frame.
fn per_frame_distribution() {
    const REPS: u32 = 32;
    println!("\nper-frame parse time over each whole capture (each frame timed alone, best of 3 x {REPS} reps):");
    for set in sets() {
        let mut ns: Vec<f64> = set
            .frames
            .iter()
            .map(|f| {
                (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        for _ in 0..REPS {
                            black_box(parse_frame(&set.src, black_box(f), UnixNanos(1)).ok());
                        }
                        t.elapsed().as_nanos() as f64 / f64::from(REPS)
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        ns.sort_by(f64::total_cmp);
        let pct = |p: usize| ns[(ns.len() - 1) * p / 100];
        println!(
            "  {:<20} frames {:>6}  median {:>7.0} ns  p90 {:>7.0} ns  p99 {:>7.0} ns",
            set.name,
            ns.len(),
            pct(50),
            pct(90),
            pct(99)
        );
    }
}

criterion_group!(benches, bench_parse);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test --benches` runs the binary without `--bench`: skip the slow part
    // then, and when profiling one benchmark (`VELOZ_PARSE_NO_DISTRIBUTION=1`).
    if std::env::args().any(|a| a == "--bench")
        && std::env::var_os("VELOZ_PARSE_NO_DISTRIBUTION").is_none()
    {
        per_frame_distribution();
    }
}
