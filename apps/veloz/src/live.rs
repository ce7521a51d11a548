//! `veloz live` and `veloz paper`, and the main command (no arguments): the
//! live engine of `veloz-live` with a terminal status until Ctrl-C.
//!
//! With `[venue] endpoints = "embedded"` (the default, and the main
//! command's configuration `configs/live-sim.toml`), the Binance simulator
//! starts in this process on loopback ports with the built-in `demo`
//! account, and VeloZ trades it over the wire exactly as it would trade
//! Binance. After a clean stop the command checks what the issue asks of
//! it: no open order left at the venue, and the journal replays to the same
//! state.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Args;
use veloz_exec::binance::config::{Credentials, Endpoints, Environment};
use veloz_live::config::EndpointsChoice;
use veloz_live::{LiveConfig, LiveSetup, Mode, Status};
use veloz_simserver::{AccountConfig, MarketConfig, ServerConfig};

/// The main command's configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../configs/live-sim.toml");

/// Arguments of `veloz live` / `veloz paper`.
#[derive(Debug, Args, Default)]
pub struct LiveArgs {
    /// Configuration file (TOML; see docs/LIVE.md). Default: the embedded
    /// simulator with a grid and a market maker.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Stop by itself after this many seconds (as if Ctrl-C was pressed).
    #[arg(long = "for", value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Journal folder (overrides [journal] dir).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Print the status only at the end.
    #[arg(long)]
    pub quiet: bool,
}

/// The API key and secret from the environment; paper trading reads only
/// public data and runs without them.
fn credentials(cfg: &LiveConfig, required: bool) -> anyhow::Result<Option<Credentials>> {
    if !required {
        return Ok(None);
    }
    let key_var = cfg
        .venue
        .api_key_env
        .as_deref()
        .unwrap_or("BINANCE_API_KEY");
    let secret_var = cfg
        .venue
        .api_secret_env
        .as_deref()
        .unwrap_or("BINANCE_API_SECRET");
    let key = std::env::var(key_var).map_err(|_| {
        anyhow::anyhow!(
            "no API key: set the environment variable {key_var} (or name another one with [venue] api_key_env)"
        )
    })?;
    let secret = std::env::var(secret_var).map_err(|_| {
        anyhow::anyhow!(
            "no API secret: set the environment variable {secret_var} (or name another one with [venue] api_secret_env)"
        )
    })?;
    Ok(Some(Credentials::hmac(key, secret)?))
}

/// Runs `veloz live` (or the main command when `args.config` is `None`), or
/// `veloz paper` with `mode` [`Mode::Paper`].
pub fn run(args: &LiveArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    let live = mode == Mode::Live;
    let (mut cfg, embedded_default) = match &args.config {
        Some(p) => (LiveConfig::load(p)?, false),
        None => (
            LiveConfig::parse(
                DEFAULT_CONFIG,
                std::path::Path::new("configs/live-sim.toml"),
            )?,
            true,
        ),
    };
    if let Some(j) = &args.journal {
        cfg.journal.dir = j.clone();
    } else if embedded_default || cfg.venue.endpoints == EndpointsChoice::Embedded || !live {
        // A fresh simulator has none of an earlier session's orders, and a
        // paper account is not journaled: each such session gets its own
        // journal folder.
        let stamp = veloz_exec::binance::transport::local_now().as_millis();
        cfg.journal.dir = cfg.journal.dir.join(format!("session-{stamp}"));
    }
    // The simulator (when embedded) runs on its own threads.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut sim = None;
    let (endpoints, creds) = match cfg.venue.endpoints {
        EndpointsChoice::Embedded => {
            let account = AccountConfig::demo();
            let secret = account.hmac_secret.clone().unwrap_or_default();
            let creds = Some(Credentials::hmac(account.api_key.clone(), secret)?);
            let mut synth = veloz_sim::synth::SynthConfig::default();
            if let Some(seed) = cfg.venue.sim_seed {
                synth.seed = seed;
            }
            let server = ServerConfig {
                market: MarketConfig::Synthetic { synth, speed: 1 },
                accounts: vec![account],
                ..ServerConfig::ephemeral()
            };
            let h = sim_rt.block_on(veloz_simserver::start(server))?;
            let e = h.endpoints();
            println!(
                "embedded venue: Binance simulator (synthetic market) spot http://{} usdm http://{} coinm http://{}",
                h.spot, h.usdm, h.coinm
            );
            sim = Some(h);
            (e, creds)
        }
        EndpointsChoice::Sim => (cfg.venue.sim_endpoints(), credentials(&cfg, live)?),
        EndpointsChoice::Custom => {
            let (Some(rest), Some(ws)) = (&cfg.venue.rest, &cfg.venue.ws) else {
                bail!("[venue] endpoints = \"custom\" needs rest and ws");
            };
            (Endpoints::single_host(rest, ws), credentials(&cfg, live)?)
        }
        EndpointsChoice::Production | EndpointsChoice::Testnet | EndpointsChoice::Demo => {
            let env = match cfg.venue.endpoints {
                EndpointsChoice::Production => Environment::Production,
                EndpointsChoice::Testnet => Environment::Testnet,
                _ => Environment::Demo,
            };
            let e = Endpoints::for_environment(env)
                .with_context(|| format!("no endpoints known for {env:?}"))?;
            (e, credentials(&cfg, live)?)
        }
    };
    let setup = LiveSetup {
        config: cfg.clone(),
        endpoints,
        credentials: creds,
        mode,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let quiet = args.quiet;
    let duration = args.duration;
    println!(
        "VeloZ {}: {} strategies, journal {}; Ctrl-C stops (cancels every order, flushes the journal)",
        if live { "live" } else { "paper" },
        cfg.strategies.len(),
        cfg.journal.dir.display()
    );
    let summary = rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::watch::channel(Status::default());
        let tty = std::io::stdout().is_terminal();
        let printer = tokio::spawn(async move {
            let mut n = 0u64;
            while rx.changed().await.is_ok() {
                n += 1;
                let text = rx.borrow_and_update().render();
                if quiet {
                    continue;
                }
                let mut out = std::io::stdout().lock();
                if tty {
                    // Redraw in place.
                    let _ = write!(out, "\x1b[2J\x1b[H{text}");
                } else if n % 10 == 1 {
                    let _ = write!(out, "{text}");
                }
                let _ = out.flush();
            }
        });
        let shutdown = async move {
            match duration {
                Some(s) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = tokio::time::sleep(Duration::from_secs(s)) => {}
                    }
                }
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        let (ctl_tx, ctl_rx) = tokio::sync::mpsc::channel(16);
        // A plain thread: reading standard input blocks.
        std::thread::spawn(move || operator_commands(ctl_tx));
        let r = veloz_live::run(setup, shutdown, tx, ctl_rx).await;
        let _ = printer.await;
        r
    })?;
    println!(
        "\nstopped: {} inputs journaled ({} replayed from an earlier session), {} fills, {} orders open at the end",
        summary.inputs, summary.replayed, summary.fills, summary.open_orders_left
    );
    let m = &summary.metrics;
    println!("tick-to-trade {}", m.tick_to_trade.summary_us());
    println!("order ack     {}", m.order_ack.summary_us());
    println!("feed lag      {}", m.feed_lag.summary_us());
    let state_ok = match veloz_live::engine::verify_replay(&cfg, &summary) {
        Ok(()) => {
            println!(
                "journal: {} replays to the same orders, positions and balances",
                summary.journal_dir.display()
            );
            true
        }
        Err(e) => {
            eprintln!("journal check FAILED: {e}");
            false
        }
    };
    let mut venue_ok = true;
    if let Some(h) = sim.filter(|_| live) {
        let ids: Vec<veloz_core::InstrumentId> = summary.instruments.iter().map(|i| i.id).collect();
        // The embedded venue has one account, the demo account (id 1).
        let open = sim_rt.block_on(h.engine().call(move |e| {
            ids.iter()
                .map(|i| e.sim.open_orders(veloz_sim::AccountId(1), *i).len())
                .sum::<usize>()
        }));
        match open {
            Ok(0) => println!("simulator: no open orders left"),
            Ok(n) => {
                eprintln!("simulator: {n} orders still open");
                venue_ok = false;
            }
            Err(e) => eprintln!("simulator: cannot read its state: {e}"),
        }
    }
    Ok(if summary.open_orders_left == 0 && state_ok && venue_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads operator commands from standard input, one per line.
fn operator_commands(tx: tokio::sync::mpsc::Sender<veloz_runtime::Control>) {
    use std::io::BufRead;
    use veloz_risk::TradingState;
    use veloz_runtime::Control;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let c = match line.trim() {
            "kill" => Control::KillSwitch {
                flatten: false,
                reason: "operator: kill".into(),
            },
            "flatten" => Control::KillSwitch {
                flatten: true,
                reason: "operator: kill and flatten".into(),
            },
            "reduce" => Control::SetTradingState {
                state: TradingState::Reducing,
                reason: "operator".into(),
            },
            "resume" => Control::SetTradingState {
                state: TradingState::Active,
                reason: "operator".into(),
            },
            "" => continue,
            other => {
                eprintln!("unknown command {other:?}: type kill, flatten, reduce or resume");
                continue;
            }
        };
        if tx.blocking_send(c).is_err() {
            return;
        }
    }
}
