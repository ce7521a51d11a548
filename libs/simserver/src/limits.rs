//! Request-weight and order-count limits with Binance's headers
//! (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`, `X-MBX-ORDER-COUNT-1D`),
//! 429 + `Retry-After` over a limit, and a 418 ban for a client that keeps
//! sending after its 429s (`shared/docs/binance-protocol.md` §9).
//!
//! Windows are fixed intervals aligned to the clock (a minute starts at a
//! whole minute), as Binance counts them. Weight is counted per client IP,
//! orders per account.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use veloz_sim::AccountId;

use crate::config::RateLimitConfig;
use crate::error::ApiError;

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    start_ms: u64,
    used: u32,
}

impl Window {
    fn roll(&mut self, now_ms: u64, len_ms: u64) {
        let start = now_ms - now_ms % len_ms;
        if start != self.start_ms {
            self.start_ms = start;
            self.used = 0;
        }
    }
}

#[derive(Debug, Default)]
struct IpState {
    weight: Window,
    refused: u32,
    banned_until_ms: u64,
}

#[derive(Debug, Default)]
struct OrderState {
    ten_s: Window,
    minute: Window,
    day: Window,
}

/// Counters after a request, for the response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Weight used in the current minute.
    pub weight_1m: u32,
    /// Orders in the current 10 s window (when the request was an order).
    pub orders_10s: Option<u32>,
    /// Orders today (spot, when the request was an order).
    pub orders_1d: Option<u32>,
    /// Orders in the current minute (futures, when the request was an order).
    pub orders_1m: Option<u32>,
}

impl Usage {
    /// The response headers.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![("X-MBX-USED-WEIGHT-1M", self.weight_1m.to_string())];
        if let Some(n) = self.orders_10s {
            h.push(("X-MBX-ORDER-COUNT-10S", n.to_string()));
        }
        if let Some(n) = self.orders_1m {
            h.push(("X-MBX-ORDER-COUNT-1M", n.to_string()));
        }
        if let Some(n) = self.orders_1d {
            h.push(("X-MBX-ORDER-COUNT-1D", n.to_string()));
        }
        h
    }
}

/// The limiter of one port.
#[derive(Debug)]
pub struct RateLimiter {
    cfg: RateLimitConfig,
    futures: bool,
    ips: Mutex<HashMap<IpAddr, IpState>>,
    orders: Mutex<HashMap<AccountId, OrderState>>,
    /// 429 answers given.
    pub refused_429: std::sync::atomic::AtomicU64,
    /// 418 answers given.
    pub refused_418: std::sync::atomic::AtomicU64,
}

const MINUTE: u64 = 60_000;
const TEN_S: u64 = 10_000;
const DAY: u64 = 86_400_000;

impl RateLimiter {
    /// A limiter with `cfg`; futures ports report the orders of the minute
    /// (`X-MBX-ORDER-COUNT-1M`), spot ports those of the day (`-1D`).
    pub fn new(cfg: RateLimitConfig, futures: bool) -> Self {
        Self {
            cfg,
            futures,
            ips: Mutex::new(HashMap::new()),
            orders: Mutex::new(HashMap::new()),
            refused_429: Default::default(),
            refused_418: Default::default(),
        }
    }

    /// Counts `weight` for `ip`. Over the limit: 429 with `Retry-After` (the
    /// seconds left in the minute); after `ban_after_429s` refusals in one
    /// minute, 418 until the ban ends.
    pub fn charge(&self, ip: IpAddr, weight: u32, now_ms: u64) -> Result<Usage, ApiError> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut ips = self.ips.lock().unwrap_or_else(|p| p.into_inner());
        let st = ips.entry(ip).or_default();
        if st.banned_until_ms > now_ms {
            self.refused_418.fetch_add(1, Relaxed);
            let secs = (st.banned_until_ms - now_ms).div_ceil(1000);
            let mut e = ApiError::new(
                418,
                -1003,
                format!(
                    "Way too many requests; IP({ip}) banned until {}. Please use the websocket for live updates to avoid bans.",
                    st.banned_until_ms
                ),
            );
            e.retry_after = Some(secs);
            return Err(e);
        }
        let before = st.weight.start_ms;
        st.weight.roll(now_ms, MINUTE);
        if st.weight.start_ms != before {
            st.refused = 0;
        }
        if st.weight.used.saturating_add(weight) > self.cfg.weight_per_minute {
            st.refused += 1;
            let left = (st.weight.start_ms + MINUTE - now_ms).div_ceil(1000);
            if st.refused > self.cfg.ban_after_429s {
                st.banned_until_ms = now_ms + self.cfg.ban_seconds * 1000;
                self.refused_418.fetch_add(1, Relaxed);
                let mut e = ApiError::new(
                    418,
                    -1003,
                    format!(
                        "Way too many requests; IP({ip}) banned until {}.",
                        st.banned_until_ms
                    ),
                );
                e.retry_after = Some(self.cfg.ban_seconds);
                return Err(e);
            }
            self.refused_429.fetch_add(1, Relaxed);
            let mut e = ApiError::new(
                429,
                -1003,
                format!(
                    "Too many requests; current limit of IP({ip}) is {} requests per minute. Please use the websocket for live updates to avoid polling the API.",
                    self.cfg.weight_per_minute
                ),
            );
            e.retry_after = Some(left.max(1));
            return Err(e);
        }
        st.weight.used += weight;
        Ok(Usage {
            weight_1m: st.weight.used,
            ..Usage::default()
        })
    }

    /// Counts one new order of `account` (`-1015` with 429 over a limit).
    pub fn charge_order(
        &self,
        account: AccountId,
        usage: &mut Usage,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let st = orders.entry(account).or_default();
        st.ten_s.roll(now_ms, TEN_S);
        st.day.roll(now_ms, DAY);
        if st.ten_s.used >= self.cfg.orders_per_10s || st.day.used >= self.cfg.orders_per_day {
            let ten = st.ten_s.used >= self.cfg.orders_per_10s;
            let (limit, len, start) = if ten {
                (self.cfg.orders_per_10s, TEN_S, st.ten_s.start_ms)
            } else {
                (self.cfg.orders_per_day, DAY, st.day.start_ms)
            };
            let mut e = ApiError::new(
                429,
                -1015,
                format!(
                    "Too many new orders; current limit is {limit} orders per {}.",
                    if ten { "10 SECOND" } else { "DAY" }
                ),
            );
            e.retry_after = Some((start + len - now_ms).div_ceil(1000).max(1));
            return Err(e);
        }
        st.minute.roll(now_ms, MINUTE);
        st.ten_s.used += 1;
        st.minute.used += 1;
        st.day.used += 1;
        usage.orders_10s = Some(st.ten_s.used);
        if self.futures {
            usage.orders_1m = Some(st.minute.used);
        } else {
            usage.orders_1d = Some(st.day.used);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_then_429_then_418() {
        let rl = RateLimiter::new(
            RateLimitConfig {
                weight_per_minute: 10,
                ban_after_429s: 2,
                ..RateLimitConfig::default()
            },
            false,
        );
        let ip = IpAddr::from([127, 0, 0, 1]);
        let t = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE + 30_000;
        assert_eq!(rl.charge(ip, 6, t).unwrap().weight_1m, 6);
        assert_eq!(rl.charge(ip, 4, t).unwrap().weight_1m, 10);
        let e = rl.charge(ip, 1, t).unwrap_err();
        assert_eq!((e.status, e.code, e.retry_after), (429, -1003, Some(30)));
        assert_eq!(rl.charge(ip, 1, t).unwrap_err().status, 429);
        let e = rl.charge(ip, 1, t).unwrap_err();
        assert_eq!((e.status, e.retry_after), (418, Some(120)));
        // Still banned in the next minute.
        assert_eq!(rl.charge(ip, 1, t + MINUTE).unwrap_err().status, 418);
        // Free after the ban.
        assert_eq!(rl.charge(ip, 1, t + 121_000).unwrap().weight_1m, 1);
    }
}
