//! Exact integer arithmetic the strategies share: prices and quantities are
//! handled as raw `i64` units of `10^-8`, products and ratios in `i128`, and
//! every rounding is explicit. No floating point.

use veloz_core::fixed::div_round_i128;
use veloz_core::{Instrument, Price, Quantity, Rounding};

/// `x × num / den` rounded with `mode` (`None` on overflow or a zero `den`).
pub(crate) fn mul_div(x: i128, num: i128, den: i128, mode: Rounding) -> Option<i128> {
    div_round_i128(x.checked_mul(num)?, den, mode)
}

/// A price from raw units with the instrument's precision (`None` if it does
/// not fit in `i64`).
pub(crate) fn price_raw(raw: i128, instrument: &Instrument) -> Option<Price> {
    i64::try_from(raw)
        .ok()
        .map(|r| Price::from_raw(r, instrument.price_precision))
}

/// A quantity from raw units with the instrument's precision.
pub(crate) fn qty_raw(raw: i128, instrument: &Instrument) -> Option<Quantity> {
    i64::try_from(raw)
        .ok()
        .map(|r| Quantity::from_raw(r, instrument.qty_precision))
}

/// The instrument's tick in raw units (1 raw unit when it has no tick rule).
pub(crate) fn tick_raw(instrument: &Instrument) -> i128 {
    i128::from(instrument.tick_size.raw().max(1))
}

/// Microprice of a top of book: `(bid × askQty + ask × bidQty) / (bidQty +
/// askQty)`, raw, rounded half-even. `None` when both quantities are zero or
/// the products overflow.
pub(crate) fn microprice_raw(
    bid: Price,
    bid_qty: Quantity,
    ask: Price,
    ask_qty: Quantity,
) -> Option<i128> {
    let (bq, aq) = (i128::from(bid_qty.raw()), i128::from(ask_qty.raw()));
    let den = bq.checked_add(aq)?;
    if den <= 0 || bq < 0 || aq < 0 {
        return None;
    }
    let num = i128::from(bid.raw())
        .checked_mul(aq)?
        .checked_add(i128::from(ask.raw()).checked_mul(bq)?)?;
    div_round_i128(num, den, Rounding::HalfEven)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microprice_leans_to_the_thin_side() {
        let p = |s| Price::parse(s).unwrap();
        let q = |s| Quantity::parse(s).unwrap();
        // Bid 100 x 3, ask 102 x 1: (100*1 + 102*3) / 4 = 101.5.
        assert_eq!(
            microprice_raw(p("100"), q("3"), p("102"), q("1")),
            Some(p("101.5").raw().into())
        );
        assert_eq!(microprice_raw(p("100"), q("0"), p("102"), q("0")), None);
    }

    #[test]
    fn mul_div_rounds_as_asked() {
        assert_eq!(mul_div(10, 1, 3, Rounding::Down), Some(3));
        assert_eq!(mul_div(10, 1, 3, Rounding::Up), Some(4));
        assert_eq!(mul_div(i128::MAX, 2, 1, Rounding::Up), None);
    }
}
