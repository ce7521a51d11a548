//! [`Currency`] (an asset code such as `USDT`, `BTC`, `BNFCR`) and [`Money`], an
//! exact amount of one currency.
//!
//! `Money` stores `i128` raw units of `10^-8` (see [`crate::fixed`]), so sums of
//! many notionals and PnL over long runs cannot overflow in practice, and every
//! operation is still checked. Mixing currencies is an error, never a silent sum.

use std::cmp::Ordering;
use std::fmt;

use crate::fixed::{
    div_round_i128, parse_raw, precision_unit, write_raw, FixedError, Price, Quantity, Rounding,
    FIXED_PRECISION, FIXED_SCALE,
};
use crate::inline::inline_id;

inline_id!(
    /// An asset code: upper-case letters and digits, at most 16 bytes (`USDT`, `BTC`, `1000SATS`, `BNFCR`).
    Currency,
    16,
    "currency",
    |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
    "A-Z and 0-9"
);

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The two amounts are in different currencies.
    #[error("cannot combine {left} with {right}: convert one of them first")]
    CurrencyMismatch { left: Currency, right: Currency },
    /// A fixed-point error (overflow, bad string, ...).
    #[error(transparent)]
    Fixed(#[from] FixedError),
}

/// An exact amount of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    raw: i128,
    currency: Currency,
}

impl Money {
    /// Zero of `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self { raw: 0, currency }
    }

    /// From raw `10^-8` units.
    pub const fn from_raw(raw: i128, currency: Currency) -> Self {
        Self { raw, currency }
    }

    /// Parses an exact decimal amount, e.g. `Money::parse("1.25", usdt)`.
    pub fn parse(s: &str, currency: Currency) -> Result<Self, FixedError> {
        let (raw, _) = parse_raw(s)?;
        Ok(Self { raw, currency })
    }

    /// Raw `10^-8` units.
    pub const fn raw(self) -> i128 {
        self.raw
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// Is it zero?
    pub const fn is_zero(self) -> bool {
        self.raw == 0
    }

    /// Is it negative?
    pub const fn is_negative(self) -> bool {
        self.raw < 0
    }

    fn same(self, rhs: Self) -> Result<(), MoneyError> {
        if self.currency == rhs.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: rhs.currency,
            })
        }
    }

    /// `self + rhs` (same currency).
    pub fn checked_add(self, rhs: Self) -> Result<Self, MoneyError> {
        self.same(rhs)?;
        let raw = self.raw.checked_add(rhs.raw).ok_or(FixedError::Overflow {
            op: "Money addition",
        })?;
        Ok(Self { raw, ..self })
    }

    /// `self - rhs` (same currency).
    pub fn checked_sub(self, rhs: Self) -> Result<Self, MoneyError> {
        self.same(rhs)?;
        let raw = self.raw.checked_sub(rhs.raw).ok_or(FixedError::Overflow {
            op: "Money subtraction",
        })?;
        Ok(Self { raw, ..self })
    }

    /// `-self`.
    pub fn checked_neg(self) -> Result<Self, FixedError> {
        let raw = self.raw.checked_neg().ok_or(FixedError::Overflow {
            op: "Money negation",
        })?;
        Ok(Self { raw, ..self })
    }

    /// `price × quantity` in `currency`, rounded to 8 decimals with `mode`.
    pub fn from_notional(
        price: Price,
        qty: Quantity,
        currency: Currency,
        mode: Rounding,
    ) -> Result<Self, FixedError> {
        let raw = div_round_i128(price.notional_raw_e16(qty), i128::from(FIXED_SCALE), mode)
            .ok_or(FixedError::Overflow { op: "notional" })?;
        Ok(Self { raw, currency })
    }

    /// `self × rate` (a fee or funding rate), rounded to 8 decimals with `mode`.
    pub fn mul_rate(self, rate: Price, mode: Rounding) -> Result<Self, FixedError> {
        let prod = self
            .raw
            .checked_mul(i128::from(rate.raw()))
            .ok_or(FixedError::Overflow {
                op: "Money × rate"
            })?;
        let raw =
            div_round_i128(prod, i128::from(FIXED_SCALE), mode).ok_or(FixedError::Overflow {
                op: "Money × rate",
            })?;
        Ok(Self { raw, ..self })
    }

    /// Rounds to `precision` decimals (e.g. a venue's asset precision).
    pub fn round_to_precision(self, precision: u8, mode: Rounding) -> Result<Self, FixedError> {
        let unit = i128::from(precision_unit(precision)?);
        let raw = div_round_i128(self.raw, unit, mode)
            .and_then(|q| q.checked_mul(unit))
            .ok_or(FixedError::Overflow {
                op: "Money rounding",
            })?;
        Ok(Self { raw, ..self })
    }

    /// Formats the amount with exactly `precision` decimals (more if needed to be exact).
    pub fn format_amount(self, precision: u8) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = write_raw(&mut s, self.raw, precision);
        s
    }
}

impl serde::Serialize for Money {
    /// Serialised as `"<amount> <CURRENCY>"`, e.g. `"0.03704258 USDT"`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        let (amount, currency) = s.split_once(' ').ok_or_else(|| {
            serde::de::Error::custom(format!("money {s:?} must be \"<amount> <CURRENCY>\""))
        })?;
        let currency = Currency::new(currency).map_err(serde::de::Error::custom)?;
        Money::parse(amount, currency).map_err(serde::de::Error::custom)
    }
}

impl PartialOrd for Money {
    /// Amounts of different currencies are not ordered.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (self.currency == other.currency).then(|| self.raw.cmp(&other.raw))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_raw(f, self.raw, FIXED_PRECISION)?;
        write!(f, " {}", self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdt() -> Currency {
        Currency::new("USDT").unwrap()
    }

    #[test]
    fn notional_and_fees_are_exact() {
        let px = Price::parse("61737.63").unwrap();
        let qty = Quantity::parse("0.003").unwrap();
        let n = Money::from_notional(px, qty, usdt(), Rounding::HalfEven).unwrap();
        assert_eq!(n.format_amount(8), "185.21289000");
        let fee = n
            .mul_rate(Price::parse("0.0002").unwrap(), Rounding::Up)
            .unwrap();
        assert_eq!(fee.format_amount(8), "0.03704258");
    }

    #[test]
    fn currencies_do_not_mix() {
        let a = Money::parse("1", usdt()).unwrap();
        let b = Money::parse("1", Currency::new("BTC").unwrap()).unwrap();
        assert!(matches!(
            a.checked_add(b),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert_eq!(a.partial_cmp(&b), None);
    }

    #[test]
    fn currency_codes_are_validated() {
        assert!(Currency::new("usdt").is_err());
        assert!(Currency::new("").is_err());
        assert!(Currency::new("1000SATS").is_ok());
        assert!(Currency::new("ABCDEFGHIJKLMNOPQ").is_err());
    }
}
