//! Exact PnL from fills and marks: each instrument's position is replayed
//! fill by fill with VeloZ's average-entry rules (the formulas of
//! `veloz_sim::futures::Contract`, the same the kernel's portfolio uses), which
//! gives the realised PnL of every reducing fill (a "trade"), fees, turnover,
//! the spread captured against the mid at each fill, and the unrealised PnL at
//! the last sampled mid.
//!
//! All amounts are raw `10^-8` units in `i128`; nothing here uses floats.

use std::collections::HashMap;

use veloz_core::{Rounding, Side};
use veloz_sim::futures::Contract;

use crate::run::{FillRow, PriceRow, TimeNs};

/// Contract type of an instrument, from its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `BINANCE.SPOT.*`: linear, fees may be in the base asset.
    Spot,
    /// `BINANCE.USDM.*`: linear perpetual.
    Linear,
    /// `BINANCE.COINM.*`: inverse perpetual with this contract size (raw USD).
    Inverse(i64),
}

impl Kind {
    /// From an instrument id: `COINM` is inverse (contract size 100 USD for
    /// `BTCUSD_PERP`, 10 USD otherwise), `SPOT` is spot, anything else linear.
    pub fn of(instrument: &str) -> Self {
        let mut parts = instrument.split('.');
        let _venue = parts.next();
        let market = parts.next().unwrap_or("");
        let symbol = parts.next().unwrap_or("");
        match market {
            "COINM" if symbol == "BTCUSD_PERP" => Self::Inverse(100 * SCALE as i64),
            "COINM" => Self::Inverse(10 * SCALE as i64),
            "SPOT" => Self::Spot,
            _ => Self::Linear,
        }
    }

    /// Name used in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Spot => "spot",
            Self::Linear => "linear",
            Self::Inverse(_) => "inverse",
        }
    }

    fn contract(self) -> Contract {
        match self {
            Self::Inverse(cs) => Contract::Inverse(cs),
            _ => Contract::Linear,
        }
    }
}

const SCALE: i128 = 100_000_000;

/// Sampled mids of every instrument, for "price at or before" look-ups.
#[derive(Debug, Clone, Default)]
pub struct Mids {
    by_instrument: HashMap<String, Vec<(TimeNs, i64)>>,
}

impl Mids {
    /// Indexes `prices.csv` rows (sorted by time per instrument).
    pub fn new(rows: &[PriceRow]) -> Self {
        let mut by_instrument: HashMap<String, Vec<(TimeNs, i64)>> = HashMap::new();
        for r in rows {
            by_instrument
                .entry(r.instrument.clone())
                .or_default()
                .push((r.time, r.price));
        }
        for v in by_instrument.values_mut() {
            v.sort_by_key(|p| p.0);
        }
        Self { by_instrument }
    }

    /// The latest sample at or before `t`.
    pub fn at(&self, instrument: &str, t: TimeNs) -> Option<i64> {
        let v = self.by_instrument.get(instrument)?;
        let n = v.partition_point(|p| p.0 <= t);
        (n > 0).then(|| v[n - 1].1)
    }

    /// The latest sample at or before `t`, only if a later sample or one at
    /// `t` exists, i.e. `t` is within the sampled span (for markouts).
    pub fn at_within(&self, instrument: &str, t: TimeNs) -> Option<i64> {
        let last = self.by_instrument.get(instrument)?.last()?.0;
        if t > last {
            return None;
        }
        self.at(instrument, t)
    }

    /// The last sample of an instrument.
    pub fn last(&self, instrument: &str) -> Option<i64> {
        self.by_instrument.get(instrument)?.last().map(|p| p.1)
    }
}

/// Per-fill results of the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FillPnl {
    /// Realised PnL of the reducing part of the fill (0 for a pure open).
    pub realized: i128,
    /// Does the fill reduce, close or flip a position (a "trade")?
    pub reducing: bool,
    /// Fee converted to the account currency.
    pub fee: i128,
    /// Notional in the PnL currency.
    pub notional: i128,
    /// Spread captured against the mid at the fill (`None` without a mid).
    pub spread: Option<i128>,
}

/// Running state and totals of one instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    /// Contract type.
    pub kind: Kind,
    /// Signed position, raw.
    pub qty: i64,
    /// Average entry price, raw (0 when flat).
    pub entry: i64,
    /// Realised PnL.
    pub realized: i128,
    /// Fees in the account currency.
    pub fees: i128,
    /// Σ notional.
    pub turnover: i128,
    /// Σ spread capture.
    pub spread: i128,
    /// Fills seen.
    pub fills: usize,
}

/// Errors of the replay (arithmetic overflow on absurd input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow;

impl Book {
    /// A flat book.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            qty: 0,
            entry: 0,
            realized: 0,
            fees: 0,
            turnover: 0,
            spread: 0,
            fills: 0,
        }
    }

    /// Applies one fill; `mid` is the mid at the fill, `currency` the account
    /// currency (a fee in another asset is converted at the fill price).
    pub fn apply(
        &mut self,
        f: &FillRow,
        mid: Option<i64>,
        currency: &str,
    ) -> Result<FillPnl, Overflow> {
        let c = self.kind.contract();
        let signed = match f.side {
            Side::Buy => f.qty,
            Side::Sell => -f.qty,
        };
        let notional = c
            .notional(f.price, f.qty, Rounding::HalfEven)
            .ok_or(Overflow)?;
        let mut out = FillPnl {
            notional,
            ..FillPnl::default()
        };
        let held = self.qty;
        if held == 0 || held.signum() == signed.signum() {
            self.entry = c
                .entry_after_add(held.abs(), self.entry, signed.abs(), f.price)
                .ok_or(Overflow)?;
            self.qty = held.checked_add(signed).ok_or(Overflow)?;
        } else {
            let closing = signed.abs().min(held.abs());
            let pnl = c
                .pnl(closing * held.signum(), self.entry, f.price)
                .ok_or(Overflow)?;
            out.realized = pnl;
            out.reducing = true;
            self.realized = self.realized.checked_add(pnl).ok_or(Overflow)?;
            let rest = held + signed;
            self.qty = rest;
            if rest == 0 {
                self.entry = 0;
            } else if rest.signum() != held.signum() {
                self.entry = f.price;
            }
        }
        out.fee = if f.fee_asset == currency {
            f.fee
        } else {
            veloz_core::fixed::div_round_i128(
                f.fee.checked_mul(i128::from(f.price)).ok_or(Overflow)?,
                SCALE,
                Rounding::HalfEven,
            )
            .ok_or(Overflow)?
        };
        if let Some(m) = mid {
            let s = c.pnl(signed, f.price, m).ok_or(Overflow)?;
            out.spread = Some(s);
            self.spread = self.spread.checked_add(s).ok_or(Overflow)?;
        }
        self.fees = self.fees.checked_add(out.fee).ok_or(Overflow)?;
        self.turnover = self.turnover.checked_add(notional).ok_or(Overflow)?;
        self.fills += 1;
        Ok(out)
    }

    /// Unrealised PnL at `mark` (0 when flat).
    pub fn unrealized(&self, mark: i64) -> Option<i128> {
        if self.qty == 0 {
            return Some(0);
        }
        self.kind.contract().pnl(self.qty, self.entry, mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: i64 = 100_000_000;

    fn fill(side: Side, price: i64, qty: i64, fee: i64, asset: &str) -> FillRow {
        FillRow {
            time: 0,
            instrument: "BINANCE.USDM.BTCUSDT".into(),
            client_order_id: "c".into(),
            side,
            price: price * U,
            qty: qty * U / 10,
            fee: i128::from(fee),
            fee_asset: asset.into(),
            maker: true,
            position_after: 0,
        }
    }

    #[test]
    fn kinds_from_ids() {
        assert_eq!(Kind::of("BINANCE.SPOT.BTCUSDT"), Kind::Spot);
        assert_eq!(Kind::of("BINANCE.USDM.ETHUSDT"), Kind::Linear);
        assert_eq!(
            Kind::of("BINANCE.COINM.BTCUSD_PERP"),
            Kind::Inverse(100 * U)
        );
        assert_eq!(Kind::of("BINANCE.COINM.ETHUSD_PERP"), Kind::Inverse(10 * U));
    }

    #[test]
    fn linear_average_entry_realised_spread_and_fees() {
        let mut b = Book::new(Kind::Linear);
        // buy 0.1 @100 (mid 101: spread = (101−100)×0.1 = 0.1), buy 0.1 @110 → entry 105
        let r = b
            .apply(&fill(Side::Buy, 100, 1, 5, "USDT"), Some(101 * U), "USDT")
            .unwrap();
        assert_eq!(
            (r.realized, r.reducing, r.spread),
            (0, false, Some(i128::from(U / 10)))
        );
        b.apply(&fill(Side::Buy, 110, 1, 5, "USDT"), None, "USDT")
            .unwrap();
        assert_eq!((b.qty, b.entry), (U / 5, 105 * U));
        // sell 0.3 @120: closes 0.2 → (120 − 105) × 0.2 = 3, flips to −0.1 @120
        // spread vs mid 119: (120 − 119) × 0.3 = 0.3
        let r = b
            .apply(&fill(Side::Sell, 120, 3, 5, "USDT"), Some(119 * U), "USDT")
            .unwrap();
        assert_eq!(r.realized, i128::from(3 * U));
        assert!(r.reducing);
        assert_eq!(r.spread, Some(i128::from(3 * U / 10)));
        assert_eq!((b.qty, b.entry), (-U / 10, 120 * U));
        // unrealised at 125: −0.1 × 5 = −0.5
        assert_eq!(b.unrealized(125 * U), Some(-i128::from(U / 2)));
        assert_eq!(b.fees, 15);
        // turnover: 10 + 11 + 36 = 57
        assert_eq!(b.turnover, i128::from(57 * U));
        assert_eq!(b.spread, i128::from(4 * U / 10));
    }

    #[test]
    fn base_fee_converted_at_fill_price_and_inverse_pnl() {
        let mut b = Book::new(Kind::Spot);
        // fee 0.0001 BTC at 100 USDT = 0.01 USDT
        b.apply(&fill(Side::Buy, 100, 10, 10_000, "BTC"), None, "USDT")
            .unwrap();
        assert_eq!(b.fees, 1_000_000);
        // inverse: 1 contract of 100 USD long from 50 000, closed at 100 000:
        // 100 × (1/50000 − 1/100000) = 0.001 BTC
        let mut b = Book::new(Kind::Inverse(100 * U));
        let mut f = fill(Side::Buy, 50_000, 10, 0, "BTC");
        b.apply(&f, None, "BTC").unwrap();
        f.side = Side::Sell;
        f.price = 100_000 * U;
        let r = b.apply(&f, None, "BTC").unwrap();
        assert_eq!(r.realized, 100_000);
        assert_eq!(b.qty, 0);
    }

    #[test]
    fn mids_at_or_before() {
        let rows: Vec<PriceRow> = [(10, 5), (20, 6), (30, 7)]
            .iter()
            .map(|&(t, p)| PriceRow {
                time: t,
                instrument: "X".into(),
                price: p,
            })
            .collect();
        let m = Mids::new(&rows);
        assert_eq!(m.at("X", 9), None);
        assert_eq!(m.at("X", 10), Some(5));
        assert_eq!(m.at("X", 29), Some(6));
        assert_eq!(m.at("X", 99), Some(7));
        assert_eq!(m.at_within("X", 99), None);
        assert_eq!(m.at_within("X", 30), Some(7));
        assert_eq!(m.last("Y"), None);
    }
}
