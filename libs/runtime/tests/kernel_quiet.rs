//! `Kernel::handle_market_quiet` is `Kernel::handle_market` without the
//! returned audit: the same inputs through both give the same state, commands,
//! counters, strategy log and journal, on the common step (no action queued),
//! on a step whose callback queues an order (the general path), on a refused
//! book update, and with a journal attached.

use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, Quantity, Side, UnixNanos};
use veloz_runtime::{
    Context, Kernel, KernelConfig, MemoryJournal, OrderRequest, RecordingVenue, Strategy,
};
use veloz_sim::{SynthConfig, SynthMarket};

/// Quotes once on the first book it sees, then every 50th book, and logs
/// each book callback.
#[derive(Debug, Default)]
struct EveryFiftieth {
    books: usize,
}

impl Strategy for EveryFiftieth {
    fn name(&self) -> &str {
        "every50"
    }
    fn on_book(&mut self, ctx: &mut Context<'_>, instrument: InstrumentId) {
        self.books += 1;
        if self.books % 50 == 1 {
            if let Some((bid, _)) = ctx.best_bid_ask(instrument) {
                let q = Quantity::parse("0.010").unwrap();
                let _ = ctx.submit(OrderRequest::limit(instrument, Side::Buy, q, bid));
            }
        }
        ctx.log(format!("book {}", self.books));
    }
}

fn events() -> Vec<MarketEvent> {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let mut m = SynthMarket::new(inst, SynthConfig::default()).unwrap();
    let mut out = vec![MarketEvent::BookSnapshot(m.book_snapshot(20))];
    let mut bad_done = false;
    while out.len() < 400 {
        let ev = m.next_event();
        if let (MarketEvent::BookDeltas(d), false) = (&ev, bad_done) {
            if out.len() > 100 {
                // One refused update (negative quantity) in the middle.
                let mut bad = d.clone();
                bad.deltas.as_mut_slice()[0].level.qty = Quantity::from_raw(-1, 3);
                out.push(MarketEvent::BookDeltas(bad));
                bad_done = true;
                continue;
            }
        }
        out.push(ev);
    }
    assert!(bad_done);
    out
}

fn kernel(journal: bool) -> Kernel {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let mut k = Kernel::new(&KernelConfig::default()).unwrap();
    k.add_instrument(inst);
    k.add_strategy("s", Box::new(EveryFiftieth::default()))
        .unwrap();
    if journal {
        k.set_journal(Box::new(MemoryJournal::default()));
    }
    k
}

fn check_same(journal: bool) {
    let evs = events();
    let (mut loud, mut quiet) = (kernel(journal), kernel(journal));
    let (mut v1, mut v2) = (RecordingVenue::default(), RecordingVenue::default());
    let mut commands = 0;
    let mut notes = 0;
    for (i, ev) in evs.iter().enumerate() {
        let t = UnixNanos(1_000 + i as u64);
        let a = loud.handle_market(t, ev, &mut v1).unwrap();
        commands += a.commands;
        notes += a.notes.len();
        quiet.handle_market_quiet(t, ev, &mut v2).unwrap();
    }
    // Both paths were taken: steps that sent orders and steps that did not,
    // and one refused update.
    assert!(
        commands > 1 && (commands as usize) < evs.len(),
        "{commands}"
    );
    assert_eq!(notes, 1);
    assert_eq!(loud.stats(), quiet.stats());
    assert_eq!(loud.stats().book_errors, 1);
    assert_eq!(v1, v2);
    assert_eq!(loud.state(), quiet.state());
    assert_eq!(loud.strategy_log(), quiet.strategy_log());
    assert_eq!(loud.now(), quiet.now());
    let id = veloz_sim::presets::usdm_btcusdt().id;
    assert_eq!(
        loud.market().books.get(&id).map(|b| b.top(Side::Buy, 5)),
        quiet.market().books.get(&id).map(|b| b.top(Side::Buy, 5))
    );
    if journal {
        let (j1, j2) = (loud.take_journal().unwrap(), quiet.take_journal().unwrap());
        let (e1, e2) = (j1.entries().unwrap(), j2.entries().unwrap());
        assert_eq!(e1.len(), evs.len());
        assert_eq!(e1, e2);
    }
}

#[test]
fn quiet_market_step_equals_audited_step() {
    check_same(false);
}

#[test]
fn quiet_market_step_equals_audited_step_with_journal() {
    check_same(true);
}
