//! The kernel in a real backtest on the simulated venue: fills happen, the
//! kernel's positions equal the venue's, two runs are identical, and a
//! journal replay rebuilds the same state and the same commands.

use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, Money, Quantity, Side, UnixNanos};
use veloz_runtime::backtest::DataSource;
use veloz_runtime::{
    Backtest, BacktestSettings, Context, Journal, Kernel, KernelConfig, MemoryJournal,
    OrderRequest, RecordingVenue, Strategy,
};
use veloz_sim::backtest::ConstantLatency;
use veloz_sim::{ConservativeQueue, SynthConfig, SynthMarket};

/// Quotes one lot at the best bid and ask, requotes every second, and keeps
/// |position| within a limit.
#[derive(Debug)]
struct Quoter {
    instrument: InstrumentId,
    qty: Quantity,
    limit_raw: i64,
}

impl Strategy for Quoter {
    fn name(&self) -> &str {
        "quoter"
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let t = ctx.now();
        ctx.set_timer(UnixNanos(t.0 + 1_000_000_000), 1);
    }
    fn on_timer(&mut self, ctx: &mut Context<'_>, _tag: u64) {
        let ids: Vec<_> = ctx
            .open_orders(self.instrument)
            .map(|o| o.client_order_id())
            .collect();
        for id in ids {
            let _ = ctx.cancel(id);
        }
        let t = ctx.now();
        ctx.set_timer(UnixNanos(t.0 + 1_000_000_000), 1);
    }
    fn on_book(&mut self, ctx: &mut Context<'_>, instrument: InstrumentId) {
        if instrument != self.instrument || ctx.open_orders(instrument).next().is_some() {
            return;
        }
        let Some((bid, ask)) = ctx.best_bid_ask(instrument) else {
            return;
        };
        let pos = ctx.position(instrument).map(|p| p.qty_raw).unwrap_or(0);
        if pos < self.limit_raw {
            let _ =
                ctx.submit(OrderRequest::limit(instrument, Side::Buy, self.qty, bid).post_only());
        }
        if pos > -self.limit_raw {
            let _ =
                ctx.submit(OrderRequest::limit(instrument, Side::Sell, self.qty, ask).post_only());
        }
    }
}

fn data(n: usize) -> DataSource {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let mut m = SynthMarket::new(
        inst,
        SynthConfig {
            seed: 7,
            trades_per_minute: 600,
            volatility_cbps: 300,
            ..SynthConfig::default()
        },
    )
    .unwrap();
    let mut evs = vec![MarketEvent::BookSnapshot(m.book_snapshot(50))];
    for _ in 0..n {
        evs.push(m.next_event());
    }
    Box::new(evs.into_iter().map(Ok))
}

fn backtest(n: usize) -> Backtest {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let settings = BacktestSettings {
        instruments: vec![inst],
        balances: vec![Money::parse("100000", veloz_core::Currency::new("USDT").unwrap()).unwrap()],
        leverage: Some(10),
        queue: Box::new(ConservativeQueue),
        entry_latency: Box::new(ConstantLatency(2_000_000)),
        response_latency: Box::new(ConstantLatency(2_000_000)),
        feed_latency: Box::new(ConstantLatency(1_000_000)),
        equity_interval_nanos: 60_000_000_000,
        kernel: KernelConfig::default(),
    };
    let s = Quoter {
        instrument: id,
        qty: Quantity::parse("0.010").unwrap(),
        limit_raw: 5_000_000,
    };
    Backtest::new(settings, vec![("q1".into(), Box::new(s))], vec![data(n)]).unwrap()
}

#[test]
fn fills_happen_and_kernel_positions_equal_the_venue() {
    let mut bt = backtest(20_000);
    let out = bt.run(1_000, |_| {}).unwrap();
    assert!(out.fills.len() > 10, "only {} fills", out.fills.len());
    assert!(out.driver.commands > 20);
    assert_eq!(out.kernel.refused_order_events, 0, "{:?}", out.kernel);
    assert_eq!(out.kernel.external_order_events, 0);
    let id = veloz_sim::presets::usdm_btcusdt().id;
    let ours = bt.kernel().portfolio().position(id).unwrap().qty_raw;
    let venue: i64 = bt
        .venue()
        .exchange()
        .positions(bt.venue().account())
        .iter()
        .filter(|p| p.instrument == id)
        .map(|p| p.qty.raw())
        .sum();
    assert_eq!(ours, venue, "kernel position differs from the venue's");
    assert!(ours.abs() <= 5_000_000 + 1_000_000);
    // Every order is closed or still working at the venue, none in flight forever.
    let open_local = bt.kernel().orders().open_orders(Some(id)).count();
    let open_venue = bt
        .venue()
        .exchange()
        .open_orders(bt.venue().account(), id)
        .len();
    assert_eq!(open_local, open_venue);
    assert!(out.equity.len() >= 2);
}

#[test]
fn two_runs_are_identical() {
    let a = backtest(8_000).run(1_000, |_| {}).unwrap();
    let b = backtest(8_000).run(1_000, |_| {}).unwrap();
    assert!(!a.fills.is_empty());
    assert_eq!(a.fills, b.fills);
    assert_eq!(a.equity, b.equity);
    assert_eq!(a.kernel, b.kernel);
}

#[test]
fn journal_replay_rebuilds_state_and_commands() {
    let mut bt = backtest(8_000);
    bt.kernel_mut().set_journal(Box::new(MemoryJournal::new()));
    let out = bt.run(1_000, |_| {}).unwrap();
    assert!(!out.fills.is_empty());
    let journal: Box<dyn Journal> = bt.kernel_mut().take_journal().unwrap();
    let entries = journal.entries().unwrap();
    assert_eq!(entries.len() as u64, out.driver.kernel_inputs);
    assert!(entries.windows(2).all(|w| w[1].seq == w[0].seq + 1));

    let mut fresh = Kernel::new(&KernelConfig::default()).unwrap();
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    fresh.add_instrument(inst);
    fresh
        .add_strategy(
            "q1",
            Box::new(Quoter {
                instrument: id,
                qty: Quantity::parse("0.010").unwrap(),
                limit_raw: 5_000_000,
            }),
        )
        .unwrap();
    let mut venue = RecordingVenue::default();
    fresh.replay(entries, &mut venue).unwrap();
    assert_eq!(fresh.state(), bt.kernel().state());
    assert_eq!(venue.sent.len() as u64, out.driver.commands);
    assert_eq!(fresh.fills(), bt.kernel().fills());
}

#[test]
fn journal_round_trips_through_a_file() {
    let dir = std::env::temp_dir().join(format!("veloz-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.jsonl");
    let mut bt = backtest(3_000);
    bt.kernel_mut().set_journal(Box::new(
        veloz_runtime::JsonLinesJournal::create(&path).unwrap(),
    ));
    let out = bt.run(1_000, |_| {}).unwrap();
    bt.kernel_mut().take_journal().unwrap().flush().unwrap();
    let entries = veloz_runtime::JsonLinesJournal::read(&path).unwrap();
    assert_eq!(entries.len() as u64, out.driver.kernel_inputs);
    std::fs::write(&path, "{not json}\n").unwrap();
    let e = veloz_runtime::JsonLinesJournal::read(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains(":1:"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Counts book callbacks and quotes once, on the first book it sees.
#[derive(Debug, Default)]
struct BookCounter {
    books: usize,
}

impl Strategy for BookCounter {
    fn name(&self) -> &str {
        "books"
    }
    fn on_book(&mut self, ctx: &mut Context<'_>, instrument: InstrumentId) {
        self.books += 1;
        if self.books == 1 {
            if let Some((bid, _)) = ctx.best_bid_ask(instrument) {
                let q = Quantity::parse("0.010").unwrap();
                let _ = ctx.submit(OrderRequest::limit(instrument, Side::Buy, q, bid));
            }
        }
        ctx.log(format!("book {}", self.books));
    }
}

/// `handle_market` without and with queued actions, and a refused update:
/// the refusal is counted and noted, and no callback runs for it.
#[test]
fn handle_market_applies_books_and_notes_refused_updates() {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let mut k = Kernel::new(&KernelConfig::default()).unwrap();
    k.add_instrument(inst.clone());
    k.add_strategy("b1", Box::new(BookCounter::default()))
        .unwrap();
    let mut venue = RecordingVenue::default();
    let mut m = SynthMarket::new(inst, SynthConfig::default()).unwrap();
    let snap = MarketEvent::BookSnapshot(m.book_snapshot(20));
    let a = k.handle_market(UnixNanos(1), &snap, &mut venue).unwrap();
    assert_eq!((a.seq, a.commands, a.notes.len()), (1, 1, 0));
    assert_eq!(venue.sent.len(), 1);
    let mut good = None;
    while good.is_none() {
        if let MarketEvent::BookDeltas(d) = m.next_event() {
            good = Some(d);
        }
    }
    let good = good.unwrap();
    let a = k
        .handle_market(
            UnixNanos(2),
            &MarketEvent::BookDeltas(good.clone()),
            &mut venue,
        )
        .unwrap();
    assert_eq!((a.seq, a.commands, a.notes.len()), (2, 0, 0));
    let mut bad = good;
    bad.deltas.as_mut_slice()[0].level.qty = Quantity::from_raw(-1, 3);
    let a = k
        .handle_market(UnixNanos(3), &MarketEvent::BookDeltas(bad), &mut venue)
        .unwrap();
    assert_eq!(a.seq, 3);
    assert_eq!(a.notes.len(), 1, "{:?}", a.notes);
    assert!(a.notes[0].contains("refused"), "{:?}", a.notes);
    assert_eq!(k.stats().book_errors, 1);
    assert_eq!(k.stats().inputs, 3);
    // Two callbacks (the refused update made none), each logged.
    assert_eq!(k.strategy_log().len(), 2);
    assert!(k.market().best_bid_ask(id).is_some());
}
