//! Request parameters the way Binance reads them: the query string and an
//! `application/x-www-form-urlencoded` body, decoded; on a name present in
//! both, the query string wins.

use crate::error::ApiError;

/// Decoded request parameters, in arrival order (query first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one form component (`+` is a space). Returns `None` on
/// malformed escapes or bytes that are not UTF-8.
pub fn decode_component(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex_val(*b.get(i + 1)?)?;
                let lo = hex_val(*b.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Params {
    /// Parses the query string and the body.
    pub fn parse(query: &str, body: &str) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in [query, body] {
            for kv in part.split('&').filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                let (Some(k), Some(v)) = (decode_component(k), decode_component(v)) else {
                    return Err(ApiError::new(
                        400,
                        -1100,
                        "Illegal characters found in a parameter.",
                    ));
                };
                // Query first: a later duplicate from the body is ignored.
                if !pairs.iter().any(|(n, _)| *n == k) {
                    pairs.push((k, v));
                }
            }
        }
        Ok(Self { pairs })
    }

    /// From already decoded pairs (WebSocket API `params`).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// These parameters with `name` set to `value` (replacing it if present).
    pub fn with(&self, name: &str, value: String) -> Self {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect();
        pairs.push((name.to_string(), value));
        Self { pairs }
    }

    /// A parameter's value, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A mandatory parameter (`-1102` when missing).
    pub fn req(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing(name))
    }

    /// An optional parameter parsed with `f` (`-1102`-style malformed error
    /// on failure).
    pub fn opt<T>(
        &self,
        name: &str,
        f: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or_else(|| ApiError::malformed(name)),
        }
    }

    /// A boolean parameter (`true`/`false`, any case).
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        Ok(self
            .opt(name, |v| match v.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })?
            .unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_and_decoding() {
        let p = Params::parse("a=1&b=x%20y", "a=2&c=%E2%82%AC+z").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y"));
        assert_eq!(p.get("c"), Some("€ z"));
        assert!(Params::parse("a=%zz", "").is_err());
        assert_eq!(p.req("nope").unwrap_err().code, -1102);
    }
}
