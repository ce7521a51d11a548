//! Binance REST requests, transport-independent.
//!
//! A builder ([`spot`], [`futures`]) turns typed parameters into a
//! [`RestRequest`]: product, method, path, ordered query and body parameters,
//! security type, and what it costs against the rate limits. [`RestRequest::sign`]
//! turns it into a [`SignedRequest`]: the exact query string and body bytes,
//! with `recvWindow`, `timestamp` and `signature` appended, and the
//! `X-MBX-APIKEY` header. An HTTP layer only has to send those bytes; the
//! answer is parsed with the types in [`responses`] and checked with
//! [`super::error::BinanceError::check_response`].
//!
//! Placement: GET and DELETE parameters go in the query string, POST and PUT
//! parameters in an `application/x-www-form-urlencoded` body (as the official
//! connectors and ccxt do). The signature covers `query + body` with nothing
//! between them, and is the last parameter of the part it is in.
//!
//! Modules:
//! * [`format`]: number formatting (plain decimal, on the tick/step grid, never an exponent);
//! * [`types`]: Binance's enums on the wire;
//! * [`spot`]: `/api/v3` builders; [`futures`]: `/fapi` (USD-M) and `/dapi` (COIN-M) builders;
//! * [`responses`]: typed answers; [`exchange_info`]: exchangeInfo into [`veloz_core::Instrument`]s.

pub mod exchange_info;
pub mod format;
pub mod futures;
pub mod responses;
pub mod spot;
pub mod types;

use std::fmt;

use veloz_core::{ClientOrderId, MarketKind, VenueOrderId};

use super::config::{Credentials, Endpoints, Secret};
use super::error::{BinanceError, BuildError};
use super::ratelimit::Cost;
use super::signing::{form_encode_into, percent_encode_into};

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

impl Method {
    /// `GET`, `POST`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }

    /// Whether parameters go in a form body (POST, PUT) rather than the query.
    pub const fn has_body(self) -> bool {
        matches!(self, Self::Post | Self::Put)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Binance's endpoint security types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// Public.
    None,
    /// API key only (futures market data).
    MarketData,
    /// API key only (listenKey endpoints).
    UserStream,
    /// API key, `timestamp` and `signature` (account reads).
    UserData,
    /// API key, `timestamp` and `signature` (orders).
    Trade,
}

impl Security {
    /// Whether the `X-MBX-APIKEY` header is needed.
    pub const fn needs_api_key(self) -> bool {
        !matches!(self, Self::None)
    }

    /// Whether `timestamp` and `signature` are needed.
    pub const fn needs_signature(self) -> bool {
        matches!(self, Self::UserData | Self::Trade)
    }
}

/// Which endpoint a request is for (tells the HTTP layer which response type
/// to parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Endpoint {
    Ping,
    ServerTime,
    ExchangeInfo,
    Depth,
    Klines,
    RecentTrades,
    NewOrder,
    TestOrder,
    CancelOrder,
    CancelAllOrders,
    CancelReplace,
    ModifyOrder,
    BatchNewOrders,
    BatchCancelOrders,
    BatchModifyOrders,
    QueryOrder,
    OpenOrders,
    AllOrders,
    AccountTrades,
    Account,
    Balance,
    PositionRisk,
    Leverage,
    MarginType,
    SetPositionMode,
    GetPositionMode,
    ListenKeyCreate,
    ListenKeyKeepalive,
    ListenKeyClose,
    CountdownCancelAll,
    NewAlgoOrder,
    CancelAlgoOrder,
    CancelAllAlgoOrders,
    QueryAlgoOrder,
    OpenAlgoOrders,
    AllAlgoOrders,
}

/// Which order an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderRef {
    /// Binance's `orderId`.
    Venue(VenueOrderId),
    /// Our client order id (`origClientOrderId`).
    Client(ClientOrderId),
}

/// Which conditional (algo) order an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlgoRef {
    /// Binance's `algoId`.
    Venue(u64),
    /// Our `clientAlgoId`.
    Client(ClientOrderId),
}

/// A request, ready to be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestRequest {
    /// Spot, USD-M or COIN-M (selects the base URL).
    pub product: MarketKind,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// HTTP method.
    pub method: Method,
    /// Path, e.g. `/api/v3/order`.
    pub path: &'static str,
    /// Query-string parameters, in order (not yet encoded).
    pub query: Vec<(&'static str, String)>,
    /// Body parameters, in order (not yet encoded).
    pub body: Vec<(&'static str, String)>,
    /// Security type.
    pub security: Security,
    /// Cost against the rate limits.
    pub cost: Cost,
}

impl RestRequest {
    /// An empty request.
    pub fn new(
        product: MarketKind,
        endpoint: Endpoint,
        method: Method,
        path: &'static str,
        security: Security,
        cost: Cost,
    ) -> Self {
        Self {
            product,
            endpoint,
            method,
            path,
            query: Vec::new(),
            body: Vec::new(),
            security,
            cost,
        }
    }

    /// Adds a parameter where this method puts them (query for GET/DELETE,
    /// body for POST/PUT).
    pub fn push(&mut self, name: &'static str, value: impl Into<String>) {
        if self.method.has_body() {
            self.body.push((name, value.into()));
        } else {
            self.query.push((name, value.into()));
        }
    }

    /// Adds a parameter if `value` is set.
    pub fn push_opt(&mut self, name: &'static str, value: Option<impl Into<String>>) {
        if let Some(v) = value {
            self.push(name, v);
        }
    }

    /// Every parameter, query first.
    pub fn params(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.query
            .iter()
            .chain(self.body.iter())
            .map(|(k, v)| (*k, v.as_str()))
    }

    /// The value of a parameter (query first).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Builds the exact bytes to send.
    ///
    /// Signed endpoints get `recvWindow` (if given) and `timestamp` appended,
    /// then `signature`, in the body for POST/PUT and in the query for
    /// GET/DELETE. Endpoints that need an API key fail without credentials.
    pub fn sign(
        &self,
        credentials: Option<&Credentials>,
        timestamp_ms: u64,
        recv_window_ms: Option<u32>,
    ) -> Result<SignedRequest, BinanceError> {
        let creds = match (self.security.needs_api_key(), credentials) {
            (true, None) => {
                return Err(BuildError::MissingCredentials { path: self.path }.into());
            }
            (true, Some(c)) => Some(c),
            (false, _) => None,
        };
        let mut query = String::with_capacity(32 * self.query.len() + 64);
        form_encode_into(&self.query, &mut query);
        let mut body = String::with_capacity(32 * self.body.len() + 64);
        form_encode_into(&self.body, &mut body);

        if let (true, Some(creds)) = (self.security.needs_signature(), creds) {
            use std::fmt::Write as _;
            let in_body = self.method.has_body();
            {
                let part = if in_body { &mut body } else { &mut query };
                if let Some(rw) = recv_window_ms {
                    if !part.is_empty() {
                        part.push('&');
                    }
                    let _ = write!(part, "recvWindow={rw}");
                }
                if !part.is_empty() {
                    part.push('&');
                }
                let _ = write!(part, "timestamp={timestamp_ms}");
            }
            // totalParams = query string + body, nothing in between.
            let signer = creds.signer();
            let mut sig = String::with_capacity(96);
            if query.is_empty() || body.is_empty() {
                let only = if body.is_empty() { &query } else { &body };
                signer.sign_into(only.as_bytes(), &mut sig)?;
            } else {
                let mut payload = String::with_capacity(query.len() + body.len());
                payload.push_str(&query);
                payload.push_str(&body);
                signer.sign_into(payload.as_bytes(), &mut sig)?;
            }
            let part = if in_body { &mut body } else { &mut query };
            part.push_str("&signature=");
            if signer.kind().needs_percent_encoding() {
                percent_encode_into(&sig, part);
            } else {
                part.push_str(&sig);
            }
        }
        Ok(SignedRequest {
            product: self.product,
            endpoint: self.endpoint,
            method: self.method,
            path: self.path,
            query,
            body,
            api_key: creds.map(|c| c.api_key().clone()),
            cost: self.cost,
        })
    }
}

/// The exact bytes of a request.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// Product (selects the base URL).
    pub product: MarketKind,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// HTTP method.
    pub method: Method,
    /// Path.
    pub path: &'static str,
    /// Encoded query string (no leading `?`), possibly empty.
    pub query: String,
    /// Encoded form body, possibly empty.
    pub body: String,
    /// Value of the `X-MBX-APIKEY` header, if needed.
    pub api_key: Option<Secret>,
    /// Cost against the rate limits.
    pub cost: Cost,
}

impl SignedRequest {
    /// `path?query` (or just `path`).
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.to_string()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The full URL on `endpoints`.
    pub fn url(&self, endpoints: &Endpoints) -> String {
        format!(
            "{}{}",
            endpoints.rest_base(self.product),
            self.path_and_query()
        )
    }

    /// Headers to send: `X-MBX-APIKEY` when needed, and the form content type
    /// when there is a body.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut h = Vec::with_capacity(2);
        if let Some(k) = &self.api_key {
            h.push(("X-MBX-APIKEY", k.expose()));
        }
        if !self.body.is_empty() {
            h.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        h
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("product", &self.product)
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body", &self.body)
            .field("api_key", &self.api_key)
            .field("cost", &self.cost)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::hmac(
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap()
    }

    fn order() -> RestRequest {
        let mut r = RestRequest::new(
            MarketKind::Spot,
            Endpoint::NewOrder,
            Method::Post,
            "/api/v3/order",
            Security::Trade,
            Cost {
                weight: 1,
                orders: 1,
            },
        );
        for (k, v) in [
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
        ] {
            r.push(k, v);
        }
        r
    }

    #[test]
    fn signs_the_documented_example_in_the_body() {
        let s = order()
            .sign(Some(&creds()), 1499827319559, Some(5000))
            .unwrap();
        assert_eq!(s.query, "");
        assert_eq!(
            s.body,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert_eq!(s.path_and_query(), "/api/v3/order");
        let headers = s.headers();
        assert_eq!(headers[0].0, "X-MBX-APIKEY");
        assert_eq!(headers[1].1, "application/x-www-form-urlencoded");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("vmPUZE6mv9"), "{dbg}");
    }

    #[test]
    fn get_requests_sign_the_query_and_public_ones_are_not_signed() {
        let mut r = order();
        r.method = Method::Delete;
        r.query = std::mem::take(&mut r.body);
        let s = r.sign(Some(&creds()), 1499827319559, Some(5000)).unwrap();
        assert_eq!(s.body, "");
        assert!(s.query.ends_with(
            "&recvWindow=5000&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        ));
        let mut p = RestRequest::new(
            MarketKind::UsdM,
            Endpoint::Depth,
            Method::Get,
            "/fapi/v1/depth",
            Security::None,
            Cost::weight(2),
        );
        p.push("symbol", "BTCUSDT");
        let s = p.sign(None, 1, Some(5000)).unwrap();
        assert_eq!(s.path_and_query(), "/fapi/v1/depth?symbol=BTCUSDT");
        assert!(s.headers().is_empty());
        assert_eq!(
            s.url(&Endpoints::production()),
            "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT"
        );
        // A signed endpoint without credentials is refused before anything is sent.
        assert!(matches!(
            order().sign(None, 1, None),
            Err(BinanceError::Build(BuildError::MissingCredentials { .. }))
        ));
    }
}
