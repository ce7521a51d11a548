//! Futures account model: positions, entry price, realised and unrealised PnL,
//! initial and maintenance margin, funding, for linear (USD-M) and inverse
//! (COIN-M) perpetuals.
//!
//! This module owns the *formulas*; the exchange applies them to accounts.
//! All arithmetic is exact on raw `10^-8` units with `i128` (and a 256-bit
//! intermediate where products can be large); each result is rounded once,
//! with the direction named below.
//!
//! # Contracts
//!
//! | | linear (USD-M) | inverse (COIN-M) |
//! |---|---|---|
//! | quantity | base units (BTC) | contracts of `contract_size` USD |
//! | margin, PnL, fees | margin asset (USDT) | base coin (BTC) |
//! | notional at price `p` | `q × p` | `q × contract_size / p` |
//! | PnL of `q` (signed, long > 0) from `e` to `x` | `q × (x − e)` | `q × contract_size × (1/e − 1/x)` |
//! | entry after adding `q2` at `p2` to `q1` at `e1` | `(q1·e1 + q2·p2)/(q1 + q2)` | `(q1 + q2)/(q1/e1 + q2/p2)` |
//!
//! Entry prices are the exact weighted average (arithmetic for linear,
//! harmonic for inverse, as Binance computes them) rounded half-even to 8
//! decimals; a reduce keeps the entry price; a flip opens the new side at the
//! fill price.
//!
//! # Rounding (always in the venue's favour)
//!
//! * realised and unrealised PnL: toward negative infinity;
//! * initial and maintenance margin: up;
//! * funding: toward negative infinity (payers pay the rounded-up amount,
//!   receivers receive the rounded-down amount).
//!
//! # Margin
//!
//! Initial margin of a position is `notional(mark) / leverage`. Maintenance
//! margin uses a bracket table ([`MarginTier`], Binance's `leverageBracket`):
//! the tier is the first whose cap is at or above the position's notional at
//! mark, and `maintenance = notional × maint_margin_rate − maint_amount`
//! (Binance's "cum" amount makes the tiers continuous). The default table is
//! one tier: 0.4 % maintenance rate and up to 125× leverage, Binance's first
//! BTC bracket; load the venue's table for larger positions.

use veloz_core::{ContractKind, Price, Rounding};

use crate::arith::{inverse_notional, linear_notional, mul_div, SCALE};

/// One bracket of a maintenance-margin table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarginTier {
    /// Upper bound of the position notional (in the margin asset) this tier
    /// applies to; zero means no bound (the last tier).
    pub notional_cap: Price,
    /// Highest leverage allowed in this tier.
    pub max_leverage: u32,
    /// Maintenance margin rate, e.g. `0.004`.
    pub maint_margin_rate: Price,
    /// Maintenance amount subtracted (Binance `cum`).
    pub maint_amount: Price,
}

/// The default table: one tier, 0.4 % maintenance, 125× (see the module docs).
pub fn default_margin_tiers() -> Vec<MarginTier> {
    vec![MarginTier {
        notional_cap: Price::ZERO,
        max_leverage: 125,
        maint_margin_rate: Price::from_raw(400_000, 4),
        maint_amount: Price::ZERO,
    }]
}

/// Linear or inverse, with what the formulas need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// USD-M.
    Linear,
    /// COIN-M with this contract size (raw units of USD).
    Inverse(i64),
}

impl Contract {
    /// From the instrument's contract kind (spot is treated as linear).
    pub fn of(kind: ContractKind) -> Self {
        match kind {
            ContractKind::InversePerpetual { contract_size } => Self::Inverse(contract_size.raw()),
            _ => Self::Linear,
        }
    }

    /// Notional of `|qty|` at `price` in the margin asset, raw units.
    pub fn notional(self, price: i64, qty: i64, mode: Rounding) -> Option<i128> {
        let qty = qty.checked_abs()?;
        match self {
            Self::Linear => linear_notional(price, qty, mode),
            Self::Inverse(cs) => {
                if price <= 0 {
                    return None;
                }
                inverse_notional(price, qty, cs, mode)
            }
        }
    }

    /// PnL of a signed quantity from `entry` to `exit`, rounded down.
    pub fn pnl(self, qty: i64, entry: i64, exit: i64) -> Option<i128> {
        let q = i128::from(qty);
        let diff = i128::from(exit) - i128::from(entry);
        match self {
            Self::Linear => mul_div(q, diff, SCALE, Rounding::Down),
            Self::Inverse(cs) => {
                if entry <= 0 || exit <= 0 {
                    return None;
                }
                mul_div(
                    q.checked_mul(i128::from(cs))?,
                    diff,
                    i128::from(entry) * i128::from(exit),
                    Rounding::Down,
                )
            }
        }
    }

    /// Entry price after adding `add` (unsigned) at `price` to `held` (unsigned)
    /// at `entry`, rounded half-even.
    pub fn entry_after_add(self, held: i64, entry: i64, add: i64, price: i64) -> Option<i64> {
        let (h, e, a, p) = (
            i128::from(held),
            i128::from(entry),
            i128::from(add),
            i128::from(price),
        );
        if h == 0 {
            return Some(price);
        }
        let raw = match self {
            Self::Linear => mul_div(
                h.checked_mul(e)?.checked_add(a.checked_mul(p)?)?,
                1,
                h + a,
                Rounding::HalfEven,
            )?,
            Self::Inverse(_) => mul_div(
                h + a,
                e.checked_mul(p)?,
                h.checked_mul(p)?.checked_add(a.checked_mul(e)?)?,
                Rounding::HalfEven,
            )?,
        };
        i64::try_from(raw).ok()
    }

    /// Funding credited to a position of signed `qty` at `mark` with `rate`
    /// (negative = paid), rounded toward negative infinity.
    pub fn funding(self, qty: i64, mark: i64, rate: i64) -> Option<i128> {
        let q = -i128::from(qty);
        match self {
            Self::Linear => mul_div(
                q.checked_mul(i128::from(mark))?,
                i128::from(rate),
                SCALE * SCALE,
                Rounding::Down,
            ),
            Self::Inverse(cs) => {
                if mark <= 0 {
                    return None;
                }
                mul_div(
                    q.checked_mul(i128::from(cs))?,
                    i128::from(rate),
                    i128::from(mark) * SCALE,
                    Rounding::Down,
                )
            }
        }
    }
}

/// The tier a notional falls in (the last tier if above every cap).
pub fn tier_for(tiers: &[MarginTier], notional: i128) -> Option<&MarginTier> {
    tiers
        .iter()
        .find(|t| t.notional_cap.raw() <= 0 || notional <= i128::from(t.notional_cap.raw()))
        .or_else(|| tiers.last())
}

/// Maintenance margin of a notional (raw units, rounded up, never negative).
pub fn maintenance_margin(tiers: &[MarginTier], notional: i128) -> Option<i128> {
    let Some(t) = tier_for(tiers, notional) else {
        return Some(0);
    };
    let mm = mul_div(
        notional,
        i128::from(t.maint_margin_rate.raw()),
        SCALE,
        Rounding::Up,
    )?;
    Some((mm - i128::from(t.maint_amount.raw())).max(0))
}

/// Initial margin of a notional at `leverage` (raw units, rounded up).
pub fn initial_margin(notional: i128, leverage: u32) -> Option<i128> {
    mul_div(notional, 1, i128::from(leverage.max(1)), Rounding::Up)
}

#[cfg(test)]
mod tests {
    use super::*;

    const E8: i64 = 100_000_000;

    #[test]
    fn linear_formulas() {
        let c = Contract::Linear;
        // 0.5 BTC at 60000 = 30000 USDT.
        assert_eq!(
            c.notional(60_000 * E8, E8 / 2, Rounding::Down),
            Some(30_000 * i128::from(E8))
        );
        // Long 0.5 from 60000 to 61000: +500.
        assert_eq!(
            c.pnl(E8 / 2, 60_000 * E8, 61_000 * E8),
            Some(500 * i128::from(E8))
        );
        // Short 0.5: -500.
        assert_eq!(
            c.pnl(-E8 / 2, 60_000 * E8, 61_000 * E8),
            Some(-500 * i128::from(E8))
        );
        // 1 @ 60000 + 3 @ 61000 -> 60750.
        assert_eq!(
            c.entry_after_add(E8, 60_000 * E8, 3 * E8, 61_000 * E8),
            Some(60_750 * E8)
        );
        // Long 2 BTC at mark 60000, rate 0.0001: pays 12 USDT.
        assert_eq!(
            c.funding(2 * E8, 60_000 * E8, 10_000),
            Some(-12 * i128::from(E8))
        );
        assert_eq!(
            c.funding(-2 * E8, 60_000 * E8, 10_000),
            Some(12 * i128::from(E8))
        );
    }

    #[test]
    fn inverse_formulas() {
        let c = Contract::Inverse(100 * E8);
        // 10 contracts of 100 USD at 50000 = 0.02 BTC.
        assert_eq!(
            c.notional(50_000 * E8, 10 * E8, Rounding::Down),
            Some(2_000_000)
        );
        // Long 10 from 50000 to 40000: 1000 × (1/50000 - 1/40000) = -0.005 BTC.
        assert_eq!(c.pnl(10 * E8, 50_000 * E8, 40_000 * E8), Some(-500_000));
        // Short 10 from 50000 to 40000: +0.005 BTC.
        assert_eq!(c.pnl(-10 * E8, 50_000 * E8, 40_000 * E8), Some(500_000));
        // Harmonic entry: 10 @ 50000 + 10 @ 40000 -> 20 / (10/50000 + 10/40000) = 44444.444...
        assert_eq!(
            c.entry_after_add(10 * E8, 50_000 * E8, 10 * E8, 40_000 * E8),
            Some(4_444_444_444_444)
        );
        // Funding: long 10 contracts at mark 50000, rate 0.0001: pays 0.000002 BTC.
        assert_eq!(c.funding(10 * E8, 50_000 * E8, 10_000), Some(-200));
    }

    #[test]
    fn tiers_and_margins() {
        let tiers = vec![
            MarginTier {
                notional_cap: Price::from_raw(50_000 * E8, 0),
                max_leverage: 125,
                maint_margin_rate: Price::from_raw(400_000, 4),
                maint_amount: Price::ZERO,
            },
            MarginTier {
                notional_cap: Price::from_raw(250_000 * E8, 0),
                max_leverage: 100,
                maint_margin_rate: Price::from_raw(500_000, 4),
                maint_amount: Price::from_raw(50 * E8, 0),
            },
        ];
        // 40000 notional: 0.4 % = 160.
        assert_eq!(
            maintenance_margin(&tiers, 40_000 * i128::from(E8)),
            Some(160 * i128::from(E8))
        );
        // 100000 notional: 0.5 % - 50 = 450.
        assert_eq!(
            maintenance_margin(&tiers, 100_000 * i128::from(E8)),
            Some(450 * i128::from(E8))
        );
        // Above every cap: last tier.
        assert_eq!(
            maintenance_margin(&tiers, 1_000_000 * i128::from(E8)),
            Some(4_950 * i128::from(E8))
        );
        assert_eq!(initial_margin(1_000, 3), Some(334));
    }
}
