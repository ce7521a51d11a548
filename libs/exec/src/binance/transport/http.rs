//! REST over HTTP/1.1: a small keep-alive client ([`HttpClient`]) and the
//! Binance [`RestClient`] on top of it.
//!
//! [`HttpClient`] keeps idle connections per base URL and reuses them. A
//! request has one deadline covering connect, send and the whole answer.
//! Only a `GET` is sent again, once, and only when a reused idle connection
//! turned out to be dead before any answer byte arrived; anything else that
//! fails after bytes may have left is reported as an unknown outcome
//! ([`BinanceError::Unknown`]), never retried.
//!
//! Base URLs are `http://host[:port]` (default port 80) or
//! `https://host[:port]` (default port 443). For `https://` the connect step
//! runs a TLS handshake (rustls, server name = host) on the TCP stream and
//! boxes the TLS stream like a plain one. The server's certificate is checked
//! against the bundled Mozilla roots ([`TlsConfig::webpki_roots`]); to trust
//! another root (a private endpoint, a test server) build a [`TlsConfig`]
//! with [`TlsConfig::with_extra_roots_pem`] and pass it to
//! [`HttpClient::with_tls`] or [`RestClient::with_tls`]. A failed handshake
//! (unknown issuer, name mismatch, not a TLS server) is a
//! [`TransportFailure::ConnectFailed`] whose message says what to do; no
//! request byte was sent.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use rustls::pki_types::ServerName;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use veloz_core::{MarketKind, UnixNanos};

use super::local_now;
use super::tls::{describe_handshake_error, TlsConfig};
use crate::binance::config::{Credentials, Endpoints};
use crate::binance::error::{ApiErrorBody, BinanceError, TransportFailure};
use crate::binance::ratelimit::RateLimiter;
use crate::binance::rest::futures::FuturesApi;
use crate::binance::rest::responses::ServerTime;
use crate::binance::rest::{spot, Method, RestRequest, SignedRequest};
use crate::binance::signing::{TimeSample, TimeSync};

/// Largest answer head accepted (bytes).
const MAX_HEAD: usize = 64 * 1024;
/// Largest answer body accepted (bytes).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A byte stream a connection runs on (plain TCP or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Conn = BufReader<Box<dyn Io>>;

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Body bytes (de-chunked).
    pub body: Vec<u8>,
    /// Local time at which the request's last byte was handed to the socket
    /// (the end of the tick-to-trade path).
    pub written: UnixNanos,
}

impl HttpAnswer {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Headers as `(&str, &str)` pairs (what the limiter and error mapping take).
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How one exchange on a connection went wrong.
enum ExchangeError {
    /// Writing the request failed.
    Write(std::io::Error),
    /// The connection closed before any answer byte.
    NoAnswer,
    /// The answer was cut or malformed.
    Broken(String),
}

/// An HTTP/1.1 client for one base URL, with a pool of idle keep-alive
/// connections.
pub struct HttpClient {
    base: String,
    target: Result<Target, String>,
    tls: TlsConfig,
    timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    max_idle: usize,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Where a base URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// The host name or address (IPv6 without brackets): the TLS server name.
    host: String,
    /// `host:port` to connect to.
    authority: String,
    /// The `Host` header.
    host_header: String,
    /// `https://`.
    tls: bool,
}

fn target_of(base: &str) -> Result<Target, String> {
    let (rest, tls) = if let Some(r) = base.strip_prefix("https://") {
        (r, true)
    } else if let Some(r) = base.strip_prefix("http://") {
        (r, false)
    } else {
        return Err(format!(
            "{base}: the base URL must start with http:// or https://"
        ));
    };
    let hostport = rest.split('/').next().unwrap_or_default();
    if hostport.is_empty() {
        return Err(format!("{base}: no host in the base URL"));
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{base}: an IPv6 host needs a closing `]`"))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{base}: no host in the base URL"));
    }
    let port: u16 = match port {
        Some(p) => p
            .parse()
            .map_err(|_| format!("{base}: the port {p:?} is not a number from 1 to 65535"))?,
        None if tls => 443,
        None => 80,
    };
    let bracketed = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let authority = format!("{bracketed}:{port}");
    // Plain http keeps `host:port` (what the simulator has always seen);
    // https sends the host as written in the URL.
    let host_header = if tls {
        hostport.to_string()
    } else {
        authority.clone()
    };
    Ok(Target {
        host: host.to_string(),
        authority,
        host_header,
        tls,
    })
}

impl HttpClient {
    /// A client for `base` (`http://host[:port]` or `https://host[:port]`),
    /// each request bounded by `timeout` (connect and TLS handshake
    /// included). `https://` trusts the bundled Mozilla roots; see
    /// [`HttpClient::with_tls`]. A base that cannot be used fails each
    /// request with a connect error (nothing sent).
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            target: target_of(base),
            tls: TlsConfig::webpki_roots(),
            timeout,
            idle: Mutex::new(Vec::new()),
            max_idle: 8,
        }
    }

    /// Verifies `https://` servers with `tls` (e.g. one that trusts an extra
    /// root certificate). Idle connections made with the previous settings
    /// are dropped. No effect on `http://`.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self.idle = Mutex::new(Vec::new());
        self
    }

    /// Whether the base URL is `https://`.
    pub fn is_tls(&self) -> bool {
        self.target.as_ref().is_ok_and(|t| t.tls)
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Idle connections kept for reuse.
    pub fn idle_connections(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().ok().and_then(|mut v| v.pop())
    }

    fn put_idle(&self, c: Conn) {
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < self.max_idle {
                v.push(c);
            }
        }
    }

    async fn connect(&self) -> Result<Conn, BinanceError> {
        let target = self
            .target
            .as_ref()
            .map_err(|e| BinanceError::transport(TransportFailure::ConnectFailed, e.clone()))?;
        let tcp = TcpStream::connect(target.authority.as_str())
            .await
            .map_err(|e| {
                BinanceError::transport(
                    TransportFailure::ConnectFailed,
                    format!("{}: {e}", self.base),
                )
            })?;
        let _ = tcp.set_nodelay(true);
        if !target.tls {
            let io: Box<dyn Io> = Box::new(tcp);
            return Ok(BufReader::new(io));
        }
        let name = ServerName::try_from(target.host.clone()).map_err(|e| {
            BinanceError::transport(
                TransportFailure::ConnectFailed,
                format!(
                    "{}: {:?} is not a valid TLS server name ({e}); use a DNS name or an IP address",
                    self.base, target.host
                ),
            )
        })?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.client_config())
            .connect(name, tcp)
            .await
            .map_err(|e| {
                BinanceError::transport(
                    TransportFailure::ConnectFailed,
                    describe_handshake_error(&self.base, &target.host, &e),
                )
            })?;
        let io: Box<dyn Io> = Box::new(tls);
        Ok(BufReader::new(io))
    }

    /// The bytes of one HTTP/1.1 request to this client's host (what
    /// [`HttpClient::request`] writes to the connection).
    pub fn encode(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<u8> {
        let host = self
            .target
            .as_ref()
            .map_or("invalid", |t| t.host_header.as_str());
        let mut head = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {host}\r\n");
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        request
    }

    /// Sends one request and reads the answer. `idempotent` allows one resend
    /// when a reused idle connection was found dead before answering.
    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        idempotent: bool,
    ) -> Result<HttpAnswer, BinanceError> {
        match tokio::time::timeout(
            self.timeout,
            self.request_inner(method, path_and_query, headers, body, idempotent),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(BinanceError::transport(
                TransportFailure::Timeout,
                format!(
                    "{method} {}{path_and_query}: no answer within {:?}",
                    self.base, self.timeout
                ),
            )),
        }
    }

    async fn request_inner(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        idempotent: bool,
    ) -> Result<HttpAnswer, BinanceError> {
        let request = self.encode(method, path_and_query, headers, body);

        let (mut conn, reused) = match self.take_idle() {
            Some(c) => (c, true),
            None => (self.connect().await?, false),
        };
        let mut result = exchange(&mut conn, &request).await;
        if reused
            && idempotent
            && matches!(
                result,
                Err(ExchangeError::Write(_)) | Err(ExchangeError::NoAnswer)
            )
        {
            // The idle connection had been closed by the server; nothing was
            // processed. A GET may go again on a fresh connection.
            conn = self.connect().await?;
            result = exchange(&mut conn, &request).await;
        }
        match result {
            Ok((answer, keep)) => {
                if keep {
                    self.put_idle(conn);
                }
                Ok(answer)
            }
            Err(ExchangeError::Write(e)) => Err(BinanceError::transport(
                TransportFailure::ConnectionDropped,
                format!(
                    "{method} {}{path_and_query}: sending failed: {e}",
                    self.base
                ),
            )),
            Err(ExchangeError::NoAnswer) => Err(BinanceError::transport(
                TransportFailure::ConnectionDropped,
                format!(
                    "{method} {}{path_and_query}: the connection closed before an answer",
                    self.base
                ),
            )),
            Err(ExchangeError::Broken(e)) => Err(BinanceError::transport(
                TransportFailure::ConnectionDropped,
                format!("{method} {}{path_and_query}: {e}", self.base),
            )),
        }
    }
}

async fn exchange(conn: &mut Conn, request: &[u8]) -> Result<(HttpAnswer, bool), ExchangeError> {
    let w = conn.get_mut();
    w.write_all(request).await.map_err(ExchangeError::Write)?;
    w.flush().await.map_err(ExchangeError::Write)?;
    let written = local_now();
    let (mut answer, keep) = read_answer(conn).await?;
    answer.written = written;
    Ok((answer, keep))
}

async fn read_line(conn: &mut Conn, budget: &mut usize) -> Result<String, ExchangeError> {
    let mut line = Vec::new();
    let n = (&mut *conn)
        .take(*budget as u64)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| ExchangeError::Broken(format!("reading the answer: {e}")))?;
    *budget = budget.saturating_sub(n);
    if n > 0 && !line.ends_with(b"\n") {
        return Err(ExchangeError::Broken(
            "the answer head is cut or too long".into(),
        ));
    }
    String::from_utf8(line)
        .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
        .map_err(|_| ExchangeError::Broken("the answer head is not UTF-8".into()))
}

async fn read_answer(conn: &mut Conn) -> Result<(HttpAnswer, bool), ExchangeError> {
    let mut budget = MAX_HEAD;
    let status_line = {
        let mut line = Vec::new();
        let n = (&mut *conn)
            .take(MAX_HEAD as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|_| ExchangeError::NoAnswer)?;
        if n == 0 {
            return Err(ExchangeError::NoAnswer);
        }
        budget -= n;
        String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string()
    };
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| ExchangeError::Broken(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn, &mut budget).await?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let mut keep = version == "HTTP/1.1" && get("connection").as_deref() != Some("close");
    let chunked = get("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length = get("content-length").and_then(|v| v.parse::<usize>().ok());
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = read_line(conn, &mut budget).await?;
            let size_hex = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| ExchangeError::Broken(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers until the empty line.
                while !read_line(conn, &mut budget).await?.is_empty() {}
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(ExchangeError::Broken("the answer body is too large".into()));
            }
            let start = body.len();
            body.resize(start + size, 0);
            conn.read_exact(&mut body[start..])
                .await
                .map_err(|e| ExchangeError::Broken(format!("reading a chunk: {e}")))?;
            let _ = read_line(conn, &mut budget).await?;
        }
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(ExchangeError::Broken("the answer body is too large".into()));
        }
        body.resize(n, 0);
        conn.read_exact(&mut body)
            .await
            .map_err(|e| ExchangeError::Broken(format!("reading the body: {e}")))?;
    } else if status != 204 && status != 304 {
        (&mut *conn)
            .take(MAX_BODY as u64)
            .read_to_end(&mut body)
            .await
            .map_err(|e| ExchangeError::Broken(format!("reading the body: {e}")))?;
        keep = false;
    }
    Ok((
        HttpAnswer {
            status,
            headers,
            body,
            written: UnixNanos::default(),
        },
        keep,
    ))
}

/// The Binance REST client: signs, limits, sends, checks.
///
/// One [`HttpClient`] per product base URL. The client-side
/// [`RateLimiter`] is consulted before sending (waiting at most
/// `max_limiter_wait`, otherwise refusing with a rate-limit error: nothing
/// sent) and fed from every answer's `X-MBX-USED-WEIGHT-*` /
/// `X-MBX-ORDER-COUNT-*` headers.
#[derive(Debug)]
pub struct RestClient {
    spot: HttpClient,
    usdm: HttpClient,
    coinm: HttpClient,
    credentials: Option<Credentials>,
    recv_window_ms: Option<u32>,
    limiter: Mutex<RateLimiter>,
    time: Mutex<TimeSync>,
    max_limiter_wait: Duration,
}

impl RestClient {
    /// A client for `endpoints`, each request bounded by `timeout`.
    pub fn new(endpoints: &Endpoints, credentials: Option<Credentials>, timeout: Duration) -> Self {
        Self {
            spot: HttpClient::new(endpoints.rest_base(MarketKind::Spot), timeout),
            usdm: HttpClient::new(endpoints.rest_base(MarketKind::UsdM), timeout),
            coinm: HttpClient::new(endpoints.rest_base(MarketKind::CoinM), timeout),
            credentials,
            recv_window_ms: None,
            limiter: Mutex::new(RateLimiter::new(&[])),
            time: Mutex::new(TimeSync::new()),
            max_limiter_wait: Duration::from_secs(5),
        }
    }

    /// Verifies `https://` endpoints with `tls` (e.g. a [`TlsConfig`] that
    /// trusts an extra root certificate); the default trusts the bundled
    /// Mozilla roots.
    pub fn with_tls(mut self, tls: &TlsConfig) -> Self {
        self.spot = self.spot.with_tls(tls.clone());
        self.usdm = self.usdm.with_tls(tls.clone());
        self.coinm = self.coinm.with_tls(tls.clone());
        self
    }

    /// Uses `limiter` (e.g. built from `exchangeInfo`'s `rateLimits`).
    pub fn with_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Mutex::new(limiter);
        self
    }

    /// Sends `recvWindow` with signed requests.
    pub fn with_recv_window_ms(mut self, ms: u32) -> Self {
        self.recv_window_ms = Some(ms);
        self
    }

    /// The HTTP client of `product`.
    pub fn http(&self, product: MarketKind) -> &HttpClient {
        match product {
            MarketKind::Spot => &self.spot,
            MarketKind::UsdM => &self.usdm,
            MarketKind::CoinM => &self.coinm,
        }
    }

    /// Runs `f` on the limiter (to read its usage).
    pub fn with_rate_limiter<R>(&self, f: impl FnOnce(&RateLimiter) -> R) -> Option<R> {
        self.limiter.lock().ok().map(|l| f(&l))
    }

    /// Replaces the limiter's limits (e.g. with exchangeInfo's `rateLimits`
    /// once they are known); counts so far are kept.
    pub fn set_rate_limits(&self, limits: &[crate::binance::ratelimit::RateLimit]) {
        if let Ok(mut l) = self.limiter.lock() {
            l.set_limits(limits);
        }
    }

    /// Measures the server clock with `GET time` on `product` and records the
    /// sample: later `timestamp`s follow the server's clock. Call it at start,
    /// when [`TimeSync::needs_sync`] says so, and after a `-1021`.
    pub async fn sync_time(&self, product: MarketKind) -> Result<i64, BinanceError> {
        let req = match FuturesApi::for_kind(product) {
            Some(api) => api.server_time(),
            None => spot::server_time(),
        };
        let sent = local_now();
        let t: ServerTime = self.send_json(&req).await?;
        let received = local_now();
        let sample = TimeSample {
            sent,
            server_time_ms: t.server_time,
            received,
        };
        let mut time = self
            .time
            .lock()
            .map_err(|_| BinanceError::unreadable_success("time", "the clock state is poisoned"))?;
        time.record(sample)
            .map_err(|e| BinanceError::unreadable_success("time", e))
    }

    /// The server-clock estimate (offset and staleness).
    pub fn time_sync(&self) -> Option<TimeSync> {
        self.time.lock().ok().map(|t| t.clone())
    }

    /// Signs `req` at the current (server-estimated) time.
    pub fn sign(&self, req: &RestRequest) -> Result<SignedRequest, BinanceError> {
        let ts = self
            .time
            .lock()
            .map(|t| t.timestamp_ms(local_now()))
            .unwrap_or_else(|_| local_now().as_millis());
        req.sign(self.credentials.as_ref(), ts, self.recv_window_ms)
    }

    /// Signs and sends `req`; `Ok` only for a success answer.
    pub async fn send(&self, req: &RestRequest) -> Result<HttpAnswer, BinanceError> {
        let signed = self.sign(req)?;
        self.send_signed(&signed).await
    }

    /// Sends `req` and parses the success body as `T`. A success body that
    /// cannot be read is an unknown outcome, not a failure.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        req: &RestRequest,
    ) -> Result<T, BinanceError> {
        let a = self.send(req).await?;
        serde_json::from_slice(&a.body).map_err(|e| BinanceError::unreadable_success(req.path, e))
    }

    async fn acquire(&self, signed: &SignedRequest) -> Result<(), BinanceError> {
        loop {
            let now = local_now();
            let wait = match self.limiter.lock() {
                Ok(mut l) => match l.try_acquire(signed.cost, now) {
                    Ok(()) => return Ok(()),
                    Err(w) => w,
                },
                Err(_) => return Ok(()),
            };
            if wait > self.max_limiter_wait {
                return Err(BinanceError::from_api(
                    429,
                    ApiErrorBody {
                        code: -1003,
                        msg: format!(
                            "client-side rate limiter: {} would exceed a limit for {wait:?}; not sent",
                            signed.path
                        ),
                    },
                    Some(wait),
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends an already signed request. Never resends a non-GET request: a
    /// timeout or dropped connection is [`BinanceError::Unknown`] (check the
    /// order's state before doing anything else).
    pub async fn send_signed(&self, signed: &SignedRequest) -> Result<HttpAnswer, BinanceError> {
        self.acquire(signed).await?;
        let headers = signed.headers();
        let path = signed.path_and_query();
        let answer = self
            .http(signed.product)
            .request(
                signed.method.as_str(),
                &path,
                &headers,
                signed.body.as_bytes(),
                signed.method == Method::Get,
            )
            .await;
        let now = local_now();
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return Err(e),
        };
        let pairs = answer.header_pairs();
        if let Ok(mut l) = self.limiter.lock() {
            l.observe_headers(&pairs, now);
        }
        if let Err(e) = BinanceError::check_response(answer.status, &pairs, &answer.body) {
            if let Ok(mut l) = self.limiter.lock() {
                l.observe_error(&e, now);
            }
            if let Ok(mut t) = self.time.lock() {
                t.on_error(&e);
            }
            return Err(e);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let t = target_of("http://127.0.0.1:9444").unwrap();
        assert_eq!(t.authority, "127.0.0.1:9444");
        assert_eq!(t.host_header, "127.0.0.1:9444");
        assert!(!t.tls);
        assert_eq!(
            target_of("http://localhost/x").unwrap().authority,
            "localhost:80"
        );
        let t = target_of("https://fapi.binance.com").unwrap();
        assert_eq!(t.authority, "fapi.binance.com:443");
        assert_eq!(t.host, "fapi.binance.com");
        assert_eq!(t.host_header, "fapi.binance.com");
        assert!(t.tls);
        let t = target_of("https://localhost:9443/api").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.host.as_str()),
            ("localhost:9443", "localhost")
        );
        let t = target_of("https://[::1]:9443").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.host.as_str()),
            ("[::1]:9443", "::1")
        );
        assert!(target_of("ftp://x").unwrap_err().contains("https://"));
        assert!(target_of("https://").is_err());
        assert!(target_of("https://h:99999").unwrap_err().contains("port"));
        assert!(target_of("https://[::1").is_err());
        let c = HttpClient::new("https://api.binance.com", Duration::from_secs(1));
        assert!(c.is_tls());
        let req = String::from_utf8(c.encode("GET", "/api/v3/time", &[], b"")).unwrap();
        assert!(req.starts_with("GET /api/v3/time HTTP/1.1\r\nHost: api.binance.com\r\n"));
    }

    #[tokio::test]
    async fn keep_alive_chunked_and_unknown_outcome() {
        use tokio::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut s = BufReader::new(s);
            // Two requests on one connection, then close in the middle of the third.
            for i in 0..3 {
                let mut line = String::new();
                loop {
                    line.clear();
                    s.read_line(&mut line).await.unwrap();
                    if line == "\r\n" {
                        break;
                    }
                }
                let w = s.get_mut();
                match i {
                    0 => w
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-MBX-USED-WEIGHT-1M: 3\r\n\r\n{}")
                        .await
                        .unwrap(),
                    1 => w
                        .write_all(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"cod\r\n1d\r\ne\":-1121,\"msg\":\"Invalid sym\"}\r\n0\r\n\r\n")
                        .await
                        .unwrap(),
                    _ => return,
                }
            }
        });
        let c = HttpClient::new(&format!("http://{addr}"), Duration::from_secs(5));
        let a = c.request("GET", "/x", &[], b"", true).await.unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(a.header("x-mbx-used-weight-1m"), Some("3"));
        assert_eq!(c.idle_connections(), 1);
        let b = c.request("GET", "/y", &[], b"", true).await.unwrap();
        assert_eq!(b.status, 400);
        assert_eq!(b.text(), "{\"code\":-1121,\"msg\":\"Invalid sym\"}");
        let e = BinanceError::check_response(b.status, &b.header_pairs(), &b.body).unwrap_err();
        assert_eq!(e.code(), Some(-1121));
        // A POST on a connection the server drops: unknown outcome, not retried.
        let e = c
            .request("POST", "/order", &[], b"a=1", false)
            .await
            .unwrap_err();
        assert!(e.is_unknown_outcome(), "{e:?}");
    }
}
