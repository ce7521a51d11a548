//! Typed REST answers on the recorded Binance answers in
//! `shared/fixtures/binance/nautilus/` (docs examples and real 2021-2022
//! captures), and exchangeInfo into `veloz_core::Instrument`s with every filter.

use serde::de::DeserializeOwned;
use veloz_core::{
    AggressorSide, ContractKind, Currency, InstrumentId, MarginMode, MarketKind, Price, Quantity,
    Side, UnixNanos,
};
use veloz_exec::binance::error::BinanceError;
use veloz_exec::binance::ratelimit::{RateLimitInterval, RateLimitType};
use veloz_exec::binance::rest::exchange_info::{ExchangeInfo, InstrumentError};
use veloz_exec::binance::rest::responses::*;
use veloz_exec::binance::rest::types::{
    AlgoStatus, ContractType, OrderStatus, OrderType, PositionSide, PriceMatch,
    SelfTradePrevention, SymbolStatus, TimeInForce, WorkingType,
};

fn read<T: DeserializeOwned>(rel: &str) -> T {
    let path = veloz_core::fixtures::fixture(&format!("binance/nautilus/{rel}")).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // Every fixture is a success answer: the error classifier must agree.
    BinanceError::check_response(200, &[], &bytes).unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
fn a(s: &str) -> Amount {
    Amount::parse(s).unwrap()
}

const SPOT: &str = "crate_test_data/spot/http_json";
const FUT: &str = "crate_test_data/futures/http_json";
const HTTP: &str = "integration_resources/http_responses";

#[test]
fn market_data_answers() {
    let t: ServerTime = read(&format!("{SPOT}/server_time_response.json"));
    assert_eq!(t.server_time, 1499827319559);
    let t: ServerTime = read(&format!("{HTTP}/http_spot_market_time.json"));
    assert_eq!(t.server_time, 1633835466289);
    let _: Empty = read(&format!("{SPOT}/ping_response.json"));

    let d: DepthSnapshot = read(&format!("{HTTP}/http_spot_market_depth.json"));
    assert_eq!(d.last_update_id, 14527958487);
    assert_eq!((d.bids.len(), d.asks.len()), (10, 10));
    assert_eq!(d.bids[0], DepthLevel(p("60650.00000000"), q("0.00213000")));
    assert_eq!(d.asks[9], DepthLevel(p("60659.94000000"), q("0.96170000")));
    let id = InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap();
    let snap = d.to_book_snapshot(id, UnixNanos(7));
    assert_eq!(snap.bids[0].price.to_string(), "60650.00000000");
    assert_eq!(
        snap.times.exchange,
        UnixNanos(7),
        "spot snapshots carry no time"
    );

    let d: DepthSnapshot = read(&format!("{HTTP}/http_futures_market_depth.json"));
    assert_eq!(
        (d.event_time, d.transaction_time),
        (Some(1589436922972), Some(1589436922959))
    );
    let snap = d.to_book_snapshot(
        InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
        UnixNanos(7),
    );
    assert_eq!(snap.times.exchange, UnixNanos::from_millis(1589436922959));
    assert_eq!(snap.asks[0].qty, q("12"));

    let k: Vec<Kline> = read(&format!("{HTTP}/http_spot_market_klines.json"));
    assert!(k.len() > 5);
    assert_eq!(k[0].open_time, 1634943780000);
    assert_eq!(k[0].open, p("60685.22"));
    assert_eq!(k[0].high, p("60729.84"));
    assert_eq!(k[0].low, p("60670.90"));
    assert_eq!(k[0].close, p("60719.27"));
    assert_eq!(k[0].volume, q("21.63272"));
    assert_eq!(k[0].close_time, 1634943839999);
    assert_eq!(k[0].quote_volume, a("1313200.01340410"));
    assert_eq!(k[0].trades, 617);
    assert_eq!(k[0].taker_buy_base_volume, q("12.28492"));
    assert_eq!(k[0].taker_buy_quote_volume, a("745719.4102284"));
    let bar = k[0].to_bar(id, 60, true, UnixNanos(1));
    assert_eq!(bar.open_time, UnixNanos::from_millis(1634943780000));
    assert_eq!(bar.times.exchange, UnixNanos::from_millis(1634943839999));
    for w in k.windows(2) {
        assert_eq!(w[1].open_time - w[0].open_time, 60_000);
    }
    let k: Vec<Kline> = read(&format!("{HTTP}/http_futures_market_klines.json"));
    assert_eq!(k[0].taker_buy_quote_volume, a("28.46694368"));
    let k: Vec<Kline> = read(&format!("{SPOT}/klines_response.json"));
    assert_eq!(k[0].trades, 308);

    let tr: Vec<RecentTrade> = read(&format!("{HTTP}/http_spot_market_trades.json"));
    assert_eq!(tr[0].id, 1111468873);
    assert_eq!(tr[0].quote_qty, a("1773.406"));
    assert_eq!(
        tr[0].to_trade(id, UnixNanos(0)).aggressor,
        AggressorSide::Seller
    );
    assert_eq!(
        tr[1].to_trade(id, UnixNanos(0)).aggressor,
        AggressorSide::Buyer
    );
    assert!(tr.windows(2).all(|w| w[1].id == w[0].id + 1));
    let tr: Vec<RecentTrade> = read(&format!("{HTTP}/http_futures_market_trades.json"));
    assert_eq!((tr[0].is_best_match, tr[0].price), (None, p("4.00000100")));
    let tr: Vec<RecentTrade> = read(&format!("{SPOT}/trades_response.json"));
    assert_eq!(tr[0].is_best_match, Some(true));
}

#[test]
fn spot_order_answers() {
    let full: SpotOrderReport = read(&format!("{SPOT}/new_order_full_response.json"));
    assert_eq!(full.order_id, 28);
    assert_eq!(full.status, Some(OrderStatus::Filled));
    assert_eq!(full.order_type, Some(OrderType::Market));
    assert_eq!(full.side, Some(Side::Sell));
    assert_eq!(full.cumulative_quote_qty, Some(a("10")));
    assert_eq!(full.fills.len(), 5);
    assert_eq!(full.fills[1].price, p("3999"));
    assert_eq!(full.fills[1].commission, a("19.995"));
    assert_eq!(full.fills[4].trade_id, 60);
    let filled = full
        .fills
        .iter()
        .try_fold(Quantity::ZERO, |acc, f| acc.checked_add(f.qty))
        .unwrap();
    assert_eq!(
        filled,
        full.executed_qty.unwrap(),
        "fills add up to executedQty"
    );

    let o: SpotOrderReport = read(&format!("{SPOT}/order_response.json"));
    assert_eq!((o.order_list_id, o.is_working), (Some(-1), Some(true)));
    assert_eq!(o.iceberg_qty, Some(q("0")));
    assert_eq!(
        o.self_trade_prevention_mode,
        Some(SelfTradePrevention::None)
    );
    assert_eq!(o.time_in_force, Some(TimeInForce::Gtc));

    for f in ["open_orders_response.json", "all_orders_response.json"] {
        let v: Vec<SpotOrderReport> = read(&format!("{SPOT}/{f}"));
        assert_eq!(v[0].client_order_id, "myOrder1");
        assert_eq!(v[0].status, Some(OrderStatus::New));
    }

    let c: SpotOrderReport = read(&format!("{SPOT}/cancel_order_response.json"));
    assert_eq!(c.orig_client_order_id.as_deref(), Some("myOrder1"));
    assert_eq!(c.status, Some(OrderStatus::Canceled));

    let all: Vec<SpotCancelAllItem> = read(&format!("{SPOT}/cancel_open_orders_response.json"));
    let orders = all
        .iter()
        .filter(|i| matches!(i, SpotCancelAllItem::Order(_)))
        .count();
    let lists: Vec<&SpotOrderListReport> = all
        .iter()
        .filter_map(|i| match i {
            SpotCancelAllItem::List(l) => Some(l),
            SpotCancelAllItem::Order(_) => None,
        })
        .collect();
    assert_eq!((orders, lists.len()), (2, 1));
    assert_eq!(lists[0].contingency_type, "OCO");
    assert_eq!(lists[0].orders.len(), 2);
    assert_eq!(lists[0].order_reports.len(), 2);

    let trades: Vec<SpotAccountTrade> = read(&format!("{SPOT}/account_trades_response.json"));
    assert_eq!(trades[0].commission, a("10.1"));
    assert!(trades[0].is_buyer && !trades[0].is_maker);
}

#[test]
fn spot_account_answers() {
    let acc: SpotAccount = read(&format!("{SPOT}/account_response.json"));
    assert_eq!(acc.commission_rates.unwrap().maker, p("0.0015"));
    assert_eq!(acc.uid, Some(354937868));
    let (balances, bad) = acc.to_balances(UnixNanos(5));
    assert!(bad.is_empty());
    assert_eq!(balances.len(), 2);
    assert_eq!(balances[0].asset, Currency::new("BTC").unwrap());
    assert_eq!(balances[0].free.to_string(), "4723846.89208129 BTC");
    assert_eq!(balances[1].locked.raw(), 0);
    let old: SpotAccount = read(&format!("{HTTP}/http_spot_wallet_account.json"));
    assert_eq!((old.commission_rates, old.uid), (None, None));
    assert_eq!(old.balances[1].free, a("4763368.68006011"));
}

#[test]
fn futures_answers() {
    let o: FuturesOrderReport = read(&format!("{FUT}/order_response.json"));
    assert_eq!(o.order_id, 12345678);
    assert_eq!(o.price, p("50000"));
    assert_eq!(o.cum_quote, Some(a("0")));
    assert_eq!(o.price_match, Some(PriceMatch::None));
    assert_eq!(o.working_type, Some(WorkingType::ContractPrice));
    assert_eq!(o.position_side, PositionSide::Both);
    assert_eq!(o.good_till_date, Some(0));

    let v: Vec<FuturesOrderReport> = read(&format!("{HTTP}/http_futures_account_orders.json"));
    assert_eq!(v[0].order_type, OrderType::TrailingStopMarket);
    assert_eq!(v[0].activate_price, Some(p("9020")));
    assert_eq!(v[0].price_rate, Some(p("0.3")));
    assert_eq!(v[0].position_side, PositionSide::Short);
    assert_eq!(v[0].stop_price, Some(p("9300")));

    let algo: Vec<AlgoOrderReport> = read(&format!("{FUT}/open_algo_orders.json"));
    assert_eq!(algo[0].algo_id, 123456789);
    assert_eq!(algo[0].order_type, OrderType::StopMarket);
    assert_eq!(algo[0].algo_status, AlgoStatus::New);
    assert_eq!(algo[0].trigger_price, Some(p("45000")));
    assert_eq!(algo[0].working_type, Some(WorkingType::MarkPrice));

    let acc: FuturesAccount = read(&format!("{FUT}/account_info_v2.json"));
    assert_eq!(acc.total_wallet_balance, Some(a("23.72469206")));
    assert_eq!(acc.assets[0].asset, "USDT");
    assert_eq!(acc.positions[0].leverage, Some(100));
    assert_eq!(acc.positions[0].isolated, Some(false));
    assert_eq!(acc.positions[0].entry_price, Some(p("0")));

    let bal: Vec<FuturesBalance> = read(&format!("{FUT}/balance.json"));
    assert_eq!(bal[0].balance, a("122.12345678"));
    assert_eq!(bal[0].margin_available, Some(true));

    let pr: Vec<PositionRisk> = read(&format!("{FUT}/position_risk.json"));
    assert_eq!(pr[0].position_amt, q("0.001"));
    assert_eq!(pr[0].margin_type, Some(MarginMode::Cross));
    assert_eq!(pr[0].is_auto_add_margin, Some(false));
    assert_eq!(pr[0].break_even_price, Some(p("50100")));
    let rep = pr[0].to_report(
        InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
        Currency::new("USDT").unwrap(),
        UnixNanos(1),
    );
    assert_eq!(rep.unrealized_pnl.raw(), 100_000_000);
    assert_eq!(rep.unrealized_pnl.currency().as_str(), "USDT");
    assert_eq!(rep.times.exchange, UnixNanos::from_millis(1625474304765));

    let hedge: Vec<PositionRisk> =
        read(&format!("{HTTP}/http_futures_account_positions_hedge.json"));
    assert_eq!(hedge[0].position_side, PositionSide::Long);
    assert_eq!(hedge[1].position_amt, q("-10"));
    assert_eq!(hedge[1].un_realized_profit, a("-1156.4671178"));
    assert_eq!(hedge[1].margin_type, Some(MarginMode::Isolated));
    assert_eq!(hedge[1].leverage, Some(10));
    let one: Vec<PositionRisk> = read(&format!(
        "{HTTP}/http_futures_account_positions_one_way.json"
    ));
    assert_eq!(one[0].update_time, Some(0));

    let mode: PositionMode = read(&format!(
        "{HTTP}/http_futures_account_position_side_dual.json"
    ));
    assert!(mode.dual_side_position);

    let t: Vec<FuturesAccountTrade> = read(&format!("{HTTP}/http_futures_account_trades.json"));
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].realized_pnl, a("-0.00325"));
    assert_eq!(t[1].price, p("2779"));
    assert_eq!(t[0].side, Side::Sell);
    assert!(t[1].buyer && !t[1].maker);
}

#[test]
fn batch_and_ack_answers() {
    let body = br#"[{"orderId":1,"symbol":"BTCUSDT","status":"NEW","clientOrderId":"a","price":"60000","avgPrice":"0.00","origQty":"0.010","executedQty":"0","cumQty":"0","cumQuote":"0","timeInForce":"GTX","type":"LIMIT","reduceOnly":false,"closePosition":false,"side":"BUY","positionSide":"BOTH","stopPrice":"0","workingType":"CONTRACT_PRICE","priceProtect":false,"origType":"LIMIT","priceMatch":"NONE","selfTradePreventionMode":"EXPIRE_MAKER","goodTillDate":0,"updateTime":1},{"code":-2022,"msg":"ReduceOnly Order is rejected."}]"#;
    BinanceError::check_response(200, &[], body).unwrap();
    let items: Vec<FuturesBatchItem> = serde_json::from_slice(body).unwrap();
    assert!(matches!(&items[0], OrderOrError::Order(o) if o.time_in_force == TimeInForce::Gtx));
    match &items[1] {
        OrderOrError::Error(e) => {
            let err = BinanceError::from_api(200, e.clone(), None);
            assert_eq!(err.code(), Some(-2022));
            assert!(err.is_definite_failure());
        }
        other => panic!("{other:?}"),
    }
    let ack: CodeAck = serde_json::from_str(
        r#"{"code":200,"msg":"The operation of cancel all open order is done."}"#,
    )
    .unwrap();
    assert!(!ack.is_error());
    let c: AlgoCancelAck = serde_json::from_str(r#"{"algoId":2146760,"clientAlgoId":"6B2I9XVcJpCjqPAJ4YoFX7","code":"200","msg":"success"}"#).unwrap();
    assert_eq!((c.algo_id, c.code), (2146760, 200));
    // Cancel-replace partial failure (HTTP 409): definite, and both halves readable.
    let body = br#"{"code":-2022,"msg":"Order cancel-replace failed.","data":{"cancelResult":"FAILURE","newOrderResult":"NOT_ATTEMPTED","cancelResponse":{"code":-2011,"msg":"Unknown order sent."},"newOrderResponse":null}}"#;
    let err = BinanceError::check_response(409, &[], body).unwrap_err();
    assert!(err.is_definite_failure());
    let f: CancelReplaceFailure = serde_json::from_slice(body).unwrap();
    assert!(matches!(f.data.cancel_response, Some(OrderOrError::Error(ref e)) if e.code == -2011));
    assert_eq!(f.data.new_order_result, "NOT_ATTEMPTED");
}

#[test]
fn spot_exchange_info_to_instruments_with_every_filter() {
    let info: ExchangeInfo = read(&format!("{HTTP}/http_spot_market_exchange_info.json"));
    assert_eq!(info.server_time, 1634942465856);
    let rl = &info.rate_limits;
    assert_eq!(rl.len(), 4);
    assert_eq!(
        (
            rl[0].rate_limit_type,
            rl[0].interval,
            rl[0].interval_num,
            rl[0].limit
        ),
        (
            RateLimitType::RequestWeight,
            RateLimitInterval::Minute,
            1,
            1200
        )
    );
    assert_eq!(
        (rl[1].rate_limit_type, rl[1].interval_num, rl[1].limit),
        (RateLimitType::Orders, 10, 50)
    );
    assert_eq!(
        (rl[2].interval, rl[2].limit),
        (RateLimitInterval::Day, 160000)
    );
    assert_eq!(
        (rl[3].rate_limit_type, rl[3].interval_num, rl[3].limit),
        (RateLimitType::RawRequests, 5, 6100)
    );

    let (ok, bad) = info.instruments(MarketKind::Spot);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok.len(), 2);
    let btc = &ok[0];
    let i = &btc.instrument;
    assert_eq!(
        i.id,
        InstrumentId::binance(MarketKind::Spot, "BTCUSDT").unwrap()
    );
    assert_eq!(i.contract, ContractKind::Spot);
    assert_eq!(
        (i.base.as_str(), i.quote.as_str(), i.margin_asset.as_str()),
        ("BTC", "USDT", "USDT")
    );
    assert_eq!((i.price_precision, i.qty_precision), (8, 8));
    // PRICE_FILTER
    assert_eq!(
        (i.min_price, i.max_price, i.tick_size),
        (p("0.01"), p("1000000"), p("0.01"))
    );
    // LOT_SIZE
    assert_eq!(
        (i.lot.min_qty, i.lot.max_qty, i.lot.step),
        (q("0.00001"), q("9000"), q("0.00001"))
    );
    // MARKET_LOT_SIZE (step 0 = disabled)
    let m = i.market_lot.unwrap();
    assert_eq!(
        (m.min_qty, m.max_qty, m.step),
        (q("0"), q("112.2110882"), q("0"))
    );
    // MIN_NOTIONAL
    assert_eq!(i.min_notional, Some(p("10")));
    assert!(i.min_notional_applies_to_market);
    assert_eq!(i.max_notional, None);
    // PERCENT_PRICE
    let band = i.percent_band.unwrap();
    assert_eq!((band.up, band.down), (p("5"), p("0.2")));
    // ICEBERG_PARTS, MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS, avgPriceMins
    let r = &btc.rules;
    assert_eq!(r.iceberg_parts, Some(10));
    assert_eq!(r.max_num_orders, Some(200));
    assert_eq!(r.max_num_algo_orders, Some(5));
    assert_eq!(r.avg_price_mins, Some(5));
    assert_eq!(r.unknown_filters, 0);
    assert_eq!(r.status, Some(SymbolStatus::Trading));
    assert_eq!(
        r.order_types,
        vec![
            OrderType::Limit,
            OrderType::LimitMaker,
            OrderType::Market,
            OrderType::StopLossLimit,
            OrderType::TakeProfitLimit
        ]
    );
    assert_eq!(i.maker_fee, Price::ZERO);
    // Display precision is the wire's.
    assert_eq!(i.tick_size.to_string(), "0.01000000");
    // ETHUSDT differs where the file differs.
    assert_eq!(ok[1].instrument.lot.step, q("0.0001"));
    assert_eq!(
        ok[1].instrument.market_lot.unwrap().max_qty,
        q("1630.44517663")
    );

    // The docs-example exchangeInfo has no filters: it cannot become an instrument.
    let docs: ExchangeInfo = read(&format!("{SPOT}/exchange_info_response.json"));
    let (ok, bad) = docs.instruments(MarketKind::Spot);
    assert!(ok.is_empty());
    assert!(matches!(
        &bad[0],
        InstrumentError::MissingFilter {
            filter: "PRICE_FILTER",
            ..
        }
    ));
    assert!(bad[0].to_string().contains("ETHBTC"));
}

#[test]
fn usdm_exchange_info_to_instruments_with_every_filter() {
    let info: ExchangeInfo = read(&format!("{HTTP}/http_futures_market_exchange_info.json"));
    assert_eq!(info.rate_limits.len(), 3);
    assert_eq!(info.rate_limits[0].limit, 6000);
    assert_eq!(
        (
            info.rate_limits[2].interval,
            info.rate_limits[2].interval_num,
            info.rate_limits[2].limit
        ),
        (RateLimitInterval::Second, 10, 300)
    );
    assert_eq!(info.assets.len(), 5);
    assert_eq!(info.assets[0].auto_asset_exchange, Some(p("-100")));

    let (ok, bad) = info.instruments(MarketKind::UsdM);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok.len(), 3);
    let btc = &ok[0];
    let i = &btc.instrument;
    assert_eq!(i.contract, ContractKind::LinearPerpetual);
    assert_eq!((i.price_precision, i.qty_precision), (2, 3));
    assert_eq!(
        (i.min_price, i.max_price, i.tick_size),
        (p("402"), p("1246396.6"), p("0.1"))
    );
    assert_eq!(i.tick_size.to_string(), "0.10");
    assert_eq!(
        (i.lot.min_qty, i.lot.max_qty, i.lot.step),
        (q("0.001"), q("1000"), q("0.001"))
    );
    let m = i.market_lot.unwrap();
    assert_eq!(
        (m.min_qty, m.max_qty, m.step),
        (q("0.001"), q("1000"), q("0.001"))
    );
    assert_eq!(i.min_notional, Some(p("10")));
    assert!(i.min_notional_applies_to_market);
    let band = i.percent_band.unwrap();
    assert_eq!((band.up, band.down), (p("1.1"), p("0.5454")));
    let r = &btc.rules;
    assert_eq!(r.multiplier_decimal, Some(4));
    assert_eq!(r.max_num_orders, Some(200));
    assert_eq!(r.max_num_algo_orders, Some(10));
    assert_eq!(r.contract_type, Some(ContractType::Perpetual));
    assert_eq!(r.liquidation_fee, Some(p("0.012")));
    assert_eq!(r.market_take_bound, Some(p("0.30")));
    assert_eq!(r.maint_margin_percent, Some(p("2.5")));
    assert_eq!(
        r.time_in_force,
        vec![
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::Gtx
        ]
    );
    assert_eq!(r.order_types.len(), 7);

    let q220325 = &ok[2];
    assert_eq!(q220325.instrument.id.symbol.as_str(), "BTCUSDT_220325");
    assert_eq!(
        q220325.rules.contract_type,
        Some(ContractType::CurrentQuarter)
    );
    assert_eq!(q220325.rules.delivery_date, Some(1648195200000));
    assert_eq!(q220325.instrument.price_precision, 1);
    assert_eq!(q220325.instrument.min_price, p("1093.3"));

    // The instrument's rules agree with the futures grid (from minPrice).
    let order = veloz_core::OrderCheck {
        side: Side::Buy,
        order_type: veloz_core::OrderType::Limit,
        quantity: q("0.010"),
        price: Some(p("40000.10")),
        trigger_price: None,
        flags: veloz_core::OrderFlags::NONE,
        reference_price: Some(p("40000")),
    };
    assert_eq!(i.validate(&order), vec![]);
}

#[test]
fn coinm_exchange_info_has_contract_size() {
    // No real COIN-M exchangeInfo is in the fixtures: this body follows the
    // documented COIN-M shape (contractStatus, contractSize, no MIN_NOTIONAL).
    let body = r#"{"timezone":"UTC","serverTime":1722000000000,"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000},{"rateLimitType":"ORDERS","interval":"MINUTE","intervalNum":1,"limit":6000}],"exchangeFilters":[],
      "symbols":[{"filters":[{"filterType":"PRICE_FILTER","maxPrice":"4520958","minPrice":"1000","tickSize":"0.1"},{"stepSize":"1","filterType":"LOT_SIZE","maxQty":"1000000","minQty":"1"},{"stepSize":"1","filterType":"MARKET_LOT_SIZE","maxQty":"60","minQty":"1"},{"limit":200,"filterType":"MAX_NUM_ORDERS"},{"multiplierUp":"1.0500","multiplierDown":"0.9500","multiplierDecimal":4,"filterType":"PERCENT_PRICE"}],
        "orderTypes":["LIMIT","MARKET","STOP","STOP_MARKET","TAKE_PROFIT","TAKE_PROFIT_MARKET","TRAILING_STOP_MARKET"],"timeInForce":["GTC","IOC","FOK","GTX"],
        "liquidationFee":"0.010000","marketTakeBound":"0.30","symbol":"BTCUSD_PERP","pair":"BTCUSD","contractType":"PERPETUAL","deliveryDate":4133404800000,"onboardDate":1597042800000,"contractStatus":"TRADING","contractSize":100,"quoteAsset":"USD","baseAsset":"BTC","marginAsset":"BTC","pricePrecision":1,"quantityPrecision":0,"baseAssetPrecision":8,"quotePrecision":8,"equalQtyPrecision":4,"triggerProtect":"0.0500","maintMarginPercent":"2.5000","requiredMarginPercent":"5.0000","underlyingType":"COIN","underlyingSubType":[]}]}"#;
    let info: ExchangeInfo = serde_json::from_str(body).unwrap();
    let (ok, bad) = info.instruments(MarketKind::CoinM);
    assert!(bad.is_empty(), "{bad:?}");
    let i = &ok[0].instrument;
    assert_eq!(
        i.contract,
        ContractKind::InversePerpetual {
            contract_size: q("100")
        }
    );
    assert_eq!(
        (i.base.as_str(), i.quote.as_str(), i.margin_asset.as_str()),
        ("BTC", "USD", "BTC")
    );
    assert_eq!((i.price_precision, i.qty_precision), (1, 0));
    assert_eq!(i.lot.step, q("1"));
    assert_eq!(i.min_notional, None);
    assert_eq!(ok[0].rules.status, Some(SymbolStatus::Trading));
    // Notional of 3 contracts is 300 USD whatever the price.
    assert_eq!(i.notional(p("60000"), q("3")).unwrap(), p("300"));
    // Without contractSize a COIN-M symbol is refused.
    let no_size = body.replace("\"contractSize\":100,", "");
    let info: ExchangeInfo = serde_json::from_str(&no_size).unwrap();
    assert!(matches!(
        info.instruments(MarketKind::CoinM).1[0],
        InstrumentError::MissingContractSize { .. }
    ));
    // Unknown filter types are kept, counted, never an error.
    let extra = body.replace(
        "[{\"filterType\":\"PRICE_FILTER\"",
        "[{\"filterType\":\"SOME_FUTURE_FILTER\",\"x\":1},{\"filterType\":\"PRICE_FILTER\"",
    );
    let info: ExchangeInfo = serde_json::from_str(&extra).unwrap();
    assert_eq!(
        info.instruments(MarketKind::CoinM).0[0]
            .rules
            .unknown_filters,
        1
    );
}
