//! [`TopOfBook`]: the best bid and ask of one instrument, built from a venue
//! [`Quote`] (Binance `bookTicker`) or from an [`L2Book`](crate::L2Book), with
//! exact spread, mid and crossed-book checks.
//!
//! The raw helpers here are shared with the book so both answer the same way.

use veloz_core::events::{EventTimes, Level, Quote};
use veloz_core::fixed::div_round_i128;
use veloz_core::{InstrumentId, Price, Rounding, FIXED_PRECISION};

/// Best bid and best ask; a side is `None` when it is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopOfBook {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Best bid, if any.
    pub bid: Option<Level>,
    /// Best ask, if any.
    pub ask: Option<Level>,
    /// Venue update id this view is as of, if known.
    pub update_id: Option<u64>,
    /// Clocks of the event that produced this view.
    pub times: EventTimes,
}

impl TopOfBook {
    /// From a venue quote. A level with zero quantity means that side is empty.
    pub fn from_quote(quote: &Quote) -> Self {
        let side = |l: Level| (!l.qty.is_zero()).then_some(l);
        Self {
            instrument: quote.instrument,
            bid: side(quote.bid),
            ask: side(quote.ask),
            update_id: quote.update_id,
            times: quote.times,
        }
    }

    /// `ask - bid` exactly (negative when crossed); `None` if a side is empty.
    pub fn spread_raw(&self) -> Option<i128> {
        Some(spread_raw(self.bid?.price.raw(), self.ask?.price.raw()))
    }

    /// `ask - bid` as a price; `None` if a side is empty or the spread does not
    /// fit a `Price` (only for prices near the ends of the i64 range).
    pub fn spread(&self) -> Option<Price> {
        let (b, a) = (self.bid?.price, self.ask?.price);
        spread_price(b.raw(), a.raw(), b.precision().max(a.precision()))
    }

    /// `bid + ask` exactly (twice the mid, so no rounding); `None` if a side is empty.
    pub fn mid_x2_raw(&self) -> Option<i128> {
        Some(i128::from(self.bid?.price.raw()) + i128::from(self.ask?.price.raw()))
    }

    /// The mid price rounded to `10^-8` with `rounding`; `None` if a side is empty.
    pub fn mid(&self, rounding: Rounding) -> Option<Price> {
        let (b, a) = (self.bid?.price, self.ask?.price);
        Some(mid_price(
            b.raw(),
            a.raw(),
            b.precision().max(a.precision()),
            rounding,
        ))
    }

    /// Is the book crossed or locked (best bid `>=` best ask)? `false` if a side is empty.
    pub fn is_crossed(&self) -> bool {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) => b.price >= a.price,
            _ => false,
        }
    }
}

impl From<&Quote> for TopOfBook {
    fn from(q: &Quote) -> Self {
        Self::from_quote(q)
    }
}

impl From<Quote> for TopOfBook {
    fn from(q: Quote) -> Self {
        Self::from_quote(&q)
    }
}

/// `ask - bid` exactly.
#[inline]
pub(crate) fn spread_raw(bid: i64, ask: i64) -> i128 {
    i128::from(ask) - i128::from(bid)
}

/// `ask - bid` as a `Price` if it fits.
pub(crate) fn spread_price(bid: i64, ask: i64, precision: u8) -> Option<Price> {
    i64::try_from(spread_raw(bid, ask))
        .ok()
        .map(|raw| Price::from_raw(raw, precision))
}

/// `(bid + ask) / 2` rounded with `rounding`. The result always fits (it lies
/// between two i64 values); its display precision is one more decimal than the
/// inputs', at most 8.
pub(crate) fn mid_price(bid: i64, ask: i64, precision: u8, rounding: Rounding) -> Price {
    let sum = i128::from(bid) + i128::from(ask);
    let raw = div_round_i128(sum, 2, rounding)
        .map(|r| r.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
        .unwrap_or(0);
    Price::from_raw(raw, (precision + 1).min(FIXED_PRECISION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{MarketKind, Quantity, UnixNanos};

    fn level(p: &str, q: &str) -> Level {
        Level {
            price: Price::parse(p).unwrap(),
            qty: Quantity::parse(q).unwrap(),
        }
    }

    fn quote(bid: Level, ask: Level) -> Quote {
        Quote {
            instrument: InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
            bid,
            ask,
            update_id: Some(7),
            times: EventTimes::new(UnixNanos(1), UnixNanos(2)),
        }
    }

    #[test]
    fn spread_mid_and_cross_from_a_quote() {
        let t = TopOfBook::from(quote(level("61800.20", "1"), level("61800.30", "2")));
        assert_eq!(t.spread().unwrap().to_string(), "0.10");
        assert_eq!(t.spread_raw(), Some(10_000_000));
        assert_eq!(t.mid_x2_raw(), Some(12_360_050_000_000));
        assert_eq!(t.mid(Rounding::Down).unwrap().to_string(), "61800.250");
        assert!(!t.is_crossed());
        assert_eq!(t.update_id, Some(7));

        let locked = TopOfBook::from(quote(level("10", "1"), level("10", "1")));
        assert!(locked.is_crossed());
        assert_eq!(locked.spread().unwrap().raw(), 0);

        let odd = TopOfBook::from(quote(level("0.00000001", "1"), level("0.00000002", "1")));
        assert_eq!(odd.mid(Rounding::Down).unwrap().raw(), 1);
        assert_eq!(odd.mid(Rounding::Up).unwrap().raw(), 2);
        assert_eq!(odd.mid(Rounding::HalfEven).unwrap().raw(), 2);
    }

    #[test]
    fn empty_side_has_no_spread() {
        let t = TopOfBook::from(quote(level("100", "0"), level("101", "1")));
        assert_eq!(t.bid, None);
        assert_eq!(t.spread(), None);
        assert_eq!(t.mid(Rounding::Down), None);
        assert!(!t.is_crossed());
    }

    #[test]
    fn extreme_spread_does_not_overflow() {
        assert_eq!(spread_raw(i64::MAX, i64::MIN), -(1i128 << 64) + 1);
        assert_eq!(spread_price(i64::MAX, i64::MIN, 8), None);
        assert_eq!(
            mid_price(i64::MAX, i64::MAX, 8, Rounding::Up).raw(),
            i64::MAX
        );
        assert_eq!(mid_price(i64::MIN, i64::MAX, 8, Rounding::Down).raw(), -1);
    }
}
