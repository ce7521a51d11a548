//! The public-trade memory of the levels where our orders rest: how much
//! traded at each `(side, price)` since the venue's depth there last changed
//! (the queue models split a depth decrease into trades and cancels with it).
//!
//! It holds an entry only for a level of ours that public trades reached and
//! whose depth has not moved since (an entry goes when the depth moves or the
//! level empties), so it stays a handful of entries: a small vector searched
//! linearly costs less than an ordered map's insertions and removals, and it
//! is never iterated, so its order does not matter.

use veloz_core::Side;

/// Traded quantity (raw) per `(side, price)` level.
#[derive(Debug, Default)]
pub(crate) struct TradedAt {
    entries: Vec<((Side, i64), i64)>,
}

impl TradedAt {
    /// Adds `qty` to the level's traded quantity (starting from 0).
    #[inline]
    pub fn add(&mut self, key: (Side, i64), qty: i64) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v += qty,
            None => self.entries.push((key, qty)),
        }
    }

    /// Takes (removes and returns) the level's traded quantity, if any.
    #[inline]
    pub fn remove(&mut self, key: &(Side, i64)) -> Option<i64> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.swap_remove(at).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeMap;

    /// Random adds and removes give the same answers as the ordered map it
    /// replaced.
    #[test]
    fn behaves_like_an_ordered_map() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut map: BTreeMap<(Side, i64), i64> = BTreeMap::new();
        let mut t = TradedAt::default();
        let (mut hits, mut misses) = (0, 0);
        for _ in 0..100_000 {
            let side = if rng.next_u32() % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let key = (side, i64::from(rng.next_u32() % 12));
            if rng.next_u32() % 3 == 0 {
                let got = t.remove(&key);
                assert_eq!(got, map.remove(&key));
                if got.is_some() {
                    hits += 1;
                } else {
                    misses += 1;
                }
            } else {
                let q = i64::from(rng.next_u32() % 1000);
                t.add(key, q);
                *map.entry(key).or_insert(0) += q;
            }
        }
        assert!(hits > 1000 && misses > 1000, "{hits} {misses}");
    }
}
