//! Criterion bench of the backtest driver on the peers' workloads at small
//! sizes (data generation and setup are outside the timed routine). The
//! full-size comparison with the peers is `scripts/bench-peers`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use veloz_bench_backtest::{feed, prepare, Mode, SEED};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("backtest");
    g.sample_size(10);
    for (mode, size) in [
        (Mode::Replay, 20_000),
        (Mode::Mm, 20_000),
        (Mode::Tick, 20_000),
        (Mode::Ema, 100_000),
        (Mode::EmaNone, 100_000),
    ] {
        let data = feed(mode, size, SEED);
        g.throughput(Throughput::Elements(data.len() as u64));
        g.bench_function(format!("{}/{size}", mode.name()), |b| {
            b.iter_batched(
                || prepare(mode, data.clone()).expect("setup"),
                |p| p.run().expect("run"),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
