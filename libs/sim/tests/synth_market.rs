//! The synthetic market generator: determinism, Binance sync rules through
//! `veloz_exec::binance::book_sync`, book consistency (never crossed, quotes
//! equal the top, trades at book prices and removed by the next diff, REST
//! snapshots consistent with the stream), and the configured volatility and
//! trade rate over a long run (integer statistics only).

use veloz_core::events::{BookSnapshot, MarketEvent};
use veloz_core::{AggressorSide, Instrument, MarketKind, Price, Side};
use veloz_exec::binance::book_sync::{BookSync, DeltaOutcome, SnapshotOutcome};
use veloz_market::L2Book;
use veloz_sim::presets;
use veloz_sim::{SynthConfig, SynthError, SynthMarket};

fn instruments() -> [Instrument; 3] {
    [
        presets::spot_btcusdt(),
        presets::usdm_btcusdt(),
        presets::coinm_btcusd_perp(),
    ]
}

fn market(instrument: Instrument, config: SynthConfig) -> SynthMarket {
    SynthMarket::new(instrument, config).unwrap()
}

#[test]
fn same_seed_same_events_other_seed_other_events() {
    for inst in instruments() {
        let cfg = SynthConfig {
            seed: 42,
            ..SynthConfig::default()
        };
        let a: Vec<MarketEvent> = market(inst.clone(), cfg.clone()).take(20_000).collect();
        let b: Vec<MarketEvent> = market(inst.clone(), cfg.clone()).take(20_000).collect();
        assert_eq!(a, b, "{}", inst.id);
        let c: Vec<MarketEvent> = market(inst.clone(), SynthConfig { seed: 43, ..cfg })
            .take(20_000)
            .collect();
        assert_ne!(a, c, "{}", inst.id);
    }
}

fn same_book(book: &L2Book, snap: &BookSnapshot) {
    let bids: Vec<_> = book.levels(Side::Buy).collect();
    let asks: Vec<_> = book.levels(Side::Sell).collect();
    assert_eq!(bids, snap.bids);
    assert_eq!(asks, snap.asks);
}

#[derive(Debug, Default)]
struct Seen {
    deltas: usize,
    quotes: usize,
    trades: usize,
    marks: usize,
}

/// Runs `n` events through a BookSync and checks every rule; returns counts.
fn check_stream(inst: Instrument, cfg: SynthConfig, n: usize) -> Seen {
    let futures = inst.id.kind.is_futures();
    let tick = inst.tick_size.raw();
    let step = inst.lot.step.raw();
    let mut m = market(inst.clone(), cfg);
    let mut sync = BookSync::new(inst.id);
    let mut book = L2Book::new(inst.id);
    let mut seen = Seen::default();
    let mut prev_u: Option<u64> = None;
    let mut last_time = 0u64;
    let mut last_mark: Option<u64> = None;
    for i in 0..n {
        let e = m.next_event();
        let t = e.times().exchange.as_millis();
        assert!(t >= last_time, "time went backwards at event {i}");
        last_time = t;
        match e {
            MarketEvent::BookSnapshot(s) => {
                assert_eq!(i, 0, "only the first event is a snapshot");
                let out = sync.on_snapshot(&mut book, &s).unwrap();
                assert_eq!(out, SnapshotOutcome::AwaitingBridge { dropped: 0 });
                assert_eq!(s.bids.len(), m.config().levels as usize);
            }
            MarketEvent::BookDeltas(d) => {
                seen.deltas += 1;
                assert!(!d.deltas.is_empty());
                assert!(d.first_update_id <= d.last_update_id);
                if let Some(p) = prev_u {
                    if futures {
                        assert_eq!(d.prev_last_update_id, Some(p));
                    } else {
                        assert_eq!(d.prev_last_update_id, None);
                    }
                    assert_eq!(d.first_update_id, p + 1);
                }
                prev_u = Some(d.last_update_id);
                for x in &d.deltas {
                    assert!(x.level.price.raw() > 0);
                    assert_eq!(x.level.price.raw() % tick, 0);
                    assert_eq!(x.level.qty.raw() % step, 0);
                    assert!(x.level.qty.raw() >= 0);
                }
                let out = sync.on_deltas(&mut book, d).unwrap();
                if seen.deltas == 1 {
                    assert!(matches!(out, DeltaOutcome::Bridged(_)), "{out:?}");
                } else {
                    assert_eq!(out, DeltaOutcome::Applied);
                }
                assert!(!book.is_crossed());
                if seen.deltas % 500 == 1 {
                    book.check_invariants().unwrap();
                    let snap = m.book_snapshot(usize::MAX);
                    same_book(&book, &snap);
                    let expect = book.last_update_id() + u64::from(futures);
                    assert_eq!(snap.last_update_id, expect);
                }
            }
            MarketEvent::Quote(q) => {
                seen.quotes += 1;
                assert_eq!(Some(q.bid), book.best_bid(), "quote at event {i}");
                assert_eq!(Some(q.ask), book.best_ask(), "quote at event {i}");
                if i > 1 {
                    assert_eq!(q.update_id, Some(book.last_update_id()));
                }
                assert!(q.bid.price < q.ask.price);
            }
            MarketEvent::Trade(tr) => {
                seen.trades += 1;
                assert!(tr.qty.raw() > 0 && tr.qty.raw() % step == 0);
                let side = match tr.aggressor {
                    AggressorSide::Buyer => Side::Sell,
                    AggressorSide::Seller => Side::Buy,
                };
                // At a price the consumer's book holds, with at least that much.
                assert!(book.depth_at(side, tr.price) >= tr.qty, "trade {tr:?}");
                let best = book.best(side).unwrap().price;
                match side {
                    Side::Sell => assert!(tr.price >= best),
                    Side::Buy => assert!(tr.price <= best),
                }
            }
            MarketEvent::MarkPrice(mp) => {
                seen.marks += 1;
                assert!(futures, "spot has no mark price");
                assert_eq!(t % 1000, 0);
                if let Some(l) = last_mark {
                    assert_eq!(t, l + 1000, "one mark price per second");
                }
                last_mark = Some(t);
                let idx = mp.index.unwrap();
                let prem = (mp.mark.raw() - idx.raw()).abs();
                assert!(prem <= i64::from(m.config().premium_ticks) * tick);
                assert_eq!(mp.funding_rate, Some(m.config().funding_rate));
                let next = mp.next_funding_time.unwrap().as_millis();
                assert!(next > t && next - t <= 8 * 3_600_000);
                assert_eq!(next % (8 * 3_600_000), 0);
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    seen
}

#[test]
fn spot_stream_follows_sync_rules_for_100k_events() {
    let s = check_stream(presets::spot_btcusdt(), SynthConfig::default(), 100_000);
    assert!(
        s.deltas > 10_000 && s.trades > 10_000 && s.quotes > 10_000,
        "{s:?}"
    );
    assert_eq!(s.marks, 0);
}

#[test]
fn usdm_stream_follows_sync_rules_for_100k_events() {
    let s = check_stream(presets::usdm_btcusdt(), SynthConfig::default(), 100_000);
    assert!(
        s.deltas > 10_000 && s.trades > 10_000 && s.marks > 1_000,
        "{s:?}"
    );
}

#[test]
fn coinm_stream_follows_sync_rules_for_100k_events_at_250ms() {
    let cfg = SynthConfig {
        seed: 9,
        book_interval_ms: Some(250),
        ..SynthConfig::default()
    };
    let s = check_stream(presets::coinm_btcusd_perp(), cfg, 100_000);
    assert!(
        s.deltas > 5_000 && s.trades > 10_000 && s.marks > 1_000,
        "{s:?}"
    );
}

/// A late consumer: buffers the stream, then fetches a REST-style snapshot and
/// must bridge by Binance's procedure and stay equal to the generator's book.
#[test]
fn rest_snapshot_mid_stream_bridges() {
    for inst in instruments() {
        let mut m = market(inst.clone(), SynthConfig::default());
        for _ in 0..5_000 {
            m.next_event();
        }
        let mut sync = BookSync::new(inst.id);
        let mut book = L2Book::new(inst.id);
        let mut buffered = 0;
        while buffered < 3 {
            if let MarketEvent::BookDeltas(d) = m.next_event() {
                assert_eq!(
                    sync.on_deltas(&mut book, d).unwrap(),
                    DeltaOutcome::Buffered
                );
                buffered += 1;
            }
        }
        let snap = m.book_snapshot(usize::MAX);
        let out = sync.on_snapshot(&mut book, &snap).unwrap();
        let mut synced = matches!(out, SnapshotOutcome::Bridged { .. });
        assert!(
            synced || matches!(out, SnapshotOutcome::AwaitingBridge { .. }),
            "{}: {out:?}",
            inst.id
        );
        let mut diffs = 0;
        while diffs < 2_000 {
            if let MarketEvent::BookDeltas(d) = m.next_event() {
                diffs += 1;
                let out = sync.on_deltas(&mut book, d).unwrap();
                if synced {
                    assert_eq!(out, DeltaOutcome::Applied);
                } else {
                    assert!(matches!(out, DeltaOutcome::Bridged(_)), "{out:?}");
                    synced = true;
                }
                same_book(&book, &m.book_snapshot(usize::MAX));
            }
        }
        // A depth-limited snapshot is the top of the full one.
        let top5 = m.book_snapshot(5);
        assert_eq!(top5.bids, book.top(Side::Buy, 5));
        assert_eq!(top5.asks, book.top(Side::Sell, 5));
    }
}

#[test]
fn traded_quantity_leaves_the_book_in_the_next_diff() {
    let cfg = SynthConfig {
        seed: 5,
        refresh_levels: 0,
        price_step_ms: Some(60_000),
        trades_per_minute: 6_000,
        ..SynthConfig::default()
    };
    let inst = presets::usdm_btcusdt();
    let mut m = market(inst.clone(), cfg);
    let mut book = L2Book::new(inst.id);
    let mut pending = None;
    let mut checked = 0;
    for _ in 0..50_000 {
        match m.next_event() {
            MarketEvent::BookSnapshot(s) => book.apply_snapshot(&s).unwrap(),
            MarketEvent::Trade(t) => {
                let side = match t.aggressor {
                    AggressorSide::Buyer => Side::Sell,
                    AggressorSide::Seller => Side::Buy,
                };
                let before = book.depth_at(side, t.price);
                pending = Some((t, side, before));
            }
            MarketEvent::BookDeltas(d) => {
                book.apply_deltas(&d).unwrap();
                if let Some((t, side, before)) = pending.take() {
                    let at = d.times.exchange.as_millis();
                    if at == t.times.exchange.as_millis() && at % 60_000 != 0 {
                        let after = book.depth_at(side, t.price);
                        assert_eq!(after.raw(), before.raw() - t.qty.raw(), "{t:?}");
                        checked += 1;
                    }
                }
            }
            _ => {}
        }
    }
    assert!(checked > 5_000, "{checked}");
}

fn mid_x2(q: &veloz_core::events::Quote) -> i64 {
    q.bid.price.raw() + q.ask.price.raw()
}

/// Over an hour: realised variance of the one-second mid changes within 10 %
/// of the configured volatility, and the trade count within 5 % of the rate.
#[test]
fn realised_volatility_and_trade_rate_match_config() {
    let inst = presets::usdm_btcusdt();
    let tick = inst.tick_size.raw();
    let cfg = SynthConfig {
        seed: 77,
        volatility_cbps: 50,
        trades_per_minute: 900,
        ..SynthConfig::default()
    };
    let start_ticks = i128::from(cfg.start_price.raw() / tick);
    let secs: u64 = 3_600;
    let start = cfg.start_time_ms;
    let end = start + secs * 1000;
    let mut m = market(inst, cfg.clone());
    let mut last_mid: Option<i64> = None;
    let mut sample_prev: Option<i64> = None;
    let mut next_sample = start + 1000;
    let mut sum_sq: i128 = 0;
    let mut samples: i128 = 0;
    let mut trades: u64 = 0;
    loop {
        let e = m.next_event();
        let t = e.times().exchange.as_millis();
        while t >= next_sample && next_sample <= end {
            let mid = last_mid.unwrap();
            if let Some(p) = sample_prev {
                let d = i128::from(mid - p) / i128::from(tick); // half-ticks
                sum_sq += d * d;
                samples += 1;
            }
            sample_prev = Some(mid);
            next_sample += 1000;
        }
        if t >= end {
            break;
        }
        match e {
            MarketEvent::Quote(q) => last_mid = Some(mid_x2(&q)),
            MarketEvent::Trade(_) => trades += 1,
            _ => {}
        }
    }
    // Expected variance per second, in half-ticks²: 4 (vol · 1e-6 · price)².
    let sigma = i128::from(cfg.volatility_cbps) * start_ticks; // ticks · 1e6
    let expected = 4 * sigma * sigma * samples; // half-ticks² · 1e12
    let realised = sum_sq * 1_000_000_000_000;
    assert!(
        realised * 10 > expected * 9 && realised * 10 < expected * 11,
        "realised {realised} vs expected {expected} ({samples} samples)"
    );
    let expected_trades = u64::from(cfg.trades_per_minute) * secs / 60;
    assert!(
        trades * 100 > expected_trades * 95 && trades * 100 < expected_trades * 105,
        "{trades} trades vs {expected_trades}"
    );
}

#[test]
fn floor_reflects_and_prices_stay_positive() {
    let inst = presets::spot_btcusdt();
    let cfg = SynthConfig {
        seed: 3,
        start_price: Price::parse("0.40").unwrap(),
        volatility_cbps: 100_000,
        levels: 10,
        ..SynthConfig::default()
    };
    let floor = i64::from(cfg.levels) + 2 * i64::from(cfg.mean_spread_ticks) + 1;
    let mut m = market(inst, cfg);
    let mut min_fair = i64::MAX;
    for _ in 0..50_000 {
        match m.next_event() {
            MarketEvent::BookDeltas(d) => {
                for x in &d.deltas {
                    assert!(x.level.price.raw() > 0);
                }
            }
            MarketEvent::Quote(q) => assert!(q.bid.price.raw() > 0),
            MarketEvent::Trade(t) => assert!(t.price.raw() > 0),
            _ => {}
        }
        min_fair = min_fair.min(m.fair_ticks());
        assert!(m.fair_ticks() >= floor);
    }
    // The walk did reach the floor region (the test exercises the reflection).
    assert!(min_fair < floor + 5, "{min_fair}");
}

#[test]
fn config_deserialises_with_defaults_and_rejects_bad_settings() {
    let cfg: SynthConfig =
        serde_json::from_str(r#"{"seed":7,"start_price":"30000.5","book_interval_ms":250}"#)
            .unwrap();
    assert_eq!(cfg.seed, 7);
    assert_eq!(cfg.start_price, Price::parse("30000.5").unwrap());
    assert_eq!(cfg.book_interval_ms, Some(250));
    assert_eq!(cfg.levels, SynthConfig::default().levels);
    assert!(serde_json::from_str::<SynthConfig>(r#"{"sead":7}"#).is_err());

    let bad = |cfg: SynthConfig| SynthMarket::new(presets::spot_btcusdt(), cfg).unwrap_err();
    assert!(matches!(
        bad(SynthConfig {
            min_spread_ticks: 3,
            mean_spread_ticks: 2,
            ..SynthConfig::default()
        }),
        SynthError::BadSetting {
            field: "mean_spread_ticks",
            ..
        }
    ));
    assert!(matches!(
        bad(SynthConfig {
            book_interval_ms: Some(100),
            price_step_ms: Some(150),
            ..SynthConfig::default()
        }),
        SynthError::BadSetting {
            field: "price_step_ms",
            ..
        }
    ));
    assert!(matches!(
        bad(SynthConfig {
            start_price: Price::parse("0.10").unwrap(),
            ..SynthConfig::default()
        }),
        SynthError::BadSetting {
            field: "start_price",
            ..
        }
    ));
    let mut no_tick = presets::spot_btcusdt();
    no_tick.tick_size = Price::ZERO;
    assert!(matches!(
        SynthMarket::new(no_tick, SynthConfig::default()),
        Err(SynthError::NoGrid { .. })
    ));
    assert_eq!(presets::spot_btcusdt().id.kind, MarketKind::Spot);
}
