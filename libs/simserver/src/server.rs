//! Starting the simulator: the engine task and one HTTP/WebSocket listener
//! per product (spot, USD-M, COIN-M), each serving its REST paths and
//! streams. [`start`] returns a [`ServerHandle`] with the bound addresses.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{any, get};
use axum::Router;
use tokio::net::TcpListener;
use veloz_core::MarketKind;

use crate::auth::Keyring;
use crate::config::{ConfigError, MarketConfig, ServerConfig};
use crate::engine::{spawn, Engine, EngineHandle, Stats};
use crate::faults::{lock, FaultError, FaultKind, FaultReport, FaultRule, SharedFaults};
use crate::limits::RateLimiter;
use crate::market::{CaptureReplay, MarketSource, MarketStep, SynthSource};
use crate::rest::{self, PortState};
use crate::ws;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A port could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; choose another port in the config or with --*-port"
    )]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A capture could not be opened.
    #[error("cannot open capture: {0}")]
    Capture(String),
}

/// A running simulator.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    /// Spot address (REST `/api/v3`, `/ws`, `/stream`, `/ws-api/v3`).
    pub spot: SocketAddr,
    /// USD-M address (REST `/fapi`, streams, `/private/ws/<listenKey>`).
    pub usdm: SocketAddr,
    /// COIN-M address (REST `/dapi`, streams, `/ws/<listenKey>`).
    pub coinm: SocketAddr,
    /// The fault-injection admin endpoint, if `admin_port` is configured.
    pub admin: Option<SocketAddr>,
    engine: EngineHandle,
    faults: SharedFaults,
}

impl ServerHandle {
    /// The address of `product`.
    pub fn addr(&self, product: MarketKind) -> SocketAddr {
        match product {
            MarketKind::Spot => self.spot,
            MarketKind::UsdM => self.usdm,
            _ => self.coinm,
        }
    }

    /// The base URLs to give our adapter (`veloz_exec::binance::config`):
    /// each product on its own port, WebSocket bases on the same ports, the
    /// spot WebSocket API at `/ws-api/v3`. The simulator has no futures
    /// WebSocket API: those URLs point at paths it does not serve.
    pub fn endpoints(&self) -> veloz_exec::binance::config::Endpoints {
        let http = |a: SocketAddr| format!("http://{a}");
        let ws = |a: SocketAddr| format!("ws://{a}");
        veloz_exec::binance::config::Endpoints {
            spot_rest: http(self.spot),
            usdm_rest: http(self.usdm),
            coinm_rest: http(self.coinm),
            spot_ws: ws(self.spot),
            usdm_ws: ws(self.usdm),
            coinm_ws: ws(self.coinm),
            spot_ws_api: format!("ws://{}/ws-api/v3", self.spot),
            usdm_ws_api: format!("ws://{}/ws-fapi/v1", self.usdm),
            coinm_ws_api: format!("ws://{}/ws-dapi/v1", self.coinm),
        }
    }

    /// Applies and publishes a market step now (tests, embedding programs).
    pub async fn push_market(&self, step: MarketStep) -> Result<(), crate::ApiError> {
        self.engine.call(move |e| e.apply_step(step)).await
    }

    /// The fan-out counters.
    pub async fn stats(&self) -> Result<Stats, crate::ApiError> {
        self.engine.call(|e| e.stats).await
    }

    /// The engine (to run jobs on it).
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// Adds a fault rule (as `POST /faults` does); connection faults act on
    /// the current connections before this returns. Returns the rule's id.
    pub async fn inject(&self, rule: FaultRule) -> Result<u64, FaultError> {
        let id = lock(&self.faults).add(rule)?;
        let _ = self.engine.call(|e| e.session_faults()).await;
        Ok(id)
    }

    /// Removes every fault rule (the counters stay).
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// The fault rules and the per-kind counters.
    pub fn fault_report(&self) -> FaultReport {
        lock(&self.faults).report()
    }

    /// How many faults of `kind` were injected.
    pub fn fault_count(&self, kind: FaultKind) -> u64 {
        lock(&self.faults).count(kind)
    }
}

fn product_of(s: &str) -> Result<MarketKind, ConfigError> {
    match s.to_ascii_lowercase().as_str() {
        "spot" => Ok(MarketKind::Spot),
        "usdm" | "um" | "usd-m" => Ok(MarketKind::UsdM),
        "coinm" | "cm" | "coin-m" => Ok(MarketKind::CoinM),
        _ => Err(ConfigError::Invalid(format!(
            "product {s:?} is not one of spot, usdm, coinm"
        ))),
    }
}

/// Starts the engine and binds the three ports (inside a tokio runtime).
pub async fn start(cfg: ServerConfig) -> Result<ServerHandle, StartError> {
    cfg.validate()?;
    let keys = Arc::new(Keyring::new(&cfg.accounts)?);
    let mut sources: Vec<Box<dyn MarketSource>> = Vec::new();
    let mut speed = 1;
    if let MarketConfig::Synthetic { synth, speed: s } = &cfg.market {
        speed = *s;
        let instruments = [
            veloz_sim::presets::spot_btcusdt(),
            veloz_sim::presets::usdm_btcusdt(),
            veloz_sim::presets::coinm_btcusd_perp(),
        ];
        let src = SynthSource::new(&instruments, synth, crate::engine::now_ms())
            .map_err(|e| ConfigError::Invalid(format!("synthetic market: {e}")))?;
        sources.push(Box::new(src));
    }
    if let MarketConfig::Capture { files, speed: s } = &cfg.market {
        speed = *s;
        let mut by_product: Vec<(MarketKind, Vec<std::path::PathBuf>)> = Vec::new();
        for f in files {
            let k = product_of(&f.product)?;
            match by_product.iter_mut().find(|(p, _)| *p == k) {
                Some((_, v)) => v.push(f.path.clone()),
                None => by_product.push((k, vec![f.path.clone()])),
            }
        }
        for (k, paths) in by_product {
            let r =
                CaptureReplay::open(k, &paths).map_err(|e| StartError::Capture(e.to_string()))?;
            sources.push(Box::new(r));
        }
    }
    let eng = Engine::new(&cfg, sources, speed)?;
    let faults = eng.faults.clone();
    let engine = spawn(eng);
    let mut addrs = Vec::new();
    for (product, port) in [
        (MarketKind::Spot, cfg.spot_port),
        (MarketKind::UsdM, cfg.usdm_port),
        (MarketKind::CoinM, cfg.coinm_port),
    ] {
        let addr = SocketAddr::new(cfg.host, port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let st = PortState {
            product,
            engine: engine.clone(),
            keys: keys.clone(),
            limiter: Arc::new(RateLimiter::new(cfg.rate_limits, product.is_futures())),
            spot_listen_key: cfg.spot_listen_key,
            queue: cfg.subscriber_queue,
            faults: faults.clone(),
        };
        let app = router(product, st);
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        addrs.push(local);
    }
    let admin = match cfg.admin_port {
        None => None,
        Some(port) => {
            // The admin endpoint changes the venue's behaviour: local only.
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?;
            let app = crate::admin::router(crate::admin::AdminState {
                faults: faults.clone(),
                engine: engine.clone(),
            });
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Some(local)
        }
    };
    Ok(ServerHandle {
        spot: addrs[0],
        usdm: addrs[1],
        coinm: addrs[2],
        admin,
        engine,
        faults,
    })
}

fn router(product: MarketKind, st: PortState) -> Router {
    let mut r = Router::new()
        .route("/ws", get(ws::raw_root))
        .route("/ws/{*path}", get(ws::raw))
        .route("/stream", get(ws::combined));
    if product == MarketKind::Spot {
        r = r.route("/ws-api/v3", get(crate::ws_api::handler));
    }
    if product == MarketKind::UsdM {
        for pre in ["/public", "/market"] {
            r = r
                .route(&format!("{pre}/ws"), get(ws::raw_root))
                .route(&format!("{pre}/ws/{{*path}}"), get(ws::raw))
                .route(&format!("{pre}/stream"), get(ws::combined));
        }
        r = r
            .route("/private/ws", get(ws::private_query))
            .route("/private/stream", get(ws::private_query))
            .route("/private/ws/{key}", get(ws::private_path));
    }
    r.fallback(any(rest::handle)).with_state(st)
}
