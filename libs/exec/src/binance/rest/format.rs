//! Numbers as Binance accepts them in requests.
//!
//! Every price and quantity is written as a plain decimal with no exponent and
//! no trailing zeros (`"50"`, `"0.2"`, `"61737.6"`): exact, never through a
//! float. Prices must lie on the instrument's tick grid and quantities on its
//! step grid (for futures the grid starts at `minPrice` / `minQty`, as
//! `veloz_core::Instrument` checks it). With [`NumberPolicy::Exact`] a value off
//! the grid is a [`BuildError`] naming the nearest valid values; with
//! [`NumberPolicy::Snap`] it is moved onto the grid the safe way: limit prices
//! towards the passive side (buys down, sells up), trigger prices to the
//! nearest tick, quantities down.

use veloz_core::{Instrument, Price, Quantity, Rounding, Side};

use crate::binance::error::BuildError;

/// What to do with a price or quantity that is off the instrument's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NumberPolicy {
    /// Refuse it with [`BuildError::OffTick`] / [`BuildError::OffStep`].
    #[default]
    Exact,
    /// Move it onto the grid (limit prices passive, triggers nearest, quantities down).
    Snap,
}

/// Which kind of price is being formatted (decides the snapping direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceRole {
    /// A limit price on this side: snaps to the passive side.
    Limit(Side),
    /// A trigger / activation price: snaps to the nearest tick.
    Trigger,
}

/// A fixed-point raw value as the shortest plain decimal (`"0.1"`, `"50"`,
/// `"-0.00000001"`).
pub fn decimal(raw: i64) -> String {
    Price::from_raw(raw, 0).to_string()
}

/// A price as the shortest plain decimal, with no grid check.
pub fn plain_price(p: Price) -> String {
    decimal(p.raw())
}

/// A quantity as the shortest plain decimal, with no grid check.
pub fn plain_qty(q: Quantity) -> String {
    decimal(q.raw())
}

/// Checks (or snaps) a price onto `inst`'s tick grid and formats it.
pub fn price_param(
    inst: &Instrument,
    param: &'static str,
    price: Price,
    role: PriceRole,
    policy: NumberPolicy,
) -> Result<String, BuildError> {
    if !price.is_positive() {
        return Err(BuildError::NotPositive {
            param,
            value: price.to_string(),
        });
    }
    let below = inst.snap_price(price, Rounding::Down)?;
    if below == price {
        return Ok(plain_price(price));
    }
    match policy {
        NumberPolicy::Exact => Err(BuildError::OffTick {
            param,
            symbol: inst.id.symbol.to_string(),
            value: price,
            below,
            above: inst.snap_price(price, Rounding::Up)?,
        }),
        NumberPolicy::Snap => {
            let snapped = match role {
                PriceRole::Limit(side) => inst.snap_price_passive(side, price)?,
                PriceRole::Trigger => inst.snap_price(price, Rounding::HalfUp)?,
            };
            if !snapped.is_positive() {
                return Err(BuildError::NotPositive {
                    param,
                    value: snapped.to_string(),
                });
            }
            Ok(plain_price(snapped))
        }
    }
}

/// Checks (or snaps down) a quantity onto `inst`'s step grid and formats it.
pub fn qty_param(
    inst: &Instrument,
    param: &'static str,
    qty: Quantity,
    policy: NumberPolicy,
) -> Result<String, BuildError> {
    if !qty.is_positive() {
        return Err(BuildError::NotPositive {
            param,
            value: qty.to_string(),
        });
    }
    let below = inst.snap_qty(qty)?;
    if below == qty {
        return Ok(plain_qty(qty));
    }
    match policy {
        NumberPolicy::Exact => Err(BuildError::OffStep {
            param,
            symbol: inst.id.symbol.to_string(),
            value: qty,
            below,
        }),
        NumberPolicy::Snap if below.is_positive() => Ok(plain_qty(below)),
        NumberPolicy::Snap => Err(BuildError::NotPositive {
            param,
            value: below.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{ContractKind, Currency, InstrumentId, LotLimits, MarketKind};

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn ltc_spot() -> Instrument {
        Instrument {
            id: InstrumentId::binance(MarketKind::Spot, "LTCUSDT").unwrap(),
            contract: ContractKind::Spot,
            base: Currency::new("LTC").unwrap(),
            quote: Currency::new("USDT").unwrap(),
            margin_asset: Currency::new("USDT").unwrap(),
            price_precision: 8,
            qty_precision: 8,
            tick_size: p("0.01"),
            min_price: p("0.01"),
            max_price: p("100000"),
            lot: LotLimits {
                min_qty: q("0.001"),
                max_qty: q("900000"),
                step: q("0.001"),
            },
            market_lot: None,
            min_notional: Some(p("5")),
            max_notional: None,
            min_notional_applies_to_market: true,
            percent_band: None,
            maker_fee: Price::ZERO,
            taker_fee: Price::ZERO,
        }
    }

    #[test]
    fn plain_decimals_never_use_exponents() {
        assert_eq!(decimal(5_000_000_000), "50");
        assert_eq!(decimal(10_000_000), "0.1");
        assert_eq!(decimal(1), "0.00000001");
        assert_eq!(decimal(-1), "-0.00000001");
        assert_eq!(plain_price(p("61737.60000000")), "61737.6");
        assert_eq!(plain_qty(q("92233720368.54775807")), "92233720368.54775807");
    }

    #[test]
    fn exact_refuses_and_snap_moves_safely() {
        let i = ltc_spot();
        let buy = PriceRole::Limit(Side::Buy);
        assert_eq!(
            price_param(&i, "price", p("50.00"), buy, NumberPolicy::Exact).unwrap(),
            "50"
        );
        let e = price_param(&i, "price", p("55.324"), buy, NumberPolicy::Exact).unwrap_err();
        assert!(
            matches!(e, BuildError::OffTick { below, above, .. } if below == p("55.32") && above == p("55.33"))
        );
        assert!(e.to_string().contains("55.32"), "{e}");
        assert_eq!(
            price_param(&i, "price", p("55.324"), buy, NumberPolicy::Snap).unwrap(),
            "55.32"
        );
        assert_eq!(
            price_param(
                &i,
                "price",
                p("55.321"),
                PriceRole::Limit(Side::Sell),
                NumberPolicy::Snap
            )
            .unwrap(),
            "55.33"
        );
        assert_eq!(
            price_param(
                &i,
                "stopPrice",
                p("55.326"),
                PriceRole::Trigger,
                NumberPolicy::Snap
            )
            .unwrap(),
            "55.33"
        );
        assert_eq!(
            qty_param(&i, "quantity", q("0.4234"), NumberPolicy::Snap).unwrap(),
            "0.423"
        );
        assert!(matches!(
            qty_param(&i, "quantity", q("0.4234"), NumberPolicy::Exact),
            Err(BuildError::OffStep { .. })
        ));
        assert!(matches!(
            qty_param(&i, "quantity", q("0.0004"), NumberPolicy::Snap),
            Err(BuildError::NotPositive { .. })
        ));
        assert!(price_param(&i, "price", p("0"), buy, NumberPolicy::Snap).is_err());
    }
}
