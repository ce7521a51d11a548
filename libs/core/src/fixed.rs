//! Fixed-point decimal numbers: [`Price`], [`Quantity`] and the shared parsing,
//! formatting and rounding machinery behind them ([`Money`] lives in `money`).
//!
//! # Representation
//!
//! Every value is an integer count of `10^-8` units (`FIXED_SCALE` = 100 000 000),
//! the same resolution Binance uses internally: every price, quantity, balance and
//! rate on its wire has at most 8 decimal places. Alongside the integer each value
//! keeps a *precision* (0..=8): the number of decimals it was parsed with or should
//! be printed with, so that `"61737.63000000"` comes back out as `"61737.63000000"`
//! and `"0.010"` as `"0.010"`.
//!
//! Equality, ordering and hashing look only at the numeric value: `"0.010"` and
//! `"0.01"` are equal.
//!
//! # Ranges
//!
//! | type | storage | smallest step | range |
//! |---|---|---|---|
//! | `Price`, `Quantity` | `i64` | `0.00000001` | ±92 233 720 368.54775807 |
//! | `Money` | `i128` | `0.00000001` | ±1.7 × 10^30 |
//!
//! A price of `0.00000123` (a meme coin) is 123 raw units; a quantity of 92 billion
//! coins still fits (Binance's own largest `maxQty` is `92233720368.00000000`, the
//! same `i64` limit). Products such as price × quantity are computed in `i128` and
//! never overflow before they are rounded.
//!
//! # Arithmetic
//!
//! There are no `+`/`-` operators: every operation is `checked_*` and returns
//! [`FixedError::Overflow`] instead of wrapping or panicking. Operations that can
//! produce more than 8 decimals (multiplication, division) take an explicit
//! [`Rounding`].
//!
//! No floating point is used anywhere in this module.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Number of raw units in one whole unit (`10^FIXED_PRECISION`).
pub const FIXED_SCALE: i64 = 100_000_000;
/// Maximum number of decimal places a fixed-point value can carry.
pub const FIXED_PRECISION: u8 = 8;

/// `10^k` for `k` in `0..=8`: raw units per step at `8 - k` decimals.
pub const POW10: [i64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Why a decimal string or an arithmetic operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixedError {
    /// The input string was empty.
    #[error("empty decimal string: expected a number such as \"61737.63\"")]
    Empty,
    /// The input has a character that is not part of a plain decimal number.
    #[error("invalid decimal {input:?}: only digits, one '.', and a leading '-' are accepted (no exponent, no spaces)")]
    Invalid { input: String },
    /// The input has more than 8 decimals; it would have to be rounded, which a
    /// parser never does silently.
    #[error("decimal {input:?} has more than 8 decimal places; round it to the instrument's tick or step first")]
    TooPrecise { input: String },
    /// The value does not fit in the storage type.
    #[error("decimal {input:?} is out of range (at most ±92233720368.54775807 for prices and quantities)")]
    OutOfRange { input: String },
    /// An arithmetic operation overflowed.
    #[error("arithmetic overflow in {op}")]
    Overflow { op: &'static str },
    /// Division by zero.
    #[error("division by zero in {op}")]
    DivisionByZero { op: &'static str },
    /// A precision above 8 was requested.
    #[error("precision {0} is above the maximum of 8 decimal places")]
    BadPrecision(u8),
    /// A value that must not be negative was negative.
    #[error("{what} must not be negative, got {value}")]
    Negative { what: &'static str, value: String },
}

/// How to round a result that has more decimals than the target precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Towards negative infinity.
    Down,
    /// Towards positive infinity.
    Up,
    /// Towards zero.
    TowardZero,
    /// To nearest, ties to even (banker's rounding).
    HalfEven,
    /// To nearest, ties away from zero.
    HalfUp,
}

/// Divides `num` by `den` (den > 0 is not required) with the given rounding.
pub fn div_round_i128(num: i128, den: i128, mode: Rounding) -> Option<i128> {
    if den == 0 {
        return None;
    }
    let q = num.checked_div(den)?;
    let r = num.checked_rem(den)?;
    if r == 0 {
        return Some(q);
    }
    // Sign of the exact quotient.
    let negative = (num < 0) != (den < 0);
    let away = match mode {
        Rounding::TowardZero => false,
        Rounding::Down => negative,
        Rounding::Up => !negative,
        Rounding::HalfUp | Rounding::HalfEven => {
            let twice = r.unsigned_abs().checked_mul(2)?;
            match twice.cmp(&den.unsigned_abs()) {
                Ordering::Less => false,
                Ordering::Greater => true,
                Ordering::Equal => mode == Rounding::HalfUp || q % 2 != 0,
            }
        }
    };
    if away {
        if negative {
            q.checked_sub(1)
        } else {
            q.checked_add(1)
        }
    } else {
        Some(q)
    }
}

/// Parses a plain decimal string into raw `10^-8` units and its number of decimals.
///
/// Accepts an optional leading `-` (or `+`), digits, and an optional `.` followed by
/// at most 8 digits. `".5"` and `"5."` are accepted. Rejects exponents, spaces and
/// anything else with a typed error.
pub fn parse_raw(s: &str) -> Result<(i128, u8), FixedError> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(FixedError::Empty);
    }
    let (neg, digits) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return Err(FixedError::Invalid { input: s.into() });
    }
    let mut int_part: i128 = 0;
    let mut frac_part: i128 = 0;
    let mut frac_digits: u8 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = i128::from(b - b'0');
                if seen_dot {
                    if frac_digits == FIXED_PRECISION {
                        return Err(FixedError::TooPrecise { input: s.into() });
                    }
                    frac_part = frac_part * 10 + d;
                    frac_digits += 1;
                } else {
                    int_part = int_part
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(d))
                        .ok_or_else(|| FixedError::OutOfRange { input: s.into() })?;
                    // Far beyond any storage type; stop early on absurd input.
                    if int_part > 10i128.pow(30) {
                        return Err(FixedError::OutOfRange { input: s.into() });
                    }
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return Err(FixedError::Invalid { input: s.into() }),
        }
    }
    if !seen_digit {
        return Err(FixedError::Invalid { input: s.into() });
    }
    let frac_scaled = frac_part * i128::from(POW10[usize::from(FIXED_PRECISION - frac_digits)]);
    let raw = int_part * i128::from(FIXED_SCALE) + frac_scaled;
    Ok((if neg { -raw } else { raw }, frac_digits))
}

/// Writes `raw` (in `10^-8` units) with exactly `precision` decimals.
///
/// If `raw` has non-zero digits beyond `precision` they are printed too (a value is
/// never silently rounded for display); callers that need a venue's precision
/// round first with [`Price::round_to_precision`] or the instrument helpers.
pub fn write_raw(f: &mut impl fmt::Write, raw: i128, precision: u8) -> fmt::Result {
    let precision = precision.min(FIXED_PRECISION);
    let scale = i128::from(FIXED_SCALE);
    let abs = raw.unsigned_abs();
    let int = abs / scale as u128;
    let mut frac = abs % scale as u128;
    // Smallest number of decimals that shows the value exactly.
    let mut needed = FIXED_PRECISION;
    while needed > 0 && frac % 10 == 0 {
        frac /= 10;
        needed -= 1;
    }
    let shown = precision.max(needed);
    if raw < 0 {
        f.write_char('-')?;
    }
    write!(f, "{int}")?;
    if shown > 0 {
        let frac = (abs % scale as u128) / POW10[usize::from(FIXED_PRECISION - shown)] as u128;
        write!(f, ".{:0width$}", frac, width = usize::from(shown))?;
    }
    Ok(())
}

/// Number of decimals needed to show `raw` exactly (0..=8).
pub fn significant_decimals(raw: i128) -> u8 {
    let mut frac = raw.unsigned_abs() % FIXED_SCALE as u128;
    if frac == 0 {
        return 0;
    }
    let mut n = FIXED_PRECISION;
    while frac % 10 == 0 {
        frac /= 10;
        n -= 1;
    }
    n
}

fn check_precision(precision: u8) -> Result<(), FixedError> {
    if precision > FIXED_PRECISION {
        Err(FixedError::BadPrecision(precision))
    } else {
        Ok(())
    }
}

/// Raw units of one step at `precision` decimals (`10^(8 - precision)`).
pub fn precision_unit(precision: u8) -> Result<i64, FixedError> {
    check_precision(precision)?;
    Ok(POW10[usize::from(FIXED_PRECISION - precision)])
}

macro_rules! fixed_i64_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name {
            raw: i64,
            precision: u8,
        }

        impl $name {
            /// Zero with precision 0.
            pub const ZERO: Self = Self { raw: 0, precision: 0 };
            /// Largest representable value.
            pub const MAX: Self = Self { raw: i64::MAX, precision: FIXED_PRECISION };
            /// Smallest representable value.
            pub const MIN: Self = Self { raw: i64::MIN, precision: FIXED_PRECISION };

            /// Builds a value from raw `10^-8` units and a display precision.
            pub const fn from_raw(raw: i64, precision: u8) -> Self {
                let precision = if precision > FIXED_PRECISION { FIXED_PRECISION } else { precision };
                Self { raw, precision }
            }

            /// A whole number of units, e.g. `from_int(100)` is `100`.
            pub fn from_int(units: i64) -> Result<Self, FixedError> {
                units
                    .checked_mul(FIXED_SCALE)
                    .map(|raw| Self { raw, precision: 0 })
                    .ok_or(FixedError::Overflow { op: concat!($what, "::from_int") })
            }

            /// Builds `mantissa × 10^-decimals`, e.g. `from_mantissa(6173763, 2)` is `61737.63`.
            pub fn from_mantissa(mantissa: i64, decimals: u8) -> Result<Self, FixedError> {
                let unit = precision_unit(decimals)?;
                mantissa
                    .checked_mul(unit)
                    .map(|raw| Self { raw, precision: decimals })
                    .ok_or(FixedError::Overflow { op: concat!($what, "::from_mantissa") })
            }

            /// Parses a plain decimal string exactly, keeping its number of decimals.
            pub fn parse(s: &str) -> Result<Self, FixedError> {
                let (raw, precision) = parse_raw(s)?;
                let raw = i64::try_from(raw).map_err(|_| FixedError::OutOfRange { input: s.into() })?;
                Ok(Self { raw, precision })
            }

            /// The value in raw `10^-8` units.
            #[inline]
            pub const fn raw(self) -> i64 {
                self.raw
            }

            /// The number of decimals this value is displayed with.
            #[inline]
            pub const fn precision(self) -> u8 {
                self.precision
            }

            /// The same value displayed with another number of decimals (no rounding:
            /// digits beyond `precision` are still shown if present).
            pub fn with_precision(self, precision: u8) -> Result<Self, FixedError> {
                check_precision(precision)?;
                Ok(Self { raw: self.raw, precision })
            }

            /// Is the value exactly zero?
            #[inline]
            pub const fn is_zero(self) -> bool {
                self.raw == 0
            }

            /// Is the value strictly positive?
            #[inline]
            pub const fn is_positive(self) -> bool {
                self.raw > 0
            }

            /// Is the value strictly negative?
            #[inline]
            pub const fn is_negative(self) -> bool {
                self.raw < 0
            }

            /// `self + rhs`; the result keeps the larger precision.
            pub fn checked_add(self, rhs: Self) -> Result<Self, FixedError> {
                self.raw
                    .checked_add(rhs.raw)
                    .map(|raw| Self { raw, precision: self.precision.max(rhs.precision) })
                    .ok_or(FixedError::Overflow { op: concat!($what, " addition") })
            }

            /// `self - rhs`; the result keeps the larger precision.
            pub fn checked_sub(self, rhs: Self) -> Result<Self, FixedError> {
                self.raw
                    .checked_sub(rhs.raw)
                    .map(|raw| Self { raw, precision: self.precision.max(rhs.precision) })
                    .ok_or(FixedError::Overflow { op: concat!($what, " subtraction") })
            }

            /// `-self`.
            pub fn checked_neg(self) -> Result<Self, FixedError> {
                self.raw
                    .checked_neg()
                    .map(|raw| Self { raw, precision: self.precision })
                    .ok_or(FixedError::Overflow { op: concat!($what, " negation") })
            }

            /// `|self|`.
            pub fn checked_abs(self) -> Result<Self, FixedError> {
                self.raw
                    .checked_abs()
                    .map(|raw| Self { raw, precision: self.precision })
                    .ok_or(FixedError::Overflow { op: concat!($what, " abs") })
            }

            /// `self × n` for a whole number `n`.
            pub fn checked_mul_int(self, n: i64) -> Result<Self, FixedError> {
                self.raw
                    .checked_mul(n)
                    .map(|raw| Self { raw, precision: self.precision })
                    .ok_or(FixedError::Overflow { op: concat!($what, " multiplication") })
            }

            /// Rounds to `precision` decimals with `mode`; the result displays with
            /// exactly that many decimals.
            pub fn round_to_precision(self, precision: u8, mode: Rounding) -> Result<Self, FixedError> {
                let unit = i128::from(precision_unit(precision)?);
                let q = div_round_i128(i128::from(self.raw), unit, mode)
                    .ok_or(FixedError::Overflow { op: concat!($what, " rounding") })?;
                let raw = q
                    .checked_mul(unit)
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or(FixedError::Overflow { op: concat!($what, " rounding") })?;
                Ok(Self { raw, precision })
            }

            /// Rounds to a multiple of `increment` (a tick or a step) with `mode`.
            /// The result displays with the increment's precision.
            pub fn round_to_increment(self, increment: Self, mode: Rounding) -> Result<Self, FixedError> {
                if increment.raw <= 0 {
                    return Err(FixedError::DivisionByZero { op: concat!($what, " round_to_increment") });
                }
                let inc = i128::from(increment.raw);
                let q = div_round_i128(i128::from(self.raw), inc, mode)
                    .ok_or(FixedError::Overflow { op: concat!($what, " rounding") })?;
                let raw = q
                    .checked_mul(inc)
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or(FixedError::Overflow { op: concat!($what, " rounding") })?;
                let precision = increment.precision.max(significant_decimals(inc));
                Ok(Self { raw, precision })
            }

            /// Is the value an exact multiple of `increment`? (`false` for a non-positive increment.)
            pub fn is_multiple_of(self, increment: Self) -> bool {
                increment.raw > 0 && self.raw % increment.raw == 0
            }

            /// The smaller of two values.
            pub fn min(self, other: Self) -> Self {
                if other.raw < self.raw { other } else { self }
            }

            /// The larger of two values.
            pub fn max(self, other: Self) -> Self {
                if other.raw > self.raw { other } else { self }
            }
        }

        impl PartialEq for $name {
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                self.raw == other.raw
            }
        }
        impl Eq for $name {}
        impl PartialOrd for $name {
            #[inline]
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $name {
            #[inline]
            fn cmp(&self, other: &Self) -> Ordering {
                self.raw.cmp(&other.raw)
            }
        }
        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.raw.hash(state);
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::ZERO
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_raw(f, i128::from(self.raw), self.precision)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($what, "({})"), self)
            }
        }
        impl FromStr for $name {
            type Err = FixedError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fixed_i64_type!(
    /// A price, exact to `10^-8`, with a display precision.
    ///
    /// Prices may be negative (spreads, some derived instruments); the order
    /// validator rejects non-positive prices where a venue does.
    Price,
    "Price"
);

fixed_i64_type!(
    /// A quantity, exact to `10^-8`, with a display precision.
    ///
    /// Order quantities are positive (the validator enforces it); a signed quantity
    /// is allowed for positions as venues report them (`"positionAmt":"-0.001"`).
    Quantity,
    "Quantity"
);

impl Price {
    /// Exact `price × quantity` in raw `10^-16` units (no rounding, cannot overflow).
    #[inline]
    pub fn notional_raw_e16(self, qty: Quantity) -> i128 {
        i128::from(self.raw) * i128::from(qty.raw)
    }
}

impl Quantity {
    /// Checks that the quantity is not negative.
    pub fn non_negative(self) -> Result<Self, FixedError> {
        if self.raw < 0 {
            Err(FixedError::Negative {
                what: "quantity",
                value: self.to_string(),
            })
        } else {
            Ok(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_binance_strings() {
        for s in [
            "61737.63000000",
            "0.010",
            "1001",
            "0.00000123",
            "92233720368.00000000",
            "-0.001",
            "0",
            "0.00000000",
            "1.5",
        ] {
            assert_eq!(Price::parse(s).unwrap().to_string(), s, "{s}");
            assert_eq!(Quantity::parse(s).unwrap().to_string(), s, "{s}");
        }
    }

    #[test]
    fn raw_values_are_exact() {
        assert_eq!(Price::parse("0.00000123").unwrap().raw(), 123);
        assert_eq!(Price::parse("61737.63").unwrap().raw(), 6_173_763_000_000);
        assert_eq!(Quantity::parse("1001").unwrap().raw(), 100_100_000_000);
        assert_eq!(Quantity::parse(".5").unwrap().raw(), 50_000_000);
        assert_eq!(Quantity::parse("5.").unwrap().raw(), 500_000_000);
        assert_eq!(
            Price::parse("0.010").unwrap(),
            Price::parse("0.01").unwrap()
        );
    }

    #[test]
    fn rejects_bad_input_with_typed_errors() {
        assert_eq!(Price::parse(""), Err(FixedError::Empty));
        assert!(matches!(
            Price::parse("1e5"),
            Err(FixedError::Invalid { .. })
        ));
        assert!(matches!(
            Price::parse("1.2.3"),
            Err(FixedError::Invalid { .. })
        ));
        assert!(matches!(
            Price::parse(" 1"),
            Err(FixedError::Invalid { .. })
        ));
        assert!(matches!(Price::parse("-"), Err(FixedError::Invalid { .. })));
        assert!(matches!(Price::parse("."), Err(FixedError::Invalid { .. })));
        assert!(matches!(
            Price::parse("NaN"),
            Err(FixedError::Invalid { .. })
        ));
        assert!(matches!(
            Price::parse("0.000000001"),
            Err(FixedError::TooPrecise { .. })
        ));
        assert!(matches!(
            Quantity::parse("92233720369"),
            Err(FixedError::OutOfRange { .. })
        ));
        assert!(matches!(
            Quantity::parse("99999999999999999999999999999999999999999"),
            Err(FixedError::OutOfRange { .. })
        ));
        assert_eq!(
            Quantity::parse("92233720368.54775807").unwrap(),
            Quantity::MAX
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Quantity::parse("1.5").unwrap();
        let b = Quantity::parse("0.25").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "1.75");
        assert_eq!(b.checked_sub(a).unwrap().to_string(), "-1.25");
        assert!(Quantity::MAX.checked_add(b).is_err());
        assert!(Quantity::MIN.checked_sub(b).is_err());
        assert!(Quantity::MIN.checked_neg().is_err());
        assert!(Quantity::MAX.checked_mul_int(2).is_err());
    }

    #[test]
    fn rounding_modes() {
        let p = Price::parse("1.2345").unwrap();
        let r = |m| p.round_to_precision(2, m).unwrap().to_string();
        assert_eq!(r(Rounding::Down), "1.23");
        assert_eq!(r(Rounding::Up), "1.24");
        assert_eq!(r(Rounding::HalfEven), "1.23");
        let n = Price::parse("-1.235").unwrap();
        assert_eq!(
            n.round_to_precision(2, Rounding::Down).unwrap().to_string(),
            "-1.24"
        );
        assert_eq!(
            n.round_to_precision(2, Rounding::TowardZero)
                .unwrap()
                .to_string(),
            "-1.23"
        );
        assert_eq!(
            n.round_to_precision(2, Rounding::HalfEven)
                .unwrap()
                .to_string(),
            "-1.24"
        );
        assert_eq!(
            n.round_to_precision(2, Rounding::HalfUp)
                .unwrap()
                .to_string(),
            "-1.24"
        );
        let tick = Price::parse("0.50").unwrap();
        assert_eq!(
            Price::parse("10.74")
                .unwrap()
                .round_to_increment(tick, Rounding::Down)
                .unwrap()
                .to_string(),
            "10.50"
        );
        assert_eq!(div_round_i128(5, 2, Rounding::HalfEven), Some(2));
        assert_eq!(div_round_i128(7, 2, Rounding::HalfEven), Some(4));
        assert_eq!(div_round_i128(-7, 2, Rounding::HalfEven), Some(-4));
        assert_eq!(div_round_i128(1, 0, Rounding::HalfEven), None);
    }

    #[test]
    fn display_never_hides_digits() {
        let p = Price::from_raw(123, 2);
        assert_eq!(p.to_string(), "0.00000123");
        assert_eq!(
            Price::from_mantissa(6_173_763, 2).unwrap().to_string(),
            "61737.63"
        );
    }

    #[test]
    fn serde_uses_strings() {
        let p: Price = serde_json::from_str("\"61737.63000000\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"61737.63000000\"");
        assert!(serde_json::from_str::<Price>("\"abc\"").is_err());
    }
}
