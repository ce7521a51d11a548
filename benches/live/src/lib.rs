//! Tick-to-trade on loopback (issue #6, item 8).
//!
//! Both measurements run in one process against one Binance simulator
//! (its own thread), on the same USD-M BTCUSDT market:
//!
//! * **VeloZ**: the live engine ([`veloz_live::run`]) with [`Pinger`], an
//!   SDK strategy that answers a quote with an order (a post-only buy 1 %
//!   under the bid, at most one every `every_ms`, cancelled on a later
//!   quote). The engine's own histogram measures from the WebSocket frame's
//!   receive time to the moment the order request's last byte was written to
//!   the socket: parse, journal (file, group commit), kernel, risk checks,
//!   strategy, order store, execution client, signing, write.
//! * **Bare loop** (the baseline): the same transport pieces without VeloZ's
//!   engine: a market stream, the frame parser, then at once a signed REST
//!   order on the same pacing; same two timestamps. It is the floor a
//!   hand-written single-purpose bot on our transport would reach.
//!
//! Both report p50 / p99 / max and the sample count; the ratio is VeloZ ÷
//! bare loop.

use std::sync::Arc;
use std::time::Duration;

use veloz_core::events::Quote;
use veloz_core::{ClientOrderId, InstrumentId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::config::{Credentials, Endpoints};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::rest::OrderRef;
use veloz_exec::binance::stream::{FrameParser, StreamMessage, StreamSource};
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::market::{MarketStream, MarketStreamConfig, StreamEvent};
use veloz_live::config::{CustomStrategy, LiveConfig};
use veloz_live::{Histogram, LiveSetup, Mode};
use veloz_runtime::{Context, OrderRequest, Strategy};

/// Answers quotes with orders (see the module docs).
#[derive(Debug)]
pub struct Pinger {
    instrument: InstrumentId,
    every_nanos: u64,
    open: Option<ClientOrderId>,
    last: UnixNanos,
}

impl Pinger {
    /// A pinger on `instrument`, at most one order every `every_ms`.
    pub fn new(instrument: InstrumentId, every_ms: u64) -> Self {
        Self {
            instrument,
            every_nanos: every_ms * 1_000_000,
            open: None,
            last: UnixNanos(0),
        }
    }
}

fn below(bid: Price) -> Price {
    // 1 % under the bid, on the 0.10 tick of BTCUSDT.
    let raw = bid.raw() / 100 * 99;
    Price::from_raw(raw - raw % 10_000_000, bid.precision())
}

impl Strategy for Pinger {
    fn name(&self) -> &str {
        "pinger"
    }

    fn on_quote(&mut self, ctx: &mut Context<'_>, q: &Quote) {
        if q.instrument != self.instrument {
            return;
        }
        if let Some(id) = self.open {
            if ctx.order(&id).is_some_and(|o| o.is_closed()) {
                self.open = None;
            } else if ctx.order(&id).is_some_and(|o| o.venue_order_id().is_some()) {
                let _ = ctx.cancel(id);
                self.open = None;
            }
            return;
        }
        let now = ctx.now();
        if now.0.saturating_sub(self.last.0) < self.every_nanos {
            return;
        }
        self.last = now;
        let req = OrderRequest::limit(
            self.instrument,
            Side::Buy,
            Quantity::from_raw(200_000, 3),
            below(q.bid.price),
        )
        .post_only();
        if let Ok(id) = ctx.submit(req) {
            self.open = Some(id);
        }
    }
}

/// One measured path.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Frame received to request written, nanoseconds.
    pub tick_to_trade: Histogram,
    /// Orders sent.
    pub orders: u64,
}

/// Starts the simulator (synthetic market, real time) on its own thread.
pub fn simulator(rt: &tokio::runtime::Runtime) -> veloz_simserver::ServerHandle {
    let server = veloz_simserver::ServerConfig {
        market: veloz_simserver::MarketConfig::Synthetic {
            synth: Default::default(),
            speed: 1,
        },
        accounts: vec![veloz_simserver::AccountConfig::demo()],
        ..veloz_simserver::ServerConfig::ephemeral()
    };
    rt.block_on(veloz_simserver::start(server))
        .expect("the simulator starts")
}

fn creds() -> Credentials {
    Credentials::hmac("demo", "demo-secret").expect("valid demo credentials")
}

fn usdm() -> InstrumentId {
    InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").expect("valid id")
}

/// VeloZ's live engine for `secs` seconds.
pub fn veloz(endpoints: &Endpoints, secs: u64, every_ms: u64) -> Measured {
    let dir = std::env::temp_dir().join(format!("veloz-t2t-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = LiveConfig::parse(
        "[journal]\nfsync = \"group\"\n[risk]\nmax_orders_per_window = 0\nmax_cancels_per_window = 0\n[live]\nstreams = [\"bookTicker\"]\ndead_man_switch_ms = 0\n",
        std::path::Path::new("bench.toml"),
    )
    .expect("bench config");
    cfg.journal.dir = dir.clone();
    let id = usdm();
    cfg.custom.push(CustomStrategy {
        id: "pinger".into(),
        instruments: vec![id],
        factory: Arc::new(move || Box::new(Pinger::new(id, every_ms))),
    });
    let setup = LiveSetup {
        config: cfg,
        endpoints: endpoints.clone(),
        credentials: Some(creds()),
        mode: Mode::Live,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let summary = rt
        .block_on(async move {
            // The deadline's timer needs the runtime: made inside it.
            veloz_live::run_unattended(setup, tokio::time::sleep(Duration::from_secs(secs))).await
        })
        .expect("the live session runs");
    let _ = std::fs::remove_dir_all(&dir);
    Measured {
        orders: summary.metrics.commands,
        tick_to_trade: summary.metrics.tick_to_trade,
    }
}

/// The bare loop for `secs` seconds (see the module docs).
pub fn bare(endpoints: &Endpoints, secs: u64, every_ms: u64) -> Measured {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let endpoints = endpoints.clone();
    rt.block_on(async move {
        let rest = RestClient::new(&endpoints, Some(creds()), Duration::from_secs(5));
        let _ = rest.sync_time(MarketKind::UsdM).await;
        let inst = veloz_sim::presets::usdm_btcusdt();
        let mut market = MarketStream::new(MarketStreamConfig::new(
            endpoints.ws_base(MarketKind::UsdM),
            &["btcusdt@bookTicker"],
            7,
        ));
        let mut parser = FrameParser::new(StreamSource::binance(MarketKind::UsdM));
        let mut h = Histogram::new();
        let mut orders = 0u64;
        let mut last = 0u64;
        let mut seq = 0u64;
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < end {
            let Ok(Ok(StreamEvent::Frame(f))) =
                tokio::time::timeout(Duration::from_secs(1), market.next_event()).await
            else {
                continue;
            };
            let Ok(StreamMessage::BookTicker(q)) = parser.parse(&f.text, f.local) else {
                continue;
            };
            if f.local.0.saturating_sub(last) < every_ms * 1_000_000 {
                continue;
            }
            last = f.local.0;
            seq += 1;
            let Ok(id) = ClientOrderId::new(&format!("bare.{seq}")) else {
                continue;
            };
            let order = FuturesOrder::limit(
                Side::Buy,
                Quantity::from_raw(200_000, 3),
                below(q.bid.price),
            )
            .time_in_force(TimeInForce::Gtx)
            .client_order_id(id);
            let Ok(req) = FuturesApi::USDM.new_order(&inst, &order, NumberPolicy::Exact) else {
                continue;
            };
            if let Ok(a) = rest.send(&req).await {
                h.record(a.written.0.saturating_sub(f.local.0));
                orders += 1;
                let _ = rest
                    .send(&FuturesApi::USDM.cancel_order(&inst.id.symbol, OrderRef::Client(id)))
                    .await;
            }
        }
        Measured {
            tick_to_trade: h,
            orders,
        }
    })
}

/// One Markdown table row: `| name | p50 | p99 | max | samples |`.
pub fn table_row(name: &str, h: &Histogram) -> String {
    let q = |p| {
        h.quantile(p)
            .map(veloz_live::metrics::fmt_us)
            .unwrap_or_else(|| "-".into())
    };
    format!(
        "| {name} | {} | {} | {} | {} |",
        q(500),
        q(990),
        h.max()
            .map(veloz_live::metrics::fmt_us)
            .unwrap_or_else(|| "-".into()),
        h.count()
    )
}

/// `a / b` with two decimals, for the ratio lines.
pub fn ratio(a: u64, b: u64) -> String {
    let b = b.max(1);
    format!("{}.{:02}", a / b, (a * 100 / b) % 100)
}

/// Whether `cargo bench`'s filter argument (if any) selects `name`.
pub fn selected(name: &str) -> bool {
    !std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !name.contains(&a))
}
