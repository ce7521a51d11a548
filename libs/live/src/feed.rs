//! Market data: one combined-stream WebSocket per product, parsed into
//! normalised market events for the kernel.
//!
//! The transport ([`MarketStream`]) answers pings, reconnects with backoff
//! and jitter, and resubscribes. This task adds what trading needs on top:
//! the 24-hour rotation (Binance closes a connection after 24 hours; the
//! feed reconnects on its own schedule a little before), a reconnect on
//! `serverShutdown`, connection events for the risk engine and the
//! status line, and the feed-lag histogram. A frame that cannot be parsed is
//! counted and reported, never fatal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, MarketKind, UnixNanos};
use veloz_exec::binance::stream::{FrameParser, StreamMessage, StreamSource};
use veloz_exec::binance::transport::local_now;
use veloz_exec::binance::transport::market::{MarketStream, MarketStreamConfig, StreamEvent};

use crate::inbound::Inbound;
use crate::metrics::LiveMetrics;

/// A connection is replaced after this long (Binance's limit is 24 hours).
pub const ROTATE_AFTER: Duration = Duration::from_secs(23 * 3600 + 50 * 60);

/// What one product's feed subscribes to.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    /// The product.
    pub kind: MarketKind,
    /// WebSocket base URL.
    pub ws_base: String,
    /// Instruments of this product.
    pub instruments: Vec<InstrumentId>,
    /// Stream suffixes per instrument (`bookTicker`, `aggTrade`, `markPrice@1s`, ...).
    pub streams: Vec<String>,
    /// Seed of the reconnect jitter.
    pub seed: u64,
}

impl FeedSpec {
    /// The stream names (`btcusdt@bookTicker`, ...).
    pub fn stream_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        for i in &self.instruments {
            let sym = i.symbol.as_str().to_ascii_lowercase();
            for s in &self.streams {
                if s.starts_with("markPrice") && self.kind == MarketKind::Spot {
                    continue;
                }
                v.push(format!("{sym}@{s}"));
            }
        }
        v
    }
}

fn events_of(m: StreamMessage, out: &mut Vec<MarketEvent>, shutdown: &mut bool) {
    match m {
        StreamMessage::BookTicker(q) => out.push(MarketEvent::Quote(q)),
        StreamMessage::Trade(t) => out.push(MarketEvent::Trade(t)),
        StreamMessage::AggTrade(a) => out.push(MarketEvent::Trade(a.trade)),
        StreamMessage::MarkPrice(p) => out.push(MarketEvent::MarkPrice(p)),
        StreamMessage::Bar(b) => out.push(MarketEvent::Bar(b)),
        StreamMessage::ServerShutdown { .. } => *shutdown = true,
        StreamMessage::Batch(v) => {
            for m in v {
                events_of(m, out, shutdown);
            }
        }
        // Depth is kept by the book driver when configured; the rest is not
        // market state.
        StreamMessage::Depth(_)
        | StreamMessage::PartialDepth(_)
        | StreamMessage::Liquidation(_)
        | StreamMessage::Response { .. }
        | StreamMessage::Error { .. }
        | StreamMessage::Unknown { .. } => {}
    }
}

fn exchange_time(ev: &MarketEvent) -> Option<UnixNanos> {
    match ev {
        MarketEvent::Quote(q) => Some(q.times.exchange),
        MarketEvent::Trade(t) => Some(t.times.exchange),
        MarketEvent::MarkPrice(m) => Some(m.times.exchange),
        _ => None,
    }
}

/// Runs one product's feed until `out` closes.
pub async fn run(spec: FeedSpec, out: mpsc::Sender<Inbound>, metrics: Arc<Mutex<LiveMetrics>>) {
    let names = spec.stream_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut market = MarketStream::new(MarketStreamConfig::new(&spec.ws_base, &refs, spec.seed));
    let mut parser = FrameParser::new(StreamSource::binance(spec.kind));
    let what = format!("{:?} market stream", spec.kind);
    let mut connected_at = std::time::Instant::now();
    let mut bad_frames = 0u64;
    let mut buf = Vec::new();
    loop {
        if market.is_connected() && connected_at.elapsed() >= ROTATE_AFTER {
            market.disconnect().await;
        }
        let ev = match market.next_event().await {
            Ok(e) => e,
            Err(e) => {
                if out
                    .send(Inbound::Audit(format!("{what}: {e}; retrying")))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let msg = match ev {
            StreamEvent::Connected { connection } => {
                connected_at = std::time::Instant::now();
                if connection > 1 {
                    if let Ok(mut m) = metrics.lock() {
                        m.reconnects += 1;
                    }
                }
                Inbound::Link {
                    what: what.clone(),
                    up: true,
                }
            }
            StreamEvent::Disconnected { reason } => {
                let _ = out
                    .send(Inbound::Audit(format!("{what} disconnected: {reason}")))
                    .await;
                Inbound::Link {
                    what: what.clone(),
                    up: false,
                }
            }
            StreamEvent::Frame(f) => {
                let m = match parser.parse(&f.text, f.local) {
                    Ok(m) => m,
                    Err(e) => {
                        bad_frames += 1;
                        if bad_frames <= 10 || bad_frames.is_power_of_two() {
                            let _ = out
                                .send(Inbound::Audit(format!(
                                    "{what}: unreadable frame #{bad_frames}: {e}"
                                )))
                                .await;
                        }
                        continue;
                    }
                };
                let mut shutdown = false;
                events_of(m, &mut buf, &mut shutdown);
                if shutdown {
                    market.disconnect().await;
                }
                let now = local_now();
                if let Ok(mut m) = metrics.lock() {
                    for ev in &buf {
                        m.market_events += 1;
                        if let Some(x) = exchange_time(ev) {
                            m.feed_lag.record(now.0.saturating_sub(x.0));
                        }
                    }
                }
                for event in buf.drain(..) {
                    if out
                        .send(Inbound::Market {
                            event,
                            received: f.local,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                continue;
            }
        };
        if out.send(msg).await.is_err() {
            return;
        }
    }
}
