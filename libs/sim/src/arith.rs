//! Exact integer arithmetic shared by the matching engine and the account
//! models: `a × b / c` with a 256-bit intermediate product and an explicit
//! rounding mode, plus the raw-unit conversions (notional, PnL, fees) every
//! model uses.
//!
//! All amounts are raw `10^-8` units (`i64` for prices and quantities, `i128`
//! for money). A product of two raw values is in `10^-16` units and is divided
//! back by `10^8` with the rounding the caller names. Nothing here uses
//! floating point and nothing panics: overflow is `None` (callers turn it into
//! a typed error).

use veloz_core::{Rounding, FIXED_SCALE};

const MASK: u128 = u64::MAX as u128;

/// `10^8` as `i128`.
pub(crate) const SCALE: i128 = FIXED_SCALE as i128;

/// Full 256-bit product of two `u128` values as `(high, low)`.
fn mul_u128(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & MASK);
    let (b1, b0) = (b >> 64, b & MASK);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let lo = (p00 & MASK) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// `(hi·2^128 + lo) / d` as `(quotient, remainder)`, or `None` when the
/// quotient does not fit in `u128` or `d` is zero.
fn div_u256(hi: u128, lo: u128, d: u128) -> Option<(u128, u128)> {
    if d == 0 || hi >= d {
        return None;
    }
    if hi == 0 {
        return Some((lo / d, lo % d));
    }
    let mut r = hi;
    let mut q = 0u128;
    for i in (0..128).rev() {
        let carry = r >> 127;
        r = (r << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || r >= d {
            r = r.wrapping_sub(d);
            q |= 1;
        }
    }
    Some((q, r))
}

/// Exact `a × b / c` rounded with `mode`; `None` on division by zero or when
/// the result does not fit in `i128`.
pub fn mul_div(a: i128, b: i128, c: i128, mode: Rounding) -> Option<i128> {
    if c == 0 {
        return None;
    }
    let negative = ((a < 0) ^ (b < 0) ^ (c < 0)) && a != 0 && b != 0;
    let (hi, lo) = mul_u128(a.unsigned_abs(), b.unsigned_abs());
    let d = c.unsigned_abs();
    let (q, r) = div_u256(hi, lo, d)?;
    let away = if r == 0 {
        false
    } else {
        match mode {
            Rounding::TowardZero => false,
            Rounding::Down => negative,
            Rounding::Up => !negative,
            Rounding::HalfUp | Rounding::HalfEven => {
                let rest = d - r;
                match r.cmp(&rest) {
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Greater => true,
                    std::cmp::Ordering::Equal => mode == Rounding::HalfUp || q % 2 == 1,
                }
            }
        }
    };
    let q = if away { q.checked_add(1)? } else { q };
    let q = i128::try_from(q).ok()?;
    Some(if negative { -q } else { q })
}

/// `a / b` rounded with `mode` (`None` on division by zero or overflow).
pub fn div_round(a: i128, b: i128, mode: Rounding) -> Option<i128> {
    mul_div(a, 1, b, mode)
}

/// Linear notional `price × qty` in raw money units, rounded with `mode`.
pub fn linear_notional(price: i64, qty: i64, mode: Rounding) -> Option<i128> {
    div_round(i128::from(price) * i128::from(qty), SCALE, mode)
}

/// Inverse notional in coin: `qty × contract_size / price`, raw units.
pub fn inverse_notional(price: i64, qty: i64, contract_size: i64, mode: Rounding) -> Option<i128> {
    mul_div(
        i128::from(qty),
        i128::from(contract_size),
        i128::from(price),
        mode,
    )
}

/// `amount × rate` (a fee, funding or margin rate), raw units, rounded with `mode`.
pub fn apply_rate(amount: i128, rate: i64, mode: Rounding) -> Option<i128> {
    mul_div(amount, i128::from(rate), SCALE, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_values() {
        assert_eq!(mul_div(7, 3, 2, Rounding::Down), Some(10));
        assert_eq!(mul_div(7, 3, 2, Rounding::Up), Some(11));
        assert_eq!(mul_div(-7, 3, 2, Rounding::Down), Some(-11));
        assert_eq!(mul_div(-7, 3, 2, Rounding::TowardZero), Some(-10));
        assert_eq!(mul_div(5, 1, 2, Rounding::HalfEven), Some(2));
        assert_eq!(mul_div(7, 1, 2, Rounding::HalfEven), Some(4));
        assert_eq!(mul_div(5, 1, 2, Rounding::HalfUp), Some(3));
        assert_eq!(mul_div(-5, 1, 2, Rounding::HalfUp), Some(-3));
        assert_eq!(mul_div(1, 1, 0, Rounding::Down), None);
        assert_eq!(mul_div(0, -5, 3, Rounding::Down), Some(0));
    }

    #[test]
    fn wide_products() {
        // (10^30 × 10^30) / 10^25 = 10^35, needs the 256-bit intermediate.
        let e30 = 10i128.pow(30);
        assert_eq!(
            mul_div(e30, e30, 10i128.pow(25), Rounding::Down),
            Some(10i128.pow(35))
        );
        assert_eq!(mul_div(i128::MAX, i128::MAX, 1, Rounding::Down), None);
        assert_eq!(
            mul_div(i128::MAX, i128::MAX, i128::MAX, Rounding::Down),
            Some(i128::MAX)
        );
    }

    #[test]
    fn notional_helpers() {
        // 61737.63 × 0.003 = 185.21289
        assert_eq!(
            linear_notional(6_173_763_000_000, 300_000, Rounding::Down),
            Some(18_521_289_000)
        );
        // 3 contracts × 100 USD / 60000 = 0.005 BTC
        assert_eq!(
            inverse_notional(
                6_000_000_000_000,
                300_000_000,
                10_000_000_000,
                Rounding::Down
            ),
            Some(500_000)
        );
        // 185.21289 × 0.0002 = 0.037042578 -> up 0.03704258
        assert_eq!(
            apply_rate(18_521_289_000, 20_000, Rounding::Up),
            Some(3_704_258)
        );
    }

    proptest! {
        #[test]
        fn matches_i128_when_it_fits(a in -1_000_000_000_000i128..1_000_000_000_000, b in -1_000_000_000_000i128..1_000_000_000_000, c in 1i128..1_000_000_000) {
            for mode in [Rounding::Down, Rounding::Up, Rounding::TowardZero, Rounding::HalfEven, Rounding::HalfUp] {
                prop_assert_eq!(mul_div(a, b, c, mode), veloz_core::fixed::div_round_i128(a * b, c, mode));
                prop_assert_eq!(mul_div(a, b, -c, mode), veloz_core::fixed::div_round_i128(a * b, -c, mode));
            }
        }

        #[test]
        fn wide_is_exact(a in 1u64.., b in 1u64.., k in 1u64..) {
            // (a·2^64 + k)·b / b == a·2^64 + k exactly.
            let x = (i128::from(a) << 63) + i128::from(k);
            prop_assert_eq!(mul_div(x, i128::from(b), i128::from(b), Rounding::Down), Some(x));
        }
    }
}
