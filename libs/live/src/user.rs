//! User data: order and account events from the venue.
//!
//! * Futures (USD-M, COIN-M): the listenKey stream
//!   ([`FuturesUserStream`]: key creation, keepalive every 30 minutes,
//!   reconnects, `listenKeyExpired`).
//! * Spot: the WebSocket API subscription (`userDataStream.subscribe.signature`
//!   on `/ws-api/v3`), reconnected with backoff and resubscribed, and
//!   replaced before Binance's 24-hour connection limit.
//!
//! Every (re)connection is reported as a link event: the engine reconciles
//! right after one, because events sent while the connection was down are
//! lost for good.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use veloz_core::MarketKind;
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::stream::StreamSource;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::tls::{connect_ws, TlsConfig};
use veloz_exec::binance::transport::user::FuturesUserStream;
use veloz_exec::binance::transport::{local_now, Backoff};
use veloz_exec::binance::user_data::{parse_user_data, UserDataMessage};
use veloz_exec::binance::user_stream::WsApiRequest;

use crate::inbound::Inbound;
use crate::metrics::LiveMetrics;

/// Reports connection number `connection` (from 1) of `what` as up,
/// counting a reconnect from the second on; `false` when the engine is gone.
async fn announce_up(
    out: &mpsc::Sender<Inbound>,
    metrics: &Mutex<LiveMetrics>,
    what: &str,
    connection: u64,
) -> bool {
    if connection > 1 {
        if let Ok(mut m) = metrics.lock() {
            m.reconnects += 1;
        }
    }
    out.send(Inbound::Link {
        what: what.to_string(),
        up: true,
    })
    .await
    .is_ok()
}

/// Order and account events of one user-data message.
pub fn inbound_of(m: &UserDataMessage) -> Vec<Inbound> {
    let mut v: Vec<Inbound> = m
        .order_events()
        .into_iter()
        .map(|e| Inbound::Order(e.clone()))
        .collect();
    v.extend(
        m.account_events()
            .into_iter()
            .map(|e| Inbound::Account(e.clone())),
    );
    v
}

/// Runs a futures user stream until `out` closes.
/// What a user-data task connects to.
#[derive(Clone)]
pub struct UserSpec {
    /// The product.
    pub kind: MarketKind,
    /// Futures: the WebSocket base; spot: the WebSocket API URL.
    pub url: String,
    /// API key and signer (the spot subscription is signed).
    pub credentials: Credentials,
    /// The session's REST client (listenKeys, server time).
    pub rest: Arc<RestClient>,
    /// Seed of the reconnect jitter.
    pub seed: u64,
    /// TLS settings for `wss://` (default: the bundled Mozilla roots).
    pub tls: Option<TlsConfig>,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("kind", &self.kind)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// Runs the user stream of `spec.kind` (futures listenKey, or the spot WS
/// API) until `out` closes.
pub async fn run(spec: UserSpec, out: mpsc::Sender<Inbound>, metrics: Arc<Mutex<LiveMetrics>>) {
    match spec.kind {
        MarketKind::Spot => run_spot(spec, out, metrics).await,
        _ => run_futures(spec, out, metrics).await,
    }
}

async fn run_futures(spec: UserSpec, out: mpsc::Sender<Inbound>, metrics: Arc<Mutex<LiveMetrics>>) {
    let UserSpec {
        kind,
        url: ws_base,
        rest,
        seed,
        tls,
        ..
    } = spec;
    let what = format!("{kind:?} user stream");
    let Some(user) = FuturesUserStream::new(kind, &ws_base, seed) else {
        let _ = out
            .send(Inbound::Audit(format!("{what}: not a futures product")))
            .await;
        return;
    };
    let mut user = match tls {
        Some(t) => user.with_tls(t),
        None => user,
    };
    let mut seen = 0u64;
    loop {
        let r = user.next_message(&rest).await;
        if user.connections() != seen {
            seen = user.connections();
            if !announce_up(&out, &metrics, &what, seen).await {
                return;
            }
        }
        match r {
            Ok((_, m)) => {
                for i in inbound_of(&m) {
                    if out.send(i).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                if out
                    .send(Inbound::Audit(format!("{what}: {e}")))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Runs the spot user-data subscription until `out` closes.
async fn run_spot(spec: UserSpec, out: mpsc::Sender<Inbound>, metrics: Arc<Mutex<LiveMetrics>>) {
    let UserSpec {
        url: ws_api,
        credentials,
        rest,
        seed,
        tls,
        ..
    } = spec;
    let what = "Spot user stream (WS API)".to_string();
    let src = StreamSource::binance(MarketKind::Spot);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30), seed);
    let mut connections = 0u64;
    let mut request_id = 0u64;
    loop {
        let ws = tokio::time::timeout(
            Duration::from_secs(10),
            connect_ws(ws_api.as_str(), tls.as_ref()),
        )
        .await;
        let mut ws = match ws {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                let _ = out
                    .send(Inbound::Audit(format!("{what}: connect failed: {e}")))
                    .await;
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
            Err(_) => {
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        request_id += 1;
        let ts = rest
            .time_sync()
            .map(|t| t.timestamp_ms(local_now()))
            .unwrap_or_else(|| local_now().as_millis());
        let sub = match WsApiRequest::user_data_subscribe_signature(
            format!("sub-{request_id}"),
            credentials.api_key().expose(),
            credentials.signer(),
            ts,
            Some(5000),
        ) {
            Ok(s) => s,
            Err(e) => {
                let _ = out
                    .send(Inbound::Audit(format!(
                        "{what}: cannot sign the subscription: {e}; spot user data is off"
                    )))
                    .await;
                return;
            }
        };
        if ws.send(Message::text(sub.to_json())).await.is_err() {
            tokio::time::sleep(backoff.next_delay()).await;
            continue;
        }
        connections += 1;
        backoff.reset();
        if !announce_up(&out, &metrics, &what, connections).await {
            return;
        }
        // Binance closes a connection after 24 hours: replace it first.
        let rotate_at = tokio::time::Instant::now() + crate::feed::ROTATE_AFTER;
        loop {
            let msg = match tokio::time::timeout_at(rotate_at, ws.next()).await {
                Ok(m) => m,
                Err(_) => {
                    let _ = ws.close(None).await;
                    break;
                }
            };
            let local = local_now();
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let text = t.as_str();
                    // Answers to our own requests carry an `id`; events do not.
                    if text.starts_with("{\"id\"") {
                        if text.contains("\"error\"") {
                            let _ = out
                                .send(Inbound::Audit(format!(
                                    "{what}: subscription refused: {text}"
                                )))
                                .await;
                        }
                        continue;
                    }
                    match parse_user_data(&src, text, local) {
                        Ok(UserDataMessage::StreamTerminated { .. }) => break,
                        Ok(m) => {
                            for i in inbound_of(&m) {
                                if out.send(i).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = out.send(Inbound::Audit(format!("{what}: {e}"))).await;
                        }
                    }
                }
                Some(Ok(Message::Ping(_))) => {
                    let _ = ws.flush().await;
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
        if out
            .send(Inbound::Link {
                what: what.clone(),
                up: false,
            })
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
