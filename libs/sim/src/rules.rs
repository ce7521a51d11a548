//! The venue's cheap rule check for plain limit orders: an integer-only
//! answer to "does [`Instrument::validate`] find nothing wrong with this
//! order?", used by the submit path before (and instead of) the full check.
//!
//! The full check builds a `Vec` of violations and does its notional and
//! percent-band arithmetic with 128-bit divisions; a market maker's limit
//! orders almost always pass it. [`plain_limit_passes`] answers `true` only
//! for a limit order (no reduce-only or close-position flag) that breaks no
//! rule, using the same comparisons rearranged so that no division is
//! needed. Whenever it answers `false` (any other order, any rule broken, any
//! figure outside the ranges where the rearrangement is exact), the caller
//! runs [`Instrument::validate`], which then produces the refusal.

use veloz_core::{ContractKind, Instrument, OrderCheck, OrderFlags, OrderType, Side};

/// `10^8`, the fixed-point scale, as an `i128`.
const SCALE: i128 = 100_000_000;

/// The largest `x` for which `x / 10^8`, rounded either way, fits an `i64`.
const FITS_I64_AFTER_SCALE: i128 = (i64::MAX as i128 - 1) * SCALE;

/// Does `check`, a plain limit order, pass every rule of `spec`? `true`
/// means [`Instrument::validate`] returns no violation at all; `false`
/// means "ask [`Instrument::validate`]" (the order may still be valid).
///
/// Why each step equals the full check (all prices and quantities compare by
/// their raw `10^-8` values, as `Price` and `Quantity` do):
/// - a limit order checks no spot-only type or flag rule once reduce-only
///   and close-position are excluded, and post-only is allowed on it;
/// - price and quantity: the same comparisons, with the grid remainder in
///   `i64` (equal to the `i128` one when the subtraction does not overflow,
///   which is checked);
/// - notional `n = floor(x / 10^8)` with `x >= 0`: for an integer `m`,
///   `n < m` exactly when `x < m * 10^8`, and `n > m` exactly when
///   `x >= (m + 1) * 10^8`; `x` is kept small enough for `n` to fit an `i64`
///   (else the full check reports an overflow);
/// - band: with `y = reference * multiplier >= 0` and an integer price `p`,
///   `p > floor(y / 10^8)` exactly when `p * 10^8 > y`, and
///   `p < ceil(y / 10^8)` exactly when `p * 10^8 < y`; `y` is kept small
///   enough for both bounds to fit an `i64` (else the full check skips the
///   band, which this check does not try to follow).
#[inline]
pub(crate) fn plain_limit_passes(spec: &Instrument, check: &OrderCheck) -> bool {
    if check.order_type != OrderType::Limit
        || check.flags.contains(OrderFlags::REDUCE_ONLY)
        || check.flags.contains(OrderFlags::CLOSE_POSITION)
    {
        return false;
    }
    let Some(price) = check.price else {
        return false;
    };
    let (p, q) = (price.raw(), check.quantity.raw());
    let futures = spec.id.kind.is_futures();
    if p <= 0 || q <= 0 {
        return false;
    }
    // Price rules.
    let (min_p, max_p, tick) = (
        spec.min_price.raw(),
        spec.max_price.raw(),
        spec.tick_size.raw(),
    );
    if (min_p > 0 && p < min_p) || (max_p > 0 && p > max_p) {
        return false;
    }
    if tick > 0 {
        let offset = if futures { min_p } else { 0 };
        match p.checked_sub(offset) {
            Some(d) if d % tick == 0 => {}
            _ => return false,
        }
    }
    // Quantity rules (a limit order uses the plain lot).
    let lot = &spec.lot;
    let (min_q, max_q, step) = (lot.min_qty.raw(), lot.max_qty.raw(), lot.step.raw());
    if (min_q > 0 && q < min_q) || (max_q > 0 && q > max_q) {
        return false;
    }
    if step > 0 {
        let offset = if futures { min_q } else { 0 };
        match q.checked_sub(offset) {
            Some(d) if d % step == 0 => {}
            _ => return false,
        }
    }
    // Notional, on the limit price (no reduce-only exemption applies).
    let x = match spec.contract {
        ContractKind::InversePerpetual { contract_size } => {
            i128::from(q) * i128::from(contract_size.raw())
        }
        _ => i128::from(p) * i128::from(q),
    };
    if !(0..=FITS_I64_AFTER_SCALE).contains(&x) {
        return false;
    }
    if let Some(min) = spec.min_notional {
        if x < i128::from(min.raw()) * SCALE {
            return false;
        }
    }
    if let Some(max) = spec.max_notional {
        if max.is_positive() && x >= (i128::from(max.raw()) + 1) * SCALE {
            return false;
        }
    }
    // Percent band around the reference price.
    if let (Some(band), Some(reference)) = (spec.percent_band, check.reference_price) {
        let r = i128::from(reference.raw());
        let (up, down) = (i128::from(band.up.raw()), i128::from(band.down.raw()));
        if r < 0 || up < 0 || down < 0 {
            return false;
        }
        let (y_up, y_down) = (r * up, r * down);
        if y_up > FITS_I64_AFTER_SCALE || y_down > FITS_I64_AFTER_SCALE {
            return false;
        }
        let ps = i128::from(p) * SCALE;
        let (above, below) = (ps > y_up, ps < y_down);
        let breaks = match (futures, check.side) {
            (true, Side::Buy) => above,
            (true, Side::Sell) => below,
            (false, _) => above || below,
        };
        if breaks {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use veloz_core::{PercentBand, Price, Quantity};

    /// Instruments with each rule switched on and off.
    fn instruments() -> Vec<Instrument> {
        let mut out = vec![
            presets::spot_btcusdt(),
            presets::usdm_btcusdt(),
            presets::coinm_btcusd_perp(),
        ];
        for base in out.clone() {
            let mut i = base.clone();
            i.percent_band = None;
            i.min_notional = None;
            out.push(i);
            let mut i = base.clone();
            i.max_notional = Some(Price::from_raw(5_000_000_000_000, 8));
            i.percent_band = Some(PercentBand {
                up: Price::from_raw(101_000_000, 8),
                down: Price::from_raw(99_000_000, 8),
            });
            out.push(i);
            let mut i = base;
            i.min_price = Price::from_raw(0, 8);
            i.max_price = Price::from_raw(0, 8);
            i.lot.min_qty = Quantity::from_raw(0, 8);
            i.lot.max_qty = Quantity::from_raw(0, 8);
            out.push(i);
        }
        out
    }

    fn pick<T: Copy>(rng: &mut ChaCha8Rng, xs: &[T]) -> T {
        xs[(rng.next_u32() as usize) % xs.len()]
    }

    /// A random order near the instruments' grids, often valid, sometimes
    /// off the grid, out of range, below the notional or outside the band;
    /// now and then a huge figure.
    fn order(rng: &mut ChaCha8Rng, spec: &Instrument) -> OrderCheck {
        let tick = spec.tick_size.raw().max(1);
        let step = spec.lot.step.raw().max(1);
        let base_p = 6_000_000_000_000i64; // 60 000
        let p = match rng.next_u32() % 10 {
            0 => pick(rng, &[0, -tick, 1, i64::MAX, i64::MIN, 1_000_000]),
            1 => base_p + (rng.next_u32() % 1000) as i64,
            2 => (rng.next_u64() % (i64::MAX as u64)) as i64,
            _ => {
                spec.min_price.raw()
                    + ((base_p - spec.min_price.raw()) / tick + (rng.next_u32() % 8000) as i64
                        - 4000)
                        * tick
            }
        };
        let q = match rng.next_u32() % 10 {
            0 => pick(rng, &[0, -step, 1, i64::MAX, 100_000_000_000_000]),
            1 => (rng.next_u32() % 100_000) as i64,
            2 => (rng.next_u64() % (i64::MAX as u64)) as i64,
            _ => spec.lot.min_qty.raw() + (rng.next_u32() % 3000) as i64 * step,
        };
        let order_type = match rng.next_u32() % 8 {
            0 => pick(
                rng,
                &[
                    OrderType::Market,
                    OrderType::StopLimit,
                    OrderType::StopMarket,
                    OrderType::TakeProfitLimit,
                    OrderType::TrailingStopMarket,
                ],
            ),
            _ => OrderType::Limit,
        };
        let flags = match rng.next_u32() % 8 {
            0 => OrderFlags::REDUCE_ONLY,
            1 => OrderFlags::POST_ONLY,
            2 => OrderFlags::CLOSE_POSITION,
            _ => OrderFlags::NONE,
        };
        let reference = match rng.next_u32() % 6 {
            0 => None,
            1 => Some(pick(rng, &[0, -1, i64::MAX, 1])),
            _ => Some(base_p + (rng.next_u64() % 400_000_000_000) as i64 - 200_000_000_000),
        };
        OrderCheck {
            side: if rng.next_u32() % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            order_type,
            quantity: Quantity::from_raw(q, spec.qty_precision),
            price: (rng.next_u32() % 50 != 0).then(|| Price::from_raw(p, spec.price_precision)),
            trigger_price: (rng.next_u32() % 4 == 0)
                .then(|| Price::from_raw(base_p, spec.price_precision)),
            flags,
            reference_price: reference.map(|r| Price::from_raw(r, spec.price_precision)),
        }
    }

    /// Over many generated orders: whenever the cheap check passes an
    /// order, the full check finds no violation; and for plain limit orders
    /// with figures in the usual ranges, the two agree both ways (so the
    /// cheap check is not merely conservative there).
    #[test]
    fn agrees_with_instrument_validate() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_1e55);
        let (mut passed, mut failed_plain) = (0u32, 0u32);
        for spec in instruments() {
            for _ in 0..20_000 {
                let o = order(&mut rng, &spec);
                let fast = plain_limit_passes(&spec, &o);
                let full = spec.validate(&o);
                if fast {
                    assert!(full.is_empty(), "{o:?} on {:?}: {full:?}", spec.id);
                    passed += 1;
                    continue;
                }
                let plain = o.order_type == OrderType::Limit
                    && !o.flags.contains(OrderFlags::REDUCE_ONLY)
                    && !o.flags.contains(OrderFlags::CLOSE_POSITION);
                let usual = |v: i64| v.unsigned_abs() < 1 << 50;
                let in_range = o.price.is_some_and(|p| usual(p.raw()))
                    && usual(o.quantity.raw())
                    && o.reference_price
                        .is_none_or(|r| r.is_positive() && usual(r.raw()));
                if plain && in_range {
                    assert!(!full.is_empty(), "{o:?} on {:?} passes", spec.id);
                    failed_plain += 1;
                }
            }
        }
        // Both outcomes occur many times.
        assert!(passed > 10_000, "{passed}");
        assert!(failed_plain > 10_000, "{failed_plain}");
    }
}
