//! Binance connection configuration: which environment (production, testnet,
//! demo, or any base URLs such as a local simulator), the credentials, and the
//! `recvWindow`.
//!
//! This module owns the *configuration values* and the [`Secret`] wrapper that
//! keeps key material out of logs: `Debug` and `Display` of a [`Secret`], of
//! [`Credentials`] and of [`BinanceConfig`] print `***`, never the secret. The
//! keys themselves are parsed into a [`Signer`] once, when credentials are built,
//! so a malformed PEM fails at start-up rather than on the first order.
//!
//! Base URLs are those listed in `shared/docs/binance-protocol.md` §1.

use std::fmt;

use veloz_core::MarketKind;

use super::signing::{Signer, SigningError};

/// A string that must never be printed: an HMAC secret, a private key PEM, an
/// API key. `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Only signing and the `X-MBX-APIKEY` header should read it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// Which Binance deployment to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// Real money: `api.binance.com`, `fapi.binance.com`, `dapi.binance.com`.
    Production,
    /// Spot testnet (`testnet.binance.vision`) and futures testnet
    /// (`testnet.binancefuture.com`).
    Testnet,
    /// Demo trading (`demo-api.binance.com`, `demo-fapi.binance.com`,
    /// `demo-dapi.binance.com`).
    Demo,
    /// Caller-supplied base URLs (a local simulator, a proxy, ...).
    Custom,
}

/// The base URLs of one environment, per product.
///
/// REST bases have no trailing slash; request paths (`/api/v3/order`,
/// `/fapi/v1/order`, `/dapi/v1/order`) are appended as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Spot REST base, e.g. `https://api.binance.com`.
    pub spot_rest: String,
    /// USD-M REST base, e.g. `https://fapi.binance.com`.
    pub usdm_rest: String,
    /// COIN-M REST base, e.g. `https://dapi.binance.com`.
    pub coinm_rest: String,
    /// Spot market-stream base, e.g. `wss://stream.binance.com:9443`.
    pub spot_ws: String,
    /// USD-M market-stream base, e.g. `wss://fstream.binance.com`.
    pub usdm_ws: String,
    /// COIN-M market-stream base, e.g. `wss://dstream.binance.com`.
    pub coinm_ws: String,
    /// Spot WebSocket API URL, e.g. `wss://ws-api.binance.com:443/ws-api/v3`.
    pub spot_ws_api: String,
    /// USD-M WebSocket API URL.
    pub usdm_ws_api: String,
    /// COIN-M WebSocket API URL.
    pub coinm_ws_api: String,
}

impl Endpoints {
    /// Production.
    pub fn production() -> Self {
        Self {
            spot_rest: "https://api.binance.com".into(),
            usdm_rest: "https://fapi.binance.com".into(),
            coinm_rest: "https://dapi.binance.com".into(),
            spot_ws: "wss://stream.binance.com:9443".into(),
            usdm_ws: "wss://fstream.binance.com".into(),
            coinm_ws: "wss://dstream.binance.com".into(),
            spot_ws_api: "wss://ws-api.binance.com:443/ws-api/v3".into(),
            usdm_ws_api: "wss://ws-fapi.binance.com/ws-fapi/v1".into(),
            coinm_ws_api: "wss://ws-dapi.binance.com/ws-dapi/v1".into(),
        }
    }

    /// Spot testnet and the futures testnet.
    pub fn testnet() -> Self {
        Self {
            spot_rest: "https://testnet.binance.vision".into(),
            usdm_rest: "https://testnet.binancefuture.com".into(),
            coinm_rest: "https://testnet.binancefuture.com".into(),
            spot_ws: "wss://stream.testnet.binance.vision".into(),
            usdm_ws: "wss://fstream.binancefuture.com".into(),
            coinm_ws: "wss://dstream.binancefuture.com".into(),
            spot_ws_api: "wss://ws-api.testnet.binance.vision/ws-api/v3".into(),
            usdm_ws_api: "wss://testnet.binancefuture.com/ws-fapi/v1".into(),
            coinm_ws_api: "wss://testnet.binancefuture.com/ws-dapi/v1".into(),
        }
    }

    /// Demo trading. The futures demo shares the futures testnet's streams.
    pub fn demo() -> Self {
        Self {
            spot_rest: "https://demo-api.binance.com".into(),
            usdm_rest: "https://demo-fapi.binance.com".into(),
            coinm_rest: "https://demo-dapi.binance.com".into(),
            spot_ws: "wss://demo-stream.binance.com:9443".into(),
            usdm_ws: "wss://fstream.binancefuture.com".into(),
            coinm_ws: "wss://dstream.binancefuture.com".into(),
            spot_ws_api: "wss://demo-ws-api.binance.com/ws-api/v3".into(),
            usdm_ws_api: "wss://testnet.binancefuture.com/ws-fapi/v1".into(),
            coinm_ws_api: "wss://testnet.binancefuture.com/ws-dapi/v1".into(),
        }
    }

    /// One server for everything (a local simulator): every REST base is
    /// `http_base` and every WebSocket base is `ws_base`; the paths (`/api`,
    /// `/fapi`, `/dapi`, `/ws-api/v3`, ...) tell the products apart.
    pub fn single_host(http_base: &str, ws_base: &str) -> Self {
        let http = http_base.trim_end_matches('/').to_string();
        let ws = ws_base.trim_end_matches('/').to_string();
        Self {
            spot_rest: http.clone(),
            usdm_rest: http.clone(),
            coinm_rest: http,
            spot_ws: ws.clone(),
            usdm_ws: ws.clone(),
            coinm_ws: ws.clone(),
            spot_ws_api: format!("{ws}/ws-api/v3"),
            usdm_ws_api: format!("{ws}/ws-fapi/v1"),
            coinm_ws_api: format!("{ws}/ws-dapi/v1"),
        }
    }

    /// The endpoints of a named environment (`Custom` has none: build them
    /// with [`Endpoints::single_host`] or field by field).
    pub fn for_environment(env: Environment) -> Option<Self> {
        match env {
            Environment::Production => Some(Self::production()),
            Environment::Testnet => Some(Self::testnet()),
            Environment::Demo => Some(Self::demo()),
            Environment::Custom => None,
        }
    }

    /// The REST base of a product.
    pub fn rest_base(&self, kind: MarketKind) -> &str {
        match kind {
            MarketKind::Spot => &self.spot_rest,
            MarketKind::UsdM => &self.usdm_rest,
            MarketKind::CoinM => &self.coinm_rest,
        }
    }

    /// The market-stream base of a product.
    pub fn ws_base(&self, kind: MarketKind) -> &str {
        match kind {
            MarketKind::Spot => &self.spot_ws,
            MarketKind::UsdM => &self.usdm_ws,
            MarketKind::CoinM => &self.coinm_ws,
        }
    }

    /// The WebSocket API URL of a product.
    pub fn ws_api(&self, kind: MarketKind) -> &str {
        match kind {
            MarketKind::Spot => &self.spot_ws_api,
            MarketKind::UsdM => &self.usdm_ws_api,
            MarketKind::CoinM => &self.coinm_ws_api,
        }
    }
}

/// An API key and the private key that signs its requests.
///
/// Build with [`Credentials::hmac`], [`Credentials::ed25519_pem`] or
/// [`Credentials::rsa_pem`]; the private key is parsed immediately. `Debug`
/// shows the key type only.
#[derive(Clone)]
pub struct Credentials {
    api_key: Secret,
    signer: Signer,
}

impl Credentials {
    /// An API key with an HMAC-SHA256 secret.
    pub fn hmac(
        api_key: impl Into<Secret>,
        secret: impl Into<Secret>,
    ) -> Result<Self, SigningError> {
        let api_key = Self::check_api_key(api_key.into())?;
        let secret = secret.into();
        if secret.is_empty() {
            return Err(SigningError::EmptySecret);
        }
        Ok(Self {
            api_key,
            signer: Signer::hmac(secret.expose().as_bytes())?,
        })
    }

    /// An API key with an Ed25519 private key in PKCS#8 PEM
    /// (`-----BEGIN PRIVATE KEY-----`).
    pub fn ed25519_pem(
        api_key: impl Into<Secret>,
        private_key_pem: impl Into<Secret>,
    ) -> Result<Self, SigningError> {
        let api_key = Self::check_api_key(api_key.into())?;
        let pem = private_key_pem.into();
        Ok(Self {
            api_key,
            signer: Signer::ed25519_pem(pem.expose())?,
        })
    }

    /// An API key with an RSA private key in PEM (PKCS#8 `BEGIN PRIVATE KEY`
    /// or PKCS#1 `BEGIN RSA PRIVATE KEY`).
    pub fn rsa_pem(
        api_key: impl Into<Secret>,
        private_key_pem: impl Into<Secret>,
    ) -> Result<Self, SigningError> {
        let api_key = Self::check_api_key(api_key.into())?;
        let pem = private_key_pem.into();
        Ok(Self {
            api_key,
            signer: Signer::rsa_pem(pem.expose())?,
        })
    }

    /// An API key with an already-built signer.
    pub fn with_signer(api_key: impl Into<Secret>, signer: Signer) -> Result<Self, SigningError> {
        Ok(Self {
            api_key: Self::check_api_key(api_key.into())?,
            signer,
        })
    }

    fn check_api_key(key: Secret) -> Result<Secret, SigningError> {
        if key.is_empty() {
            return Err(SigningError::EmptyApiKey);
        }
        // The key travels in an HTTP header: refuse anything that could break it.
        if !key.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SigningError::BadApiKey);
        }
        Ok(key)
    }

    /// The API key (sent as `X-MBX-APIKEY`).
    pub fn api_key(&self) -> &Secret {
        &self.api_key
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .field("signer", &self.signer)
            .finish()
    }
}

/// Default `recvWindow` in milliseconds (Binance's own default).
pub const DEFAULT_RECV_WINDOW_MS: u32 = 5_000;
/// Largest `recvWindow` Binance accepts on spot (ms).
pub const MAX_RECV_WINDOW_MS: u32 = 60_000;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `recvWindow` out of range.
    #[error("recvWindow {0} ms is out of range: use 1..=60000 ms (Binance's default is 5000)")]
    RecvWindow(u32),
    /// A base URL is not http(s)/ws(s).
    #[error("base URL {0:?} must start with http://, https://, ws:// or wss://")]
    BadUrl(String),
    /// A `Custom` environment needs endpoints.
    #[error("a Custom environment needs explicit endpoints: use BinanceConfig::custom(Endpoints::single_host(..))")]
    MissingEndpoints,
}

/// Everything needed to talk to Binance: where, as whom, and with which
/// timing tolerance.
#[derive(Clone)]
pub struct BinanceConfig {
    environment: Environment,
    endpoints: Endpoints,
    credentials: Option<Credentials>,
    recv_window_ms: u32,
}

impl BinanceConfig {
    /// A named environment (production, testnet, demo) with no credentials
    /// (public endpoints only) and the default `recvWindow`.
    pub fn new(environment: Environment) -> Result<Self, ConfigError> {
        let endpoints =
            Endpoints::for_environment(environment).ok_or(ConfigError::MissingEndpoints)?;
        Ok(Self {
            environment,
            endpoints,
            credentials: None,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        })
    }

    /// Custom base URLs (a simulator on loopback, a proxy).
    pub fn custom(endpoints: Endpoints) -> Result<Self, ConfigError> {
        for url in [
            &endpoints.spot_rest,
            &endpoints.usdm_rest,
            &endpoints.coinm_rest,
            &endpoints.spot_ws,
            &endpoints.usdm_ws,
            &endpoints.coinm_ws,
            &endpoints.spot_ws_api,
            &endpoints.usdm_ws_api,
            &endpoints.coinm_ws_api,
        ] {
            if !["http://", "https://", "ws://", "wss://"]
                .iter()
                .any(|p| url.starts_with(p))
            {
                return Err(ConfigError::BadUrl(url.clone()));
            }
        }
        Ok(Self {
            environment: Environment::Custom,
            endpoints,
            credentials: None,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        })
    }

    /// Adds credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Sets `recvWindow` (1..=60000 ms).
    pub fn with_recv_window_ms(mut self, ms: u32) -> Result<Self, ConfigError> {
        if ms == 0 || ms > MAX_RECV_WINDOW_MS {
            return Err(ConfigError::RecvWindow(ms));
        }
        self.recv_window_ms = ms;
        Ok(self)
    }

    /// The environment.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The base URLs.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// `recvWindow` in milliseconds.
    pub fn recv_window_ms(&self) -> u32 {
        self.recv_window_ms
    }
}

impl fmt::Debug for BinanceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceConfig")
            .field("environment", &self.environment)
            .field("endpoints", &self.endpoints)
            .field("credentials", &self.credentials)
            .field("recv_window_ms", &self.recv_window_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::hmac("my-api-key-123", "super-secret-hmac-456").unwrap();
        let cfg = BinanceConfig::new(Environment::Testnet)
            .unwrap()
            .with_credentials(creds);
        for text in [format!("{cfg:?}"), format!("{cfg:#?}")] {
            assert!(!text.contains("my-api-key-123"), "{text}");
            assert!(!text.contains("super-secret-hmac-456"), "{text}");
            assert!(text.contains("***"), "{text}");
            assert!(text.contains("testnet.binancefuture.com"), "{text}");
        }
        assert_eq!(Secret::new("x").to_string(), "***");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Credentials::hmac("", "s").is_err());
        assert!(Credentials::hmac("k", "").is_err());
        assert!(Credentials::hmac("k\nX-Evil: 1", "s").is_err());
        let cfg = BinanceConfig::new(Environment::Production).unwrap();
        assert_eq!(cfg.recv_window_ms(), 5000);
        assert!(cfg.clone().with_recv_window_ms(60_001).is_err());
        assert_eq!(
            cfg.with_recv_window_ms(10_000).unwrap().recv_window_ms(),
            10_000
        );
        assert!(BinanceConfig::new(Environment::Custom).is_err());
        let local = Endpoints::single_host("http://127.0.0.1:8080/", "ws://127.0.0.1:8080");
        assert_eq!(local.rest_base(MarketKind::CoinM), "http://127.0.0.1:8080");
        assert_eq!(
            local.ws_api(MarketKind::UsdM),
            "ws://127.0.0.1:8080/ws-fapi/v1"
        );
        assert!(BinanceConfig::custom(local.clone()).is_ok());
        let mut bad = local;
        bad.spot_rest = "127.0.0.1:8080".into();
        assert!(matches!(
            BinanceConfig::custom(bad),
            Err(ConfigError::BadUrl(_))
        ));
    }
}
