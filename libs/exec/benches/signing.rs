//! Binance request-signing benchmarks (filled in with the signing module).

use criterion::{criterion_group, criterion_main, Criterion};

fn bench_placeholder(c: &mut Criterion) {
    c.bench_function("noop", |b| b.iter(|| std::hint::black_box(1u64)));
}

criterion_group!(benches, bench_placeholder);
criterion_main!(benches);
