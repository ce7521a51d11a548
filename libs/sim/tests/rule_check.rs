//! The venue's cheap rule check on submit, `Instrument::passes_plain_limit`
//! (shared with the kernel's pre-trade check), against the full
//! `Instrument::validate` on the simulator's instrument presets with each
//! rule switched on and off: a `true` always means `validate` finds nothing,
//! and for plain limit orders with figures in the usual ranges the two agree
//! both ways.
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use veloz_core::{Instrument, OrderCheck, OrderFlags, OrderType, Side};
use veloz_core::{PercentBand, Price, Quantity};
use veloz_sim::presets;

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
                + ((base_p - spec.min_price.raw()) / tick + (rng.next_u32() % 8000) as i64 - 4000)
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
            let fast = spec.passes_plain_limit(&o);
            let full = spec.validate(&o);
            if fast {
                assert!(full.is_empty(), "{o:?} on {:?}: {full:?}", spec.id);
                passed += 1;
                continue;
            }
            let plain = o.order_type == OrderType::Limit
                && o.trigger_price.is_none()
                && !o.flags.contains(OrderFlags::CLOSE_POSITION)
                && (spec.id.kind.is_futures() || !o.flags.contains(OrderFlags::REDUCE_ONLY));
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
