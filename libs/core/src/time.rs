//! Time: [`UnixNanos`] timestamps and the [`Clock`] trait.
//!
//! Trading code never reads the system time directly: it asks a `Clock`. Live and
//! paper trading plug in [`LiveClock`]; backtests and tests plug in [`ManualClock`],
//! which only moves when the event loop (or the test) moves it, so runs are
//! reproducible bit for bit.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Nanoseconds since the Unix epoch (UTC). 64 bits last until the year 2554.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixNanos(pub u64);

impl UnixNanos {
    /// The epoch.
    pub const ZERO: Self = Self(0);

    /// From milliseconds (Binance's `E`/`T` fields). Saturates far in the future.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms.saturating_mul(1_000_000))
    }

    /// From microseconds. Saturates far in the future.
    pub const fn from_micros(us: u64) -> Self {
        Self(us.saturating_mul(1_000))
    }

    /// From whole seconds. Saturates far in the future.
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// `self + nanos`, saturating.
    pub const fn add_nanos(self, nanos: u64) -> Self {
        Self(self.0.saturating_add(nanos))
    }

    /// `self - earlier` in nanoseconds, or `None` if `earlier` is later.
    pub const fn checked_duration_since(self, earlier: Self) -> Option<u64> {
        self.0.checked_sub(earlier.0)
    }
}

impl fmt::Display for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

impl fmt::Debug for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixNanos({self})")
    }
}

/// A source of time for trading code.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixNanos;
}

/// The system's wall clock (UTC).
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveClock;

impl Clock for LiveClock {
    fn now(&self) -> UnixNanos {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixNanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to: backtests set it to each event's time,
/// tests advance it by hand. It never goes backwards.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

/// Returned when a [`ManualClock`] would be moved backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("clock cannot go backwards: now {now}, asked for {requested}")]
pub struct ClockWentBackwards {
    /// The clock's time.
    pub now: UnixNanos,
    /// The earlier time that was asked for.
    pub requested: UnixNanos,
}

impl ManualClock {
    /// A clock starting at `start`.
    pub fn new(start: UnixNanos) -> Self {
        Self {
            now: AtomicU64::new(start.0),
        }
    }

    /// Moves the clock to `t`; refuses to go backwards.
    pub fn set(&self, t: UnixNanos) -> Result<(), ClockWentBackwards> {
        let now = self.now.load(Ordering::Acquire);
        if t.0 < now {
            return Err(ClockWentBackwards {
                now: UnixNanos(now),
                requested: t,
            });
        }
        self.now.store(t.0, Ordering::Release);
        Ok(())
    }

    /// Moves the clock forward by `nanos`.
    pub fn advance(&self, nanos: u64) -> UnixNanos {
        let prev = self.now.fetch_add(nanos, Ordering::AcqRel);
        UnixNanos(prev.saturating_add(nanos))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixNanos {
        UnixNanos(self.now.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let c = ManualClock::new(UnixNanos::from_millis(1_000));
        assert_eq!(c.now(), UnixNanos(1_000_000_000));
        assert_eq!(c.advance(5), UnixNanos(1_000_000_005));
        assert!(c.set(UnixNanos(1)).is_err());
        c.set(UnixNanos::from_secs(2)).unwrap();
        assert_eq!(c.now().as_millis(), 2_000);
    }

    #[test]
    fn live_clock_is_after_2024() {
        assert!(LiveClock.now() > UnixNanos::from_millis(1_704_067_200_000));
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d` (`m` in
/// 1..=12, `d` in 1..=31; not validated). The inverse of [`civil_from_days`].
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since
/// 1970-01-01 (negative before it).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod civil_tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for z in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
