//! Synthetic market data for the throughput benchmark, with the same shape,
//! event counts and timings as the peer scripts' generators (the values come
//! from a seeded ChaCha8 generator, so they are not numpy's numbers, but every
//! distribution and every rule is the same).
//!
//! * [`l2_feed`]: the hftbacktest workload (`hftbt_bench.py`): one step every
//!   10 ms; per step five single-level depth updates (delete the level the mid
//!   crossed or refresh the second bid, best bid, best ask, one random deeper
//!   bid and ask with 20 % deletions) and a trade on every 4th step; exchange
//!   time `t0 + step * 10 ms + slot` ns, local time 5 ms later.
//! * [`quote_feed`]: the NautilusTrader workload (`nautilus_bench.py`): N best
//!   bid/offer quotes 100 ms apart around a random-walk mid, spread 1 to 3
//!   ticks.
//!
//! A feed is held as compact rows ([`Row`], 56 bytes: times, ticks, lots,
//! ids), as the peers hold theirs in numpy arrays, and becomes
//! [`MarketEvent`]s as the backtest reads it, a chunk at a time
//! ([`Feed::into_source`]): that conversion is part of the timed run.
//!
//! Prices and quantities are built from integers (ticks and lots) only.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use veloz_core::events::{
    BookDelta, BookDeltas, DeltaList, EventTimes, Level, MarketEvent, Quote, Trade,
};
use veloz_core::{
    AggressorSide, Instrument, InstrumentId, Price, Quantity, Side, TradeId, UnixNanos,
    FIXED_PRECISION,
};
use veloz_runtime::backtest::{DataError, MarketSource};

/// Exchange time of the first event (the peers' `t0`, 2023-11-14).
pub const T0: u64 = 1_700_000_000_000_000_000;
/// Step of the L2 feed.
pub const L2_STEP_NANOS: u64 = 10_000_000;
/// Feed latency of the L2 feed (local time = exchange time + this).
pub const FEED_LATENCY_NANOS: u64 = 5_000_000;
/// Interval between quotes of the quote feed.
pub const QUOTE_STEP_NANOS: u64 = 100_000_000;
/// Start mid of the L2 feed, in ticks (50 000.0 with a 0.1 tick).
pub const L2_START_MID_TICKS: i64 = 500_000;
/// Start mid of the quote feed, in ticks.
pub const QUOTE_START_MID_TICKS: i64 = 500_000;

/// What a [`Row`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A one-level depth update (`p1`/`q1`: price ticks and lots, 0 lots
    /// deletes; `id`: the update id).
    Depth(Side),
    /// A trade (`p1`/`q1`; `id`: the trade id).
    Trade(AggressorSide),
    /// A best bid/offer (`p1`/`q1` bid, `p2`/`q2` ask).
    Quote,
}

/// One event of a feed, compact: prices in ticks and sizes in lots of the
/// benchmark instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Exchange time, nanoseconds.
    pub exchange: u64,
    /// Local (receive) time, nanoseconds.
    pub local: u64,
    /// Update id or trade id.
    pub id: u64,
    /// First price, ticks.
    pub p1: i64,
    /// Second price, ticks (quotes).
    pub p2: i64,
    /// First size, lots.
    pub q1: i32,
    /// Second size, lots (quotes).
    pub q2: i32,
    /// What the row is.
    pub kind: RowKind,
}

/// Turns rows into market events of one instrument.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    id: InstrumentId,
    tick: i64,
    step: i64,
    price_precision: u8,
    qty_precision: u8,
}

impl Decoder {
    /// A decoder for `inst`'s tick and step.
    pub fn new(inst: &Instrument) -> Self {
        Self {
            id: inst.id,
            tick: inst.tick_size.raw(),
            step: inst.lot.step.raw(),
            price_precision: inst.price_precision,
            qty_precision: inst.qty_precision,
        }
    }

    /// The same decoder with its precisions already at most
    /// [`FIXED_PRECISION`] (what `Price::from_raw` and `Quantity::from_raw`
    /// make of them anyway): made once per chunk, it lets the compiler drop
    /// that clamp from the per-row work.
    #[inline]
    fn clamped(self) -> Self {
        Self {
            price_precision: self.price_precision.min(FIXED_PRECISION),
            qty_precision: self.qty_precision.min(FIXED_PRECISION),
            ..self
        }
    }

    #[inline]
    fn price(&self, ticks: i64) -> Price {
        Price::from_raw(ticks.saturating_mul(self.tick), self.price_precision)
    }

    #[inline]
    fn qty(&self, lots: i32) -> Quantity {
        Quantity::from_raw(i64::from(lots) * self.step, self.qty_precision)
    }

    /// The market event of a row.
    #[inline]
    pub fn event(&self, r: &Row) -> MarketEvent {
        let times = EventTimes {
            exchange: UnixNanos(r.exchange),
            local: UnixNanos(r.local),
        };
        match r.kind {
            RowKind::Depth(side) => MarketEvent::BookDeltas(BookDeltas {
                instrument: self.id,
                first_update_id: r.id,
                last_update_id: r.id,
                prev_last_update_id: Some(r.id - 1),
                deltas: DeltaList::one(BookDelta {
                    side,
                    level: Level {
                        price: self.price(r.p1),
                        qty: self.qty(r.q1),
                    },
                }),
                times,
            }),
            RowKind::Trade(aggressor) => MarketEvent::Trade(Trade {
                instrument: self.id,
                trade_id: TradeId(r.id),
                price: self.price(r.p1),
                qty: self.qty(r.q1),
                aggressor,
                times,
            }),
            RowKind::Quote => MarketEvent::Quote(Quote {
                instrument: self.id,
                bid: Level {
                    price: self.price(r.p1),
                    qty: self.qty(r.q1),
                },
                ask: Level {
                    price: self.price(r.p2),
                    qty: self.qty(r.q2),
                },
                update_id: None,
                times,
            }),
        }
    }
}

impl Decoder {
    /// Makes `ev` the market event of row `r` (equal to [`Decoder::event`]).
    /// An event of the row's kind is overwritten field by field in place;
    /// any other is replaced.
    #[inline]
    pub fn write(&self, ev: &mut MarketEvent, r: &Row) {
        let times = EventTimes {
            exchange: UnixNanos(r.exchange),
            local: UnixNanos(r.local),
        };
        match (r.kind, ev) {
            (RowKind::Depth(side), MarketEvent::BookDeltas(b)) => {
                let delta = BookDelta {
                    side,
                    level: Level {
                        price: self.price(r.p1),
                        qty: self.qty(r.q1),
                    },
                };
                // Every field is written (the destructuring fails to compile
                // when one is added); a list of other than one change is
                // replaced.
                let BookDeltas {
                    instrument,
                    first_update_id,
                    last_update_id,
                    prev_last_update_id,
                    deltas,
                    times: t,
                } = b;
                *instrument = self.id;
                *t = times;
                *first_update_id = r.id;
                *last_update_id = r.id;
                *prev_last_update_id = Some(r.id - 1);
                match deltas.as_mut_slice() {
                    [d] => *d = delta,
                    _ => *deltas = DeltaList::one(delta),
                }
            }
            (RowKind::Trade(aggressor), MarketEvent::Trade(t)) => {
                *t = Trade {
                    instrument: self.id,
                    trade_id: TradeId(r.id),
                    price: self.price(r.p1),
                    qty: self.qty(r.q1),
                    aggressor,
                    times,
                };
            }
            (RowKind::Quote, MarketEvent::Quote(q)) => {
                *q = Quote {
                    instrument: self.id,
                    bid: Level {
                        price: self.price(r.p1),
                        qty: self.qty(r.q1),
                    },
                    ask: Level {
                        price: self.price(r.p2),
                        qty: self.qty(r.q2),
                    },
                    update_id: None,
                    times,
                };
            }
            // An event of another kind is replaced, each kind in its own
            // arm (one shared arm builds every kind on the stack first).
            (RowKind::Depth(_), ev) => *ev = self.event(r),
            (RowKind::Trade(_), ev) => *ev = self.event(r),
            (RowKind::Quote, ev) => *ev = self.event(r),
        }
    }
}

/// Generated data and what the harness needs to know about it.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Rows in time order.
    pub rows: Vec<Row>,
    /// Decodes the rows.
    pub decoder: Decoder,
    /// Local time of the last event.
    pub last_local: UnixNanos,
}

impl Feed {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Is the feed empty?
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every event, decoded (tests; a backtest reads [`Feed::source`]).
    pub fn events(&self) -> Vec<MarketEvent> {
        self.rows.iter().map(|r| self.decoder.event(r)).collect()
    }

    /// The events one at a time, decoded as they are read.
    pub fn source(self) -> impl Iterator<Item = MarketEvent> + Send {
        let d = self.decoder;
        self.rows.into_iter().map(move |r| d.event(&r))
    }

    /// The feed as a backtest data source: rows are decoded a chunk at a
    /// time, straight into the driver's buffer.
    pub fn into_source(self) -> FeedSource {
        FeedSource {
            rows: self.rows,
            pos: 0,
            decoder: self.decoder,
        }
    }
}

/// A [`Feed`] being read by a backtest (see [`Feed::into_source`]).
#[derive(Debug)]
pub struct FeedSource {
    rows: Vec<Row>,
    pos: usize,
    decoder: Decoder,
}

impl MarketSource for FeedSource {
    fn read(&mut self, out: &mut Vec<MarketEvent>, max: usize) -> Result<bool, DataError> {
        let rows = self.rows.get(self.pos..).unwrap_or_default();
        let n = rows.len().min(max);
        let d = self.decoder;
        out.extend(rows[..n].iter().map(|r| d.event(r)));
        self.pos += n;
        Ok(self.pos < self.rows.len())
    }

    /// Overwrites the events of the driver's used chunk in place (most are
    /// of the row's kind already), and builds only those it lacks.
    fn refill(&mut self, buf: &mut Vec<MarketEvent>, max: usize) -> Result<bool, DataError> {
        let rows = self.rows.get(self.pos..).unwrap_or_default();
        let rows = &rows[..rows.len().min(max)];
        buf.truncate(rows.len());
        let d = self.decoder.clamped();
        let (reuse, new) = rows.split_at(buf.len());
        for (ev, r) in buf.iter_mut().zip(reuse) {
            d.write(ev, r);
        }
        buf.extend(new.iter().map(|r| d.event(r)));
        self.pos += rows.len();
        Ok(self.pos < self.rows.len())
    }
}

/// A small uniform-integer helper on top of the raw generator.
#[derive(Debug)]
struct Draw(ChaCha8Rng);

impl Draw {
    fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (multiply-shift on 32 bits: bias below 2^-32 * n).
    fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.0.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::from(self.below((hi - lo + 1) as u32))
    }

    /// Bernoulli with probability `num / den`.
    fn chance(&mut self, num: u32, den: u32) -> bool {
        self.below(den) < num
    }

    /// An approximately normal integer with standard deviation `sd`
    /// (Irwin–Hall: the sum of 12 uniforms minus 6 has variance 1), in
    /// integers only.
    fn normal(&mut self, sd: i64) -> i64 {
        const SCALE: i64 = 1 << 16;
        let mut s = 0i64;
        for _ in 0..12 {
            s += i64::from(self.0.next_u32() >> 16);
        }
        (s - 6 * SCALE) * sd / SCALE
    }
}

/// The hftbacktest workload for `steps` steps: `5 * steps + ceil(steps / 4)`
/// events (see the module docs). Quantities are in lots of the instrument's
/// step (0.001): depth 0.100..=5.000, trades 0.001..=1.000.
pub fn l2_feed(inst: &Instrument, steps: usize, seed: u64) -> Feed {
    let mut r = Draw::new(seed);
    let mut rows = Vec::with_capacity(steps * 5 + steps / 4 + 1);
    let mut mid = L2_START_MID_TICKS;
    let mut update_id = 0u64;
    let mut last_local = UnixNanos(T0);
    for step in 0..steps {
        let prev = mid;
        // Move -1 / 0 / +1 tick with probabilities 0.2 / 0.6 / 0.2.
        mid += match r.below(10) {
            0 | 1 => -1,
            2 | 3 => 1,
            _ => 0,
        };
        let base = T0 + step as u64 * L2_STEP_NANOS;
        let depth_lots = |r: &mut Draw| r.between(100, 5_000) as i32;
        // Slot 0: delete the level the mid crossed, or refresh the 2nd bid.
        let slot0 = if mid > prev {
            (Side::Sell, mid, 0)
        } else if mid < prev {
            (Side::Buy, mid, 0)
        } else {
            (Side::Buy, mid - 2, depth_lots(&mut r))
        };
        // Slots 1-2: best bid and ask.
        let slot1 = (Side::Buy, mid - 1, depth_lots(&mut r));
        let slot2 = (Side::Sell, mid + 1, depth_lots(&mut r));
        // Slots 3-4: a deeper bid and ask, 20 % of them deletions.
        let k1 = r.between(2, 19);
        let k2 = r.between(2, 19);
        let deep = |r: &mut Draw| {
            let q = depth_lots(r);
            if r.chance(1, 5) {
                0
            } else {
                q
            }
        };
        let slot3 = (Side::Buy, mid - k1, deep(&mut r));
        let slot4 = (Side::Sell, mid + k2, deep(&mut r));
        for (slot, (side, ticks, lots)) in
            [slot0, slot1, slot2, slot3, slot4].into_iter().enumerate()
        {
            update_id += 1;
            rows.push(Row {
                exchange: base + slot as u64,
                local: base + slot as u64 + FEED_LATENCY_NANOS,
                id: update_id,
                p1: ticks,
                p2: 0,
                q1: lots,
                q2: 0,
                kind: RowKind::Depth(side),
            });
        }
        last_local = UnixNanos(base + 4 + FEED_LATENCY_NANOS);
        // Slot 5: a trade every 4th step, at the best ask (buyer-initiated)
        // or the best bid (seller-initiated).
        let buyer = r.chance(1, 2);
        let trade_lots = r.between(1, 1_000) as i32;
        if step % 4 == 0 {
            let (ticks, aggressor) = if buyer {
                (mid + 1, AggressorSide::Buyer)
            } else {
                (mid - 1, AggressorSide::Seller)
            };
            rows.push(Row {
                exchange: base + 5,
                local: base + 5 + FEED_LATENCY_NANOS,
                id: step as u64 + 1,
                p1: ticks,
                p2: 0,
                q1: trade_lots,
                q2: 0,
                kind: RowKind::Trade(aggressor),
            });
            last_local = UnixNanos(base + 5 + FEED_LATENCY_NANOS);
        }
    }
    Feed {
        rows,
        decoder: Decoder::new(inst),
        last_local,
    }
}

/// The NautilusTrader workload: `n` quotes 100 ms apart. The mid is a random
/// walk with normal steps of standard deviation 2.0 (20 ticks), rounded to
/// the tick; the spread is 1, 2 or 3 ticks; sizes 0.100..=5.000.
pub fn quote_feed(inst: &Instrument, n: usize, seed: u64) -> Feed {
    let mut r = Draw::new(seed);
    let mut rows = Vec::with_capacity(n);
    // The walk is kept in hundredths of a tick so rounding to the tick does
    // not accumulate.
    let mut mid_centi = QUOTE_START_MID_TICKS * 100;
    let mut last_local = UnixNanos(T0);
    for i in 0..n {
        mid_centi += r.normal(2_000);
        let mid = (mid_centi + 50).div_euclid(100);
        let spread = r.between(1, 3);
        let bid = mid - spread / 2;
        let ask = bid + spread;
        let t = T0 + i as u64 * QUOTE_STEP_NANOS;
        let q1 = r.between(100, 5_000) as i32;
        let q2 = r.between(100, 5_000) as i32;
        rows.push(Row {
            exchange: t,
            local: t,
            id: 0,
            p1: bid,
            p2: ask,
            q1,
            q2,
            kind: RowKind::Quote,
        });
        last_local = UnixNanos(t);
    }
    Feed {
        rows,
        decoder: Decoder::new(inst),
        last_local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst() -> Instrument {
        crate::instrument()
    }

    #[test]
    fn l2_feed_has_the_peers_event_count_and_timing() {
        let f = l2_feed(&inst(), 1_000, 42);
        assert_eq!(f.len(), 5 * 1_000 + 250);
        let events = f.events();
        let t: Vec<UnixNanos> = events.iter().map(|e| e.times().exchange).collect();
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(t[0], UnixNanos(T0));
        assert_eq!(t[5], UnixNanos(T0 + 5)); // the first step's trade
        assert_eq!(t[6], UnixNanos(T0 + L2_STEP_NANOS));
        for e in &events {
            let times = e.times();
            assert_eq!(times.local.0 - times.exchange.0, FEED_LATENCY_NANOS);
        }
        let trades = events
            .iter()
            .filter(|e| matches!(e, MarketEvent::Trade(_)))
            .count();
        assert_eq!(trades, 250);
    }

    #[test]
    fn l2_feed_never_crosses_and_is_on_tick() {
        let i = inst();
        let f = l2_feed(&i, 20_000, 7);
        let mut book = veloz_sim::MarketBook::new(&i);
        for e in &f.events() {
            if let MarketEvent::BookDeltas(d) = e {
                for x in &d.deltas {
                    assert_eq!(x.level.price.raw() % i.tick_size.raw(), 0);
                    assert_eq!(x.level.qty.raw() % i.lot.step.raw(), 0);
                }
                book.apply_deltas(d).unwrap();
                if let (Some(b), Some(a)) = (book.l2().best_bid(), book.l2().best_ask()) {
                    assert!(b.price < a.price, "crossed at {:?}", d.times);
                }
            }
        }
    }

    #[test]
    fn quote_feed_spacing_and_spread() {
        let i = inst();
        let f = quote_feed(&i, 5_000, 42);
        assert_eq!(f.len(), 5_000);
        let mut prev = None;
        let mut moves = 0;
        for (k, e) in f.events().iter().enumerate() {
            let MarketEvent::Quote(q) = e else {
                panic!("not a quote")
            };
            assert_eq!(
                q.times.exchange,
                UnixNanos(T0 + k as u64 * QUOTE_STEP_NANOS)
            );
            let spread = (q.ask.price.raw() - q.bid.price.raw()) / i.tick_size.raw();
            assert!((1..=3).contains(&spread), "spread {spread}");
            if prev.is_some_and(|p| p != q.bid.price) {
                moves += 1;
            }
            prev = Some(q.bid.price);
        }
        // A 20-tick standard deviation walk moves almost every time.
        assert!(moves > 4_500, "{moves}");
    }

    #[test]
    fn same_seed_same_feed() {
        let i = inst();
        assert_eq!(l2_feed(&i, 300, 3).events(), l2_feed(&i, 300, 3).events());
        assert_ne!(l2_feed(&i, 300, 3).events(), l2_feed(&i, 300, 4).events());
        assert_eq!(
            l2_feed(&i, 300, 3).source().collect::<Vec<_>>(),
            l2_feed(&i, 300, 3).events()
        );
        // Read in chunks of 7 (the last one short), then the end.
        let mut src = l2_feed(&i, 300, 3).into_source();
        let mut read = Vec::new();
        while src.read(&mut read, 7).unwrap() {}
        assert_eq!(read, l2_feed(&i, 300, 3).events());
        assert!(!src.read(&mut read, 7).unwrap());
        assert_eq!(read.len(), l2_feed(&i, 300, 3).len());
    }

    #[test]
    fn refill_overwrites_any_earlier_events_exactly() {
        let i = inst();
        let l2 = l2_feed(&i, 300, 3);
        let quotes = quote_feed(&i, 200, 5);
        // Earlier events of every kind the rows are not (quotes, and depth
        // updates with several changes or none), then the same feed again.
        let mut multi = match l2.events().into_iter().next() {
            Some(MarketEvent::BookDeltas(d)) => d,
            other => panic!("not a depth update: {other:?}"),
        };
        let mut stale = quotes.events();
        stale.push(MarketEvent::BookDeltas(multi.clone()));
        multi.deltas.push(multi.deltas[0]);
        stale.push(MarketEvent::BookDeltas(multi.clone()));
        multi.deltas = DeltaList::new();
        stale.push(MarketEvent::BookDeltas(multi));
        stale.extend(l2.events());
        for chunk in [7, 64, 200] {
            for src in [l2.clone(), quotes.clone()] {
                let want = src.events();
                let mut s = src.into_source();
                let mut got = Vec::new();
                let mut buf = stale.clone();
                let mut k = 0;
                loop {
                    // A different stale prefix each time.
                    let r = k % buf.len().max(1);
                    buf.rotate_left(r);
                    k += 13;
                    let more = s.refill(&mut buf, chunk).unwrap();
                    assert!(buf.len() <= chunk);
                    got.extend(buf.iter().cloned());
                    if !more {
                        break;
                    }
                    buf.extend(stale.iter().take(k % 50).cloned());
                }
                assert_eq!(got, want, "chunk {chunk}");
            }
        }
    }
}
