//! Server configuration: where to listen, which accounts and keys exist,
//! which instruments are traded, where the market comes from and the rate
//! limits. Read from TOML or JSON (serde); every field has a default so an
//! empty file (or none) gives a working simulator with one demo account.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use veloz_sim::synth::SynthConfig;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read simulator config {path:?}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML / JSON for this schema.
    #[error("simulator config {path:?} is invalid: {msg}; see docs/SIMULATOR.md for the format")]
    Parse {
        /// File.
        path: PathBuf,
        /// Parser message.
        msg: String,
    },
    /// A value is out of range or inconsistent.
    #[error("simulator config: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to bind (default 127.0.0.1).
    pub host: IpAddr,
    /// Port of the spot venue (REST `/api/v3`, streams, WS API); 0 = ephemeral.
    pub spot_port: u16,
    /// Port of the USD-M venue (REST `/fapi`, streams, listenKey streams).
    pub usdm_port: u16,
    /// Port of the COIN-M venue (REST `/dapi`, streams, listenKey streams).
    pub coinm_port: u16,
    /// Serve the retired spot listenKey endpoints (`/api/v3/userDataStream`)
    /// and `/ws/<listenKey>` on the spot port (off by default: Binance retired
    /// them, but widely used clients still call them).
    pub spot_listen_key: bool,
    /// Accounts and their keys.
    pub accounts: Vec<AccountConfig>,
    /// Where market data comes from.
    pub market: MarketConfig,
    /// Rate limits.
    pub rate_limits: RateLimitConfig,
    /// Capacity of each WebSocket subscriber's outgoing queue (frames); a
    /// subscriber whose queue is full is disconnected and counted.
    pub subscriber_queue: usize,
    /// Lifetime of a listenKey without keepalive, seconds (Binance: 3600).
    pub listen_key_ttl_secs: u64,
    /// Port of the fault-injection admin endpoint (always on 127.0.0.1);
    /// none = no admin endpoint, 0 = ephemeral.
    pub admin_port: Option<u16>,
    /// Fault rules active from the start (`[[faults]]`); none by default.
    pub faults: Vec<crate::faults::FaultRule>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            spot_port: 9443,
            usdm_port: 9444,
            coinm_port: 9445,
            spot_listen_key: false,
            accounts: vec![AccountConfig::demo()],
            market: MarketConfig::default(),
            rate_limits: RateLimitConfig::default(),
            subscriber_queue: 4096,
            listen_key_ttl_secs: 3600,
            admin_port: None,
            faults: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Loads a `.json` file as JSON and anything else as TOML.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parsed: Result<Self, String> =
            if path.extension().and_then(|e| e.to_str()) == Some("json") {
                serde_json::from_str(&text).map_err(|e| e.to_string())
            } else {
                toml::from_str(&text).map_err(|e| e.to_string())
            };
        let cfg = parsed.map_err(|msg| ConfigError::Parse {
            path: path.to_path_buf(),
            msg,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// A configuration for tests: every port ephemeral.
    pub fn ephemeral() -> Self {
        Self {
            spot_port: 0,
            usdm_port: 0,
            coinm_port: 0,
            ..Self::default()
        }
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut keys = std::collections::HashSet::new();
        for a in &self.accounts {
            if a.api_key.is_empty() || a.api_key.len() > 128 {
                return Err(ConfigError::Invalid(format!(
                    "account {:?}: api_key must be 1 to 128 characters",
                    a.name
                )));
            }
            if !keys.insert(a.api_key.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "account {:?}: api_key is used twice; give each account its own key",
                    a.name
                )));
            }
            if a.hmac_secret.is_none() && a.ed25519_public_key_pem.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "account {:?}: set hmac_secret or ed25519_public_key_pem (or both)",
                    a.name
                )));
            }
        }
        for r in &self.faults {
            r.validate()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        if self.subscriber_queue == 0 {
            return Err(ConfigError::Invalid(
                "subscriber_queue must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// One account and its API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Name (for logs).
    pub name: String,
    /// The API key clients send in `X-MBX-APIKEY`.
    pub api_key: String,
    /// HMAC-SHA256 secret, if the key signs with HMAC.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// Ed25519 public key (PEM, SPKI), if the key signs with Ed25519.
    #[serde(default)]
    pub ed25519_public_key_pem: Option<String>,
    /// Initial spot balances, e.g. `{ asset = "USDT", amount = "100000" }`.
    #[serde(default)]
    pub spot_balances: Vec<BalanceConfig>,
    /// Initial futures wallet balances (USDT for USD-M, coins for COIN-M).
    #[serde(default)]
    pub futures_balances: Vec<BalanceConfig>,
}

impl AccountConfig {
    /// The demo account of the default configuration (HMAC key `demo`, secret
    /// `demo-secret`; 100 000 USDT and 1 BTC spot, 100 000 USDT and 1 BTC of
    /// futures margin).
    pub fn demo() -> Self {
        let b = |asset: &str, amount: &str| BalanceConfig {
            asset: asset.into(),
            amount: amount.into(),
        };
        Self {
            name: "demo".into(),
            api_key: "demo".into(),
            hmac_secret: Some("demo-secret".into()),
            ed25519_public_key_pem: None,
            spot_balances: vec![b("USDT", "100000"), b("BTC", "1")],
            futures_balances: vec![b("USDT", "100000"), b("BTC", "1")],
        }
    }
}

/// An amount of one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceConfig {
    /// Asset code.
    pub asset: String,
    /// Decimal amount.
    pub amount: String,
}

/// Where market data comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum MarketConfig {
    /// The seeded synthetic market of `veloz_sim::synth` on every instrument
    /// (the default): no data needed. Its clock starts at the server's start.
    Synthetic {
        /// Generator settings (seed, volatility, spread, depth shape, trade
        /// intensity, ...); `start_time_ms` is replaced by the start time.
        #[serde(default)]
        synth: SynthConfig,
        /// 1 = real time, N = N times faster, 0 = as fast as clients read.
        #[serde(default = "one")]
        speed: u32,
    },
    /// No market data until something feeds the engine (tests drive it
    /// through [`crate::ServerHandle::push_market`]).
    Manual,
    /// Replay of recorded Binance captures (`<ns> <json>` lines, gzip'd or not).
    Capture {
        /// Capture files per product, replayed in parallel on the shared clock.
        files: Vec<CaptureFileConfig>,
        /// Replay speed: 1 = real time, N = N times faster, 0 = as fast as
        /// clients read.
        #[serde(default = "one")]
        speed: u32,
    },
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self::Synthetic {
            synth: SynthConfig::default(),
            speed: 1,
        }
    }
}

fn one() -> u32 {
    1
}

/// One capture file and the product it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureFileConfig {
    /// `spot`, `usdm` or `coinm`.
    pub product: String,
    /// Path.
    pub path: PathBuf,
}

/// Request-weight and order-count limits (per port and client IP for weight,
/// per account for orders), as in the `rateLimits` of exchangeInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Request weight per minute (Binance spot 6000, futures 2400).
    pub weight_per_minute: u32,
    /// Orders per 10 seconds per account.
    pub orders_per_10s: u32,
    /// Orders per day (spot) per account.
    pub orders_per_day: u32,
    /// Requests refused with 429 inside one window before the client is
    /// banned with 418.
    pub ban_after_429s: u32,
    /// Length of a 418 ban, seconds (Binance: 2 minutes to 3 days).
    pub ban_seconds: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            weight_per_minute: 6000,
            orders_per_10s: 100,
            orders_per_day: 200_000,
            ban_after_429s: 10,
            ban_seconds: 120,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_toml_parses() {
        let text = r#"
host = "127.0.0.1"
spot_port = 9443
usdm_port = 9444
coinm_port = 9445
spot_listen_key = false
subscriber_queue = 4096
listen_key_ttl_secs = 3600

[[accounts]]
name = "alice"
api_key = "alice-key"
hmac_secret = "alice-secret"
spot_balances = [{ asset = "USDT", amount = "100000" }, { asset = "BTC", amount = "1" }]
futures_balances = [{ asset = "USDT", amount = "100000" }, { asset = "BTC", amount = "1" }]

[rate_limits]
weight_per_minute = 6000
orders_per_10s = 100
orders_per_day = 200000
ban_after_429s = 10
ban_seconds = 120

[market]
source = "synthetic"
speed = 1
[market.synth]
seed = 7
volatility_cbps = 50
mean_spread_ticks = 2
levels = 50
trades_per_minute = 600
"#;
        let cfg: ServerConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.accounts[0].api_key, "alice-key");
        match &cfg.market {
            MarketConfig::Synthetic { synth, speed } => {
                assert_eq!((synth.seed, *speed), (7, 1));
            }
            other => panic!("{other:?}"),
        }
        let capture: ServerConfig = toml::from_str(
            "[market]\nsource = \"capture\"\nspeed = 0\nfiles = [{ product = \"usdm\", path = \"x.gz\" }]\n",
        )
        .unwrap();
        assert!(matches!(
            capture.market,
            MarketConfig::Capture { speed: 0, .. }
        ));
        // The default: synthetic, one demo account.
        let empty: ServerConfig = toml::from_str("").unwrap();
        assert_eq!(empty, ServerConfig::default());
        // Unknown keys are refused.
        assert!(toml::from_str::<ServerConfig>("spot_prot = 1").is_err());
        // Fault rules and the admin port.
        let faulty: ServerConfig = toml::from_str(
            "admin_port = 9446\n[[faults]]\nfault = \"skip_depth_ids\"\nproduct = \"usdm\"\nsymbol = \"BTCUSDT\"\nevery = 100\ncount = 0\n[[faults]]\nfault = \"clock_skew\"\nskew_ms = -3000\n",
        )
        .unwrap();
        faulty.validate().unwrap();
        assert_eq!(faulty.admin_port, Some(9446));
        assert_eq!(faulty.faults.len(), 2);
        assert_eq!(
            faulty.faults[0],
            crate::faults::FaultRule::new(crate::faults::FaultKind::SkipDepthIds)
                .product(veloz_core::MarketKind::UsdM)
                .symbol("BTCUSDT")
                .every(100)
                .count(0)
        );
        let bad_fault: ServerConfig =
            toml::from_str("[[faults]]\nfault = \"delay_frames\"\n").unwrap();
        assert!(bad_fault.validate().is_err());
        // An account needs a key to verify with.
        let mut bad = ServerConfig::default();
        bad.accounts[0].hmac_secret = None;
        assert!(bad.validate().is_err());
    }
}
