//! exchangeInfo (spot, USD-M, COIN-M) and its conversion into
//! `veloz_core::Instrument`s.
//!
//! [`ExchangeInfo`] reads all three products' answers. Every filter type of
//! `shared/docs/binance-protocol.md` §4 is a [`Filter`] variant (an unknown one
//! is kept as [`Filter::Unknown`], never an error). [`SymbolInfo::to_instrument`]
//! maps the filters that `Instrument` models (price grid, lot sizes, notional,
//! percent band, contract size) and returns the rest in [`SymbolRules`], so no
//! filter is lost.
//!
//! Precision: `Instrument::price_precision`/`qty_precision` are the wire
//! display precisions (spot `quoteAssetPrecision`/`baseAssetPrecision`,
//! futures `pricePrecision`/`quantityPrecision`), never finer than the tick or
//! step. Fees are not in exchangeInfo: they are set to zero here; fill them
//! from the account's commission rates.

use serde::Deserialize;
use veloz_core::fixed::significant_decimals;
use veloz_core::{
    ContractKind, Currency, IdError, Instrument, InstrumentId, LotLimits, MarketKind, PercentBand,
    Price, Quantity,
};

use super::responses::de_lenient_u32;
use super::types::{ContractType, OrderType, SymbolStatus, TimeInForce};
use crate::binance::ratelimit::RateLimit;

fn de_opt_lenient_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "de_lenient_u32")] u32);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

/// One exchangeInfo filter (`filterType` selects the variant).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "filterType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Filter {
    /// Price bounds and tick.
    #[serde(rename_all = "camelCase")]
    PriceFilter {
        /// Minimum price (0: none).
        min_price: Price,
        /// Maximum price (0: none).
        max_price: Price,
        /// Tick (0: none).
        tick_size: Price,
    },
    /// Price band around the reference price.
    #[serde(rename_all = "camelCase")]
    PercentPrice {
        /// Upper multiplier.
        multiplier_up: Price,
        /// Lower multiplier.
        multiplier_down: Price,
        /// Spot: minutes of the average price.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        avg_price_mins: Option<u32>,
        /// Futures: decimals of the multipliers.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        multiplier_decimal: Option<u32>,
    },
    /// Per-side price bands (spot).
    #[serde(rename_all = "camelCase")]
    PercentPriceBySide {
        /// Bid upper multiplier.
        bid_multiplier_up: Price,
        /// Bid lower multiplier.
        bid_multiplier_down: Price,
        /// Ask upper multiplier.
        ask_multiplier_up: Price,
        /// Ask lower multiplier.
        ask_multiplier_down: Price,
        /// Minutes of the average price.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        avg_price_mins: Option<u32>,
    },
    /// Quantity bounds and step.
    #[serde(rename_all = "camelCase")]
    LotSize {
        /// Minimum.
        min_qty: Quantity,
        /// Maximum.
        max_qty: Quantity,
        /// Step.
        step_size: Quantity,
    },
    /// Quantity bounds and step for market orders.
    #[serde(rename_all = "camelCase")]
    MarketLotSize {
        /// Minimum.
        min_qty: Quantity,
        /// Maximum.
        max_qty: Quantity,
        /// Step (0: none).
        step_size: Quantity,
    },
    /// Minimum notional (spot legacy: `minNotional`; futures: `notional`).
    #[serde(rename_all = "camelCase")]
    MinNotional {
        /// Spot minimum.
        #[serde(default)]
        min_notional: Option<Price>,
        /// Futures minimum.
        #[serde(default)]
        notional: Option<Price>,
        /// Spot: applies to market orders.
        #[serde(default)]
        apply_to_market: Option<bool>,
        /// Spot: minutes of the average price.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        avg_price_mins: Option<u32>,
    },
    /// Spot notional bounds.
    #[serde(rename_all = "camelCase")]
    Notional {
        /// Minimum.
        min_notional: Price,
        /// Whether the minimum applies to market orders.
        #[serde(default)]
        apply_min_to_market: Option<bool>,
        /// Maximum.
        max_notional: Price,
        /// Whether the maximum applies to market orders.
        #[serde(default)]
        apply_max_to_market: Option<bool>,
        /// Minutes of the average price.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        avg_price_mins: Option<u32>,
    },
    /// Largest number of iceberg parts.
    IcebergParts {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        limit: u32,
    },
    /// Largest number of open orders (spot `maxNumOrders`, futures `limit`).
    #[serde(rename_all = "camelCase")]
    MaxNumOrders {
        /// Spot.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        max_num_orders: Option<u32>,
        /// Futures.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        limit: Option<u32>,
    },
    /// Largest number of open algo orders.
    #[serde(rename_all = "camelCase")]
    MaxNumAlgoOrders {
        /// Spot.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        max_num_algo_orders: Option<u32>,
        /// Futures.
        #[serde(default, deserialize_with = "de_opt_lenient_u32")]
        limit: Option<u32>,
    },
    /// Largest number of open icebergs.
    #[serde(rename_all = "camelCase")]
    MaxNumIcebergOrders {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_num_iceberg_orders: u32,
    },
    /// Largest position (spot, base asset).
    #[serde(rename_all = "camelCase")]
    MaxPosition {
        /// The limit.
        max_position: Quantity,
    },
    /// Trailing-delta bounds (bips).
    #[serde(rename_all = "camelCase")]
    TrailingDelta {
        /// Min above.
        #[serde(deserialize_with = "de_lenient_u32")]
        min_trailing_above_delta: u32,
        /// Max above.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_trailing_above_delta: u32,
        /// Min below.
        #[serde(deserialize_with = "de_lenient_u32")]
        min_trailing_below_delta: u32,
        /// Max below.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_trailing_below_delta: u32,
    },
    /// Largest number of amendments per order.
    #[serde(rename_all = "camelCase")]
    MaxNumOrderAmends {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_num_order_amends: u32,
    },
    /// Largest number of open order lists.
    #[serde(rename_all = "camelCase")]
    MaxNumOrderLists {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_num_order_lists: u32,
    },
    /// Exchange-wide open orders.
    #[serde(rename_all = "camelCase")]
    ExchangeMaxNumOrders {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_num_orders: u32,
    },
    /// Exchange-wide open algo orders.
    #[serde(rename_all = "camelCase")]
    ExchangeMaxNumAlgoOrders {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_num_algo_orders: u32,
    },
    /// Exchange-wide open icebergs.
    #[serde(rename_all = "camelCase")]
    ExchangeMaxNumIcebergOrders {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_num_iceberg_orders: u32,
    },
    /// Exchange-wide open order lists.
    #[serde(rename_all = "camelCase")]
    ExchangeMaxNumOrderLists {
        /// The limit.
        #[serde(deserialize_with = "de_lenient_u32")]
        max_num_order_lists: u32,
    },
    /// A filter this version does not know.
    #[serde(other)]
    Unknown,
}

/// One symbol of exchangeInfo (union of the spot, USD-M and COIN-M shapes).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo {
    /// Symbol.
    pub symbol: String,
    /// Pair (futures).
    #[serde(default)]
    pub pair: Option<String>,
    /// Status (spot, USD-M).
    #[serde(default)]
    pub status: Option<SymbolStatus>,
    /// Status (COIN-M).
    #[serde(default)]
    pub contract_status: Option<SymbolStatus>,
    /// Contract type (futures).
    #[serde(default)]
    pub contract_type: Option<ContractType>,
    /// Delivery date (futures, ms).
    #[serde(default)]
    pub delivery_date: Option<u64>,
    /// Onboard date (futures, ms).
    #[serde(default)]
    pub onboard_date: Option<u64>,
    /// Contract size in USD (COIN-M).
    #[serde(default, deserialize_with = "de_opt_lenient_u32")]
    pub contract_size: Option<u32>,
    /// Base asset.
    pub base_asset: String,
    /// Quote asset.
    pub quote_asset: String,
    /// Margin asset (futures).
    #[serde(default)]
    pub margin_asset: Option<String>,
    /// Price decimals (futures).
    #[serde(default)]
    pub price_precision: Option<u8>,
    /// Quantity decimals (futures).
    #[serde(default)]
    pub quantity_precision: Option<u8>,
    /// Base asset decimals.
    #[serde(default)]
    pub base_asset_precision: Option<u8>,
    /// Quote decimals.
    #[serde(default)]
    pub quote_precision: Option<u8>,
    /// Quote asset decimals (spot).
    #[serde(default)]
    pub quote_asset_precision: Option<u8>,
    /// Maintenance margin percent (futures).
    #[serde(default)]
    pub maint_margin_percent: Option<Price>,
    /// Required margin percent (futures).
    #[serde(default)]
    pub required_margin_percent: Option<Price>,
    /// Liquidation fee rate (futures).
    #[serde(default)]
    pub liquidation_fee: Option<Price>,
    /// Market-order price bound (futures).
    #[serde(default)]
    pub market_take_bound: Option<Price>,
    /// Trigger protection threshold (futures).
    #[serde(default)]
    pub trigger_protect: Option<Price>,
    /// Allowed order types.
    #[serde(default)]
    pub order_types: Vec<OrderType>,
    /// Allowed times in force (futures).
    #[serde(default)]
    pub time_in_force: Vec<TimeInForce>,
    /// Icebergs allowed (spot).
    #[serde(default)]
    pub iceberg_allowed: Option<bool>,
    /// OCO allowed (spot).
    #[serde(default)]
    pub oco_allowed: Option<bool>,
    /// Market by quote amount allowed (spot).
    #[serde(default)]
    pub quote_order_qty_market_allowed: Option<bool>,
    /// Trailing stops allowed (spot).
    #[serde(default)]
    pub allow_trailing_stop: Option<bool>,
    /// Cancel-replace allowed (spot).
    #[serde(default)]
    pub cancel_replace_allowed: Option<bool>,
    /// Spot trading allowed.
    #[serde(default)]
    pub is_spot_trading_allowed: Option<bool>,
    /// Filters.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Permissions (spot).
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A futures asset entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetInfo {
    /// Asset.
    pub asset: String,
    /// Usable as margin.
    #[serde(default)]
    pub margin_available: Option<bool>,
    /// Auto-exchange threshold.
    #[serde(default)]
    pub auto_asset_exchange: Option<Price>,
}

/// exchangeInfo answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    /// `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Server time (ms).
    pub server_time: u64,
    /// Rate limits (feed them to [`crate::binance::ratelimit::RateLimiter`]).
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
    /// Exchange-wide filters.
    #[serde(default)]
    pub exchange_filters: Vec<Filter>,
    /// Margin assets (futures).
    #[serde(default)]
    pub assets: Vec<AssetInfo>,
    /// Symbols.
    pub symbols: Vec<SymbolInfo>,
}

/// Rules that `Instrument` does not model, kept per symbol.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SymbolRules {
    /// Trading status.
    pub status: Option<SymbolStatus>,
    /// Contract type (futures).
    pub contract_type: Option<ContractType>,
    /// Delivery date (futures, ms).
    pub delivery_date: Option<u64>,
    /// Allowed order types.
    pub order_types: Vec<OrderType>,
    /// Allowed times in force (futures).
    pub time_in_force: Vec<TimeInForce>,
    /// Minutes of the average price the percent filters use (spot).
    pub avg_price_mins: Option<u32>,
    /// Futures percent-price multiplier decimals.
    pub multiplier_decimal: Option<u32>,
    /// Per-side price bands (spot): (bid band, ask band).
    pub percent_band_by_side: Option<(PercentBand, PercentBand)>,
    /// Whether the maximum notional applies to market orders (spot).
    pub max_notional_applies_to_market: Option<bool>,
    /// `ICEBERG_PARTS`.
    pub iceberg_parts: Option<u32>,
    /// `MAX_NUM_ORDERS`.
    pub max_num_orders: Option<u32>,
    /// `MAX_NUM_ALGO_ORDERS`.
    pub max_num_algo_orders: Option<u32>,
    /// `MAX_NUM_ICEBERG_ORDERS`.
    pub max_num_iceberg_orders: Option<u32>,
    /// `MAX_POSITION`.
    pub max_position: Option<Quantity>,
    /// `TRAILING_DELTA`: (min above, max above, min below, max below) in bips.
    pub trailing_delta: Option<(u32, u32, u32, u32)>,
    /// `MAX_NUM_ORDER_AMENDS`.
    pub max_num_order_amends: Option<u32>,
    /// `MAX_NUM_ORDER_LISTS`.
    pub max_num_order_lists: Option<u32>,
    /// Filter types this version does not know.
    pub unknown_filters: usize,
    /// Maintenance margin percent (futures).
    pub maint_margin_percent: Option<Price>,
    /// Required margin percent (futures).
    pub required_margin_percent: Option<Price>,
    /// Liquidation fee rate (futures).
    pub liquidation_fee: Option<Price>,
    /// Market-order price bound (futures).
    pub market_take_bound: Option<Price>,
}

/// Why a symbol could not become an instrument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    /// Symbol or asset code not representable.
    #[error("symbol {symbol}: {source}")]
    Id {
        /// Symbol.
        symbol: String,
        /// Why.
        #[source]
        source: IdError,
    },
    /// A required filter is missing.
    #[error("symbol {symbol} has no {filter} filter; it cannot be traded safely without it")]
    MissingFilter {
        /// Symbol.
        symbol: String,
        /// Filter type.
        filter: &'static str,
    },
    /// A COIN-M symbol has no contract size.
    #[error("COIN-M symbol {symbol} has no contractSize")]
    MissingContractSize {
        /// Symbol.
        symbol: String,
    },
}

/// An instrument with the rules `Instrument` does not model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinanceInstrument {
    /// The instrument.
    pub instrument: Instrument,
    /// Every other rule.
    pub rules: SymbolRules,
}

impl SymbolInfo {
    /// The instrument for this symbol on `kind`, and the rules `Instrument`
    /// does not hold.
    pub fn to_instrument(&self, kind: MarketKind) -> Result<BinanceInstrument, InstrumentError> {
        let id_err = |source| InstrumentError::Id {
            symbol: self.symbol.clone(),
            source,
        };
        let id = InstrumentId::binance(kind, &self.symbol).map_err(id_err)?;
        let base = Currency::new(&self.base_asset).map_err(id_err)?;
        let quote = Currency::new(&self.quote_asset).map_err(id_err)?;
        let margin_asset = match (&self.margin_asset, kind) {
            (Some(m), _) => Currency::new(m).map_err(id_err)?,
            (None, MarketKind::CoinM) => base,
            (None, _) => quote,
        };
        let contract = match kind {
            MarketKind::Spot => ContractKind::Spot,
            MarketKind::UsdM => ContractKind::LinearPerpetual,
            MarketKind::CoinM => ContractKind::InversePerpetual {
                contract_size: Quantity::from_int(i64::from(self.contract_size.ok_or_else(
                    || InstrumentError::MissingContractSize {
                        symbol: self.symbol.clone(),
                    },
                )?))
                .map_err(|_| InstrumentError::MissingContractSize {
                    symbol: self.symbol.clone(),
                })?,
            },
        };

        let mut price_filter = None;
        let mut lot = None;
        let mut market_lot = None;
        let mut min_notional = None;
        let mut max_notional = None;
        let mut min_to_market = kind.is_futures();
        let mut band = None;
        let mut rules = SymbolRules {
            status: self.status.or(self.contract_status),
            contract_type: self.contract_type,
            delivery_date: self.delivery_date,
            order_types: self.order_types.clone(),
            time_in_force: self.time_in_force.clone(),
            maint_margin_percent: self.maint_margin_percent,
            required_margin_percent: self.required_margin_percent,
            liquidation_fee: self.liquidation_fee,
            market_take_bound: self.market_take_bound,
            ..SymbolRules::default()
        };
        for f in &self.filters {
            match f {
                Filter::PriceFilter {
                    min_price,
                    max_price,
                    tick_size,
                } => price_filter = Some((*min_price, *max_price, *tick_size)),
                Filter::PercentPrice {
                    multiplier_up,
                    multiplier_down,
                    avg_price_mins,
                    multiplier_decimal,
                } => {
                    band = Some(PercentBand {
                        up: *multiplier_up,
                        down: *multiplier_down,
                    });
                    rules.avg_price_mins = rules.avg_price_mins.or(*avg_price_mins);
                    rules.multiplier_decimal = *multiplier_decimal;
                }
                Filter::PercentPriceBySide {
                    bid_multiplier_up,
                    bid_multiplier_down,
                    ask_multiplier_up,
                    ask_multiplier_down,
                    avg_price_mins,
                } => {
                    rules.percent_band_by_side = Some((
                        PercentBand {
                            up: *bid_multiplier_up,
                            down: *bid_multiplier_down,
                        },
                        PercentBand {
                            up: *ask_multiplier_up,
                            down: *ask_multiplier_down,
                        },
                    ));
                    rules.avg_price_mins = rules.avg_price_mins.or(*avg_price_mins);
                }
                Filter::LotSize {
                    min_qty,
                    max_qty,
                    step_size,
                } => {
                    lot = Some(LotLimits {
                        min_qty: *min_qty,
                        max_qty: *max_qty,
                        step: *step_size,
                    })
                }
                Filter::MarketLotSize {
                    min_qty,
                    max_qty,
                    step_size,
                } => {
                    market_lot = Some(LotLimits {
                        min_qty: *min_qty,
                        max_qty: *max_qty,
                        step: *step_size,
                    })
                }
                Filter::MinNotional {
                    min_notional: spot,
                    notional,
                    apply_to_market,
                    avg_price_mins,
                } => {
                    min_notional = min_notional.or(spot.or(*notional));
                    if let Some(a) = apply_to_market {
                        min_to_market = *a;
                    }
                    rules.avg_price_mins = rules.avg_price_mins.or(*avg_price_mins);
                }
                Filter::Notional {
                    min_notional: min,
                    apply_min_to_market,
                    max_notional: max,
                    apply_max_to_market,
                    avg_price_mins,
                } => {
                    min_notional = Some(*min);
                    max_notional = Some(*max).filter(|m| m.is_positive());
                    if let Some(a) = apply_min_to_market {
                        min_to_market = *a;
                    }
                    rules.max_notional_applies_to_market = *apply_max_to_market;
                    rules.avg_price_mins = rules.avg_price_mins.or(*avg_price_mins);
                }
                Filter::IcebergParts { limit } => rules.iceberg_parts = Some(*limit),
                Filter::MaxNumOrders {
                    max_num_orders,
                    limit,
                } => rules.max_num_orders = max_num_orders.or(*limit),
                Filter::MaxNumAlgoOrders {
                    max_num_algo_orders,
                    limit,
                } => rules.max_num_algo_orders = max_num_algo_orders.or(*limit),
                Filter::MaxNumIcebergOrders {
                    max_num_iceberg_orders,
                } => rules.max_num_iceberg_orders = Some(*max_num_iceberg_orders),
                Filter::MaxPosition { max_position } => rules.max_position = Some(*max_position),
                Filter::TrailingDelta {
                    min_trailing_above_delta,
                    max_trailing_above_delta,
                    min_trailing_below_delta,
                    max_trailing_below_delta,
                } => {
                    rules.trailing_delta = Some((
                        *min_trailing_above_delta,
                        *max_trailing_above_delta,
                        *min_trailing_below_delta,
                        *max_trailing_below_delta,
                    ))
                }
                Filter::MaxNumOrderAmends {
                    max_num_order_amends,
                } => rules.max_num_order_amends = Some(*max_num_order_amends),
                Filter::MaxNumOrderLists {
                    max_num_order_lists,
                } => rules.max_num_order_lists = Some(*max_num_order_lists),
                // Exchange-level filters do not belong to a symbol.
                Filter::ExchangeMaxNumOrders { .. }
                | Filter::ExchangeMaxNumAlgoOrders { .. }
                | Filter::ExchangeMaxNumIcebergOrders { .. }
                | Filter::ExchangeMaxNumOrderLists { .. } => {}
                Filter::Unknown => rules.unknown_filters += 1,
            }
        }
        let missing = |filter| InstrumentError::MissingFilter {
            symbol: self.symbol.clone(),
            filter,
        };
        let (min_price, max_price, tick_size) =
            price_filter.ok_or_else(|| missing("PRICE_FILTER"))?;
        let lot = lot.ok_or_else(|| missing("LOT_SIZE"))?;

        let wire_price = match kind {
            MarketKind::Spot => self.quote_asset_precision.or(self.quote_precision),
            _ => self.price_precision,
        };
        let wire_qty = match kind {
            MarketKind::Spot => self.base_asset_precision,
            _ => self.quantity_precision,
        };
        // Never coarser than the grid, never above 8.
        let tick_dec = significant_decimals(i128::from(tick_size.raw()));
        let step_dec = significant_decimals(i128::from(lot.step.raw()));
        let price_precision = wire_price.unwrap_or(tick_dec).max(tick_dec).min(8);
        let qty_precision = wire_qty.unwrap_or(step_dec).max(step_dec).min(8);
        let px = |p: Price| Price::from_raw(p.raw(), price_precision);
        let qx = |q: Quantity| Quantity::from_raw(q.raw(), qty_precision);
        let lx = |l: LotLimits| LotLimits {
            min_qty: qx(l.min_qty),
            max_qty: qx(l.max_qty),
            step: qx(l.step),
        };

        let instrument = Instrument {
            id,
            contract,
            base,
            quote,
            margin_asset,
            price_precision,
            qty_precision,
            tick_size: px(tick_size),
            min_price: px(min_price),
            max_price: px(max_price),
            lot: lx(lot),
            market_lot: market_lot.map(lx),
            min_notional,
            max_notional,
            min_notional_applies_to_market: min_to_market,
            percent_band: band,
            maker_fee: Price::ZERO,
            taker_fee: Price::ZERO,
        };
        Ok(BinanceInstrument { instrument, rules })
    }
}

impl ExchangeInfo {
    /// Every symbol as an instrument of `kind`; symbols that cannot be
    /// converted are returned with their error (never silently dropped).
    pub fn instruments(&self, kind: MarketKind) -> (Vec<BinanceInstrument>, Vec<InstrumentError>) {
        let mut ok = Vec::with_capacity(self.symbols.len());
        let mut bad = Vec::new();
        for s in &self.symbols {
            match s.to_instrument(kind) {
                Ok(i) => ok.push(i),
                Err(e) => bad.push(e),
            }
        }
        (ok, bad)
    }

    /// The symbol entry named `symbol`.
    pub fn symbol(&self, symbol: &str) -> Option<&SymbolInfo> {
        self.symbols.iter().find(|s| s.symbol == symbol)
    }
}
