//! Queue-position models: where a simulated resting order stands in the
//! replayed market's queue at its price, and how that changes as the market
//! moves.
//!
//! The simulator never sees the individual orders of the real market, only
//! the total quantity at each price (L2) and the public trades. A resting
//! order of ours therefore carries one number, the **quantity ahead** of it
//! (raw `10^-8` units of the market's quantity at our price that would trade
//! before us). Three things move it:
//!
//! 1. **Placement** ([`QueueModel::initial_ahead`]): both built-in models put a
//!    new order behind the whole visible quantity at its price (it joins the
//!    back of the queue, as it would on the venue).
//! 2. **Trades at our price** (handled by the engine, identically for every
//!    model): a public trade at our price first consumes the quantity ahead of
//!    us; only the part of the trade beyond it fills us (see the engine's
//!    module docs for the full trade walk, trade-through and cross rules).
//! 3. **Depth changes that are not explained by trades**
//!    ([`QueueModel::on_depth_change`]): the level shrank or grew between two
//!    book updates. This is where models differ.
//!
//! Every model must keep `0 <= ahead <= current level quantity`: whatever
//! happened, there cannot be more ahead of us than the venue shows at the
//! price.
//!
//! # [`ConservativeQueue`]
//!
//! *Only trades at our price move us forward.* A level decrease that trades
//! do not explain is assumed to be a cancel **behind** us, so the quantity
//! ahead does not change, except that it is capped at the level's new
//! quantity (if the level shrinks below what we thought was ahead, everything
//! left must be ahead of us). Increases are new orders joining behind us.
//! This never fills an order earlier than the market could have, so fills
//! are, if anything, late: it is the model to trust when deciding whether a
//! passive strategy makes money.
//!
//! # [`ProbabilisticQueue`]
//!
//! Cancels happen anywhere in the queue. When the level shrinks by more than
//! the public trades at that price since the last depth change explain, the
//! unexplained part `c` is a cancel. With `a` the quantity ahead of us and
//! `b` the quantity behind us (the level before the change, less the traded
//! part, less `a`), the cancel is drawn to come from ahead of us with
//! probability
//!
//! ```text
//! p = f(a / (a + b)) / (f(a / (a + b)) + f(b / (a + b))),   f(x) = x^k
//! ```
//!
//! where the power `k` (1..=4) is a parameter. With `k = 1` every unit of
//! resting quantity is equally likely to be the one canceled (`p = a/(a+b)`);
//! a larger `k` concentrates cancels on the longer side of the queue (a
//! "power-law" weighting: orders deep in a long queue are the ones that give
//! up). If the cancel is drawn ahead, `min(c, a)` is removed from ahead of
//! us; if it is drawn behind but is larger than everything behind us
//! (`c > b`), the excess `c - b` must have come from ahead and is removed
//! from ahead. The result is then capped at the new level quantity, as in
//! the conservative model.
//!
//! The draw uses a ChaCha8 generator seeded by the caller, so the same seed
//! and the same inputs give the same fills, bit for bit. The ratio `a/(a+b)`
//! is computed in units of `10^-9` and the probability in units of `2^-32`,
//! all in integers.
//!
//! # Plugging in a model
//!
//! Implement [`QueueModel`] and pass it to
//! [`SimExchange::new`](crate::SimExchange::new). A model sees only
//! quantities (raw `10^-8` units), never prices or orders, and must be
//! deterministic given its own state.

use std::fmt;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use veloz_core::Rounding;

use crate::arith::mul_div;
use crate::error::SimError;

/// What happened to the visible market quantity at the price of a resting
/// order between two book updates. Quantities are raw `10^-8` units and are
/// the *effective* quantities (the venue's quantity less what simulated
/// takers already consumed, see the engine docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthChange {
    /// Level quantity before the update.
    pub prev_qty: i64,
    /// Level quantity after the update.
    pub new_qty: i64,
    /// Quantity of public trades at this price since the previous depth change
    /// at this price (already removed from the quantity ahead by the engine).
    pub traded: i64,
}

/// A queue-position model (see the module docs).
pub trait QueueModel: fmt::Debug + Send {
    /// A short name for reports and logs.
    fn name(&self) -> &'static str;

    /// Quantity ahead of a new order joining a level that shows `level_qty`.
    /// The default joins the back of the queue.
    fn initial_ahead(&mut self, level_qty: i64) -> i64 {
        level_qty.max(0)
    }

    /// The new quantity ahead after a depth change at the order's price. The
    /// engine clamps the answer to `0 ..= change.new_qty`.
    fn on_depth_change(&mut self, ahead: i64, change: DepthChange) -> i64;
}

/// The conservative model: only trades at our price move us forward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConservativeQueue;

impl QueueModel for ConservativeQueue {
    fn name(&self) -> &'static str {
        "conservative"
    }

    fn on_depth_change(&mut self, ahead: i64, change: DepthChange) -> i64 {
        ahead.min(change.new_qty).max(0)
    }
}

/// Fixed-point unit of the queue ratio (`10^9`).
const RATIO_ONE: i128 = 1_000_000_000;
/// Fixed-point unit of probabilities (`2^32`).
const PROB_ONE: i128 = 1 << 32;

/// The probabilistic model: unexplained decreases are cancels drawn ahead of
/// or behind us with a power-law weight (see the module docs).
#[derive(Clone)]
pub struct ProbabilisticQueue {
    power: u32,
    seed: u64,
    rng: ChaCha8Rng,
}

impl fmt::Debug for ProbabilisticQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbabilisticQueue")
            .field("power", &self.power)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl ProbabilisticQueue {
    /// A model with power `k` (1..=4) and an RNG seeded with `seed`.
    pub fn new(power: u32, seed: u64) -> Result<Self, SimError> {
        if !(1..=4).contains(&power) {
            return Err(SimError::InvalidParameter(format!(
                "the probabilistic queue power must be 1, 2, 3 or 4, got {power}"
            )));
        }
        Ok(Self {
            power,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// The power `k`.
    pub fn power(&self) -> u32 {
        self.power
    }

    /// The seed the RNG started from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Probability (in units of `2^-32`) that a cancel comes from ahead of us,
    /// with `ahead` ahead and `behind` behind.
    pub fn prob_ahead(&self, ahead: i64, behind: i64) -> i64 {
        let (a, b) = (i128::from(ahead.max(0)), i128::from(behind.max(0)));
        if a == 0 {
            return 0;
        }
        if b == 0 {
            return PROB_ONE as i64;
        }
        let Some(r) = mul_div(a, RATIO_ONE, a + b, Rounding::HalfEven) else {
            return 0;
        };
        let s = RATIO_ONE - r;
        let fr = r.pow(self.power);
        let fs = s.pow(self.power);
        if fr + fs == 0 {
            return 0;
        }
        mul_div(fr, PROB_ONE, fr + fs, Rounding::Down)
            .and_then(|p| i64::try_from(p).ok())
            .unwrap_or(0)
    }
}

impl QueueModel for ProbabilisticQueue {
    fn name(&self) -> &'static str {
        "probabilistic"
    }

    fn on_depth_change(&mut self, ahead: i64, change: DepthChange) -> i64 {
        let prev = change.prev_qty.max(0);
        let new = change.new_qty.max(0);
        let mut ahead = ahead.max(0);
        if new < prev && ahead > 0 {
            let decrease = prev - new;
            let traded = change.traded.clamp(0, decrease);
            let cancels = decrease - traded;
            if cancels > 0 {
                let behind = (prev - traded - ahead).max(0);
                let p = self.prob_ahead(ahead, behind);
                let draw = i64::from(self.rng.next_u32());
                if draw < p {
                    ahead -= cancels.min(ahead);
                } else if cancels > behind {
                    ahead -= (cancels - behind).min(ahead);
                }
            }
        }
        ahead.min(new).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(prev: i64, new: i64, traded: i64) -> DepthChange {
        DepthChange {
            prev_qty: prev,
            new_qty: new,
            traded,
        }
    }

    #[test]
    fn conservative_only_caps() {
        let mut m = ConservativeQueue;
        assert_eq!(m.initial_ahead(500), 500);
        // A cancel of 100 from a level of 500 with 300 ahead: assumed behind.
        assert_eq!(m.on_depth_change(300, ch(500, 400, 0)), 300);
        // The level shrinks below what is ahead: capped.
        assert_eq!(m.on_depth_change(300, ch(400, 120, 0)), 120);
        // Growth joins behind us.
        assert_eq!(m.on_depth_change(120, ch(120, 900, 0)), 120);
        assert_eq!(m.on_depth_change(120, ch(120, 0, 0)), 0);
    }

    #[test]
    fn probability_is_power_weighted() {
        let m1 = ProbabilisticQueue::new(1, 7).unwrap();
        let m3 = ProbabilisticQueue::new(3, 7).unwrap();
        // a = 1/4 of the queue.
        let p1 = m1.prob_ahead(100, 300);
        assert_eq!(p1, (PROB_ONE / 4) as i64);
        // k = 3: (1/4)^3 / ((1/4)^3 + (3/4)^3) = 1/28.
        let p3 = m3.prob_ahead(100, 300);
        assert_eq!(p3, (PROB_ONE / 28) as i64);
        assert_eq!(m1.prob_ahead(0, 300), 0);
        assert_eq!(m1.prob_ahead(5, 0), PROB_ONE as i64);
        assert!(ProbabilisticQueue::new(0, 1).is_err());
        assert!(ProbabilisticQueue::new(5, 1).is_err());
    }

    #[test]
    fn probabilistic_moves_forward_on_some_cancels_and_is_seeded() {
        let run = |seed| {
            let mut m = ProbabilisticQueue::new(1, seed).unwrap();
            let mut ahead = 1_000;
            let mut level = 2_000;
            let mut path = Vec::new();
            for _ in 0..20 {
                ahead = m.on_depth_change(ahead, ch(level, level - 50, 0));
                level -= 50;
                path.push(ahead);
            }
            path
        };
        let a = run(42);
        assert_eq!(a, run(42), "same seed, same path");
        // Some cancels were drawn ahead of us, some behind.
        assert!(*a.last().unwrap() < 1_000);
        assert!(*a.last().unwrap() > 0);
        // Trades explain decreases: no draw moves us.
        let mut m = ProbabilisticQueue::new(1, 1).unwrap();
        assert_eq!(m.on_depth_change(600, ch(1_000, 900, 100)), 600);
        // A cancel larger than everything behind must eat into ahead.
        let mut m = ProbabilisticQueue::new(4, 1).unwrap();
        // ahead 900, behind 100, cancel 300: either all from ahead (600 left)
        // or 100 behind + 200 ahead (700 left).
        let left = m.on_depth_change(900, ch(1_000, 700, 0));
        assert!(left == 600 || left == 700, "{left}");
    }
}
