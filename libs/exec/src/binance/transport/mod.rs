//! The live transport of the Binance adapter (tokio).
//!
//! The protocol modules next to this one build bytes and read answers; this
//! module owns the sockets:
//!
//! * [`http`]: a small HTTP/1.1 keep-alive client and the [`http::RestClient`]
//!   that signs [`super::rest::RestRequest`]s, feeds the rate limiter from the
//!   answer headers and maps answers through
//!   [`super::error::BinanceError::check_response`]. Orders are never retried:
//!   an unknown outcome is returned as such.
//! * [`market`]: a combined-stream WebSocket client that answers pings,
//!   timestamps frames on receipt and reconnects with seeded exponential
//!   backoff and jitter ([`Backoff`]).
//! * [`book`]: the book-sync driver: diffs into [`super::book_sync::BookSync`],
//!   REST depth snapshots when it needs one, a resync after a gap or a
//!   reconnect.
//! * [`recorder`]: writes what the adapter received as a capture
//!   (`<local ns> <json>` lines) that [`super::verify::verify_capture`] reads.
//! * [`user`]: the futures user-data stream: listenKey create and keepalive
//!   (per [`super::user_stream::ListenKeyKeeper`]), connection, parsing.
//!
//! * [`tls`]: the TLS client settings ([`tls::TlsConfig`]: rustls on `ring`,
//!   the bundled Mozilla roots plus any root you add) and the WebSocket
//!   connect helper.
//!
//! `http://` and `ws://` (the simulator) and `https://` and `wss://` (Binance
//! production, testnet, demo) are all supported. Every client verifies the
//! server's certificate against the Mozilla roots unless given another
//! [`tls::TlsConfig`]: [`http::RestClient::with_tls`],
//! [`http::HttpClient::with_tls`], [`market::MarketStreamConfig::tls`],
//! [`user::FuturesUserStream::with_tls`].

pub mod book;
pub mod http;
pub mod market;
pub mod recorder;
pub mod tls;
pub mod user;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use veloz_core::UnixNanos;

use super::book_sync::SyncError;
use super::error::BinanceError;
use super::stream::StreamError;
use super::user_data::UserDataError;

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A REST request failed (see its retry class).
    #[error(transparent)]
    Rest(#[from] BinanceError),
    /// A WebSocket connection could not be made.
    #[error("cannot connect to {url}: {detail}; check the URL and that the server is running")]
    Connect {
        /// The URL.
        url: String,
        /// The cause.
        detail: String,
    },
    /// Reconnecting gave up after the configured number of attempts.
    #[error("gave up reconnecting to {url} after {attempts} attempts: {last}")]
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// A market frame could not be parsed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// A user-data frame could not be parsed.
    #[error(transparent)]
    UserData(#[from] UserDataError),
    /// The book could not follow the stream.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A recording could not be written.
    #[error("cannot write the recording: {0}; check the disk and the path")]
    Io(#[from] std::io::Error),
    /// The REST answer is not what was expected.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// The local clock now.
pub fn local_now() -> UnixNanos {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    UnixNanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Exponential backoff with "equal jitter": attempt *n* waits a random time
/// in `[d/2, d]` where `d = min(max, base * 2^n)`. The random source is a
/// seeded SplitMix64, so a given seed always gives the same delays (tests).
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    state: u64,
}

impl Backoff {
    /// A backoff from `base` doubling up to `max`, jittered from `seed`.
    pub fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Self {
            base,
            max: max.max(base),
            attempt: 0,
            state: seed,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The delay before the next attempt (and counts the attempt).
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        let full = self.base.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(full.as_nanos()).unwrap_or(u64::MAX);
        let half = nanos / 2;
        let jitter = if half == 0 {
            0
        } else {
            self.next_random() % (half + 1)
        };
        Duration::from_nanos(nanos - half + jitter)
    }

    /// Attempts since the last [`Backoff::reset`].
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// A connection succeeded: start again from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_deterministic() {
        let ms = Duration::from_millis;
        let mut a = Backoff::new(ms(100), ms(1000), 7);
        let mut b = Backoff::new(ms(100), ms(1000), 7);
        let da: Vec<_> = (0..8).map(|_| a.next_delay()).collect();
        let db: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert_eq!(da, db);
        for (i, d) in da.iter().enumerate() {
            let full = ms(100 * (1u64 << i)).min(ms(1000));
            assert!(*d >= full / 2 && *d <= full, "attempt {i}: {d:?}");
        }
        let mut c = Backoff::new(ms(100), ms(1000), 8);
        let dc: Vec<_> = (0..8).map(|_| c.next_delay()).collect();
        assert_ne!(da, dc, "another seed gives other jitter");
        a.reset();
        assert_eq!(a.attempts(), 0);
        assert!(a.next_delay() <= ms(100));
    }
}
