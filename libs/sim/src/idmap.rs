//! [`IdMap`]: a small map from instrument id to a value, ordered by id like a
//! `BTreeMap`, stored as a sorted vector and searched linearly by equality.
//!
//! A venue simulates a handful of instruments and looks one up several times
//! per market event; for a few keys a linear scan on equality is much cheaper
//! than a tree search with ordered comparisons.

use veloz_core::InstrumentId;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    entries: Vec<(InstrumentId, V)>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V> IdMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn position(&self, id: &InstrumentId) -> Option<usize> {
        // The first entry is tried before the loop: with one instrument (the
        // usual backtest) that is the whole search, without loop overhead.
        match self.entries.first() {
            Some((k, _)) if k == id => Some(0),
            Some(_) => self.entries[1..]
                .iter()
                .position(|(k, _)| k == id)
                .map(|i| i + 1),
            None => None,
        }
    }

    /// The value of `id`.
    #[inline]
    pub fn get(&self, id: &InstrumentId) -> Option<&V> {
        self.position(id).map(|i| &self.entries[i].1)
    }

    /// The value of `id`, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: &InstrumentId) -> Option<&mut V> {
        self.position(id).map(|i| &mut self.entries[i].1)
    }

    /// Where `id` is (for [`IdMap::value_at_mut`]: one search for a lookup
    /// that must come before a change of other state).
    #[inline]
    pub fn index_of(&self, id: &InstrumentId) -> Option<usize> {
        self.position(id)
    }

    /// The value at an index from [`IdMap::index_of`] (valid until the next
    /// insertion).
    #[inline]
    pub fn value_at(&self, index: usize) -> Option<&V> {
        self.entries.get(index).map(|(_, v)| v)
    }

    /// The value at an index from [`IdMap::index_of`] (valid until the next
    /// insertion), mutably.
    #[inline]
    pub fn value_at_mut(&mut self, index: usize) -> Option<&mut V> {
        self.entries.get_mut(index).map(|(_, v)| v)
    }

    /// The value of `id`, inserted from `make` first if absent (one search).
    #[inline]
    pub fn get_or_insert_with(&mut self, id: InstrumentId, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.position(&id) {
            Some(i) => i,
            None => self.insert_new(id, make()),
        };
        &mut self.entries[i].1
    }

    /// Inserts an id known to be absent; returns its index.
    #[cold]
    fn insert_new(&mut self, id: InstrumentId, value: V) -> usize {
        let at = self.entries.partition_point(|(k, _)| *k < id);
        self.entries.insert(at, (id, value));
        at
    }

    /// Is `id` in the map?
    #[inline]
    pub fn contains_key(&self, id: &InstrumentId) -> bool {
        self.position(id).is_some()
    }

    /// Inserts (or replaces) the value of `id`; returns the old value.
    pub fn insert(&mut self, id: InstrumentId, value: V) -> Option<V> {
        if let Some(i) = self.position(&id) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        let at = self.entries.partition_point(|(k, _)| *k < id);
        self.entries.insert(at, (id, value));
        None
    }

    /// Ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &InstrumentId> + '_ {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Values in id order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Values in id order, mutably.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&InstrumentId, &V)> + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Entries in id order, values mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&InstrumentId, &mut V)> + '_ {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_id_order_and_replaces() {
        let id = |s: &str| s.parse::<InstrumentId>().unwrap();
        let mut m = IdMap::new();
        assert!(m.insert(id("BINANCE.USDM.ETHUSDT"), 1).is_none());
        assert!(m.insert(id("BINANCE.SPOT.BTCUSDT"), 2).is_none());
        assert!(m.insert(id("BINANCE.USDM.BTCUSDT"), 3).is_none());
        assert_eq!(m.insert(id("BINANCE.USDM.BTCUSDT"), 4), Some(3));
        let mut want: Vec<InstrumentId> = vec![
            id("BINANCE.USDM.ETHUSDT"),
            id("BINANCE.SPOT.BTCUSDT"),
            id("BINANCE.USDM.BTCUSDT"),
        ];
        want.sort();
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), want);
        assert_eq!(m.get(&id("BINANCE.USDM.BTCUSDT")), Some(&4));
        assert!(!m.contains_key(&id("BINANCE.COINM.BTCUSD_PERP")));
        *m.get_mut(&id("BINANCE.SPOT.BTCUSDT")).unwrap() += 10;
        assert_eq!(m.values().sum::<i32>(), 1 + 12 + 4);
        assert_eq!(m.len(), 3);
        let i = m.index_of(&id("BINANCE.USDM.ETHUSDT")).unwrap();
        *m.value_at_mut(i).unwrap() += 100;
        assert_eq!(m.get(&id("BINANCE.USDM.ETHUSDT")), Some(&101));
        assert_eq!(m.index_of(&id("BINANCE.COINM.BTCUSD_PERP")), None);
        *m.get_or_insert_with(id("BINANCE.USDM.ETHUSDT"), || 7) += 1;
        assert_eq!(m.get(&id("BINANCE.USDM.ETHUSDT")), Some(&102));
        assert_eq!(
            *m.get_or_insert_with(id("BINANCE.COINM.BTCUSD_PERP"), || 7),
            7
        );
        assert_eq!(m.len(), 4);
        want.push(id("BINANCE.COINM.BTCUSD_PERP"));
        want.sort();
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), want);
    }

    /// Every entry is found at its index whether it is the first one (tried
    /// before the loop) or not, and absent ids are not found, for maps of 0
    /// to 4 entries.
    #[test]
    fn every_position_is_found() {
        let id = |s: &str| s.parse::<InstrumentId>().unwrap();
        let all = [
            id("BINANCE.SPOT.BTCUSDT"),
            id("BINANCE.USDM.BTCUSDT"),
            id("BINANCE.USDM.ETHUSDT"),
            id("BINANCE.COINM.BTCUSD_PERP"),
        ];
        for n in 0..=all.len() {
            let mut m = IdMap::new();
            for (v, k) in all[..n].iter().enumerate() {
                m.insert(*k, v);
            }
            for (v, k) in all.iter().enumerate() {
                let i = m.index_of(k);
                assert_eq!(i.is_some(), v < n, "{k} in a map of {n}");
                assert_eq!(m.get(k).copied(), (v < n).then_some(v));
                if let Some(i) = i {
                    assert_eq!(m.value_at(i), Some(&v));
                    assert_eq!(m.keys().nth(i), Some(k));
                }
            }
        }
    }
}
