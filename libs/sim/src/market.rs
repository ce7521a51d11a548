//! The replayed market's book as the simulator sees it: the venue's L2 book
//! ([`veloz_market::L2Book`]) plus the liquidity simulated takers already
//! consumed from it.
//!
//! Our orders never change the replayed book: the next depth update from the
//! venue knows nothing about them. But a simulated taker that walks the book
//! must not be able to take the same visible quantity twice before the venue's
//! data moves on. So each level remembers how much of it simulated orders
//! consumed, and the quantity the simulator offers at a price is the
//! **effective** quantity `max(0, venue quantity − consumed)`.
//!
//! Consumed quantity is forgotten as the venue catches up:
//!
//! * when the venue reports a level smaller than before by `d`, `d` is taken
//!   off the level's consumed quantity (the real market removed liquidity
//!   from the front of the queue, which is where our taker took it from);
//! * when the venue removes the level (quantity 0) or sends a full snapshot,
//!   the level's (every level's) consumed quantity is dropped;
//! * increases leave it unchanged (new liquidity joins behind what we took).
//!
//! Quotes (`bookTicker`) update the best level of each side and remove the
//! levels better than it, so a quote-only feed works as a one-level book and a
//! depth feed is kept fresh between depth messages. A quote older than the last
//! depth message (by venue update id) is ignored.

use std::collections::BTreeMap;

use veloz_core::events::{BookDeltas, BookSnapshot, Level, Quote};
use veloz_core::{Instrument, InstrumentId, Price, Quantity, Side};
use veloz_market::{BookConfig, BookError, L2Book};

/// The market book with consumed-liquidity memory (see the module docs).
#[derive(Debug, Clone)]
pub struct MarketBook {
    book: L2Book,
    consumed: BTreeMap<(Side, i64), i64>,
    last_depth_update_id: u64,
}

impl MarketBook {
    /// An empty book for `instrument`, laid out on its tick grid.
    pub fn new(instrument: &Instrument) -> Self {
        let book = if instrument.tick_size.is_positive() {
            L2Book::with_config(instrument.id, BookConfig::for_instrument(instrument))
                .unwrap_or_else(|_| L2Book::new(instrument.id))
        } else {
            L2Book::new(instrument.id)
        };
        Self {
            book,
            consumed: BTreeMap::new(),
            last_depth_update_id: 0,
        }
    }

    /// The venue's book (without consumption).
    pub fn l2(&self) -> &L2Book {
        &self.book
    }

    /// The venue's raw quantity at a raw price.
    pub fn venue_qty(&self, side: Side, price: i64) -> i64 {
        self.book.depth_at_raw(side, price)
    }

    /// Quantity consumed by simulated takers at a level, not yet seen leaving
    /// the venue's book.
    pub fn consumed(&self, side: Side, price: i64) -> i64 {
        self.consumed.get(&(side, price)).copied().unwrap_or(0)
    }

    /// Effective quantity offered at a level (venue less consumed).
    pub fn effective(&self, side: Side, price: i64) -> i64 {
        (self.venue_qty(side, price) - self.consumed(side, price)).max(0)
    }

    /// Levels of `side`, best first, as raw `(price, effective qty)`; levels
    /// fully consumed are skipped.
    pub fn effective_levels(&self, side: Side) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.book.levels_raw(side).filter_map(move |(p, q)| {
            let e = (q - self.consumed(side, p)).max(0);
            (e > 0).then_some((p, e))
        })
    }

    /// Best effective level of `side`.
    #[inline]
    pub fn best_effective(&self, side: Side) -> Option<(i64, i64)> {
        if self.consumed.is_empty() {
            // Nothing consumed: the effective book is the venue's book, whose
            // best level is kept up to date (no level walk).
            return match side {
                Side::Buy => self.book.best_bid_raw(),
                Side::Sell => self.book.best_ask_raw(),
            };
        }
        self.effective_levels(side).next()
    }

    /// Best effective bid and ask as prices.
    pub fn best_prices(&self) -> (Option<Price>, Option<Price>) {
        let p = |s| {
            self.best_effective(s)
                .map(|(p, _)| Price::from_raw(p, veloz_core::FIXED_PRECISION))
        };
        (p(Side::Buy), p(Side::Sell))
    }

    /// Records that a simulated order took `qty` from the level.
    pub fn consume(&mut self, side: Side, price: i64, qty: i64) {
        if qty > 0 {
            *self.consumed.entry((side, price)).or_insert(0) += qty;
        }
    }

    fn set_level(&mut self, side: Side, price: Price, qty: Quantity) -> Result<(), BookError> {
        if self.consumed.is_empty() {
            // Nothing of ours was taken from the book: nothing to forget.
            return self.book.update(side, price, qty);
        }
        let prev = self.book.depth_at_raw(side, price.raw());
        self.book.update(side, price, qty)?;
        let new = qty.raw();
        if new == 0 {
            self.consumed.remove(&(side, price.raw()));
        } else if new < prev {
            if let Some(c) = self.consumed.get_mut(&(side, price.raw())) {
                *c = (*c - (prev - new)).max(0);
                if *c == 0 {
                    self.consumed.remove(&(side, price.raw()));
                }
            }
        }
        Ok(())
    }

    /// Replaces the book with a snapshot; consumption is forgotten.
    #[inline(never)]
    pub fn apply_snapshot(&mut self, s: &BookSnapshot) -> Result<(), BookError> {
        self.book.apply_snapshot(s)?;
        self.consumed.clear();
        self.last_depth_update_id = s.last_update_id;
        Ok(())
    }

    /// Applies one venue depth message.
    pub fn apply_deltas(&mut self, d: &BookDeltas) -> Result<(), BookError> {
        self.check_instrument(&d.instrument)?;
        self.apply_routed_deltas(d)
    }

    /// [`apply_deltas`](Self::apply_deltas) for a message already routed to
    /// this book by its instrument (the venue found the book by it).
    #[inline]
    pub(crate) fn apply_routed_deltas(&mut self, d: &BookDeltas) -> Result<(), BookError> {
        if self.consumed.is_empty() {
            // Nothing of ours was taken from the book: nothing to forget, the
            // message is the venue book's alone.
            self.book.apply_routed_deltas(d)?;
        } else {
            self.apply_deltas_consumed(d)?;
        }
        self.last_depth_update_id = d.last_update_id;
        Ok(())
    }

    /// Depth message while some levels carry consumed quantity.
    #[inline(never)]
    fn apply_deltas_consumed(&mut self, d: &BookDeltas) -> Result<(), BookError> {
        for delta in &d.deltas {
            if delta.level.qty.is_negative() {
                return Err(BookError::NegativeQuantity {
                    side: delta.side,
                    price: delta.level.price,
                    qty: delta.level.qty,
                });
            }
        }
        for delta in &d.deltas {
            self.set_level(delta.side, delta.level.price, delta.level.qty)?;
        }
        self.book.set_last_update(d.last_update_id, d.times);
        Ok(())
    }

    #[inline]
    fn check_instrument(&self, got: &InstrumentId) -> Result<(), BookError> {
        if *got == self.book.instrument() {
            Ok(())
        } else {
            Err(BookError::InstrumentMismatch {
                expected: self.book.instrument(),
                got: *got,
            })
        }
    }

    /// Applies a best bid/offer (see the module docs). Returns `false` if the
    /// quote was stale and ignored.
    pub fn apply_quote(&mut self, q: &Quote) -> Result<bool, BookError> {
        self.check_instrument(&q.instrument)?;
        self.apply_routed_quote(q)
    }

    /// [`apply_quote`](Self::apply_quote) for a quote already routed to this
    /// book by its instrument (the venue found the book by it).
    #[inline]
    pub(crate) fn apply_routed_quote(&mut self, q: &Quote) -> Result<bool, BookError> {
        if let Some(u) = q.update_id {
            if u < self.last_depth_update_id {
                return Ok(false);
            }
        }
        if self.consumed.is_empty() && q.bid.price.is_positive() && q.ask.price.is_positive() {
            // Nothing consumed and both sides name a level: what
            // `quote_side` does for each side (see there), in one call into
            // the book, which refuses a negative quantity side by side too.
            self.book.set_best_bid_ask(&q.bid, &q.ask)?;
            return Ok(true);
        }
        // Side by side, as a refusal of the ask must leave the bid applied.
        self.quote_side(Side::Buy, &q.bid)?;
        self.quote_side(Side::Sell, &q.ask)?;
        Ok(true)
    }

    /// One side of a quote: the levels better than it are gone, its level
    /// is set (if its price is positive).
    #[inline(always)]
    fn quote_side(&mut self, side: Side, level: &Level) -> Result<(), BookError> {
        if level.qty.is_negative() {
            return Err(BookError::NegativeQuantity {
                side,
                price: level.price,
                qty: level.qty,
            });
        }
        if !self.consumed.is_empty() {
            return self.quote_side_consumed(side, level);
        }
        // Nothing consumed, so deleting a level and setting one touch only
        // the venue's book: the better levels go in one bitmap pass, with
        // the same result as deleting them one by one best first (see
        // `L2Book::remove_better` and `L2Book::set_best`), and a quote that
        // keeps the best price only changes its quantity.
        if level.price.is_positive() {
            self.book.set_best(side, level.price, level.qty)?;
        } else {
            self.book.remove_better(side, level.price);
        }
        Ok(())
    }

    /// [`MarketBook::quote_side`] while some levels carry consumed quantity:
    /// each removed level forgets its consumption.
    #[inline(never)]
    fn quote_side_consumed(&mut self, side: Side, level: &Level) -> Result<(), BookError> {
        // Levels better than the quote are gone: remove them best first
        // (no allocation: this runs on every quote).
        while let Some((p, _)) = match side {
            Side::Buy => self.book.best_bid_raw(),
            Side::Sell => self.book.best_ask_raw(),
        } {
            let better = match side {
                Side::Buy => p > level.price.raw(),
                Side::Sell => p < level.price.raw(),
            };
            if !better {
                break;
            }
            self.set_level(
                side,
                Price::from_raw(p, level.price.precision()),
                Quantity::ZERO,
            )?;
        }
        if level.price.is_positive() {
            self.set_level(side, level.price, level.qty)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::events::{BookDelta, EventTimes};
    use veloz_core::{InstrumentId, MarketKind};

    fn id() -> InstrumentId {
        InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap()
    }
    fn lvl(p: &str, q: &str) -> Level {
        Level {
            price: Price::parse(p).unwrap(),
            qty: Quantity::parse(q).unwrap(),
        }
    }
    fn deltas(d: Vec<(Side, Level)>) -> BookDeltas {
        BookDeltas {
            instrument: id(),
            first_update_id: 2,
            last_update_id: 2,
            prev_last_update_id: None,
            deltas: d
                .into_iter()
                .map(|(side, level)| BookDelta { side, level })
                .collect(),
            times: EventTimes::default(),
        }
    }

    #[test]
    fn consumption_is_forgotten_as_the_venue_catches_up() {
        let mut m = MarketBook::new(&crate::presets::spot_btcusdt());
        m.apply_snapshot(&BookSnapshot {
            instrument: id(),
            last_update_id: 1,
            bids: vec![lvl("100", "5")],
            asks: vec![lvl("101", "3")],
            times: EventTimes::default(),
        })
        .unwrap();
        let p = Price::parse("101").unwrap().raw();
        let q = |s: &str| Quantity::parse(s).unwrap().raw();
        m.consume(Side::Sell, p, q("2"));
        assert_eq!(m.effective(Side::Sell, p), q("1"));
        // Venue grows the level: consumption stays.
        m.apply_deltas(&deltas(vec![(Side::Sell, lvl("101", "4"))]))
            .unwrap();
        assert_eq!(m.effective(Side::Sell, p), q("2"));
        // Venue shrinks it by 1.5: consumption drops to 0.5.
        m.apply_deltas(&deltas(vec![(Side::Sell, lvl("101", "2.5"))]))
            .unwrap();
        assert_eq!(m.consumed(Side::Sell, p), q("0.5"));
        assert_eq!(m.effective(Side::Sell, p), q("2"));
        // Fully consumed levels are skipped.
        m.consume(Side::Sell, p, q("2"));
        assert_eq!(m.best_effective(Side::Sell), None);
        // Removal forgets.
        m.apply_deltas(&deltas(vec![(Side::Sell, lvl("101", "0"))]))
            .unwrap();
        assert_eq!(m.consumed(Side::Sell, p), 0);
    }

    #[test]
    fn quotes_clear_better_levels_and_stale_quotes_are_ignored() {
        let mut m = MarketBook::new(&crate::presets::spot_btcusdt());
        m.apply_snapshot(&BookSnapshot {
            instrument: id(),
            last_update_id: 10,
            bids: vec![lvl("100", "5"), lvl("99", "1")],
            asks: vec![lvl("101", "3"), lvl("102", "1")],
            times: EventTimes::default(),
        })
        .unwrap();
        let quote = |u, b: Level, a: Level| Quote {
            instrument: id(),
            bid: b,
            ask: a,
            update_id: Some(u),
            times: EventTimes::default(),
        };
        assert!(!m
            .apply_quote(&quote(9, lvl("50", "1"), lvl("150", "1")))
            .unwrap());
        assert!(m
            .apply_quote(&quote(11, lvl("99", "2"), lvl("102", "4")))
            .unwrap());
        let r = |s: &str| Price::parse(s).unwrap().raw();
        assert_eq!(m.best_effective(Side::Buy).unwrap().0, r("99"));
        assert_eq!(m.best_effective(Side::Sell).unwrap().0, r("102"));
        assert_eq!(m.venue_qty(Side::Buy, r("100")), 0);
        assert_eq!(m.venue_qty(Side::Sell, r("101")), 0);
    }

    /// The fast paths (nothing consumed: `set_best`/`remove_better` for
    /// quotes, the book's own delta path for depth) against the general
    /// paths (taken while some level carries consumed quantity) on a random
    /// stream of quotes and depth messages: both books must stay equal level
    /// for level, display precision included.
    #[test]
    fn fast_paths_match_the_general_paths() {
        let inst = crate::presets::spot_btcusdt();
        let (mut fast, mut general) = (MarketBook::new(&inst), MarketBook::new(&inst));
        // A far bid that no quote reaches, consumed in `general` only: it
        // keeps `general` on its general paths for the whole stream.
        let far = Price::parse("1").unwrap();
        for m in [&mut fast, &mut general] {
            m.apply_deltas(&deltas(vec![(
                Side::Buy,
                Level {
                    price: far,
                    qty: Quantity::parse("1000").unwrap(),
                },
            )]))
            .unwrap();
        }
        general.consume(Side::Buy, far.raw(), 1);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let tick = inst.tick_size.raw();
        let mut mid = 1_000_000i64; // ticks
        for step in 0..5_000u64 {
            mid += next(61) as i64 - 30;
            // Display precision varies between messages (2 to 4 decimals).
            let px = |t: i64, dp: u8| Price::from_raw(t * tick, dp);
            let qty = |n: u64| Quantity::from_raw((n as i64) * 1_000, 8);
            let dp = 2 + next(3) as u8;
            let (a, b) = if next(4) == 0 {
                // Depth: one to three levels near the top, some deletes.
                let list: Vec<(Side, Level)> = (0..1 + next(3))
                    .map(|_| {
                        let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                        let off = next(40) as i64;
                        let t = match side {
                            Side::Buy => mid - 1 - off,
                            Side::Sell => mid + 1 + off,
                        };
                        let q = if next(4) == 0 { 0 } else { 1 + next(500) };
                        (
                            side,
                            Level {
                                price: px(t, dp),
                                qty: qty(q),
                            },
                        )
                    })
                    .collect();
                let mut d = deltas(list);
                d.last_update_id = step;
                (
                    fast.apply_deltas(&d).map(|_| true),
                    general.apply_deltas(&d).map(|_| true),
                )
            } else {
                let spread = 1 + next(3) as i64;
                let bq = if next(10) == 0 { 0 } else { 1 + next(500) };
                let aq = if next(10) == 0 { 0 } else { 1 + next(500) };
                let ask_t = if next(50) == 0 { 0 } else { mid + spread };
                let mut q = Quote {
                    instrument: id(),
                    bid: Level {
                        price: px(mid, dp),
                        qty: qty(bq),
                    },
                    ask: Level {
                        price: px(ask_t, dp),
                        qty: qty(aq),
                    },
                    update_id: if next(3) == 0 {
                        None
                    } else {
                        Some(step - next(3).min(step))
                    },
                    times: EventTimes::default(),
                };
                // Now and then a refused side (a negative quantity): a
                // refused bid changes nothing, a refused ask keeps the bid.
                // (Chosen by the step, so the random stream stays the same.)
                if step % 97 == 13 {
                    q.bid.qty = Quantity::from_raw(-1_000, 8);
                } else if step % 89 == 7 {
                    q.ask.qty = Quantity::from_raw(-1_000, 8);
                }
                (fast.apply_quote(&q), general.apply_quote(&q))
            };
            assert_eq!(a, b, "step {step}");
            assert_eq!(general.consumed(Side::Buy, far.raw()), 1, "step {step}");
            for side in [Side::Buy, Side::Sell] {
                let show = |m: &MarketBook| -> Vec<String> {
                    m.l2()
                        .levels(side)
                        .map(|l| format!("{}@{}", l.qty, l.price))
                        .collect()
                };
                assert_eq!(show(&fast), show(&general), "step {step} {side:?}");
            }
            if step % 100 == 0 {
                fast.l2().check_invariants().unwrap();
            }
        }
        let lens = (fast.l2().len(Side::Buy), fast.l2().len(Side::Sell));
        assert!(lens.0 > 10 && lens.1 > 10, "{lens:?}");
    }
}
