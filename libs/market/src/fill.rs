//! The cost of taking liquidity from a book: [`FillCost`] (what a market order
//! of a given size would pay, level by level) and [`Vwap`], its exact average
//! price as a rational number.
//!
//! Everything is exact integer arithmetic: notionals are `Σ price × qty` in raw
//! `10^-16` units (`i128`), and a VWAP is only rounded when it is turned into a
//! [`Price`], with the caller's [`Rounding`].

use std::cmp::Ordering;

use veloz_core::fixed::div_round_i128;
use veloz_core::{Currency, FixedError, Money, Price, Quantity, Rounding, Side, FIXED_PRECISION};

/// What a taker order of `requested` quantity would get from the book now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillCost {
    /// Side of the taker order: `Buy` consumes asks, `Sell` consumes bids.
    pub side: Side,
    /// Quantity asked for.
    pub requested: Quantity,
    /// Quantity the book can fill (`<= requested`; less when the side runs dry).
    pub filled: Quantity,
    /// Exact `Σ price × qty` over the consumed levels, raw `10^-16` units.
    pub notional_raw_e16: i128,
    /// Number of levels touched (the last one possibly partly).
    pub levels: usize,
    /// Price of the last level touched, if any.
    pub worst_price: Option<Price>,
}

impl FillCost {
    /// An empty fill (nothing consumed yet).
    pub(crate) fn empty(side: Side, requested: Quantity) -> Self {
        Self {
            side,
            requested,
            filled: Quantity::from_raw(0, requested.precision()),
            notional_raw_e16: 0,
            levels: 0,
            worst_price: None,
        }
    }

    /// Did the book hold enough to fill the whole request?
    pub fn is_complete(&self) -> bool {
        self.filled.raw() == self.requested.raw()
    }

    /// Quantity the book could not fill.
    pub fn unfilled(&self) -> Quantity {
        // filled <= requested, both >= 0: cannot overflow.
        Quantity::from_raw(
            self.requested.raw() - self.filled.raw(),
            self.requested.precision(),
        )
    }

    /// The exact volume-weighted average price of what was filled (`None` if
    /// nothing was).
    pub fn vwap(&self) -> Option<Vwap> {
        (self.filled.raw() > 0).then_some(Vwap {
            notional_raw_e16: self.notional_raw_e16,
            qty_raw: self.filled.raw(),
        })
    }

    /// The notional as [`Money`] in `currency` (the quote currency for linear
    /// contracts), rounded to `10^-8` with `rounding`.
    pub fn notional(&self, currency: Currency, rounding: Rounding) -> Result<Money, FixedError> {
        let raw = div_round_i128(
            self.notional_raw_e16,
            i128::from(veloz_core::FIXED_SCALE),
            rounding,
        )
        .ok_or(FixedError::Overflow {
            op: "fill notional",
        })?;
        Ok(Money::from_raw(raw, currency))
    }
}

/// An exact volume-weighted average price: `notional / quantity`.
///
/// Compare it with a limit price with [`Vwap::cmp_price`]; turn it into a
/// [`Price`] with [`Vwap::to_price`] and the rounding your use needs (for a
/// buy, rounding up is the conservative choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vwap {
    notional_raw_e16: i128,
    qty_raw: i64,
}

impl Vwap {
    /// Numerator: `Σ price × qty`, raw `10^-16` units.
    pub fn notional_raw_e16(&self) -> i128 {
        self.notional_raw_e16
    }

    /// Denominator: total quantity, raw `10^-8` units (always `> 0`).
    pub fn qty_raw(&self) -> i64 {
        self.qty_raw
    }

    /// Is the average exactly representable as a `Price` (no rounding needed)?
    pub fn is_exact(&self) -> bool {
        self.notional_raw_e16 % i128::from(self.qty_raw) == 0
    }

    /// The average rounded to `10^-8` with `rounding` (display precision 8).
    pub fn to_price(&self, rounding: Rounding) -> Price {
        // An average of prices lies between the smallest and largest of them,
        // all of which are i64, so the rounded value fits too; the fallback only
        // guards against a broken invariant.
        let raw = div_round_i128(self.notional_raw_e16, i128::from(self.qty_raw), rounding)
            .map(|r| r.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
            .unwrap_or(0);
        Price::from_raw(raw, FIXED_PRECISION)
    }

    /// Exact comparison of the average with `price`.
    pub fn cmp_price(&self, price: Price) -> Ordering {
        // |price × qty| < 2^126: no overflow.
        self.notional_raw_e16
            .cmp(&(i128::from(price.raw()) * i128::from(self.qty_raw)))
    }
}

/// Walks `levels` (best first) to fill `requested` raw units.
pub(crate) fn walk(
    side: Side,
    requested: Quantity,
    price_precision: u8,
    levels: impl Iterator<Item = (i64, i64)>,
) -> FillCost {
    let mut cost = FillCost::empty(side, requested);
    let mut remaining = requested.raw();
    let mut filled: i64 = 0;
    for (p, q) in levels {
        if remaining <= 0 {
            break;
        }
        let take = q.min(remaining);
        remaining -= take;
        filled += take; // <= requested
        cost.notional_raw_e16 += i128::from(p) * i128::from(take); // |Σ| <= 2^63 × requested
        cost.levels += 1;
        cost.worst_price = Some(Price::from_raw(p, price_precision));
    }
    cost.filled = Quantity::from_raw(filled, requested.precision());
    cost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn walks_levels_and_averages_exactly() {
        let levels = [
            (10_000_000_000i64, 100_000_000i64),
            (10_100_000_000, 200_000_000),
        ];
        // 100.00 x 1 + 101.00 x 0.5 = 150.5 for 1.5 -> 100.333..
        let c = walk(Side::Buy, q("1.5"), 2, levels.into_iter());
        assert!(c.is_complete());
        assert_eq!(c.levels, 2);
        assert_eq!(c.worst_price.unwrap().to_string(), "101.00");
        assert_eq!(c.notional_raw_e16, 15_050_000_000 * 100_000_000);
        let v = c.vwap().unwrap();
        assert!(!v.is_exact());
        assert_eq!(v.to_price(Rounding::Down).to_string(), "100.33333333");
        assert_eq!(v.to_price(Rounding::Up).to_string(), "100.33333334");
        assert_eq!(
            v.cmp_price(Price::parse("100.33333333").unwrap()),
            Ordering::Greater
        );
        assert_eq!(
            v.cmp_price(Price::parse("100.33333334").unwrap()),
            Ordering::Less
        );
        let usdt = Currency::new("USDT").unwrap();
        assert_eq!(
            c.notional(usdt, Rounding::HalfEven).unwrap().raw(),
            15_050_000_000
        );

        let short = walk(Side::Sell, q("5"), 2, levels.into_iter());
        assert!(!short.is_complete());
        assert_eq!(short.filled, q("3"));
        assert_eq!(short.unfilled(), q("2"));

        let none = walk(Side::Buy, q("1"), 2, std::iter::empty());
        assert_eq!(none.vwap(), None);
        assert_eq!(none.worst_price, None);
    }
}
