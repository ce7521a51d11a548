//! `Strategy::subscriptions`: a strategy gets only the market data callbacks
//! it subscribed to, whatever the others subscribed to, and the market state
//! it reads is up to date either way. Covers every strategy subscribed (the
//! default), a mix, and none subscribed.

use std::sync::{Arc, Mutex};

use veloz_core::events::{EventTimes, Level, MarkPrice, MarketEvent, Quote};
use veloz_core::{InstrumentId, Price, Quantity, UnixNanos};
use veloz_runtime::strategy::Subscriptions;
use veloz_runtime::{Context, Kernel, KernelConfig, RecordingVenue, Strategy};
use veloz_sim::{SynthConfig, SynthMarket};

/// Callback counts `[book, quote, trade, mark]`, and the best bid and ask
/// read on each timer.
#[derive(Debug, Default)]
struct Seen {
    counts: [usize; 4],
    read: Vec<Option<(Price, Price)>>,
}

#[derive(Debug)]
struct Counter {
    subs: Option<Subscriptions>,
    instrument: InstrumentId,
    seen: Arc<Mutex<Seen>>,
}

impl Counter {
    fn bump(&self, i: usize) {
        self.seen.lock().unwrap().counts[i] += 1;
    }
}

impl Strategy for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    fn subscriptions(&self) -> Subscriptions {
        self.subs.unwrap_or(Subscriptions::ALL)
    }
    fn on_book(&mut self, _ctx: &mut Context<'_>, _instrument: InstrumentId) {
        self.bump(0);
    }
    fn on_quote(&mut self, _ctx: &mut Context<'_>, _quote: &Quote) {
        self.bump(1);
    }
    fn on_trade(&mut self, _ctx: &mut Context<'_>, _trade: &veloz_core::events::Trade) {
        self.bump(2);
    }
    fn on_mark_price(&mut self, _ctx: &mut Context<'_>, _mark: &MarkPrice) {
        self.bump(3);
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(UnixNanos(1_000_000), 1);
    }
    fn on_timer(&mut self, ctx: &mut Context<'_>, _tag: u64) {
        let read = ctx.best_bid_ask(self.instrument);
        self.seen.lock().unwrap().read.push(read);
    }
}

/// Runs the same feed through a kernel with one strategy per entry of
/// `subs` (`None` = the default); returns what each saw.
fn run(subs: &[Option<Subscriptions>]) -> Vec<Seen> {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let mut k = Kernel::new(&KernelConfig::default()).unwrap();
    k.add_instrument(inst.clone());
    let seen: Vec<Arc<Mutex<Seen>>> = subs.iter().map(|_| Arc::default()).collect();
    for (i, (s, seen)) in subs.iter().zip(&seen).enumerate() {
        let c = Counter {
            subs: *s,
            instrument: id,
            seen: seen.clone(),
        };
        k.add_strategy(&format!("s{i}"), Box::new(c)).unwrap();
    }
    let mut venue = RecordingVenue::default();
    k.handle(UnixNanos(1), veloz_runtime::Input::Start, &mut venue)
        .unwrap();
    let mut m = SynthMarket::new(inst, SynthConfig::default()).unwrap();
    let mut evs = vec![MarketEvent::BookSnapshot(m.book_snapshot(20))];
    while evs.len() < 300 {
        evs.push(m.next_event());
    }
    let lv = |p: i64| Level {
        price: Price::from_raw(p, 2),
        qty: Quantity::from_raw(100_000, 3),
    };
    evs.push(MarketEvent::Quote(Quote {
        instrument: id,
        bid: lv(6_000_000_000_000),
        ask: lv(6_000_010_000_000),
        update_id: None,
        times: EventTimes::new(UnixNanos(2), UnixNanos(2)),
    }));
    evs.push(MarketEvent::MarkPrice(MarkPrice {
        instrument: id,
        mark: Price::from_raw(6_000_000_000_000, 2),
        index: None,
        funding_rate: None,
        next_funding_time: None,
        times: EventTimes::new(UnixNanos(2), UnixNanos(2)),
    }));
    for (i, ev) in evs.iter().enumerate() {
        k.handle_market(UnixNanos(2 + i as u64), ev, &mut venue)
            .unwrap();
    }
    k.handle(
        UnixNanos(2_000_000),
        veloz_runtime::Input::Timer,
        &mut venue,
    )
    .unwrap();
    let expect_read = k.market().best_bid_ask(id);
    assert!(expect_read.is_some());
    seen.iter()
        .map(|s| {
            let s = std::mem::take(&mut *s.lock().unwrap());
            // Every strategy reads the same, current book.
            assert_eq!(s.read, vec![expect_read]);
            s
        })
        .collect()
}

#[test]
fn strategies_get_only_the_market_callbacks_they_subscribed_to() {
    // Everyone subscribed (the default): the reference counts.
    let all = run(&[None, None]);
    let full = all[0].counts;
    assert_eq!(all[1].counts, full);
    assert!(full.iter().all(|&n| n > 0), "{full:?}");

    // A mix: each gets its own kinds only.
    let books_trades = Subscriptions::BOOKS | Subscriptions::TRADES;
    let mix = run(&[
        Some(Subscriptions::NONE),
        Some(books_trades),
        None,
        Some(Subscriptions::QUOTES.union(Subscriptions::MARK_PRICES)),
    ]);
    assert_eq!(mix[0].counts, [0, 0, 0, 0]);
    assert_eq!(mix[1].counts, [full[0], 0, full[2], 0]);
    assert_eq!(mix[2].counts, full);
    assert_eq!(mix[3].counts, [0, full[1], 0, full[3]]);

    // Nobody subscribed: no callback, the state is still kept.
    let none = run(&[Some(Subscriptions::NONE), Some(Subscriptions::NONE)]);
    assert!(none.iter().all(|s| s.counts == [0, 0, 0, 0]));

    assert!(Subscriptions::ALL.contains(books_trades));
    assert!(!books_trades.contains(Subscriptions::QUOTES));
    assert_eq!(
        books_trades.intersection(Subscriptions::TRADES | Subscriptions::BARS),
        Subscriptions::TRADES
    );
}
