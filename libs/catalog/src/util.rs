//! Small exact helpers shared by the importers and writers: decimal text to raw
//! 1e-8 units, epoch timestamps of unknown unit, and UTC calendar conversion.

use veloz_core::fixed::{parse_raw, significant_decimals, write_raw};
use veloz_core::{Price, Quantity, UnixNanos};

/// Parses an exact decimal (at most 8 decimals, no exponent) to raw 1e-8 units.
pub(crate) fn dec_raw(s: &str) -> Result<i128, String> {
    parse_raw(s.trim())
        .map(|(raw, _)| raw)
        .map_err(|e| format!("{s:?} is not an exact decimal ({e})"))
}

/// Parses a price, keeping its decimals as display precision.
pub(crate) fn price(s: &str) -> Result<Price, String> {
    Price::parse(s.trim()).map_err(|e| format!("{s:?} is not a valid price ({e})"))
}

/// Parses a quantity, keeping its decimals as display precision.
pub(crate) fn qty(s: &str) -> Result<Quantity, String> {
    Quantity::parse(s.trim()).map_err(|e| format!("{s:?} is not a valid quantity ({e})"))
}

/// A price from raw 1e-8 units, with the display precision its digits need.
pub(crate) fn price_from_raw(raw: i128) -> Option<Price> {
    let r = i64::try_from(raw).ok()?;
    Some(Price::from_raw(r, significant_decimals(raw)))
}

/// A quantity from raw 1e-8 units, with the display precision its digits need.
pub(crate) fn qty_from_raw(raw: i128) -> Option<Quantity> {
    let r = i64::try_from(raw).ok()?;
    Some(Quantity::from_raw(r, significant_decimals(raw)))
}

/// Parses an unsigned integer field.
pub(crate) fn uint(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("{s:?} is not a whole non-negative number"))
}

/// An epoch timestamp whose unit is told by its magnitude: seconds below 1e11,
/// milliseconds below 1e14, microseconds below 1e17, else nanoseconds.
/// (data.binance.vision spot files switched from ms to µs on 2025-01-01.)
pub(crate) fn epoch_any(v: u64) -> UnixNanos {
    if v < 100_000_000_000 {
        UnixNanos::from_secs(v)
    } else if v < 100_000_000_000_000 {
        UnixNanos::from_millis(v)
    } else if v < 100_000_000_000_000_000 {
        UnixNanos::from_micros(v)
    } else {
        UnixNanos(v)
    }
}

/// Parses an epoch timestamp field of unknown unit (see [`epoch_any`]).
pub(crate) fn epoch_field(s: &str) -> Result<UnixNanos, String> {
    uint(s).map(epoch_any)
}

/// Parses `true`/`false` (any case, also `1`/`0`).
pub(crate) fn boolean(s: &str) -> Result<bool, String> {
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") || t == "1" => Ok(true),
        t if t.eq_ignore_ascii_case("false") || t == "0" => Ok(false),
        _ => Err(format!("{s:?} is not true or false")),
    }
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|_| format!("bad {what} {s:?}"))
}

/// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH:MM]` (no zone = UTC) to UTC.
pub(crate) fn parse_datetime(s: &str) -> Result<UnixNanos, String> {
    let bad = |why: &str| {
        format!("{s:?} is not a date-time like 2024-12-01 00:00:59.999000+01:00 ({why})")
    };
    let s = s.trim();
    if !s.is_ascii() {
        return Err(bad("not ASCII"));
    }
    if s.len() < 19 {
        return Err(bad("too short"));
    }
    let (date, rest) = s.split_at(10);
    let mut dp = date.split('-');
    let (Some(y), Some(mo), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
        return Err(bad("date"));
    };
    let (y, mo, d): (i64, u32, u32) = (num(y, "year")?, num(mo, "month")?, num(d, "day")?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || y < 1970 {
        return Err(bad("date out of range"));
    }
    let rest = rest
        .strip_prefix([' ', 'T'])
        .ok_or_else(|| bad("separator"))?;
    let (hms, tail) = rest.split_at(8.min(rest.len()));
    let mut tp = hms.split(':');
    let (Some(h), Some(mi), Some(se), None) = (tp.next(), tp.next(), tp.next(), tp.next()) else {
        return Err(bad("time"));
    };
    let (h, mi, se): (i64, i64, i64) = (num(h, "hour")?, num(mi, "minute")?, num(se, "second")?);
    if h > 23 || mi > 59 || se > 60 {
        return Err(bad("time out of range"));
    }
    let (frac, zone) = match tail.strip_prefix('.') {
        Some(t) => {
            let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            (&t[..end], &t[end..])
        }
        None => ("", tail),
    };
    if frac.len() > 9 {
        return Err(bad("more than 9 fractional digits"));
    }
    let mut nanos: i64 = 0;
    for (i, c) in frac.bytes().enumerate() {
        nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
    }
    let offset_secs: i64 = match zone {
        "" | "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let oh: i64 = num(&z[1..3], "zone hour")?;
            let om: i64 = num(&z[4..6], "zone minute")?;
            let o = oh * 3600 + om * 60;
            if z.starts_with('-') {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad("zone")),
    };
    let secs =
        veloz_core::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    u64::try_from(total)
        .map(UnixNanos)
        .map_err(|_| bad("before 1970"))
}

/// Formats a time as RFC 3339 UTC with nanoseconds, e.g. `2024-08-08T23:54:13.000000001Z`.
pub(crate) fn format_datetime(t: UnixNanos) -> String {
    let n = t.as_nanos();
    let secs = (n / 1_000_000_000) as i64;
    let nanos = n % 1_000_000_000;
    let (y, m, d) = veloz_core::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Formats raw 1e-8 units exactly, with as many decimals as needed.
pub(crate) fn format_decimal(raw: i128) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_raw(&mut s, raw, significant_decimals(raw));
    s
}

/// Bar interval from a token like `1m`, `15m`, `1h`, `8h`, `1d`, `1w`, `30s`.
pub(crate) fn interval_secs(token: &str) -> Option<u32> {
    let unit_at = token.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = token.split_at(unit_at);
    let n: u32 = n.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip_and_parse_zones() {
        let t = parse_datetime("2024-12-01 00:00:59.999000+01:00").unwrap();
        assert_eq!(t, UnixNanos::from_millis(1_733_007_659_999));
        assert_eq!(format_datetime(t), "2024-11-30T23:00:59.999000000Z");
        assert_eq!(
            parse_datetime("2020-01-01T00:00:00Z").unwrap(),
            UnixNanos::from_millis(1_577_836_800_000)
        );
        assert_eq!(
            parse_datetime("2024-02-29 12:00:00-05:30").unwrap(),
            parse_datetime("2024-02-29T17:30:00").unwrap()
        );
        assert!(parse_datetime("2024-13-01 00:00:00").is_err());
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2024-01-01 00:00:00+1").is_err());
        assert!(parse_datetime("2024-01-01 0é:00:00+01:00").is_err());
        assert!(parse_datetime("2024-01-01 00:00:00+0é:0").is_err());
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(
            epoch_any(1_577_836_800_000),
            UnixNanos::from_secs(1_577_836_800)
        );
        assert_eq!(
            epoch_any(1_735_689_600_000_000),
            UnixNanos::from_secs(1_735_689_600)
        );
        assert_eq!(
            epoch_any(1_735_689_600),
            UnixNanos::from_secs(1_735_689_600)
        );
        assert_eq!(
            epoch_any(1_723_161_254_206_652_067).as_nanos(),
            1_723_161_254_206_652_067
        );
    }

    #[test]
    fn decimals_and_intervals() {
        assert_eq!(dec_raw("-5.00").unwrap(), -500_000_000);
        assert!(dec_raw("1e-5").is_err());
        assert!(dec_raw("0.000000001").is_err());
        assert_eq!(format_decimal(12_345_000_000), "123.45");
        assert_eq!(format_decimal(-1), "-0.00000001");
        assert_eq!(interval_secs("15m"), Some(900));
        assert_eq!(interval_secs("8h"), Some(28_800));
        assert_eq!(interval_secs("1M"), None);
        assert_eq!(interval_secs("btcusdt"), None);
    }
}
