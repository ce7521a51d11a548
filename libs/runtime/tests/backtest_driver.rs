//! The backtest driver's ordering on a mixed run: three sources merged by
//! exchange time (a synthetic book and trades, trades with their own receive
//! times out of order, minute bars), a feed latency that keeps many events in
//! flight, out-of-order exchange stamps, orders and timers. The kernel must
//! see every event once, on a clock that never goes back, and the result must
//! not depend on how a source hands its events over (one at a time, in
//! chunks, or through an iterator).

use std::sync::{Arc, Mutex};

use veloz_core::events::{Bar, EventTimes, MarketEvent, Trade};
use veloz_core::{
    AggressorSide, Currency, InstrumentId, Money, Price, Quantity, Side, TradeId, UnixNanos,
};
use veloz_runtime::backtest::{DataError, DataSource, MarketSource};
use veloz_runtime::{
    Backtest, BacktestError, BacktestSettings, Context, KernelConfig, OrderRequest, RunOutput,
    Strategy,
};
use veloz_sim::backtest::{bar_events, ConstantLatency};
use veloz_sim::{ConservativeQueue, SynthConfig, SynthMarket};

type Trace = Arc<Mutex<Vec<String>>>;

/// Records everything it sees with the kernel's time; every 40th trade it
/// buys at the trade price and sets a timer 3 ms later that cancels
/// everything.
#[derive(Debug)]
struct Recorder {
    instrument: InstrumentId,
    trace: Trace,
    trades: u64,
}

impl Recorder {
    fn log(&self, ctx: &Context<'_>, what: String) {
        if let Ok(mut t) = self.trace.lock() {
            t.push(format!("{} {what}", ctx.now().0));
        }
    }
}

impl Strategy for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn on_book(&mut self, ctx: &mut Context<'_>, instrument: InstrumentId) {
        let top = ctx.best_bid_ask(instrument);
        self.log(ctx, format!("book {top:?}"));
    }
    fn on_trade(&mut self, ctx: &mut Context<'_>, trade: &Trade) {
        self.log(
            ctx,
            format!(
                "trade {} {} {}",
                trade.trade_id.0, trade.times.exchange.0, trade.price
            ),
        );
        self.trades += 1;
        if self.trades % 40 == 0 {
            let qty = Quantity::parse("0.010").unwrap();
            let _ = ctx.submit(OrderRequest::limit(
                self.instrument,
                Side::Buy,
                qty,
                trade.price,
            ));
            let t = ctx.now();
            ctx.set_timer(UnixNanos(t.0 + 3_000_000), 7);
        }
    }
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &Bar) {
        self.log(ctx, format!("bar {} {}", bar.open_time.0, bar.close));
    }
    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: u64) {
        self.log(ctx, format!("timer {tag}"));
        ctx.cancel_all(self.instrument, None);
    }
    fn on_order_event(&mut self, ctx: &mut Context<'_>, event: &veloz_core::events::OrderEvent) {
        self.log(ctx, format!("order {:?}", event.kind));
    }
}

const START_MS: u64 = 1_700_000_000_000;

fn synth_events(n: usize) -> Vec<MarketEvent> {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let mut m = SynthMarket::new(
        inst,
        SynthConfig {
            seed: 11,
            start_time_ms: START_MS,
            trades_per_minute: 3_000,
            volatility_cbps: 300,
            ..SynthConfig::default()
        },
    )
    .unwrap();
    let mut evs = vec![MarketEvent::BookSnapshot(m.book_snapshot(30))];
    for _ in 0..n {
        evs.push(m.next_event());
    }
    evs
}

/// Trades 7 ms apart with receive times 0 to 48 ms after the exchange time
/// (so they reach the kernel out of order), every 50th stamped 3 ms before
/// its predecessor.
fn jittered_trades(id: InstrumentId, n: usize) -> Vec<MarketEvent> {
    (0..n as u64)
        .map(|k| {
            let mut ex = START_MS * 1_000_000 + 5_000_000 + k * 7_000_000;
            if k % 50 == 49 {
                ex -= 10_000_000;
            }
            let local = ex + (k * 37 % 49) * 1_000_000;
            MarketEvent::Trade(Trade {
                instrument: id,
                trade_id: TradeId(1_000_000 + k),
                price: Price::from_raw(6_000_000_000_000 + (k as i64 % 13) * 10_000_000, 1),
                qty: Quantity::parse("0.002").unwrap(),
                aggressor: if k % 2 == 0 {
                    AggressorSide::Buyer
                } else {
                    AggressorSide::Seller
                },
                times: EventTimes::new(UnixNanos(ex), UnixNanos(local)),
            })
        })
        .collect()
}

fn bars(id: InstrumentId, n: usize) -> Vec<MarketEvent> {
    (0..n as u64)
        .map(|k| {
            let open = UnixNanos((START_MS + k * 10_000) * 1_000_000);
            let close = UnixNanos(open.0 + 10_000_000_000);
            let p = |d: i64| Price::from_raw(6_000_000_000_000 + d * 10_000_000, 1);
            MarketEvent::Bar(Bar {
                instrument: id,
                interval_secs: 10,
                open_time: open,
                open: p(0),
                high: p(30),
                low: p(-25),
                close: p(k as i64 % 7 - 3),
                volume: Quantity::parse("1.5").unwrap(),
                closed: true,
                times: EventTimes::new(close, close),
            })
        })
        .collect()
}

/// Hands its events over `per_read` at a time, then fails with `fail` if given.
struct Chunked {
    events: std::vec::IntoIter<MarketEvent>,
    per_read: usize,
    fail: Option<String>,
}

impl MarketSource for Chunked {
    fn read(&mut self, out: &mut Vec<MarketEvent>, max: usize) -> Result<bool, DataError> {
        for _ in 0..self.per_read.min(max) {
            match self.events.next() {
                Some(e) => out.push(e),
                None => {
                    return match self.fail.take() {
                        Some(msg) if out.is_empty() => Err(msg.into()),
                        Some(msg) => {
                            self.fail = Some(msg);
                            Ok(true)
                        }
                        None => Ok(false),
                    }
                }
            }
        }
        Ok(true)
    }
}

#[derive(Clone, Copy)]
enum How {
    Iterator,
    Chunks(usize),
}

fn source(events: Vec<MarketEvent>, how: How) -> DataSource {
    match how {
        How::Iterator => Box::new(events.into_iter().map(Ok::<_, DataError>)),
        How::Chunks(per_read) => Box::new(Chunked {
            events: events.into_iter(),
            per_read,
            fail: None,
        }),
    }
}

fn settings(feed_latency: u64) -> BacktestSettings {
    let inst = veloz_sim::presets::usdm_btcusdt();
    BacktestSettings {
        instruments: vec![inst],
        balances: vec![Money::parse("100000", Currency::new("USDT").unwrap()).unwrap()],
        leverage: Some(10),
        queue: Box::new(ConservativeQueue),
        entry_latency: Box::new(ConstantLatency(2_000_000)),
        response_latency: Box::new(ConstantLatency(1_000_000)),
        feed_latency: Box::new(ConstantLatency(feed_latency)),
        equity_interval_nanos: 1_000_000_000,
        kernel: KernelConfig::default(),
    }
}

fn run(how: How, feed_latency: u64) -> (Vec<String>, RunOutput) {
    let id = veloz_sim::presets::usdm_btcusdt().id;
    let trace: Trace = Arc::default();
    let s = Recorder {
        instrument: id,
        trace: trace.clone(),
        trades: 0,
    };
    let sources = vec![
        source(synth_events(3_000), how),
        source(jittered_trades(id, 700), how),
        source(bars(id, 30), how),
    ];
    let mut bt = Backtest::new(
        settings(feed_latency),
        vec![("rec".into(), Box::new(s))],
        sources,
    )
    .unwrap();
    let out = bt.run(500, |_| {}).unwrap();
    let t = trace.lock().unwrap().clone();
    (t, out)
}

#[test]
fn kernel_sees_every_event_once_in_time_order() {
    let id = veloz_sim::presets::usdm_btcusdt().id;
    let (trace, out) = run(How::Iterator, 30_000_000);
    let times: Vec<u64> = trace
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "clock went back");
    let synth = synth_events(3_000);
    let synth_trades = synth
        .iter()
        .filter(|e| matches!(e, MarketEvent::Trade(_)))
        .count();
    let trades = trace.iter().filter(|l| l.contains(" trade ")).count();
    assert_eq!(trades, synth_trades + 700);
    assert_eq!(trace.iter().filter(|l| l.contains(" bar ")).count(), 30);
    assert!(trace.iter().any(|l| l.contains(" timer 7")));
    // The engine gets each bar's intra-bar path instead of the bar.
    let tick = veloz_sim::presets::usdm_btcusdt().tick_size;
    let path: usize = bars(id, 30)
        .iter()
        .map(|e| match e {
            MarketEvent::Bar(b) => bar_events(b, tick, 0).len(),
            _ => 0,
        })
        .sum();
    assert_eq!(out.driver.data_events, 3_001 + 700 + 30);
    assert_eq!(out.driver.exchange_events, 3_001 + 700 + path as u64);
    // Every 50th jittered trade is stamped before its predecessor.
    assert_eq!(out.driver.out_of_order, 700 / 50);
    assert!(out.driver.commands > 0);
    // A jittered trade reaches the kernel at its own receive time.
    let jit = jittered_trades(id, 700);
    let MarketEvent::Trade(t3) = &jit[3] else {
        unreachable!()
    };
    let line = trace
        .iter()
        .find(|l| l.contains(&format!(" trade {} ", t3.trade_id.0)))
        .unwrap();
    assert!(
        line.starts_with(&format!("{} ", t3.times.local.0)),
        "{line}"
    );
}

#[test]
fn chunking_does_not_change_the_run() {
    for latency in [0, 30_000_000, 2_000_000_000] {
        let (a, oa) = run(How::Iterator, latency);
        for per_read in [1, 3, 1_000] {
            let (b, ob) = run(How::Chunks(per_read), latency);
            assert_eq!(a, b, "latency {latency}, {per_read} per read");
            assert_eq!(oa.fills, ob.fills);
            assert_eq!(oa.equity, ob.equity);
            assert_eq!(oa.driver, ob.driver);
            assert_eq!(oa.kernel, ob.kernel);
        }
    }
}

#[test]
fn a_source_error_stops_the_run_after_the_events_before_it() {
    let id = veloz_sim::presets::usdm_btcusdt().id;
    let trace: Trace = Arc::default();
    let s = Recorder {
        instrument: id,
        trace: trace.clone(),
        trades: 0,
    };
    let failing: DataSource = Box::new(Chunked {
        events: jittered_trades(id, 10).into_iter(),
        per_read: 4,
        fail: Some("disk read failed".into()),
    });
    let snapshot = synth_events(0);
    let mut bt = Backtest::new(
        settings(1_000_000),
        vec![("rec".into(), Box::new(s))],
        vec![source(snapshot, How::Iterator), failing],
    )
    .unwrap();
    let err = bt.run(u64::MAX, |_| {}).unwrap_err();
    assert!(
        matches!(&err, BacktestError::Data(e) if e.to_string() == "disk read failed"),
        "{err}"
    );
    // All ten trades reached the engine; the error came when the driver
    // asked for the eleventh.
    assert_eq!(bt.venue().exchange().now().0, {
        let MarketEvent::Trade(t) = &jittered_trades(id, 10)[9] else {
            unreachable!()
        };
        t.times.exchange.0
    });
}

/// Runs 300 jittered trades, the one at `bad` replaced by an error (and the
/// ones after it never to be read), alone or after an empty snapshot source:
/// the stopped backtest, its error and the engine's clock after the good
/// trades (one of them is stamped before its predecessor, so it is the
/// latest stamp, not the last).
fn run_to_damaged_row(bad: usize, alone: bool) -> (Backtest, BacktestError, UnixNanos) {
    let id = veloz_sim::presets::usdm_btcusdt().id;
    let trades = jittered_trades(id, 300);
    let last_good = trades[..bad]
        .iter()
        .map(|e| e.times().exchange)
        .max()
        .unwrap();
    let message = format!("row {} is damaged", bad + 1);
    let events = trades.into_iter().enumerate().map(move |(k, e)| {
        if k == bad {
            Err::<MarketEvent, DataError>(message.clone().into())
        } else {
            Ok(e)
        }
    });
    let mut sources: Vec<DataSource> = vec![Box::new(events)];
    if !alone {
        sources.insert(0, source(synth_events(0), How::Iterator));
    }
    let mut bt = Backtest::new(settings(1_000_000), vec![], sources).unwrap();
    let err = bt.run(u64::MAX, |_| {}).unwrap_err();
    (bt, err, last_good)
}

#[test]
fn an_iterator_error_stops_the_run_after_the_events_before_it() {
    // 200 trades, then an error, then more trades that must not be read.
    let (bt, err, last_good) = run_to_damaged_row(200, false);
    assert!(
        matches!(&err, BacktestError::Data(e) if e.to_string() == "row 201 is damaged"),
        "{err}"
    );
    assert_eq!(bt.venue().exchange().now(), last_good);
    assert!(bt.kernel().stats().inputs > 0);
}

#[test]
fn a_source_that_hands_over_nothing_has_ended() {
    /// Claims to have more but never appends anything.
    struct Empty;
    impl MarketSource for Empty {
        fn read(&mut self, _out: &mut Vec<MarketEvent>, _max: usize) -> Result<bool, DataError> {
            Ok(true)
        }
    }
    let id = veloz_sim::presets::usdm_btcusdt().id;
    let sources: Vec<DataSource> = vec![
        Box::new(Empty),
        source(jittered_trades(id, 20), How::Chunks(3)),
    ];
    let mut bt = Backtest::new(settings(0), vec![], sources).unwrap();
    let out = bt.run(u64::MAX, |_| {}).unwrap();
    assert_eq!(out.driver.data_events, 20);
}

/// Runs `events` as one source (the driver's one-source path), or with an
/// empty second source (the general merge), with the recorder trading on
/// the USD-M instrument and a progress report every `report_every` events:
/// the trace (with the progress reports), the run's result, and the venue's
/// clock at the end or at the stop.
fn run_with(
    events: Vec<MarketEvent>,
    how: How,
    cfg: BacktestSettings,
    report_every: u64,
    merged: bool,
) -> (Vec<String>, Result<RunOutput, String>, UnixNanos) {
    let id = veloz_sim::presets::usdm_btcusdt().id;
    let trace: Trace = Arc::default();
    let s = Recorder {
        instrument: id,
        trace: trace.clone(),
        trades: 0,
    };
    let mut sources = vec![source(events, how)];
    if merged {
        sources.push(Box::new(
            std::iter::empty::<Result<MarketEvent, DataError>>(),
        ));
    }
    let mut bt = Backtest::new(cfg, vec![("rec".into(), Box::new(s))], sources).unwrap();
    let mut reports = Vec::new();
    let out = bt
        .run(report_every, |p| reports.push(p))
        .map_err(|e| e.to_string());
    let mut t = trace.lock().unwrap().clone();
    t.extend(
        reports
            .iter()
            .map(|p| format!("progress {} {} {}", p.time.0, p.events, p.fills)),
    );
    (t, out, bt.venue().exchange().now())
}

/// [`run_with`] on the default instruments, a report every 97 events, for
/// a run that must succeed.
fn run_alone_or_merged(
    events: Vec<MarketEvent>,
    how: How,
    feed_latency: u64,
    merged: bool,
) -> (Vec<String>, RunOutput) {
    let (t, out, _) = run_with(events, how, settings(feed_latency), 97, merged);
    (t, out.unwrap())
}

#[test]
fn one_source_runs_as_the_general_merge_does() {
    let id = veloz_sim::presets::usdm_btcusdt().id;
    // A book with trades (orders, fills and timers), trades arriving out of
    // order with out-of-order stamps, bars, and all three in one stream.
    let mut mixed = synth_events(1_500);
    mixed.extend(jittered_trades(id, 300));
    mixed.extend(bars(id, 12));
    let feeds = [
        synth_events(3_000),
        jittered_trades(id, 700),
        bars(id, 30),
        mixed,
    ];
    for (k, events) in feeds.into_iter().enumerate() {
        for latency in [0, 30_000_000] {
            for how in [How::Iterator, How::Chunks(5), How::Chunks(1_000)] {
                let (a, oa) = run_alone_or_merged(events.clone(), how, latency, false);
                let (b, ob) = run_alone_or_merged(events.clone(), how, latency, true);
                // A report every 97 events (the bars alone are fewer).
                let reports = a.iter().filter(|l| l.starts_with("progress")).count();
                assert_eq!(reports as u64, oa.driver.data_events / 97, "feed {k}");
                assert_eq!(a, b, "feed {k}, latency {latency}");
                assert_eq!(oa.fills, ob.fills);
                assert_eq!(oa.equity, ob.equity);
                assert_eq!(oa.driver, ob.driver);
                assert_eq!(oa.kernel, ob.kernel);
            }
        }
    }
}

#[test]
fn one_source_error_stops_the_run_after_the_events_before_it() {
    let (bt, err, last_good) = run_to_damaged_row(250, true);
    assert!(
        matches!(&err, BacktestError::Data(e) if e.to_string() == "row 251 is damaged"),
        "{err}"
    );
    assert_eq!(bt.venue().exchange().now(), last_good);
}

/// Trades of `a` and `b` in runs of 1 to 4 of one instrument (so the next
/// event is often of the other one), on the jittered trades' clocks.
fn two_instrument_trades(a: InstrumentId, b: InstrumentId, n: usize) -> Vec<MarketEvent> {
    let mut evs = jittered_trades(a, n);
    for (k, e) in evs.iter_mut().enumerate() {
        if let MarketEvent::Trade(t) = e {
            if (k * 7 / 3) % 5 < 2 {
                t.instrument = b;
            }
        }
    }
    evs
}

/// [`run_with`] on the given instruments, a report every 31 events, the
/// run's error kept.
fn run_instruments(
    events: Vec<MarketEvent>,
    instruments: Vec<veloz_core::Instrument>,
    how: How,
    merged: bool,
) -> (Vec<String>, Result<RunOutput, String>, UnixNanos) {
    let mut cfg = settings(2_000_000);
    cfg.instruments = instruments;
    run_with(events, how, cfg, 31, merged)
}

/// One source of two instruments (the one-source path leaves an event of
/// another instrument than the one before it to the general path) runs as
/// the general merge does.
#[test]
fn one_source_of_two_instruments_runs_as_the_general_merge_does() {
    let usdm = veloz_sim::presets::usdm_btcusdt();
    let spot = veloz_sim::presets::spot_btcusdt();
    let events = two_instrument_trades(usdm.id, spot.id, 600);
    let both = || vec![usdm.clone(), spot.clone()];
    for how in [How::Iterator, How::Chunks(7), How::Chunks(1_000)] {
        let (a, oa, ta) = run_instruments(events.clone(), both(), how, false);
        let (b, ob, tb) = run_instruments(events.clone(), both(), how, true);
        let (oa, ob) = (oa.unwrap(), ob.unwrap());
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        assert_eq!(oa.driver, ob.driver);
        assert_eq!(oa.kernel, ob.kernel);
        assert_eq!(oa.fills, ob.fills);
        assert_eq!(oa.driver.data_events, 600);
        // The recorder trades on the USD-M trades only, and some filled.
        assert!(!oa.fills.is_empty());
    }
}

/// An event of an instrument the run does not simulate, amid a run of
/// events of a known one, stops the run with the same error, at the same
/// point, alone as merged.
#[test]
fn one_source_unknown_instrument_stops_the_run_as_the_general_merge_does() {
    let usdm = veloz_sim::presets::usdm_btcusdt();
    let spot = veloz_sim::presets::spot_btcusdt();
    let mut events = jittered_trades(usdm.id, 400);
    if let MarketEvent::Trade(t) = &mut events[333] {
        t.instrument = spot.id;
    }
    for how in [How::Iterator, How::Chunks(7), How::Chunks(1_000)] {
        let (a, oa, ta) = run_instruments(events.clone(), vec![usdm.clone()], how, false);
        let (b, ob, tb) = run_instruments(events.clone(), vec![usdm.clone()], how, true);
        let err = oa.unwrap_err();
        assert!(err.contains("not one of the run's instruments"), "{err}");
        assert_eq!(Err(err), ob.map(|_| ()));
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        // The engine had the events before it.
        assert!(ta >= events[332].times().exchange);
    }
}
