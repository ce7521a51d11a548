//! [`L2Book`]: the price-level order book of one instrument.
//!
//! It applies full snapshots and incremental deltas with *absolute* quantities
//! (a quantity of 0 deletes the level, deleting an absent level is a no-op, as
//! Binance sends them), and answers best bid/ask, spread, mid, top-N levels,
//! depth at a price, the exact cost and VWAP of a taker fill, and whether the
//! book is crossed.
//!
//! The book does not check venue sequence numbers: bridging a snapshot with the
//! buffered diffs and detecting gaps (`U`/`u`/`pu`) is the venue adapter's job
//! (libs/exec). It records the last update id it was given so the adapter and
//! the user can see where it stands.
//!
//! Storage is one ladder (module `ladder`) per side: a dense tick-indexed
//! window around the best price plus an ordered overflow, so updates near the
//! top cost a handful of instructions and any other price is still handled
//! exactly. Prices and quantities are raw `i64` units of `10^-8` internally.

use veloz_core::events::{BookDelta, BookDeltas, BookSnapshot, EventTimes, Level};
use veloz_core::{Instrument, InstrumentId, Price, Quantity, Rounding, Side, FIXED_PRECISION};

use crate::fill::{self, FillCost};
use crate::ladder::{Ladder, RawLevels, MAX_WINDOW, MIN_WINDOW};
use crate::top::{mid_price, spread_price, spread_raw, TopOfBook};

/// Why the book refused an update, a query or a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// A level with a negative quantity.
    #[error(
        "negative quantity {qty} at price {price} on the {side} side: book quantities are \
         absolute and must be >= 0 (0 deletes the level); the update was not applied"
    )]
    NegativeQuantity {
        /// Side of the level.
        side: Side,
        /// Its price.
        price: Price,
        /// The offending quantity.
        qty: Quantity,
    },
    /// An event for another instrument.
    #[error("an update for {got} was sent to the book of {expected}: route events to the book of their own instrument")]
    InstrumentMismatch {
        /// The book's instrument.
        expected: InstrumentId,
        /// The event's instrument.
        got: InstrumentId,
    },
    /// A fill query for a negative quantity.
    #[error("cannot price a fill of negative quantity {qty}: pass a quantity >= 0")]
    NegativeFillQuantity {
        /// The quantity asked for.
        qty: Quantity,
    },
    /// A configuration the book cannot use.
    #[error("invalid book configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// How a book lays out its storage. Only speed depends on it; answers never do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookConfig {
    /// The instrument's tick size, or `None` to infer the price grid from the
    /// prices seen. With a fixed tick, prices off the grid are still kept exactly
    /// (in the slower overflow).
    pub tick_size: Option<Price>,
    /// Width of the dense window per side, in ticks (64 ..= 16 777 216, rounded
    /// up to a multiple of 64). Memory is 8 bytes per tick per side.
    pub window_ticks: usize,
}

impl BookConfig {
    /// Default window: 65 536 ticks per side (512 KiB per side), ±3 276.8 around
    /// the best price for a 0.1 tick.
    pub const DEFAULT_WINDOW: usize = 1 << 16;

    /// The instrument's tick size with the default window.
    pub fn for_instrument(instrument: &Instrument) -> Self {
        Self {
            tick_size: Some(instrument.tick_size),
            window_ticks: Self::DEFAULT_WINDOW,
        }
    }

    /// The same configuration with another window width.
    pub fn with_window(self, window_ticks: usize) -> Self {
        Self {
            window_ticks,
            ..self
        }
    }

    /// Checked window (slots) and raw tick.
    fn validate(&self) -> Result<(usize, Option<u64>), BookError> {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.window_ticks) {
            return Err(BookError::InvalidConfig {
                reason: format!(
                    "window_ticks is {}; use a value from {MIN_WINDOW} to {MAX_WINDOW}",
                    self.window_ticks
                ),
            });
        }
        let window = self.window_ticks.div_ceil(64) * 64;
        let tick = match self.tick_size {
            None => None,
            Some(t) => {
                let raw = t.raw();
                let fits = raw > 0 && (raw as u128) * (window as u128) <= 1u128 << 62;
                if !fits {
                    return Err(BookError::InvalidConfig {
                        reason: format!(
                            "tick_size {t} must be > 0 and tick × window ({window}) at most 2^62 raw units; \
                             use the instrument's tick size or a smaller window"
                        ),
                    });
                }
                Some(raw as u64)
            }
        };
        Ok((window, tick))
    }
}

impl Default for BookConfig {
    fn default() -> Self {
        Self {
            tick_size: None,
            window_ticks: Self::DEFAULT_WINDOW,
        }
    }
}

/// The L2 (price-level) order book of one instrument.
#[derive(Debug, Clone)]
pub struct L2Book {
    instrument: InstrumentId,
    bids: Ladder<true>,
    asks: Ladder<false>,
    last_update_id: u64,
    times: EventTimes,
    price_precision: u8,
    qty_precision: u8,
}

impl L2Book {
    /// An empty book with the default configuration (inferred tick).
    pub fn new(instrument: InstrumentId) -> Self {
        let c = BookConfig::default();
        Self::build(instrument, c.window_ticks, None)
    }

    /// An empty book with `config`.
    pub fn with_config(instrument: InstrumentId, config: BookConfig) -> Result<Self, BookError> {
        let (window, tick) = config.validate()?;
        let mut book = Self::build(instrument, window, tick);
        if let Some(t) = config.tick_size {
            book.price_precision = t.precision();
        }
        Ok(book)
    }

    fn build(instrument: InstrumentId, window: usize, tick: Option<u64>) -> Self {
        Self {
            instrument,
            bids: Ladder::new(window, tick),
            asks: Ladder::new(window, tick),
            last_update_id: 0,
            times: EventTimes::default(),
            price_precision: 0,
            qty_precision: 0,
        }
    }

    /// The instrument.
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// The venue update id of the last snapshot or deltas applied (0 before any).
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// Clocks of the last snapshot or deltas applied.
    pub fn times(&self) -> EventTimes {
        self.times
    }

    // ------------------------------------------------------------ updates

    /// Replaces the whole book with `snapshot`. Levels with quantity 0 are
    /// skipped; if a price appears twice on a side, the later entry wins.
    /// Nothing is changed if the snapshot is refused.
    pub fn apply_snapshot(&mut self, snapshot: &BookSnapshot) -> Result<(), BookError> {
        self.check_instrument(&snapshot.instrument)?;
        let levels = |side: Side, v: &'_ [Level]| {
            v.iter()
                .map(move |l| (side, l.price, l.qty))
                .collect::<Vec<_>>()
        };
        let bids = levels(Side::Buy, &snapshot.bids);
        let asks = levels(Side::Sell, &snapshot.asks);
        for &(side, price, qty) in bids.iter().chain(&asks) {
            check_qty(side, price, qty)?;
        }
        self.clear();
        for (side, price, qty) in bids.into_iter().chain(asks) {
            self.note_precision(price, qty);
            self.set(side, price.raw(), qty.raw());
        }
        self.last_update_id = snapshot.last_update_id;
        self.times = snapshot.times;
        Ok(())
    }

    /// Applies one venue message of level changes, in order. Nothing is changed
    /// if any level is refused. Sequence ids are recorded, not checked.
    pub fn apply_deltas(&mut self, deltas: &BookDeltas) -> Result<(), BookError> {
        self.check_instrument(&deltas.instrument)?;
        self.apply_routed_deltas(deltas)
    }

    /// [`apply_deltas`](Self::apply_deltas) for a message the caller already
    /// routed to this book by its instrument (it found the book by
    /// `deltas.instrument`): the instrument is not compared again. Use
    /// [`apply_deltas`](Self::apply_deltas) anywhere else. Always inlined:
    /// it is the whole per-event book work of a backtest's kernel and venue,
    /// and a call would add its frame and a result written to memory.
    #[inline(always)]
    pub fn apply_routed_deltas(&mut self, deltas: &BookDeltas) -> Result<(), BookError> {
        match deltas.deltas.as_slice() {
            // One change (most depth messages): once it is checked, nothing
            // can refuse the message, so it is applied in the same pass.
            [d] => {
                check_qty(d.side, d.level.price, d.level.qty)?;
                self.note_precision(d.level.price, d.level.qty);
                self.set(d.side, d.level.price.raw(), d.level.qty.raw());
            }
            list => self.apply_list(list)?,
        }
        self.last_update_id = deltas.last_update_id;
        self.times = deltas.times;
        Ok(())
    }

    /// Checks every change, then applies them in order.
    fn apply_list(&mut self, list: &[BookDelta]) -> Result<(), BookError> {
        let (mut pp, mut qp) = (self.price_precision, self.qty_precision);
        for d in list {
            check_qty(d.side, d.level.price, d.level.qty)?;
            pp = pp.max(d.level.price.precision());
            qp = qp.max(d.level.qty.precision());
        }
        (self.price_precision, self.qty_precision) = (pp, qp);
        for d in list {
            self.set(d.side, d.level.price.raw(), d.level.qty.raw());
        }
        Ok(())
    }

    /// Sets the absolute quantity of one level (`qty` 0 deletes it).
    pub fn update(&mut self, side: Side, price: Price, qty: Quantity) -> Result<(), BookError> {
        check_qty(side, price, qty)?;
        self.note_precision(price, qty);
        self.set(side, price.raw(), qty.raw());
        Ok(())
    }

    /// Sets the absolute quantity of one level from raw `10^-8` units
    /// (`qty_raw` 0 deletes it). The fastest way in; display precisions are not
    /// updated.
    #[inline]
    pub fn update_raw(
        &mut self,
        side: Side,
        price_raw: i64,
        qty_raw: i64,
    ) -> Result<(), BookError> {
        if qty_raw < 0 {
            return Err(BookError::NegativeQuantity {
                side,
                price: Price::from_raw(price_raw, FIXED_PRECISION),
                qty: Quantity::from_raw(qty_raw, FIXED_PRECISION),
            });
        }
        self.set(side, price_raw, qty_raw);
        Ok(())
    }

    /// Deletes every level of `side` strictly better than `price` (bids above
    /// it, asks below it) and returns how many were deleted: what a best
    /// bid/offer message at `price` says about the levels in front of it.
    /// The book ends as after `update(side, p, 0)` for each of them, with
    /// `p` at `price`'s display precision (recorded if any level was deleted),
    /// but costs one bitmap pass, not one next-best search per level.
    #[inline]
    pub fn remove_better(&mut self, side: Side, price: Price) -> usize {
        let removed = match side {
            Side::Buy => self.bids.remove_better(price.raw()),
            Side::Sell => self.asks.remove_better(price.raw()),
        };
        if removed > 0 {
            self.price_precision = self.price_precision.max(price.precision());
        }
        removed
    }

    /// Makes `price` the best level of `side` with `qty` and returns how many
    /// better levels were deleted: [`remove_better`](Self::remove_better)
    /// then [`update`](Self::update), as one best bid/offer message says it,
    /// with the same result and the same refusal (a negative quantity changes
    /// nothing). When `price` is near the top and `qty > 0`, the new best is
    /// known without searching for it.
    #[inline]
    pub fn set_best(
        &mut self,
        side: Side,
        price: Price,
        qty: Quantity,
    ) -> Result<usize, BookError> {
        check_qty(side, price, qty)?;
        self.note_precision(price, qty);
        Ok(match side {
            Side::Buy => self.bids.set_best(price.raw(), qty.raw()),
            Side::Sell => self.asks.set_best(price.raw(), qty.raw()),
        })
    }

    /// Applies a best bid/offer whose two prices both name a level:
    /// [`set_best`](Self::set_best) for `bid` on the bids, then for `ask` on
    /// the asks, with the same results and refusals (a refused bid changes
    /// nothing; a refused ask leaves the bid applied). Returns how many better
    /// levels each side lost. One call for both sides of a quote.
    #[inline]
    pub fn set_best_bid_ask(
        &mut self,
        bid: &Level,
        ask: &Level,
    ) -> Result<(usize, usize), BookError> {
        check_qty(Side::Buy, bid.price, bid.qty)?;
        self.note_precision(bid.price, bid.qty);
        let b = self.bids.set_best(bid.price.raw(), bid.qty.raw());
        check_qty(Side::Sell, ask.price, ask.qty)?;
        self.note_precision(ask.price, ask.qty);
        let a = self.asks.set_best(ask.price.raw(), ask.qty.raw());
        Ok((b, a))
    }

    /// Records the venue update id and clocks after a series of
    /// [`update`](Self::update) / [`update_raw`](Self::update_raw) calls.
    pub fn set_last_update(&mut self, update_id: u64, times: EventTimes) {
        self.last_update_id = update_id;
        self.times = times;
    }

    /// Removes every level (update id and clocks are kept).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    #[inline(always)]
    fn set(&mut self, side: Side, price: i64, qty: i64) {
        match side {
            Side::Buy => self.bids.set(price, qty),
            Side::Sell => self.asks.set(price, qty),
        }
    }

    #[inline(always)]
    fn note_precision(&mut self, price: Price, qty: Quantity) {
        // Branches, not `max`: a feed's precisions are settled after its first
        // levels, so these are predicted and the stores are skipped.
        if price.precision() > self.price_precision {
            self.price_precision = price.precision();
        }
        if qty.precision() > self.qty_precision {
            self.qty_precision = qty.precision();
        }
    }

    #[inline]
    fn check_instrument(&self, got: &InstrumentId) -> Result<(), BookError> {
        if *got == self.instrument {
            Ok(())
        } else {
            Err(BookError::InstrumentMismatch {
                expected: self.instrument,
                got: *got,
            })
        }
    }

    // ------------------------------------------------------------ queries

    #[inline]
    fn level(&self, (p, q): (i64, i64)) -> Level {
        Level {
            price: Price::from_raw(p, self.price_precision),
            qty: Quantity::from_raw(q, self.qty_precision),
        }
    }

    /// Best bid as raw `(price, qty)`.
    #[inline]
    pub fn best_bid_raw(&self) -> Option<(i64, i64)> {
        self.bids.best_price()
    }

    /// Best ask as raw `(price, qty)`.
    #[inline]
    pub fn best_ask_raw(&self) -> Option<(i64, i64)> {
        self.asks.best_price()
    }

    /// Best bid.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.best_bid_raw().map(|l| self.level(l))
    }

    /// Best ask.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.best_ask_raw().map(|l| self.level(l))
    }

    /// Best bid and best ask prices, when both sides have a level: the
    /// prices of [`best_bid`](Self::best_bid) and [`best_ask`](Self::best_ask)
    /// without building their levels (a strategy reading the top of the book
    /// on every update asks this).
    #[inline]
    pub fn best_prices(&self) -> Option<(Price, Price)> {
        let (bid, _) = self.bids.best_price()?;
        let (ask, _) = self.asks.best_price()?;
        let pp = self.price_precision;
        Some((Price::from_raw(bid, pp), Price::from_raw(ask, pp)))
    }

    /// Best level of `side` (`Buy` = bids).
    pub fn best(&self, side: Side) -> Option<Level> {
        match side {
            Side::Buy => self.best_bid(),
            Side::Sell => self.best_ask(),
        }
    }

    /// `best ask - best bid` exactly (negative when crossed); `None` if a side is empty.
    pub fn spread_raw(&self) -> Option<i128> {
        Some(spread_raw(self.best_bid_raw()?.0, self.best_ask_raw()?.0))
    }

    /// `best ask - best bid` as a price; `None` if a side is empty or the spread
    /// does not fit a `Price` (only for prices near the ends of the i64 range).
    pub fn spread(&self) -> Option<Price> {
        spread_price(
            self.best_bid_raw()?.0,
            self.best_ask_raw()?.0,
            self.price_precision,
        )
    }

    /// `best bid + best ask` exactly (twice the mid); `None` if a side is empty.
    pub fn mid_x2_raw(&self) -> Option<i128> {
        Some(i128::from(self.best_bid_raw()?.0) + i128::from(self.best_ask_raw()?.0))
    }

    /// The mid price rounded to `10^-8` with `rounding`; `None` if a side is empty.
    pub fn mid(&self, rounding: Rounding) -> Option<Price> {
        Some(mid_price(
            self.best_bid_raw()?.0,
            self.best_ask_raw()?.0,
            self.price_precision,
            rounding,
        ))
    }

    /// Is the book crossed or locked (best bid `>=` best ask)? A sound venue book
    /// never is; seeing it means a missed update or a broken sync. `false` if a
    /// side is empty.
    pub fn is_crossed(&self) -> bool {
        match (self.best_bid_raw(), self.best_ask_raw()) {
            (Some((b, _)), Some((a, _))) => b >= a,
            _ => false,
        }
    }

    /// Number of levels on `side`.
    pub fn len(&self, side: Side) -> usize {
        match side {
            Side::Buy => self.bids.len(),
            Side::Sell => self.asks.len(),
        }
    }

    /// Is the whole book empty?
    pub fn is_empty(&self) -> bool {
        self.bids.len() == 0 && self.asks.len() == 0
    }

    /// Quantity resting at `price` on `side` (0 if there is no such level).
    pub fn depth_at(&self, side: Side, price: Price) -> Quantity {
        Quantity::from_raw(self.depth_at_raw(side, price.raw()), self.qty_precision)
    }

    /// Raw quantity at a raw price on `side` (0 if absent).
    #[inline]
    pub fn depth_at_raw(&self, side: Side, price_raw: i64) -> i64 {
        match side {
            Side::Buy => self.bids.qty_at(price_raw),
            Side::Sell => self.asks.qty_at(price_raw),
        }
    }

    /// Levels of `side` best first, as raw `(price, qty)` pairs.
    pub fn levels_raw(&self, side: Side) -> RawLevels<'_> {
        match side {
            Side::Buy => self.bids.iter().into(),
            Side::Sell => self.asks.iter().into(),
        }
    }

    /// Levels of `side`, best first.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        self.levels_raw(side).map(move |l| self.level(l))
    }

    /// The best `n` levels of `side` (fewer if the side is shorter).
    pub fn top(&self, side: Side, n: usize) -> Vec<Level> {
        self.levels(side).take(n).collect()
    }

    /// Fills `out` with the best `n` raw levels of `side` (no allocation once
    /// `out` has grown).
    pub fn top_raw_into(&self, side: Side, n: usize, out: &mut Vec<(i64, i64)>) {
        fn fill(out: &mut Vec<(i64, i64)>, n: usize, it: impl Iterator<Item = (i64, i64)>) {
            out.clear();
            out.extend(it.take(n));
        }
        match side {
            Side::Buy => fill(out, n, self.bids.iter()),
            Side::Sell => fill(out, n, self.asks.iter()),
        }
    }

    /// What a taker order of `qty` on `side` would pay: `Buy` walks the asks
    /// from the best, `Sell` the bids. Exact; see [`FillCost`].
    pub fn cost_to_fill(&self, side: Side, qty: Quantity) -> Result<FillCost, BookError> {
        if qty.is_negative() {
            return Err(BookError::NegativeFillQuantity { qty });
        }
        let pp = self.price_precision;
        Ok(match side {
            Side::Buy => fill::walk(side, qty, pp, self.asks.iter()),
            Side::Sell => fill::walk(side, qty, pp, self.bids.iter()),
        })
    }

    /// The best bid and ask as a [`TopOfBook`].
    pub fn top_of_book(&self) -> TopOfBook {
        TopOfBook {
            instrument: self.instrument,
            bid: self.best_bid(),
            ask: self.best_ask(),
            update_id: Some(self.last_update_id),
            times: self.times,
        }
    }

    /// Checks the internal storage invariants (for tests and debugging; O(window)).
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.bids.check()?;
        self.asks.check()
    }
}

fn check_qty(side: Side, price: Price, qty: Quantity) -> Result<(), BookError> {
    if qty.is_negative() {
        Err(BookError::NegativeQuantity { side, price, qty })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{MarketKind, UnixNanos};

    fn id() -> InstrumentId {
        InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap()
    }

    fn lv(p: &str, q: &str) -> Level {
        Level {
            price: Price::parse(p).unwrap(),
            qty: Quantity::parse(q).unwrap(),
        }
    }

    fn snapshot() -> BookSnapshot {
        BookSnapshot {
            instrument: id(),
            last_update_id: 100,
            bids: vec![
                lv("61800.20", "2.909"),
                lv("61800.10", "0.696"),
                lv("61800.00", "20.004"),
            ],
            asks: vec![
                lv("61800.30", "1.000"),
                lv("61800.50", "0.500"),
                lv("61801.00", "3.000"),
            ],
            times: EventTimes::new(UnixNanos(1), UnixNanos(2)),
        }
    }

    fn delta(side: Side, p: &str, q: &str) -> BookDelta {
        BookDelta {
            side,
            level: lv(p, q),
        }
    }

    #[test]
    fn snapshot_then_deltas() {
        let mut b = L2Book::new(id());
        b.apply_snapshot(&snapshot()).unwrap();
        assert_eq!(b.best_bid().unwrap(), lv("61800.20", "2.909"));
        assert_eq!(b.best_ask().unwrap(), lv("61800.30", "1.000"));
        assert_eq!(b.spread().unwrap().to_string(), "0.10");
        assert_eq!(b.mid(Rounding::HalfEven).unwrap().to_string(), "61800.250");
        assert_eq!(b.last_update_id(), 100);

        let d = BookDeltas {
            instrument: id(),
            first_update_id: 101,
            last_update_id: 105,
            prev_last_update_id: Some(100),
            deltas: vec![
                delta(Side::Buy, "61800.20", "0"),     // delete best bid
                delta(Side::Buy, "61700.00", "0"),     // delete an absent level
                delta(Side::Sell, "61800.40", "0.25"), // new level inside the spread
                delta(Side::Sell, "61801.00", "2.5"),  // change
            ]
            .into(),
            times: EventTimes::new(UnixNanos(3), UnixNanos(4)),
        };
        b.apply_deltas(&d).unwrap();
        b.check_invariants().unwrap();
        assert_eq!(b.best_bid().unwrap(), lv("61800.10", "0.696"));
        assert_eq!(
            b.top(Side::Sell, 10),
            vec![
                lv("61800.30", "1.000"),
                lv("61800.40", "0.250"),
                lv("61800.50", "0.500"),
                lv("61801.00", "2.500"),
            ]
        );
        assert_eq!(b.len(Side::Buy), 2);
        assert_eq!(
            b.depth_at(Side::Sell, Price::parse("61801").unwrap())
                .to_string(),
            "2.500"
        );
        assert_eq!(b.depth_at(Side::Sell, Price::parse("1").unwrap()).raw(), 0);
        assert_eq!(b.last_update_id(), 105);
        assert_eq!(b.times().local, UnixNanos(4));

        // Buy 1.5: 1.000 @ 61800.30 + 0.25 @ 61800.40 + 0.25 @ 61800.50
        let c = b
            .cost_to_fill(Side::Buy, Quantity::parse("1.5").unwrap())
            .unwrap();
        assert!(c.is_complete());
        assert_eq!(c.levels, 3);
        let expected = 6_180_030_000_000i128 * 100_000_000
            + 6_180_040_000_000i128 * 25_000_000
            + 6_180_050_000_000i128 * 25_000_000;
        assert_eq!(c.notional_raw_e16, expected);
        assert_eq!(
            c.vwap().unwrap().to_price(Rounding::HalfEven).to_string(),
            "61800.35000000"
        );
        assert_eq!(c.worst_price.unwrap().to_string(), "61800.50");
    }

    /// `best_prices` is the best bid's and best ask's prices (with their
    /// precision), and `None` while either side is empty.
    #[test]
    fn best_prices_match_best_levels() {
        let mut b = L2Book::new(id());
        assert_eq!(b.best_prices(), None);
        b.update(
            Side::Buy,
            Price::parse("61800.20").unwrap(),
            Quantity::parse("1").unwrap(),
        )
        .unwrap();
        assert_eq!(b.best_prices(), None);
        b.apply_snapshot(&snapshot()).unwrap();
        let (bid, ask) = b.best_prices().unwrap();
        assert_eq!(bid, b.best_bid().unwrap().price);
        assert_eq!(ask, b.best_ask().unwrap().price);
        assert_eq!(
            (bid.to_string(), ask.to_string()),
            ("61800.20".to_string(), "61800.30".to_string())
        );
        for p in ["61800.30", "61800.50", "61801.00"] {
            b.update(Side::Sell, Price::parse(p).unwrap(), Quantity::ZERO)
                .unwrap();
        }
        assert_eq!(b.best_ask(), None);
        assert_eq!(b.best_prices(), None);
    }

    #[test]
    fn refused_updates_change_nothing() {
        let mut b = L2Book::new(id());
        b.apply_snapshot(&snapshot()).unwrap();
        let before = b.top(Side::Buy, 10);
        let bad = BookDeltas {
            instrument: id(),
            first_update_id: 1,
            last_update_id: 2,
            prev_last_update_id: None,
            deltas: vec![
                delta(Side::Buy, "61800.20", "0"),
                delta(Side::Buy, "1", "-1"),
            ]
            .into(),
            times: EventTimes::default(),
        };
        let e = b.apply_deltas(&bad).unwrap_err();
        assert!(matches!(
            e,
            BookError::NegativeQuantity {
                side: Side::Buy,
                ..
            }
        ));
        assert!(e.to_string().contains("must be >= 0"));
        assert_eq!(b.top(Side::Buy, 10), before);
        assert_eq!(b.last_update_id(), 100);

        let other = InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap();
        let mut s = snapshot();
        s.instrument = other;
        assert!(matches!(
            b.apply_snapshot(&s),
            Err(BookError::InstrumentMismatch { .. })
        ));
        assert!(b.update_raw(Side::Sell, 5, -1).is_err());
        assert!(b
            .cost_to_fill(Side::Sell, Quantity::parse("-1").unwrap())
            .is_err());
    }

    #[test]
    fn set_best_bid_ask_refuses_side_by_side() {
        let mut b = L2Book::new(id());
        b.apply_snapshot(&snapshot()).unwrap();
        let mut two = b.clone();
        // Bid 61800.10 removes 61800.20; ask 61800.50 removes 61800.30.
        let (bid, ask) = (lv("61800.10", "1.5"), lv("61800.50", "0.7"));
        assert_eq!(b.set_best_bid_ask(&bid, &ask), Ok((1, 1)));
        two.set_best(Side::Buy, bid.price, bid.qty).unwrap();
        two.set_best(Side::Sell, ask.price, ask.qty).unwrap();
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(b.top(side, 10), two.top(side, 10));
        }
        // A refused bid changes nothing.
        let before = (b.top(Side::Buy, 10), b.top(Side::Sell, 10));
        let neg = Level {
            price: Price::parse("61800.00").unwrap(),
            qty: Quantity::parse("-1").unwrap(),
        };
        let e = b.set_best_bid_ask(&neg, &lv("61801.00", "1")).unwrap_err();
        assert!(matches!(
            e,
            BookError::NegativeQuantity {
                side: Side::Buy,
                ..
            }
        ));
        assert_eq!((b.top(Side::Buy, 10), b.top(Side::Sell, 10)), before);
        // A refused ask leaves the bid applied.
        let neg_ask = Level {
            price: Price::parse("61801.00").unwrap(),
            qty: Quantity::parse("-1").unwrap(),
        };
        let e = b
            .set_best_bid_ask(&lv("61800.00", "2"), &neg_ask)
            .unwrap_err();
        assert!(matches!(
            e,
            BookError::NegativeQuantity {
                side: Side::Sell,
                ..
            }
        ));
        assert_eq!(b.top(Side::Buy, 10), vec![lv("61800.00", "2.000")]);
        assert_eq!(b.top(Side::Sell, 10), before.1);
        b.check_invariants().unwrap();
    }

    #[test]
    fn crossed_detection() {
        let mut b = L2Book::new(id());
        assert!(!b.is_crossed());
        b.update_raw(Side::Buy, 100, 1).unwrap();
        assert!(!b.is_crossed());
        b.update_raw(Side::Sell, 101, 1).unwrap();
        assert!(!b.is_crossed());
        b.update_raw(Side::Sell, 100, 1).unwrap();
        assert!(b.is_crossed()); // locked
        b.update_raw(Side::Sell, 100, 0).unwrap();
        b.update_raw(Side::Buy, 105, 1).unwrap();
        assert!(b.is_crossed());
        assert_eq!(b.spread_raw(), Some(-4));
        assert!(b.top_of_book().is_crossed());
    }

    #[test]
    fn config_is_validated() {
        let bad = BookConfig::default().with_window(3);
        assert!(matches!(
            L2Book::with_config(id(), bad),
            Err(BookError::InvalidConfig { .. })
        ));
        let zero_tick = BookConfig {
            tick_size: Some(Price::ZERO),
            window_ticks: 64,
        };
        assert!(L2Book::with_config(id(), zero_tick).is_err());
        let ok = BookConfig {
            tick_size: Some(Price::parse("0.10").unwrap()),
            window_ticks: 100,
        };
        let mut b = L2Book::with_config(id(), ok).unwrap();
        b.apply_snapshot(&snapshot()).unwrap();
        assert_eq!(b.best_bid().unwrap().price.to_string(), "61800.20");
        b.check_invariants().unwrap();
    }
}
