//! `cargo bench -p veloz-bench-live`: tick-to-trade of the live engine and
//! of the bare loop, in one run (see the crate docs). `VELOZ_T2T_SECS`
//! sets the length of each measurement (default 30 s).

use veloz_bench_live::{ratio, selected, table_row};

fn main() {
    if !selected("tick_to_trade") {
        return;
    }
    let secs: u64 = std::env::var("VELOZ_T2T_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let every_ms = 125;
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let srv = veloz_bench_live::simulator(&sim_rt);
    let endpoints = srv.endpoints();
    let bare = veloz_bench_live::bare(&endpoints, secs, every_ms);
    let veloz = veloz_bench_live::veloz(&endpoints, secs, every_ms);
    println!("tick-to-trade on loopback, {secs} s each, one order per >= {every_ms} ms:");
    println!("| path | p50 | p99 | max | samples |");
    println!("|---|---:|---:|---:|---:|");
    println!("{}", table_row("VeloZ live engine", &veloz.tick_to_trade));
    println!("{}", table_row("bare loop (baseline)", &bare.tick_to_trade));
    if let (Some(a), Some(b)) = (
        veloz.tick_to_trade.quantile(500),
        bare.tick_to_trade.quantile(500),
    ) {
        println!("p50 ratio VeloZ / bare loop: {}", ratio(a, b));
    }
    drop(srv);
}
