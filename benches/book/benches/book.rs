//! L2 book benchmark on a real Binance capture (`cargo bench -p veloz-bench-book`).
//!
//! Replays every diff-depth level update of the USD-M BTCUSDT capture that
//! follows its REST snapshot into:
//!
//! * `veloz_raw`: our [`L2Book`] through `update_raw(side, price_raw, qty_raw)`;
//! * `veloz_deltas`: our book through `apply_deltas(&BookDeltas)` (validation and
//!   display-precision tracking included);
//! * `btreemap`: a plain `BTreeMap<i64, i64>` per side;
//! * `hft_hashmap`: hftbacktest 0.9.4 `HashMapMarketDepth` (tick 0.1, lot 0.001);
//! * `hft_roivector`: hftbacktest 0.9.4 `ROIVectorMarketDepth`, ROI = the lowest
//!   to the highest price in the capture.
//!
//! Timed: the application of the pre-decoded updates only. Not timed: decoding
//! (done once, before any measurement), the f64 conversion hftbacktest needs
//! (done once), and resetting each structure to the snapshot before each replay.
//! One iteration is one whole replay. After criterion's own report, a summary
//! prints the median replay time per structure (over every timed replay,
//! warm-up included) divided by the number of level updates and of events, the
//! ratios to our book, the same for the fastest replay (least disturbed by
//! other processes on a shared machine), and per-event latency percentiles.

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput};
use hftbacktest::depth::{HashMapMarketDepth, ROIVectorMarketDepth};
use hftbacktest::prelude::{L2MarketDepth, MarketDepth};
use veloz_bench_book::{raw_to_f64, BTreeBook, Replay};
use veloz_core::{Quantity, Side};
use veloz_market::L2Book;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Every timed replay's duration, per benchmark name.
static REPLAYS: Mutex<Vec<(&'static str, Vec<Duration>)>> = Mutex::new(Vec::new());

fn record(name: &'static str, d: Duration) {
    let mut all = REPLAYS.lock().unwrap();
    match all.iter_mut().find(|(n, _)| *n == name) {
        Some((_, v)) => v.push(d),
        None => all.push((name, vec![d])),
    }
}

/// An update as hftbacktest takes it.
#[derive(Clone, Copy)]
struct FUpdate {
    bid: bool,
    price: f64,
    qty: f64,
}

struct Input {
    replay: Replay,
    f_events: Vec<Vec<FUpdate>>,
    roi: (f64, f64),
}

/// Times `run` after an untimed `reset`, once per iteration.
fn replay_bench<S>(
    g: &mut Group<'_>,
    name: &'static str,
    state: &mut S,
    mut reset: impl FnMut(&mut S),
    mut run: impl FnMut(&mut S),
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                reset(state);
                let t = Instant::now();
                run(state);
                let e = t.elapsed();
                record(name, e);
                total += e;
            }
            total
        })
    });
}

fn feed<D: L2MarketDepth>(d: &mut D, u: &FUpdate, ts: i64) {
    if u.bid {
        black_box(d.update_bid_depth(u.price, u.qty, ts));
    } else {
        black_box(d.update_ask_depth(u.price, u.qty, ts));
    }
}

fn hft_snapshot<D: L2MarketDepth>(d: &mut D, r: &Replay) {
    d.clear_depth(hftbacktest::types::Side::None, f64::NAN);
    for (bid, levels) in [(true, &r.snapshot.bids), (false, &r.snapshot.asks)] {
        for l in levels {
            let u = FUpdate {
                bid,
                price: raw_to_f64(l.price.raw()),
                qty: raw_to_f64(l.qty.raw()),
            };
            feed(d, &u, 0);
        }
    }
}

fn hft_replay<D: L2MarketDepth>(d: &mut D, events: &[Vec<FUpdate>]) {
    for (i, ev) in events.iter().enumerate() {
        for u in ev {
            feed(d, u, i as i64);
        }
    }
}

fn veloz_book(r: &Replay) -> L2Book {
    let mut b = L2Book::new(r.snapshot.instrument);
    b.apply_snapshot(&r.snapshot).unwrap();
    b
}

fn veloz_replay(b: &mut L2Book, r: &Replay) {
    for ev in r.events() {
        for u in ev {
            b.update_raw(u.side, u.price, u.qty).unwrap();
        }
    }
}

fn replays(c: &mut Criterion, inp: &Input) {
    let r = &inp.replay;
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(r.updates.len() as u64));

    let mut book = veloz_book(r);
    replay_bench(
        &mut g,
        "veloz_raw",
        &mut book,
        |b| b.apply_snapshot(&r.snapshot).unwrap(),
        |b| veloz_replay(b, r),
    );
    replay_bench(
        &mut g,
        "veloz_deltas",
        &mut book,
        |b| b.apply_snapshot(&r.snapshot).unwrap(),
        |b| {
            for d in &r.deltas {
                b.apply_deltas(d).unwrap();
            }
        },
    );

    let template = BTreeBook::from_snapshot(&r.snapshot);
    let mut tree = template.clone();
    replay_bench(
        &mut g,
        "btreemap",
        &mut tree,
        |t| t.clone_from(&template),
        |t| {
            for ev in r.events() {
                for u in ev {
                    t.apply(u);
                }
            }
        },
    );

    let mut hash = HashMapMarketDepth::new(0.1, 0.001);
    replay_bench(
        &mut g,
        "hft_hashmap",
        &mut hash,
        |d| hft_snapshot(d, r),
        |d| hft_replay(d, &inp.f_events),
    );

    let mut roi = ROIVectorMarketDepth::new(0.1, 0.001, inp.roi.0, inp.roi.1);
    replay_bench(
        &mut g,
        "hft_roivector",
        &mut roi,
        |d| hft_snapshot(d, r),
        |d| hft_replay(d, &inp.f_events),
    );
    g.finish();
}

fn queries(c: &mut Criterion, inp: &Input) {
    let r = &inp.replay;
    // The state after the whole replay.
    let mut book = veloz_book(r);
    veloz_replay(&mut book, r);
    let mut tree = BTreeBook::from_snapshot(&r.snapshot);
    for u in &r.updates {
        tree.apply(u);
    }
    let mut hash = HashMapMarketDepth::new(0.1, 0.001);
    hft_snapshot(&mut hash, r);
    hft_replay(&mut hash, &inp.f_events);
    let one_btc = Quantity::parse("1").unwrap();

    let mut g = c.benchmark_group("query_best_bid_ask");
    g.bench_function("veloz", |b| {
        b.iter(|| {
            (
                black_box(&book).best_bid_raw(),
                black_box(&book).best_ask_raw(),
            )
        })
    });
    g.bench_function("btreemap", |b| {
        b.iter(|| (black_box(&tree).best_bid(), black_box(&tree).best_ask()))
    });
    g.bench_function("hft_hashmap", |b| {
        b.iter(|| {
            let h = black_box(&hash);
            (
                h.best_bid_tick(),
                h.best_bid_qty(),
                h.best_ask_tick(),
                h.best_ask_qty(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("query_top10_both_sides");
    let mut out = Vec::with_capacity(16);
    let mut out2 = Vec::with_capacity(16);
    g.bench_function("veloz", |b| {
        b.iter(|| {
            let bk = black_box(&book);
            bk.top_raw_into(Side::Buy, 10, &mut out);
            bk.top_raw_into(Side::Sell, 10, &mut out2);
            (out.len(), out2.len())
        })
    });
    g.bench_function("btreemap", |b| {
        b.iter(|| {
            let t = black_box(&tree);
            t.top_into(Side::Buy, 10, &mut out);
            t.top_into(Side::Sell, 10, &mut out2);
            (out.len(), out2.len())
        })
    });
    let mut fout: Vec<(i64, f64)> = Vec::with_capacity(16);
    let mut fout2: Vec<(i64, f64)> = Vec::with_capacity(16);
    g.bench_function("hft_hashmap_tick_walk", |b| {
        b.iter(|| {
            let h = black_box(&hash);
            fout.clear();
            let mut t = h.best_bid_tick();
            while fout.len() < 10 && t >= h.low_bid_tick {
                let q = h.bid_qty_at_tick(t);
                if q > 0.0 {
                    fout.push((t, q));
                }
                t -= 1;
            }
            fout2.clear();
            let mut t = h.best_ask_tick();
            while fout2.len() < 10 && t <= h.high_ask_tick {
                let q = h.ask_qty_at_tick(t);
                if q > 0.0 {
                    fout2.push((t, q));
                }
                t += 1;
            }
            (fout.len(), fout2.len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("query_cost_to_buy_1btc");
    g.bench_function("veloz", |b| {
        b.iter(|| {
            black_box(&book)
                .cost_to_fill(Side::Buy, black_box(one_btc))
                .unwrap()
        })
    });
    g.bench_function("btreemap", |b| {
        b.iter(|| black_box(&tree).cost_to_buy(black_box(100_000_000)))
    });
    g.finish();
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Per-event latency: each event timed on its own (includes one
/// `Instant::now()` pair, whose cost is printed too).
fn per_event_latency(inp: &Input) {
    fn pct(v: &mut [u64], p: f64) -> u64 {
        v.sort_unstable();
        let i = ((v.len() - 1) as f64 * p).round() as usize;
        v[i]
    }
    let r = &inp.replay;
    let rounds = 5;
    let mut timer = Vec::new();
    for _ in 0..100_000 {
        let t = Instant::now();
        timer.push(black_box(t.elapsed()).as_nanos() as u64);
    }
    let timer_p50 = pct(&mut timer, 0.5);
    println!(
        "\nPer-event latency (ns, {rounds} replays, timer overhead p50 {timer_p50} ns included):"
    );
    println!("| structure | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    let report = |name: &str, mut v: Vec<u64>| {
        let (a, b, c, d) = (
            pct(&mut v, 0.5),
            pct(&mut v, 0.9),
            pct(&mut v, 0.99),
            pct(&mut v, 1.0),
        );
        println!("| {name} | {a} | {b} | {c} | {d} |");
    };
    let mut book = veloz_book(r);
    let mut v = Vec::new();
    for _ in 0..rounds {
        book.apply_snapshot(&r.snapshot).unwrap();
        for ev in r.events() {
            let t = Instant::now();
            for u in ev {
                book.update_raw(u.side, u.price, u.qty).unwrap();
            }
            v.push(t.elapsed().as_nanos() as u64);
        }
    }
    report("veloz_raw", v);
    let template = BTreeBook::from_snapshot(&r.snapshot);
    let mut v = Vec::new();
    for _ in 0..rounds {
        let mut tree = template.clone();
        for ev in r.events() {
            let t = Instant::now();
            for u in ev {
                tree.apply(u);
            }
            v.push(t.elapsed().as_nanos() as u64);
        }
        black_box(&tree);
    }
    report("btreemap", v);
    let mut hash = HashMapMarketDepth::new(0.1, 0.001);
    let mut v = Vec::new();
    for _ in 0..rounds {
        hft_snapshot(&mut hash, r);
        for (i, ev) in inp.f_events.iter().enumerate() {
            let t = Instant::now();
            for u in ev {
                feed(&mut hash, u, i as i64);
            }
            v.push(t.elapsed().as_nanos() as u64);
        }
    }
    report("hft_hashmap", v);
    let mut roi = ROIVectorMarketDepth::new(0.1, 0.001, inp.roi.0, inp.roi.1);
    let mut v = Vec::new();
    for _ in 0..rounds {
        hft_snapshot(&mut roi, r);
        for (i, ev) in inp.f_events.iter().enumerate() {
            let t = Instant::now();
            for u in ev {
                feed(&mut roi, u, i as i64);
            }
            v.push(t.elapsed().as_nanos() as u64);
        }
    }
    report("hft_roivector", v);
}

fn summary(inp: &Input) {
    let r = &inp.replay;
    let (n_upd, n_ev) = (r.updates.len() as f64, r.deltas.len() as f64);
    let mut all = REPLAYS.lock().unwrap();
    let medians: Vec<(&str, f64, f64, usize)> = all
        .iter_mut()
        .map(|(n, v)| {
            let med = median(v).as_nanos() as f64;
            (*n, med, v[0].as_nanos() as f64, v.len())
        })
        .collect();
    let ours = medians
        .iter()
        .find(|m| m.0 == "veloz_raw")
        .map_or((f64::NAN, f64::NAN), |m| (m.1, m.2));
    println!(
        "\nReplay of {} level updates in {} events ({:.1} updates/event) after a {}+{} level snapshot:",
        r.updates.len(),
        r.deltas.len(),
        n_upd / n_ev,
        r.snapshot.bids.len(),
        r.snapshot.asks.len()
    );
    println!(
        "| structure | replays timed | median replay (ms) | median ns / level update | median ns / event \
         | median vs veloz_raw | fastest replay: ns / level update | fastest vs veloz_raw |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, med, min, count) in &medians {
        println!(
            "| {name} | {count} | {:.3} | {:.2} | {:.1} | {:.2}x | {:.2} | {:.2}x |",
            med / 1e6,
            med / n_upd,
            med / n_ev,
            med / ours.0,
            min / n_upd,
            min / ours.1
        );
    }
}

fn main() {
    let replay = Replay::load().expect("decode the shared USD-M capture");
    let f_events = replay
        .events()
        .map(|ev| {
            ev.iter()
                .map(|u| FUpdate {
                    bid: u.side == Side::Buy,
                    price: raw_to_f64(u.price),
                    qty: raw_to_f64(u.qty),
                })
                .collect()
        })
        .collect();
    let (lo, hi) = replay.price_range();
    let inp = Input {
        roi: (raw_to_f64(lo), raw_to_f64(hi)),
        replay,
        f_events,
    };
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    replays(&mut c, &inp);
    queries(&mut c, &inp);
    c.final_summary();
    summary(&inp);
    per_event_latency(&inp);
}
