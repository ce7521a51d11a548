//! What the live tests share: the simulator on its own runtime, and a
//! session run to a deadline on a current-thread runtime.

#![allow(dead_code)]

use std::time::Duration;

use veloz_exec::binance::config::{Credentials, Endpoints};
use veloz_live::config::LiveConfig;
use veloz_live::{LiveError, LiveSetup, LiveSummary, Mode};
use veloz_simserver::{AccountConfig, MarketConfig, ServerConfig, ServerHandle};

/// The simulator (synthetic market at `speed`, seed `seed`) on a runtime
/// of its own, with the built-in demo account.
pub fn simulator(speed: u32, seed: u64) -> (tokio::runtime::Runtime, ServerHandle) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the simulator");
    let server = ServerConfig {
        market: MarketConfig::Synthetic {
            synth: veloz_sim::SynthConfig {
                seed,
                ..Default::default()
            },
            speed,
        },
        accounts: vec![AccountConfig::demo()],
        ..ServerConfig::ephemeral()
    };
    let srv = rt
        .block_on(veloz_simserver::start(server))
        .expect("the simulator starts");
    (rt, srv)
}

/// The simulator's demo account.
pub fn demo_credentials() -> Credentials {
    Credentials::hmac("demo", "demo-secret").expect("valid demo credentials")
}

/// A config from TOML text with its journal in a fresh temporary folder.
pub fn config(text: &str, name: &str) -> LiveConfig {
    let dir = std::env::temp_dir().join(format!("veloz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = LiveConfig::parse(text, std::path::Path::new(name)).expect("test config");
    cfg.journal.dir = dir;
    cfg
}

/// Runs one session for `secs` seconds.
pub fn session(
    cfg: &LiveConfig,
    endpoints: &Endpoints,
    credentials: Option<Credentials>,
    mode: Mode,
    secs: u64,
) -> Result<LiveSummary, LiveError> {
    let setup = LiveSetup {
        config: cfg.clone(),
        endpoints: endpoints.clone(),
        credentials,
        mode,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the session");
    rt.block_on(async move {
        // The deadline's timer needs the runtime: made inside it.
        veloz_live::run_unattended(setup, tokio::time::sleep(Duration::from_secs(secs))).await
    })
}
