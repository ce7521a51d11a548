//! The market-stream WebSocket client.
//!
//! [`MarketStream`] connects to a combined-stream URL
//! (`<ws base>/stream?streams=a/b/c`), answers pings, stamps each text frame
//! with the local receive time, and on a drop reconnects with [`Backoff`] to
//! the same URL, which subscribes to every stream again (streams added with
//! [`MarketStream::subscribe`] included). Each new connection is reported as
//! [`StreamEvent::Connected`], so a book driver knows to resync.
//!
//! `ws://` (the simulator) and `wss://` (Binance) both work. A `wss://`
//! server's certificate is checked against the bundled Mozilla roots, or
//! against [`MarketStreamConfig::tls`] when set (e.g.
//! [`TlsConfig::with_extra_roots_pem`] for a private endpoint or a test
//! server). A failed handshake is retried like any failed connect; the
//! message of [`TransportError::GaveUp`] says what to fix.

use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use veloz_core::UnixNanos;

use super::tls::{connect_ws, TlsConfig};
use super::{local_now, Backoff, TransportError};

/// A WebSocket connection.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Settings of a [`MarketStream`].
#[derive(Debug, Clone)]
pub struct MarketStreamConfig {
    /// The WebSocket base URL (`Endpoints::ws_base`), e.g. `ws://127.0.0.1:9444`.
    pub ws_base: String,
    /// Stream names, e.g. `btcusdt@depth@0ms`.
    pub streams: Vec<String>,
    /// Backoff between reconnect attempts.
    pub backoff: Backoff,
    /// Bound on one connect attempt.
    pub connect_timeout: Duration,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
    /// Treat the connection as dead when nothing (not even a ping) arrives
    /// for this long (`None`: wait forever). Binance pings every few minutes.
    pub idle_timeout: Option<Duration>,
    /// TLS settings for a `wss://` base (`None`: trust the bundled Mozilla
    /// roots, [`TlsConfig::webpki_roots`]).
    pub tls: Option<TlsConfig>,
}

impl MarketStreamConfig {
    /// Defaults: backoff 100 ms doubling to 30 s, seeded with `seed`; 10 s
    /// connect timeout; retry forever; a connection silent for 10 minutes is
    /// dropped and reconnected; `wss://` verified against the Mozilla roots.
    pub fn new(ws_base: &str, streams: &[&str], seed: u64) -> Self {
        Self {
            ws_base: ws_base.trim_end_matches('/').to_string(),
            streams: streams.iter().map(|s| s.to_string()).collect(),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(30), seed),
            connect_timeout: Duration::from_secs(10),
            max_attempts: None,
            idle_timeout: Some(Duration::from_secs(600)),
            tls: None,
        }
    }

    /// Verifies a `wss://` server with `tls`.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// One received text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Local receive time.
    pub local: UnixNanos,
    /// The frame text.
    pub text: String,
}

/// What [`MarketStream::next_event`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A (re)connection is up; `connection` counts from 1. Every stream is
    /// subscribed again; books must be resynced.
    Connected {
        /// 1 for the first connection, 2 after the first reconnect, ...
        connection: u64,
    },
    /// A text frame.
    Frame(Frame),
    /// The connection dropped; the next call reconnects.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// The market-stream client. See the module docs.
pub struct MarketStream {
    cfg: MarketStreamConfig,
    ws: Option<Ws>,
    connections: u64,
    next_id: u64,
}

impl fmt::Debug for MarketStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MarketStream")
            .field("url", &self.url())
            .field("connected", &self.ws.is_some())
            .field("connections", &self.connections)
            .finish()
    }
}

impl MarketStream {
    /// A client; nothing is connected until [`MarketStream::next_event`].
    pub fn new(cfg: MarketStreamConfig) -> Self {
        Self {
            cfg,
            ws: None,
            connections: 0,
            next_id: 1,
        }
    }

    /// The combined-stream URL.
    pub fn url(&self) -> String {
        format!(
            "{}/stream?streams={}",
            self.cfg.ws_base,
            self.cfg.streams.join("/")
        )
    }

    /// Connections made so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.ws.is_some()
    }

    /// Adds a stream: a live `SUBSCRIBE` on the current connection, and part
    /// of the URL of every reconnection.
    pub async fn subscribe(&mut self, stream: &str) -> Result<(), TransportError> {
        if !self.cfg.streams.iter().any(|s| s == stream) {
            self.cfg.streams.push(stream.to_string());
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Some(ws) = &mut self.ws {
            let req = format!("{{\"method\":\"SUBSCRIBE\",\"params\":[\"{stream}\"],\"id\":{id}}}");
            if let Err(e) = ws.send(Message::Text(req.into())).await {
                self.ws = None;
                return Err(TransportError::Connect {
                    url: self.url(),
                    detail: e.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Drops the connection now (the next call reconnects).
    pub async fn disconnect(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
    }

    async fn connect(&mut self) -> Result<u64, TransportError> {
        let url = self.url();
        let mut last = String::new();
        let mut tries = 0u32;
        loop {
            if self.cfg.max_attempts.is_some_and(|max| tries >= max) {
                return Err(TransportError::GaveUp {
                    url,
                    attempts: tries,
                    last,
                });
            }
            // The very first connection goes at once; every retry and every
            // reconnection waits its backoff.
            if tries > 0 || self.connections > 0 {
                tokio::time::sleep(self.cfg.backoff.next_delay()).await;
            }
            tries += 1;
            match tokio::time::timeout(
                self.cfg.connect_timeout,
                connect_ws(url.as_str(), self.cfg.tls.as_ref()),
            )
            .await
            {
                Ok(Ok(ws)) => {
                    self.cfg.backoff.reset();
                    self.ws = Some(ws);
                    self.connections += 1;
                    return Ok(self.connections);
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = format!("no answer within {:?}", self.cfg.connect_timeout),
            }
        }
    }

    /// The next event: connects (or reconnects) first when needed.
    pub async fn next_event(&mut self) -> Result<StreamEvent, TransportError> {
        let Some(ws) = self.ws.as_mut() else {
            let connection = self.connect().await?;
            return Ok(StreamEvent::Connected { connection });
        };
        loop {
            let msg = match self.cfg.idle_timeout {
                Some(idle) => match tokio::time::timeout(idle, ws.next()).await {
                    Ok(m) => m,
                    Err(_) => {
                        self.ws = None;
                        return Ok(StreamEvent::Disconnected {
                            reason: format!("nothing received for {idle:?}"),
                        });
                    }
                },
                None => ws.next().await,
            };
            let local = local_now();
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Ok(StreamEvent::Frame(Frame {
                        local,
                        text: t.as_str().to_string(),
                    }))
                }
                Some(Ok(Message::Ping(_))) => {
                    // tungstenite queued the pong; push it out now.
                    if let Err(e) = ws.flush().await {
                        self.ws = None;
                        return Ok(StreamEvent::Disconnected {
                            reason: format!("answering a ping: {e}"),
                        });
                    }
                }
                Some(Ok(Message::Close(c))) => {
                    self.ws = None;
                    return Ok(StreamEvent::Disconnected {
                        reason: format!("closed by the server: {c:?}"),
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    self.ws = None;
                    return Ok(StreamEvent::Disconnected {
                        reason: e.to_string(),
                    });
                }
                None => {
                    self.ws = None;
                    return Ok(StreamEvent::Disconnected {
                        reason: "the connection ended".into(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn next(m: &mut MarketStream) -> StreamEvent {
        tokio::time::timeout(Duration::from_secs(10), m.next_event())
            .await
            .unwrap()
            .unwrap()
    }

    // The callback type is tungstenite's.
    #[allow(clippy::result_large_err)]
    #[tokio::test]
    async fn answers_pings_stamps_frames_and_reconnects_to_the_same_streams() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut paths = Vec::new();
            // First connection: a ping, a frame, wait for the pong, close.
            let (s, _) = l.accept().await.unwrap();
            let mut path = String::new();
            let mut ws = tokio_tungstenite::accept_hdr_async(
                s,
                |r: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                    path = r.uri().to_string();
                    Ok(resp)
                },
            )
            .await
            .unwrap();
            paths.push(path);
            ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
            ws.send(Message::Text("one".into())).await.unwrap();
            let pong = loop {
                match ws.next().await {
                    Some(Ok(Message::Pong(p))) => break p.to_vec(),
                    Some(Ok(_)) => {}
                    other => panic!("{other:?}"),
                }
            };
            drop(ws);
            // Second connection.
            let (s, _) = l.accept().await.unwrap();
            let mut path = String::new();
            let mut ws = tokio_tungstenite::accept_hdr_async(
                s,
                |r: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                    path = r.uri().to_string();
                    Ok(resp)
                },
            )
            .await
            .unwrap();
            paths.push(path);
            ws.send(Message::Text("two".into())).await.unwrap();
            let _ = tx.send((pong, paths));
            // Keep the connection open until the client is done.
            while let Some(Ok(_)) = ws.next().await {}
        });
        let mut cfg = MarketStreamConfig::new(&format!("ws://{addr}"), &["a@depth", "b@trade"], 9);
        cfg.backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(10), 9);
        let mut m = MarketStream::new(cfg);
        assert_eq!(
            m.url(),
            format!("ws://{addr}/stream?streams=a@depth/b@trade")
        );
        let t = Duration::from_secs(10);
        assert_eq!(next(&mut m).await, StreamEvent::Connected { connection: 1 });
        match next(&mut m).await {
            StreamEvent::Frame(f) => {
                assert_eq!(f.text, "one");
                assert!(f.local.as_nanos() > 0);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next(&mut m).await,
            StreamEvent::Disconnected { .. }
        ));
        assert_eq!(next(&mut m).await, StreamEvent::Connected { connection: 2 });
        match next(&mut m).await {
            StreamEvent::Frame(f) => assert_eq!(f.text, "two"),
            other => panic!("{other:?}"),
        }
        let (pong, paths) = tokio::time::timeout(t, rx).await.unwrap().unwrap();
        assert_eq!(pong, b"hi");
        assert_eq!(paths, vec!["/stream?streams=a@depth/b@trade"; 2]);
        assert_eq!(m.connections(), 2);
    }

    #[tokio::test]
    async fn a_silent_connection_is_dropped_after_the_idle_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
            // Says nothing; keeps the connection open.
            while let Some(Ok(_)) = ws.next().await {}
        });
        let mut cfg = MarketStreamConfig::new(&format!("ws://{addr}"), &["a@trade"], 1);
        cfg.idle_timeout = Some(Duration::from_millis(50));
        let mut m = MarketStream::new(cfg);
        assert_eq!(next(&mut m).await, StreamEvent::Connected { connection: 1 });
        match next(&mut m).await {
            StreamEvent::Disconnected { reason } => assert!(reason.contains("nothing"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(!m.is_connected());
    }
}
