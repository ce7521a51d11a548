//! Every user-data JSON fixture under `shared/fixtures/binance/nautilus/`
//! through the user-data parser, with every field the parser reads checked
//! against the fixture's own value.
//!
//! Provenance (fixtures README §3): the futures files and the `*_wrapped` spot
//! files are Binance documentation examples (some derived); the unwrapped spot
//! `executionReport`/`outboundAccountPosition`/`balanceUpdate` files use made-up
//! timestamps; `ws_futures_trade_lite.json` and `ws_futures_algo_update_*.json`
//! are real (2024 mainnet, 2025 testnet).

use veloz_core::events::{AccountEvent, EventTimes, Fill, OrderEventKind};
use veloz_core::fixtures::fixture;
use veloz_core::{
    Currency, Liquidity, MarginMode, MarketKind, Money, OrderType, PositionSide, Side, TradeId,
    UnixNanos, VenueOrderId,
};
use veloz_exec::binance::stream::StreamSource;
use veloz_exec::binance::user_data::{
    parse_user_data, AccountConfig, ExecutionType, OrderUpdate, SystemOrder, UserDataMessage,
    VenueOrderStatus, NO_FEE_ASSET,
};

const LOCAL: UnixNanos = UnixNanos(42);
const SPOT: StreamSource = StreamSource::binance(MarketKind::Spot);
const USDM: StreamSource = StreamSource::binance(MarketKind::UsdM);
const COINM: StreamSource = StreamSource::binance(MarketKind::CoinM);

fn read(rel: &str) -> String {
    let p = fixture(&format!("binance/nautilus/{rel}")).unwrap();
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
}

fn parse(src: &StreamSource, rel: &str) -> UserDataMessage {
    parse_user_data(src, &read(rel), LOCAL).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn order(src: &StreamSource, rel: &str) -> OrderUpdate {
    match parse(src, rel) {
        UserDataMessage::Order(u) => *u,
        other => panic!("{rel}: not an order update: {other:?}"),
    }
}

fn ms(t: u64) -> EventTimes {
    EventTimes::new(UnixNanos::from_millis(t), LOCAL)
}

fn cur(s: &str) -> Currency {
    Currency::new(s).unwrap()
}

fn money(s: &str, c: &str) -> Money {
    Money::parse(s, cur(c)).unwrap()
}

const SPOT_DIR: &str = "crate_test_data/spot/user_data_json";
const FUT_DIR: &str = "crate_test_data/futures/user_data_json";
const WS_DIR: &str = "integration_resources/ws_messages";

#[test]
fn spot_execution_report_new_and_wrapped() {
    let u = order(&SPOT, &format!("{SPOT_DIR}/execution_report_new.json"));
    let r = &u.report;
    assert_eq!(r.instrument.to_string(), "BINANCE.SPOT.ETHUSDT");
    assert_eq!(r.client_order_id.as_str(), "x-TD67BGP9-T0000000000000");
    assert_eq!(r.venue_order_id, VenueOrderId(12345678));
    assert_eq!(r.side, Side::Buy);
    assert_eq!(
        (r.order_type.as_str(), r.time_in_force.as_str()),
        ("LIMIT", "GTC")
    );
    assert_eq!(r.core_order_type(), Some(OrderType::Limit));
    assert_eq!(r.quantity.to_string(), "1.00000000");
    assert_eq!(r.price.to_string(), "2500.00000000");
    assert_eq!(r.stop_price, None, "P = 0 means no stop price");
    assert_eq!(r.execution_type, ExecutionType::New);
    assert_eq!(r.status, VenueOrderStatus::New);
    assert_eq!(r.reject_reason, None, "r = NONE");
    assert_eq!(r.trade_id, None, "t = -1");
    assert_eq!(r.times, ms(1709654400000));
    assert_eq!(u.events.len(), 1);
    let e = &u.events[0];
    assert_eq!(e.kind, OrderEventKind::Accepted);
    assert_eq!(e.venue_order_id, Some(VenueOrderId(12345678)));
    assert_eq!(e.client_order_id.as_str(), "x-TD67BGP9-T0000000000000");

    // The WS-API envelope `{"subscriptionId":0,"event":{…}}`.
    let u = order(&SPOT, &format!("{SPOT_DIR}/execution_report_wrapped.json"));
    let r = &u.report;
    assert_eq!(r.instrument.to_string(), "BINANCE.SPOT.ETHBTC");
    assert_eq!(r.client_order_id.as_str(), "mUvoqJxFIILMdfAW5iGSOW");
    assert_eq!(r.venue_order_id, VenueOrderId(4293153));
    assert_eq!(r.price.to_string(), "0.10264410");
    assert_eq!(r.times, ms(1499405658657));
    assert_eq!(u.events[0].kind, OrderEventKind::Accepted);
}

#[test]
fn spot_execution_report_trade_cancel_expire_stop() {
    let u = order(&SPOT, &format!("{SPOT_DIR}/execution_report_trade.json"));
    assert_eq!(u.report.status, VenueOrderStatus::Filled);
    assert_eq!(u.report.execution_type, ExecutionType::Trade);
    assert_eq!(u.report.cum_qty.to_string(), "1.00000000");
    assert!(u.report.is_maker);
    assert_eq!(
        u.events[0].kind,
        OrderEventKind::Filled(Fill {
            trade_id: TradeId(98765432),
            side: Side::Buy,
            price: "2500.00000000".parse().unwrap(),
            qty: "1.00000000".parse().unwrap(),
            fee: money("0.00100000", "ETH"),
            liquidity: Liquidity::Maker,
        })
    );
    assert_eq!(u.events[0].times, ms(1709654401000));

    let u = order(&SPOT, &format!("{SPOT_DIR}/execution_report_canceled.json"));
    assert_eq!(u.report.status, VenueOrderStatus::Canceled);
    assert_eq!(u.events[0].kind, OrderEventKind::Canceled);
    assert_eq!(u.events[0].times, ms(1709654402000));

    let u = order(&SPOT, &format!("{SPOT_DIR}/execution_report_expired.json"));
    assert_eq!(u.report.status, VenueOrderStatus::Expired);
    assert_eq!(u.report.time_in_force, "IOC");
    assert_eq!(
        u.report.expiry_reason.as_deref(),
        Some("INSUFFICIENT_LIQUIDITY")
    );
    assert_eq!(u.events[0].kind, OrderEventKind::Expired);

    let u = order(
        &SPOT,
        &format!("{SPOT_DIR}/execution_report_stop_loss.json"),
    );
    assert_eq!(u.report.order_type, "STOP_LOSS_LIMIT");
    assert_eq!(u.report.core_order_type(), Some(OrderType::StopLimit));
    assert_eq!(u.report.side, Side::Sell);
    assert_eq!(u.report.price.to_string(), "2400.00000000");
    assert_eq!(
        u.report.stop_price.map(|p| p.to_string()).as_deref(),
        Some("2450.00000000")
    );
    assert_eq!(
        u.report.client_order_id.as_str(),
        "x-TD67BGP9-T0000000000001"
    );
    assert_eq!(u.report.venue_order_id, VenueOrderId(12345679));
}

#[test]
fn spot_account_balance_and_list_status() {
    for (rel, expected, t) in [
        (
            "account_position.json",
            vec![("USDT", "10000", "2500"), ("ETH", "5", "0")],
            1709654400000,
        ),
        (
            "account_position_wrapped.json",
            vec![("ETH", "10000", "0")],
            1564034571105,
        ),
    ] {
        let UserDataMessage::Account(a) = parse(&SPOT, &format!("{SPOT_DIR}/{rel}")) else {
            panic!("{rel}: not an account update")
        };
        assert_eq!(a.reason, None);
        let got: Vec<_> = a
            .events
            .iter()
            .map(|e| match e {
                AccountEvent::Balance(b) => (b.asset, b.free, b.locked, b.times),
                other => panic!("{rel}: {other:?}"),
            })
            .collect();
        let want: Vec<_> = expected
            .iter()
            .map(|(c, f, l)| (cur(c), money(f, c), money(l, c), ms(t)))
            .collect();
        assert_eq!(got, want, "{rel}");
    }

    for (rel, delta, t, clear) in [
        (
            "balance_update.json",
            "0.00100000",
            1709654400000,
            1709654400000,
        ),
        (
            "balance_update_wrapped.json",
            "100.00000000",
            1573200697110,
            1573200697068,
        ),
    ] {
        let UserDataMessage::BalanceDelta(b) = parse(&SPOT, &format!("{SPOT_DIR}/{rel}")) else {
            panic!("{rel}: not a balance delta")
        };
        assert_eq!(b.delta, money(delta, "BTC"), "{rel}");
        assert!(!b.locked);
        assert_eq!(b.times, ms(t));
        assert_eq!(b.clear_time, UnixNanos::from_millis(clear));
    }

    let UserDataMessage::ListStatus(l) =
        parse(&SPOT, &format!("{SPOT_DIR}/list_status_wrapped.json"))
    else {
        panic!("not a list status")
    };
    assert_eq!(l.instrument.to_string(), "BINANCE.SPOT.ETHBTC");
    assert_eq!(l.order_list_id, 2);
    assert_eq!(
        (
            l.contingency_type.as_str(),
            l.list_status_type.as_str(),
            l.list_order_status.as_str()
        ),
        ("OCO", "EXEC_STARTED", "EXECUTING")
    );
    assert_eq!(l.reject_reason, None);
    assert_eq!(l.list_client_order_id.as_str(), "F4QN4G8DlFATFlIUQ0cjdD");
    assert_eq!(l.times, ms(1564035303625));
    let orders: Vec<_> = l
        .orders
        .iter()
        .map(|o| (o.venue_order_id.0, o.client_order_id.as_str().to_string()))
        .collect();
    assert_eq!(
        orders,
        [
            (17, "AJYsMjErWJesZvqlJCTUgL".to_string()),
            (18, "bfYPSQdLoqAJeNrOr9adzq".to_string())
        ]
    );
}

#[test]
fn futures_order_trade_update_new_and_fills() {
    let u = order(&USDM, &format!("{FUT_DIR}/order_update_new.json"));
    let r = &u.report;
    assert_eq!(r.instrument.to_string(), "BINANCE.USDM.BTCUSDT");
    assert_eq!(r.client_order_id.as_str(), "TEST");
    assert_eq!(r.order_type, "TRAILING_STOP_MARKET");
    assert_eq!(r.core_order_type(), Some(OrderType::TrailingStopMarket));
    assert_eq!(r.quantity.to_string(), "0.001");
    assert_eq!(
        r.stop_price.map(|p| p.to_string()).as_deref(),
        Some("7103.04")
    );
    assert_eq!(r.avg_price, None);
    assert_eq!(r.position_side, Some(PositionSide::Long));
    assert_eq!(r.venue_order_id, VenueOrderId(8886774));
    assert_eq!(r.system_order, None);
    assert!(!r.reduce_only);
    assert_eq!(r.times, ms(1568879465651));
    assert_eq!(u.events.len(), 1);
    assert_eq!(u.events[0].kind, OrderEventKind::Accepted);

    for (rel, q) in [
        ("order_update_trade.json", "0.001"),
        ("order_update_trade_partial.json", "0.002"),
    ] {
        let u = order(&USDM, &format!("{FUT_DIR}/{rel}"));
        assert_eq!(u.report.status, VenueOrderStatus::PartiallyFilled);
        assert_eq!(u.report.quantity.to_string(), q);
        assert_eq!(u.report.cum_qty.to_string(), "0.001");
        assert_eq!(
            u.report.avg_price.map(|p| p.to_string()).as_deref(),
            Some("7100.50")
        );
        assert_eq!(u.report.realized_profit, Some(money("12.34", "USDT")));
        assert_eq!(
            u.events[0].kind,
            OrderEventKind::Filled(Fill {
                trade_id: TradeId(12345678),
                side: Side::Buy,
                price: "7100.50".parse().unwrap(),
                qty: "0.001".parse().unwrap(),
                fee: money("0.01000000", "USDT"),
                liquidity: Liquidity::Maker,
            }),
            "{rel}"
        );
    }
}

#[test]
fn futures_venue_orders_liquidation_adl_insurance_settlement_delivery() {
    // (file, source, system order, status, trade id, side, price, qty, fee, rp)
    let cases = [
        (
            "order_update_calculated.json",
            USDM,
            SystemOrder::Liquidation,
            VenueOrderStatus::Filled,
            12345999,
            Side::Sell,
            "9910.12",
            "0.014",
            money("0.06937084", "USDT"),
            money("-5.67", "USDT"),
        ),
        (
            "order_update_adl.json",
            USDM,
            SystemOrder::Adl,
            VenueOrderStatus::Other("NEW_ADL".into()),
            12346001,
            Side::Buy,
            "42000.00",
            "0.005",
            money("0.10500000", "USDT"),
            money("-2.50", "USDT"),
        ),
        (
            "order_update_insurance.json",
            USDM,
            SystemOrder::Liquidation,
            VenueOrderStatus::Other("NEW_INSURANCE".into()),
            12346003,
            Side::Sell,
            "45000.00",
            "0.020",
            money("0.45000000", "USDT"),
            money("-8.00", "USDT"),
        ),
        (
            "order_update_settlement.json",
            USDM,
            SystemOrder::Settlement,
            VenueOrderStatus::Filled,
            12346002,
            Side::Sell,
            "50000.00",
            "0.010",
            money("0.25000000", "USDT"),
            money("-10.00", "USDT"),
        ),
        (
            "order_update_delivery.json",
            COINM,
            SystemOrder::Delivery,
            VenueOrderStatus::Filled,
            12346003,
            Side::Sell,
            "70000.0",
            "1",
            // No `N`/`n` in this event: a zero fee without an asset.
            Money::zero(NO_FEE_ASSET),
            money("0", "BTC"),
        ),
    ];
    for (rel, src, system, status, trade, side, price, qty, fee, rp) in cases {
        let u = order(&src, &format!("{FUT_DIR}/{rel}"));
        assert_eq!(u.report.system_order, Some(system), "{rel}");
        assert_eq!(u.report.status, status, "{rel}");
        assert!(u.report.reduce_only, "{rel}");
        assert_eq!(u.report.realized_profit, Some(rp), "{rel}");
        assert_eq!(u.events.len(), 1, "{rel}");
        let OrderEventKind::Filled(f) = &u.events[0].kind else {
            panic!("{rel}: not a fill: {:?}", u.events)
        };
        assert_eq!(f.trade_id, TradeId(trade), "{rel}");
        assert_eq!(f.side, side, "{rel}");
        assert_eq!(f.price.to_string(), price, "{rel}");
        assert_eq!(f.qty.to_string(), qty, "{rel}");
        assert_eq!(f.fee, fee, "{rel}");
        assert_eq!(f.liquidity, Liquidity::Taker, "{rel}");
    }
    assert_eq!(
        order(&COINM, &format!("{FUT_DIR}/order_update_delivery.json"))
            .report
            .instrument
            .to_string(),
        "BINANCE.COINM.BTCUSD_240329"
    );

    // A liquidation still being calculated: no fill yet, nothing normalised.
    let u = order(
        &USDM,
        &format!("{FUT_DIR}/order_update_calculated_pending.json"),
    );
    assert_eq!(u.report.execution_type, ExecutionType::Calculated);
    assert_eq!(u.report.status, VenueOrderStatus::New);
    assert_eq!(u.report.system_order, Some(SystemOrder::Liquidation));
    assert!(u.report.last_qty.is_zero());
    assert!(u.events.is_empty());
}

#[test]
fn futures_account_update_positions_and_bnfcr() {
    let UserDataMessage::Account(a) = parse(&USDM, &format!("{FUT_DIR}/account_update.json"))
    else {
        panic!("not an account update")
    };
    assert_eq!(a.reason.as_deref(), Some("ORDER"));
    assert_eq!(a.times, ms(1564745798939));
    assert_eq!(a.events.len(), 4);
    let AccountEvent::Balance(b) = &a.events[0] else {
        panic!("not a balance")
    };
    assert_eq!(b.asset, cur("USDT"));
    assert_eq!(b.free, money("100.12345678", "USDT"), "free = cross wallet");
    assert_eq!(
        b.locked,
        money("122524", "USDT"),
        "locked = wallet - cross wallet"
    );
    assert_eq!(
        a.futures_balances[0].wallet_balance,
        money("122624.12345678", "USDT")
    );
    assert_eq!(
        a.futures_balances[0].balance_change,
        money("50.12345678", "USDT")
    );
    let positions: Vec<_> = a.events[1..]
        .iter()
        .map(|e| match e {
            AccountEvent::Position(p) => (
                p.instrument.to_string(),
                p.position_side,
                p.qty.to_string(),
                p.entry_price.to_string(),
                p.unrealized_pnl,
                p.margin_mode,
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        positions,
        [
            (
                "BINANCE.USDM.BTCUSDT".to_string(),
                PositionSide::Both,
                "0".to_string(),
                "0.00000".to_string(),
                money("0", "USDT"),
                MarginMode::Isolated
            ),
            (
                "BINANCE.USDM.BTCUSDT".to_string(),
                PositionSide::Long,
                "20".to_string(),
                "6563.6".to_string(),
                money("2850.21200", "USDT"),
                MarginMode::Isolated
            ),
            (
                "BINANCE.USDM.BTCUSDT".to_string(),
                PositionSide::Short,
                "-10".to_string(),
                "6563.8".to_string(),
                money("-1423.15600", "USDT"),
                MarginMode::Isolated
            ),
        ]
    );

    let UserDataMessage::Account(a) = parse(&USDM, &format!("{FUT_DIR}/account_update_bnfcr.json"))
    else {
        panic!("not an account update")
    };
    assert_eq!(a.events.len(), 1);
    let AccountEvent::Balance(b) = &a.events[0] else {
        panic!("not a balance")
    };
    assert_eq!(
        (b.asset, b.free, b.locked),
        (
            cur("BNFCR"),
            money("5001.28983031", "BNFCR"),
            money("0", "BNFCR")
        )
    );
    assert_eq!(b.times, ms(1781606859764));
}

#[test]
fn futures_trade_lite() {
    let UserDataMessage::TradeLite(t) = parse(&USDM, &format!("{FUT_DIR}/trade_lite.json")) else {
        panic!("not a trade lite")
    };
    assert_eq!(t.client_order_id.as_str(), "TEST");
    assert_eq!(t.venue_order_id, VenueOrderId(8886774));
    assert_eq!(
        (t.price.to_string(), t.qty.to_string()),
        ("7100.50".into(), "0.001".into())
    );
    assert_eq!(t.trade_id, TradeId(12345678));
    assert_eq!(t.liquidity, Liquidity::Maker);

    // Real (2024): an order id above 2^62.
    let UserDataMessage::TradeLite(t) =
        parse(&USDM, &format!("{WS_DIR}/ws_futures_trade_lite.json"))
    else {
        panic!("not a trade lite")
    };
    assert_eq!(t.instrument.to_string(), "BINANCE.USDM.ETHUSDT");
    assert_eq!(t.client_order_id.as_str(), "O-20240930-081155-001-000-29");
    assert_eq!(t.venue_order_id, VenueOrderId(8389765739703625592));
    assert_eq!(t.side, Side::Buy);
    assert_eq!(t.order_qty.to_string(), "0.037");
    assert_eq!(t.order_price.to_string(), "2631.90");
    assert_eq!(
        (t.price.to_string(), t.qty.to_string()),
        ("2631.90".into(), "0.037".into())
    );
    assert_eq!(t.trade_id, TradeId(4467432841));
    assert_eq!(t.liquidity, Liquidity::Taker);
    assert_eq!(t.times, ms(1727683915920));
}

#[test]
fn futures_algo_updates() {
    for (rel, status, kind) in [
        (
            "algo_update_new.json",
            "NEW",
            Some(OrderEventKind::Accepted),
        ),
        (
            "algo_update_canceled.json",
            "CANCELED",
            Some(OrderEventKind::Canceled),
        ),
    ] {
        let UserDataMessage::Algo(a) = parse(&USDM, &format!("{FUT_DIR}/{rel}")) else {
            panic!("{rel}: not an algo update")
        };
        assert_eq!(a.instrument.to_string(), "BINANCE.USDM.BNBUSDT");
        assert_eq!(a.client_order_id.as_str(), "Q5xaq5EGKgXXa0fD7fs0Ip");
        assert_eq!(a.algo_id, VenueOrderId(2148719));
        assert_eq!(
            (a.algo_type.as_str(), a.order_type.as_str()),
            ("CONDITIONAL", "TAKE_PROFIT")
        );
        assert_eq!(a.side, Side::Sell);
        assert_eq!(a.position_side, PositionSide::Both);
        assert_eq!(a.quantity.to_string(), "0.01");
        assert_eq!(a.status, status);
        assert_eq!(
            a.trigger_price.map(|p| p.to_string()).as_deref(),
            Some("750")
        );
        assert_eq!(a.price.map(|p| p.to_string()).as_deref(), Some("750"));
        assert_eq!(a.triggered_order_id, None, "ai is empty");
        assert_eq!((a.avg_price, a.filled_qty), (None, None));
        assert_eq!(a.reason.as_deref(), Some("Reduce Only reject"));
        assert_eq!(a.times, ms(1750515742297));
        assert_eq!(
            a.events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
            Vec::from_iter(kind)
        );
    }

    // A real testnet STOP_MARKET lifecycle, wrapped in {"stream":"test","data":…}.
    let lifecycle = [
        ("triggering", "TRIGGERING", None, None, None),
        (
            "triggered",
            "TRIGGERED",
            Some(OrderEventKind::Triggered),
            Some(88937381063),
            None,
        ),
        (
            "finished",
            "FINISHED",
            None,
            Some(88937381063),
            Some(("0.13856", "38")),
        ),
        (
            "finished_canceled",
            "FINISHED",
            None,
            Some(88937381064),
            None,
        ),
    ];
    for (name, status, kind, ai, fill) in lifecycle {
        let rel = format!("{WS_DIR}/ws_futures_algo_update_{name}.json");
        let UserDataMessage::Algo(a) = parse(&USDM, &rel) else {
            panic!("{rel}: not an algo update")
        };
        assert_eq!(a.instrument.to_string(), "BINANCE.USDM.DOGEUSDT");
        assert_eq!(a.order_type, "STOP_MARKET");
        assert_eq!(a.side, Side::Buy);
        assert_eq!(a.quantity.to_string(), "38");
        assert_eq!(a.status, status, "{rel}");
        assert_eq!(
            a.trigger_price.map(|p| p.to_string()).as_deref(),
            Some("0.13855")
        );
        assert_eq!(a.price, None, "p = 0 for a stop-market");
        assert_eq!(a.triggered_order_id.map(|i| i.0), ai, "{rel}");
        assert_eq!(
            a.avg_price
                .zip(a.filled_qty)
                .map(|(p, q)| (p.to_string(), q.to_string())),
            fill.map(|(p, q)| (p.to_string(), q.to_string())),
            "{rel}"
        );
        assert_eq!(
            a.events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
            Vec::from_iter(kind)
        );
    }
}

#[test]
fn protocol_events_and_envelopes() {
    let t = |f: &str| parse_user_data(&USDM, f, LOCAL).unwrap();
    assert_eq!(
        t(
            r#"{"e":"listenKeyExpired","E":1576653824250,"listenKey":"OfYGbUzi3PraNagEkdKuFwUHn48brFsItTdsuiIXrucEvD0rhRXZ7I6URWfE8YE8"}"#
        ),
        UserDataMessage::ListenKeyExpired {
            listen_key: Some(
                "OfYGbUzi3PraNagEkdKuFwUHn48brFsItTdsuiIXrucEvD0rhRXZ7I6URWfE8YE8".into()
            ),
            times: ms(1576653824250),
        }
    );
    assert_eq!(
        t(
            r#"{"e":"ACCOUNT_CONFIG_UPDATE","E":1611646737479,"T":1611646737476,"ac":{"s":"BTCUSDT","l":25}}"#
        ),
        UserDataMessage::AccountConfig(AccountConfig::Leverage {
            instrument: "BINANCE.USDM.BTCUSDT".parse().unwrap(),
            leverage: 25,
            times: ms(1611646737476),
        })
    );
    assert_eq!(
        t(r#"{"e":"ACCOUNT_CONFIG_UPDATE","E":1611646737479,"T":1611646737476,"ai":{"j":true}}"#),
        UserDataMessage::AccountConfig(AccountConfig::MultiAssetsMode {
            enabled: true,
            times: ms(1611646737476),
        })
    );
    // The digest's MARGIN_CALL shape (docs example values).
    let UserDataMessage::MarginCall(m) = t(
        r#"{"e":"MARGIN_CALL","E":1587727187525,"cw":"3.16812045","p":[{"s":"ETHUSDT","ps":"LONG","pa":"1.327","mt":"CROSSED","iw":"0","mp":"187.17127","up":"-1.166074","mm":"1.614445"}]}"#,
    ) else {
        panic!("not a margin call")
    };
    assert_eq!(m.cross_wallet_balance, Some(money("3.16812045", "USDT")));
    let p = &m.positions[0];
    assert_eq!(p.instrument.to_string(), "BINANCE.USDM.ETHUSDT");
    assert_eq!(
        (p.position_side, p.margin_mode),
        (PositionSide::Long, MarginMode::Cross)
    );
    assert_eq!(p.qty.to_string(), "1.327");
    assert_eq!(p.mark_price.to_string(), "187.17127");
    assert_eq!(p.unrealized_pnl, money("-1.166074", "USDT"));
    assert_eq!(p.maintenance_margin, money("1.614445", "USDT"));
    assert_eq!(p.isolated_wallet, money("0", "USDT"));
    assert_eq!(m.times, ms(1587727187525));

    let s = |f: &str| parse_user_data(&SPOT, f, LOCAL).unwrap();
    assert_eq!(
        s(r#"{"subscriptionId":3,"event":{"e":"eventStreamTerminated","E":1728973001334}}"#),
        UserDataMessage::StreamTerminated {
            times: ms(1728973001334)
        }
    );
    let UserDataMessage::BalanceDelta(b) = s(
        r#"{"e":"externalLockUpdate","E":1581557507324,"a":"NEO","d":"10.00000000","T":1581557507268}"#,
    ) else {
        panic!("not a balance delta")
    };
    assert!(b.locked);
    assert_eq!(b.delta, money("10", "NEO"));
    // Unknown events are counted by the caller, never errors; so are WS-API replies.
    assert_eq!(
        s(r#"{"e":"somethingNew","E":1}"#),
        UserDataMessage::Unknown {
            event_type: "somethingNew".into()
        }
    );
    assert!(matches!(
        s(r#"{"id":"1","status":200,"result":{"subscriptionId":0}}"#),
        UserDataMessage::Unknown { .. }
    ));
}

#[test]
fn a_frame_with_several_fills_yields_all_of_them() {
    let one = read(&format!("{SPOT_DIR}/execution_report_trade.json"));
    let two = one
        .replace("98765432", "98765433")
        .replace("\"X\": \"FILLED\"", "\"X\": \"PARTIALLY_FILLED\"");
    assert_ne!(one, two);
    let m = parse_user_data(&SPOT, &format!("[{one},{two}]"), LOCAL).unwrap();
    let fills: Vec<TradeId> = m
        .order_events()
        .iter()
        .map(|e| match &e.kind {
            OrderEventKind::Filled(f) => f.trade_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(fills, [TradeId(98765432), TradeId(98765433)]);
    let UserDataMessage::Batch(v) = &m else {
        panic!("not a batch")
    };
    assert_eq!(v.len(), 2);
}

#[test]
fn a_wrong_field_name_or_number_format_fails() {
    let good = read(&format!("{FUT_DIR}/order_update_trade.json"));
    assert!(parse_user_data(&USDM, &good, LOCAL).is_ok());
    for (from, to) in [
        ("\"L\": \"7100.50\"", "\"LL\": \"7100.50\""),
        ("\"L\": \"7100.50\"", "\"L\": \"7100,50\""),
        ("\"L\": \"7100.50\"", "\"L\": 7100.50"),
        ("\"n\": \"0.01000000\"", "\"n\": \"1e-2\""),
        ("\"c\": \"TEST\"", "\"c\": \"\""),
        ("\"S\": \"BUY\"", "\"S\": \"buy\""),
        ("\"i\": 8886774", "\"i\": \"8886774\""),
    ] {
        assert!(good.contains(from), "{from}");
        let bad = good.replace(from, to);
        let r = parse_user_data(&USDM, &bad, LOCAL);
        assert!(r.is_err(), "{to}: {r:?}");
    }
}
