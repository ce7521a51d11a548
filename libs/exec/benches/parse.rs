//! Parse benchmarks on real Binance captures (`shared/fixtures/binance/hftbacktest`):
//! a `depthUpdate` frame into normalised deltas, a `bookTicker`, a `trade`.
//!
//! Frames are decoded from the gzip captures before any timing starts. Each
//! benchmark cycles through every frame of its kind in capture order, so the
//! time per iteration is the mean over the real size distribution; a second
//! benchmark times the frame of median length. Each is measured for the current
//! parser (`FrameParser::parse`, one parser per connection) and, right after it
//! in the same run, for the old path (`parse_frame_generic`, suffix `/old`), so
//! the ratio holds even on a loaded machine; for `bookTicker` also the free
//! `parse_frame` (suffix `/free`: no symbol cache). After criterion, the binary
//! prints the per-frame median and tail over the whole capture (each frame
//! timed on its own) for both paths.
//!
//! Run: `cargo bench -p veloz-exec --bench parse`. For instruction counts see
//! [`count_mode`].

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion, Throughput};
use veloz_core::fixtures::fixture;
use veloz_core::{MarketKind, UnixNanos};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::stream::{
    parse_frame, parse_frame_generic, parse_frame_reference, FrameParser, StreamMessage,
    StreamSource,
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

/// (name, market, capture file, stream suffix) of each benchmarked set.
const SETS: [(&str, MarketKind, &str, &str); 6] = [
    (
        "depthUpdate/usdm",
        MarketKind::UsdM,
        "usdm_btcusdt_20240808.gz",
        "depth@0ms",
    ),
    (
        "depthUpdate/coinm",
        MarketKind::CoinM,
        "cm_btcusd_perp_20240808.gz",
        "depth@0ms",
    ),
    (
        "depthUpdate/spot",
        MarketKind::Spot,
        "spot_btcusdt_20240808.gz",
        "depth@100ms",
    ),
    (
        "bookTicker/usdm",
        MarketKind::UsdM,
        "usdm_btcusdt_20240808.gz",
        "bookTicker",
    ),
    (
        "bookTicker/spot",
        MarketKind::Spot,
        "spot_btcusdt_20240808.gz",
        "bookTicker",
    ),
    (
        "trade/usdm",
        MarketKind::UsdM,
        "usdm_btcusdt_20240808.gz",
        "trade",
    ),
];

fn load(&(name, kind, file, suffix): &(&'static str, MarketKind, &str, &str)) -> Set {
    Set {
        name,
        src: StreamSource::binance(kind),
        frames: frames(file, suffix),
    }
}

fn sets() -> Vec<Set> {
    SETS.iter().map(load).collect()
}

fn check(set: &Set) {
    // Every frame must parse into the expected kind before it is timed, and the
    // compared paths must agree on it.
    let mut parser = FrameParser::new(set.src);
    for f in &set.frames {
        let m = parser.parse(f, UnixNanos(1)).expect("frame parses");
        assert_eq!(
            parse_frame_generic(&set.src, f, UnixNanos(1)).ok().as_ref(),
            Some(&m),
            "{}: new and old paths differ on {f}",
            set.name
        );
        let ok = match set.name.split('/').next() {
            Some("depthUpdate") => matches!(m, StreamMessage::Depth(_)),
            Some("bookTicker") => matches!(m, StreamMessage::BookTicker(_)),
            Some("trade") => matches!(m, StreamMessage::Trade(_)),
            _ => false,
        };
        assert!(ok, "{}: unexpected message {m:?}", set.name);
    }
}

/// The parser entry points compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// `FrameParser::parse`: one parser value per connection, symbol cache warm.
    New,
    /// The free `parse_frame` (same scanners, no symbol cache).
    Free,
    /// `parse_frame_generic`: the parser before the fixed-shape scanner and the
    /// symbol cache, the baseline.
    Old,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Free => "free",
            Self::Old => "old",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        [Self::New, Self::Free, Self::Old]
            .into_iter()
            .find(|p| p.name() == s)
    }

    /// A closure parsing one frame along this path.
    fn parser(self, src: StreamSource) -> impl FnMut(&str) -> Option<StreamMessage> {
        let mut p = FrameParser::new(src);
        move |f| {
            match self {
                Self::New => p.parse(f, UnixNanos(1)),
                Self::Free => parse_frame(&src, f, UnixNanos(1)),
                Self::Old => parse_frame_generic(&src, f, UnixNanos(1)),
            }
            .ok()
        }
    }
}

fn bench_parse(c: &mut Criterion) {
    let sets = sets();
    let mut g = c.benchmark_group("parse");
    for set in &sets {
        check(set);
        g.throughput(Throughput::Elements(1));
        // New and old side by side, so both see the same machine load.
        for path in [Path::New, Path::Old] {
            let suffix = if path == Path::New { "" } else { "/old" };
            let mut parse = path.parser(set.src);
            let mut i = 0usize;
            g.bench_function(format!("{}/every_frame{suffix}", set.name), |b| {
                b.iter(|| {
                    // (A compare, not `%`: a division would cost more than a small frame.)
                    i += 1;
                    if i == set.frames.len() {
                        i = 0;
                    }
                    parse(black_box(&set.frames[i]))
                })
            });
        }
        let m = median_len(&set.frames);
        let paths: &[Path] = if set.name.starts_with("bookTicker") {
            &[Path::New, Path::Free, Path::Old]
        } else {
            &[Path::New, Path::Old]
        };
        for &path in paths {
            let suffix = if path == Path::New {
                String::new()
            } else {
                format!("/{}", path.name())
            };
            let mut parse = path.parser(set.src);
            g.bench_function(format!("{}/median_length_frame{suffix}", set.name), |b| {
                b.iter(|| parse(black_box(m)))
            });
        }
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
/// 90th and 99th percentile per frame, for the new and the old path.
fn per_frame_distribution() {
    const REPS: u32 = 32;
    println!("\nper-frame parse time over each whole capture (each frame timed alone, best of 3 x {REPS} reps):");
    for set in sets() {
        for path in [Path::New, Path::Old] {
            let mut parse = path.parser(set.src);
            let mut ns: Vec<f64> = set
                .frames
                .iter()
                .map(|f| {
                    (0..3)
                        .map(|_| {
                            let t = Instant::now();
                            for _ in 0..REPS {
                                black_box(parse(black_box(f)));
                            }
                            t.elapsed().as_nanos() as f64 / f64::from(REPS)
                        })
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            ns.sort_by(f64::total_cmp);
            let pct = |p: usize| ns[(ns.len() - 1) * p / 100];
            println!(
                "  {:<20} {:<3}  frames {:>6}  median {:>7.0} ns  p90 {:>7.0} ns  p99 {:>7.0} ns",
                set.name,
                path.name(),
                ns.len(),
                pct(50),
                pct(90),
                pct(99)
            );
        }
    }
}

/// `VELOZ_PARSE_COUNT=<set>:<new|free|old>:<n>` (e.g. `bookTicker/usdm:new:20000`)
/// parses the median-length frame of that set `n` times and exits: run it under
/// `valgrind --tool=callgrind` with two values of `n` (or with
/// `--toggle-collect`) to get instructions per parse, free of timing noise.
fn count_mode(spec: &str) {
    let mut parts = spec.rsplitn(3, ':');
    let n: u64 = parts.next().and_then(|n| n.parse().ok()).expect("a count");
    let path = parts
        .next()
        .and_then(Path::from_name)
        .expect("a path: new, free or old");
    let name = parts.next().expect("a set name such as bookTicker/usdm");
    let set = load(
        SETS.iter()
            .find(|s| s.0 == name)
            .expect("a set name such as bookTicker/usdm"),
    );
    let f = median_len(&set.frames);
    let mut parse = path.parser(set.src);
    for _ in 0..n {
        black_box(parse(black_box(f)));
    }
}

criterion_group!(benches, bench_parse);

fn main() {
    if let Ok(spec) = std::env::var("VELOZ_PARSE_COUNT") {
        count_mode(&spec);
        return;
    }
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
