//! How a client reaches its user-data events, at the level of request bytes and
//! schedules (the transport that sends them lives with live trading):
//!
//! * **Spot**: the WebSocket API (`/ws-api/v3`). The spot listenKey REST
//!   endpoints were retired, so user data is subscribed on the WS API, either
//!   after `session.logon` (Ed25519 keys only) with `userDataStream.subscribe`,
//!   or with any key type by `userDataStream.subscribe.signature`. Events then
//!   arrive wrapped as `{"subscriptionId":n,"event":{…}}` (parsed by
//!   [`crate::binance::user_data`]). [`WsApiRequest`] builds these requests as
//!   exact JSON text, signed as the WS API requires (parameters sorted by name,
//!   raw values, see [`crate::binance::signing::ws_api_payload`]).
//! * **Futures**: a listenKey from `POST /fapi/v1/listenKey` or
//!   `/dapi/v1/listenKey` (the REST builders are in `rest::futures`), streamed on
//!   the USD-M routed `/private/ws/<listenKey>` path (the unrouted form was
//!   decommissioned in 2026) or the COIN-M `/ws/<listenKey>` path
//!   ([`futures_user_stream_url`]). A key lives 60 minutes unless kept alive
//!   with `PUT`, and a connection lives at most 24 hours: [`ListenKeyKeeper`]
//!   says when to keep alive, when to rotate the connection and when to
//!   create a new key, from the times it is told about (no clock of its own).

use std::fmt::Write as _;

use veloz_core::{MarketKind, UnixNanos};

use crate::binance::signing::{ws_api_payload, SignatureKind, Signer, SigningError};

/// A WebSocket API parameter value: Binance sends INT parameters as JSON numbers
/// and everything else (decimals, enums, keys) as JSON strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsParam {
    /// A JSON integer (`timestamp`, `recvWindow`, `orderId`, ...).
    Int(u64),
    /// A JSON string.
    Str(String),
}

impl WsParam {
    fn raw(&self) -> String {
        match self {
            Self::Int(n) => n.to_string(),
            Self::Str(s) => s.clone(),
        }
    }
}

/// Why a WebSocket API request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsApiError {
    /// `session.logon` needs an Ed25519 key.
    #[error("session.logon needs an Ed25519 API key, this one signs with {0}; subscribe with userDataStream.subscribe.signature instead")]
    LogonNeedsEd25519(&'static str),
    /// Signing failed.
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// One WebSocket API request: `{"id":…,"method":…,"params":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsApiRequest {
    /// Request id (echoed in the reply).
    pub id: String,
    /// Method name, e.g. `userDataStream.subscribe.signature`.
    pub method: &'static str,
    /// Parameters in the order they are written.
    pub params: Vec<(String, WsParam)>,
}

impl WsApiRequest {
    /// A request with no parameters.
    pub fn new(id: impl Into<String>, method: &'static str) -> Self {
        Self {
            id: id.into(),
            method,
            params: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, name: &str, value: WsParam) -> Self {
        self.params.push((name.into(), value));
        self
    }

    /// Adds `apiKey` and `timestamp` (and `recvWindow`), then signs every
    /// parameter as the WS API requires and appends `signature`.
    pub fn signed(
        mut self,
        api_key: &str,
        signer: &Signer,
        timestamp_ms: u64,
        recv_window_ms: Option<u32>,
    ) -> Result<Self, SigningError> {
        self.params
            .push(("apiKey".into(), WsParam::Str(api_key.into())));
        if let Some(w) = recv_window_ms {
            self.params
                .push(("recvWindow".into(), WsParam::Int(u64::from(w))));
        }
        self.params
            .push(("timestamp".into(), WsParam::Int(timestamp_ms)));
        let raw: Vec<(String, String)> = self
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.raw()))
            .collect();
        let signature = signer.sign(ws_api_payload(&raw).as_bytes())?;
        self.params
            .push(("signature".into(), WsParam::Str(signature)));
        Ok(self)
    }

    /// The request as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("{\"id\":");
        push_json_str(&mut out, &self.id);
        out.push_str(",\"method\":");
        push_json_str(&mut out, self.method);
        if !self.params.is_empty() {
            out.push_str(",\"params\":{");
            for (i, (k, v)) in self.params.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(&mut out, k);
                out.push(':');
                match v {
                    WsParam::Int(n) => {
                        let _ = write!(out, "{n}");
                    }
                    WsParam::Str(s) => push_json_str(&mut out, s),
                }
            }
            out.push('}');
        }
        out.push('}');
        out
    }

    /// `session.logon`: authenticates the connection with an Ed25519 key, so
    /// later requests (`userDataStream.subscribe`, orders) need no signature.
    pub fn session_logon(
        id: impl Into<String>,
        api_key: &str,
        signer: &Signer,
        timestamp_ms: u64,
        recv_window_ms: Option<u32>,
    ) -> Result<Self, WsApiError> {
        if signer.kind() != SignatureKind::Ed25519 {
            return Err(WsApiError::LogonNeedsEd25519(signer.kind().as_str()));
        }
        Ok(Self::new(id, "session.logon").signed(api_key, signer, timestamp_ms, recv_window_ms)?)
    }

    /// `userDataStream.subscribe`, on a connection after `session.logon`.
    pub fn user_data_subscribe(id: impl Into<String>) -> Self {
        Self::new(id, "userDataStream.subscribe")
    }

    /// `userDataStream.subscribe.signature`: subscribes with any key type,
    /// without a session.
    pub fn user_data_subscribe_signature(
        id: impl Into<String>,
        api_key: &str,
        signer: &Signer,
        timestamp_ms: u64,
        recv_window_ms: Option<u32>,
    ) -> Result<Self, SigningError> {
        Self::new(id, "userDataStream.subscribe.signature").signed(
            api_key,
            signer,
            timestamp_ms,
            recv_window_ms,
        )
    }

    /// `userDataStream.unsubscribe`: one subscription, or all of them.
    pub fn user_data_unsubscribe(id: impl Into<String>, subscription_id: Option<u64>) -> Self {
        let r = Self::new(id, "userDataStream.unsubscribe");
        match subscription_id {
            Some(s) => r.param("subscriptionId", WsParam::Int(s)),
            None => r,
        }
    }

    /// `session.subscriptions`: lists the active subscriptions.
    pub fn session_subscriptions(id: impl Into<String>) -> Self {
        Self::new(id, "session.subscriptions")
    }
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The WebSocket URL of a futures user-data stream: USD-M on the routed
/// `/private/ws/<listenKey>` path, COIN-M on `/ws/<listenKey>`. `None` for spot,
/// whose user data goes through the WebSocket API.
pub fn futures_user_stream_url(
    ws_base: &str,
    kind: MarketKind,
    listen_key: &str,
) -> Option<String> {
    let base = ws_base.trim_end_matches('/');
    match kind {
        MarketKind::Spot => None,
        MarketKind::UsdM => Some(format!("{base}/private/ws/{listen_key}")),
        MarketKind::CoinM => Some(format!("{base}/ws/{listen_key}")),
    }
}

/// How long a listenKey lives without a keepalive (Binance: 60 minutes).
pub const LISTEN_KEY_TTL_NANOS: u64 = 60 * 60 * 1_000_000_000;
/// Keep alive every 30 minutes: half the lifetime, so one failed keepalive
/// can be retried before the key expires.
pub const KEEPALIVE_EVERY_NANOS: u64 = 30 * 60 * 1_000_000_000;
/// Binance closes a connection after 24 hours; rotate 30 minutes before.
pub const ROTATE_AFTER_NANOS: u64 = (24 * 60 - 30) * 60 * 1_000_000_000;

/// What a futures user-data client should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeeperAction {
    /// Nothing now; ask again at the given time.
    WaitUntil(UnixNanos),
    /// Create a listenKey (`POST`): none yet, or the old one expired.
    CreateKey,
    /// Extend the key (`PUT`).
    Keepalive,
    /// Open a new connection on the same key before the 24-hour limit, then
    /// close the old one (no gap: both run until the new one is up).
    RotateConnection,
}

/// The listenKey schedule of one futures user-data stream. Pure: every
/// method takes the current time; nothing sleeps.
#[derive(Debug, Clone, Default)]
pub struct ListenKeyKeeper {
    key: Option<String>,
    key_extended_at: UnixNanos,
    connected_at: Option<UnixNanos>,
}

impl ListenKeyKeeper {
    /// No key yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current key, if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// A `POST listenKey` answered with `key` (Binance returns the same key
    /// while it is valid, and extends it).
    pub fn on_key(&mut self, key: &str, now: UnixNanos) {
        if self.key.as_deref() != Some(key) {
            self.connected_at = None;
        }
        self.key = Some(key.to_string());
        self.key_extended_at = now;
    }

    /// A `PUT listenKey` succeeded.
    pub fn on_keepalive_ok(&mut self, now: UnixNanos) {
        self.key_extended_at = now;
    }

    /// A `PUT listenKey` failed with a Binance error code: `-1125` (the key
    /// does not exist) means create a new one; other errors are retried at the
    /// next keepalive time.
    pub fn on_keepalive_error(&mut self, code: i64) {
        if code == -1125 {
            self.expire();
        }
    }

    /// The stream sent `listenKeyExpired`, or the key is otherwise gone.
    pub fn expire(&mut self) {
        self.key = None;
        self.connected_at = None;
    }

    /// A WebSocket connection on the current key is up.
    pub fn on_connected(&mut self, now: UnixNanos) {
        self.connected_at = Some(now);
    }

    /// The connection dropped (reconnect on the same key if it is still valid).
    pub fn on_disconnected(&mut self) {
        self.connected_at = None;
    }

    /// The next thing to do at `now`.
    pub fn next_action(&self, now: UnixNanos) -> KeeperAction {
        if self.key.is_none()
            || now
                .checked_duration_since(self.key_extended_at)
                .unwrap_or(0)
                >= LISTEN_KEY_TTL_NANOS
        {
            return KeeperAction::CreateKey;
        }
        let keepalive_at = self.key_extended_at.add_nanos(KEEPALIVE_EVERY_NANOS);
        if now >= keepalive_at {
            return KeeperAction::Keepalive;
        }
        let mut wake = keepalive_at;
        if let Some(c) = self.connected_at {
            let rotate_at = c.add_nanos(ROTATE_AFTER_NANOS);
            if now >= rotate_at {
                return KeeperAction::RotateConnection;
            }
            wake = wake.min(rotate_at);
        }
        KeeperAction::WaitUntil(wake)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binance::signing::Signer;

    const MIN: u64 = 60 * 1_000_000_000;

    #[test]
    fn subscribe_signature_is_signed_over_sorted_raw_params() {
        let signer = Signer::hmac(b"secret").unwrap();
        let r = WsApiRequest::user_data_subscribe_signature(
            "7",
            "KEY",
            &signer,
            1_700_000_000_000,
            Some(5000),
        )
        .unwrap();
        let expected_sig = signer
            .sign(b"apiKey=KEY&recvWindow=5000&timestamp=1700000000000")
            .unwrap();
        assert_eq!(
            r.to_json(),
            format!(
                "{{\"id\":\"7\",\"method\":\"userDataStream.subscribe.signature\",\"params\":{{\"apiKey\":\"KEY\",\"recvWindow\":5000,\"timestamp\":1700000000000,\"signature\":\"{expected_sig}\"}}}}"
            )
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert!(
            v["params"]["timestamp"].is_u64(),
            "INT params are JSON numbers"
        );
    }

    #[test]
    fn logon_needs_ed25519() {
        let hmac = Signer::hmac(b"secret").unwrap();
        assert!(matches!(
            WsApiRequest::session_logon("1", "KEY", &hmac, 1, None),
            Err(WsApiError::LogonNeedsEd25519(_))
        ));
        let ed = Signer::ed25519(ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]));
        let r = WsApiRequest::session_logon("1", "KEY", &ed, 1_700_000_000_000, None).unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["method"], "session.logon");
        let sig = v["params"]["signature"].as_str().unwrap();
        assert_eq!(sig, ed.sign(b"apiKey=KEY&timestamp=1700000000000").unwrap());
        assert_eq!(
            WsApiRequest::user_data_unsubscribe("2", Some(0)).to_json(),
            r#"{"id":"2","method":"userDataStream.unsubscribe","params":{"subscriptionId":0}}"#
        );
        assert_eq!(
            WsApiRequest::user_data_subscribe("3").to_json(),
            r#"{"id":"3","method":"userDataStream.subscribe"}"#
        );
    }

    #[test]
    fn futures_stream_urls() {
        assert_eq!(
            futures_user_stream_url("wss://fstream.binance.com/", MarketKind::UsdM, "abc")
                .as_deref(),
            Some("wss://fstream.binance.com/private/ws/abc")
        );
        assert_eq!(
            futures_user_stream_url("wss://dstream.binance.com", MarketKind::CoinM, "abc")
                .as_deref(),
            Some("wss://dstream.binance.com/ws/abc")
        );
        assert_eq!(futures_user_stream_url("x", MarketKind::Spot, "abc"), None);
    }

    #[test]
    fn keeper_schedules_keepalive_rotation_and_recreation() {
        let t0 = UnixNanos::from_secs(1_700_000_000);
        let mut k = ListenKeyKeeper::new();
        assert_eq!(k.next_action(t0), KeeperAction::CreateKey);
        k.on_key("abc", t0);
        k.on_connected(t0);
        assert_eq!(
            k.next_action(t0),
            KeeperAction::WaitUntil(t0.add_nanos(30 * MIN))
        );
        assert_eq!(
            k.next_action(t0.add_nanos(30 * MIN)),
            KeeperAction::Keepalive
        );
        // A missed keepalive past the 60-minute lifetime means a new key.
        assert_eq!(
            k.next_action(t0.add_nanos(60 * MIN)),
            KeeperAction::CreateKey
        );
        // Keepalives every 30 minutes keep the key; the connection rotates before 24 h.
        let mut t = t0;
        for _ in 0..47 {
            t = t.add_nanos(30 * MIN);
            assert_eq!(k.next_action(t), KeeperAction::Keepalive);
            k.on_keepalive_ok(t);
        }
        assert_eq!(
            k.next_action(t0.add_nanos(ROTATE_AFTER_NANOS)),
            KeeperAction::RotateConnection
        );
        k.on_connected(t0.add_nanos(ROTATE_AFTER_NANOS));
        assert!(matches!(
            k.next_action(t0.add_nanos(ROTATE_AFTER_NANOS)),
            KeeperAction::WaitUntil(_)
        ));
        // -1125 or listenKeyExpired: create again.
        k.on_keepalive_error(-1099);
        assert!(k.key().is_some());
        k.on_keepalive_error(-1125);
        assert_eq!(k.next_action(t), KeeperAction::CreateKey);
    }
}
