//! `veloz sim`: runs the Binance venue simulator (`veloz-simserver`) on
//! 127.0.0.1 until Ctrl-C. Flags override the configuration file; see
//! `docs/SIMULATOR.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use veloz_simserver::config::CaptureFileConfig;
use veloz_simserver::{MarketConfig, ServerConfig};

/// Arguments of `veloz sim`.
#[derive(Debug, Args, Default)]
pub struct SimArgs {
    /// Configuration file (TOML, or JSON if it ends in `.json`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Spot port (REST `/api/v3`, `/ws`, `/stream`, `/ws-api/v3`).
    #[arg(long)]
    pub spot_port: Option<u16>,
    /// USD-M port (REST `/fapi`, `/ws`, `/stream`, `/private/ws/<listenKey>`).
    #[arg(long)]
    pub usdm_port: Option<u16>,
    /// COIN-M port (REST `/dapi`, `/ws`, `/stream`, `/ws/<listenKey>`).
    #[arg(long)]
    pub coinm_port: Option<u16>,
    /// Replay a recorded capture: `<product>=<file>` (product spot, usdm or
    /// coinm); repeat for several files.
    #[arg(long = "capture", value_name = "PRODUCT=FILE")]
    pub captures: Vec<String>,
    /// Market speed (synthetic or replay): 1 = real time, N = N times faster,
    /// 0 = as fast as clients read.
    #[arg(long)]
    pub speed: Option<u32>,
    /// Seed of the synthetic market.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also serve the retired spot listenKey endpoints.
    #[arg(long)]
    pub spot_listen_key: bool,
    /// Serve the fault-injection admin endpoint (`/faults`, `/stats`) on
    /// 127.0.0.1 at this port (0 = any free port).
    #[arg(long)]
    pub admin_port: Option<u16>,
}

/// Runs the simulator until Ctrl-C.
pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = match &args.config {
        Some(p) => ServerConfig::load(p)?,
        None => ServerConfig::default(),
    };
    if let Some(p) = args.spot_port {
        cfg.spot_port = p;
    }
    if let Some(p) = args.usdm_port {
        cfg.usdm_port = p;
    }
    if let Some(p) = args.coinm_port {
        cfg.coinm_port = p;
    }
    if let Some(p) = args.admin_port {
        cfg.admin_port = Some(p);
    }
    if args.spot_listen_key {
        cfg.spot_listen_key = true;
    }
    if !args.captures.is_empty() {
        let mut files = Vec::new();
        for c in &args.captures {
            let (product, path) = c.split_once('=').with_context(|| {
                format!("--capture {c:?}: write it as PRODUCT=FILE, e.g. usdm=capture.gz")
            })?;
            files.push(CaptureFileConfig {
                product: product.to_string(),
                path: PathBuf::from(path),
            });
        }
        cfg.market = MarketConfig::Capture { files, speed: 1 };
    }
    match &mut cfg.market {
        MarketConfig::Synthetic { synth, speed } => {
            if let Some(s) = args.speed {
                *speed = s;
            }
            if let Some(seed) = args.seed {
                synth.seed = seed;
            }
        }
        MarketConfig::Capture { speed, .. } => {
            if let Some(s) = args.speed {
                *speed = s;
            }
        }
        MarketConfig::Manual => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let h = veloz_simserver::start(cfg).await?;
        println!("veloz sim: spot   http://{0}  ws://{0}/ws  ws://{0}/ws-api/v3", h.spot);
        println!("veloz sim: usdm   http://{0}  ws://{0}/ws  ws://{0}/private/ws/<listenKey>", h.usdm);
        println!("veloz sim: coinm  http://{0}  ws://{0}/ws  ws://{0}/ws/<listenKey>", h.coinm);
        if let Some(a) = h.admin {
            println!("veloz sim: admin  http://{a}/faults  http://{a}/stats");
        }
        println!("veloz sim: running; Ctrl-C stops it");
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        if let Ok(s) = h.stats().await {
            println!(
                "veloz sim: stopped ({} market steps, {} frames and {} user events sent, {} slow subscribers disconnected)",
                s.market_steps, s.market_frames_sent, s.user_events_sent, s.slow_disconnects
            );
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}
