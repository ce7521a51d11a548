//! [`InlineList`]: a list that keeps its first element inside its owner and
//! moves to the heap only for a second one. An order's fills and its fee
//! totals per asset are almost always a single entry: kept inline, the first
//! fill and the first fee cost no allocation (a boxed order is already on the
//! heap).

/// Zero, one (inline) or several (heap) elements, read as one slice.
///
/// `Many` always holds at least two elements (the list never shrinks), but
/// equality compares the slices, so the representation never matters.
#[derive(Debug, Clone, Default)]
pub(crate) enum InlineList<T> {
    /// No element.
    #[default]
    Empty,
    /// One element, inline.
    One(T),
    /// Two or more, on the heap.
    Many(Vec<T>),
}

impl<T> InlineList<T> {
    /// The elements in order.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Self::Empty => &[],
            Self::One(x) => std::slice::from_ref(x),
            Self::Many(v) => v,
        }
    }

    /// The elements in order, mutable.
    #[inline]
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Self::Empty => &mut [],
            Self::One(x) => std::slice::from_mut(x),
            Self::Many(v) => v,
        }
    }

    /// Number of elements.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Puts `x` at position `at` (`at <= len`), moving the later ones up.
    pub(crate) fn insert(&mut self, at: usize, x: T) {
        match std::mem::take(self) {
            Self::Empty => *self = Self::One(x),
            Self::One(first) => {
                let mut v = Vec::with_capacity(4);
                v.push(first);
                v.insert(at.min(1), x);
                *self = Self::Many(v);
            }
            Self::Many(mut v) => {
                v.insert(at.min(v.len()), x);
                *self = Self::Many(v);
            }
        }
    }

    /// Appends `x`.
    #[inline]
    pub(crate) fn push(&mut self, x: T) {
        match self {
            Self::Empty => *self = Self::One(x),
            Self::Many(v) => v.push(x),
            Self::One(_) => self.insert(1, x),
        }
    }
}

impl<T: PartialEq> PartialEq for InlineList<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for InlineList<T> {}

#[cfg(test)]
mod tests {
    use super::InlineList;

    #[test]
    fn behaves_like_a_vector() {
        let mut l = InlineList::default();
        let mut v = Vec::new();
        assert_eq!(l.as_slice(), &v[..]);
        for (i, x) in [5, 3, 8, 1, 9, 2].into_iter().enumerate() {
            if i % 2 == 0 {
                l.push(x);
                v.push(x);
            } else {
                let at = i / 3;
                l.insert(at, x);
                v.insert(at, x);
            }
            assert_eq!(l.as_slice(), &v[..]);
            assert_eq!(l.len(), v.len());
        }
        l.as_mut_slice()[0] = 42;
        v[0] = 42;
        assert_eq!(l.as_slice(), &v[..]);
    }

    #[test]
    fn equality_ignores_the_representation() {
        let a: InlineList<u8> = InlineList::One(7);
        let b = InlineList::Many(vec![7]);
        assert_eq!(a, b);
        assert_ne!(a, InlineList::Empty);
        assert_eq!(InlineList::<u8>::Empty, InlineList::Many(Vec::new()));
    }
}
