//! A seeded synthetic market: the simulator's built-in market data when no
//! recorded data is loaded.
//!
//! [`SynthMarket`] produces an endless, time-ordered stream of
//! [`MarketEvent`]s for one instrument (spot, USD-M or COIN-M): an initial
//! [`BookSnapshot`], then [`BookDeltas`] whose update ids follow Binance's sync
//! rules, [`Quote`]s equal to the book's top after each update, [`Trade`]s at
//! prices present in the book (the traded quantity leaves the book in the next
//! deltas), and for perpetuals a [`MarkPrice`] every second with a funding rate
//! and the next funding time. At any moment [`SynthMarket::book_snapshot`]
//! answers the full book consistent with the events handed out so far (for REST
//! depth snapshots).
//!
//! # Model (all integer arithmetic)
//!
//! * **Fair price** in whole ticks, moved every `price_step_ms` by the sum of
//!   four uniform integers whose variance matches the configured volatility
//!   (hundredths of a basis point per square-root second, relative to the
//!   current price). The half-width of the uniforms is chosen at random
//!   between the two integers that bracket the target variance, so the
//!   expected variance is exact even when a step moves less than a tick. A
//!   reflecting floor keeps the price positive.
//! * **Book**: after each price step the best bid is `fair - spread / 2` and
//!   the best ask `best bid + spread`, with the spread drawn uniformly in
//!   `[min, 2·mean − min]` ticks; each side holds `levels` contiguous ticks.
//!   A level that stays in range keeps its quantity (so traded quantity stays
//!   gone) except `refresh_levels` random levels per side that are redrawn; a
//!   new level gets `top + growth · depth` steps, scaled by a uniform factor in
//!   `[100 − randomness, 100 + randomness] %`.
//! * **Trades**: one Bernoulli trial per millisecond with probability
//!   `trades_per_minute / 60 000`; the taker side is a fair coin; the size is
//!   uniform in `[1, 2·mean − 1]` steps, capped by the best level, which loses
//!   that quantity.
//! * **Publication**: diffs of the book are published every
//!   `book_interval_ms` (spot default 100 ms), or after every change when it
//!   is 0 (futures default, like `@depth@0ms`). Price steps happen only at
//!   publication times, so between two diffs the book only loses traded
//!   quantity: every trade is at a price the consumer's book holds.
//! * **Update ids**: a diff covers one id per changed level plus a random
//!   number of internal ids (up to as many again). Spot diffs start at
//!   `previous u + 1`; futures diffs also carry `pu = previous u` and start at
//!   `pu + 1`. A snapshot's `lastUpdateId` is the last published `u` on spot
//!   and `u + 1` on futures (the first id of the next diff), so the next diff
//!   always bridges it by the documented rules (spot `U <= L + 1 <= u`,
//!   futures `U <= L <= u`).
//! * **Mark price** (perpetuals): every whole second, index = fair price,
//!   mark = index + a uniform premium of at most `premium_ticks`; the funding
//!   rate is the configured one; funding happens every `funding_interval_hours`
//!   from the epoch.
//!
//! The only randomness is a `ChaCha8Rng` seeded from the configuration: the
//! same configuration gives the same events, bit for bit.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use veloz_core::events::{
    BookDelta, BookDeltas, BookSnapshot, EventTimes, Level, MarkPrice, MarketEvent, Quote, Trade,
};
use veloz_core::{AggressorSide, Instrument, Price, Quantity, Side, TradeId, UnixNanos};

/// Settings of a [`SynthMarket`]; every field has a default, so a partial
/// JSON/TOML object deserialises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Seed of the random generator.
    pub seed: u64,
    /// Time of the initial snapshot, milliseconds since the epoch.
    pub start_time_ms: u64,
    /// Initial fair price (rounded down to the tick).
    pub start_price: Price,
    /// Lowest fair price; the walk reflects off it. Raised if needed so the
    /// deepest bid stays above zero.
    pub floor_price: Price,
    /// Volatility in hundredths of a basis point per square-root second
    /// (`100` = 1 bp/√s ≈ 56 % a year).
    pub volatility_cbps: u32,
    /// Smallest spread, in ticks (at least 1).
    pub min_spread_ticks: u32,
    /// Mean spread, in ticks (at least `min_spread_ticks`).
    pub mean_spread_ticks: u32,
    /// Price levels per side.
    pub levels: u32,
    /// Quantity at the best level, in lot steps.
    pub top_qty_steps: u32,
    /// Extra quantity per level of depth, in lot steps.
    pub qty_growth_steps: u32,
    /// Random scaling of a new level's quantity, in percent (0 to 100).
    pub qty_randomness_pct: u32,
    /// Levels per side redrawn at each price step.
    pub refresh_levels: u32,
    /// Mean number of trades per minute (at most 60 000).
    pub trades_per_minute: u32,
    /// Mean trade size, in lot steps (at least 1).
    pub trade_size_mean_steps: u32,
    /// Milliseconds between price steps; default: the book interval, or
    /// 100 ms when the book is published after every change. Must be a
    /// multiple of a non-zero book interval.
    pub price_step_ms: Option<u32>,
    /// Milliseconds between published diffs (0 = after every change);
    /// default: spot 100 ms, futures 0.
    pub book_interval_ms: Option<u32>,
    /// Funding rate of perpetuals (e.g. `0.0001`).
    pub funding_rate: Price,
    /// Hours between funding times (perpetuals).
    pub funding_interval_hours: u32,
    /// Largest distance of the mark price from the index, in ticks.
    pub premium_ticks: u32,
    /// `lastUpdateId` of the initial snapshot.
    pub first_update_id: u64,
    /// Id of the first trade.
    pub first_trade_id: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start_time_ms: 1_700_000_000_000,
            start_price: Price::from_raw(6_000_000_000_000, 2),
            floor_price: Price::ZERO,
            volatility_cbps: 50,
            min_spread_ticks: 1,
            mean_spread_ticks: 2,
            levels: 50,
            top_qty_steps: 100,
            qty_growth_steps: 20,
            qty_randomness_pct: 50,
            refresh_levels: 2,
            trades_per_minute: 600,
            trade_size_mean_steps: 20,
            price_step_ms: None,
            book_interval_ms: None,
            funding_rate: Price::from_raw(10_000, 8),
            funding_interval_hours: 8,
            premium_ticks: 5,
            first_update_id: 1_000_000,
            first_trade_id: 1,
        }
    }
}

/// Why a [`SynthMarket`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthError {
    /// The instrument has no tick size or lot step.
    #[error(
        "instrument {instrument} needs a positive tick size and lot step to synthesise a market"
    )]
    NoGrid {
        /// The instrument.
        instrument: String,
    },
    /// A setting is out of range.
    #[error("synthetic market setting {field}: {reason}")]
    BadSetting {
        /// The setting.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: &'static str,
    },
}

fn bad(field: &'static str, reason: &'static str) -> SynthError {
    SynthError::BadSetting { field, reason }
}

/// One side of a book in ticks and lot steps.
type Side2 = BTreeMap<i64, i64>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Book {
    bids: Side2,
    asks: Side2,
}

impl Book {
    fn top(&self) -> Option<((i64, i64), (i64, i64))> {
        let bid = self.bids.iter().next_back().map(|(&p, &q)| (p, q))?;
        let ask = self.asks.iter().next().map(|(&p, &q)| (p, q))?;
        Some((bid, ask))
    }
}

/// Integer square root (floor).
fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

/// Variance, in millionths of a tick², of the sum of four uniform integers on
/// `[-a, a]` (each has variance `a(a+1)/3`).
fn var4_micro(a: u128) -> u128 {
    4 * a * (a + 1) * 1_000_000 / 3
}

/// The seeded synthetic market of one instrument (see the module docs).
#[derive(Debug, Clone)]
pub struct SynthMarket {
    instrument: Instrument,
    config: SynthConfig,
    rng: ChaCha8Rng,
    tick_raw: i64,
    step_raw: i64,
    futures: bool,
    book_interval_ms: u64,
    price_step_ms: u64,
    floor_ticks: i64,
    trade_threshold: u64,
    /// Fair price, ticks.
    fair: i64,
    /// The book with every change so far.
    work: Book,
    /// The book as of the last generated diff.
    published: Book,
    /// The book as of the last diff handed out by `next_event`.
    seen: Book,
    seen_update_id: u64,
    seen_time_ms: u64,
    last_u: u64,
    next_trade_id: u64,
    last_quote: Option<((i64, i64), (i64, i64))>,
    /// Next millisecond to simulate.
    now_ms: u64,
    dirty: bool,
    queue: VecDeque<MarketEvent>,
}

impl SynthMarket {
    /// A market for `instrument` with `config`. The first event is the initial
    /// book snapshot at `config.start_time_ms`.
    pub fn new(instrument: Instrument, config: SynthConfig) -> Result<Self, SynthError> {
        let tick_raw = instrument.tick_size.raw();
        let step_raw = instrument.lot.step.raw();
        if tick_raw <= 0 || step_raw <= 0 {
            return Err(SynthError::NoGrid {
                instrument: instrument.id.to_string(),
            });
        }
        let c = &config;
        if c.min_spread_ticks == 0 {
            return Err(bad("min_spread_ticks", "must be at least 1"));
        }
        if c.mean_spread_ticks < c.min_spread_ticks {
            return Err(bad(
                "mean_spread_ticks",
                "must be at least min_spread_ticks",
            ));
        }
        if c.levels == 0 || c.levels > 10_000 {
            return Err(bad("levels", "must be between 1 and 10000"));
        }
        if c.top_qty_steps == 0 {
            return Err(bad("top_qty_steps", "must be at least 1"));
        }
        if c.qty_randomness_pct > 100 {
            return Err(bad("qty_randomness_pct", "must be between 0 and 100"));
        }
        if c.trades_per_minute > 60_000 {
            return Err(bad(
                "trades_per_minute",
                "must be at most 60000 (one trade per millisecond)",
            ));
        }
        if c.trade_size_mean_steps == 0 {
            return Err(bad("trade_size_mean_steps", "must be at least 1"));
        }
        if c.funding_interval_hours == 0 {
            return Err(bad("funding_interval_hours", "must be at least 1"));
        }
        if c.volatility_cbps > 100_000 {
            return Err(bad(
                "volatility_cbps",
                "must be at most 100000 (10 % per square-root second)",
            ));
        }
        let futures = instrument.id.kind.is_futures();
        let book_interval_ms =
            u64::from(c.book_interval_ms.unwrap_or(if futures { 0 } else { 100 }));
        let price_step_ms = c.price_step_ms.map_or(
            if book_interval_ms == 0 {
                100
            } else {
                book_interval_ms
            },
            u64::from,
        );
        if price_step_ms == 0 {
            return Err(bad("price_step_ms", "must be at least 1"));
        }
        if book_interval_ms > 0 && price_step_ms % book_interval_ms != 0 {
            return Err(bad(
                "price_step_ms",
                "must be a multiple of book_interval_ms (price steps happen when the book is published)",
            ));
        }
        let fair = c.start_price.raw() / tick_raw;
        let min_floor = i64::from(c.levels) + 2 * i64::from(c.mean_spread_ticks) + 1;
        let floor_ticks = (c.floor_price.raw() / tick_raw).max(min_floor);
        if fair < floor_ticks {
            return Err(bad(
                "start_price",
                "must be above the floor (floor_price, and levels + 2 x mean spread ticks)",
            ));
        }
        if fair > i64::MAX / tick_raw / 4 {
            return Err(bad("start_price", "is too large"));
        }
        let trade_threshold = (u64::from(c.trades_per_minute) << 32) / 60_000;
        let mut m = Self {
            rng: ChaCha8Rng::seed_from_u64(c.seed),
            tick_raw,
            step_raw,
            futures,
            book_interval_ms,
            price_step_ms,
            floor_ticks,
            trade_threshold,
            fair,
            work: Book::default(),
            published: Book::default(),
            seen: Book::default(),
            seen_update_id: 0,
            seen_time_ms: c.start_time_ms,
            last_u: 0,
            next_trade_id: c.first_trade_id,
            last_quote: None,
            now_ms: c.start_time_ms,
            dirty: false,
            queue: VecDeque::new(),
            instrument,
            config,
        };
        m.reshape();
        m.published = m.work.clone();
        m.seen = m.work.clone();
        let first = m.config.first_update_id;
        m.last_u = if futures {
            first.saturating_sub(1)
        } else {
            first
        };
        m.seen_update_id = m.last_u;
        let snap = m.book_snapshot(usize::MAX);
        m.queue.push_back(MarketEvent::BookSnapshot(snap));
        m.last_quote = m.published.top();
        if let Some(q) = m.quote_event(m.config.start_time_ms) {
            m.queue.push_back(q);
        }
        m.now_ms = m.config.start_time_ms + 1;
        Ok(m)
    }

    /// The instrument.
    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    /// The configuration.
    pub fn config(&self) -> &SynthConfig {
        &self.config
    }

    /// The current fair price in ticks (the hidden value the book is built
    /// around; for tests and diagnostics).
    pub fn fair_ticks(&self) -> i64 {
        self.fair
    }

    /// The `lastUpdateId` a depth snapshot taken now carries (see the module
    /// docs: the last handed-out `u` on spot, `u + 1` on futures).
    pub fn snapshot_update_id(&self) -> u64 {
        if self.futures {
            self.seen_update_id.saturating_add(1)
        } else {
            self.seen_update_id
        }
    }

    /// The book consistent with the events handed out so far, at most `depth`
    /// levels per side, best first, stamped with the time of its last update.
    pub fn book_snapshot(&self, depth: usize) -> BookSnapshot {
        let t = EventTimes::new(
            UnixNanos::from_millis(self.seen_time_ms),
            UnixNanos::from_millis(self.seen_time_ms),
        );
        BookSnapshot {
            instrument: self.instrument.id,
            last_update_id: self.snapshot_update_id(),
            bids: self
                .seen
                .bids
                .iter()
                .rev()
                .take(depth)
                .map(|(&p, &q)| self.level(p, q))
                .collect(),
            asks: self
                .seen
                .asks
                .iter()
                .take(depth)
                .map(|(&p, &q)| self.level(p, q))
                .collect(),
            times: t,
        }
    }

    /// The next event (the stream never ends).
    pub fn next_event(&mut self) -> MarketEvent {
        loop {
            if let Some(e) = self.queue.pop_front() {
                if let MarketEvent::BookDeltas(d) = &e {
                    for x in &d.deltas {
                        let side = match x.side {
                            Side::Buy => &mut self.seen.bids,
                            Side::Sell => &mut self.seen.asks,
                        };
                        let p = x.level.price.raw() / self.tick_raw;
                        let q = x.level.qty.raw() / self.step_raw;
                        if q == 0 {
                            side.remove(&p);
                        } else {
                            side.insert(p, q);
                        }
                    }
                    self.seen_update_id = d.last_update_id;
                    self.seen_time_ms = d.times.exchange.as_millis();
                }
                return e;
            }
            self.step_ms();
        }
    }

    fn price(&self, ticks: i64) -> Price {
        Price::from_raw(
            ticks.saturating_mul(self.tick_raw),
            self.instrument.price_precision,
        )
    }

    fn qty(&self, steps: i64) -> Quantity {
        Quantity::from_raw(
            steps.saturating_mul(self.step_raw),
            self.instrument.qty_precision,
        )
    }

    fn level(&self, p: i64, q: i64) -> Level {
        Level {
            price: self.price(p),
            qty: self.qty(q),
        }
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is below `n / 2^64`.
    fn below(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n.max(1)
    }

    /// Uniform in `[-a, a]`.
    fn symmetric(&mut self, a: u64) -> i64 {
        let r = self.below(2 * a + 1);
        r as i64 - a as i64
    }

    /// Simulates one millisecond.
    fn step_ms(&mut self) {
        let t = self.now_ms;
        self.now_ms += 1;
        if u64::from(self.rng.next_u32()) < self.trade_threshold {
            self.trade(t);
        }
        if self.book_interval_ms == 0 && self.dirty {
            self.publish(t);
        }
        if t % self.price_step_ms == 0 {
            self.move_fair();
            self.reshape();
            self.dirty = true;
        }
        let due = self.book_interval_ms == 0 || t % self.book_interval_ms == 0;
        if due && self.dirty {
            self.publish(t);
        }
        if self.futures && t % 1000 == 0 {
            self.mark(t);
        }
    }

    fn move_fair(&mut self) {
        // Target variance of this step in millionths of a tick²:
        // (vol_cbps · 1e-6 · fair)² · step_ms / 1000 · 1e6.
        let s = u128::from(self.config.volatility_cbps) * self.fair.unsigned_abs() as u128;
        let v = s * s * u128::from(self.price_step_ms) / 1_000_000_000;
        let mut a = (isqrt(3 * v / 1_000_000 + 1).saturating_sub(1)) / 2;
        while var4_micro(a + 1) <= v {
            a += 1;
        }
        while a > 0 && var4_micro(a) > v {
            a -= 1;
        }
        // Pick a or a + 1 so the expected variance is exactly v.
        let lo = var4_micro(a);
        let hi = var4_micro(a + 1);
        if (self.below(1 << 32) as u128) * (hi - lo) < (v - lo) << 32 {
            a += 1;
        }
        let a = a as u64;
        let mut mv = 0i64;
        for _ in 0..4 {
            mv += self.symmetric(a);
        }
        let mut f = self.fair.saturating_add(mv);
        if f < self.floor_ticks {
            f = 2 * self.floor_ticks - f;
        }
        self.fair = f.max(self.floor_ticks);
    }

    fn fresh_qty(&mut self, depth: u32) -> i64 {
        let c = &self.config;
        let base = i64::from(c.top_qty_steps) + i64::from(c.qty_growth_steps) * i64::from(depth);
        let r = u64::from(c.qty_randomness_pct);
        let pct = 100 - r as i64 + self.below(2 * r + 1) as i64;
        (base * pct / 100).max(1)
    }

    /// Rebuilds the working book around the fair price.
    fn reshape(&mut self) {
        let c = &self.config;
        let min = u64::from(c.min_spread_ticks);
        let extra = 2 * (u64::from(c.mean_spread_ticks) - min);
        let levels = c.levels;
        let refresh = c.refresh_levels;
        let spread = (min + self.below(extra + 1)) as i64;
        let best_bid = self.fair - spread / 2;
        let best_ask = best_bid + spread;
        for bid_side in [true, false] {
            let mut side = std::mem::take(if bid_side {
                &mut self.work.bids
            } else {
                &mut self.work.asks
            });
            let (lo, hi) = if bid_side {
                (best_bid - i64::from(levels) + 1, best_bid)
            } else {
                (best_ask, best_ask + i64::from(levels) - 1)
            };
            side.retain(|&p, _| p >= lo && p <= hi);
            for d in 0..levels {
                let p = if bid_side {
                    best_bid - i64::from(d)
                } else {
                    best_ask + i64::from(d)
                };
                if let Entry::Vacant(e) = side.entry(p) {
                    e.insert(self.fresh_qty(d));
                }
            }
            for _ in 0..refresh {
                let d = self.below(u64::from(levels)) as u32;
                let p = if bid_side {
                    best_bid - i64::from(d)
                } else {
                    best_ask + i64::from(d)
                };
                let q = self.fresh_qty(d);
                side.insert(p, q);
            }
            if bid_side {
                self.work.bids = side;
            } else {
                self.work.asks = side;
            }
        }
    }

    fn trade(&mut self, t: u64) {
        let buyer = self.rng.next_u32() & 1 == 0;
        let mean = u64::from(self.config.trade_size_mean_steps);
        let size = 1 + self.below(2 * mean - 1) as i64;
        let side = if buyer {
            &mut self.work.asks
        } else {
            &mut self.work.bids
        };
        let best = if buyer {
            side.iter().next().map(|(&p, &q)| (p, q))
        } else {
            side.iter().next_back().map(|(&p, &q)| (p, q))
        };
        let Some((p, q)) = best else {
            return;
        };
        let size = size.min(q);
        if size == q {
            side.remove(&p);
        } else {
            side.insert(p, q - size);
        }
        self.dirty = true;
        let id = self.next_trade_id;
        self.next_trade_id += 1;
        let ev = Trade {
            instrument: self.instrument.id,
            trade_id: TradeId(id),
            price: self.price(p),
            qty: self.qty(size),
            aggressor: if buyer {
                AggressorSide::Buyer
            } else {
                AggressorSide::Seller
            },
            times: times(t),
        };
        self.queue.push_back(MarketEvent::Trade(ev));
    }

    /// The changes from the published book to the working book on `side`,
    /// best first, applied to the published book as they are found.
    fn diff_side(&mut self, side: Side, out: &mut Vec<BookDelta>) {
        let (new, old) = match side {
            Side::Buy => (&self.work.bids, &mut self.published.bids),
            Side::Sell => (&self.work.asks, &mut self.published.asks),
        };
        // Merge the two sorted sides: ascending price.
        let mut changed: Vec<(i64, i64)> = Vec::new();
        let mut a = new.iter().peekable();
        let mut b = old.iter().peekable();
        loop {
            match (a.peek(), b.peek()) {
                (Some(&(&pa, &qa)), Some(&(&pb, &qb))) => {
                    if pa == pb {
                        if qa != qb {
                            changed.push((pa, qa));
                        }
                        a.next();
                        b.next();
                    } else if pa < pb {
                        changed.push((pa, qa));
                        a.next();
                    } else {
                        changed.push((pb, 0));
                        b.next();
                    }
                }
                (Some(&(&pa, &qa)), None) => {
                    changed.push((pa, qa));
                    a.next();
                }
                (None, Some(&(&pb, _))) => {
                    changed.push((pb, 0));
                    b.next();
                }
                (None, None) => break,
            }
        }
        for &(p, q) in &changed {
            if q == 0 {
                old.remove(&p);
            } else {
                old.insert(p, q);
            }
        }
        if side == Side::Buy {
            changed.reverse();
        }
        let (tick, step) = (self.tick_raw, self.step_raw);
        let (pp, qp) = (
            self.instrument.price_precision,
            self.instrument.qty_precision,
        );
        out.extend(changed.into_iter().map(|(p, q)| BookDelta {
            side,
            level: Level {
                price: Price::from_raw(p.saturating_mul(tick), pp),
                qty: Quantity::from_raw(q.saturating_mul(step), qp),
            },
        }));
    }

    fn publish(&mut self, t: u64) {
        self.dirty = false;
        let mut deltas = Vec::new();
        self.diff_side(Side::Buy, &mut deltas);
        self.diff_side(Side::Sell, &mut deltas);
        if deltas.is_empty() {
            return;
        }
        let n = deltas.len() as u64;
        let churn = self.below(n + 1);
        let first = self.last_u + 1;
        let last = first + n - 1 + churn;
        let prev = self.last_u;
        self.last_u = last;
        self.queue.push_back(MarketEvent::BookDeltas(BookDeltas {
            instrument: self.instrument.id,
            first_update_id: first,
            last_update_id: last,
            prev_last_update_id: self.futures.then_some(prev),
            deltas: deltas.into(),
            times: times(t),
        }));
        let top = self.published.top();
        if top != self.last_quote {
            self.last_quote = top;
            if let Some(q) = self.quote_event(t) {
                self.queue.push_back(q);
            }
        }
    }

    fn quote_event(&self, t: u64) -> Option<MarketEvent> {
        let ((bp, bq), (ap, aq)) = self.published.top()?;
        Some(MarketEvent::Quote(Quote {
            instrument: self.instrument.id,
            bid: self.level(bp, bq),
            ask: self.level(ap, aq),
            update_id: Some(self.last_u),
            times: times(t),
        }))
    }

    fn mark(&mut self, t: u64) {
        let premium = self.symmetric(u64::from(self.config.premium_ticks));
        let interval = u64::from(self.config.funding_interval_hours) * 3_600_000;
        let next = (t / interval + 1) * interval;
        let ev = MarkPrice {
            instrument: self.instrument.id,
            mark: self.price(self.fair + premium),
            index: Some(self.price(self.fair)),
            funding_rate: Some(self.config.funding_rate),
            next_funding_time: Some(UnixNanos::from_millis(next)),
            times: times(t),
        };
        self.queue.push_back(MarketEvent::MarkPrice(ev));
    }
}

fn times(ms: u64) -> EventTimes {
    let t = UnixNanos::from_millis(ms);
    EventTimes::new(t, t)
}

impl Iterator for SynthMarket {
    type Item = MarketEvent;

    fn next(&mut self) -> Option<MarketEvent> {
        Some(self.next_event())
    }
}
