//! Instruments the command line knows without `exchangeInfo`: Binance's rules
//! for BTC and ETH on spot, USD-M and COIN-M (as of 2024–2025; default VIP 0
//! fees). A backtest config can override the fees.

use veloz_core::{Instrument, InstrumentId, MarketKind, Price, Quantity};

fn p(raw: i64, precision: u8) -> Price {
    Price::from_raw(raw, precision)
}
fn q(raw: i64, precision: u8) -> Quantity {
    Quantity::from_raw(raw, precision)
}

/// The ids [`resolve`] knows.
pub const KNOWN: &[&str] = &[
    "BINANCE.SPOT.BTCUSDT",
    "BINANCE.SPOT.ETHUSDT",
    "BINANCE.USDM.BTCUSDT",
    "BINANCE.USDM.ETHUSDT",
    "BINANCE.COINM.BTCUSD_PERP",
];

/// The trading rules of `id`.
pub fn resolve(id: InstrumentId) -> anyhow::Result<Instrument> {
    let sym = id.symbol.as_str();
    let i = match (id.kind, sym) {
        (MarketKind::Spot, "BTCUSDT") => veloz_sim::presets::spot_btcusdt(),
        (MarketKind::UsdM, "BTCUSDT") => veloz_sim::presets::usdm_btcusdt(),
        (MarketKind::CoinM, "BTCUSD_PERP") => veloz_sim::presets::coinm_btcusd_perp(),
        (MarketKind::Spot, "ETHUSDT") => {
            let mut i = veloz_sim::presets::spot_btcusdt();
            i.id = id;
            i.base = veloz_core::Currency::from_const("ETH");
            i.qty_precision = 4;
            i.lot.step = q(10_000, 4);
            i.lot.min_qty = q(10_000, 4);
            i.market_lot = Some(i.lot);
            i
        }
        (MarketKind::UsdM, "ETHUSDT") => {
            let mut i = veloz_sim::presets::usdm_btcusdt();
            i.id = id;
            i.base = veloz_core::Currency::from_const("ETH");
            i.tick_size = p(1_000_000, 2);
            i.min_price = p(3_926_000_000, 2);
            i.min_notional = Some(p(2_000_000_000, 0));
            i
        }
        _ => anyhow::bail!(
            "no built-in trading rules for {id}; the backtester knows {}",
            KNOWN.join(", ")
        ),
    };
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_id_resolves_to_itself() {
        for k in KNOWN {
            let id: InstrumentId = k.parse().unwrap();
            let i = resolve(id).unwrap();
            assert_eq!(i.id, id);
            assert!(i.tick_size.is_positive() && i.lot.step.is_positive());
        }
        let bad: InstrumentId = "BINANCE.SPOT.DOGEUSDT".parse().unwrap();
        let e = resolve(bad).unwrap_err().to_string();
        assert!(e.contains("BINANCE.SPOT.BTCUSDT"), "{e}");
    }
}
