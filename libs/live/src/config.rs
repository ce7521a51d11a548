//! The configuration of `veloz live` and `veloz paper` (TOML).
//!
//! ```toml
//! [venue]
//! endpoints = "embedded"          # the built-in simulator (the default)
//! # endpoints = "testnet"         # or "production", "demo"
//! # rest = "http://127.0.0.1:8080" and ws = "ws://127.0.0.1:8080" for one host
//! api_key_env = "BINANCE_API_KEY"     # where the key is read from
//! api_secret_env = "BINANCE_API_SECRET"
//!
//! [[strategies]]
//! name = "grid"                   # a built-in strategy (veloz-strategies)
//! id = "grid-usdm"                # unique id; also the journal's name for it
//! config = "grid.toml"            # its config file, or `params = { ... }` inline
//!
//! [journal]
//! dir = "runs/live"               # journal and state; reused on restart
//!
//! [live]
//! dead_man_switch_ms = 60000      # futures countdownCancelAll (0 = off)
//! reconcile_interval_ms = 5000
//! ```
//!
//! Every table and key is optional except the strategies; unknown keys are
//! errors (a typo must not silently change how money is traded).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Binance's default `recvWindow` (ms): a signed request is valid that long
/// after its timestamp.
pub const RECV_WINDOW_MS: u64 = 5_000;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key.
    #[error("{path}: {message}\n  see docs/LIVE.md for every key")]
    Parse {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value is not usable.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Where the venue is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EndpointsChoice {
    /// The simulator, started in this process on loopback ports.
    #[default]
    Embedded,
    /// Binance production.
    Production,
    /// Binance testnet.
    Testnet,
    /// Binance demo trading.
    Demo,
    /// A `veloz sim` running elsewhere: one port per product on `sim_host`
    /// (defaults: 127.0.0.1, ports 9443 spot, 9444 USD-M, 9445 COIN-M,
    /// `veloz sim`'s own defaults). Credentials as for Binance (the
    /// simulator's built-in account is `demo` / `demo-secret`).
    Sim,
    /// `rest` / `ws` of the `[venue]` table (one host for every product,
    /// e.g. a `veloz sim` started elsewhere).
    Custom,
}

/// `[venue]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct VenueConfig {
    /// Which endpoints.
    pub endpoints: EndpointsChoice,
    /// REST base URL with `endpoints = "custom"`.
    pub rest: Option<String>,
    /// WebSocket base URL with `endpoints = "custom"`.
    pub ws: Option<String>,
    /// Environment variable holding the API key (default `BINANCE_API_KEY`).
    pub api_key_env: Option<String>,
    /// Environment variable holding the HMAC secret (default `BINANCE_API_SECRET`).
    pub api_secret_env: Option<String>,
    /// Seed of the embedded simulator's synthetic market.
    pub sim_seed: Option<u64>,
    /// A PEM file of extra root certificates to trust for `https://` /
    /// `wss://` besides the bundled Mozilla roots (a private gateway or
    /// proxy), relative to the config file.
    pub tls_root_pem: Option<PathBuf>,
    /// `endpoints = "sim"`: the simulator's host.
    pub sim_host: Option<String>,
    /// `endpoints = "sim"`: spot port.
    pub spot_port: Option<u16>,
    /// `endpoints = "sim"`: USD-M port.
    pub usdm_port: Option<u16>,
    /// `endpoints = "sim"`: COIN-M port.
    pub coinm_port: Option<u16>,
}

impl VenueConfig {
    /// The endpoints of a simulator (`endpoints = "sim"`).
    pub fn sim_endpoints(&self) -> veloz_exec::binance::config::Endpoints {
        let host = self.sim_host.as_deref().unwrap_or("127.0.0.1");
        let at = |p: Option<u16>, d: u16| format!("{host}:{}", p.unwrap_or(d));
        let (s, u, c) = (
            at(self.spot_port, 9443),
            at(self.usdm_port, 9444),
            at(self.coinm_port, 9445),
        );
        veloz_exec::binance::config::Endpoints {
            spot_rest: format!("http://{s}"),
            usdm_rest: format!("http://{u}"),
            coinm_rest: format!("http://{c}"),
            spot_ws: format!("ws://{s}"),
            usdm_ws: format!("ws://{u}"),
            coinm_ws: format!("ws://{c}"),
            spot_ws_api: format!("ws://{s}/ws-api/v3"),
            usdm_ws_api: format!("ws://{u}/ws-fapi/v1"),
            coinm_ws_api: format!("ws://{c}/ws-dapi/v1"),
        }
    }
}

/// One `[[strategies]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyEntry {
    /// Built-in strategy name (`grid`, `market_maker`, `ema_cross`).
    pub name: String,
    /// Unique id of this instance.
    pub id: String,
    /// Config file, relative to the live config's folder.
    pub config: Option<PathBuf>,
    /// Inline config (instead of `config`).
    pub params: Option<toml::Table>,
    /// This strategy's dead man's switch (futures `countdownCancelAll` on its
    /// instruments), overriding `[live] dead_man_switch_ms`; 0 = off. When
    /// strategies share an instrument, the shortest countdown of those that
    /// want one applies.
    pub dead_man_switch_ms: Option<u64>,
}

/// `[journal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalConfig {
    /// Folder of the journal; a restart with the same folder resumes.
    pub dir: PathBuf,
    /// Fsync every record (`always`), in groups (`group`, the default), or
    /// leave it to the OS (`never`).
    pub fsync: FsyncChoice,
    /// Group commit: at most this many records between fsyncs.
    pub group_records: u32,
    /// Group commit: at most this many milliseconds between fsyncs.
    pub group_delay_ms: u32,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("runs/live"),
            fsync: FsyncChoice::Group,
            group_records: 256,
            group_delay_ms: 5,
        }
    }
}

/// Fsync policy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FsyncChoice {
    /// Every record.
    Always,
    /// Group commit.
    #[default]
    Group,
    /// The OS decides.
    Never,
}

/// `[live]`: connectivity and supervision.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSection {
    /// Futures `countdownCancelAll` countdown: if VeloZ stops renewing it,
    /// Binance cancels every open order of the symbol after this long. 0 = off.
    pub dead_man_switch_ms: u64,
    /// How often the countdown is renewed (default a quarter of it).
    pub heartbeat_ms: Option<u64>,
    /// Reconciliation with the venue every this many milliseconds.
    pub reconcile_interval_ms: u64,
    /// An order whose outcome is unknown is queried after this long.
    pub unknown_query_delay_ms: u64,
    /// An order the venue does not know is declared never placed after this
    /// long (longer than `recvWindow`, after which Binance refuses it).
    pub not_found_after_ms: u64,
    /// REST timeout.
    pub rest_timeout_ms: u64,
    /// Market streams subscribed per instrument (default `bookTicker`,
    /// `aggTrade`, `depth@100ms`). A diff-depth stream (`depth`,
    /// `depth@100ms`) gives every instrument an L2 book kept in sync with
    /// REST snapshots (see `feed`).
    pub streams: Vec<String>,
    /// Status refresh.
    pub status_interval_ms: u64,
    /// Shutdown: how long to wait for every order to be cancelled.
    pub shutdown_timeout_ms: u64,
}

impl Default for LiveSection {
    fn default() -> Self {
        Self {
            dead_man_switch_ms: 60_000,
            heartbeat_ms: None,
            reconcile_interval_ms: 5_000,
            unknown_query_delay_ms: 1_000,
            not_found_after_ms: 10_000,
            rest_timeout_ms: 5_000,
            streams: vec!["bookTicker".into(), "aggTrade".into(), "depth@100ms".into()],
            status_interval_ms: 1_000,
            shutdown_timeout_ms: 15_000,
        }
    }
}

/// A whole live or paper configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveConfig {
    /// The venue.
    #[serde(default)]
    pub venue: VenueConfig,
    /// The built-in strategies (`[[strategies]]`).
    #[serde(default)]
    pub strategies: Vec<StrategyEntry>,
    /// The journal.
    #[serde(default)]
    pub journal: JournalConfig,
    /// Connectivity and supervision.
    #[serde(default)]
    pub live: LiveSection,
    /// Risk limits (`veloz-risk`'s `RiskConfig`), as a table.
    #[serde(default)]
    pub risk: Option<toml::Table>,
    /// Paper trading: fees, latency and queue model of the simulated venue.
    #[serde(default)]
    pub paper: Option<toml::Table>,
    /// Folder of the config file (relative paths are taken from there).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Strategies written against the SDK and added in code (a program
    /// embedding VeloZ): each is built by its factory, once per kernel (the
    /// session's, and every journal replay's).
    #[serde(skip)]
    pub custom: Vec<CustomStrategy>,
}

/// Builds a fresh instance of a strategy.
pub type StrategyFactory =
    std::sync::Arc<dyn Fn() -> Box<dyn veloz_runtime::Strategy> + Send + Sync>;

/// A strategy added in code (see [`LiveConfig::custom`]).
#[derive(Clone)]
pub struct CustomStrategy {
    /// Unique id (as `[[strategies]] id`).
    pub id: String,
    /// Its instruments (their rules are loaded from the venue).
    pub instruments: Vec<veloz_core::InstrumentId>,
    /// Makes the strategy.
    pub factory: StrategyFactory,
}

impl std::fmt::Debug for CustomStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomStrategy")
            .field("id", &self.id)
            .field("instruments", &self.instruments)
            .finish_non_exhaustive()
    }
}

/// One strategy with its config text resolved.
#[derive(Debug, Clone)]
pub struct ResolvedStrategy {
    /// Built-in name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Config text (TOML).
    pub config: String,
    /// Its dead man's switch override.
    pub dead_man_switch_ms: Option<u64>,
}

impl LiveConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let mut cfg = Self::parse(&text, path)?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(cfg)
    }

    /// Parses config text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.into(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.into(),
            message,
        };
        let mut ids = std::collections::BTreeSet::new();
        for s in &cfg.strategies {
            if !ids.insert(s.id.clone()) {
                return Err(invalid(format!(
                    "strategy id {:?} is used twice; ids must be unique",
                    s.id
                )));
            }
            if s.config.is_some() == s.params.is_some() {
                return Err(invalid(format!(
                    "strategy {:?}: give exactly one of `config = \"file.toml\"` or `params = {{ ... }}`",
                    s.id
                )));
            }
        }
        if cfg.venue.endpoints == EndpointsChoice::Custom
            && (cfg.venue.rest.is_none() || cfg.venue.ws.is_none())
        {
            return Err(invalid(
                "[venue] endpoints = \"custom\" needs `rest = \"http://host:port\"` and `ws = \"ws://host:port\"`"
                    .into(),
            ));
        }
        if cfg.live.not_found_after_ms <= RECV_WINDOW_MS {
            return Err(invalid(format!(
                "[live] not_found_after_ms = {} must be above the requests' recvWindow ({RECV_WINDOW_MS} ms): Binance may still execute an order that long after it was signed",
                cfg.live.not_found_after_ms
            )));
        }
        if cfg.live.reconcile_interval_ms == 0 {
            return Err(invalid(
                "[live] reconcile_interval_ms must be above 0".into(),
            ));
        }
        Ok(cfg)
    }

    /// The strategies with their config text.
    pub fn resolve_strategies(&self) -> Result<Vec<ResolvedStrategy>, ConfigError> {
        let mut out = Vec::new();
        for s in &self.strategies {
            let config = match (&s.config, &s.params) {
                (Some(p), _) => {
                    let path = if p.is_relative() {
                        self.base_dir.join(p)
                    } else {
                        p.clone()
                    };
                    std::fs::read_to_string(&path)
                        .map_err(|source| ConfigError::Read { path, source })?
                }
                (None, Some(t)) => toml::to_string(t).map_err(|e| ConfigError::Invalid {
                    path: self.base_dir.clone(),
                    message: format!("strategy {:?}: params: {e}", s.id),
                })?,
                (None, None) => String::new(),
            };
            out.push(ResolvedStrategy {
                name: s.name.clone(),
                id: s.id.clone(),
                config,
                dead_man_switch_ms: s.dead_man_switch_ms,
            });
        }
        Ok(out)
    }

    /// The heartbeat period of the dead man's switch.
    pub fn heartbeat_ms(&self) -> u64 {
        self.live
            .heartbeat_ms
            .unwrap_or(self.live.dead_man_switch_ms / 4)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_and_defaults() {
        let c = LiveConfig::parse(
            "[[strategies]]\nname = \"grid\"\nid = \"g\"\nparams = { instrument = \"BINANCE.USDM.BTCUSDT\" }\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.venue.endpoints, EndpointsChoice::Embedded);
        assert_eq!(c.live.dead_man_switch_ms, 60_000);
        assert_eq!(c.heartbeat_ms(), 15_000);
        let s = c.resolve_strategies().unwrap();
        assert!(s[0].config.contains("BINANCE.USDM.BTCUSDT"));
    }

    #[test]
    fn errors_say_what_to_fix() {
        let e = LiveConfig::parse(
            "[[strategies]]\nname = \"grid\"\nid = \"g\"\n",
            Path::new("a.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("exactly one of"), "{e}");
        let e = LiveConfig::parse(
            "[venue]\nendpoint = \"testnet\"\n[[strategies]]\nname = \"grid\"\nid = \"g\"\nparams = {}\n",
            Path::new("a.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("endpoint"), "{e}");
        let e = LiveConfig::parse(
            "[venue]\nendpoints = \"custom\"\n[[strategies]]\nname = \"grid\"\nid = \"g\"\nparams = {}\n",
            Path::new("a.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("rest = "), "{e}");
    }
}
