//! Unit tests of every rule and every state transition.

use veloz_core::events::{EventTimes, OrderEvent, OrderEventKind, SubmitOrder};
use veloz_core::{
    ClientOrderIdGenerator, Currency, Instrument, Money, OrderFlags, OrderType, PositionSide,
    Price, Quantity, Side, StrategyId, TimeInForce, TriggerPriceType, UnixNanos,
};
use veloz_oms::OrderStore;

use crate::*;

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn usdt(s: &str) -> Money {
    Money::parse(s, Currency::new("USDT").unwrap()).unwrap()
}
fn ms(n: u64) -> UnixNanos {
    UnixNanos::from_millis(n)
}

struct Fx {
    inst: Instrument,
    ids: ClientOrderIdGenerator,
    orders: OrderStore,
    position: Quantity,
    reference: Option<Price>,
    other: Price,
}

impl Fx {
    fn new() -> Self {
        Self {
            inst: veloz_sim::presets::usdm_btcusdt(),
            ids: ClientOrderIdGenerator::new("T", 1).unwrap(),
            orders: OrderStore::new(),
            position: Quantity::ZERO,
            reference: Some(p("100")),
            other: Price::ZERO,
        }
    }

    fn order(&mut self, side: Side, qty: &str, price: Option<&str>) -> SubmitOrder {
        SubmitOrder {
            strategy: StrategyId::new("s").unwrap(),
            instrument: self.inst.id,
            client_order_id: self.ids.next_id(),
            side,
            order_type: if price.is_some() {
                OrderType::Limit
            } else {
                OrderType::Market
            },
            quantity: q(qty),
            price: price.map(p),
            trigger_price: None,
            trigger_type: TriggerPriceType::Last,
            time_in_force: TimeInForce::Gtc,
            expire_time: None,
            flags: OrderFlags::NONE,
            position_side: PositionSide::Both,
            trailing: None,
            ts_init: UnixNanos::ZERO,
        }
    }

    /// Puts an accepted (resting) order in the store.
    fn rest(&mut self, side: Side, qty: &str, price: &str) -> SubmitOrder {
        let o = self.order(side, qty, Some(price));
        self.orders.submit(o.clone()).unwrap();
        for kind in [OrderEventKind::Submitted, OrderEventKind::Accepted] {
            self.orders
                .apply(&OrderEvent {
                    instrument: o.instrument,
                    client_order_id: o.client_order_id,
                    venue_order_id: None,
                    kind,
                    times: EventTimes::default(),
                })
                .unwrap();
        }
        o
    }

    fn check(&self, r: &mut RiskEngine, o: &SubmitOrder, now: UnixNanos) -> Result<(), Denial> {
        let view = RiskView {
            instrument: &self.inst,
            reference_price: self.reference,
            position: self.position,
            orders: &self.orders,
            gross_exposure_other: self.other,
            now,
        };
        r.check(o, &view)
    }
}

fn engine(c: RiskConfig) -> RiskEngine {
    RiskEngine::new(c).unwrap()
}

fn rule(r: Result<(), Denial>) -> Option<Rule> {
    r.err().map(|d| d.rule)
}

fn states(records: &[RiskRecord]) -> Vec<(TradingState, TradingState)> {
    records
        .iter()
        .filter_map(|r| match r.kind {
            RiskRecordKind::StateChanged { from, to } => Some((from, to)),
            _ => None,
        })
        .collect()
}

#[test]
fn defaults_parse_from_an_empty_toml_and_unknown_keys_are_refused() {
    let c: RiskConfig = toml::from_str("").unwrap();
    assert_eq!(c, RiskConfig::default());
    assert_eq!(c.max_orders_per_window, 40);
    assert!(c.max_orders_per_window < config::BINANCE_SPOT_ORDERS_PER_10S);
    let c: RiskConfig = toml::from_str(
        r#"
        max_order_qty = "2"
        max_daily_loss = "500 USDT"
        [instruments."BINANCE.USDM.BTCUSDT"]
        max_order_qty = "0.5"
        "#,
    )
    .unwrap();
    assert_eq!(c.max_order_qty, Some(q("2")));
    assert_eq!(c.max_daily_loss, Some(usdt("500")));
    assert!(toml::from_str::<RiskConfig>("max_order_qyt = \"1\"").is_err());
    let bad = RiskConfig {
        max_order_qty: Some(Quantity::ZERO),
        ..RiskConfig::default()
    };
    assert!(matches!(
        RiskEngine::new(bad),
        Err(ConfigError::NotPositive { .. })
    ));
}

#[test]
fn max_order_qty_with_instrument_override() {
    let mut fx = Fx::new();
    let mut c = RiskConfig {
        max_order_qty: Some(q("2")),
        ..RiskConfig::default()
    };
    let mut r = engine(c.clone());
    let o = fx.order(Side::Buy, "2", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1))), None);
    let o = fx.order(Side::Buy, "2.1", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(2))), Some(Rule::MaxOrderQty));
    c.instruments.insert(
        fx.inst.id,
        InstrumentLimits {
            max_order_qty: Some(q("0.5")),
            ..InstrumentLimits::default()
        },
    );
    let mut r = engine(c);
    let o = fx.order(Side::Buy, "1", Some("100"));
    let d = fx.check(&mut r, &o, ms(3)).unwrap_err();
    assert_eq!(d.rule, Rule::MaxOrderQty);
    assert!(d.reason.contains("0.5"), "{}", d.reason);
    let recs = r.take_records();
    assert_eq!(recs.len(), 1);
    assert!(matches!(
        recs[0].kind,
        RiskRecordKind::OrderDenied { client_order_id, rule: Rule::MaxOrderQty } if client_order_id == o.client_order_id
    ));
    assert_eq!(r.counters().orders_denied, 1);
}

#[test]
fn max_order_notional_uses_limit_price_or_reference() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig {
        max_order_notional: Some(p("1000")),
        ..RiskConfig::default()
    });
    let o = fx.order(Side::Buy, "10", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1))), None);
    let o = fx.order(Side::Buy, "10", Some("101"));
    assert_eq!(
        rule(fx.check(&mut r, &o, ms(2))),
        Some(Rule::MaxOrderNotional)
    );
    // Market order: reference 100.
    let o = fx.order(Side::Buy, "11", None);
    assert_eq!(
        rule(fx.check(&mut r, &o, ms(3))),
        Some(Rule::MaxOrderNotional)
    );
    fx.reference = None;
    let o = fx.order(Side::Buy, "1", None);
    assert_eq!(
        rule(fx.check(&mut r, &o, ms(4))),
        Some(Rule::NoReferencePrice)
    );
}

#[test]
fn price_band_denies_fat_fingers() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig {
        price_band_bps: 100,
        ..RiskConfig::default()
    });
    for (px, ok) in [
        ("101", true),
        ("99", true),
        ("101.01", false),
        ("98.99", false),
        ("1000", false),
    ] {
        let o = fx.order(Side::Buy, "1", Some(px));
        let got = fx.check(&mut r, &o, ms(1));
        assert_eq!(got.is_ok(), ok, "{px}: {got:?}");
        if !ok {
            assert_eq!(rule(got), Some(Rule::PriceBand));
        }
    }
    // Market orders are not banded.
    let o = fx.order(Side::Buy, "1", None);
    assert!(fx.check(&mut r, &o, ms(2)).is_ok());
    fx.reference = None;
    let o = fx.order(Side::Buy, "1", Some("100"));
    assert_eq!(
        rule(fx.check(&mut r, &o, ms(3))),
        Some(Rule::NoReferencePrice)
    );
}

#[test]
fn max_position_counts_working_orders_and_lets_reducing_orders_through() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig {
        max_position_qty: Some(q("3")),
        ..RiskConfig::default()
    });
    fx.position = q("2");
    let o = fx.order(Side::Buy, "1", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1))), None);
    fx.rest(Side::Buy, "1", "99");
    // 2 held + 1 working + 0.5 = 3.5 > 3.
    let o = fx.order(Side::Buy, "0.5", Some("99"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(2))), Some(Rule::MaxPosition));
    // Selling reduces.
    let o = fx.order(Side::Sell, "2", Some("101"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(3))), None);
    // Selling 6 flips to -4: beyond the limit.
    let o = fx.order(Side::Sell, "6", Some("101"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(4))), Some(Rule::MaxPosition));
}

#[test]
fn gross_exposure_adds_other_instruments() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig {
        max_gross_exposure: Some(p("1000")),
        ..RiskConfig::default()
    });
    fx.other = p("600");
    let o = fx.order(Side::Buy, "4", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1))), None);
    let o = fx.order(Side::Buy, "4.5", Some("100"));
    assert_eq!(
        rule(fx.check(&mut r, &o, ms(2))),
        Some(Rule::MaxGrossExposure)
    );
}

#[test]
fn max_open_orders_per_instrument_and_total() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig {
        max_open_orders_per_instrument: 2,
        max_open_orders: 3,
        ..RiskConfig::default()
    });
    fx.rest(Side::Buy, "1", "98");
    let o = fx.order(Side::Buy, "1", Some("97"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1))), None);
    fx.rest(Side::Buy, "1", "97");
    let o = fx.order(Side::Buy, "1", Some("96"));
    assert_eq!(
        rule(fx.check(&mut r, &o, ms(2))),
        Some(Rule::MaxOpenOrdersInstrument)
    );
    let mut r = engine(RiskConfig {
        max_open_orders_per_instrument: 0,
        max_open_orders: 2,
        ..RiskConfig::default()
    });
    assert_eq!(rule(fx.check(&mut r, &o, ms(3))), Some(Rule::MaxOpenOrders));
}

#[test]
fn self_trade_prevention_denies_crossing_our_own_resting_order() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig::default());
    let ask = fx.rest(Side::Sell, "1", "101");
    fx.rest(Side::Buy, "1", "99");
    let o = fx.order(Side::Buy, "1", Some("100.5"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1))), None);
    let o = fx.order(Side::Buy, "1", Some("101"));
    let d = fx.check(&mut r, &o, ms(2)).unwrap_err();
    assert_eq!(d.rule, Rule::SelfTrade);
    assert!(
        d.reason.contains(ask.client_order_id.as_str()),
        "{}",
        d.reason
    );
    let o = fx.order(Side::Sell, "1", Some("99"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(3))), Some(Rule::SelfTrade));
    let o = fx.order(Side::Sell, "1", None);
    assert_eq!(rule(fx.check(&mut r, &o, ms(4))), Some(Rule::SelfTrade));
    let mut r = engine(RiskConfig {
        self_trade_prevention: false,
        ..RiskConfig::default()
    });
    assert_eq!(rule(fx.check(&mut r, &o, ms(5))), None);
}

#[test]
fn order_rate_limit_slides_and_counts_only_orders_that_leave() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig {
        max_orders_per_window: 3,
        rate_window_ms: 1_000,
        max_order_qty: Some(q("5")),
        ..RiskConfig::default()
    });
    for t in [0, 100, 200] {
        let o = fx.order(Side::Buy, "1", Some("100"));
        assert_eq!(rule(fx.check(&mut r, &o, ms(t))), None, "{t}");
    }
    // A denied order is not counted.
    let big = fx.order(Side::Buy, "6", Some("100"));
    assert_eq!(
        rule(fx.check(&mut r, &big, ms(300))),
        Some(Rule::MaxOrderQty)
    );
    let o = fx.order(Side::Buy, "1", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(999))), Some(Rule::OrderRate));
    // At 1000 ms the order of t=0 leaves the window.
    assert_eq!(rule(fx.check(&mut r, &o, ms(1_000))), None);
    assert_eq!(rule(fx.check(&mut r, &o, ms(1_050))), Some(Rule::OrderRate));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1_100))), None);
}

#[test]
fn cancel_rate_limit_slides() {
    let mut r = engine(RiskConfig {
        max_cancels_per_window: 2,
        rate_window_ms: 1_000,
        ..RiskConfig::default()
    });
    assert!(r.on_cancel_request(ms(0)).is_ok());
    assert!(r.on_cancel_request(ms(10)).is_ok());
    let d = r.on_cancel_request(ms(20)).unwrap_err();
    assert_eq!(d.rule, Rule::CancelRate);
    assert!(r.on_cancel_request(ms(1_000)).is_ok());
    assert_eq!(r.counters().cancels_denied, 1);
    let recs = r.take_records();
    assert!(matches!(
        recs[0].kind,
        RiskRecordKind::CancelDenied {
            rule: Rule::CancelRate
        }
    ));
    // Cancels are never refused for the trading state.
    r.set_trading_state(TradingState::Halted, "test", ms(5_000));
    assert!(r.on_cancel_request(ms(5_000)).is_ok());
}

#[test]
fn reducing_allows_only_orders_that_reduce() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig::default());
    r.set_trading_state(TradingState::Reducing, "operator", ms(0));
    assert_eq!(
        states(&r.take_records()),
        vec![(TradingState::Active, TradingState::Reducing)]
    );
    // Flat: nothing reduces.
    let o = fx.order(Side::Sell, "1", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(1))), Some(Rule::TradingState));
    fx.position = q("2");
    let o = fx.order(Side::Buy, "1", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(2))), Some(Rule::TradingState));
    let o = fx.order(Side::Sell, "2", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(3))), None);
    let o = fx.order(Side::Sell, "3", Some("100"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(4))), Some(Rule::TradingState));
    // A working sell of 1.5 leaves only 0.5 to reduce.
    fx.rest(Side::Sell, "1.5", "101");
    let o = fx.order(Side::Sell, "1", Some("101"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(5))), Some(Rule::TradingState));
    let o = fx.order(Side::Sell, "0.5", Some("101"));
    assert_eq!(rule(fx.check(&mut r, &o, ms(6))), None);
    // Short position: buys reduce.
    fx.position = q("-1");
    let mut fx2 = Fx::new();
    fx2.position = q("-1");
    let o = fx2.order(Side::Buy, "1", Some("100"));
    assert_eq!(rule(fx2.check(&mut r, &o, ms(7))), None);
    // Modifies are refused outside ACTIVE.
    assert_eq!(
        r.check_modify(o.client_order_id, ms(8)).unwrap_err().rule,
        Rule::TradingState
    );
}

#[test]
fn halted_denies_every_order_until_the_operator_resumes() {
    let mut fx = Fx::new();
    let mut r = engine(RiskConfig::default());
    r.set_trading_state(TradingState::Halted, "operator", ms(0));
    fx.position = q("2");
    let o = fx.order(Side::Sell, "1", Some("100"));
    let d = fx.check(&mut r, &o, ms(1)).unwrap_err();
    assert_eq!(d.rule, Rule::TradingState);
    assert!(d.reason.contains("HALTED"));
    r.set_trading_state(TradingState::Active, "resume", ms(2));
    assert_eq!(rule(fx.check(&mut r, &o, ms(3))), None);
    assert_eq!(r.counters().halts, 1);
}

#[test]
fn daily_loss_halts_once_per_utc_day() {
    let mut r = engine(RiskConfig {
        max_daily_loss: Some(usdt("100")),
        ..RiskConfig::default()
    });
    assert_eq!(r.equity_currency(), Some(usdt("1").currency()));
    let day = 86_400_000;
    r.on_equity(ms(day), usdt("1000"));
    r.on_equity(ms(day + 1), usdt("1050"));
    r.on_equity(ms(day + 2), usdt("901"));
    assert_eq!(r.trading_state(), TradingState::Active);
    r.on_equity(ms(day + 3), usdt("900"));
    assert_eq!(r.trading_state(), TradingState::Halted);
    let recs = r.take_records();
    assert_eq!(
        states(&recs),
        vec![(TradingState::Active, TradingState::Halted)]
    );
    assert!(recs[0].reason.contains("daily loss"), "{}", recs[0].reason);
    // The operator resumes: the daily halt does not fire again today.
    r.set_trading_state(TradingState::Active, "accepted", ms(day + 4));
    r.on_equity(ms(day + 5), usdt("850"));
    assert_eq!(r.trading_state(), TradingState::Active);
    // Next day: a new start of day (850), 100 below halts again.
    r.on_equity(ms(2 * day), usdt("850"));
    r.on_equity(ms(2 * day + 1), usdt("750"));
    assert_eq!(r.trading_state(), TradingState::Halted);
    // Equity in another currency is ignored.
    let mut r = engine(RiskConfig {
        max_daily_loss: Some(usdt("100")),
        ..RiskConfig::default()
    });
    let btc = Currency::new("BTC").unwrap();
    r.on_equity(ms(1), Money::parse("10", btc).unwrap());
    r.on_equity(ms(2), Money::parse("1", btc).unwrap());
    assert_eq!(r.trading_state(), TradingState::Active);
}

#[test]
fn drawdown_from_peak_halts_and_rearms_on_resume() {
    let mut r = engine(RiskConfig {
        max_drawdown: Some(usdt("50")),
        ..RiskConfig::default()
    });
    r.on_equity(ms(1), usdt("1000"));
    r.on_equity(ms(2), usdt("1200"));
    r.on_equity(ms(3), usdt("1151"));
    assert_eq!(r.trading_state(), TradingState::Active);
    r.on_equity(ms(4), usdt("1150"));
    assert_eq!(r.trading_state(), TradingState::Halted);
    r.set_trading_state(TradingState::Active, "resume", ms(5));
    // The peak restarts at 1150.
    r.on_equity(ms(6), usdt("1110"));
    assert_eq!(r.trading_state(), TradingState::Active);
    r.on_equity(ms(7), usdt("1100"));
    assert_eq!(r.trading_state(), TradingState::Halted);
}

#[test]
fn repeated_rejects_halt() {
    let mut r = engine(RiskConfig {
        max_rejects: 3,
        reject_window_ms: 1_000,
        ..RiskConfig::default()
    });
    r.on_reject(ms(0), "a");
    r.on_reject(ms(500), "b");
    // The first reject leaves the window.
    r.on_reject(ms(1_000), "c");
    assert_eq!(r.trading_state(), TradingState::Active);
    r.on_reject(ms(1_200), "insufficient margin");
    assert_eq!(r.trading_state(), TradingState::Halted);
    let recs = r.take_records();
    assert!(recs[0].reason.contains("insufficient margin"));
}

#[test]
fn stale_market_data_halts_only_for_instruments_with_open_orders() {
    let fx = Fx::new();
    let id = fx.inst.id;
    let mut r = engine(RiskConfig {
        stale_data_ms: 1_000,
        ..RiskConfig::default()
    });
    r.on_market_data(id, ms(0));
    assert!(r.stale_check_due(ms(10)));
    r.on_tick(ms(5_000), []);
    assert_eq!(r.trading_state(), TradingState::Active);
    r.on_market_data(id, ms(5_000));
    r.on_tick(ms(5_999), [id]);
    assert_eq!(r.trading_state(), TradingState::Active);
    assert!(!r.stale_check_due(ms(6_000)));
    assert!(r.stale_check_due(ms(6_099)));
    r.on_tick(ms(6_100), [id]);
    assert_eq!(r.trading_state(), TradingState::Halted);
    let recs = r.take_records();
    assert!(
        recs[0].reason.contains("no market data"),
        "{}",
        recs[0].reason
    );
    // Data resumes (a notice), the halt stays.
    r.on_market_data(id, ms(7_000));
    assert_eq!(r.trading_state(), TradingState::Halted);
    assert!(matches!(r.take_records()[0].kind, RiskRecordKind::Notice));
    // Off when 0.
    let mut r = engine(RiskConfig {
        stale_data_ms: 0,
        ..RiskConfig::default()
    });
    r.on_tick(ms(0), [id]);
    r.on_tick(ms(1_000_000), [id]);
    assert_eq!(r.trading_state(), TradingState::Active);
    assert!(!r.stale_check_due(ms(0)));
}

#[test]
fn lost_connection_halts_unless_disabled() {
    let mut r = engine(RiskConfig::default());
    r.on_connection(ms(1), true, "user data");
    assert_eq!(r.trading_state(), TradingState::Active);
    r.on_connection(ms(2), false, "user data");
    assert_eq!(r.trading_state(), TradingState::Halted);
    let recs = r.take_records();
    assert!(recs.iter().any(|x| x.reason.contains("user data lost")));
    let mut r = engine(RiskConfig {
        halt_on_disconnect: false,
        ..RiskConfig::default()
    });
    r.on_connection(ms(2), false, "market data");
    assert_eq!(r.trading_state(), TradingState::Active);
}

#[test]
fn connection_only_halt_lifts_when_every_link_is_back() {
    let mut r = engine(RiskConfig::default());
    r.on_connection(ms(1), false, "market");
    r.on_connection(ms(2), false, "user");
    assert_eq!(r.trading_state(), TradingState::Halted);
    r.on_connection(ms(3), true, "market");
    assert_eq!(
        r.trading_state(),
        TradingState::Halted,
        "user is still down"
    );
    r.on_connection(ms(4), true, "user");
    assert_eq!(r.trading_state(), TradingState::Active);
    // Another reason while halted makes the halt sticky.
    r.on_connection(ms(5), false, "market");
    r.set_trading_state(TradingState::Halted, "operator", ms(6));
    r.on_connection(ms(7), true, "market");
    assert_eq!(r.trading_state(), TradingState::Halted);
    // And the option off keeps every halt.
    let mut r = engine(RiskConfig {
        resume_on_reconnect: false,
        ..RiskConfig::default()
    });
    r.on_connection(ms(1), false, "market");
    r.on_connection(ms(2), true, "market");
    assert_eq!(r.trading_state(), TradingState::Halted);
}

#[test]
fn kill_switch_plans_cancels_and_reduce_only_flatten_orders() {
    let mut fx = Fx::new();
    fx.rest(Side::Buy, "1", "99");
    let spot = veloz_sim::presets::spot_btcusdt();
    let coinm = veloz_sim::presets::coinm_btcusd_perp();
    let mut r = engine(RiskConfig::default());
    let plan = r.kill_switch(
        ms(1),
        true,
        "operator",
        &fx.orders,
        [
            (&fx.inst, q("-2")),
            (&spot, q("0.5")),
            (&coinm, Quantity::ZERO),
        ],
    );
    assert_eq!(r.trading_state(), TradingState::Halted);
    assert_eq!(plan.cancel, vec![fx.inst.id]);
    assert_eq!(plan.flatten.len(), 2);
    assert_eq!(plan.flatten[0].side, Side::Buy);
    assert_eq!(plan.flatten[0].quantity, q("2"));
    assert!(plan.flatten[0].reduce_only);
    assert_eq!(flatten_flags(&plan.flatten[0]), OrderFlags::REDUCE_ONLY);
    assert_eq!(plan.flatten[1].side, Side::Sell);
    assert!(!plan.flatten[1].reduce_only);
    let recs = r.take_records();
    assert!(matches!(
        recs[0].kind,
        RiskRecordKind::KillSwitch { flatten: true }
    ));
    // Flatten orders pass while HALTED if they reduce; others do not.
    fx.position = q("-2");
    let mut o = fx.order(Side::Buy, "2", None);
    o.flags = OrderFlags::REDUCE_ONLY;
    let wrong = fx.order(Side::Sell, "1", None);
    let view = RiskView {
        instrument: &fx.inst,
        reference_price: None,
        position: fx.position,
        orders: &fx.orders,
        gross_exposure_other: Price::ZERO,
        now: ms(2),
    };
    assert!(r.check_flatten(&o, &view).is_ok());
    assert_eq!(rule(r.check(&o, &view)), Some(Rule::TradingState));
    assert_eq!(
        rule(r.check_flatten(&wrong, &view)),
        Some(Rule::NotReducing)
    );
    // Without flatten: no orders.
    let plan = r.kill_switch(ms(3), false, "again", &fx.orders, [(&fx.inst, q("1"))]);
    assert!(plan.flatten.is_empty());
}

#[test]
fn flatten_orders_are_sliced_by_the_market_lot_maximum() {
    let fx = Fx::new();
    let mut inst = fx.inst.clone();
    let mut lot = inst.market_lot.unwrap_or(inst.lot);
    lot.max_qty = q("1");
    inst.market_lot = Some(lot);
    let mut r = engine(RiskConfig::default());
    let plan = r.kill_switch(ms(1), true, "x", &fx.orders, [(&inst, q("2.5"))]);
    let qs: Vec<Quantity> = plan.flatten.iter().map(|f| f.quantity).collect();
    assert_eq!(qs, vec![q("1"), q("1"), q("0.5")]);
}
