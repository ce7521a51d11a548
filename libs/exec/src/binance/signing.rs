//! Request signing and server-time tracking.
//!
//! This module owns:
//!
//! * [`Signer`]: HMAC-SHA256 (lower-case hex), Ed25519 (base64) and RSA
//!   PKCS#1 v1.5 with SHA-256 (base64) over a payload's bytes. Keys are parsed
//!   once; the HMAC key schedule is precomputed so signing an order costs two
//!   SHA-256 passes over the payload and nothing else.
//! * The payload encodings: REST `totalParams` (percent-encoded
//!   `k=v&k=v`, query string and body concatenated with no `&` between them,
//!   see [`form_encode_into`]) and the WebSocket API payload (parameters
//!   sorted by name, raw UTF-8, [`ws_api_payload`]).
//! * [`TimeSync`]: the offset between the local clock and Binance's, estimated
//!   from `GET /api/v3/time` (`/fapi/v1/time`, `/dapi/v1/time`) samples, that
//!   produces request `timestamp`s. A `-1021` marks it stale so the caller
//!   resynchronises and resends instead of failing.
//!
//! Nothing here does I/O or reads the system clock: times are passed in.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use veloz_core::UnixNanos;

use super::error::{BinanceError, RetryClass};

/// Why a key could not be loaded.
///
/// Messages name the problem and the expected format; they never contain the
/// key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// Empty API key.
    #[error("the API key is empty: copy it from the Binance API management page")]
    EmptyApiKey,
    /// API key with characters that cannot go in an HTTP header.
    #[error("the API key contains spaces or control characters: it must be printable ASCII")]
    BadApiKey,
    /// Empty HMAC secret.
    #[error("the HMAC secret key is empty: copy it from the Binance API management page")]
    EmptySecret,
    /// The Ed25519 PEM could not be parsed.
    #[error("not a valid Ed25519 private key ({reason}): expected PKCS#8 PEM starting with -----BEGIN PRIVATE KEY-----")]
    BadEd25519Key {
        /// What the parser said (never the key).
        reason: String,
    },
    /// The RSA PEM could not be parsed.
    #[error("not a valid RSA private key ({reason}): expected PEM starting with -----BEGIN PRIVATE KEY----- (PKCS#8) or -----BEGIN RSA PRIVATE KEY----- (PKCS#1)")]
    BadRsaKey {
        /// What the parser said (never the key).
        reason: String,
    },
    /// RSA signing failed (a key too small for SHA-256 PKCS#1 v1.5).
    #[error("RSA signing failed: {reason}; use a key of at least 2048 bits")]
    RsaSign {
        /// What the library said.
        reason: String,
    },
}

/// The signature algorithm of a [`Signer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureKind {
    /// HMAC-SHA256, lower-case hex.
    HmacSha256,
    /// Ed25519, base64.
    Ed25519,
    /// RSASSA-PKCS1-v1_5 with SHA-256, base64.
    RsaSha256,
}

impl SignatureKind {
    /// Human name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HMAC-SHA256",
            Self::Ed25519 => "Ed25519",
            Self::RsaSha256 => "RSA-PKCS1v15-SHA256",
        }
    }

    /// Whether the signature text needs percent-encoding in a URL or form body
    /// (base64 has `+`, `/` and `=`; hex does not).
    pub const fn needs_percent_encoding(self) -> bool {
        !matches!(self, Self::HmacSha256)
    }
}

#[derive(Clone)]
enum SignerKey {
    Hmac(Hmac<Sha256>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// Signs payloads with one private key. `Debug` shows the algorithm only.
#[derive(Clone)]
pub struct Signer {
    key: SignerKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({}, ***)", self.kind().as_str())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Signer {
    /// HMAC-SHA256 with `secret` (the secret key's UTF-8 bytes).
    pub fn hmac(secret: &[u8]) -> Result<Self, SigningError> {
        // HMAC takes keys of any length; the error branch is unreachable in
        // practice but is still a typed error, not a panic.
        let mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| SigningError::EmptySecret)?;
        Ok(Self {
            key: SignerKey::Hmac(mac),
        })
    }

    /// Ed25519 from a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn ed25519_pem(pem: &str) -> Result<Self, SigningError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| {
            SigningError::BadEd25519Key {
                reason: e.to_string(),
            }
        })?;
        Ok(Self::ed25519(key))
    }

    /// Ed25519 from a parsed key.
    pub fn ed25519(key: ed25519_dalek::SigningKey) -> Self {
        Self {
            key: SignerKey::Ed25519(Box::new(key)),
        }
    }

    /// RSA from a PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`).
    pub fn rsa_pem(pem: &str) -> Result<Self, SigningError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let pem = pem.trim();
        let key = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| SigningError::BadRsaKey {
                reason: e.to_string(),
            })?
        } else {
            rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| SigningError::BadRsaKey {
                reason: e.to_string(),
            })?
        };
        Ok(Self::rsa(key))
    }

    /// RSA from a parsed key.
    pub fn rsa(key: rsa::RsaPrivateKey) -> Self {
        Self {
            key: SignerKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(key))),
        }
    }

    /// The algorithm.
    pub fn kind(&self) -> SignatureKind {
        match self.key {
            SignerKey::Hmac(_) => SignatureKind::HmacSha256,
            SignerKey::Ed25519(_) => SignatureKind::Ed25519,
            SignerKey::Rsa(_) => SignatureKind::RsaSha256,
        }
    }

    /// Signs `payload` and returns the signature text (hex or base64, not yet
    /// percent-encoded).
    pub fn sign(&self, payload: &[u8]) -> Result<String, SigningError> {
        let mut out = String::with_capacity(90);
        self.sign_into(payload, &mut out)?;
        Ok(out)
    }

    /// Signs `payload` and appends the signature text to `out`.
    pub fn sign_into(&self, payload: &[u8], out: &mut String) -> Result<(), SigningError> {
        match &self.key {
            SignerKey::Hmac(mac) => {
                let mut mac = mac.clone();
                mac.update(payload);
                let digest = mac.finalize().into_bytes();
                out.reserve(64);
                for b in digest {
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0x0f)]));
                }
                Ok(())
            }
            SignerKey::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                let sig = key.sign(payload);
                base64::engine::general_purpose::STANDARD.encode_string(sig.to_bytes(), out);
                Ok(())
            }
            SignerKey::Rsa(key) => {
                use rsa::signature::{SignatureEncoding, Signer as _};
                let sig = key.try_sign(payload).map_err(|e| SigningError::RsaSign {
                    reason: e.to_string(),
                })?;
                base64::engine::general_purpose::STANDARD.encode_string(sig.to_bytes(), out);
                Ok(())
            }
        }
    }
}

/// Whether a byte is left as is by percent-encoding (RFC 3986 unreserved).
#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Appends `s` percent-encoded (UTF-8, upper-case hex, everything but
/// `A-Z a-z 0-9 - _ . ~` escaped; a space becomes `%20`).
pub fn percent_encode_into(s: &str, out: &mut String) {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(UPPER[usize::from(b >> 4)]));
            out.push(char::from(UPPER[usize::from(b & 0x0f)]));
        }
    }
}

/// `s` percent-encoded, see [`percent_encode_into`].
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode_into(s, &mut out);
    out
}

/// Appends `k1=v1&k2=v2...` to `out`, names and values percent-encoded, in
/// the given order. This is the REST payload format (`application/x-www-form-urlencoded`
/// body or query string).
pub fn form_encode_into<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], out: &mut String) {
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(k.as_ref(), out);
        out.push('=');
        percent_encode_into(v.as_ref(), out);
    }
}

/// `k1=v1&k2=v2...`, percent-encoded, see [`form_encode_into`].
pub fn form_encode<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut out = String::with_capacity(params.len() * 24);
    form_encode_into(params, &mut out);
    out
}

/// The WebSocket API signature payload: every parameter except `signature`
/// (with `apiKey`), sorted by name, joined as `k=v` with `&`, values raw UTF-8
/// (not percent-encoded).
pub fn ws_api_payload<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != "signature")
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Binance's timing check (spot and futures docs): a request is accepted iff
/// `timestamp < serverTime + 1000` and `serverTime - timestamp <= recvWindow`.
/// Otherwise Binance answers `-1021`.
pub fn recv_window_accepts(timestamp_ms: u64, server_time_ms: u64, recv_window_ms: u32) -> bool {
    timestamp_ms < server_time_ms.saturating_add(1000)
        && server_time_ms.saturating_sub(timestamp_ms) <= u64::from(recv_window_ms)
}

/// One server-time measurement: the local time a `GET .../time` request was
/// sent, the `serverTime` it returned, and the local time the answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSample {
    /// Local time just before sending.
    pub sent: UnixNanos,
    /// The `serverTime` field (ms).
    pub server_time_ms: u64,
    /// Local time just after receiving.
    pub received: UnixNanos,
}

impl TimeSample {
    /// Round-trip time in nanoseconds (`None` if `received < sent`).
    pub fn rtt_nanos(&self) -> Option<u64> {
        self.received.checked_duration_since(self.sent)
    }

    /// Estimated `server - local` offset in nanoseconds: the server read its
    /// clock half-way through the round trip. Binance truncates to the
    /// millisecond, so half a millisecond is added back.
    fn offset_nanos(&self, rtt: u64) -> i64 {
        let mid = i128::from(self.sent.as_nanos()) + i128::from(rtt / 2);
        let server = i128::from(self.server_time_ms) * 1_000_000 + 500_000;
        let off = server - mid;
        off.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// Why a time sample was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeSyncError {
    /// The receive time is before the send time.
    #[error("time sample received ({received}) before it was sent ({sent}): pass local times from the same clock")]
    Backwards {
        /// Send time.
        sent: UnixNanos,
        /// Receive time.
        received: UnixNanos,
    },
}

/// How many recent samples [`TimeSync`] keeps (it uses the one with the
/// smallest round trip, the most precise).
pub const TIME_SYNC_SAMPLES: usize = 8;

/// Tracks the offset between the local clock and Binance's.
///
/// Feed it [`TimeSample`]s; ask it for request timestamps. Call
/// [`TimeSync::on_error`] with every Binance error: a `-1021` marks the offset
/// stale, and [`TimeSync::needs_sync`] then says to fetch the server time
/// again before resending.
#[derive(Debug, Clone)]
pub struct TimeSync {
    samples: Vec<(TimeSample, u64)>,
    offset_nanos: Option<i64>,
    last_sync: Option<UnixNanos>,
    stale: bool,
    resync_interval_nanos: u64,
}

impl Default for TimeSync {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeSync {
    /// No offset known yet (timestamps are the local clock until the first
    /// sample); resynchronises every 10 minutes.
    pub fn new() -> Self {
        Self {
            samples: Vec::with_capacity(TIME_SYNC_SAMPLES),
            offset_nanos: None,
            last_sync: None,
            stale: false,
            resync_interval_nanos: 600_000_000_000,
        }
    }

    /// Sets how often to resynchronise even without errors.
    pub fn with_resync_interval(mut self, nanos: u64) -> Self {
        self.resync_interval_nanos = nanos;
        self
    }

    /// Records a sample and returns the new offset (ns, server minus local).
    pub fn record(&mut self, sample: TimeSample) -> Result<i64, TimeSyncError> {
        let rtt = sample.rtt_nanos().ok_or(TimeSyncError::Backwards {
            sent: sample.sent,
            received: sample.received,
        })?;
        if self.samples.len() == TIME_SYNC_SAMPLES {
            self.samples.remove(0);
        }
        self.samples.push((sample, rtt));
        let best = self
            .samples
            .iter()
            .min_by_key(|(_, rtt)| *rtt)
            .map(|(s, rtt)| s.offset_nanos(*rtt))
            .unwrap_or_else(|| sample.offset_nanos(rtt));
        self.offset_nanos = Some(best);
        self.last_sync = Some(sample.received);
        self.stale = false;
        Ok(best)
    }

    /// The current offset estimate (ns, server minus local), if any.
    pub fn offset_nanos(&self) -> Option<i64> {
        self.offset_nanos
    }

    /// The server's clock now, estimated from the local clock.
    pub fn server_now(&self, local_now: UnixNanos) -> UnixNanos {
        let off = self.offset_nanos.unwrap_or(0);
        let t = i128::from(local_now.as_nanos()) + i128::from(off);
        UnixNanos(t.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// The `timestamp` parameter (ms) for a request sent at `local_now`.
    pub fn timestamp_ms(&self, local_now: UnixNanos) -> u64 {
        self.server_now(local_now).as_millis()
    }

    /// Forgets the samples: the offset is wrong (a `-1021` said so). The old
    /// estimate keeps being used until a new sample arrives.
    pub fn mark_stale(&mut self) {
        self.stale = true;
        self.samples.clear();
    }

    /// Whether the server time should be fetched now: never synced, marked
    /// stale, or the last sync is older than the resync interval.
    pub fn needs_sync(&self, local_now: UnixNanos) -> bool {
        match self.last_sync {
            None => true,
            Some(_) if self.stale => true,
            Some(t) => local_now
                .checked_duration_since(t)
                .is_some_and(|d| d >= self.resync_interval_nanos),
        }
    }

    /// Looks at an error; on clock skew (`-1021`) marks the offset stale and
    /// returns `true`: resynchronise, then resend with a fresh timestamp.
    pub fn on_error(&mut self, err: &BinanceError) -> bool {
        if err.retry_class() == RetryClass::ClockSkew {
            self.mark_stale();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_matches_binance_examples() {
        assert_eq!(
            percent_encode("１２３４５６"),
            "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
        );
        assert_eq!(percent_encode("a b+c/d=e"), "a%20b%2Bc%2Fd%3De");
        assert_eq!(percent_encode("x-Y_z.0~"), "x-Y_z.0~");
        assert_eq!(
            form_encode(&[("symbol", "BTCUSDT"), ("l", "[1,\"a\"]")]),
            "symbol=BTCUSDT&l=%5B1%2C%22a%22%5D"
        );
    }

    #[test]
    fn ws_payload_is_sorted_raw_and_skips_signature() {
        let p = ws_api_payload(&[("b", "２"), ("signature", "x"), ("a", "1 2")]);
        assert_eq!(p, "a=1 2&b=２");
    }

    #[test]
    fn recv_window_rule() {
        assert!(recv_window_accepts(1000, 1000, 5000));
        assert!(recv_window_accepts(1999, 1000, 5000));
        assert!(!recv_window_accepts(2000, 1000, 5000));
        assert!(recv_window_accepts(1000, 6000, 5000));
        assert!(!recv_window_accepts(1000, 6001, 5000));
    }

    #[test]
    fn time_sync_prefers_the_tightest_round_trip() {
        let ms = |m: u64| UnixNanos::from_millis(m);
        let mut ts = TimeSync::new();
        assert!(ts.needs_sync(ms(0)));
        assert_eq!(ts.timestamp_ms(ms(1_000)), 1_000);
        // Server 2 s ahead; a noisy sample (RTT 400 ms, server answered late)
        // then a tight one (RTT 2 ms).
        ts.record(TimeSample {
            sent: ms(10_000),
            server_time_ms: 12_390,
            received: ms(10_400),
        })
        .unwrap();
        let off = ts
            .record(TimeSample {
                sent: ms(20_000),
                server_time_ms: 22_001,
                received: ms(20_002),
            })
            .unwrap();
        assert_eq!(off, 2_000_500_000);
        assert_eq!(ts.timestamp_ms(ms(30_000)), 32_000);
        assert!(!ts.needs_sync(ms(30_000)));
        assert!(ts.needs_sync(ms(20_002 + 600_000)));
        assert!(ts
            .record(TimeSample {
                sent: ms(5),
                server_time_ms: 1,
                received: ms(4)
            })
            .is_err());
    }

    #[test]
    fn hmac_of_empty_secret_still_signs() {
        // Not a valid Binance credential (Credentials refuses it), but the
        // primitive must not panic.
        let s = Signer::hmac(b"").unwrap();
        assert_eq!(s.sign(b"").unwrap().len(), 64);
    }
}
