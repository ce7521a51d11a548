//! The second half of `veloz demo`: trading against the embedded venue.
//!
//! Starts the Binance venue simulator in-process on ephemeral loopback ports
//! (synthetic USD-M market, the built-in `demo` account), then drives it with
//! VeloZ's own Binance adapter exactly as it would drive Binance: market
//! streams with local book sync from a REST snapshot, a futures user-data
//! stream on a listenKey, a marketable order whose fill arrives on the user
//! stream, and a resting order that is cancelled. Every wait is bounded.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use veloz_core::events::OrderEventKind;
use veloz_core::{ClientOrderId, InstrumentId, MarketKind, Price, Quantity, Side, VenueOrderId};
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesOrder};
use veloz_exec::binance::rest::responses::FuturesOrderReport;
use veloz_exec::binance::rest::types::TimeInForce;
use veloz_exec::binance::rest::OrderRef;
use veloz_exec::binance::transport::book::BookDriver;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::market::{MarketStream, MarketStreamConfig};
use veloz_exec::binance::transport::user::FuturesUserStream;
use veloz_exec::binance::user_data::{ExecutionType, OrderUpdate, UserDataMessage};
use veloz_sim::presets;
use veloz_simserver::{AccountConfig, MarketConfig, ServerConfig};

/// Bound on any single wait.
const STEP: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(STEP, f)
        .await
        .with_context(|| format!("timed out after {STEP:?} waiting for {what}"))
}

/// Waits for the user-stream update of `order_id` with execution type `exec`.
async fn await_update(
    user: &mut FuturesUserStream,
    rest: &RestClient,
    order_id: u64,
    exec: ExecutionType,
) -> anyhow::Result<OrderUpdate> {
    for _ in 0..10_000 {
        let (_, m) = within("a user-data event", user.next_message(rest)).await??;
        if let UserDataMessage::Order(u) = m {
            if u.report.venue_order_id.0 == order_id && u.report.execution_type == exec {
                return Ok(*u);
            }
        }
    }
    bail!("order {order_id}: no {exec:?} update on the user stream")
}

async fn run_async(out: &mut impl Write) -> anyhow::Result<()> {
    let account = AccountConfig::demo();
    let secret = account.hmac_secret.clone().unwrap_or_default();
    let creds = Credentials::hmac(account.api_key.clone(), secret)?;
    let cfg = ServerConfig {
        market: MarketConfig::Synthetic {
            synth: Default::default(),
            speed: 0,
        },
        accounts: vec![account],
        ..ServerConfig::ephemeral()
    };
    let srv = veloz_simserver::start(cfg).await?;
    let endpoints = srv.endpoints();
    writeln!(
        out,
        "embedded venue: Binance simulator, USD-M on http://{} (synthetic market)",
        srv.usdm
    )?;

    // Market data: combined streams, book synced from a REST snapshot.
    let rest = RestClient::new(&endpoints, Some(creds), Duration::from_secs(10));
    let id = InstrumentId::binance(MarketKind::UsdM, "BTCUSDT")?;
    let streams = ["btcusdt@depth@0ms", "btcusdt@bookTicker"];
    let mut market = MarketStream::new(MarketStreamConfig::new(
        endpoints.ws_base(MarketKind::UsdM),
        &streams,
        1,
    ));
    let mut driver = BookDriver::new(id, 1000)?;
    let mut events = 0u64;
    while !(driver.is_synced() && driver.sync().counters().applied >= 100) {
        events += 1;
        if events > 100_000 {
            bail!("the book did not sync within 100000 stream events");
        }
        let ev = within("a market-stream event", market.next_event()).await??;
        within("the book driver", driver.on_event(&rest, &ev)).await??;
    }
    let book = driver.book();
    let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else {
        bail!("the synced book has an empty side");
    };
    writeln!(
        out,
        "book synced over our adapter: {} diffs applied, {} gaps; best bid {} x {}, best ask {} x {}",
        driver.sync().counters().applied,
        driver.sync().counters().gaps,
        bid.price,
        bid.qty,
        ask.price,
        ask.qty
    )?;

    // User data on a listenKey, then a marketable order and its fill.
    let mut user = FuturesUserStream::new(MarketKind::UsdM, endpoints.ws_base(MarketKind::UsdM), 2)
        .context("no futures user stream for USD-M")?;
    within("the user stream", user.ensure_connected(&rest)).await??;
    user.send_text("{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}")
        .await?;
    loop {
        let (_, m) = within("the user stream's answer", user.next_message(&rest)).await??;
        if matches!(m, UserDataMessage::Unknown { .. }) {
            break;
        }
    }
    let inst = presets::usdm_btcusdt();
    let qty = Quantity::parse("0.010")?;
    let taker =
        FuturesOrder::market(Side::Buy, qty).client_order_id(ClientOrderId::new("demo.taker.1")?);
    let req = FuturesApi::USDM.new_order(&inst, &taker, NumberPolicy::Exact)?;
    let placed: FuturesOrderReport = within("the order answer", rest.send_json(&req)).await??;
    writeln!(
        out,
        "market buy {qty} BTCUSDT: order {} {:?}",
        placed.order_id, placed.status
    )?;
    let mut filled = Quantity::ZERO;
    while filled < qty {
        let u = await_update(&mut user, &rest, placed.order_id, ExecutionType::Trade).await?;
        for e in &u.events {
            if let OrderEventKind::Filled(f) = &e.kind {
                writeln!(
                    out,
                    "  fill on the user stream: {} @ {} ({:?}, fee {}, trade {})",
                    f.qty, f.price, f.liquidity, f.fee, f.trade_id
                )?;
            }
        }
        filled = u.report.cum_qty;
    }

    // A resting order 2 % below the bid, then its cancel.
    let far = Price::from_raw(bid.price.raw() / 100 * 98, bid.price.precision());
    let maker = FuturesOrder::limit(Side::Buy, qty, far)
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(ClientOrderId::new("demo.maker.1")?);
    let req = FuturesApi::USDM.new_order(&inst, &maker, NumberPolicy::Snap)?;
    let resting: FuturesOrderReport = within("the order answer", rest.send_json(&req)).await??;
    await_update(&mut user, &rest, resting.order_id, ExecutionType::New).await?;
    writeln!(
        out,
        "limit buy {qty} @ {}: order {} {:?}",
        resting.price, resting.order_id, resting.status
    )?;
    let cancel = FuturesApi::USDM.cancel_order(
        &inst.id.symbol,
        OrderRef::Venue(VenueOrderId(resting.order_id)),
    );
    let cancelled: FuturesOrderReport =
        within("the cancel answer", rest.send_json(&cancel)).await??;
    await_update(&mut user, &rest, resting.order_id, ExecutionType::Canceled).await?;
    writeln!(
        out,
        "cancel: order {} {:?}, confirmed on the user stream",
        cancelled.order_id, cancelled.status
    )?;
    Ok(())
}

/// Runs the venue part of the demo.
pub fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_async(out))
}
