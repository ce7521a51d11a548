//! # veloz-bench-simload
//!
//! A bounded load generator for the Binance venue simulator
//! (`veloz-simserver`), loopback only (127.0.0.1), stopping by itself after a
//! fixed time window. It owns the two measurements recorded in
//! `docs/BENCHMARKS.md` ("Binance venue simulator"):
//!
//! * `orders`: N keep-alive HTTP/1.1 connections (one `RestClient` each, our
//!   adapter's transport) send new-order + cancel pairs on spot BTCUSDT, each
//!   request built by `binance::rest::spot` and HMAC-signed by `RestClient`
//!   inside the timed loop. The same load is run against a trivial axum
//!   handler (the HTTP stack's ceiling on this machine) as the baseline of
//!   the same run.
//! * `fanout`: K WebSocket subscribers on one raw stream; the manual market
//!   source is pushed at a fixed rate and each frame's latency is measured
//!   from just before `push_market` to each subscriber's receive, on the
//!   process's monotonic clock. The same subscribers and publishing loop run
//!   first against a bare tokio-tungstenite server that puts each frame in
//!   every connection's queue (the WebSocket stack's floor), as the baseline.
//!
//! Simulator, clients and baseline all run in this one process, on one tokio
//! runtime (`--threads`, default 2 = the machine's cores).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use veloz_core::events::{BookSnapshot, EventTimes, Level, MarketEvent};
use veloz_core::{ClientOrderId, MarketKind, Price, Quantity, Side, UnixNanos};
use veloz_exec::binance::config::{Credentials, Endpoints};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::spot::{self, SpotOrder};
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::rest::OrderRef;
use veloz_exec::binance::transport::http::RestClient;
use veloz_sim::presets;
use veloz_simserver::{
    AccountConfig, BalanceConfig, MarketConfig, MarketStep, RateLimitConfig, ServerConfig,
    ServerHandle, StreamFrame,
};

const API_KEY: &str = "bench-key";
const API_SECRET: &str = "bench-secret";

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Bounded load generator for the veloz Binance venue simulator")]
struct Cli {
    /// Tokio worker threads (simulator and clients share them).
    #[arg(long, default_value_t = 2, global = true)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Signed new-order + cancel pairs over keep-alive connections.
    Orders {
        /// Keep-alive connections (one client task each).
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Length of the timed window, seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Untimed warm-up pairs per connection before the window.
        #[arg(long, default_value_t = 50)]
        warmup: u64,
        /// Skip the trivial-handler baseline.
        #[arg(long)]
        no_baseline: bool,
    },
    /// Market-data fan-out latency to WebSocket subscribers.
    Fanout {
        /// WebSocket subscribers on the same stream.
        #[arg(long, default_value_t = 10)]
        subscribers: usize,
        /// Length of the publishing window, seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Market steps published per second.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Skip the bare WebSocket fan-out baseline.
        #[arg(long)]
        no_baseline: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    println!(
        "runtime: {} tokio worker threads, {} cores (available_parallelism)",
        cli.threads.max(1),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    match cli.cmd {
        Cmd::Orders {
            connections,
            seconds,
            warmup,
            no_baseline,
        } => rt.block_on(orders(
            connections.max(1),
            seconds.max(1),
            warmup,
            no_baseline,
        )),
        Cmd::Fanout {
            subscribers,
            seconds,
            rate,
            no_baseline,
        } => rt.block_on(fanout(
            subscribers.max(1),
            seconds.max(1),
            rate.max(1),
            no_baseline,
        )),
    }
}

fn bench_config() -> ServerConfig {
    let bal = |asset: &str, amount: &str| BalanceConfig {
        asset: asset.into(),
        amount: amount.into(),
    };
    ServerConfig {
        accounts: vec![AccountConfig {
            name: "bench".into(),
            api_key: API_KEY.into(),
            hmac_secret: Some(API_SECRET.into()),
            ed25519_public_key_pem: None,
            spot_balances: vec![bal("USDT", "100000000"), bal("BTC", "100")],
            futures_balances: vec![bal("USDT", "100000000")],
        }],
        market: MarketConfig::Manual,
        // Limits raised far above what this load can reach: the bench
        // measures throughput, not the limiter's refusals.
        rate_limits: RateLimitConfig {
            weight_per_minute: 1_000_000_000,
            orders_per_10s: 1_000_000_000,
            orders_per_day: 1_000_000_000,
            ban_after_429s: 1_000_000_000,
            ban_seconds: 1,
        },
        ..ServerConfig::ephemeral()
    }
}

fn price(s: &str) -> Result<Price> {
    Price::parse(s).map_err(|e| anyhow!("{s}: {e:?}"))
}

fn qty(s: &str) -> Result<Quantity> {
    Quantity::parse(s).map_err(|e| anyhow!("{s}: {e:?}"))
}

/// A spot BTCUSDT book at 60000.00 / 60001.00 for the matching engine.
fn opening_book() -> Result<MarketStep> {
    let inst = presets::spot_btcusdt();
    let level = |p: &str| -> Result<Level> {
        Ok(Level {
            price: price(p)?,
            qty: qty("5.00000")?,
        })
    };
    Ok(MarketStep {
        time: UnixNanos::from_millis(1),
        product: MarketKind::Spot,
        frames: vec![],
        events: vec![MarketEvent::BookSnapshot(BookSnapshot {
            instrument: inst.id,
            last_update_id: 1,
            bids: vec![level("60000.00")?, level("59999.00")?],
            asks: vec![level("60001.00")?, level("60002.00")?],
            times: EventTimes::new(UnixNanos::from_millis(1), UnixNanos::from_millis(1)),
        })],
    })
}

/// Latency summary of a sample, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Summary {
    n: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
}

fn summarize(mut ns: Vec<u64>) -> Option<Summary> {
    if ns.is_empty() {
        return None;
    }
    ns.sort_unstable();
    let n = ns.len();
    let at = |q: f64| {
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        ns[rank - 1] as f64 / 1000.0
    };
    let sum: u128 = ns.iter().map(|&v| u128::from(v)).sum();
    Some(Summary {
        n,
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: ns[n - 1] as f64 / 1000.0,
        mean: sum as f64 / n as f64 / 1000.0,
    })
}

/// What one connection did in the timed window.
#[derive(Debug, Default)]
struct WorkerResult {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_ns: Vec<u64>,
}

/// Result of one orders run against one target.
#[derive(Debug)]
struct OrdersRun {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    latency: Option<Summary>,
}

impl OrdersRun {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

async fn one_request(
    client: &RestClient,
    req: &veloz_exec::binance::rest::RestRequest,
    r: &mut WorkerResult,
    timed: bool,
) {
    let t0 = Instant::now();
    let a = client.send(req).await;
    let dt = t0.elapsed();
    if !timed {
        return;
    }
    match a {
        Ok(_) => {
            r.ok += 1;
            r.latencies_ns.push(dt.as_nanos() as u64);
        }
        Err(e) => {
            r.errors += 1;
            if r.first_error.is_none() {
                r.first_error = Some(e.to_string());
            }
        }
    }
}

/// One connection: new order (GTC limit buy at 30000.00, half the bid: it
/// rests) then cancel of that order, repeated until `deadline`.
async fn worker(
    client: RestClient,
    id: usize,
    warmup: u64,
    start: Arc<tokio::sync::Barrier>,
    window: Duration,
) -> Result<(WorkerResult, Instant, Instant)> {
    let inst = presets::spot_btcusdt();
    let px = price("30000.00")?;
    let q = qty("0.00100")?;
    let mut r = WorkerResult {
        latencies_ns: Vec::with_capacity(1 << 16),
        ..WorkerResult::default()
    };
    let mut seq: u64 = 0;
    let pair = |seq: u64| -> Result<_> {
        let cid = ClientOrderId::new(&format!("ld{id}x{seq}")).map_err(|e| anyhow!("{e:?}"))?;
        let o = SpotOrder::limit(Side::Buy, q, px)
            .time_in_force(TimeInForce::Gtc)
            .client_order_id(cid);
        let new = spot::new_order(&inst, &o, NumberPolicy::Exact).map_err(|e| anyhow!("{e:?}"))?;
        let cancel = spot::cancel_order(&inst.id.symbol, OrderRef::Client(cid));
        Ok((new, cancel))
    };
    for _ in 0..warmup {
        let (new, cancel) = pair(seq)?;
        seq += 1;
        one_request(&client, &new, &mut r, false).await;
        one_request(&client, &cancel, &mut r, false).await;
    }
    start.wait().await;
    let t0 = Instant::now();
    let deadline = t0 + window;
    while Instant::now() < deadline {
        let (new, cancel) = pair(seq)?;
        seq += 1;
        one_request(&client, &new, &mut r, true).await;
        one_request(&client, &cancel, &mut r, true).await;
    }
    Ok((r, t0, Instant::now()))
}

async fn run_orders(
    endpoints: &Endpoints,
    connections: usize,
    seconds: u64,
    warmup: u64,
) -> Result<OrdersRun> {
    let creds = Credentials::hmac(API_KEY, API_SECRET).map_err(|e| anyhow!("{e:?}"))?;
    let barrier = Arc::new(tokio::sync::Barrier::new(connections));
    let mut tasks = Vec::new();
    for id in 0..connections {
        // One client per task: each keeps exactly one keep-alive connection.
        let client = RestClient::new(endpoints, Some(creds.clone()), Duration::from_secs(5));
        tasks.push(tokio::spawn(worker(
            client,
            id,
            warmup,
            barrier.clone(),
            Duration::from_secs(seconds),
        )));
    }
    let mut all = Vec::new();
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    let mut first_start: Option<Instant> = None;
    let mut last_end: Option<Instant> = None;
    for t in tasks {
        let (r, s, e) = t.await.context("worker panicked")??;
        ok += r.ok;
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
        all.extend(r.latencies_ns);
        first_start = Some(first_start.map_or(s, |f| f.min(s)));
        last_end = Some(last_end.map_or(e, |l| l.max(e)));
    }
    let elapsed = match (first_start, last_end) {
        (Some(s), Some(e)) => e - s,
        _ => bail!("no worker ran"),
    };
    Ok(OrdersRun {
        ok,
        errors,
        first_error,
        elapsed,
        latency: summarize(all),
    })
}

/// The baseline: any path answers 200 with a fixed JSON body the size of the
/// simulator's ACK-less spot order answer, after reading the request body.
async fn start_baseline() -> Result<std::net::SocketAddr> {
    const BODY: &str = r#"{"symbol":"BTCUSDT","orderId":1,"orderListId":-1,"clientOrderId":"ld0x0","transactTime":1,"price":"30000.00","origQty":"0.00100","executedQty":"0.00000","cummulativeQuoteQty":"0.00000","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY","workingTime":1,"selfTradePreventionMode":"EXPIRE_MAKER"}"#;
    async fn handler(body: String) -> ([(&'static str, &'static str); 1], &'static str) {
        std::hint::black_box(body);
        ([("content-type", "application/json")], BODY)
    }
    let app = axum::Router::new().fallback(handler);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the baseline listener")?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    Ok(addr)
}

fn print_run(name: &str, r: &OrdersRun) {
    println!(
        "{name}: {} ok requests, {} errors in {:.3} s = {:.0} requests/s",
        r.ok,
        r.errors,
        r.elapsed.as_secs_f64(),
        r.rate()
    );
    if let Some(e) = &r.first_error {
        println!("{name}: first error: {e}");
    }
    if let Some(s) = r.latency {
        println!(
            "{name}: latency (µs) n={} p50={:.1} p99={:.1} p99.9={:.1} max={:.1} mean={:.1}",
            s.n, s.p50, s.p99, s.p999, s.max, s.mean
        );
    }
}

async fn orders(connections: usize, seconds: u64, warmup: u64, no_baseline: bool) -> Result<()> {
    println!(
        "orders: {connections} keep-alive connections, {seconds} s window, {warmup} warm-up pairs each; \
         new GTC limit buy + cancel pairs on spot BTCUSDT, HMAC-signed per request in the loop"
    );
    let baseline = if no_baseline {
        None
    } else {
        let addr = start_baseline().await?;
        let base = format!("http://{addr}");
        let endpoints = Endpoints {
            spot_rest: base.clone(),
            usdm_rest: base.clone(),
            coinm_rest: base.clone(),
            spot_ws: String::new(),
            usdm_ws: String::new(),
            coinm_ws: String::new(),
            spot_ws_api: String::new(),
            usdm_ws_api: String::new(),
            coinm_ws_api: String::new(),
        };
        let r = run_orders(&endpoints, connections, seconds, warmup).await?;
        print_run("baseline (trivial axum handler)", &r);
        Some(r)
    };

    let srv = veloz_simserver::start(bench_config())
        .await
        .context("cannot start the simulator")?;
    srv.push_market(opening_book()?)
        .await
        .map_err(|e| anyhow!("opening book refused: {e:?}"))?;
    let r = run_orders(&srv.endpoints(), connections, seconds, warmup).await?;
    print_run("simulator", &r);

    // Every pair cancelled its own order: nothing may rest afterwards.
    let check = RestClient::new(
        &srv.endpoints(),
        Some(Credentials::hmac(API_KEY, API_SECRET).map_err(|e| anyhow!("{e:?}"))?),
        Duration::from_secs(5),
    );
    let open = check
        .send(&spot::open_orders(None))
        .await
        .map_err(|e| anyhow!("openOrders: {e}"))?;
    println!(
        "simulator: open orders after the run: {}",
        String::from_utf8_lossy(&open.body)
    );
    if let Some(b) = baseline {
        println!(
            "ratio simulator / baseline: {:.3} (requests/s)",
            r.rate() / b.rate()
        );
    }
    Ok(())
}

/// Publishing clock: nanoseconds since `base` at which step `seq` was handed
/// to `push_market`.
struct Published {
    base: Instant,
    at: Vec<AtomicU64>,
}

fn parse_seq(text: &str) -> Option<usize> {
    let i = text.find("\"u\":")? + 4;
    let digits: &str = &text[i..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

async fn subscriber(
    url: String,
    published: Arc<Published>,
    ready: Arc<AtomicUsize>,
    total: usize,
) -> Result<(Vec<u64>, usize)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .context("cannot connect a subscriber")?;
    let mut got_first = false;
    let mut lat = Vec::with_capacity(total);
    let mut received = 0usize;
    loop {
        let msg = match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => bail!("subscriber: {e}"),
            Ok(None) | Err(_) => break,
        };
        let now = published.base.elapsed().as_nanos() as u64;
        let Message::Text(t) = msg else { continue };
        let Some(seq) = parse_seq(t.as_str()) else {
            continue;
        };
        if seq == 0 {
            // Warm-up frame: this subscriber is registered.
            if !got_first {
                got_first = true;
                ready.fetch_add(1, Ordering::SeqCst);
            }
            continue;
        }
        let Some(at) = published.at.get(seq) else {
            continue;
        };
        let sent = at.load(Ordering::SeqCst);
        received += 1;
        lat.push(now.saturating_sub(sent));
        if seq == total {
            break;
        }
    }
    Ok((lat, received))
}

fn depth_frame(seq: u64) -> StreamFrame {
    let data = format!(
        "{{\"e\":\"depthUpdate\",\"E\":{},\"s\":\"BTCUSDT\",\"U\":{seq},\"u\":{seq},\"b\":[[\"60000.00\",\"{}.00000\"]],\"a\":[[\"60001.00\",\"1.00000\"]]}}",
        1_700_000_000_000u64 + seq,
        1 + seq % 7
    );
    StreamFrame {
        stream: Arc::from("btcusdt@depth@100ms"),
        data: Arc::from(data.as_str()),
    }
}

fn step(seq: u64) -> MarketStep {
    MarketStep {
        time: UnixNanos::from_millis(1_700_000_000_000 + seq),
        product: MarketKind::Spot,
        frames: vec![depth_frame(seq)],
        events: vec![],
    }
}

/// Where fan-out frames are published.
enum Publisher {
    /// The simulator: `push_market` of a step carrying the frame.
    Sim(ServerHandle),
    /// The baseline: a bare WebSocket server (tokio-tungstenite) whose
    /// connections each own a bounded queue; publishing puts the frame in
    /// every queue.
    Plain(Arc<std::sync::Mutex<Vec<tokio::sync::mpsc::Sender<Arc<str>>>>>),
}

impl Publisher {
    async fn publish(&self, seq: u64) -> Result<()> {
        match self {
            Publisher::Sim(srv) => srv
                .push_market(step(seq))
                .await
                .map_err(|e| anyhow!("push_market: {e:?}")),
            Publisher::Plain(subs) => {
                let frame = depth_frame(seq).data;
                let subs = subs
                    .lock()
                    .map_err(|_| anyhow!("baseline subscriber list poisoned"))?;
                for s in subs.iter() {
                    // A full queue drops the frame (counted as not received).
                    let _ = s.try_send(frame.clone());
                }
                Ok(())
            }
        }
    }
}

/// Starts the baseline WebSocket server; returns its subscriber URL.
async fn start_plain_ws(
    subs: Arc<std::sync::Mutex<Vec<tokio::sync::mpsc::Sender<Arc<str>>>>>,
) -> Result<String> {
    use futures_util::SinkExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the baseline WebSocket listener")?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let _ = tcp.set_nodelay(true);
            let subs = subs.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<str>>(4096);
                if let Ok(mut v) = subs.lock() {
                    v.push(tx);
                }
                while let Some(f) = rx.recv().await {
                    if ws.send(Message::Text(f.as_ref().into())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("ws://{addr}/ws/btcusdt@depth@100ms"))
}

/// One fan-out measurement against `publisher`.
async fn run_fanout(
    name: &str,
    publisher: &Publisher,
    url: &str,
    subscribers: usize,
    total: usize,
    rate: u64,
) -> Result<Option<Summary>> {
    let published = Arc::new(Published {
        base: Instant::now(),
        at: (0..=total).map(|_| AtomicU64::new(0)).collect(),
    });
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..subscribers {
        tasks.push(tokio::spawn(subscriber(
            url.to_string(),
            published.clone(),
            ready.clone(),
            total,
        )));
    }
    // Warm-up: frame 0 until every subscriber has one (bounded: 10 s).
    let warm_deadline = Instant::now() + Duration::from_secs(10);
    while ready.load(Ordering::SeqCst) < subscribers {
        if Instant::now() > warm_deadline {
            bail!("{name}: subscribers did not all connect within 10 s");
        }
        publisher.publish(0).await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the last warm-up frames drain.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let t0 = Instant::now();
    for seq in 1..=total as u64 {
        tick.tick().await;
        if let Some(at) = published.at.get(seq as usize) {
            at.store(published.base.elapsed().as_nanos() as u64, Ordering::SeqCst);
        }
        publisher.publish(seq).await?;
    }
    let publish_elapsed = t0.elapsed();
    let mut all = Vec::new();
    let mut received = 0;
    for t in tasks {
        let (lat, n) = t.await.context("subscriber panicked")??;
        received += n;
        all.extend(lat);
    }
    println!(
        "{name}: published {total} frames in {:.3} s ({:.0}/s); received {received} of {}",
        publish_elapsed.as_secs_f64(),
        total as f64 / publish_elapsed.as_secs_f64(),
        total * subscribers,
    );
    let s = summarize(all);
    match s {
        Some(s) => println!(
            "{name}: latency (µs) n={} p50={:.1} p99={:.1} p99.9={:.1} max={:.1} mean={:.1}",
            s.n, s.p50, s.p99, s.p999, s.max, s.mean
        ),
        None => println!("{name}: no frame received"),
    }
    Ok(s)
}

async fn fanout(subscribers: usize, seconds: u64, rate: u64, no_baseline: bool) -> Result<()> {
    let total = (rate * seconds) as usize;
    println!(
        "fanout: {subscribers} subscribers on ws /ws/btcusdt@depth@100ms, {total} frames at {rate}/s \
         (one depthUpdate frame each), latency from the publish call to subscriber receive"
    );
    let baseline = if no_baseline {
        None
    } else {
        let subs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let url = start_plain_ws(subs.clone()).await?;
        run_fanout(
            "baseline (bare tokio-tungstenite fan-out)",
            &Publisher::Plain(subs),
            &url,
            subscribers,
            total,
            rate,
        )
        .await?
    };
    let srv = veloz_simserver::start(bench_config())
        .await
        .context("cannot start the simulator")?;
    let url = format!("ws://{}/ws/btcusdt@depth@100ms", srv.spot);
    let sim = run_fanout(
        "simulator",
        &Publisher::Sim(srv.clone()),
        &url,
        subscribers,
        total,
        rate,
    )
    .await?;
    let stats = srv.stats().await.map_err(|e| anyhow!("stats: {e:?}"))?;
    println!(
        "simulator: server stats: frames queued {}, slow disconnects {}",
        stats.market_frames_sent, stats.slow_disconnects
    );
    if let (Some(b), Some(s)) = (baseline, sim) {
        println!(
            "ratio simulator / baseline latency: p50 {:.2}, p99 {:.2}; added by the simulator: p50 {:.1} µs, p99 {:.1} µs",
            s.p50 / b.p50,
            s.p99 / b.p99,
            s.p50 - b.p50,
            s.p99 - b.p99
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_is_read_from_the_frame() {
        let f = depth_frame(1234);
        assert_eq!(parse_seq(&f.data), Some(1234));
        assert_eq!(parse_seq("{\"e\":1}"), None);
    }

    #[test]
    fn percentiles_by_rank() {
        let s = summarize((1..=1000).map(|v| v * 1000).collect()).unwrap();
        assert_eq!((s.n, s.p50, s.p99, s.max), (1000, 500.0, 990.0, 1000.0));
        assert!(summarize(Vec::new()).is_none());
    }
}
