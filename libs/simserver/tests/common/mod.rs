//! Test helpers: a tiny HTTP/1.1 client over `TcpStream`, a WebSocket client
//! (tokio-tungstenite), a server with known accounts, and signing with the
//! adapter's own request builders.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::rest::{RestRequest, SignedRequest};
use veloz_simserver::{AccountConfig, BalanceConfig, MarketConfig, ServerConfig, ServerHandle};

pub const HMAC_KEY: &str = "test-hmac-key";
pub const HMAC_SECRET: &str = "test-hmac-secret";
pub const ED_KEY: &str = "test-ed25519-key";

pub fn ed_signing_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

pub fn hmac_creds() -> Credentials {
    Credentials::hmac(HMAC_KEY, HMAC_SECRET).unwrap()
}

pub fn ed_creds() -> Credentials {
    let pem = ed_signing_key().to_pkcs8_pem(LineEnding::LF).unwrap();
    Credentials::ed25519_pem(ED_KEY, pem.as_str()).unwrap()
}

fn bal(asset: &str, amount: &str) -> BalanceConfig {
    BalanceConfig {
        asset: asset.into(),
        amount: amount.into(),
    }
}

pub fn config() -> ServerConfig {
    let public = ed_signing_key()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    ServerConfig {
        accounts: vec![
            AccountConfig {
                name: "hmac".into(),
                api_key: HMAC_KEY.into(),
                hmac_secret: Some(HMAC_SECRET.into()),
                ed25519_public_key_pem: None,
                spot_balances: vec![bal("USDT", "100000"), bal("BTC", "2")],
                futures_balances: vec![bal("USDT", "100000"), bal("BTC", "2")],
            },
            AccountConfig {
                name: "ed".into(),
                api_key: ED_KEY.into(),
                hmac_secret: None,
                ed25519_public_key_pem: Some(public),
                spot_balances: vec![bal("USDT", "100000"), bal("BTC", "2")],
                futures_balances: vec![bal("USDT", "100000")],
            },
        ],
        // Tests drive the market themselves.
        market: MarketConfig::Manual,
        ..ServerConfig::ephemeral()
    }
}

pub async fn server() -> ServerHandle {
    veloz_simserver::start(config()).await.unwrap()
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn code(&self) -> i64 {
        self.json()["code"].as_i64().unwrap()
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req =
        format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut hm = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            hm.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let body = if hm.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Answer {
        status,
        headers: hm,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// Sends a request built by the adapter's builders.
pub async fn send(addr: SocketAddr, r: &SignedRequest) -> Answer {
    let mut h: Vec<(&str, &str)> = Vec::new();
    for (k, v) in r.headers() {
        h.push((k, v));
    }
    http(addr, r.method.as_str(), &r.path_and_query(), &h, &r.body).await
}

/// Sends a request to the URL our adapter builds from the server's
/// [`ServerHandle::endpoints`] (base URL alone).
pub async fn send_to(srv: &ServerHandle, r: &SignedRequest) -> Answer {
    let url = r.url(&srv.endpoints());
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let addr: SocketAddr = host.parse().unwrap();
    let mut h: Vec<(&str, &str)> = Vec::new();
    for (k, v) in r.headers() {
        h.push((k, v));
    }
    http(addr, r.method.as_str(), path, &h, &r.body).await
}

/// Signs with `creds` at the current time and sends.
pub async fn send_signed(addr: SocketAddr, r: &RestRequest, creds: &Credentials) -> Answer {
    let signed = r.sign(Some(creds), now_ms(), None).unwrap();
    send(addr, &signed).await
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub async fn ws(addr: SocketAddr, path: &str) -> Ws {
    let (s, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap();
    s
}

/// The next text frame.
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return t.to_string(),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
}
