//! `cargo bench -p veloz-bench-live --bench internal_path`: VeloZ's internal
//! tick-to-trade path, in process, on a warm loop.
//!
//! One iteration = one Binance USD-M `bookTicker` frame (text, as it comes off
//! the WebSocket) turned into an order request written to a loopback TCP
//! socket:
//!
//! * **VeloZ**: frame parser → kernel (journal append to a file with group
//!   commit, risk engine checks, market state, the strategy's `on_quote`,
//!   order store) → venue → REST request built, HMAC-signed, encoded and
//!   written with one `write` call.
//! * **Bare** (the same-run baseline): frame parser → the same request
//!   built, signed, encoded and written, with nothing in between.
//!
//! Each order is acknowledged and cancelled back into the kernel after the
//! timing (untimed), so the order store stays at its steady state. The
//! socket's other end is a thread that reads and discards. Timing: one
//! `Instant` before the frame is parsed, one after `write` returned.
//! Reported: p50, p99, max over `VELOZ_PATH_ITERS` iterations (default
//! 20 000) after 2 000 warm-up iterations.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use veloz_core::events::{Command, EventTimes, MarketEvent, OrderEvent, OrderEventKind};
use veloz_core::{InstrumentId, MarketKind, Price, Quantity, Side, UnixNanos, VenueOrderId};
use veloz_exec::binance::config::{Credentials, Endpoints};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::stream::{FrameParser, StreamMessage, StreamSource};
use veloz_exec::binance::transport::http::RestClient;
use veloz_live::Histogram;
use veloz_risk::{RiskConfig, RiskEngine};
use veloz_runtime::{Input, Kernel, KernelConfig, Venue};

/// Writes each submit as a signed REST request to the socket.
struct SocketVenue {
    rest: RestClient,
    inst: veloz_core::Instrument,
    sock: TcpStream,
    written: Option<Instant>,
    last: Option<veloz_core::ClientOrderId>,
}

impl std::fmt::Debug for SocketVenue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SocketVenue")
    }
}

impl SocketVenue {
    fn write(&mut self, req: &veloz_exec::binance::rest::RestRequest) {
        let Ok(signed) = self.rest.sign(req) else {
            return;
        };
        let bytes = self.rest.http(MarketKind::UsdM).encode(
            signed.method.as_str(),
            &signed.path_and_query(),
            &signed.headers(),
            signed.body.as_bytes(),
        );
        if self.sock.write_all(&bytes).is_ok() {
            self.written = Some(Instant::now());
        }
    }
}

impl Venue for SocketVenue {
    fn send(&mut self, command: &Command, _now: UnixNanos) {
        if let Command::Submit(o) = command {
            if let Ok(req) = veloz_live::exec::build_submit(&self.inst, o) {
                self.last = Some(o.client_order_id);
                self.write(&req);
            }
        }
    }
}

/// Submits a post-only buy 1 % under the bid on every quote.
#[derive(Debug)]
struct EveryQuote(InstrumentId);

impl veloz_runtime::Strategy for EveryQuote {
    fn name(&self) -> &str {
        "every-quote"
    }
    fn on_quote(&mut self, ctx: &mut veloz_runtime::Context<'_>, q: &veloz_core::events::Quote) {
        let raw = q.bid.price.raw() / 100 * 99;
        let px = Price::from_raw(raw - raw % 10_000_000, q.bid.price.precision());
        let _ = ctx.submit(
            veloz_runtime::OrderRequest::limit(
                self.0,
                Side::Buy,
                Quantity::from_raw(200_000, 3),
                px,
            )
            .post_only(),
        );
    }
}

fn frame(i: u64) -> String {
    let bid = 6_000_000 + (i % 50) as i64; // cents
    format!(
        "{{\"stream\":\"btcusdt@bookTicker\",\"data\":{{\"e\":\"bookTicker\",\"u\":{},\"s\":\"BTCUSDT\",\"b\":\"{}.{:02}\",\"B\":\"2.507\",\"a\":\"{}.{:02}\",\"A\":\"2.510\",\"T\":{},\"E\":{}}}}}",
        5_123_107_839_020u64 + i,
        bid / 100,
        bid % 100,
        (bid + 10) / 100,
        (bid + 10) % 100,
        1_723_161_256_313u64 + i,
        1_723_161_256_313u64 + i
    )
}

fn sink() -> (TcpStream, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let h = std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = vec![0u8; 1 << 16];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    let sock = TcpStream::connect(addr).expect("connect");
    let _ = sock.set_nodelay(true);
    (sock, h)
}

fn rest() -> RestClient {
    let e = Endpoints::single_host("http://127.0.0.1:1", "ws://127.0.0.1:1");
    RestClient::new(
        &e,
        Some(Credentials::hmac("demo", "demo-secret").expect("creds")),
        Duration::from_secs(1),
    )
}

fn veloz(iters: u64, warm: u64) -> Histogram {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let id = inst.id;
    let (sock, _h) = sink();
    let mut venue = SocketVenue {
        rest: rest(),
        inst: inst.clone(),
        sock,
        written: None,
        last: None,
    };
    let mut kernel = Kernel::new(&KernelConfig::default()).expect("kernel");
    kernel.add_instrument(inst);
    kernel
        .add_strategy("every-quote", Box::new(EveryQuote(id)))
        .expect("strategy");
    let risk = RiskConfig {
        max_orders_per_window: 0,
        max_cancels_per_window: 0,
        ..RiskConfig::default()
    };
    kernel.set_risk(RiskEngine::new(risk).expect("risk"));
    let dir = std::env::temp_dir().join(format!("veloz-path-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let journal = veloz_store::FileJournal::open(
        &dir,
        veloz_store::JournalOptions::with_fsync(veloz_store::FsyncPolicy::Group {
            max_records: 256,
            max_delay_ms: 5,
        }),
    )
    .expect("journal");
    kernel.set_journal(Box::new(journal));
    let mut parser = FrameParser::new(StreamSource::binance(MarketKind::UsdM));
    let t0 = veloz_exec::binance::transport::local_now();
    kernel.handle(t0, Input::Start, &mut venue).expect("start");
    let frames: Vec<String> = (0..iters + warm).map(frame).collect();
    let mut h = Histogram::new();
    for (i, text) in frames.iter().enumerate() {
        let now = UnixNanos(t0.0 + i as u64 * 1_000_000);
        let start = Instant::now();
        let Ok(StreamMessage::BookTicker(q)) = parser.parse(text, now) else {
            panic!("the frame parses");
        };
        venue.written = None;
        kernel
            .handle_market(now, &MarketEvent::Quote(q), &mut venue)
            .expect("kernel");
        if let Some(w) = venue.written {
            if i as u64 >= warm {
                h.record(u64::try_from(w.duration_since(start).as_nanos()).unwrap_or(u64::MAX));
            }
        }
        // Untimed: the venue acknowledges and the order is cancelled.
        if let Some(cid) = venue.last.take() {
            for kind in [OrderEventKind::Accepted, OrderEventKind::Canceled] {
                let ev = OrderEvent {
                    instrument: id,
                    client_order_id: cid,
                    venue_order_id: Some(VenueOrderId(i as u64 + 1)),
                    kind,
                    times: EventTimes::new(now, now),
                };
                kernel
                    .handle(now, Input::Order(ev), &mut venue)
                    .expect("kernel");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    h
}

fn bare(iters: u64, warm: u64) -> Histogram {
    let inst = veloz_sim::presets::usdm_btcusdt();
    let (sock, _h) = sink();
    let mut venue = SocketVenue {
        rest: rest(),
        inst: inst.clone(),
        sock,
        written: None,
        last: None,
    };
    let mut parser = FrameParser::new(StreamSource::binance(MarketKind::UsdM));
    let frames: Vec<String> = (0..iters + warm).map(frame).collect();
    let mut h = Histogram::new();
    for (i, text) in frames.iter().enumerate() {
        let now = UnixNanos(i as u64);
        let start = Instant::now();
        let Ok(StreamMessage::BookTicker(q)) = parser.parse(text, now) else {
            panic!("the frame parses");
        };
        let raw = q.bid.price.raw() / 100 * 99;
        let px = Price::from_raw(raw - raw % 10_000_000, q.bid.price.precision());
        let Ok(cid) = veloz_core::ClientOrderId::new(&format!("bare.{i}")) else {
            continue;
        };
        let order = FuturesOrder::limit(Side::Buy, Quantity::from_raw(200_000, 3), px)
            .time_in_force(TimeInForce::Gtx)
            .client_order_id(cid);
        let Ok(req) = FuturesApi::USDM.new_order(&inst, &order, NumberPolicy::Exact) else {
            continue;
        };
        venue.written = None;
        venue.write(&req);
        if let (Some(w), true) = (venue.written, i as u64 >= warm) {
            h.record(u64::try_from(w.duration_since(start).as_nanos()).unwrap_or(u64::MAX));
        }
    }
    h
}

fn main() {
    if !veloz_bench_live::selected("internal_path") {
        return;
    }
    let iters: u64 = std::env::var("VELOZ_PATH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let warm = 2_000;
    let b = bare(iters, warm);
    let v = veloz(iters, warm);
    println!("internal tick-to-trade path, warm loop, {iters} iterations:");
    println!("| path | p50 | p99 | max | samples |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "{}",
        veloz_bench_live::table_row(
            "VeloZ (parse, journal, risk, kernel, strategy, OMS, sign, write)",
            &v
        )
    );
    println!(
        "{}",
        veloz_bench_live::table_row("bare (parse, build, sign, write)", &b)
    );
    if let (Some(a), Some(c)) = (v.quantile(500), b.quantile(500)) {
        println!("p50 ratio VeloZ / bare: {}", veloz_bench_live::ratio(a, c));
    }
}
