//! The futures user-data stream client (USD-M, COIN-M).
//!
//! [`FuturesUserStream::next_message`] does what
//! [`ListenKeyKeeper::next_action`] says when it is due (create a listenKey
//! with `POST listenKey`, extend it with `PUT listenKey`, reconnect), keeps a
//! connection to [`futures_user_stream_url`], answers pings, and returns each
//! frame parsed by [`parse_user_data`]. A `listenKeyExpired` event or a
//! `-1125` keepalive answer makes it create a new key and reconnect.
//! `wss://` is verified against the Mozilla roots unless
//! [`FuturesUserStream::with_tls`] says otherwise.

use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use veloz_core::{MarketKind, UnixNanos};

use super::http::RestClient;
use super::market::Ws;
use super::tls::{connect_ws, TlsConfig};
use super::{local_now, Backoff, TransportError};
use crate::binance::rest::futures::FuturesApi;
use crate::binance::rest::responses::ListenKey;
use crate::binance::stream::StreamSource;
use crate::binance::user_data::{parse_user_data, UserDataMessage};
use crate::binance::user_stream::{futures_user_stream_url, KeeperAction, ListenKeyKeeper};

/// The futures user-data client. See the module docs.
pub struct FuturesUserStream {
    api: FuturesApi,
    kind: MarketKind,
    ws_base: String,
    keeper: ListenKeyKeeper,
    ws: Option<Ws>,
    backoff: Backoff,
    connect_timeout: Duration,
    max_attempts: u32,
    connections: u64,
    tls: Option<TlsConfig>,
}

impl fmt::Debug for FuturesUserStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuturesUserStream")
            .field("kind", &self.kind)
            .field("ws_base", &self.ws_base)
            .field("connected", &self.ws.is_some())
            .field("connections", &self.connections)
            .finish()
    }
}

impl FuturesUserStream {
    /// A client for `kind` (USD-M or COIN-M) on `ws_base`; `None` for spot
    /// (spot user data goes through the WebSocket API).
    pub fn new(kind: MarketKind, ws_base: &str, seed: u64) -> Option<Self> {
        Some(Self {
            api: FuturesApi::for_kind(kind)?,
            kind,
            ws_base: ws_base.trim_end_matches('/').to_string(),
            keeper: ListenKeyKeeper::new(),
            ws: None,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(30), seed),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 20,
            connections: 0,
            tls: None,
        })
    }

    /// Verifies a `wss://` server with `tls` (default: the bundled Mozilla
    /// roots).
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Uses `backoff` between reconnect attempts and gives up after
    /// `max_attempts` failed attempts in a row.
    pub fn with_backoff(mut self, backoff: Backoff, max_attempts: u32) -> Self {
        self.backoff = backoff;
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Connections made so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// The listenKey schedule.
    pub fn keeper(&self) -> &ListenKeyKeeper {
        &self.keeper
    }

    /// Sends a text frame on the connection (e.g. a `LIST_SUBSCRIPTIONS`
    /// request whose answer shows the connection is registered).
    pub async fn send_text(&mut self, text: &str) -> Result<(), TransportError> {
        let Some(ws) = self.ws.as_mut() else {
            return Err(TransportError::Unexpected(
                "the user-data stream is not connected".into(),
            ));
        };
        if let Err(e) = ws.send(Message::Text(text.into())).await {
            self.ws = None;
            self.keeper.on_disconnected();
            return Err(TransportError::Connect {
                url: format!("{}/…", self.ws_base),
                detail: e.to_string(),
            });
        }
        Ok(())
    }

    /// Drops the connection (the next call reconnects on the same key).
    pub async fn disconnect(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
        self.keeper.on_disconnected();
    }

    async fn create_key(&mut self, rest: &RestClient) -> Result<(), TransportError> {
        let k: ListenKey = rest.send_json(&self.api.listen_key_create()).await?;
        self.keeper.on_key(&k.listen_key, local_now());
        Ok(())
    }

    /// Extends the listenKey now (`PUT listenKey`); [`Self::next_message`]
    /// does it on the keeper's schedule. A `-1125` answer (the key is gone)
    /// forgets the key and drops the connection: the next call creates a new
    /// key and reconnects.
    pub async fn keepalive(&mut self, rest: &RestClient) -> Result<(), TransportError> {
        match rest.send(&self.api.listen_key_keepalive()).await {
            Ok(_) => {
                self.keeper.on_keepalive_ok(local_now());
                Ok(())
            }
            Err(e) => {
                if let Some(code) = e.code() {
                    self.keeper.on_keepalive_error(code);
                    if code == -1125 {
                        self.disconnect().await;
                        return Ok(());
                    }
                }
                Err(e.into())
            }
        }
    }

    /// Makes sure a key exists and a connection is up (creates the key and
    /// connects on first use).
    pub async fn ensure_connected(&mut self, rest: &RestClient) -> Result<(), TransportError> {
        loop {
            if self.keeper.key().is_none()
                || self.keeper.next_action(local_now()) == KeeperAction::CreateKey
            {
                if self.ws.is_some() {
                    self.disconnect().await;
                }
                self.create_key(rest).await?;
            }
            if self.ws.is_some() {
                return Ok(());
            }
            let key = self.keeper.key().unwrap_or_default().to_string();
            let url = futures_user_stream_url(&self.ws_base, self.kind, &key).ok_or_else(|| {
                TransportError::Unexpected("spot has no futures user-data stream".into())
            })?;
            let mut last = String::new();
            for tries in 0..self.max_attempts {
                if tries > 0 || self.connections > 0 {
                    tokio::time::sleep(self.backoff.next_delay()).await;
                }
                match tokio::time::timeout(
                    self.connect_timeout,
                    connect_ws(url.as_str(), self.tls.as_ref()),
                )
                .await
                {
                    Ok(Ok(ws)) => {
                        self.ws = Some(ws);
                        self.connections += 1;
                        self.backoff.reset();
                        self.keeper.on_connected(local_now());
                        break;
                    }
                    Ok(Err(e)) => last = e,
                    Err(_) => last = format!("no answer within {:?}", self.connect_timeout),
                }
            }
            if self.ws.is_none() {
                return Err(TransportError::GaveUp {
                    url: format!("{}/<listenKey>", self.ws_base),
                    attempts: self.max_attempts,
                    last,
                });
            }
        }
    }

    /// The next user-data message; keeps the key alive and reconnects as needed.
    pub async fn next_message(
        &mut self,
        rest: &RestClient,
    ) -> Result<(UnixNanos, UserDataMessage), TransportError> {
        let src = StreamSource::binance(self.kind);
        loop {
            self.ensure_connected(rest).await?;
            let wake = match self.keeper.next_action(local_now()) {
                KeeperAction::Keepalive => {
                    self.keepalive(rest).await?;
                    continue;
                }
                KeeperAction::CreateKey | KeeperAction::RotateConnection => {
                    // Rotation: a fresh connection on the same key.
                    self.disconnect().await;
                    continue;
                }
                KeeperAction::WaitUntil(t) => t,
            };
            let wait = Duration::from_nanos(wake.as_nanos().saturating_sub(local_now().as_nanos()));
            let Some(ws) = self.ws.as_mut() else {
                continue;
            };
            let msg = match tokio::time::timeout(wait, ws.next()).await {
                Err(_) => continue,
                Ok(m) => m,
            };
            let local = local_now();
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let m = parse_user_data(&src, t.as_str(), local)?;
                    if let UserDataMessage::ListenKeyExpired { .. } = m {
                        self.keeper.expire();
                        if let Some(mut ws) = self.ws.take() {
                            let _ = ws.close(None).await;
                        }
                    }
                    return Ok((local, m));
                }
                Some(Ok(Message::Ping(_))) => {
                    let _ = ws.flush().await;
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    self.ws = None;
                    self.keeper.on_disconnected();
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
