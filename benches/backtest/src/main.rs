//! `veloz-bench-backtest <mode> [size]`: one timed backtest run, printed on
//! one line in the peer scripts' format (see the library docs for the modes;
//! `size` is L2 steps or quotes, default the peers' defaults). Data
//! generation, setup and the run are timed separately; `events_per_s` is
//! data events divided by the run time only.

use std::process::ExitCode;
use std::time::Instant;

use veloz_bench_backtest::{feed, prepare, Mode, SEED};

fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode: Mode = match args.first().map(|s| s.parse()) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        None => Mode::Replay,
    };
    let size = match args.get(1).map(|s| s.replace('_', "").parse::<usize>()) {
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("size must be a positive whole number (L2 steps or quotes)");
            return ExitCode::from(2);
        }
        None => mode.default_size(),
    };
    match run(mode, size) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("backtest failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(mode: Mode, size: usize) -> Result<String, veloz_runtime::BacktestError> {
    // Warm-up on a small data set (the peers warm up numba's JIT the same way).
    let t = Instant::now();
    prepare(mode, feed(mode, 2_000, 1))?.run()?;
    let t_warm = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let data = feed(mode, size, SEED);
    let t_gen = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let prepared = prepare(mode, data)?;
    let t_setup = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let out = prepared.run()?;
    let t_run = t.elapsed().as_secs_f64();

    let rate = (out.events as f64 / t_run).round() as u64;
    Ok(format!(
        "veloz={} mode={} events={} warmup_s={t_warm:.3} gen_s={t_gen:.3} setup_s={t_setup:.3} \
         run_s={t_run:.3} events_per_s={} loop_iters={} fills={} pos={} kernel_inputs={} commands={} fill_checksum={:016x}",
        env!("CARGO_PKG_VERSION"),
        mode.name(),
        out.events,
        thousands(rate),
        out.loop_iters,
        out.fills,
        out.position,
        out.kernel_inputs,
        out.commands,
        out.fill_checksum(),
    ))
}
