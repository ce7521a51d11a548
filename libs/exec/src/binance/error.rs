//! Binance errors and their retry classes.
//!
//! This module owns the mapping from what comes back (an HTTP status, the
//! `Retry-After` header, a `{"code":…,"msg":…}` body, or a transport failure)
//! to a typed [`BinanceError`] with a [`RetryClass`]:
//!
//! | class | when | what the caller does |
//! |---|---|---|
//! | [`RetryClass::Rejected`] | 4xx with a code (bad parameter, filter failure, insufficient balance, unknown order, ...) | definite: the request did nothing; fix it, do not resend unchanged |
//! | [`RetryClass::RetryAfter`] | 429 (`Retry-After`), 418 (IP ban), 503 "Service Unavailable", `-1008` throttle, connection never made | definite: nothing was executed; wait, then resend |
//! | [`RetryClass::ClockSkew`] | `-1021` | resynchronise the server time ([`super::signing::TimeSync`]), resend with a fresh timestamp |
//! | [`RetryClass::Unknown`] | 5xx, 408, `-1006`, `-1007`, 503 "Unknown error", timeouts, dropped connections, an unreadable 2xx body | the request **may have been executed**: never treat it as a failure; reconcile (query the order, watch the user-data stream) before doing anything else |
//!
//! It also owns [`BuildError`], the typed refusal of a request builder (a
//! missing parameter, a price off the tick grid, ...), raised before anything
//! is sent. No message here ever contains a key or a secret.

use std::time::Duration;

use serde::Deserialize;
use veloz_core::{FixedError, MarketKind, Price, Quantity};

use super::signing::SigningError;

/// What the caller may do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// Definitely not executed; resending the same request gives the same answer.
    Rejected,
    /// Definitely not executed; resend after `after` (if known) or a backoff.
    RetryAfter {
        /// How long Binance asked to wait (`Retry-After`).
        after: Option<Duration>,
        /// HTTP 418: the IP is banned until then (2 minutes to 3 days).
        banned: bool,
    },
    /// `-1021`: the timestamp was outside `recvWindow`; resynchronise and resend.
    ClockSkew,
    /// The outcome is unknown: the request may have been executed.
    Unknown,
}

impl RetryClass {
    /// Whether the request is known not to have been executed.
    pub const fn is_definitely_not_executed(self) -> bool {
        !matches!(self, Self::Unknown)
    }
}

/// Why the outcome of a request is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnknownCause {
    /// HTTP 5xx (other than the definite 503 "Service Unavailable").
    ServerError,
    /// HTTP 408: Binance timed out waiting for its backend.
    GatewayTimeout,
    /// `-1006`: unexpected response from the backend.
    UnexpectedResponse,
    /// `-1007`: backend timeout ("Send status unknown; execution status unknown").
    BackendTimeout,
    /// The request was sent but no answer came in time.
    Timeout,
    /// The connection dropped after the request was (possibly) sent.
    ConnectionDropped,
    /// A 2xx answer whose body could not be read.
    UnreadableSuccess,
}

/// A transport-level failure reported by the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportFailure {
    /// The connection could not be made: nothing was sent.
    ConnectFailed,
    /// The request may have been sent; no answer came in time.
    Timeout,
    /// The connection dropped while the request was in flight.
    ConnectionDropped,
}

/// A Binance error body, `{"code":-1121,"msg":"Invalid symbol."}`.
///
/// `code` is a number on most endpoints and a string on a few (`"200"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiErrorBody {
    /// Binance error code (negative for errors; `200` on some success bodies).
    #[serde(deserialize_with = "de_lenient_i64")]
    pub code: i64,
    /// Binance's message.
    #[serde(default)]
    pub msg: String,
}

impl ApiErrorBody {
    /// Parses a body if it is a `{code,msg}` object.
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(body).ok()
    }

    /// Whether this is an error (negative code) rather than a
    /// `{"code":200,"msg":"success"}` acknowledgement.
    pub fn is_error(&self) -> bool {
        self.code < 0
    }
}

pub(crate) fn de_lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr<'a> {
        Num(i64),
        Str(&'a str),
        Owned(String),
    }
    match NumOrStr::deserialize(d)? {
        NumOrStr::Num(n) => Ok(n),
        NumOrStr::Str(s) => s.trim().parse().map_err(serde::de::Error::custom),
        NumOrStr::Owned(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// Everything that can go wrong with a Binance request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinanceError {
    /// A definite rejection.
    #[error("Binance rejected the request (HTTP {status}, code {code}: {msg}); {hint}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Binance code (0 when the body had none).
        code: i64,
        /// Binance's message (or the start of the body).
        msg: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// Over a rate limit (429) or banned (418).
    #[error("Binance rate limit hit (HTTP {status}, code {code}: {msg}); wait {} before sending again{}", fmt_wait(*retry_after), if *banned { " (the IP is banned; keep below the limits, bans grow from 2 minutes to 3 days)" } else { "" })]
    RateLimited {
        /// HTTP status (429 or 418).
        status: u16,
        /// Binance code (usually -1003).
        code: i64,
        /// Binance's message.
        msg: String,
        /// `Retry-After`, if sent.
        retry_after: Option<Duration>,
        /// Whether this is an IP ban (418).
        banned: bool,
    },
    /// Definitely not executed because Binance is overloaded (503 "Service
    /// Unavailable", `-1008`).
    #[error("Binance is busy (HTTP {status}, code {code}: {msg}); nothing was executed, resend with exponential backoff (200, 400, 800 ms ...)")]
    Busy {
        /// HTTP status.
        status: u16,
        /// Binance code (0 if none).
        code: i64,
        /// Binance's message.
        msg: String,
    },
    /// `-1021`: the request timestamp was outside `recvWindow`.
    #[error("Binance refused the timestamp (HTTP {status}, code {code}: {msg}); resynchronise the server-time offset and resend with a fresh timestamp")]
    ClockSkew {
        /// HTTP status.
        status: u16,
        /// Binance code (-1021).
        code: i64,
        /// Binance's message.
        msg: String,
    },
    /// The outcome is unknown: the request may have been executed.
    #[error("outcome UNKNOWN ({cause:?}{}{}: {msg}); the request may have been executed: do not treat it as failed, query its status or wait for the user-data stream before resending", status.map(|s| format!(", HTTP {s}")).unwrap_or_default(), code.map(|c| format!(", code {c}")).unwrap_or_default())]
    Unknown {
        /// Why.
        cause: UnknownCause,
        /// HTTP status, if an answer came.
        status: Option<u16>,
        /// Binance code, if any.
        code: Option<i64>,
        /// Message or detail.
        msg: String,
    },
    /// The connection could not be made; nothing was sent.
    #[error("could not connect to Binance ({detail}); nothing was sent, retry with backoff")]
    ConnectFailed {
        /// Transport detail.
        detail: String,
    },
    /// A request could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A request could not be signed.
    #[error(transparent)]
    Signing(#[from] SigningError),
}

fn fmt_wait(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{} s (Retry-After)", d.as_secs()),
        None => "with backoff (no Retry-After header)".into(),
    }
}

/// A short hint for a definite rejection code.
fn hint(code: i64) -> &'static str {
    match code {
        -1022 => "the signature is wrong: check the secret key and sign the exact bytes sent",
        -2014 | -2015 => "check the API key, its IP whitelist and its permissions",
        -1100 | -1101 | -1102 | -1104 | -1105 | -1106 | -1111 | -1115 | -1116 | -1117 => {
            "a parameter is missing, malformed or not allowed here: fix the request"
        }
        -1121 => "unknown symbol: check exchangeInfo",
        -1125 => "the listenKey expired: create a new one",
        -1013 | -4005..=-4003 | -4013 | -4014 | -4016 | -4023 | -4024 | -4131 | -4164 => {
            "a filter failed: snap price and quantity to tick/step and check min/max/notional"
        }
        -2010 => "the new order was refused (balance, post-only would take, duplicate id, market closed...): see msg",
        -2011 | -2013 => "the order is not open (already filled, cancelled or unknown)",
        -2018 | -2019 => "not enough balance or margin",
        -5022 => "post-only (GTX) order would have taken: reprice it",
        -4120 => "conditional orders go to the algo-order endpoint",
        _ => "fix the request before resending",
    }
}

fn header<'a>(headers: &'a [(&str, &str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn body_text(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl BinanceError {
    /// Maps an HTTP answer to `Ok(())` (success) or a typed error.
    ///
    /// `headers` are `(name, value)` pairs, names compared case-insensitively
    /// (only `Retry-After` is read here; rate-limit headers go to
    /// [`super::ratelimit::RateLimiter::observe_headers`]).
    pub fn check_response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<(), Self> {
        let api = ApiErrorBody::parse(body);
        if (200..300).contains(&status) {
            return match api {
                Some(b) if b.is_error() => Err(Self::from_api(status, b, None)),
                _ => Ok(()),
            };
        }
        let retry_after = header(headers, "retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = api.unwrap_or_else(|| ApiErrorBody {
            code: 0,
            msg: body_text(body),
        });
        Err(Self::from_api(status, body, retry_after))
    }

    /// Maps one `{code,msg}` (a whole body or one item of a batch answer).
    pub fn from_api(status: u16, body: ApiErrorBody, retry_after: Option<Duration>) -> Self {
        let ApiErrorBody { code, msg } = body;
        if status == 429 || status == 418 {
            return Self::RateLimited {
                status,
                code,
                msg,
                retry_after,
                banned: status == 418,
            };
        }
        match code {
            -1021 => return Self::ClockSkew { status, code, msg },
            -1006 => {
                return Self::Unknown {
                    cause: UnknownCause::UnexpectedResponse,
                    status: Some(status),
                    code: Some(code),
                    msg,
                }
            }
            -1007 => {
                return Self::Unknown {
                    cause: UnknownCause::BackendTimeout,
                    status: Some(status),
                    code: Some(code),
                    msg,
                }
            }
            -1008 => return Self::Busy { status, code, msg },
            -1003 | -1015 => {
                return Self::RateLimited {
                    status,
                    code,
                    msg,
                    retry_after,
                    banned: false,
                }
            }
            _ => {}
        }
        if status == 503 {
            // Futures docs: 503 has three meanings. "Service Unavailable." is a
            // definite failure; "Unknown error..." (and anything else) is unknown.
            if msg.to_ascii_lowercase().contains("service unavailable") {
                return Self::Busy { status, code, msg };
            }
            return Self::Unknown {
                cause: UnknownCause::ServerError,
                status: Some(status),
                code: (code != 0).then_some(code),
                msg,
            };
        }
        if status >= 500 {
            return Self::Unknown {
                cause: UnknownCause::ServerError,
                status: Some(status),
                code: (code != 0).then_some(code),
                msg,
            };
        }
        if status == 408 {
            return Self::Unknown {
                cause: UnknownCause::GatewayTimeout,
                status: Some(status),
                code: (code != 0).then_some(code),
                msg,
            };
        }
        Self::Rejected {
            status,
            code,
            msg,
            hint: hint(code),
        }
    }

    /// A transport failure reported by the HTTP layer.
    pub fn transport(failure: TransportFailure, detail: impl Into<String>) -> Self {
        let msg = detail.into();
        match failure {
            TransportFailure::ConnectFailed => Self::ConnectFailed { detail: msg },
            TransportFailure::Timeout => Self::Unknown {
                cause: UnknownCause::Timeout,
                status: None,
                code: None,
                msg,
            },
            TransportFailure::ConnectionDropped => Self::Unknown {
                cause: UnknownCause::ConnectionDropped,
                status: None,
                code: None,
                msg,
            },
        }
    }

    /// A 2xx answer whose body could not be parsed: the request succeeded (or
    /// may have), so the outcome is unknown, not a failure.
    pub fn unreadable_success(what: &str, reason: impl std::fmt::Display) -> Self {
        Self::Unknown {
            cause: UnknownCause::UnreadableSuccess,
            status: None,
            code: None,
            msg: format!("could not read the {what} answer: {reason}"),
        }
    }

    /// The retry class.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Rejected { .. } | Self::Build(_) | Self::Signing(_) => RetryClass::Rejected,
            Self::RateLimited {
                retry_after,
                banned,
                ..
            } => RetryClass::RetryAfter {
                after: *retry_after,
                banned: *banned,
            },
            Self::Busy { .. } | Self::ConnectFailed { .. } => RetryClass::RetryAfter {
                after: None,
                banned: false,
            },
            Self::ClockSkew { .. } => RetryClass::ClockSkew,
            Self::Unknown { .. } => RetryClass::Unknown,
        }
    }

    /// Whether the request may have been executed (never treat it as failed).
    pub fn is_unknown_outcome(&self) -> bool {
        self.retry_class() == RetryClass::Unknown
    }

    /// Whether the request is known to have failed (nothing executed).
    pub fn is_definite_failure(&self) -> bool {
        !self.is_unknown_outcome()
    }

    /// The Binance code, if there is one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Rejected { code, .. }
            | Self::RateLimited { code, .. }
            | Self::Busy { code, .. }
            | Self::ClockSkew { code, .. } => Some(*code).filter(|c| *c != 0),
            Self::Unknown { code, .. } => *code,
            _ => None,
        }
    }
}

/// Why a request builder refused to build a request. Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A parameter the order type needs is missing.
    #[error("a {order_type} order needs {param}")]
    Missing {
        /// The parameter.
        param: &'static str,
        /// The order type or endpoint.
        order_type: &'static str,
    },
    /// A parameter is not allowed in this combination.
    #[error("{param} is not allowed here: {reason}")]
    NotAllowed {
        /// The parameter.
        param: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A price is not on the instrument's tick grid.
    #[error("{param} {value} is not on the tick grid of {symbol}; nearest valid values are {below} and {above} (or build with NumberPolicy::Snap)")]
    OffTick {
        /// Which price parameter.
        param: &'static str,
        /// Symbol.
        symbol: String,
        /// The value.
        value: Price,
        /// Nearest valid below.
        below: Price,
        /// Nearest valid above.
        above: Price,
    },
    /// A quantity is not on the step grid.
    #[error("{param} {value} is not a multiple of the step size of {symbol}; round it down to {below} (or build with NumberPolicy::Snap)")]
    OffStep {
        /// Which quantity parameter.
        param: &'static str,
        /// Symbol.
        symbol: String,
        /// The value.
        value: Quantity,
        /// Nearest valid below.
        below: Quantity,
    },
    /// A number must be positive.
    #[error("{param} must be positive, got {value}")]
    NotPositive {
        /// The parameter.
        param: &'static str,
        /// The value.
        value: String,
    },
    /// A number is out of range.
    #[error("{param} {value} is out of range: {range}")]
    OutOfRange {
        /// The parameter.
        param: &'static str,
        /// The value.
        value: String,
        /// Allowed range.
        range: &'static str,
    },
    /// Fixed-point arithmetic failed.
    #[error("number error: {0}")]
    Number(#[from] FixedError),
    /// The product does not have this feature.
    #[error("{what} is not available on {product} (see the Binance docs for this product)")]
    Unsupported {
        /// What.
        what: &'static str,
        /// The product.
        product: MarketKind,
    },
    /// The instrument belongs to another product.
    #[error("instrument {instrument} is not a {expected} instrument")]
    WrongProduct {
        /// The instrument id.
        instrument: String,
        /// The product the builder serves.
        expected: MarketKind,
    },
    /// Too many or too few items.
    #[error("{what}: {got} given, allowed {min}..={max}")]
    Count {
        /// What.
        what: &'static str,
        /// How many.
        got: usize,
        /// Minimum.
        min: usize,
        /// Maximum.
        max: usize,
    },
    /// A signed request was built without credentials.
    #[error("{path} is a signed endpoint: configure credentials (API key and secret) first")]
    MissingCredentials {
        /// The request path.
        path: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, headers: &[(&str, &str)], body: &str) -> Result<(), BinanceError> {
        BinanceError::check_response(status, headers, body.as_bytes())
    }

    #[test]
    fn success_bodies() {
        assert!(classify(200, &[], r#"{"orderId":1}"#).is_ok());
        assert!(classify(200, &[], r#"{"code":200,"msg":"success"}"#).is_ok());
        assert!(classify(200, &[], r#"{"algoId":1,"code":"200","msg":"success"}"#).is_ok());
        assert!(classify(200, &[], "[]").is_ok());
    }

    #[test]
    fn retry_classes() {
        let e = classify(400, &[], r#"{"code":-1121,"msg":"Invalid symbol."}"#).unwrap_err();
        assert_eq!(e.retry_class(), RetryClass::Rejected);
        assert_eq!(e.code(), Some(-1121));
        assert!(e.is_definite_failure());

        let e = classify(
            429,
            &[("Retry-After", "17")],
            r#"{"code":-1003,"msg":"Too many requests"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.retry_class(),
            RetryClass::RetryAfter {
                after: Some(Duration::from_secs(17)),
                banned: false
            }
        );
        let e = classify(
            418,
            &[("retry-after", "120")],
            r#"{"code":-1003,"msg":"banned"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.retry_class(),
            RetryClass::RetryAfter {
                after: Some(Duration::from_secs(120)),
                banned: true
            }
        );

        let e = classify(
            400,
            &[],
            r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#,
        )
        .unwrap_err();
        assert_eq!(e.retry_class(), RetryClass::ClockSkew);

        for (status, body, cause) in [
            (500, "<html>oops</html>", UnknownCause::ServerError),
            (502, "", UnknownCause::ServerError),
            (504, "", UnknownCause::ServerError),
            (408, "", UnknownCause::GatewayTimeout),
            (
                400,
                r#"{"code":-1006,"msg":"An unexpected response was received from the message bus. Execution status unknown."}"#,
                UnknownCause::UnexpectedResponse,
            ),
            (
                408,
                r#"{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}"#,
                UnknownCause::BackendTimeout,
            ),
            (
                503,
                r#"{"code":-1000,"msg":"Unknown error, please check your request or try again later."}"#,
                UnknownCause::ServerError,
            ),
        ] {
            let e = classify(status, &[], body).unwrap_err();
            assert_eq!(e.retry_class(), RetryClass::Unknown, "{status} {body}");
            assert!(e.is_unknown_outcome());
            assert!(!e.is_definite_failure());
            assert!(
                matches!(e, BinanceError::Unknown { cause: c, .. } if c == cause),
                "{e:?}"
            );
            assert!(e.to_string().contains("may have been executed"), "{e}");
        }

        let e = classify(503, &[], r#"{"code":-1000,"msg":"Service Unavailable."}"#).unwrap_err();
        assert!(matches!(e, BinanceError::Busy { .. }));
        assert!(e.is_definite_failure());
        let e = classify(
            503,
            &[],
            r#"{"code":-1008,"msg":"Request throttled by system-level protection."}"#,
        )
        .unwrap_err();
        assert!(matches!(e, BinanceError::Busy { .. }));

        for f in [
            TransportFailure::Timeout,
            TransportFailure::ConnectionDropped,
        ] {
            assert_eq!(
                BinanceError::transport(f, "read timed out").retry_class(),
                RetryClass::Unknown
            );
        }
        assert!(
            BinanceError::transport(TransportFailure::ConnectFailed, "refused")
                .is_definite_failure()
        );
        assert!(BinanceError::unreadable_success("order", "eof").is_unknown_outcome());
    }

    #[test]
    fn unparsable_4xx_keeps_a_short_message() {
        let long = "x".repeat(1000);
        let e = classify(403, &[], &long).unwrap_err();
        match e {
            BinanceError::Rejected { code, msg, .. } => {
                assert_eq!(code, 0);
                assert!(msg.chars().count() <= 201);
            }
            other => panic!("{other:?}"),
        }
    }
}
