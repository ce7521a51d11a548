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

use veloz_core::events::{BookDeltas, BookSnapshot, Quote};
use veloz_core::{Instrument, Price, Quantity, Side};
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
    pub fn apply_snapshot(&mut self, s: &BookSnapshot) -> Result<(), BookError> {
        self.book.apply_snapshot(s)?;
        self.consumed.clear();
        self.last_depth_update_id = s.last_update_id;
        Ok(())
    }

    /// Applies one venue depth message.
    pub fn apply_deltas(&mut self, d: &BookDeltas) -> Result<(), BookError> {
        if d.instrument != self.book.instrument() {
            return Err(BookError::InstrumentMismatch {
                expected: self.book.instrument(),
                got: d.instrument,
            });
        }
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
        self.last_depth_update_id = d.last_update_id;
        Ok(())
    }

    /// Applies a best bid/offer (see the module docs). Returns `false` if the
    /// quote was stale and ignored.
    pub fn apply_quote(&mut self, q: &Quote) -> Result<bool, BookError> {
        if q.instrument != self.book.instrument() {
            return Err(BookError::InstrumentMismatch {
                expected: self.book.instrument(),
                got: q.instrument,
            });
        }
        if let Some(u) = q.update_id {
            if u < self.last_depth_update_id {
                return Ok(false);
            }
        }
        for (side, level) in [(Side::Buy, q.bid), (Side::Sell, q.ask)] {
            if level.qty.is_negative() {
                return Err(BookError::NegativeQuantity {
                    side,
                    price: level.price,
                    qty: level.qty,
                });
            }
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
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::events::{BookDelta, EventTimes, Level};
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
}
