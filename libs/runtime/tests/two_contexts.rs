//! One strategy type, written only against the SDK, built for two contexts:
//! the backtest driver, and a live-style kernel whose inputs arrive on a
//! queue from other threads with wall-clock times and whose venue is a queue
//! to an I/O thread (the shape of paper and live trading; here the I/O
//! thread hosts a `SimExchange` as a stand-in for Binance, since the machine
//! has no network).

use std::sync::mpsc;
use std::thread;

use veloz_core::events::{Command, MarketEvent, Quote};
use veloz_core::{Clock, InstrumentId, LiveClock, Money, Quantity, Side, UnixNanos};
use veloz_runtime::{
    Backtest, BacktestSettings, Context, Input, Kernel, KernelConfig, OrderRequest, Strategy, Venue,
};
use veloz_sim::backtest::ConstantLatency;
use veloz_sim::{AccountId, ConservativeQueue, SimExchange, SimReport};

/// Buys once at the ask after seeing `wait` quotes.
#[derive(Debug)]
struct BuyAfter {
    instrument: InstrumentId,
    wait: u32,
    seen: u32,
}

impl Strategy for BuyAfter {
    fn name(&self) -> &str {
        "buy_after"
    }
    fn on_quote(&mut self, ctx: &mut Context<'_>, q: &Quote) {
        if q.instrument != self.instrument {
            return;
        }
        self.seen += 1;
        if self.seen == self.wait {
            let qty = Quantity::parse("0.010").unwrap();
            let _ = ctx.submit(OrderRequest::limit(
                q.instrument,
                Side::Buy,
                qty,
                q.ask.price,
            ));
        }
    }
}

fn strategy(instrument: InstrumentId) -> Box<dyn Strategy> {
    Box::new(BuyAfter {
        instrument,
        wait: 3,
        seen: 0,
    })
}

fn quotes(n: usize) -> Vec<MarketEvent> {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let mut m =
        veloz_sim::SynthMarket::new(inst.clone(), veloz_sim::SynthConfig::default()).unwrap();
    let mut out = vec![MarketEvent::BookSnapshot(m.book_snapshot(20))];
    while out.len() < n {
        if let MarketEvent::BookDeltas(d) = m.next_event() {
            out.push(MarketEvent::BookDeltas(d));
            // A quote from the synthetic book's top after each diff.
            let s = m.book_snapshot(1);
            if let (Some(b), Some(a)) = (s.bids.first(), s.asks.first()) {
                out.push(MarketEvent::Quote(Quote {
                    instrument: inst.id,
                    bid: *b,
                    ask: *a,
                    update_id: None,
                    times: s.times,
                }));
            }
        }
    }
    out
}

fn usdt(x: &str) -> Money {
    Money::parse(x, veloz_core::Currency::new("USDT").unwrap()).unwrap()
}

#[test]
fn the_same_strategy_runs_in_a_backtest() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let settings = BacktestSettings {
        instruments: vec![inst],
        balances: vec![usdt("10000")],
        leverage: Some(5),
        queue: Box::new(ConservativeQueue),
        entry_latency: Box::new(ConstantLatency(1_000_000)),
        response_latency: Box::new(ConstantLatency(1_000_000)),
        feed_latency: Box::new(ConstantLatency(1_000_000)),
        equity_interval_nanos: 0,
        kernel: KernelConfig::default(),
    };
    let data = quotes(50);
    let mut bt = Backtest::new(
        settings,
        vec![("s1".into(), strategy(id))],
        vec![Box::new(data.into_iter().map(Ok))],
    )
    .unwrap();
    let out = bt.run(100, |_| {}).unwrap();
    assert_eq!(out.fills.len(), 1, "{:?}", out.kernel);
    assert_eq!(out.fills[0].fill.qty, Quantity::parse("0.010").unwrap());
}

/// Commands go to the I/O thread over a queue, as a live adapter's would.
#[derive(Debug)]
struct QueueVenue(mpsc::Sender<(UnixNanos, Command)>);

impl Venue for QueueVenue {
    fn send(&mut self, command: &Command, now: UnixNanos) {
        let _ = self.0.send((now, command.clone()));
    }
}

#[test]
fn the_same_strategy_runs_in_a_live_style_kernel() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let (in_tx, in_rx) = mpsc::channel::<Input>();
    let (cmd_tx, cmd_rx) = mpsc::channel::<(UnixNanos, Command)>();

    // I/O thread: the venue. Applies market data and commands, sends reports
    // back to the kernel's input queue.
    let feed = quotes(50);
    let venue_inputs = in_tx.clone();
    let venue_inst = inst.clone();
    let io = thread::spawn(move || {
        let mut ex = SimExchange::default();
        ex.add_instrument(venue_inst, veloz_sim::InstrumentSettings::default())
            .unwrap();
        let acct = AccountId(1);
        ex.open_account(acct);
        ex.deposit_futures(acct, usdt("10000")).unwrap();
        let forward = |ex: &mut SimExchange| {
            for r in ex.take_reports() {
                match r {
                    SimReport::Order(o) if o.account == acct => {
                        let _ = venue_inputs.send(Input::Order(o.event));
                    }
                    SimReport::Account { account, event } if account == acct => {
                        let _ = venue_inputs.send(Input::Account(event));
                    }
                    _ => {}
                }
            }
        };
        let mut submitted = 0;
        for ev in feed {
            ex.on_market_event(&ev).unwrap();
            forward(&mut ex);
            let _ = venue_inputs.send(Input::Market(ev));
            // Take whatever the kernel sent meanwhile.
            while let Ok((_, Command::Submit(o))) = cmd_rx.try_recv() {
                let now = ex.now();
                let _ = ex.submit(acct, &o, None, now);
                forward(&mut ex);
                submitted += 1;
            }
        }
        // The strategy sends one order; wait for it if it is still on its way
        // (the bound only guards against a hang).
        if submitted == 0 {
            if let Ok((_, Command::Submit(o))) =
                cmd_rx.recv_timeout(std::time::Duration::from_secs(60))
            {
                let now = ex.now();
                let _ = ex.submit(acct, &o, None, now);
                forward(&mut ex);
            }
        }
        let _ = venue_inputs.send(Input::Stop);
    });
    drop(in_tx);

    // Kernel thread (here: the test thread): inputs from the queue, time
    // from the wall clock.
    let mut kernel = Kernel::new(&KernelConfig::default()).unwrap();
    kernel.add_instrument(inst);
    kernel.add_strategy("s1", strategy(id)).unwrap();
    let mut venue = QueueVenue(cmd_tx);
    let clock = LiveClock;
    kernel
        .handle(clock.now(), Input::Start, &mut venue)
        .unwrap();
    for input in in_rx {
        let stop = matches!(input, Input::Stop);
        kernel.handle(clock.now(), input, &mut venue).unwrap();
        if stop {
            break;
        }
    }
    drop(venue);
    io.join().unwrap();
    assert_eq!(kernel.fills().len(), 1, "{:?}", kernel.stats());
    let pos = kernel.portfolio().position(id).unwrap();
    assert_eq!(pos.qty(), Quantity::parse("0.010").unwrap());
}
