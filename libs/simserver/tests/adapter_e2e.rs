//! Our adapter's live transport (`veloz_exec::binance::transport`) against
//! the running simulator, end to end: the market-stream client, the book-sync
//! driver with REST snapshots, the REST client placing and cancelling orders,
//! the futures user-data client seeing the fills; a real capture replayed by
//! the simulator and re-recorded by the adapter passes `verify_capture` with
//! zero gaps; and the clients reconnect and resync after injected faults
//! (closed connections, withheld, dropped, swapped and duplicated depth diffs,
//! `serverShutdown`, an expired listenKey) and after a client-side
//! disconnect; a stream subscribed live is subscribed again on reconnect.
//!
//! Every wait is bounded by a tokio timeout, so a broken adapter fails the
//! test instead of hanging it. Nothing asserts on speed.

mod common;

use std::time::Duration;

use common::*;
use veloz_core::fixtures::fixture;
use veloz_core::{ClientOrderId, InstrumentId, MarketKind, Price, Quantity, Side};
use veloz_exec::binance::capture::CaptureReader;
use veloz_exec::binance::ratelimit::RateLimitType;
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::responses::FuturesOrderReport;
use veloz_exec::binance::rest::types::{OrderStatus, TimeInForce};
use veloz_exec::binance::rest::OrderRef;
use veloz_exec::binance::stream::StreamMessage;
use veloz_exec::binance::transport::book::BookDriver;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::market::{MarketStream, MarketStreamConfig, StreamEvent};
use veloz_exec::binance::transport::recorder::Recorder;
use veloz_exec::binance::transport::user::FuturesUserStream;
use veloz_exec::binance::transport::{local_now, Backoff};
use veloz_exec::binance::user_data::{ExecutionType, UserDataMessage, VenueOrderStatus};
use veloz_exec::binance::verify::{verify_capture, VerifyOptions};
use veloz_sim::presets;
use veloz_sim::synth::SynthConfig;
use veloz_simserver::config::CaptureFileConfig;
use veloz_simserver::{ConnectionKind, FaultKind, FaultRule, MarketConfig, ServerHandle};

/// Bound on any single wait (one frame, one answer).
const STEP: Duration = Duration::from_secs(30);
const STREAMS: [&str; 3] = ["btcusdt@depth@0ms", "btcusdt@bookTicker", "btcusdt@trade"];

fn usdm_id() -> InstrumentId {
    InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap()
}

async fn synthetic_server() -> ServerHandle {
    let mut cfg = config();
    cfg.market = MarketConfig::Synthetic {
        synth: SynthConfig::default(),
        speed: 0,
    };
    veloz_simserver::start(cfg).await.unwrap()
}

fn market_stream(srv: &ServerHandle, seed: u64) -> MarketStream {
    market_stream_on(srv, seed, &STREAMS)
}

fn market_stream_on(srv: &ServerHandle, seed: u64, streams: &[&str]) -> MarketStream {
    let mut cfg = MarketStreamConfig::new(srv.endpoints().ws_base(MarketKind::UsdM), streams, seed);
    // Small delays so reconnects in tests are quick; still exponential and jittered.
    cfg.backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(200), seed);
    cfg.max_attempts = Some(20);
    MarketStream::new(cfg)
}

fn rest_client(srv: &ServerHandle) -> RestClient {
    RestClient::new(
        &srv.endpoints(),
        Some(hmac_creds()),
        Duration::from_secs(10),
    )
}

/// What the pump saw.
#[derive(Debug, Default)]
struct Seen {
    events: u64,
    diffs: u64,
    tickers: u64,
    trades: u64,
    connected: u64,
    disconnected: u64,
    shutdowns: u64,
}

/// Feeds stream events to the driver until `done` says so (at most
/// `max_events` events; each wait bounded by [`STEP`]).
async fn pump(
    market: &mut MarketStream,
    driver: &mut BookDriver,
    rest: &RestClient,
    seen: &mut Seen,
    max_events: u64,
    mut done: impl FnMut(&BookDriver, &Seen) -> bool,
) {
    let start = seen.events;
    while !done(driver, seen) {
        assert!(
            seen.events - start < max_events,
            "condition not reached after {max_events} events: {seen:?}, {:?}, {:?}",
            driver.counters(),
            driver.sync().counters()
        );
        let ev = tokio::time::timeout(STEP, market.next_event())
            .await
            .unwrap_or_else(|_| panic!("no stream event within {STEP:?}: {seen:?}"))
            .unwrap();
        seen.events += 1;
        match &ev {
            StreamEvent::Connected { .. } => seen.connected += 1,
            StreamEvent::Disconnected { .. } => seen.disconnected += 1,
            StreamEvent::Frame(_) => {}
        }
        let msg = tokio::time::timeout(STEP, driver.on_event(rest, &ev))
            .await
            .expect("driver step timed out")
            .unwrap();
        match msg {
            Some(StreamMessage::Depth(_)) => seen.diffs += 1,
            Some(StreamMessage::BookTicker(_)) => seen.tickers += 1,
            Some(StreamMessage::Trade(_)) => seen.trades += 1,
            Some(StreamMessage::ServerShutdown { .. }) => seen.shutdowns += 1,
            _ => {}
        }
    }
}

fn assert_book_sane(driver: &BookDriver) {
    assert!(driver.is_synced(), "{:?}", driver.sync().counters());
    let book = driver.book();
    let (bid, ask) = (book.best_bid().unwrap(), book.best_ask().unwrap());
    assert!(bid.price < ask.price, "crossed: {bid:?} / {ask:?}");
    assert!(!book.is_crossed());
}

/// The next order update of `venue_order_id` with `exec` on the user stream.
async fn await_order(
    user: &mut FuturesUserStream,
    rest: &RestClient,
    venue_order_id: u64,
    exec: ExecutionType,
) -> veloz_exec::binance::user_data::OrderReport {
    for _ in 0..1000 {
        let (_, m) = tokio::time::timeout(STEP, user.next_message(rest))
            .await
            .expect("no user-data message in time")
            .unwrap();
        if let UserDataMessage::Order(u) = m {
            if u.report.venue_order_id.0 == venue_order_id && u.report.execution_type == exec {
                return u.report;
            }
        }
    }
    panic!("no {exec:?} for order {venue_order_id}");
}

/// Connects the user stream and waits until the server has registered it
/// (its answer to `LIST_SUBSCRIPTIONS` comes after the registration).
async fn user_stream_ready(user: &mut FuturesUserStream, rest: &RestClient) {
    user.ensure_connected(rest).await.unwrap();
    user.send_text("{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}")
        .await
        .unwrap();
    loop {
        let (_, m) = tokio::time::timeout(STEP, user.next_message(rest))
            .await
            .expect("no answer on the user stream")
            .unwrap();
        if matches!(m, UserDataMessage::Unknown { .. }) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_syncs_the_book_trades_and_cancels_on_usdm() {
    let srv = synthetic_server().await;
    let rest = rest_client(&srv);
    let mut market = market_stream(&srv, 1);
    let mut driver = BookDriver::new(usdm_id(), 1000).unwrap();
    let mut seen = Seen::default();

    // Connect, subscribe (combined URL), sync from a REST snapshot + diffs.
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        50_000,
        |d, s| d.is_synced() && d.sync().counters().applied >= 200 && s.tickers > 0 && s.trades > 0,
    )
    .await;
    assert_eq!(seen.connected, 1);
    assert_eq!(driver.counters().gaps, 0);
    assert_eq!(driver.sync().counters().gaps, 0);
    assert!(driver.counters().snapshots_used >= 1);
    assert_book_sane(&driver);

    // Futures user data: listenKey over REST, the /private stream.
    let mut user = FuturesUserStream::new(
        MarketKind::UsdM,
        srv.endpoints().ws_base(MarketKind::UsdM),
        3,
    )
    .unwrap();
    user_stream_ready(&mut user, &rest).await;
    assert!(user.keeper().key().is_some());

    // A marketable order through our REST client; its fill on our user stream.
    let inst = presets::usdm_btcusdt();
    let qty = Quantity::parse("0.010").unwrap();
    let order = FuturesOrder::market(Side::Buy, qty)
        .client_order_id(ClientOrderId::new("e2e-taker-1").unwrap());
    let req = FuturesApi::USDM
        .new_order(&inst, &order, NumberPolicy::Exact)
        .unwrap();
    let placed: FuturesOrderReport = rest.send_json(&req).await.unwrap();
    assert_eq!(placed.client_order_id, "e2e-taker-1");
    let fill = await_order(&mut user, &rest, placed.order_id, ExecutionType::Trade).await;
    assert_eq!(fill.side, Side::Buy);
    assert!(fill.last_qty.raw() > 0);
    let mut filled = fill.cum_qty;
    let mut status = fill.status;
    while status != VenueOrderStatus::Filled {
        let more = await_order(&mut user, &rest, placed.order_id, ExecutionType::Trade).await;
        filled = more.cum_qty;
        status = more.status;
    }
    assert_eq!(filled, qty);
    // The rate limiter was fed from the answers' headers (weight and order
    // count windows appear only from `X-MBX-*` headers here).
    let kinds: Vec<RateLimitType> = rest
        .with_rate_limiter(|l| l.usage(local_now()).iter().map(|u| u.kind).collect())
        .unwrap();
    assert!(kinds.contains(&RateLimitType::RequestWeight), "{kinds:?}");
    assert!(kinds.contains(&RateLimitType::Orders), "{kinds:?}");

    // A resting order, then its cancel.
    let bid = driver.book().best_bid().unwrap().price;
    let far = Price::from_raw(bid.raw() / 100 * 98, bid.precision());
    let resting = FuturesOrder::limit(Side::Buy, qty, far)
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(ClientOrderId::new("e2e-maker-1").unwrap());
    let req = FuturesApi::USDM
        .new_order(&inst, &resting, NumberPolicy::Snap)
        .unwrap();
    let placed: FuturesOrderReport = rest.send_json(&req).await.unwrap();
    assert_eq!(placed.status, OrderStatus::New);
    let new = await_order(&mut user, &rest, placed.order_id, ExecutionType::New).await;
    assert_eq!(new.status, VenueOrderStatus::New);
    let cancel = FuturesApi::USDM.cancel_order(
        &inst.id.symbol,
        OrderRef::Venue(veloz_core::VenueOrderId(placed.order_id)),
    );
    let cancelled: FuturesOrderReport = rest.send_json(&cancel).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Canceled);
    let c = await_order(&mut user, &rest, placed.order_id, ExecutionType::Canceled).await;
    assert_eq!(c.status, VenueOrderStatus::Canceled);

    // A definite rejection is a typed error, not retried: cancelling it again.
    let again = rest.send(&cancel).await.unwrap_err();
    assert!(again.is_definite_failure(), "{again:?}");
    assert!(again.code().is_some());

    // The REST connections were kept alive and reused.
    assert!(rest.http(MarketKind::UsdM).idle_connections() >= 1);

    // The market kept flowing and the book stayed in sync meanwhile.
    let applied = driver.sync().counters().applied;
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        50_000,
        |d, _| d.sync().counters().applied >= applied + 100,
    )
    .await;
    assert_eq!(driver.sync().counters().gaps, 0);
    assert_book_sane(&driver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_capture_re_recorded_by_the_adapter_verifies_with_zero_gaps() {
    let path =
        fixture("binance/hftbacktest/usdm_btcusdt_20240808.gz").expect("USD-M capture fixture");
    // What the simulator will publish: every stream frame of the capture.
    let mut expected = 0u64;
    let mut reader = CaptureReader::open(&[&path]).unwrap();
    while let Some(l) = reader.next_line().unwrap() {
        if !l.is_snapshot() {
            expected += 1;
        }
    }
    assert!(expected > 90_000, "{expected}");

    let mut cfg = config();
    cfg.market = MarketConfig::Capture {
        files: vec![CaptureFileConfig {
            product: "usdm".into(),
            path: path.clone(),
        }],
        speed: 0,
    };
    let srv = veloz_simserver::start(cfg).await.unwrap();
    let rest = rest_client(&srv);
    // `VELOZ_E2E_RECORDING=<file>` keeps the recording there (to run
    // `veloz data verify-book <file>` on it by hand).
    let keep = std::env::var_os("VELOZ_E2E_RECORDING").map(std::path::PathBuf::from);
    let dir = std::env::temp_dir().join(format!("veloz-adapter-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = keep
        .clone()
        .unwrap_or_else(|| dir.join("usdm_rerecorded.txt"));
    let mut driver = BookDriver::new(usdm_id(), 1000)
        .unwrap()
        .with_recorder(Recorder::create(&out).unwrap());
    let mut market = market_stream(&srv, 2);
    let mut seen = Seen::default();
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        expected + 10,
        |d, _| d.counters().frames >= expected,
    )
    .await;
    assert_eq!(seen.connected, 1, "no reconnect during the replay");
    assert_eq!(seen.disconnected, 0);
    assert_eq!(driver.counters().frames, expected);
    assert_eq!(driver.counters().gaps, 0, "{:?}", driver.sync().counters());
    assert_book_sane(&driver);
    let rec = driver.take_recorder().unwrap().unwrap();
    assert_eq!(rec.frames(), expected);
    let snapshots = rec.snapshots();
    assert!(snapshots >= 1);
    assert_eq!(snapshots, driver.counters().snapshots_used);
    drop(rec);

    let report = verify_capture(&[&out], &VerifyOptions::default()).unwrap();
    assert_eq!(report.gaps(), 0, "{report:?}");
    assert!(report.is_ok(), "{report:?}");
    // The verifier replayed what our driver did: same bridges, same diffs
    // applied, same final book, and the tickers agree with the book.
    assert_eq!(report.instruments.len(), 1);
    let r = &report.instruments[0];
    assert_eq!(r.instrument, usdm_id());
    assert_eq!(r.counters.gaps, 0);
    assert_eq!(r.bridges.len() as u64, snapshots);
    assert_eq!(r.counters.applied, driver.sync().counters().applied);
    assert!(r.counters.applied > 6_000, "{:?}", r.counters);
    assert_eq!(r.final_book_id, driver.book().last_update_id());
    assert_eq!(r.best_bid, driver.book().best_bid());
    assert_eq!(r.best_ask, driver.book().best_ask());
    assert!(r.ticker_checks > 0);
    assert_eq!(r.ticker_mismatches, 0);
    assert_eq!(srv.stats().await.unwrap().slow_disconnects, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Syncs, then runs `fault` and checks the driver recovers: reconnected
/// `reconnects` times, saw `gaps` gaps, and is in sync again with diffs
/// applied after the recovery.
async fn recover_after(
    srv: &ServerHandle,
    market: &mut MarketStream,
    driver: &mut BookDriver,
    rest: &RestClient,
    seen: &mut Seen,
    inject: Option<FaultRule>,
) {
    if let Some(rule) = inject {
        srv.inject(rule).await.unwrap();
    } else {
        market.disconnect().await;
    }
    let bridges = driver.sync().counters().bridges;
    let connected = seen.connected;
    let gaps = driver.counters().gaps;
    pump(market, driver, rest, seen, 100_000, |d, s| {
        (s.connected > connected || d.counters().gaps > gaps)
            && d.sync().counters().bridges > bridges
            && d.is_synced()
    })
    .await;
    let applied = driver.sync().counters().applied;
    pump(market, driver, rest, seen, 50_000, |d, _| {
        d.sync().counters().applied >= applied + 50
    })
    .await;
    assert_book_sane(driver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_client_reconnects_and_resyncs_after_each_fault() {
    let srv = synthetic_server().await;
    let rest = rest_client(&srv);
    // bookTicker is not in the URL: it is subscribed live below.
    let mut market = market_stream_on(&srv, 4, &[STREAMS[0], STREAMS[2]]);
    let mut driver = BookDriver::new(usdm_id(), 1000).unwrap();
    let mut seen = Seen::default();
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        50_000,
        |d, _| d.is_synced() && d.sync().counters().applied >= 50,
    )
    .await;
    assert_eq!(seen.tickers, 0);
    market.subscribe("btcusdt@bookTicker").await.unwrap();
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        50_000,
        |_, s| s.tickers >= 10,
    )
    .await;

    // 1. The server closes the market connection.
    recover_after(
        &srv,
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        Some(FaultRule::new(FaultKind::CloseConnections).connection(ConnectionKind::Market)),
    )
    .await;
    assert_eq!(srv.fault_count(FaultKind::CloseConnections), 1);
    assert_eq!((seen.disconnected, seen.connected), (1, 2));
    assert_eq!(driver.counters().reconnects, 1);
    // The live subscription is part of the reconnection.
    assert!(
        market.url().contains("btcusdt@bookTicker"),
        "{}",
        market.url()
    );
    let tickers = seen.tickers;
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        50_000,
        |_, s| s.tickers >= tickers + 10,
    )
    .await;

    // 2. A diff is withheld: a gap, a new snapshot, in sync again (no reconnect).
    recover_after(
        &srv,
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        Some(
            FaultRule::new(FaultKind::SkipDepthIds)
                .product(MarketKind::UsdM)
                .symbol("BTCUSDT"),
        ),
    )
    .await;
    assert_eq!(srv.fault_count(FaultKind::SkipDepthIds), 1);
    assert_eq!(driver.counters().gaps, 1);
    assert!(driver.sync().counters().resyncs >= 1);
    assert_eq!(seen.connected, 2, "a gap needs no reconnect");

    // 2b. A dropped depth frame is a gap too; a duplicated one is ignored.
    recover_after(
        &srv,
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        Some(
            FaultRule::new(FaultKind::DropFrames)
                .product(MarketKind::UsdM)
                .stream(STREAMS[0]),
        ),
    )
    .await;
    assert_eq!(srv.fault_count(FaultKind::DropFrames), 1);
    assert_eq!(driver.counters().gaps, 2);
    let stale = driver.sync().counters().stale;
    srv.inject(
        FaultRule::new(FaultKind::DuplicateFrames)
            .product(MarketKind::UsdM)
            .stream(STREAMS[0]),
    )
    .await
    .unwrap();
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        50_000,
        |d, _| d.sync().counters().stale > stale,
    )
    .await;
    let applied = driver.sync().counters().applied;
    pump(
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        50_000,
        |d, _| d.sync().counters().applied >= applied + 20,
    )
    .await;
    assert_eq!(srv.fault_count(FaultKind::DuplicateFrames), 1);
    assert_eq!(driver.counters().gaps, 2, "a duplicate is not a gap");
    assert_book_sane(&driver);
    assert_eq!(seen.connected, 2);

    // 2c. Two diffs swapped: the later one is a gap, the earlier one is then
    // older than the new snapshot.
    recover_after(
        &srv,
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        Some(
            FaultRule::new(FaultKind::ReorderFrames)
                .product(MarketKind::UsdM)
                .stream(STREAMS[0]),
        ),
    )
    .await;
    assert_eq!(srv.fault_count(FaultKind::ReorderFrames), 1);
    assert_eq!(driver.counters().gaps, 3);
    assert_eq!(seen.connected, 2);

    // 3. `serverShutdown`, then the close.
    recover_after(
        &srv,
        &mut market,
        &mut driver,
        &rest,
        &mut seen,
        Some(FaultRule::new(FaultKind::ServerShutdown).product(MarketKind::UsdM)),
    )
    .await;
    assert_eq!(srv.fault_count(FaultKind::ServerShutdown), 1);
    assert_eq!(seen.shutdowns, 1);
    assert_eq!(seen.connected, 3);

    // 4. The client drops the connection itself.
    recover_after(&srv, &mut market, &mut driver, &rest, &mut seen, None).await;
    assert_eq!(seen.connected, 4);
    assert_eq!(driver.counters().reconnects, 3);
    assert_eq!(market.connections(), 4);
}

/// Places a marketable buy and waits for its fill on `user`.
async fn place_and_see(user: &mut FuturesUserStream, rest: &RestClient, n: u32) {
    let order = FuturesOrder::market(Side::Buy, Quantity::parse("0.010").unwrap())
        .client_order_id(ClientOrderId::new(&format!("e2e-user-{n}")).unwrap());
    let req = FuturesApi::USDM
        .new_order(&presets::usdm_btcusdt(), &order, NumberPolicy::Exact)
        .unwrap();
    let placed: FuturesOrderReport = rest.send_json(&req).await.unwrap();
    await_order(user, rest, placed.order_id, ExecutionType::Trade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_stream_reconnects_after_a_close_and_an_expired_listen_key() {
    let srv = synthetic_server().await;
    let rest = rest_client(&srv);
    // The synthetic market needs a reader to move; a book for the engine is
    // there from the start, which is all the orders need.
    let mut user = FuturesUserStream::new(
        MarketKind::UsdM,
        srv.endpoints().ws_base(MarketKind::UsdM),
        5,
    )
    .unwrap();
    user_stream_ready(&mut user, &rest).await;
    let first_key = user.keeper().key().unwrap().to_string();
    // A keepalive (`PUT listenKey`) is accepted and keeps the key.
    user.keepalive(&rest).await.unwrap();
    assert_eq!(user.keeper().key(), Some(first_key.as_str()));
    place_and_see(&mut user, &rest, 1).await;

    // The server closes the user-data connection: same key, new connection.
    srv.inject(FaultRule::new(FaultKind::CloseConnections).connection(ConnectionKind::UserData))
        .await
        .unwrap();
    // Reading sees the close and reconnects (nothing else arrives meanwhile,
    // so each read is cut short after a while and tried again).
    for _ in 0..300 {
        if user.connections() >= 2 {
            break;
        }
        if let Ok(r) =
            tokio::time::timeout(Duration::from_millis(100), user.next_message(&rest)).await
        {
            r.unwrap();
        }
    }
    assert_eq!(user.connections(), 2);
    assert_eq!(user.keeper().key(), Some(first_key.as_str()));
    user_stream_ready(&mut user, &rest).await;
    place_and_see(&mut user, &rest, 2).await;
    assert_eq!(srv.fault_count(FaultKind::CloseConnections), 1);

    // The key expires: `listenKeyExpired`, a new key, a new connection.
    srv.inject(FaultRule::new(FaultKind::ListenKeyExpired))
        .await
        .unwrap();
    loop {
        let (_, m) = tokio::time::timeout(STEP, user.next_message(&rest))
            .await
            .expect("no listenKeyExpired")
            .unwrap();
        if matches!(m, UserDataMessage::ListenKeyExpired { .. }) {
            break;
        }
    }
    user_stream_ready(&mut user, &rest).await;
    assert_eq!(user.connections(), 3);
    assert_ne!(user.keeper().key(), Some(first_key.as_str()));
    place_and_see(&mut user, &rest, 3).await;
    assert_eq!(srv.fault_count(FaultKind::ListenKeyExpired), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_and_coinm_books_sync_and_coinm_user_data_sees_a_fill() {
    let srv = synthetic_server().await;
    let rest = rest_client(&srv);
    for (kind, symbol, stream) in [
        (MarketKind::Spot, "BTCUSDT", "btcusdt@depth@100ms"),
        (MarketKind::CoinM, "BTCUSD_PERP", "btcusd_perp@depth@0ms"),
    ] {
        let mut cfg = MarketStreamConfig::new(srv.endpoints().ws_base(kind), &[stream], 6);
        cfg.max_attempts = Some(5);
        let mut market = MarketStream::new(cfg);
        let mut driver =
            BookDriver::new(InstrumentId::binance(kind, symbol).unwrap(), 1000).unwrap();
        let mut seen = Seen::default();
        pump(
            &mut market,
            &mut driver,
            &rest,
            &mut seen,
            50_000,
            |d, _| d.is_synced() && d.sync().counters().applied >= 100,
        )
        .await;
        assert_eq!(driver.counters().gaps, 0, "{kind:?}");
        assert_book_sane(&driver);
    }

    // COIN-M user data on `/ws/<listenKey>`.
    let mut user = FuturesUserStream::new(
        MarketKind::CoinM,
        srv.endpoints().ws_base(MarketKind::CoinM),
        7,
    )
    .unwrap();
    user_stream_ready(&mut user, &rest).await;
    let inst = presets::coinm_btcusd_perp();
    let order = FuturesOrder::market(Side::Sell, Quantity::parse("1").unwrap())
        .client_order_id(ClientOrderId::new("e2e-coinm-1").unwrap());
    let req = FuturesApi::COINM
        .new_order(&inst, &order, NumberPolicy::Exact)
        .unwrap();
    let placed: FuturesOrderReport = rest.send_json(&req).await.unwrap();
    let fill = await_order(&mut user, &rest, placed.order_id, ExecutionType::Trade).await;
    assert_eq!(fill.instrument, inst.id);
    assert_eq!(fill.side, Side::Sell);
    assert!(fill.last_qty.raw() > 0);
}
