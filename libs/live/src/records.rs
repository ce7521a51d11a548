//! The venue's own records of our orders and trades, spot and futures alike,
//! reduced to what reconciliation ([`crate::reconcile`]) and verification
//! ([`crate::verify`]) compare; each fetch is one REST request (one page of
//! at most [`PAGE`] rows where the venue pages).

use veloz_core::events::Fill;
use veloz_core::{Currency, InstrumentId, Liquidity, MarketKind, Quantity, Side, TradeId};
use veloz_exec::binance::error::BinanceError;
use veloz_exec::binance::rest::futures::FuturesApi;
use veloz_exec::binance::rest::responses::{
    FuturesAccountTrade, FuturesOrderReport, SpotAccountTrade, SpotOrderReport,
};
use veloz_exec::binance::rest::spot::{self, Range};
use veloz_exec::binance::rest::types::OrderStatus as WireStatus;
use veloz_exec::binance::rest::OrderRef;
use veloz_exec::binance::transport::http::RestClient;

/// Rows per page of `allOrders` and the account-trade lists.
pub(crate) const PAGE: u16 = 1000;

fn page() -> Range {
    Range {
        start_ms: None,
        end_ms: None,
        limit: Some(PAGE),
    }
}

/// A venue order, spot or futures, reduced to what reconciliation and verification compare.
#[derive(Debug, Clone)]
pub(crate) struct VenueOrder {
    pub client_id: String,
    pub venue_id: u64,
    pub status: WireStatus,
    pub executed: Quantity,
}

/// A venue trade of ours.
#[derive(Debug, Clone)]
pub(crate) struct VenueTrade {
    pub id: u64,
    pub order_id: u64,
    pub fill: Fill,
    pub time: u64,
}

pub(crate) fn currency(s: &str) -> Currency {
    Currency::new(s).unwrap_or(Currency::from_const("UNKNOWN"))
}

impl From<&FuturesAccountTrade> for VenueTrade {
    fn from(t: &FuturesAccountTrade) -> Self {
        Self {
            id: t.id,
            order_id: t.order_id,
            time: t.time,
            fill: Fill {
                trade_id: TradeId(t.id),
                side: t.side,
                price: t.price,
                qty: t.qty,
                fee: t.commission.money(currency(&t.commission_asset)),
                liquidity: if t.maker {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                },
            },
        }
    }
}

impl From<&SpotAccountTrade> for VenueTrade {
    fn from(t: &SpotAccountTrade) -> Self {
        Self {
            id: t.id,
            order_id: t.order_id,
            time: t.time,
            fill: Fill {
                trade_id: TradeId(t.id),
                side: if t.is_buyer { Side::Buy } else { Side::Sell },
                price: t.price,
                qty: t.qty,
                fee: t.commission.money(currency(&t.commission_asset)),
                liquidity: if t.is_maker {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                },
            },
        }
    }
}

pub(crate) fn spot_order(r: SpotOrderReport) -> VenueOrder {
    VenueOrder {
        client_id: r.client_order_id,
        venue_id: r.order_id,
        status: r.status.unwrap_or(WireStatus::New),
        executed: r.executed_qty.unwrap_or(Quantity::ZERO),
    }
}

pub(crate) fn futures_order(r: FuturesOrderReport) -> VenueOrder {
    VenueOrder {
        client_id: r.client_order_id,
        venue_id: r.order_id,
        status: r.status,
        executed: r.executed_qty,
    }
}

/// The open orders of `id`.
pub(crate) async fn open_orders(
    rest: &RestClient,
    id: InstrumentId,
) -> Result<Vec<VenueOrder>, BinanceError> {
    Ok(match id.kind {
        MarketKind::Spot => {
            let v: Vec<SpotOrderReport> =
                rest.send_json(&spot::open_orders(Some(&id.symbol))).await?;
            v.into_iter().map(spot_order).collect()
        }
        kind => {
            let Some(api) = FuturesApi::for_kind(kind) else {
                return Ok(vec![]);
            };
            let v: Vec<FuturesOrderReport> =
                rest.send_json(&api.open_orders(Some(&id.symbol))).await?;
            v.into_iter().map(futures_order).collect()
        }
    })
}

/// One order of `id`, by client or venue id.
pub(crate) async fn query_order(
    rest: &RestClient,
    id: InstrumentId,
    r: OrderRef,
) -> Result<VenueOrder, BinanceError> {
    Ok(match id.kind {
        MarketKind::Spot => spot_order(rest.send_json(&spot::query_order(&id.symbol, r)).await?),
        kind => {
            let Some(api) = FuturesApi::for_kind(kind) else {
                return Err(BinanceError::unreadable_success("query", "no such product"));
            };
            futures_order(rest.send_json(&api.query_order(&id.symbol, r)).await?)
        }
    })
}

/// One page of every order of `id` (open or not), from venue id `from`.
pub(crate) async fn all_orders(
    rest: &RestClient,
    id: InstrumentId,
    from: Option<u64>,
) -> Result<Vec<VenueOrder>, BinanceError> {
    Ok(match id.kind {
        MarketKind::Spot => {
            let v: Vec<SpotOrderReport> = rest
                .send_json(&spot::all_orders(&id.symbol, from, page())?)
                .await?;
            v.into_iter().map(spot_order).collect()
        }
        kind => {
            let Some(api) = FuturesApi::for_kind(kind) else {
                return Ok(vec![]);
            };
            let v: Vec<FuturesOrderReport> = rest
                .send_json(&api.all_orders(&id.symbol, from, page())?)
                .await?;
            v.into_iter().map(futures_order).collect()
        }
    })
}

/// One page of our trades of `id`: of one order, or from trade id `from_id`.
pub(crate) async fn trades(
    rest: &RestClient,
    id: InstrumentId,
    order_id: Option<u64>,
    from_id: Option<u64>,
) -> Result<Vec<VenueTrade>, BinanceError> {
    Ok(match id.kind {
        MarketKind::Spot => {
            let req = spot::my_trades(&id.symbol, order_id, from_id, page())?;
            let v: Vec<SpotAccountTrade> = rest.send_json(&req).await?;
            v.iter().map(VenueTrade::from).collect()
        }
        kind => {
            let Some(api) = FuturesApi::for_kind(kind) else {
                return Ok(vec![]);
            };
            let req = api.account_trades(&id.symbol, order_id, from_id, page())?;
            let v: Vec<FuturesAccountTrade> = rest.send_json(&req).await?;
            v.iter().map(VenueTrade::from).collect()
        }
    })
}
