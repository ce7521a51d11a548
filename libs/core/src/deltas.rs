//! [`DeltaList`]: the level changes of one depth message, with a single
//! change stored inline.
//!
//! Most depth messages of a busy replay carry one change (a synthetic feed
//! always does); a `Vec` would allocate and free for each of them. A
//! `DeltaList` holds one change in place and only moves to the heap for the
//! second. It reads like a slice (`len`, `iter`, indexing) and its serialized
//! form is exactly a `Vec<BookDelta>`'s (a sequence), so journals and
//! catalogs written with the `Vec` read back unchanged.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::events::BookDelta;

/// The changes of a [`crate::events::BookDeltas`], in venue order (see the
/// module docs). Equality, hashing order and formatting are those of the
/// slice of changes, whatever the storage.
#[derive(Clone, Default)]
pub struct DeltaList(Repr);

#[derive(Clone)]
enum Repr {
    /// Exactly one change.
    One(BookDelta),
    /// Zero, two or more changes (an empty `Vec` does not allocate).
    Many(Vec<BookDelta>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Many(Vec::new())
    }
}

impl DeltaList {
    /// No changes (no allocation).
    pub const fn new() -> Self {
        Self(Repr::Many(Vec::new()))
    }

    /// A list of one change (no allocation).
    pub const fn one(delta: BookDelta) -> Self {
        Self(Repr::One(delta))
    }

    /// An empty list with room for `n` changes (allocates only for `n` > 1).
    pub fn with_capacity(n: usize) -> Self {
        if n <= 1 {
            Self::new()
        } else {
            Self(Repr::Many(Vec::with_capacity(n)))
        }
    }

    /// Appends a change.
    pub fn push(&mut self, delta: BookDelta) {
        match &mut self.0 {
            Repr::Many(v) if v.is_empty() && v.capacity() == 0 => self.0 = Repr::One(delta),
            Repr::Many(v) => v.push(delta),
            Repr::One(first) => {
                let first = *first;
                self.0 = Repr::Many(vec![first, delta]);
            }
        }
    }

    /// The changes as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[BookDelta] {
        match &self.0 {
            Repr::One(d) => std::slice::from_ref(d),
            Repr::Many(v) => v,
        }
    }

    /// The changes as a mutable slice.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [BookDelta] {
        match &mut self.0 {
            Repr::One(d) => std::slice::from_mut(d),
            Repr::Many(v) => v,
        }
    }

    /// The changes as a `Vec` (allocates for a single change).
    pub fn into_vec(self) -> Vec<BookDelta> {
        match self.0 {
            Repr::One(d) => vec![d],
            Repr::Many(v) => v,
        }
    }
}

impl Deref for DeltaList {
    type Target = [BookDelta];

    #[inline]
    fn deref(&self) -> &[BookDelta] {
        self.as_slice()
    }
}

impl DerefMut for DeltaList {
    #[inline]
    fn deref_mut(&mut self) -> &mut [BookDelta] {
        self.as_mut_slice()
    }
}

impl PartialEq for DeltaList {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for DeltaList {}

impl fmt::Debug for DeltaList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl From<Vec<BookDelta>> for DeltaList {
    /// A single change moves inline (the `Vec` is freed).
    fn from(v: Vec<BookDelta>) -> Self {
        if v.len() == 1 {
            Self(Repr::One(v[0]))
        } else {
            Self(Repr::Many(v))
        }
    }
}

impl From<DeltaList> for Vec<BookDelta> {
    fn from(d: DeltaList) -> Self {
        d.into_vec()
    }
}

impl FromIterator<BookDelta> for DeltaList {
    fn from_iter<I: IntoIterator<Item = BookDelta>>(iter: I) -> Self {
        let mut it = iter.into_iter();
        let Some(first) = it.next() else {
            return Self::new();
        };
        let Some(second) = it.next() else {
            return Self::one(first);
        };
        let mut v = Vec::with_capacity(2 + it.size_hint().0);
        v.push(first);
        v.push(second);
        v.extend(it);
        Self(Repr::Many(v))
    }
}

impl Extend<BookDelta> for DeltaList {
    fn extend<I: IntoIterator<Item = BookDelta>>(&mut self, iter: I) {
        for d in iter {
            self.push(d);
        }
    }
}

impl<'a> IntoIterator for &'a DeltaList {
    type Item = &'a BookDelta;
    type IntoIter = std::slice::Iter<'a, BookDelta>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// The owned iterator of a [`DeltaList`].
#[derive(Debug, Clone)]
pub struct IntoIter(IterRepr);

#[derive(Debug, Clone)]
enum IterRepr {
    One(Option<BookDelta>),
    Many(std::vec::IntoIter<BookDelta>),
}

impl Iterator for IntoIter {
    type Item = BookDelta;

    fn next(&mut self) -> Option<BookDelta> {
        match &mut self.0 {
            IterRepr::One(d) => d.take(),
            IterRepr::Many(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::One(d) => {
                let n = usize::from(d.is_some());
                (n, Some(n))
            }
            IterRepr::Many(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for DeltaList {
    type Item = BookDelta;
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter(match self.0 {
            Repr::One(d) => IterRepr::One(Some(d)),
            Repr::Many(v) => IterRepr::Many(v.into_iter()),
        })
    }
}

impl Serialize for DeltaList {
    /// A sequence, exactly as a `Vec<BookDelta>`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

impl<'de> Deserialize<'de> for DeltaList {
    /// A sequence, exactly as a `Vec<BookDelta>`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<BookDelta>::deserialize(d).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Level;
    use crate::{Price, Quantity, Side};

    fn delta(i: i64) -> BookDelta {
        BookDelta {
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            level: Level {
                price: Price::from_raw(100 + i, 8),
                qty: Quantity::from_raw(i, 8),
            },
        }
    }

    #[test]
    fn push_goes_inline_then_to_the_heap() {
        let mut l = DeltaList::new();
        assert!(l.is_empty());
        l.push(delta(1));
        assert!(matches!(l.0, Repr::One(_)));
        assert_eq!(l.as_slice(), &[delta(1)]);
        l.push(delta(2));
        l.push(delta(3));
        assert!(matches!(l.0, Repr::Many(_)));
        assert_eq!(l.as_slice(), &[delta(1), delta(2), delta(3)]);
        assert_eq!(l[2], delta(3));
        l[0].level.qty = Quantity::from_raw(9, 8);
        assert_eq!(l[0].level.qty, Quantity::from_raw(9, 8));
        let owned: Vec<BookDelta> = l.clone().into_iter().collect();
        assert_eq!(owned, l.as_slice());
        assert_eq!(l.clone().into_vec(), owned);
    }

    #[test]
    fn equality_and_debug_ignore_the_storage() {
        let inline = DeltaList::one(delta(4));
        let heap = DeltaList(Repr::Many(vec![delta(4)]));
        assert_eq!(inline, heap);
        assert_eq!(format!("{inline:?}"), format!("{heap:?}"));
        assert_eq!(format!("{inline:?}"), format!("{:?}", vec![delta(4)]));
        assert_ne!(inline, DeltaList::new());
        let collected: DeltaList = (1..=3).map(delta).collect();
        let from_vec = DeltaList::from((1..=3).map(delta).collect::<Vec<_>>());
        assert_eq!(collected, from_vec);
        assert!(matches!(DeltaList::from(vec![delta(1)]).0, Repr::One(_)));
        let one: DeltaList = std::iter::once(delta(5)).collect();
        assert!(matches!(one.0, Repr::One(_)));
        assert_eq!(one.into_iter().len(), 1);
    }

    #[test]
    fn serialized_form_is_the_vec_form() {
        for n in [0usize, 1, 2, 5] {
            let v: Vec<BookDelta> = (0..n as i64).map(delta).collect();
            let l = DeltaList::from(v.clone());
            let json_vec = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::to_string(&l).unwrap(), json_vec);
            let back: DeltaList = serde_json::from_str(&json_vec).unwrap();
            assert_eq!(back.as_slice(), v.as_slice());
        }
    }
}
