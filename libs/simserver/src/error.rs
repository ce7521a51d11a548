//! The error answer of every endpoint: an HTTP status and Binance's
//! `{"code":…,"msg":"…"}` body (`shared/docs/binance-protocol.md` §10).

use veloz_sim::VenueError;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status} {code} {msg}")]
pub struct ApiError {
    /// HTTP status (400 for most, 401 for key errors, 429/418 for limits).
    pub status: u16,
    /// Binance error code.
    pub code: i64,
    /// Binance message.
    pub msg: String,
    /// `Retry-After` seconds, for 429 and 418.
    pub retry_after: Option<u64>,
    /// Extra `data` of the body (spot cancel-replace failures).
    pub data: Option<serde_json::Value>,
}

impl ApiError {
    /// An error.
    pub fn new(status: u16, code: i64, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            msg: msg.into(),
            retry_after: None,
            data: None,
        }
    }

    /// `-1102` for a missing mandatory parameter.
    pub fn missing(name: &str) -> Self {
        Self::new(
            400,
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    /// `-1102`-style error for a parameter that could not be read.
    pub fn malformed(name: &str) -> Self {
        Self::new(
            400,
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    /// `-1100`/`-1116`-style error for a bad enum value.
    pub fn invalid_value(name: &str, code: i64) -> Self {
        let msg = match code {
            -1115 => "Invalid timeInForce.".to_string(),
            -1116 => "Invalid orderType.".to_string(),
            -1117 => "Invalid side.".to_string(),
            _ => format!("Illegal characters found in parameter '{name}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{{1,36}}$'."),
        };
        Self::new(400, code, msg)
    }

    /// `-1121 Invalid symbol.`
    pub fn invalid_symbol() -> Self {
        Self::new(400, -1121, "Invalid symbol.")
    }

    /// `-2014 API-key format invalid.`
    pub fn bad_key_format() -> Self {
        Self::new(401, -2014, "API-key format invalid.")
    }

    /// `-2015` for an unknown key.
    pub fn unknown_key() -> Self {
        Self::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    }

    /// `-1022` for a signature that does not verify.
    pub fn bad_signature() -> Self {
        Self::new(400, -1022, "Signature for this request is not valid.")
    }

    /// `-1021` for a timestamp outside the receive window.
    pub fn timestamp_outside_window(ahead: bool) -> Self {
        let msg = if ahead {
            "Timestamp for this request was 1000ms ahead of the server's time."
        } else {
            "Timestamp for this request is outside of the recvWindow."
        };
        Self::new(400, -1021, msg)
    }

    /// `-1125` for an unknown listenKey.
    pub fn bad_listen_key() -> Self {
        Self::new(400, -1125, "This listenKey does not exist.")
    }

    /// The body.
    pub fn body(&self) -> String {
        match &self.data {
            None => serde_json::json!({"code": self.code, "msg": self.msg}).to_string(),
            Some(d) => {
                serde_json::json!({"code": self.code, "msg": self.msg, "data": d}).to_string()
            }
        }
    }
}

impl From<VenueError> for ApiError {
    fn from(e: VenueError) -> Self {
        let status = if e.code == -2015 || e.code == -2014 {
            401
        } else {
            400
        };
        Self::new(status, e.code, e.msg)
    }
}
