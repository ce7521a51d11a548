//! Rate-limit accounting and a client-side limiter.
//!
//! Binance counts, per fixed interval (a UTC minute, 10 seconds, a day, ...):
//! request weight per IP (`REQUEST_WEIGHT`), orders per account (`ORDERS`) and
//! raw requests (`RAW_REQUESTS`). The limits come from exchangeInfo
//! `rateLimits`; the server's current counts come back in the
//! `X-MBX-USED-WEIGHT-<n><s|m|h|d>` and `X-MBX-ORDER-COUNT-<n><s|m|h|d>`
//! headers of every answer. Going over gives 429 with `Retry-After`; continuing
//! gives a 418 IP ban (2 minutes to 3 days).
//!
//! [`RateLimiter`] keeps its own count of what it let through, takes the
//! server's count when it is higher, keeps a headroom below each limit, and
//! answers "how long to wait before this request may go". It is purely
//! computational: the caller passes the time (preferably Binance's time, from
//! [`super::signing::TimeSync::server_now`], since the windows are aligned to
//! Binance's clock) and does the waiting.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use veloz_core::UnixNanos;

use super::error::BinanceError;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RateLimitType {
    /// Request weight per IP.
    RequestWeight,
    /// Orders per account.
    Orders,
    /// Raw requests per IP.
    RawRequests,
    /// A kind this version does not know (kept so parsing never fails).
    #[serde(other)]
    Other,
}

/// The unit of a limit's interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RateLimitInterval {
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Days.
    Day,
}

impl RateLimitInterval {
    const fn nanos(self) -> u64 {
        match self {
            Self::Second => 1_000_000_000,
            Self::Minute => 60_000_000_000,
            Self::Hour => 3_600_000_000_000,
            Self::Day => 86_400_000_000_000,
        }
    }

    fn from_letter(c: u8) -> Option<Self> {
        match c.to_ascii_lowercase() {
            b's' => Some(Self::Second),
            b'm' => Some(Self::Minute),
            b'h' => Some(Self::Hour),
            b'd' => Some(Self::Day),
            _ => None,
        }
    }
}

/// One entry of exchangeInfo `rateLimits`
/// (`{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// What it counts.
    pub rate_limit_type: RateLimitType,
    /// Interval unit.
    pub interval: RateLimitInterval,
    /// Number of units in the interval.
    pub interval_num: u32,
    /// The limit.
    pub limit: u32,
    /// Current count (WebSocket API answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl RateLimit {
    /// The interval length in nanoseconds.
    pub fn window_nanos(&self) -> u64 {
        self.interval
            .nanos()
            .saturating_mul(u64::from(self.interval_num.max(1)))
    }
}

/// What one request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Request weight (IP).
    pub weight: u32,
    /// Orders placed (counted by `ORDERS` limits; 0 for queries and cancels).
    pub orders: u32,
}

impl Cost {
    /// A request of `weight` that places no order.
    pub const fn weight(weight: u32) -> Self {
        Self { weight, orders: 0 }
    }
}

/// The state of one counting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WindowUsage {
    /// What it counts.
    pub kind: RateLimitType,
    /// Window length (ns).
    pub window_nanos: u64,
    /// Counted in the current window.
    pub used: u32,
    /// Binance's limit, if known.
    pub limit: Option<u32>,
    /// What this limiter lets through (limit minus headroom).
    pub allowed: Option<u32>,
}

#[derive(Debug, Clone)]
struct Window {
    kind: RateLimitType,
    length: u64,
    limit: Option<u32>,
    used: u32,
    index: u64,
}

impl Window {
    fn roll(&mut self, now: UnixNanos) {
        let idx = now.as_nanos() / self.length;
        if idx != self.index {
            self.index = idx;
            self.used = 0;
        }
    }

    fn end(&self, now: UnixNanos) -> UnixNanos {
        let idx = now.as_nanos() / self.length;
        UnixNanos(idx.saturating_add(1).saturating_mul(self.length))
    }

    fn cost(&self, c: Cost) -> u32 {
        match self.kind {
            RateLimitType::RequestWeight => c.weight,
            RateLimitType::Orders => c.orders,
            RateLimitType::RawRequests => 1,
            RateLimitType::Other => 0,
        }
    }
}

/// How long to wait after a ban or a 429 that came without `Retry-After`.
pub const DEFAULT_BAN_WAIT: Duration = Duration::from_secs(120);

/// A client-side limiter that keeps below Binance's limits.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    windows: Vec<Window>,
    headroom_percent: u8,
    blocked_until: Option<UnixNanos>,
}

impl RateLimiter {
    /// A limiter for `limits` (exchangeInfo `rateLimits`), keeping 10 % below each.
    pub fn new(limits: &[RateLimit]) -> Self {
        let mut me = Self {
            windows: Vec::new(),
            headroom_percent: 10,
            blocked_until: None,
        };
        me.set_limits(limits);
        me
    }

    /// Sets the headroom kept below each limit (0..=90 %).
    pub fn with_headroom_percent(mut self, percent: u8) -> Self {
        self.headroom_percent = percent.min(90);
        self
    }

    /// Replaces the limits (after a new exchangeInfo); counts in windows of the
    /// same kind and length are kept.
    pub fn set_limits(&mut self, limits: &[RateLimit]) {
        for w in &mut self.windows {
            w.limit = None;
        }
        for l in limits {
            if l.rate_limit_type == RateLimitType::Other {
                continue;
            }
            let length = l.window_nanos();
            match self
                .windows
                .iter_mut()
                .find(|w| w.kind == l.rate_limit_type && w.length == length)
            {
                Some(w) => w.limit = Some(l.limit),
                None => self.windows.push(Window {
                    kind: l.rate_limit_type,
                    length,
                    limit: Some(l.limit),
                    used: 0,
                    index: 0,
                }),
            }
        }
    }

    fn allowed(&self, limit: u32) -> u32 {
        let keep = u64::from(limit) * u64::from(100 - self.headroom_percent) / 100;
        u32::try_from(keep).unwrap_or(u32::MAX).max(1)
    }

    /// How long to wait before a request costing `cost` may be sent at `now`
    /// (`None`: it may go now). Does not count it.
    pub fn wait_time(&self, cost: Cost, now: UnixNanos) -> Option<Duration> {
        let mut until = self.blocked_until.filter(|t| *t > now);
        for w in &self.windows {
            let Some(limit) = w.limit else { continue };
            let c = w.cost(cost);
            if c == 0 {
                continue;
            }
            let used = if now.as_nanos() / w.length == w.index {
                w.used
            } else {
                0
            };
            if used.saturating_add(c) > self.allowed(limit) {
                let end = w.end(now);
                until = Some(until.map_or(end, |u| u.max(end)));
            }
        }
        until
            .and_then(|t| t.checked_duration_since(now))
            .map(Duration::from_nanos)
    }

    /// Counts the request and returns `Ok` if it may go now; otherwise counts
    /// nothing and returns how long to wait.
    pub fn try_acquire(&mut self, cost: Cost, now: UnixNanos) -> Result<(), Duration> {
        if let Some(wait) = self.wait_time(cost, now) {
            return Err(wait);
        }
        self.record(cost, now);
        Ok(())
    }

    /// Counts a request that was sent (whether or not the limiter was asked).
    pub fn record(&mut self, cost: Cost, now: UnixNanos) {
        for w in &mut self.windows {
            w.roll(now);
            let c = w.cost(cost);
            w.used = w.used.saturating_add(c);
        }
    }

    /// Reads `X-MBX-USED-WEIGHT-*` and `X-MBX-ORDER-COUNT-*` headers (names
    /// case-insensitive) and takes the server's count where it is higher than
    /// ours. Windows that exchangeInfo did not announce are tracked too (with
    /// no limit).
    pub fn observe_headers(&mut self, headers: &[(&str, &str)], now: UnixNanos) {
        for (name, value) in headers {
            let Some((kind, length)) = parse_counter_header(name) else {
                continue;
            };
            let Ok(count) = value.trim().parse::<u32>() else {
                continue;
            };
            let idx = now.as_nanos() / length;
            match self
                .windows
                .iter_mut()
                .find(|w| w.kind == kind && w.length == length)
            {
                Some(w) => {
                    w.roll(now);
                    w.used = w.used.max(count);
                }
                None => self.windows.push(Window {
                    kind,
                    length,
                    limit: None,
                    used: count,
                    index: idx,
                }),
            }
        }
    }

    /// Takes a 429/418 into account: nothing may go before its `Retry-After`
    /// (or [`DEFAULT_BAN_WAIT`] if none was sent).
    pub fn observe_error(&mut self, err: &BinanceError, now: UnixNanos) {
        if let BinanceError::RateLimited { retry_after, .. } = err {
            let wait = retry_after.unwrap_or(DEFAULT_BAN_WAIT);
            let until = now.add_nanos(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
            self.blocked_until = Some(self.blocked_until.map_or(until, |u| u.max(until)));
        }
    }

    /// Until when everything is blocked by a 429/418, if it still is at `now`.
    pub fn blocked_until(&self, now: UnixNanos) -> Option<UnixNanos> {
        self.blocked_until.filter(|t| *t > now)
    }

    /// The state of every window at `now`.
    pub fn usage(&self, now: UnixNanos) -> Vec<WindowUsage> {
        self.windows
            .iter()
            .map(|w| WindowUsage {
                kind: w.kind,
                window_nanos: w.length,
                used: if now.as_nanos() / w.length == w.index {
                    w.used
                } else {
                    0
                },
                limit: w.limit,
                allowed: w.limit.map(|l| self.allowed(l)),
            })
            .collect()
    }
}

/// Parses `x-mbx-used-weight-1m` / `x-mbx-order-count-10s` into the counted
/// kind and the window length.
pub fn parse_counter_header(name: &str) -> Option<(RateLimitType, u64)> {
    let lower = name.to_ascii_lowercase();
    let (kind, rest) = if let Some(r) = lower.strip_prefix("x-mbx-used-weight-") {
        (RateLimitType::RequestWeight, r)
    } else if let Some(r) = lower.strip_prefix("x-mbx-order-count-") {
        (RateLimitType::Orders, r)
    } else {
        return None;
    };
    let bytes = rest.as_bytes();
    let (&unit, digits) = bytes.split_last()?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let interval = RateLimitInterval::from_letter(unit)?;
    Some((kind, interval.nanos().checked_mul(n.max(1))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spot_limits() -> Vec<RateLimit> {
        serde_json::from_str(
            r#"[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":1200},
                {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50},
                {"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":160000},
                {"rateLimitType":"RAW_REQUESTS","interval":"MINUTE","intervalNum":5,"limit":6100}]"#,
        )
        .unwrap()
    }

    const MIN: u64 = 60_000_000_000;

    #[test]
    fn parses_headers() {
        assert_eq!(
            parse_counter_header("X-MBX-USED-WEIGHT-1M"),
            Some((RateLimitType::RequestWeight, MIN))
        );
        assert_eq!(
            parse_counter_header("x-mbx-order-count-10s"),
            Some((RateLimitType::Orders, 10_000_000_000))
        );
        assert_eq!(
            parse_counter_header("X-MBX-ORDER-COUNT-1D"),
            Some((RateLimitType::Orders, 86_400_000_000_000))
        );
        assert_eq!(parse_counter_header("X-MBX-USED-WEIGHT"), None);
        assert_eq!(parse_counter_header("x-mbx-used-weight-m"), None);
        assert_eq!(parse_counter_header("x-mbx-used-weight-1x"), None);
        assert_eq!(parse_counter_header("content-type"), None);
    }

    #[test]
    fn keeps_below_the_order_limit_and_says_how_long_to_wait() {
        let mut rl = RateLimiter::new(&spot_limits());
        // 50 orders / 10 s with 10 % headroom: 45 go, the 46th waits for the next window.
        let t0 = UnixNanos(1_000 * 10_000_000_000 + 3_000_000_000); // 3 s into a 10 s window
        let order = Cost {
            weight: 1,
            orders: 1,
        };
        for _ in 0..45 {
            rl.try_acquire(order, t0).unwrap();
        }
        assert_eq!(rl.try_acquire(order, t0), Err(Duration::from_secs(7)));
        // A query (no order) still goes.
        assert!(rl.try_acquire(Cost::weight(4), t0).is_ok());
        // Next 10 s window: orders flow again.
        let t1 = UnixNanos(1_001 * 10_000_000_000);
        assert!(rl.try_acquire(order, t1).is_ok());
    }

    #[test]
    fn server_counts_win_when_higher() {
        let mut rl = RateLimiter::new(&spot_limits());
        let t = UnixNanos(500 * MIN + 1);
        rl.observe_headers(
            &[
                ("x-mbx-used-weight-1m", "1075"),
                ("X-MBX-ORDER-COUNT-1D", "7"),
            ],
            t,
        );
        // allowed weight = 1080: 5 more fits, 6 does not.
        assert_eq!(rl.wait_time(Cost::weight(5), t), None);
        assert_eq!(
            rl.wait_time(Cost::weight(6), t),
            Some(Duration::from_nanos(MIN - 1))
        );
        let u = rl.usage(t);
        let day = u
            .iter()
            .find(|w| w.kind == RateLimitType::Orders && w.window_nanos == 86_400_000_000_000)
            .unwrap();
        assert_eq!(day.used, 7);
        assert_eq!(day.limit, Some(160_000));
        // A lower server count does not lower ours.
        rl.observe_headers(&[("x-mbx-used-weight-1m", "3")], t);
        assert_eq!(
            rl.usage(t)
                .iter()
                .find(|w| w.kind == RateLimitType::RequestWeight)
                .unwrap()
                .used,
            1075
        );
        // Unannounced windows are tracked without a limit.
        rl.observe_headers(&[("x-mbx-used-weight-1h", "9000")], t);
        assert_eq!(rl.wait_time(Cost::weight(1), t), None);
    }

    #[test]
    fn retry_after_blocks_everything() {
        let mut rl = RateLimiter::new(&spot_limits());
        let t = UnixNanos(1_000_000_000_000);
        let err = BinanceError::check_response(
            429,
            &[("Retry-After", "30")],
            br#"{"code":-1003,"msg":"Too much request weight used"}"#,
        )
        .unwrap_err();
        rl.observe_error(&err, t);
        assert_eq!(
            rl.wait_time(Cost::weight(1), t),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            rl.try_acquire(Cost::weight(1), t.add_nanos(10_000_000_000)),
            Err(Duration::from_secs(20))
        );
        assert!(rl
            .try_acquire(Cost::weight(1), t.add_nanos(30_000_000_000))
            .is_ok());
    }
}
