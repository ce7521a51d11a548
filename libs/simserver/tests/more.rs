//! The remaining order endpoints through our adapter's builders: futures
//! modify and batches, spot cancel-replace, trade and order history,
//! `countdownCancelAll`.

mod common;

use common::*;
use serde_json::Value;
use veloz_core::events::{BookSnapshot, EventTimes, Level, MarketEvent};
use veloz_core::{ClientOrderId, MarketKind, Price, Quantity, Side, UnixNanos, VenueOrderId};
use veloz_exec::binance::rest::format::NumberPolicy;
use veloz_exec::binance::rest::futures::{FuturesApi, FuturesModify, FuturesOrder};
use veloz_exec::binance::rest::responses::{
    CancelReplaceResult, FuturesAccountTrade, FuturesOrderReport, OrderOrError, SpotAccountTrade,
    SpotOrderReport,
};
use veloz_exec::binance::rest::spot::{self, CancelReplace, Range, SpotOrder};
use veloz_exec::binance::rest::types::{OrderStatus, TimeInForce};
use veloz_exec::binance::rest::OrderRef;
use veloz_sim::presets;
use veloz_simserver::MarketStep;

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

fn book(inst: &veloz_core::Instrument, bid: &str, ask: &str, qty: &str) -> MarketStep {
    let l = |px: &str| Level {
        price: p(px),
        qty: q(qty),
    };
    MarketStep {
        time: UnixNanos(1),
        product: inst.id.kind,
        frames: vec![],
        events: vec![MarketEvent::BookSnapshot(BookSnapshot {
            instrument: inst.id,
            last_update_id: 1,
            bids: vec![l(bid)],
            asks: vec![l(ask)],
            times: EventTimes::new(UnixNanos::from_millis(1), UnixNanos::from_millis(1)),
        })],
    }
}

#[tokio::test]
async fn futures_modify_batches_history() {
    let srv = server().await;
    let inst = presets::usdm_btcusdt();
    let api = FuturesApi::USDM;
    let sym = inst.id.symbol;
    let creds = hmac_creds();

    let orders = [
        FuturesOrder::limit(Side::Buy, q("0.010"), p("50000.0"))
            .time_in_force(TimeInForce::Gtc)
            .client_order_id(cid("b-1")),
        FuturesOrder::limit(Side::Buy, q("0.020"), p("50100.0"))
            .time_in_force(TimeInForce::Gtc)
            .client_order_id(cid("b-2")),
        // Below the minimum notional: refused in the batch, alone.
        FuturesOrder::limit(Side::Buy, q("0.001"), p("50000.0"))
            .time_in_force(TimeInForce::Gtc)
            .client_order_id(cid("b-3")),
    ];
    let req = api
        .batch_new_orders(&inst, &orders, NumberPolicy::Exact)
        .unwrap();
    let a = send_signed(srv.usdm, &req, &creds).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let items: Vec<OrderOrError<FuturesOrderReport>> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(items.len(), 3);
    let OrderOrError::Order(first) = &items[0] else {
        panic!("{}", a.body)
    };
    assert!(matches!(&items[1], OrderOrError::Order(_)));
    assert!(
        matches!(&items[2], OrderOrError::Error(e) if e.code == -4164),
        "{}",
        a.body
    );

    // Modify the first: new price.
    let m = FuturesModify {
        order: OrderRef::Client(cid("b-1")),
        side: Side::Buy,
        quantity: q("0.010"),
        price: Some(p("50050.0")),
        price_match: None,
    };
    let a = send_signed(
        srv.usdm,
        &api.modify_order(&inst, &m, NumberPolicy::Exact).unwrap(),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r: FuturesOrderReport = serde_json::from_str(&a.body).unwrap();
    assert_eq!(r.order_id, first.order_id);
    assert_eq!(r.price, p("50050.0"));

    // Batch cancel both.
    let refs = [OrderRef::Client(cid("b-1")), OrderRef::Client(cid("b-2"))];
    let a = send_signed(
        srv.usdm,
        &api.batch_cancel_orders(&sym, &refs).unwrap(),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let items: Vec<OrderOrError<FuturesOrderReport>> = serde_json::from_str(&a.body).unwrap();
    for i in &items {
        let OrderOrError::Order(o) = i else {
            panic!("{}", a.body)
        };
        assert_eq!(o.status, OrderStatus::Canceled);
    }

    // A fill, then the trade list and the order history.
    srv.push_market(book(&inst, "59990.0", "60000.0", "5.000"))
        .await
        .unwrap();
    let take = FuturesOrder::market(Side::Buy, q("0.010")).client_order_id(cid("m-1"));
    let a = send_signed(
        srv.usdm,
        &api.new_order(&inst, &take, NumberPolicy::Exact).unwrap(),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = send_signed(
        srv.usdm,
        &api.account_trades(&sym, None, None, Range::default())
            .unwrap(),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let trades: Vec<FuturesAccountTrade> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(trades.len(), 1, "{}", a.body);
    assert_eq!(trades[0].price, p("60000.0"));
    assert_eq!(trades[0].qty, q("0.010"));
    let a = send_signed(
        srv.usdm,
        &api.all_orders(&sym, None, Range::default()).unwrap(),
        &creds,
    )
    .await;
    let all: Vec<FuturesOrderReport> = serde_json::from_str(&a.body).unwrap();
    let statuses: Vec<OrderStatus> = all.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        [
            OrderStatus::Canceled,
            OrderStatus::Canceled,
            OrderStatus::Filled
        ]
    );
}

#[tokio::test]
async fn spot_cancel_replace_and_my_trades() {
    let srv = server().await;
    let inst = presets::spot_btcusdt();
    let sym = inst.id.symbol;
    let creds = hmac_creds();
    let rest = SpotOrder::limit(Side::Buy, q("0.01"), p("50000.00"))
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(cid("cr-1"));
    let a = send_signed(
        srv.spot,
        &spot::new_order(&inst, &rest, NumberPolicy::Exact).unwrap(),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);

    let new = SpotOrder::limit(Side::Buy, q("0.02"), p("50500.00"))
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(cid("cr-2"));
    let cr = CancelReplace::stop_on_failure(OrderRef::Client(cid("cr-1")));
    let req = spot::cancel_replace(&inst, &cr, &new, NumberPolicy::Exact).unwrap();
    let a = send_signed(srv.spot, &req, &creds).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r: CancelReplaceResult = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        (r.cancel_result.as_str(), r.new_order_result.as_str()),
        ("SUCCESS", "SUCCESS")
    );
    let Some(OrderOrError::Order(n)) = r.new_order_response else {
        panic!("{}", a.body)
    };
    assert_eq!(n.client_order_id, "cr-2");

    // Cancelling cr-1 again fails: nothing is placed.
    let again = SpotOrder::limit(Side::Buy, q("0.03"), p("50500.00"))
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(cid("cr-3"));
    let req = spot::cancel_replace(&inst, &cr, &again, NumberPolicy::Exact).unwrap();
    let a = send_signed(srv.spot, &req, &creds).await;
    assert_eq!((a.status, a.code()), (400, -2022), "{}", a.body);
    assert_eq!(a.json()["data"]["newOrderResult"], "NOT_ATTEMPTED");

    // Sell into cr-2 from the other account: both see the trade.
    let sell =
        SpotOrder::limit(Side::Sell, q("0.02"), p("50500.00")).time_in_force(TimeInForce::Gtc);
    let a = send_signed(
        srv.spot,
        &spot::new_order(&inst, &sell, NumberPolicy::Exact).unwrap(),
        &ed_creds(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let s: SpotOrderReport = serde_json::from_str(&a.body).unwrap();
    assert_eq!(s.status, Some(OrderStatus::Filled), "{}", a.body);
    let a = send_signed(
        srv.spot,
        &spot::my_trades(&sym, None, None, Range::default()).unwrap(),
        &creds,
    )
    .await;
    let t: Vec<SpotAccountTrade> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(t.len(), 1, "{}", a.body);
    assert_eq!(t[0].order_id, n.order_id);
    assert_eq!(t[0].qty, q("0.02"));
    let v: Value = a.json();
    assert_eq!(v[0]["isBuyer"], true);
    assert_eq!(v[0]["isMaker"], true);
}

#[tokio::test]
async fn countdown_cancel_all_cancels_when_it_runs_out() {
    let srv = server().await;
    let inst = presets::usdm_btcusdt();
    let api = FuturesApi::USDM;
    let creds = hmac_creds();
    let a = send_signed(srv.usdm, &api.listen_key_create(), &creds).await;
    let key = a.json()["listenKey"].as_str().unwrap().to_string();
    let mut ws = ws(srv.usdm, &format!("/ws/{key}")).await;
    send_text(&mut ws, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}").await;
    next_text(&mut ws).await;

    let o = FuturesOrder::limit(Side::Buy, q("0.010"), p("50000.0"))
        .time_in_force(TimeInForce::Gtc)
        .client_order_id(cid("cd-1"));
    let a = send_signed(
        srv.usdm,
        &api.new_order(&inst, &o, NumberPolicy::Exact).unwrap(),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = send_signed(
        srv.usdm,
        &api.countdown_cancel_all(&inst.id.symbol, 1),
        &creds,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["countdownTime"], "1");
    // The engine cancels on its next tick; wait for the event, not a time.
    loop {
        let v: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
        if v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["X"] == "CANCELED" {
            assert_eq!(v["o"]["c"], "cd-1");
            break;
        }
    }
    let _ = (MarketKind::UsdM, VenueOrderId(0));
}

#[tokio::test]
async fn futures_account_balance_and_positions_parse() {
    use veloz_exec::binance::rest::responses::{FuturesAccount, FuturesBalance, PositionRisk};
    let srv = server().await;
    let creds = hmac_creds();
    for (inst, api, qty, asset) in [
        (presets::usdm_btcusdt(), FuturesApi::USDM, "0.010", "USDT"),
        (presets::coinm_btcusd_perp(), FuturesApi::COINM, "1", "BTC"),
    ] {
        let addr = srv.addr(inst.id.kind);
        srv.push_market(book(&inst, "59990.0", "60000.0", "500"))
            .await
            .unwrap();
        let o = FuturesOrder::market(Side::Buy, q(qty));
        let a = send_signed(
            addr,
            &api.new_order(&inst, &o, NumberPolicy::Exact).unwrap(),
            &creds,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);

        let a = send_signed(addr, &api.account(), &creds).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let acc: FuturesAccount =
            serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.body));
        let asset_row = acc.assets.iter().find(|x| x.asset == asset).unwrap();
        assert!(asset_row.position_initial_margin.0 > 0, "{}", a.body);
        assert_eq!(acc.positions.len(), 1, "{}", a.body);
        assert_eq!(acc.positions[0].position_amt, q(qty));

        let a = send_signed(addr, &api.balance(), &creds).await;
        let b: Vec<FuturesBalance> =
            serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.body));
        assert_eq!(b[0].asset, asset);

        let a = send_signed(addr, &api.position_risk(None), &creds).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let p: Vec<PositionRisk> =
            serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.body));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].position_amt, q(qty));
        assert_eq!(p[0].entry_price, Price::parse("60000.0").unwrap());
    }
}
