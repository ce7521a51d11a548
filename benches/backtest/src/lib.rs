//! # veloz-bench-backtest
//!
//! Backtester throughput: VeloZ's backtest driver (`veloz_runtime::Backtest`:
//! data → simulated venue with latencies → kernel → strategies) on the same
//! synthetic workloads as the peer scripts `hftbt_bench.py` (hftbacktest) and
//! `nautilus_bench.py` (NautilusTrader), so `scripts/bench-peers` can put the
//! three side by side from one run.
//!
//! This crate owns the workload generators ([`data`]), the benchmark
//! strategies ([`strategies`]) and the harness below ([`Mode`], [`prepare`],
//! [`Prepared::run`]); the binary prints one line per run in the peers'
//! format, the criterion bench runs smaller sizes.
//!
//! Modes:
//!
//! | mode       | data                        | strategy                          | peer                  |
//! |------------|-----------------------------|-----------------------------------|-----------------------|
//! | `replay`   | L2 feed (`size` steps)      | none                              | hftbacktest `replay`  |
//! | `mm`       | L2 feed                     | [`strategies::MarketMaker`]       | hftbacktest `mm`      |
//! | `tick`     | L2 feed                     | [`strategies::TopOfBook`]         | hftbacktest `tick`    |
//! | `ema`      | quote feed (`size` quotes)  | [`strategies::EmaCross`]          | Nautilus (EMACross)   |
//! | `ema-none` | quote feed                  | none                              | Nautilus `none`       |
//!
//! Setup: one USD-M-like instrument (`veloz_sim::presets::usdm_btcusdt`: tick
//! 0.1, step 0.001, maker 0.02 %, taker 0.05 %), 1 000 000 USDT, the
//! conservative queue model (hftbacktest's risk-averse model). L2 modes:
//! order entry and response latency 10 ms each, feed latency 5 ms (the data
//! carries it). Quote modes: no latency (Nautilus' default venue has none).
//!
//! The market maker stops re-arming its timer at the end of the data, as
//! hftbacktest's `elapse` loop ends with the data (the driver would end the
//! run anyway: timers do not keep it alive after the last data and venue
//! answer).

#![warn(missing_docs)]

pub mod data;
pub mod strategies;

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use veloz_core::{Instrument, Money, Quantity};
use veloz_runtime::backtest::DataSource;
use veloz_runtime::{Backtest, BacktestError, BacktestSettings, KernelConfig, Strategy};
use veloz_sim::backtest::ConstantLatency;
use veloz_sim::ConservativeQueue;

use crate::data::Feed;
use crate::strategies::{EmaCross, IterCounter, MarketMaker, TopOfBook};

/// Order latency (entry and response) of the L2 modes, as in the hftbacktest script.
pub const ORDER_LATENCY_NANOS: u64 = 10_000_000;
/// Seed of the measured data (the peers use 42).
pub const SEED: u64 = 42;

/// The benchmark instrument: Binance USD-M BTCUSDT rules (tick 0.1, step
/// 0.001, fees 0.02 % / 0.05 %).
pub fn instrument() -> Instrument {
    veloz_sim::presets::usdm_btcusdt()
}

/// A workload (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// L2 feed, no strategy.
    Replay,
    /// L2 feed, market maker.
    Mm,
    /// L2 feed, top-of-book reader on every event.
    Tick,
    /// Quote feed, EMA cross on 1-minute bars.
    Ema,
    /// Quote feed, no strategy.
    EmaNone,
}

/// An unknown mode name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl std::fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown mode {:?}; use one of replay, mm, tick, ema, ema-none",
            self.0
        )
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "replay" => Self::Replay,
            "mm" => Self::Mm,
            "tick" => Self::Tick,
            "ema" => Self::Ema,
            "ema-none" | "none" => Self::EmaNone,
            other => return Err(UnknownMode(other.to_string())),
        })
    }
}

impl Mode {
    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::Mm => "mm",
            Self::Tick => "tick",
            Self::Ema => "ema",
            Self::EmaNone => "ema-none",
        }
    }

    /// Does it run on the L2 feed (hftbacktest's workload)?
    pub fn is_l2(self) -> bool {
        matches!(self, Self::Replay | Self::Mm | Self::Tick)
    }

    /// The peers' default size: 190 000 steps (≈ 1 M events) for the L2
    /// modes, 1 000 000 quotes for the quote modes.
    pub fn default_size(self) -> usize {
        if self.is_l2() {
            190_000
        } else {
            1_000_000
        }
    }
}

/// Generates the mode's data: `size` steps of the L2 feed or `size` quotes.
pub fn feed(mode: Mode, size: usize, seed: u64) -> Feed {
    let inst = instrument();
    if mode.is_l2() {
        data::l2_feed(&inst, size, seed)
    } else {
        data::quote_feed(&inst, size, seed)
    }
}

/// A backtest ready to run.
#[derive(Debug)]
pub struct Prepared {
    backtest: Backtest,
    iters: IterCounter,
    events: usize,
    instrument: Instrument,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Data events replayed.
    pub events: usize,
    /// Strategy loop iterations (timer rounds, callbacks or bars; 0 without a strategy).
    pub loop_iters: u64,
    /// Fills of our orders.
    pub fills: usize,
    /// Position at the end.
    pub position: Quantity,
    /// Inputs the kernel handled.
    pub kernel_inputs: u64,
    /// Commands sent to the venue.
    pub commands: u64,
    /// Every fill record, in the order the kernel got them.
    pub fill_records: Vec<veloz_runtime::FillRecord>,
}

impl Outcome {
    /// FNV-1a hash of every fill record's debug text, in order: two builds
    /// filled alike when their checksums are equal (computed on demand,
    /// outside the timed run).
    pub fn fill_checksum(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for f in &self.fill_records {
            for b in format!("{f:?}").bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
}

/// Builds the backtest for `mode` on `feed` (the setup the peers time
/// separately: `make_hbt` / `engine.add_*`).
pub fn prepare(mode: Mode, feed: Feed) -> Result<Prepared, BacktestError> {
    let inst = instrument();
    let iters: IterCounter = Arc::new(Default::default());
    let step = inst.lot.step;
    let lots = |n: i64| Quantity::from_raw(n * step.raw(), inst.qty_precision);
    let strategy: Option<Box<dyn Strategy>> = match mode {
        Mode::Replay | Mode::EmaNone => None,
        Mode::Mm => Some(Box::new(MarketMaker::new(
            inst.id,
            100_000_000,
            feed.last_local,
            lots(10),
            lots(100),
            iters.clone(),
        ))),
        Mode::Tick => Some(Box::new(TopOfBook::new(inst.id, iters.clone()))),
        Mode::Ema => Some(Box::new(EmaCross::new(
            inst.id,
            60,
            10,
            20,
            lots(10),
            iters.clone(),
        ))),
    };
    let (order_latency, feed_latency) = if mode.is_l2() {
        (ORDER_LATENCY_NANOS, data::FEED_LATENCY_NANOS)
    } else {
        (0, 0)
    };
    let settings = BacktestSettings {
        instruments: vec![inst.clone()],
        balances: vec![Money::from_raw(1_000_000 * 100_000_000, inst.margin_asset)],
        leverage: None,
        queue: Box::new(ConservativeQueue),
        entry_latency: Box::new(ConstantLatency(order_latency)),
        response_latency: Box::new(ConstantLatency(order_latency)),
        feed_latency: Box::new(ConstantLatency(feed_latency)),
        equity_interval_nanos: 0,
        kernel: KernelConfig::default(),
    };
    let events = feed.len();
    let source: DataSource = Box::new(feed.into_source());
    let strategies = strategy
        .map(|s| vec![(mode.name().to_string(), s)])
        .unwrap_or_default();
    let backtest = Backtest::new(settings, strategies, vec![source])?;
    Ok(Prepared {
        backtest,
        iters,
        events,
        instrument: inst,
    })
}

impl Prepared {
    /// Number of data events.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Runs to the end of the data (the timed part).
    pub fn run(mut self) -> Result<Outcome, BacktestError> {
        let out = self.backtest.run(u64::MAX, |_| {})?;
        let position = self
            .backtest
            .kernel()
            .portfolio()
            .position(self.instrument.id)
            .map(|p| p.qty())
            .unwrap_or(Quantity::ZERO);
        Ok(Outcome {
            events: self.events,
            loop_iters: self.iters.load(Ordering::Relaxed),
            fills: out.fills.len(),
            position,
            kernel_inputs: out.kernel.inputs,
            commands: out.driver.commands,
            fill_records: out.fills,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: Mode, size: usize) -> Outcome {
        prepare(mode, feed(mode, size, SEED))
            .unwrap()
            .run()
            .unwrap()
    }

    #[test]
    fn replay_feeds_every_event_to_the_kernel() {
        let o = run(Mode::Replay, 2_000);
        assert_eq!(o.events, 10_500);
        // Start, every event, Stop, and the venue's account report(s) of
        // the deposit; no orders.
        let extra = o.kernel_inputs - 10_500;
        assert!((2..=4).contains(&extra), "{o:?}");
        assert_eq!(o.fills, 0);
        assert_eq!(o.commands, 0);
    }

    #[test]
    fn tick_reads_the_book_on_every_event() {
        let o = run(Mode::Tick, 2_000);
        assert_eq!(o.loop_iters, 10_500);
    }

    #[test]
    fn market_maker_quotes_every_100ms_and_gets_filled() {
        let o = run(Mode::Mm, 20_000);
        // 200 s of data: one round per 100 ms.
        assert!((1_990..=2_000).contains(&o.loop_iters), "{}", o.loop_iters);
        assert!(o.commands > 100, "{o:?}");
        assert!(o.fills > 0, "{o:?}");
        assert!(o.position.raw().abs() <= 11_000_000, "{o:?}");
    }

    #[test]
    fn ema_cross_trades_on_minute_bars() {
        let o = run(Mode::Ema, 20_000);
        // 2 000 s of quotes: 33 closed minutes.
        assert_eq!(o.loop_iters, 33);
        assert!(o.fills > 0, "{o:?}");
        assert_eq!(o.position.raw().abs(), 1_000_000, "{o:?}");
    }

    #[test]
    fn modes_parse() {
        for m in [Mode::Replay, Mode::Mm, Mode::Tick, Mode::Ema, Mode::EmaNone] {
            assert_eq!(m.name().parse::<Mode>().unwrap(), m);
        }
        assert!("fast".parse::<Mode>().is_err());
    }
}
