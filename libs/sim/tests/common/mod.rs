//! Shared helpers for the integration tests: instruments with round fee rates,
//! market-event builders and order builders.
#![allow(dead_code)]

use veloz_core::events::{
    BookDelta, BookDeltas, BookSnapshot, EventTimes, Level, MarkPrice, MarketEvent, SubmitOrder,
    Trade, Trailing,
};
use veloz_core::{
    AggressorSide, ClientOrderId, Currency, Instrument, InstrumentId, Liquidity, Money, OrderFlags,
    OrderType, PositionSide, Price, Quantity, Side, StrategyId, TimeInForce, TradeId,
    TriggerPriceType, UnixNanos,
};
use veloz_sim::{presets, AccountId, InstrumentSettings, OrderReport, SimExchange, SimReport};

pub fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
pub fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
pub fn cur(s: &str) -> Currency {
    Currency::new(s).unwrap()
}
pub fn money(s: &str, c: &str) -> Money {
    Money::parse(s, cur(c)).unwrap()
}
pub fn t(ms: u64) -> UnixNanos {
    UnixNanos::from_millis(1_700_000_000_000 + ms)
}

pub const A: AccountId = AccountId(1);
pub const B: AccountId = AccountId(2);

/// Spot BTCUSDT with maker 0.1 %, taker 0.2 %, no percent band.
pub fn spot() -> Instrument {
    let mut i = presets::spot_btcusdt();
    i.maker_fee = p("0.001");
    i.taker_fee = p("0.002");
    i.percent_band = None;
    i.min_notional = Some(p("1"));
    i
}

/// USD-M BTCUSDT, maker 0.02 %, taker 0.05 %, no band, min notional 5.
pub fn usdm() -> Instrument {
    let mut i = presets::usdm_btcusdt();
    i.percent_band = None;
    i.min_notional = Some(p("5"));
    i.min_price = p("0.10");
    i
}

/// COIN-M BTCUSD_PERP (100 USD contracts), maker 0.02 %, taker 0.05 %.
pub fn coinm() -> Instrument {
    let mut i = presets::coinm_btcusd_perp();
    i.percent_band = None;
    i.min_price = p("0.1");
    i
}

pub fn venue_with(inst: Instrument) -> (SimExchange, InstrumentId) {
    let mut v = SimExchange::default();
    let id = inst.id;
    v.add_instrument(inst, InstrumentSettings::default())
        .unwrap();
    v.open_account(A);
    v.open_account(B);
    (v, id)
}

fn levels(v: &[(&str, &str)]) -> Vec<Level> {
    v.iter()
        .map(|(pp, qq)| Level {
            price: p(pp),
            qty: q(qq),
        })
        .collect()
}

pub fn snapshot(
    id: InstrumentId,
    bids: &[(&str, &str)],
    asks: &[(&str, &str)],
    ms: u64,
) -> MarketEvent {
    MarketEvent::BookSnapshot(BookSnapshot {
        instrument: id,
        last_update_id: 1,
        bids: levels(bids),
        asks: levels(asks),
        times: EventTimes::new(t(ms), t(ms)),
    })
}

pub fn depth(id: InstrumentId, side: Side, price: &str, qty: &str, ms: u64) -> MarketEvent {
    MarketEvent::BookDeltas(BookDeltas {
        instrument: id,
        first_update_id: 2,
        last_update_id: 2,
        prev_last_update_id: None,
        deltas: vec![BookDelta {
            side,
            level: Level {
                price: p(price),
                qty: q(qty),
            },
        }]
        .into(),
        times: EventTimes::new(t(ms), t(ms)),
    })
}

pub fn trade(
    id: InstrumentId,
    price: &str,
    qty: &str,
    aggressor: AggressorSide,
    ms: u64,
) -> MarketEvent {
    MarketEvent::Trade(Trade {
        instrument: id,
        trade_id: TradeId(ms),
        price: p(price),
        qty: q(qty),
        aggressor,
        times: EventTimes::new(t(ms), t(ms)),
    })
}

pub fn mark(
    id: InstrumentId,
    price: &str,
    rate: Option<&str>,
    next_funding: Option<UnixNanos>,
    ms: u64,
) -> MarketEvent {
    MarketEvent::MarkPrice(MarkPrice {
        instrument: id,
        mark: p(price),
        index: None,
        funding_rate: rate.map(p),
        next_funding_time: next_funding,
        times: EventTimes::new(t(ms), t(ms)),
    })
}

pub fn order(
    id: InstrumentId,
    cid: &str,
    side: Side,
    order_type: OrderType,
    qty: &str,
    price: Option<&str>,
    tif: TimeInForce,
) -> SubmitOrder {
    SubmitOrder {
        strategy: StrategyId::new("test").unwrap(),
        instrument: id,
        client_order_id: ClientOrderId::new(cid).unwrap(),
        side,
        order_type,
        quantity: q(qty),
        price: price.map(p),
        trigger_price: None,
        trigger_type: TriggerPriceType::Last,
        time_in_force: tif,
        expire_time: None,
        flags: OrderFlags::NONE,
        position_side: PositionSide::Both,
        trailing: None,
        ts_init: UnixNanos::ZERO,
    }
}

pub fn limit(id: InstrumentId, cid: &str, side: Side, qty: &str, price: &str) -> SubmitOrder {
    order(
        id,
        cid,
        side,
        OrderType::Limit,
        qty,
        Some(price),
        TimeInForce::Gtc,
    )
}

pub fn market(id: InstrumentId, cid: &str, side: Side, qty: &str) -> SubmitOrder {
    order(
        id,
        cid,
        side,
        OrderType::Market,
        qty,
        None,
        TimeInForce::Gtc,
    )
}

pub fn stop(
    id: InstrumentId,
    cid: &str,
    side: Side,
    order_type: OrderType,
    qty: &str,
    stop: &str,
    price: Option<&str>,
) -> SubmitOrder {
    let mut o = order(id, cid, side, order_type, qty, price, TimeInForce::Gtc);
    o.trigger_price = Some(p(stop));
    o
}

pub fn trailing(
    id: InstrumentId,
    cid: &str,
    side: Side,
    qty: &str,
    rate: &str,
    activation: Option<&str>,
) -> SubmitOrder {
    let mut o = order(
        id,
        cid,
        side,
        OrderType::TrailingStopMarket,
        qty,
        None,
        TimeInForce::Gtc,
    );
    o.trailing = Some(Trailing {
        callback_rate: p(rate),
        activation_price: activation.map(p),
    });
    o
}

/// A fill as `(client order id, price, qty, maker?, fee)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct F {
    pub cid: String,
    pub price: Price,
    pub qty: Quantity,
    pub maker: bool,
    pub fee: Money,
    pub trade_id: u64,
}

pub fn fills(reports: &[SimReport]) -> Vec<F> {
    reports
        .iter()
        .filter_map(|r| {
            let o = r.as_order()?;
            let f = r.as_fill()?;
            Some(F {
                cid: o.event.client_order_id.as_str().to_string(),
                price: f.price,
                qty: f.qty,
                maker: f.liquidity == Liquidity::Maker,
                fee: f.fee,
                trade_id: f.trade_id.0,
            })
        })
        .collect()
}

/// `(cid, price, qty, maker)` of every fill.
pub fn fill_summary(reports: &[SimReport]) -> Vec<(String, String, String, bool)> {
    fills(reports)
        .into_iter()
        .map(|f| (f.cid, f.price.to_string(), f.qty.to_string(), f.maker))
        .collect()
}

pub fn order_reports<'a>(reports: &'a [SimReport], cid: &str) -> Vec<&'a OrderReport> {
    reports
        .iter()
        .filter_map(SimReport::as_order)
        .filter(|o| o.event.client_order_id.as_str() == cid)
        .collect()
}

/// Names of the order events of `cid`, in order.
pub fn events(reports: &[SimReport], cid: &str) -> Vec<&'static str> {
    use veloz_core::events::OrderEventKind as K;
    order_reports(reports, cid)
        .iter()
        .map(|o| match o.event.kind {
            K::Accepted => "accepted",
            K::Filled(_) => "filled",
            K::Canceled => "canceled",
            K::Expired => "expired",
            K::Triggered => "triggered",
            K::Updated { .. } => "updated",
            K::Rejected { .. } => "rejected",
            _ => "other",
        })
        .collect()
}

/// `s` as a display-independent raw value check.
pub fn raw_eq(m: Money, s: &str) -> bool {
    m == Money::parse(s, m.currency()).unwrap()
}
