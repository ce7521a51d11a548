//! Ready-made instruments with Binance's trading rules for BTC, for tests,
//! examples and a simulator that starts without `exchangeInfo`.
//!
//! The rules are Binance's as of 2024 (tick, step, minimum notional, percent
//! band); fee rates are the default VIP 0 rates (spot 0.1 % / 0.1 %, USD-M
//! 0.02 % / 0.05 %, COIN-M 0.02 % / 0.05 %). Load the venue's live rules for
//! anything that must match the venue today.

use veloz_core::{
    ContractKind, Currency, Instrument, InstrumentId, LotLimits, MarketKind, PercentBand, Price,
    Quantity,
};

fn p(raw: i64, precision: u8) -> Price {
    Price::from_raw(raw, precision)
}
fn q(raw: i64, precision: u8) -> Quantity {
    Quantity::from_raw(raw, precision)
}
fn cur(code: &'static str) -> Currency {
    Currency::from_const(code)
}

/// Spot `BTCUSDT`: tick 0.01, step 0.00001, minimum notional 5 USDT, fees 0.1 %.
pub fn spot_btcusdt() -> Instrument {
    Instrument {
        id: InstrumentId::new(
            veloz_core::Venue::BINANCE,
            MarketKind::Spot,
            veloz_core::Symbol::from_const("BTCUSDT"),
        ),
        contract: ContractKind::Spot,
        base: cur("BTC"),
        quote: cur("USDT"),
        margin_asset: cur("USDT"),
        price_precision: 2,
        qty_precision: 5,
        tick_size: p(1_000_000, 2),
        min_price: p(1_000_000, 2),
        max_price: p(100_000_000_000_000, 2),
        lot: LotLimits {
            min_qty: q(1_000, 5),
            max_qty: q(900_000_000_000, 5),
            step: q(1_000, 5),
        },
        market_lot: None,
        min_notional: Some(p(500_000_000, 2)),
        max_notional: Some(p(900_000_000_000_000, 2)),
        min_notional_applies_to_market: true,
        percent_band: Some(PercentBand {
            up: p(500_000_000, 1),
            down: p(20_000_000, 1),
        }),
        maker_fee: p(100_000, 4),
        taker_fee: p(100_000, 4),
    }
}

/// USD-M `BTCUSDT` perpetual: tick 0.10, step 0.001, minimum notional 100 USDT,
/// fees 0.02 % / 0.05 %.
pub fn usdm_btcusdt() -> Instrument {
    Instrument {
        id: InstrumentId::new(
            veloz_core::Venue::BINANCE,
            MarketKind::UsdM,
            veloz_core::Symbol::from_const("BTCUSDT"),
        ),
        contract: ContractKind::LinearPerpetual,
        base: cur("BTC"),
        quote: cur("USDT"),
        margin_asset: cur("USDT"),
        price_precision: 2,
        qty_precision: 3,
        tick_size: p(10_000_000, 2),
        min_price: p(55_680_000_000, 2),
        max_price: p(452_976_400_000_000, 2),
        lot: LotLimits {
            min_qty: q(100_000, 3),
            max_qty: q(100_000_000_000, 3),
            step: q(100_000, 3),
        },
        market_lot: Some(LotLimits {
            min_qty: q(100_000, 3),
            max_qty: q(12_000_000_000, 3),
            step: q(100_000, 3),
        }),
        min_notional: Some(p(10_000_000_000, 0)),
        max_notional: None,
        min_notional_applies_to_market: true,
        percent_band: Some(PercentBand {
            up: p(105_000_000, 4),
            down: p(95_000_000, 4),
        }),
        maker_fee: p(20_000, 4),
        taker_fee: p(50_000, 4),
    }
}

/// COIN-M `BTCUSD_PERP`: contracts of 100 USD, tick 0.1, step 1 contract,
/// margin in BTC, fees 0.02 % / 0.05 %.
pub fn coinm_btcusd_perp() -> Instrument {
    Instrument {
        id: InstrumentId::new(
            veloz_core::Venue::BINANCE,
            MarketKind::CoinM,
            veloz_core::Symbol::from_const("BTCUSD_PERP"),
        ),
        contract: ContractKind::InversePerpetual {
            contract_size: q(10_000_000_000, 0),
        },
        base: cur("BTC"),
        quote: cur("USD"),
        margin_asset: cur("BTC"),
        price_precision: 1,
        qty_precision: 0,
        tick_size: p(10_000_000, 1),
        min_price: p(100_000_000_000, 1),
        max_price: p(400_000_000_000_000, 1),
        lot: LotLimits {
            min_qty: q(100_000_000, 0),
            max_qty: q(100_000_000_000_000, 0),
            step: q(100_000_000, 0),
        },
        market_lot: Some(LotLimits {
            min_qty: q(100_000_000, 0),
            max_qty: q(6_000_000_000_000, 0),
            step: q(100_000_000, 0),
        }),
        min_notional: None,
        max_notional: None,
        min_notional_applies_to_market: false,
        percent_band: Some(PercentBand {
            up: p(105_000_000, 4),
            down: p(95_000_000, 4),
        }),
        maker_fee: p(20_000, 4),
        taker_fee: p(50_000, 4),
    }
}
