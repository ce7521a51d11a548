//! TLS on the loopback: the transport against local `https://` and `wss://`
//! servers whose certificates come from a CA made in the test (rcgen).
//!
//! * REST: `RestClient::sync_time` over `https://` with the test CA trusted;
//!   refused with advice when the CA is not trusted (no request byte reaches
//!   the server), when the name does not match, and when the server does not
//!   speak TLS; keep-alive works over TLS.
//! * Market stream: a `bookTicker` frame over `wss://` reaches
//!   [`MarketStream`] and parses; an untrusted server makes it give up with
//!   advice.
//! * Futures user stream: listenKey over `https://`, the stream over
//!   `wss://`, both with the test CA trusted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use veloz_core::{MarketKind, Price, Quantity};
use veloz_exec::binance::config::{Credentials, Endpoints};
use veloz_exec::binance::error::BinanceError;
use veloz_exec::binance::stream::{parse_frame, StreamMessage, StreamSource};
use veloz_exec::binance::transport::http::{HttpClient, RestClient};
use veloz_exec::binance::transport::market::{MarketStream, MarketStreamConfig, StreamEvent};
use veloz_exec::binance::transport::tls::TlsConfig;
use veloz_exec::binance::transport::user::FuturesUserStream;
use veloz_exec::binance::transport::{Backoff, TransportError};
use veloz_exec::binance::user_data::UserDataMessage;

const T: Duration = Duration::from_secs(10);

/// A test certificate authority and a server certificate it signed for
/// `localhost` only.
struct Pki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "VeloZ test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert: cert.der().clone(),
        server_key: key.serialize_der(),
    }
}

fn acceptor(p: &Pki) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![p.server_cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(p.server_key.clone())),
        )
        .unwrap();
    TlsAcceptor::from(Arc::new(cfg))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// What the HTTPS server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    failed_handshakes: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

/// Answers `GET /api/v3/time` with the current time, `POST
/// /fapi/v1/listenKey` with the key `k1`, anything else with a Binance error.
fn route(request_line: &str) -> (&'static str, String) {
    if request_line.starts_with("GET /api/v3/time ") {
        ("200 OK", format!("{{\"serverTime\":{}}}", now_ms()))
    } else if request_line.starts_with("POST /fapi/v1/listenKey") {
        ("200 OK", "{\"listenKey\":\"k1\"}".to_string())
    } else {
        (
            "404 Not Found",
            "{\"code\":-1000,\"msg\":\"unknown path\"}".to_string(),
        )
    }
}

/// A TLS HTTP/1.1 keep-alive server answering with [`route`].
async fn https_server(p: &Pki) -> (u16, Arc<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let acceptor = acceptor(p);
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            s.connections.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    s.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let mut conn = BufReader::new(tls);
                loop {
                    let mut request_line = String::new();
                    match conn.read_line(&mut request_line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    loop {
                        let mut line = String::new();
                        match conn.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let request_line = request_line.trim_end().to_string();
                    s.requests.lock().unwrap().push(request_line.clone());
                    let (status, body) = route(&request_line);
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-MBX-USED-WEIGHT-1M: 1\r\n\r\n{body}",
                        body.len()
                    );
                    let w = conn.get_mut();
                    if w.write_all(answer.as_bytes()).await.is_err() || w.flush().await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn rest(base: &str) -> RestClient {
    RestClient::new(&Endpoints::single_host(base, "ws://unused"), None, T)
}

fn connect_failed_detail(e: &BinanceError) -> String {
    match e {
        BinanceError::ConnectFailed { detail } => detail.clone(),
        other => panic!("expected ConnectFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn sync_time_over_https_with_the_test_root_trusted() {
    let p = pki();
    let (port, seen) = https_server(&p).await;
    let tls = TlsConfig::only_roots_pem(p.ca_pem.as_bytes()).unwrap();
    let client = rest(&format!("https://localhost:{port}")).with_tls(&tls);
    let offset = tokio::time::timeout(T, client.sync_time(MarketKind::Spot))
        .await
        .unwrap()
        .unwrap();
    // Server and client share this machine's clock: the offset (ns) is the
    // millisecond truncation plus half a round trip, far below a minute.
    assert!(offset.abs() < 60_000_000_000, "offset {offset} ns");
    assert_eq!(client.time_sync().unwrap().offset_nanos(), Some(offset));
    // Keep-alive over TLS: a second request on the same connection.
    tokio::time::timeout(T, client.sync_time(MarketKind::Spot))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(client.http(MarketKind::Spot).idle_connections(), 1);
    assert_eq!(
        *seen.requests.lock().unwrap(),
        vec!["GET /api/v3/time HTTP/1.1"; 2]
    );
    // A Binance error body travels over TLS too.
    let a = tokio::time::timeout(
        T,
        client
            .http(MarketKind::Spot)
            .request("GET", "/api/v3/nothing", &[], b"", true),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(a.status, 404);
    let e = BinanceError::check_response(a.status, &a.header_pairs(), &a.body).unwrap_err();
    assert_eq!(e.code(), Some(-1000));

    // The extra root can also sit beside the Mozilla roots.
    let tls = TlsConfig::with_extra_roots_pem(p.ca_pem.as_bytes()).unwrap();
    assert_eq!(tls.extra_roots(), 1);
    let client = rest(&format!("https://localhost:{port}")).with_tls(&tls);
    tokio::time::timeout(T, client.sync_time(MarketKind::UsdM))
        .await
        .unwrap()
        .unwrap_err(); // /fapi/v1/time is a 404 here, but the handshake passed:
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    assert_eq!(seen.failed_handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_untrusted_server_is_refused_before_anything_is_sent() {
    let p = pki();
    let (port, seen) = https_server(&p).await;
    // The default trusts the Mozilla roots only: the test CA is unknown.
    let client = rest(&format!("https://localhost:{port}"));
    let e = tokio::time::timeout(T, client.sync_time(MarketKind::Spot))
        .await
        .unwrap()
        .unwrap_err();
    let detail = connect_failed_detail(&e);
    assert!(detail.contains("not signed by a trusted root"), "{detail}");
    assert!(detail.contains("with_extra_roots_pem"), "{detail}");
    assert!(detail.contains("nothing was sent"), "{detail}");
    assert!(!e.is_unknown_outcome(), "{e:?}");
    // The server saw a connection, no finished handshake, no request.
    tokio::time::timeout(T, async {
        while seen.failed_handshakes.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert!(seen.requests.lock().unwrap().is_empty());

    // Trusted CA, but the certificate names `localhost`, not 127.0.0.1.
    let tls = TlsConfig::only_roots_pem(p.ca_pem.as_bytes()).unwrap();
    let client = rest(&format!("https://127.0.0.1:{port}")).with_tls(&tls);
    let e = tokio::time::timeout(T, client.sync_time(MarketKind::Spot))
        .await
        .unwrap()
        .unwrap_err();
    let detail = connect_failed_detail(&e);
    assert!(detail.contains("not valid for the name"), "{detail}");
    assert!(detail.contains("127.0.0.1"), "{detail}");
    assert!(seen.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_plain_http_server_behind_an_https_url_is_explained() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    });
    let c = HttpClient::new(&format!("https://localhost:{port}"), T);
    let e = tokio::time::timeout(T, c.request("GET", "/api/v3/time", &[], b"", true))
        .await
        .unwrap()
        .unwrap_err();
    let detail = connect_failed_detail(&e);
    assert!(detail.contains("did not answer in TLS"), "{detail}");
}

const BOOK_TICKER: &str = r#"{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#;

/// A `wss://` server: every connection gets one `frame`, then stays open
/// until the client leaves. Returns the port and the request paths.
async fn wss_server(p: &Pki, frame: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let acceptor = acceptor(p);
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&paths);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let seen2 = Arc::clone(&seen);
                #[allow(clippy::result_large_err)]
                let callback =
                    move |r: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                        seen2.lock().unwrap().push(r.uri().to_string());
                        Ok(resp)
                    };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tls, callback).await else {
                    return;
                };
                if ws.send(Message::Text(frame.into())).await.is_err() {
                    return;
                }
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (port, paths)
}

async fn next(m: &mut MarketStream) -> StreamEvent {
    tokio::time::timeout(T, m.next_event())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn market_stream_receives_a_book_ticker_over_wss() {
    let p = pki();
    let (port, paths) = wss_server(&p, BOOK_TICKER).await;
    let tls = TlsConfig::only_roots_pem(p.ca_pem.as_bytes()).unwrap();
    let cfg = MarketStreamConfig::new(
        &format!("wss://localhost:{port}"),
        &["btcusdt@bookTicker"],
        3,
    )
    .with_tls(tls);
    let mut m = MarketStream::new(cfg);
    assert_eq!(next(&mut m).await, StreamEvent::Connected { connection: 1 });
    let frame = match next(&mut m).await {
        StreamEvent::Frame(f) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(frame.text, BOOK_TICKER);
    let parsed = parse_frame(
        &StreamSource::binance(MarketKind::Spot),
        &frame.text,
        frame.local,
    )
    .unwrap();
    match parsed {
        StreamMessage::BookTicker(q) => {
            assert_eq!(q.bid.price, Price::parse("25.3519").unwrap());
            assert_eq!(q.ask.qty, Quantity::parse("40.66").unwrap());
            assert_eq!(q.update_id, Some(400_900_217));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        *paths.lock().unwrap(),
        vec!["/stream?streams=btcusdt@bookTicker".to_string()]
    );
}

#[tokio::test]
async fn market_stream_gives_up_on_an_untrusted_wss_server_with_advice() {
    let p = pki();
    let (port, paths) = wss_server(&p, BOOK_TICKER).await;
    // Default: Mozilla roots only.
    let mut cfg = MarketStreamConfig::new(
        &format!("wss://localhost:{port}"),
        &["btcusdt@bookTicker"],
        3,
    );
    cfg.max_attempts = Some(2);
    cfg.backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(5), 3);
    let mut m = MarketStream::new(cfg);
    let e = tokio::time::timeout(T, m.next_event())
        .await
        .unwrap()
        .unwrap_err();
    match e {
        TransportError::GaveUp { attempts, last, .. } => {
            assert_eq!(attempts, 2);
            assert!(last.contains("not signed by a trusted root"), "{last}");
            assert!(last.contains("with_extra_roots_pem"), "{last}");
        }
        other => panic!("{other:?}"),
    }
    assert!(paths.lock().unwrap().is_empty());
}

#[tokio::test]
async fn futures_user_stream_over_https_and_wss() {
    let p = pki();
    let (rest_port, seen) = https_server(&p).await;
    let expired = r#"{"e":"listenKeyExpired","E":1576653824250,"listenKey":"k1"}"#;
    let (ws_port, paths) = wss_server(&p, expired).await;
    let tls = TlsConfig::only_roots_pem(p.ca_pem.as_bytes()).unwrap();
    let ws_base = format!("wss://localhost:{ws_port}");
    let endpoints = Endpoints::single_host(&format!("https://localhost:{rest_port}"), &ws_base);
    let creds = Credentials::hmac("test-key", "test-secret").unwrap();
    let rest = RestClient::new(&endpoints, Some(creds), T).with_tls(&tls);
    let mut user = FuturesUserStream::new(MarketKind::UsdM, &ws_base, 5)
        .unwrap()
        .with_tls(tls)
        .with_backoff(
            Backoff::new(Duration::from_millis(1), Duration::from_millis(5), 5),
            2,
        );
    let (_, m) = tokio::time::timeout(T, user.next_message(&rest))
        .await
        .unwrap()
        .unwrap();
    match m {
        UserDataMessage::ListenKeyExpired { listen_key, .. } => {
            assert_eq!(listen_key.as_deref(), Some("k1"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(user.connections(), 1);
    assert_eq!(
        *seen.requests.lock().unwrap(),
        vec!["POST /fapi/v1/listenKey HTTP/1.1".to_string()]
    );
    assert_eq!(*paths.lock().unwrap(), vec!["/private/ws/k1".to_string()]);

    // Without the test CA the stream gives up with advice (the key is not in
    // the message).
    let creds = Credentials::hmac("test-key", "test-secret").unwrap();
    let rest = RestClient::new(&endpoints, Some(creds), T)
        .with_tls(&TlsConfig::only_roots_pem(p.ca_pem.as_bytes()).unwrap());
    let mut user = FuturesUserStream::new(MarketKind::UsdM, &ws_base, 5)
        .unwrap()
        .with_backoff(
            Backoff::new(Duration::from_millis(1), Duration::from_millis(5), 5),
            2,
        );
    let e = tokio::time::timeout(T, user.next_message(&rest))
        .await
        .unwrap()
        .unwrap_err();
    match e {
        TransportError::GaveUp { last, .. } => {
            assert!(last.contains("not signed by a trusted root"), "{last}");
            assert!(!last.contains("k1"), "{last}");
        }
        other => panic!("{other:?}"),
    }
}
