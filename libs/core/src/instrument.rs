//! Instruments and their trading rules: spot pairs, linear perpetuals (USD-M) and
//! inverse perpetuals (COIN-M), with the helpers that snap prices and quantities
//! the way the venue checks them and an order validator that names every rule an
//! order breaks.
//!
//! This module owns the *rules*; it does not know where they come from (the
//! Binance adapter builds instruments from `exchangeInfo`) nor what happens to a
//! rejected order (that is the risk engine's and the OMS's job).

use serde::{Deserialize, Serialize};

use crate::enums::{OrderFlags, OrderType, Side};
use crate::fixed::{div_round_i128, FixedError, Price, Quantity, Rounding, FIXED_SCALE};
use crate::ids::{InstrumentId, MarketKind};
use crate::money::Currency;

/// What kind of contract an instrument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContractKind {
    /// A spot pair: buy base with quote.
    Spot,
    /// A linear perpetual (USD-M): quantity in base units, PnL and margin in the quote/margin asset.
    LinearPerpetual,
    /// An inverse perpetual (COIN-M): quantity in contracts worth `contract_size`
    /// USD each, PnL and margin in the base coin.
    InversePerpetual {
        /// USD value of one contract (100 for BTCUSD_PERP, 10 for most others).
        contract_size: Quantity,
    },
}

/// A percent-price band: an order's price must lie within
/// `[reference × down, reference × up]` (multipliers are exact decimals, e.g. `1.05`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PercentBand {
    /// Upper multiplier.
    pub up: Price,
    /// Lower multiplier.
    pub down: Price,
}

/// Quantity limits (`LOT_SIZE` or `MARKET_LOT_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotLimits {
    /// Smallest quantity (0 = no minimum).
    pub min_qty: Quantity,
    /// Largest quantity (0 = no maximum).
    pub max_qty: Quantity,
    /// Step (0 = no step rule).
    pub step: Quantity,
}

/// One tradable instrument and every rule the venue checks on its orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// Venue, market and symbol.
    pub id: InstrumentId,
    /// Spot, linear or inverse.
    pub contract: ContractKind,
    /// Base asset (`BTC` in BTCUSDT).
    pub base: Currency,
    /// Quote asset (`USDT` in BTCUSDT, `USD` in BTCUSD_PERP).
    pub quote: Currency,
    /// The asset margin and PnL are held in (spot: quote; USD-M: USDT/USDC; COIN-M: base).
    pub margin_asset: Currency,
    /// Decimals of the price (Binance `pricePrecision` / `quotePrecision`).
    pub price_precision: u8,
    /// Decimals of the quantity (Binance `quantityPrecision` / `baseAssetPrecision`).
    pub qty_precision: u8,
    /// Price tick (`PRICE_FILTER.tickSize`; 0 = no tick rule).
    pub tick_size: Price,
    /// Smallest price (`PRICE_FILTER.minPrice`; 0 = none).
    pub min_price: Price,
    /// Largest price (`PRICE_FILTER.maxPrice`; 0 = none).
    pub max_price: Price,
    /// Limits for limit orders (`LOT_SIZE`).
    pub lot: LotLimits,
    /// Limits for market orders (`MARKET_LOT_SIZE`), if the venue sets any.
    pub market_lot: Option<LotLimits>,
    /// Smallest notional (price × qty, in quote) (`NOTIONAL` / `MIN_NOTIONAL`).
    pub min_notional: Option<Price>,
    /// Largest notional (`NOTIONAL.maxNotional`).
    pub max_notional: Option<Price>,
    /// Whether the minimum notional applies to market orders too.
    pub min_notional_applies_to_market: bool,
    /// Percent-price band around the reference price (spot: average price;
    /// futures: mark price).
    pub percent_band: Option<PercentBand>,
    /// Maker fee rate, e.g. `0.0002` (negative for rebates).
    pub maker_fee: Price,
    /// Taker fee rate, e.g. `0.0005`.
    pub taker_fee: Price,
}

/// An order as the validator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCheck {
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Quantity (ignored when `CLOSE_POSITION` is set).
    pub quantity: Quantity,
    /// Limit price, for types that have one.
    pub price: Option<Price>,
    /// Trigger price, for conditional orders (trailing stops may omit it).
    pub trigger_price: Option<Price>,
    /// Flags.
    pub flags: OrderFlags,
    /// Reference price for bands and for market-order notional (mark or last/avg).
    pub reference_price: Option<Price>,
}

/// One rule an order breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Violation {
    /// The order type needs a limit price and has none.
    #[error("a {order_type:?} order needs a limit price")]
    MissingPrice {
        /// The order type.
        order_type: OrderType,
    },
    /// The order type needs a trigger price and has none.
    #[error("a {order_type:?} order needs a trigger (stop) price")]
    MissingTriggerPrice {
        /// The order type.
        order_type: OrderType,
    },
    /// A price is zero or negative.
    #[error("price {price} must be positive")]
    NonPositivePrice {
        /// The price.
        price: Price,
    },
    /// A price is below the minimum.
    #[error("price {price} is below the minimum {min}")]
    PriceBelowMin {
        /// The price.
        price: Price,
        /// The minimum.
        min: Price,
    },
    /// A price is above the maximum.
    #[error("price {price} is above the maximum {max}")]
    PriceAboveMax {
        /// The price.
        price: Price,
        /// The maximum.
        max: Price,
    },
    /// A price is not on the tick grid.
    #[error("price {price} is not a multiple of the tick size {tick}; nearest valid prices are {below} and {above}")]
    PriceNotOnTick {
        /// The price.
        price: Price,
        /// The tick.
        tick: Price,
        /// Nearest valid price below.
        below: Price,
        /// Nearest valid price above.
        above: Price,
    },
    /// Quantity zero or negative.
    #[error("quantity {qty} must be positive")]
    NonPositiveQuantity {
        /// The quantity.
        qty: Quantity,
    },
    /// Quantity below the minimum.
    #[error("quantity {qty} is below the minimum {min}")]
    QuantityBelowMin {
        /// The quantity.
        qty: Quantity,
        /// The minimum.
        min: Quantity,
    },
    /// Quantity above the maximum.
    #[error("quantity {qty} is above the maximum {max}")]
    QuantityAboveMax {
        /// The quantity.
        qty: Quantity,
        /// The maximum.
        max: Quantity,
    },
    /// Quantity not on the step grid.
    #[error("quantity {qty} is not a multiple of the step size {step}; round it down to {below}")]
    QuantityNotOnStep {
        /// The quantity.
        qty: Quantity,
        /// The step.
        step: Quantity,
        /// Nearest valid quantity below.
        below: Quantity,
    },
    /// Notional too small.
    #[error("notional {notional} is below the minimum {min}")]
    NotionalBelowMin {
        /// price × quantity.
        notional: Price,
        /// The minimum.
        min: Price,
    },
    /// Notional too large.
    #[error("notional {notional} is above the maximum {max}")]
    NotionalAboveMax {
        /// price × quantity.
        notional: Price,
        /// The maximum.
        max: Price,
    },
    /// A market order's notional cannot be checked without a reference price.
    #[error("a market order's notional needs a reference price (mark or last); none was given")]
    MissingReferencePrice,
    /// Price outside the percent-price band.
    #[error("price {price} is outside the allowed band [{low}, {high}] around the reference {reference}")]
    PriceOutsideBand {
        /// The price.
        price: Price,
        /// Lowest allowed.
        low: Price,
        /// Highest allowed.
        high: Price,
        /// Reference price.
        reference: Price,
    },
    /// Flag not supported on this market.
    #[error("{flag} is not supported on {kind} markets")]
    FlagNotSupported {
        /// The flag.
        flag: &'static str,
        /// The market.
        kind: MarketKind,
    },
    /// Order type not supported on this market.
    #[error("{order_type:?} orders are not supported on {kind} markets")]
    TypeNotSupported {
        /// The type.
        order_type: OrderType,
        /// The market.
        kind: MarketKind,
    },
    /// Post-only on an order type that always takes.
    #[error("post-only cannot be used with a {order_type:?} order")]
    PostOnlyNotAllowed {
        /// The type.
        order_type: OrderType,
    },
    /// A computation overflowed (absurd input).
    #[error("the order's numbers overflow: {0}")]
    Arithmetic(String),
}

impl From<FixedError> for Violation {
    fn from(e: FixedError) -> Self {
        Self::Arithmetic(e.to_string())
    }
}

/// Rounds `v` to `offset + k × inc` for integer k, with `mode`.
fn snap_raw(v: i64, offset: i64, inc: i64, mode: Rounding) -> Result<i64, FixedError> {
    if inc <= 0 {
        return Ok(v);
    }
    let rel = i128::from(v) - i128::from(offset);
    let k =
        div_round_i128(rel, i128::from(inc), mode).ok_or(FixedError::Overflow { op: "snap" })?;
    let snapped = k * i128::from(inc) + i128::from(offset);
    i64::try_from(snapped).map_err(|_| FixedError::Overflow { op: "snap" })
}

impl Instrument {
    /// The grid origin for prices: futures check `(price - minPrice) % tick`, spot `price % tick`.
    fn price_offset(&self) -> i64 {
        if self.id.kind.is_futures() {
            self.min_price.raw()
        } else {
            0
        }
    }

    fn qty_offset(&self, lot: &LotLimits) -> i64 {
        if self.id.kind.is_futures() {
            lot.min_qty.raw()
        } else {
            0
        }
    }

    /// Rounds a price onto the venue's tick grid with `mode`, printed with the
    /// instrument's price precision.
    pub fn snap_price(&self, price: Price, mode: Rounding) -> Result<Price, FixedError> {
        let raw = snap_raw(price.raw(), self.price_offset(), self.tick_size.raw(), mode)?;
        Ok(Price::from_raw(raw, self.price_precision))
    }

    /// Rounds a price to the tick on the passive side: buys down, sells up, so the
    /// order never becomes more aggressive than asked.
    pub fn snap_price_passive(&self, side: Side, price: Price) -> Result<Price, FixedError> {
        self.snap_price(
            price,
            match side {
                Side::Buy => Rounding::Down,
                Side::Sell => Rounding::Up,
            },
        )
    }

    /// Rounds a quantity down onto the step grid (the venue never rounds up a
    /// quantity for you), printed with the instrument's quantity precision.
    pub fn snap_qty(&self, qty: Quantity) -> Result<Quantity, FixedError> {
        let raw = snap_raw(
            qty.raw(),
            self.qty_offset(&self.lot),
            self.lot.step.raw(),
            Rounding::Down,
        )?;
        Ok(Quantity::from_raw(raw, self.qty_precision))
    }

    /// Formats a price as the venue accepts it: plain decimal with exactly the
    /// instrument's price precision. Fails if the price is finer than that.
    pub fn format_price(&self, price: Price) -> Result<String, FixedError> {
        let p = price.round_to_precision(self.price_precision, Rounding::TowardZero)?;
        if p != price {
            return Err(FixedError::TooPrecise {
                input: price.to_string(),
            });
        }
        Ok(p.to_string())
    }

    /// Formats a quantity as the venue accepts it (exactly the quantity precision).
    pub fn format_qty(&self, qty: Quantity) -> Result<String, FixedError> {
        let q = qty.round_to_precision(self.qty_precision, Rounding::TowardZero)?;
        if q != qty {
            return Err(FixedError::TooPrecise {
                input: qty.to_string(),
            });
        }
        Ok(q.to_string())
    }

    /// Notional in the quote asset (spot and linear: price × qty; inverse:
    /// qty × contract size, in USD), exact to 8 decimals (rounded down).
    pub fn notional(&self, price: Price, qty: Quantity) -> Result<Price, FixedError> {
        let raw = match self.contract {
            ContractKind::InversePerpetual { contract_size } => {
                i128::from(qty.raw()) * i128::from(contract_size.raw())
            }
            _ => price.notional_raw_e16(qty),
        };
        let raw = div_round_i128(raw, i128::from(FIXED_SCALE), Rounding::Down)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or(FixedError::Overflow { op: "notional" })?;
        Ok(Price::from_raw(raw, 8))
    }

    fn check_price(&self, price: Price, out: &mut Vec<Violation>) {
        if !price.is_positive() {
            out.push(Violation::NonPositivePrice { price });
            return;
        }
        if self.min_price.is_positive() && price < self.min_price {
            out.push(Violation::PriceBelowMin {
                price,
                min: self.min_price,
            });
        }
        if self.max_price.is_positive() && price > self.max_price {
            out.push(Violation::PriceAboveMax {
                price,
                max: self.max_price,
            });
        }
        let tick = self.tick_size.raw();
        if tick > 0
            && (i128::from(price.raw()) - i128::from(self.price_offset())) % i128::from(tick) != 0
        {
            match (
                self.snap_price(price, Rounding::Down),
                self.snap_price(price, Rounding::Up),
            ) {
                (Ok(below), Ok(above)) => out.push(Violation::PriceNotOnTick {
                    price,
                    tick: self.tick_size,
                    below,
                    above,
                }),
                (Err(e), _) | (_, Err(e)) => out.push(e.into()),
            }
        }
    }

    fn check_qty(&self, qty: Quantity, lot: &LotLimits, out: &mut Vec<Violation>) {
        if !qty.is_positive() {
            out.push(Violation::NonPositiveQuantity { qty });
            return;
        }
        if lot.min_qty.is_positive() && qty < lot.min_qty {
            out.push(Violation::QuantityBelowMin {
                qty,
                min: lot.min_qty,
            });
        }
        if lot.max_qty.is_positive() && qty > lot.max_qty {
            out.push(Violation::QuantityAboveMax {
                qty,
                max: lot.max_qty,
            });
        }
        let step = lot.step.raw();
        let offset = self.qty_offset(lot);
        if step > 0 && (i128::from(qty.raw()) - i128::from(offset)) % i128::from(step) != 0 {
            match snap_raw(qty.raw(), offset, step, Rounding::Down) {
                Ok(raw) => out.push(Violation::QuantityNotOnStep {
                    qty,
                    step: lot.step,
                    below: Quantity::from_raw(raw, self.qty_precision),
                }),
                Err(e) => out.push(e.into()),
            }
        }
    }

    /// Does a plain limit order certainly pass [`Instrument::validate`]?
    /// `true` means `validate` finds no violation at all; `false` means "not
    /// sure, ask `validate`" (which also names the rules broken). The same
    /// rules in integer arithmetic without 128-bit divisions or a `Vec`: a
    /// market maker submits thousands of orders, and the kernel's pre-trade
    /// check and the simulated venue both run it before `validate`.
    ///
    /// Covered: a `Limit` order with a price, no trigger price and no
    /// close-position flag (and, on spot, no reduce-only flag, which spot
    /// refuses). For it `validate` checks the price (positive, within the
    /// limits, on the tick grid), the quantity against the lot (positive,
    /// within the limits, on the step grid), the notional against the minimum
    /// (which a futures reduce-only order is exempt from) and the maximum, and
    /// the price band around the reference price. The notional and band
    /// bounds are `floor(x / 1e8)` or `ceil(x / 1e8)` of an exact product
    /// `x`; for an integer `n`, `floor(x / s) < n` iff `x < n·s`,
    /// `floor(x / s) > n` iff `x >= (n + 1)·s`, `n > floor(x / s)` iff
    /// `n·s > x` and `n < ceil(x / s)` iff `n·s < x`, so the comparisons are
    /// made on the products. Wherever `validate` would overflow (and then
    /// report or skip a rule), this returns `false`.
    pub fn passes_plain_limit(&self, o: &OrderCheck) -> bool {
        let futures = self.id.kind.is_futures();
        let Some(price) = o.price else {
            return false;
        };
        if o.order_type != OrderType::Limit
            || o.trigger_price.is_some()
            || o.flags.contains(OrderFlags::CLOSE_POSITION)
            || (!futures && o.flags.contains(OrderFlags::REDUCE_ONLY))
        {
            return false;
        }
        // The price: positive, within the limits, on the grid from the offset.
        let p = price.raw();
        if p <= 0
            || (self.min_price.raw() > 0 && p < self.min_price.raw())
            || (self.max_price.raw() > 0 && p > self.max_price.raw())
        {
            return false;
        }
        let tick = self.tick_size.raw();
        if tick > 0 {
            let offset = if futures { self.min_price.raw() } else { 0 };
            match p.checked_sub(offset) {
                Some(d) if d % tick == 0 => {}
                _ => return false,
            }
        }
        // The quantity against the (limit order) lot.
        let q = o.quantity.raw();
        let lot = &self.lot;
        if q <= 0
            || (lot.min_qty.raw() > 0 && q < lot.min_qty.raw())
            || (lot.max_qty.raw() > 0 && q > lot.max_qty.raw())
        {
            return false;
        }
        let step = lot.step.raw();
        if step > 0 {
            let offset = if futures { lot.min_qty.raw() } else { 0 };
            match q.checked_sub(offset) {
                Some(d) if d % step == 0 => {}
                _ => return false,
            }
        }
        let scale = i128::from(FIXED_SCALE);
        // Quotients of products within this bound fit an i64 (validate's
        // conversion cannot fail).
        let bound = i128::from(i64::MAX - 1) * scale;
        // The notional, floor(x / 1e8).
        let x = match self.contract {
            ContractKind::InversePerpetual { contract_size } => {
                i128::from(q) * i128::from(contract_size.raw())
            }
            _ => i128::from(p) * i128::from(q),
        };
        if x.abs() >= bound {
            return false;
        }
        if let Some(min) = self.min_notional {
            let exempt = futures && o.flags.contains(OrderFlags::REDUCE_ONLY);
            if !exempt && x < i128::from(min.raw()) * scale {
                return false;
            }
        }
        if let Some(max) = self.max_notional {
            if max.raw() > 0 && x >= (i128::from(max.raw()) + 1) * scale {
                return false;
            }
        }
        // The band: low = ceil(r·down / 1e8), high = floor(r·up / 1e8).
        if let (Some(band), Some(r)) = (self.percent_band, o.reference_price) {
            let up = i128::from(r.raw()) * i128::from(band.up.raw());
            let down = i128::from(r.raw()) * i128::from(band.down.raw());
            if up.abs() >= bound || down.abs() >= bound {
                return false;
            }
            let ps = i128::from(p) * scale;
            let breaks = match (futures, o.side) {
                (true, Side::Buy) => ps > up,
                (true, Side::Sell) => ps < down,
                (false, _) => ps > up || ps < down,
            };
            if breaks {
                return false;
            }
        }
        true
    }

    /// Checks an order against every rule and returns all the rules it breaks
    /// (empty when the order is valid).
    pub fn validate(&self, order: &OrderCheck) -> Vec<Violation> {
        let mut out = Vec::new();
        let kind = self.id.kind;
        let is_market = !order.order_type.has_limit_price();

        if kind == MarketKind::Spot {
            if order.flags.contains(OrderFlags::REDUCE_ONLY) {
                out.push(Violation::FlagNotSupported {
                    flag: "reduce-only",
                    kind,
                });
            }
            if order.flags.contains(OrderFlags::CLOSE_POSITION) {
                out.push(Violation::FlagNotSupported {
                    flag: "close-position",
                    kind,
                });
            }
            if order.order_type == OrderType::TrailingStopMarket {
                out.push(Violation::TypeNotSupported {
                    order_type: order.order_type,
                    kind,
                });
            }
        }
        if order.flags.contains(OrderFlags::POST_ONLY) && order.order_type != OrderType::Limit {
            out.push(Violation::PostOnlyNotAllowed {
                order_type: order.order_type,
            });
        }

        let limit_price = if order.order_type.has_limit_price() {
            match order.price {
                Some(p) => {
                    self.check_price(p, &mut out);
                    Some(p)
                }
                None => {
                    out.push(Violation::MissingPrice {
                        order_type: order.order_type,
                    });
                    None
                }
            }
        } else {
            None
        };
        if order.order_type.is_conditional() {
            match order.trigger_price {
                Some(t) => self.check_price(t, &mut out),
                None if order.order_type == OrderType::TrailingStopMarket => {}
                None => out.push(Violation::MissingTriggerPrice {
                    order_type: order.order_type,
                }),
            }
        }

        let closes_all = order.flags.contains(OrderFlags::CLOSE_POSITION);
        if !closes_all {
            let lot = match (is_market, &self.market_lot) {
                (true, Some(m)) => m,
                _ => &self.lot,
            };
            self.check_qty(order.quantity, lot, &mut out);
        }

        // Notional: limit price, else the trigger price, else the reference price.
        let notional_price = limit_price
            .or(order.trigger_price)
            .or(order.reference_price);
        let check_min = !is_market || self.min_notional_applies_to_market;
        let reduce_only = order.flags.contains(OrderFlags::REDUCE_ONLY) || closes_all;
        if !closes_all && order.quantity.is_positive() {
            match notional_price {
                Some(p) if p.is_positive() => match self.notional(p, order.quantity) {
                    Ok(n) => {
                        if let Some(min) = self.min_notional {
                            // Futures exempt reduce-only orders from the minimum notional.
                            let exempt = kind.is_futures() && reduce_only;
                            if check_min && !exempt && n < min {
                                out.push(Violation::NotionalBelowMin { notional: n, min });
                            }
                        }
                        if let Some(max) = self.max_notional {
                            if max.is_positive() && n > max {
                                out.push(Violation::NotionalAboveMax { notional: n, max });
                            }
                        }
                    }
                    Err(e) => out.push(e.into()),
                },
                Some(_) => {}
                None => {
                    if is_market && self.min_notional.is_some() && check_min {
                        out.push(Violation::MissingReferencePrice);
                    }
                }
            }
        }

        if let (Some(band), Some(reference), Some(price)) =
            (self.percent_band, order.reference_price, limit_price)
        {
            if let Some(v) = band_violation(band, reference, price, order.side, kind) {
                out.push(v);
            }
        }
        out
    }
}

fn band_violation(
    band: PercentBand,
    reference: Price,
    price: Price,
    side: Side,
    kind: MarketKind,
) -> Option<Violation> {
    let mul = |m: Price, mode| {
        div_round_i128(
            reference.notional_raw_e16(Quantity::from_raw(m.raw(), 8)),
            i128::from(FIXED_SCALE),
            mode,
        )
        .and_then(|v| i64::try_from(v).ok())
        .map(|raw| Price::from_raw(raw, reference.precision()))
    };
    let (low, high) = (mul(band.down, Rounding::Up)?, mul(band.up, Rounding::Down)?);
    // Futures check only the side that matters: buys against the upper bound,
    // sells against the lower one. Spot checks both bounds.
    let breaks = match (kind.is_futures(), side) {
        (true, Side::Buy) => price > high,
        (true, Side::Sell) => price < low,
        (false, _) => price > high || price < low,
    };
    breaks.then_some(Violation::PriceOutsideBand {
        price,
        low,
        high,
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    pub(crate) fn usdm_btcusdt() -> Instrument {
        Instrument {
            id: InstrumentId::binance(MarketKind::UsdM, "BTCUSDT").unwrap(),
            contract: ContractKind::LinearPerpetual,
            base: Currency::new("BTC").unwrap(),
            quote: Currency::new("USDT").unwrap(),
            margin_asset: Currency::new("USDT").unwrap(),
            price_precision: 2,
            qty_precision: 3,
            tick_size: p("0.10"),
            min_price: p("556.80"),
            max_price: p("4529764"),
            lot: LotLimits {
                min_qty: q("0.001"),
                max_qty: q("1000"),
                step: q("0.001"),
            },
            market_lot: Some(LotLimits {
                min_qty: q("0.001"),
                max_qty: q("120"),
                step: q("0.001"),
            }),
            min_notional: Some(p("100")),
            max_notional: None,
            min_notional_applies_to_market: true,
            percent_band: Some(PercentBand {
                up: p("1.0500"),
                down: p("0.9500"),
            }),
            maker_fee: p("0.0002"),
            taker_fee: p("0.0005"),
        }
    }

    fn limit(side: Side, qty: &str, price: &str) -> OrderCheck {
        OrderCheck {
            side,
            order_type: OrderType::Limit,
            quantity: q(qty),
            price: Some(p(price)),
            trigger_price: None,
            flags: OrderFlags::NONE,
            reference_price: Some(p("60000")),
        }
    }

    #[test]
    fn snaps_like_the_venue() {
        let i = usdm_btcusdt();
        // Futures grid starts at minPrice 556.80 with tick 0.10.
        assert_eq!(
            i.snap_price(p("61737.6321"), Rounding::Down)
                .unwrap()
                .to_string(),
            "61737.60"
        );
        assert_eq!(
            i.snap_price_passive(Side::Sell, p("61737.61"))
                .unwrap()
                .to_string(),
            "61737.70"
        );
        assert_eq!(i.snap_qty(q("0.0129")).unwrap().to_string(), "0.012");
        assert_eq!(i.format_price(p("61737.6")).unwrap(), "61737.60");
        assert!(i.format_price(p("61737.605")).is_err());
        assert_eq!(i.format_qty(q("1")).unwrap(), "1.000");
    }

    #[test]
    fn valid_order_passes() {
        assert_eq!(
            usdm_btcusdt().validate(&limit(Side::Buy, "0.010", "60000.10")),
            vec![]
        );
    }

    #[test]
    fn every_broken_rule_is_named() {
        let i = usdm_btcusdt();
        let v = i.validate(&limit(Side::Buy, "0.0015", "60000.05"));
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::PriceNotOnTick { .. })),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::QuantityNotOnStep { .. })),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::NotionalBelowMin { .. })),
            "{v:?}"
        );
        let v = i.validate(&limit(Side::Buy, "0.010", "70000"));
        assert!(
            matches!(v.as_slice(), [Violation::PriceOutsideBand { .. }]),
            "{v:?}"
        );
        // A sell far above the mark is fine on futures (only the lower bound applies).
        assert_eq!(i.validate(&limit(Side::Sell, "0.010", "70000")), vec![]);
        let mut m = limit(Side::Buy, "200", "1");
        m.order_type = OrderType::Market;
        m.price = None;
        let v = i.validate(&m);
        assert!(
            matches!(v.as_slice(), [Violation::QuantityAboveMax { .. }]),
            "{v:?}"
        );
        m.reference_price = None;
        m.quantity = q("1");
        assert_eq!(i.validate(&m), vec![Violation::MissingReferencePrice]);
        let mut s = limit(Side::Buy, "0.010", "60000");
        s.order_type = OrderType::StopLimit;
        assert_eq!(
            i.validate(&s),
            vec![Violation::MissingTriggerPrice {
                order_type: OrderType::StopLimit
            }]
        );
        // Reduce-only orders are exempt from the futures minimum notional.
        let mut r = limit(Side::Sell, "0.001", "60000");
        assert!(matches!(
            i.validate(&r).as_slice(),
            [Violation::NotionalBelowMin { .. }]
        ));
        r.flags = OrderFlags::REDUCE_ONLY;
        assert_eq!(i.validate(&r), vec![]);
    }

    #[test]
    fn spot_rejects_futures_flags_and_inverse_notional_uses_contracts() {
        let mut i = usdm_btcusdt();
        i.id.kind = MarketKind::Spot;
        let mut o = limit(Side::Buy, "0.010", "60000");
        o.flags = OrderFlags::REDUCE_ONLY;
        assert!(matches!(
            i.validate(&o).as_slice(),
            [Violation::FlagNotSupported { .. }]
        ));
        i.contract = ContractKind::InversePerpetual {
            contract_size: q("100"),
        };
        assert_eq!(i.notional(p("60000"), q("3")).unwrap(), p("300"));
    }
}
