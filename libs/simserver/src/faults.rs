//! Fault injection: the rules (from the `[[faults]]` of the configuration,
//! the admin endpoint or [`crate::ServerHandle::inject`]), their scopes, the
//! deterministic counters that decide when a rule fires, and the per-kind
//! counters and log lines that let a test assert a fault happened.
//!
//! A rule names a [`FaultKind`] and a scope (product, stream, symbol, REST
//! path, connection kind). Every time something in its scope passes a check
//! point (a frame about to be published, a REST request, a connection at the
//! engine's tick) the rule *sees* it; it *fires* on every `every`-th sighting
//! until it has fired `count` times (`count = 0`: forever), or, with
//! `percent`, with that probability drawn from a generator seeded by the
//! rule. Each firing adds one to the counter of its kind and writes one line
//! to stderr. The same traffic gives the same faults.
//!
//! Where each kind acts: frame faults and connection faults in
//! [`crate::engine`] (connections are checked on the engine's 100 ms tick
//! and when a rule is added), closing a WebSocket API connection in
//! [`crate::ws_api`] (at its next request), REST faults in [`crate::rest`];
//! the admin HTTP endpoint is [`crate::admin`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use veloz_core::MarketKind;

/// The kinds of fault the simulator injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A frame is not sent (the engine still applies a market frame's
    /// events; a user-data event still happened). User-data frames only with
    /// `connection = user_data` or `ws_api` (as for the three below).
    DropFrames,
    /// A frame is sent twice.
    DuplicateFrames,
    /// A frame is held back and sent after the next frame of the same stream
    /// (user data: of the same connection): adjacent frames swapped.
    ReorderFrames,
    /// A frame is sent `delay_ms` later (released on the engine's 100 ms
    /// tick, so after frames published in between).
    DelayFrames,
    /// A WebSocket connection is closed by the server: market and listenKey
    /// connections at once (on the tick or when the rule is added), a
    /// WebSocket API connection when its next request arrives (unanswered).
    CloseConnections,
    /// The next diff of a symbol's depth streams is withheld from every depth
    /// stream of the symbol while the engine applies it: the following diff's
    /// `U`/`pu` no longer follows the previous `u` (a gap).
    SkipDepthIds,
    /// A listenKey stream gets `listenKeyExpired`, the key is deleted and the
    /// connection closed.
    ListenKeyExpired,
    /// An order request is executed by the engine, then answered with HTTP 503
    /// `-1006` (or, with `timeout`, held `delay_ms` and answered 503 `-1007`).
    OrderUnknownOutcome,
    /// A REST request is refused with 429 `-1003` and `Retry-After`.
    RateLimitStorm,
    /// The server's clock (for `timestamp`/`recvWindow` and `serverTime`) is
    /// shifted by `skew_ms` on the requests in scope.
    ClockSkew,
    /// A market connection gets `{"e":"serverShutdown","E":…}` and is closed.
    ServerShutdown,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 11] = [
        Self::DropFrames,
        Self::DuplicateFrames,
        Self::ReorderFrames,
        Self::DelayFrames,
        Self::CloseConnections,
        Self::SkipDepthIds,
        Self::ListenKeyExpired,
        Self::OrderUnknownOutcome,
        Self::RateLimitStorm,
        Self::ClockSkew,
        Self::ServerShutdown,
    ];

    /// The configuration name (`drop_frames`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::DropFrames => "drop_frames",
            Self::DuplicateFrames => "duplicate_frames",
            Self::ReorderFrames => "reorder_frames",
            Self::DelayFrames => "delay_frames",
            Self::CloseConnections => "close_connections",
            Self::SkipDepthIds => "skip_depth_ids",
            Self::ListenKeyExpired => "listen_key_expired",
            Self::OrderUnknownOutcome => "order_unknown_outcome",
            Self::RateLimitStorm => "rate_limit_storm",
            Self::ClockSkew => "clock_skew",
            Self::ServerShutdown => "server_shutdown",
        }
    }

    /// How many times a rule of this kind fires when it gives no `count`:
    /// clock skew stays until cleared, everything else fires once.
    pub fn default_count(self) -> u64 {
        match self {
            Self::ClockSkew => 0,
            _ => 1,
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of a WebSocket connection, for the scope of connection faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// Market streams (`/ws`, `/stream`, ...).
    Market,
    /// A listenKey user-data stream.
    UserData,
    /// A spot WebSocket API connection (`/ws-api/v3`).
    WsApi,
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// What to inject.
    pub fault: FaultKind,
    /// Only on this product (`spot`, `usdm`, `coinm`); any if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Only on this stream (frame faults): the exact name, or a prefix ending
    /// before an `@` (`btcusdt@depth` covers `btcusdt@depth@100ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Only on the streams of this symbol (frame faults, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Only on this REST path (REST faults): the full path (`/fapi/v1/order`)
    /// or its endpoint name (`order`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only on this kind of connection (connection faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionKind>,
    /// How many times the rule fires (0 = until cleared); by default once
    /// (clock skew: until cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Fire on every N-th sighting (1 = the next one; default 1).
    #[serde(default = "one")]
    pub every: u64,
    /// `delay_frames`: the delay; `order_unknown_outcome` with `timeout`: how
    /// long the answer is held (default 60 000).
    #[serde(default)]
    pub delay_ms: u64,
    /// `clock_skew`: server clock minus real clock, ms.
    #[serde(default)]
    pub skew_ms: i64,
    /// `order_unknown_outcome`: hold the answer instead of answering 503 at once.
    #[serde(default)]
    pub timeout: bool,
    /// `rate_limit_storm`: the `Retry-After` seconds (default 1).
    #[serde(default = "one")]
    pub retry_after_secs: u64,
    /// Fire with this probability (percent, 1 to 100) on each `every`-th
    /// sighting instead of always; drawn from a generator seeded with
    /// `seed`, so the same traffic still gives the same faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    /// Seed of the `percent` draws (default 0).
    #[serde(default)]
    pub seed: u64,
}

fn one() -> u64 {
    1
}

impl FaultRule {
    /// A rule of `kind` with no scope that fires once (clock skew: always).
    pub fn new(kind: FaultKind) -> Self {
        Self {
            fault: kind,
            product: None,
            stream: None,
            symbol: None,
            path: None,
            connection: None,
            count: None,
            every: 1,
            delay_ms: 0,
            skew_ms: 0,
            timeout: false,
            retry_after_secs: 1,
            percent: None,
            seed: 0,
        }
    }

    /// Fires with probability `percent` % (seeded with `seed`).
    pub fn percent(mut self, percent: u8, seed: u64) -> Self {
        self.percent = Some(percent);
        self.seed = seed;
        self
    }

    /// Limits the rule to `product`.
    pub fn product(mut self, product: MarketKind) -> Self {
        self.product = Some(
            match product {
                MarketKind::Spot => "spot",
                MarketKind::UsdM => "usdm",
                _ => "coinm",
            }
            .into(),
        );
        self
    }

    /// Limits the rule to a stream (or stream prefix).
    pub fn stream(mut self, stream: &str) -> Self {
        self.stream = Some(stream.into());
        self
    }

    /// Limits the rule to a symbol's streams.
    pub fn symbol(mut self, symbol: &str) -> Self {
        self.symbol = Some(symbol.into());
        self
    }

    /// Limits the rule to a REST path or endpoint name.
    pub fn path(mut self, path: &str) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Limits the rule to a kind of connection.
    pub fn connection(mut self, kind: ConnectionKind) -> Self {
        self.connection = Some(kind);
        self
    }

    /// Fires `n` times (0 = until cleared).
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Fires on every `n`-th sighting.
    pub fn every(mut self, n: u64) -> Self {
        self.every = n;
        self
    }

    /// Sets `delay_ms`.
    pub fn delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }

    /// Sets `skew_ms`.
    pub fn skew_ms(mut self, ms: i64) -> Self {
        self.skew_ms = ms;
        self
    }

    /// Sets `timeout`.
    pub fn timeout(mut self, on: bool) -> Self {
        self.timeout = on;
        self
    }

    /// Checks the values serde cannot.
    pub fn validate(&self) -> Result<(), FaultError> {
        let bad = |m: String| Err(FaultError::Invalid(format!("{} rule: {m}", self.fault)));
        if self.every == 0 {
            return bad("every must be at least 1".into());
        }
        if self.percent.is_some_and(|p| p == 0 || p > 100) {
            return bad("percent must be 1 to 100".into());
        }
        if let Some(p) = &self.product {
            if product_of(p).is_none() {
                return bad(format!("product {p:?} is not one of spot, usdm, coinm"));
            }
        }
        if self.fault == FaultKind::DelayFrames && self.delay_ms == 0 {
            return bad("set delay_ms (milliseconds) above 0".into());
        }
        if self.fault == FaultKind::ClockSkew && self.skew_ms == 0 {
            return bad(
                "set skew_ms (milliseconds, may be negative) to a value other than 0".into(),
            );
        }
        Ok(())
    }

    fn limit(&self) -> u64 {
        self.count.unwrap_or_else(|| self.fault.default_count())
    }

    fn matches(&self, t: &Target<'_>) -> bool {
        if t.opt_in && self.connection.is_none() {
            return false;
        }
        if let Some(p) = &self.product {
            if product_of(p) != Some(t.product) {
                return false;
            }
        }
        if let Some(s) = &self.stream {
            match t.stream {
                Some(ts)
                    if ts == s
                        || (ts.starts_with(s.as_str()) && ts[s.len()..].starts_with('@')) => {}
                _ => return false,
            }
        }
        if let Some(sym) = &self.symbol {
            let prefix = format!("{}@", sym.to_ascii_lowercase());
            if !t.stream.is_some_and(|ts| ts.starts_with(&prefix)) {
                return false;
            }
        }
        if let Some(p) = &self.path {
            let ok = t.path.is_some_and(|tp| {
                tp == p || (tp.ends_with(p.as_str()) && tp[..tp.len() - p.len()].ends_with('/'))
            });
            if !ok {
                return false;
            }
        }
        if let Some(c) = self.connection {
            if t.connection != Some(c) {
                return false;
            }
        }
        true
    }
}

/// One draw of the SplitMix64 generator (Steele, Lea and Flood, 2014).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn product_of(s: &str) -> Option<MarketKind> {
    match s.to_ascii_lowercase().as_str() {
        "spot" => Some(MarketKind::Spot),
        "usdm" | "um" | "usd-m" => Some(MarketKind::UsdM),
        "coinm" | "cm" | "coin-m" => Some(MarketKind::CoinM),
        _ => None,
    }
}

/// A rejected fault rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// A value is out of range.
    #[error("fault injection: {0}; see docs/SIMULATOR.md, section Fault injection")]
    Invalid(String),
}

/// What passes a check point.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Product of the port.
    pub product: MarketKind,
    /// Stream name (frames).
    pub stream: Option<&'a str>,
    /// REST path (requests).
    pub path: Option<&'a str>,
    /// Connection kind (connections; frames: the connection they go to).
    pub connection: Option<ConnectionKind>,
    /// Only rules that name `connection` apply (user-data frames: an
    /// unscoped frame rule keeps to market frames).
    pub opt_in: bool,
}

impl<'a> Target<'a> {
    /// A frame of `stream`.
    pub fn stream(product: MarketKind, stream: &'a str) -> Self {
        Self {
            product,
            stream: Some(stream),
            path: None,
            connection: Some(ConnectionKind::Market),
            opt_in: false,
        }
    }

    /// A user-data frame on a connection of `kind`.
    pub fn user_frame(product: MarketKind, kind: ConnectionKind) -> Self {
        Self {
            product,
            stream: None,
            path: None,
            connection: Some(kind),
            opt_in: true,
        }
    }

    /// A REST request on `path`.
    pub fn path(product: MarketKind, path: &'a str) -> Self {
        Self {
            product,
            stream: None,
            path: Some(path),
            connection: None,
            opt_in: false,
        }
    }

    /// A connection of `kind`.
    pub fn connection(product: MarketKind, kind: ConnectionKind) -> Self {
        Self {
            product,
            stream: None,
            path: None,
            connection: Some(kind),
            opt_in: false,
        }
    }
}

/// A rule and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleStatus {
    /// Id (order of addition, from 1).
    pub id: u64,
    /// The rule.
    pub rule: FaultRule,
    /// Sightings in scope.
    pub seen: u64,
    /// Firings.
    pub fired: u64,
    /// Fired `count` times: inactive.
    pub exhausted: bool,
    /// State of the `percent` generator.
    #[serde(skip)]
    rng: u64,
}

/// The rules and the per-kind counters (`GET /faults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultReport {
    /// Every rule added since the last clear, exhausted ones included.
    pub rules: Vec<RuleStatus>,
    /// Faults injected per kind since start (clearing the rules keeps them).
    pub counters: BTreeMap<FaultKind, u64>,
}

/// The fault state shared by the engine, the ports and the admin endpoint.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<RuleStatus>,
    counters: BTreeMap<FaultKind, u64>,
    next_id: u64,
    active: usize,
}

/// [`Faults`] behind a mutex (held only for a check, never across an await).
pub type SharedFaults = Arc<Mutex<Faults>>;

/// Locks `f` (a poisoned lock is still usable: the state is counters).
pub fn lock(f: &SharedFaults) -> MutexGuard<'_, Faults> {
    f.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Locks `f` and fires the first rule of `kind` in scope, if any.
pub fn fire(f: &SharedFaults, kind: FaultKind, t: &Target<'_>) -> Option<FaultRule> {
    let mut g = lock(f);
    if g.is_empty() {
        return None;
    }
    g.fire(kind, t)
}

impl Faults {
    /// A state with `rules` (checked).
    pub fn with_rules(rules: &[FaultRule]) -> Result<Self, FaultError> {
        let mut f = Self::default();
        for r in rules {
            f.add(r.clone())?;
        }
        Ok(f)
    }

    /// Adds a rule; returns its id.
    pub fn add(&mut self, rule: FaultRule) -> Result<u64, FaultError> {
        rule.validate()?;
        self.next_id += 1;
        eprintln!(
            "veloz-sim fault rule {} added: {}",
            self.next_id,
            serde_json::to_string(&rule).unwrap_or_default()
        );
        let rng = rule.seed;
        self.rules.push(RuleStatus {
            id: self.next_id,
            rule,
            seen: 0,
            fired: 0,
            exhausted: false,
            rng,
        });
        self.active += 1;
        Ok(self.next_id)
    }

    /// Removes every rule (the counters stay).
    pub fn clear(&mut self) {
        self.rules.clear();
        self.active = 0;
        eprintln!("veloz-sim fault rules cleared");
    }

    /// No active rule.
    pub fn is_empty(&self) -> bool {
        self.active == 0
    }

    /// Rules and counters.
    pub fn report(&self) -> FaultReport {
        FaultReport {
            rules: self.rules.clone(),
            counters: self.counters.clone(),
        }
    }

    /// Faults of `kind` injected so far.
    pub fn count(&self, kind: FaultKind) -> u64 {
        self.counters.get(&kind).copied().unwrap_or(0)
    }

    /// Shows `t` to the active rules of `kind`; returns the rule that fires
    /// (counted and logged), if any.
    pub fn fire(&mut self, kind: FaultKind, t: &Target<'_>) -> Option<FaultRule> {
        for r in &mut self.rules {
            if r.exhausted || r.rule.fault != kind || !r.rule.matches(t) {
                continue;
            }
            r.seen += 1;
            if r.seen % r.rule.every != 0 {
                continue;
            }
            if let Some(p) = r.rule.percent {
                if splitmix64(&mut r.rng) % 100 >= u64::from(p) {
                    continue;
                }
            }
            r.fired += 1;
            let limit = r.rule.limit();
            if limit != 0 && r.fired >= limit {
                r.exhausted = true;
                self.active -= 1;
            }
            *self.counters.entry(kind).or_insert(0) += 1;
            let what = t.stream.or(t.path).map_or_else(
                || {
                    t.connection
                        .map_or_else(String::new, |c| format!(" on a {c:?} connection"))
                },
                |s| format!(" on {s}"),
            );
            eprintln!(
                "veloz-sim fault {kind} (rule {}, firing {}){what} [{:?}]",
                r.id, r.fired, t.product
            );
            return Some(r.rule.clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_on_every_nth_sighting_until_count() {
        let mut f = Faults::default();
        f.add(
            FaultRule::new(FaultKind::DropFrames)
                .stream("btcusdt@depth")
                .every(2)
                .count(2),
        )
        .unwrap();
        let depth = Target::stream(MarketKind::Spot, "btcusdt@depth@100ms");
        let trade = Target::stream(MarketKind::Spot, "btcusdt@trade");
        let fired: Vec<bool> = (0..6)
            .map(|_| {
                assert!(f.fire(FaultKind::DropFrames, &trade).is_none());
                f.fire(FaultKind::DropFrames, &depth).is_some()
            })
            .collect();
        assert_eq!(fired, [false, true, false, true, false, false]);
        assert_eq!(f.count(FaultKind::DropFrames), 2);
        assert!(f.is_empty());
        assert!(f.report().rules[0].exhausted);
    }

    #[test]
    fn percent_rules_are_seeded() {
        let run = |seed: u64| {
            let mut f = Faults::default();
            f.add(
                FaultRule::new(FaultKind::DropFrames)
                    .count(0)
                    .percent(30, seed),
            )
            .unwrap();
            let t = Target::stream(MarketKind::Spot, "btcusdt@trade");
            (0..1000)
                .map(|_| f.fire(FaultKind::DropFrames, &t).is_some())
                .collect::<Vec<bool>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let fired = a.iter().filter(|x| **x).count();
        assert!((200..400).contains(&fired), "{fired} of 1000 at 30 %");
        assert!(FaultRule::new(FaultKind::DropFrames)
            .percent(0, 1)
            .validate()
            .is_err());
    }

    #[test]
    fn scopes_and_validation() {
        let r = FaultRule::new(FaultKind::RateLimitStorm)
            .product(MarketKind::UsdM)
            .path("order");
        assert!(r.matches(&Target::path(MarketKind::UsdM, "/fapi/v1/order")));
        assert!(!r.matches(&Target::path(MarketKind::UsdM, "/fapi/v1/openOrder")));
        assert!(!r.matches(&Target::path(MarketKind::Spot, "/api/v3/order")));
        assert!(FaultRule::new(FaultKind::ClockSkew).validate().is_err());
        assert!(FaultRule::new(FaultKind::DelayFrames).validate().is_err());
        assert!(FaultRule::new(FaultKind::DropFrames)
            .every(0)
            .validate()
            .is_err());
        let json = r#"{"fault":"skip_depth_ids","symbol":"BTCUSDT","count":3}"#;
        let parsed: FaultRule = serde_json::from_str(json).unwrap();
        assert_eq!(
            parsed,
            FaultRule::new(FaultKind::SkipDepthIds)
                .symbol("BTCUSDT")
                .count(3)
        );
        assert!(serde_json::from_str::<FaultRule>(r#"{"fault":"nope"}"#).is_err());
    }
}
