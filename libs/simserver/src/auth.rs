//! API keys and request authentication as Binance does it
//! (`shared/docs/binance-protocol.md` §2): the `X-MBX-APIKEY` header names the
//! account; signed requests carry `timestamp` (and optionally `recvWindow`)
//! and a `signature` over `queryString + body` (signature removed), HMAC-SHA256
//! in hex or Ed25519 in base64.

use std::collections::HashMap;

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use veloz_exec::binance::signing::recv_window_accepts;
use veloz_sim::AccountId;

use crate::config::{AccountConfig, ConfigError};
use crate::error::ApiError;
use crate::params::{decode_component, Params};

/// One API key.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// The account the key belongs to.
    pub account: AccountId,
    /// Account name.
    pub name: String,
    hmac: Option<Vec<u8>>,
    ed25519: Option<VerifyingKey>,
}

impl KeyEntry {
    /// Whether the key can sign with Ed25519 (needed for `session.logon`).
    pub fn is_ed25519(&self) -> bool {
        self.ed25519.is_some()
    }

    /// Verifies `signature` (as sent, already form-decoded) over `payload`.
    pub fn verify(&self, payload: &[u8], signature: &str) -> bool {
        if let Some(secret) = &self.hmac {
            if let Ok(sig) = hex::decode(signature) {
                if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
                    mac.update(payload);
                    if mac.verify_slice(&sig).is_ok() {
                        return true;
                    }
                }
            }
        }
        if let Some(key) = &self.ed25519 {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) {
                if let Ok(sig) = Signature::from_slice(&bytes) {
                    return key.verify_strict(payload, &sig).is_ok();
                }
            }
        }
        false
    }
}

/// Every configured key.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: HashMap<String, KeyEntry>,
}

impl Keyring {
    /// Builds the keyring; account ids are 1, 2, ... in configuration order.
    pub fn new(accounts: &[AccountConfig]) -> Result<Self, ConfigError> {
        let mut keys = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            let ed25519 = match &a.ed25519_public_key_pem {
                None => None,
                Some(pem) => Some(VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
                    ConfigError::Invalid(format!(
                        "account {:?}: ed25519_public_key_pem is not an Ed25519 public key in PEM (SPKI) form: {e}",
                        a.name
                    ))
                })?),
            };
            keys.insert(
                a.api_key.clone(),
                KeyEntry {
                    account: AccountId(i as u64 + 1),
                    name: a.name.clone(),
                    hmac: a.hmac_secret.as_ref().map(|s| s.as_bytes().to_vec()),
                    ed25519,
                },
            );
        }
        Ok(Self { keys })
    }

    /// The entry of an API key: `-2014` when the header is missing or
    /// malformed, `-2015` when the key is unknown.
    pub fn lookup(&self, api_key: Option<&str>) -> Result<&KeyEntry, ApiError> {
        let key = api_key.ok_or_else(ApiError::bad_key_format)?;
        if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_key_format());
        }
        self.keys.get(key).ok_or_else(ApiError::unknown_key)
    }

    /// Authenticates a SIGNED REST request: key, then `timestamp` and
    /// `recvWindow` against `server_ms`, then the signature over the raw
    /// query string and body (each without its `signature` pair).
    pub fn verify_signed(
        &self,
        api_key: Option<&str>,
        raw_query: &str,
        raw_body: &str,
        params: &Params,
        server_ms: u64,
    ) -> Result<&KeyEntry, ApiError> {
        let entry = self.lookup(api_key)?;
        check_timing(params, server_ms)?;
        let sig = params.req("signature")?;
        let mut payload = strip_signature(raw_query);
        payload.push_str(&strip_signature(raw_body));
        if !entry.verify(payload.as_bytes(), sig) {
            return Err(ApiError::bad_signature());
        }
        Ok(entry)
    }
}

/// The `timestamp` / `recvWindow` rule (`-1102` when missing, `-1021` outside,
/// `-1131` for a receive window over 60 000 ms).
pub fn check_timing(params: &Params, server_ms: u64) -> Result<(), ApiError> {
    let ts = params
        .opt("timestamp", |v| v.parse::<u64>().ok())?
        .ok_or_else(|| ApiError::missing("timestamp"))?;
    // Microsecond timestamps (spot accepts both).
    let ts_ms = if ts > 100_000_000_000_000 {
        ts / 1000
    } else {
        ts
    };
    let rw = params
        .opt("recvWindow", |v| {
            let int = v.split('.').next().unwrap_or(v);
            int.parse::<u32>().ok()
        })?
        .unwrap_or(5000);
    if rw > 60_000 {
        return Err(ApiError::new(
            400,
            -1131,
            "recvWindow must be less than 60000",
        ));
    }
    if !recv_window_accepts(ts_ms, server_ms, rw) {
        return Err(ApiError::timestamp_outside_window(
            ts_ms >= server_ms.saturating_add(1000),
        ));
    }
    Ok(())
}

/// The raw (still encoded) parameter string without its `signature` pairs.
pub fn strip_signature(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for kv in raw.split('&').filter(|s| !s.is_empty()) {
        let name = kv.split_once('=').map_or(kv, |(k, _)| k);
        if decode_component(name).as_deref() == Some("signature") {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(kv);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_hmac_vector_verifies() {
        let acc = AccountConfig {
            name: "doc".into(),
            api_key: "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A".into(),
            hmac_secret: Some(
                "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j".into(),
            ),
            ed25519_public_key_pem: None,
            spot_balances: vec![],
            futures_balances: vec![],
        };
        let ring = Keyring::new(std::slice::from_ref(&acc)).unwrap();
        // Mixed query + body vector of the spot docs.
        let q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";
        let b = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
        let p = Params::parse(q, b).unwrap();
        let e = ring
            .verify_signed(Some(&acc.api_key), q, b, &p, 1_499_827_319_600)
            .unwrap();
        assert_eq!(e.account, AccountId(1));
        // One changed digit: -1022.
        let b2 = b.replace("quantity=1", "quantity=2");
        let p2 = Params::parse(q, &b2).unwrap();
        let err = ring
            .verify_signed(Some(&acc.api_key), q, &b2, &p2, 1_499_827_319_600)
            .unwrap_err();
        assert_eq!(err.code, -1022);
        // Too old: -1021.
        let err = ring
            .verify_signed(Some(&acc.api_key), q, b, &p, 1_499_827_319_559 + 5001)
            .unwrap_err();
        assert_eq!(err.code, -1021);
        assert_eq!(ring.lookup(Some("nope")).unwrap_err().code, -2015);
        assert_eq!(ring.lookup(None).unwrap_err().code, -2014);
    }
}
