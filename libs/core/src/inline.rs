//! A small, `Copy`, stack-allocated ASCII string used for identifiers
//! (symbols, currencies, client order ids) so that hot paths never allocate.

use std::fmt;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty string.
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    /// Longer than the identifier allows.
    #[error("{kind} {value:?} is {len} bytes long; the maximum is {max}")]
    TooLong {
        kind: &'static str,
        value: String,
        len: usize,
        max: usize,
    },
    /// Has a character outside the identifier's alphabet.
    #[error("{kind} {value:?} has the character {ch:?}, which is not allowed ({allowed})")]
    BadChar {
        kind: &'static str,
        value: String,
        ch: char,
        allowed: &'static str,
    },
    /// Any other format problem.
    #[error("{kind} {value:?} is malformed: {reason}")]
    Malformed {
        kind: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// A fixed-capacity ASCII string of at most `N` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InlineStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

// Ordered by length, then bytes (as a derived `Ord` would), but comparing
// eight bytes at a time: ids are map keys on hot paths, and a byte-wise
// `memcmp` call per comparison showed in profiles.
impl<const N: usize> Ord for InlineStr<N> {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.len.cmp(&other.len).then_with(|| {
            let (a, b) = (self.bytes.chunks_exact(8), other.bytes.chunks_exact(8));
            let (ra, rb) = (a.remainder(), b.remainder());
            for (x, y) in a.zip(b) {
                let (x, y) = (word(x), word(y));
                if x != y {
                    return x.cmp(&y);
                }
            }
            ra.cmp(rb)
        })
    }
}

impl<const N: usize> PartialOrd for InlineStr<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_be_bytes(w)
}

impl<const N: usize> InlineStr<N> {
    /// Builds from `s`, checking length and that every byte satisfies `allowed`.
    pub fn new(
        kind: &'static str,
        s: &str,
        allowed: fn(u8) -> bool,
        alphabet: &'static str,
    ) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty { kind });
        }
        if s.len() > N || s.len() > usize::from(u8::MAX) {
            return Err(IdError::TooLong {
                kind,
                value: s.into(),
                len: s.len(),
                max: N,
            });
        }
        if let Some(ch) = s.chars().find(|c| !c.is_ascii() || !allowed(*c as u8)) {
            return Err(IdError::BadChar {
                kind,
                value: s.into(),
                ch,
                allowed: alphabet,
            });
        }
        let mut bytes = [0u8; N];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    /// Builds from a compile-time constant; invalid input fails the build (const
    /// evaluation), so this is only for literals in code, never for external input.
    pub const fn from_const(s: &str, allowed: fn(u8) -> bool) -> Self {
        let b = s.as_bytes();
        assert!(
            !b.is_empty() && b.len() <= N && b.len() <= 255,
            "identifier constant has a bad length"
        );
        let mut bytes = [0u8; N];
        let mut i = 0;
        while i < b.len() {
            assert!(b[i].is_ascii(), "identifier constant is not ASCII");
            bytes[i] = b[i];
            i += 1;
        }
        let _ = allowed;
        Self {
            len: b.len() as u8,
            bytes,
        }
    }

    /// Builds from bytes the caller has already checked (ASCII, in the alphabet, ≤ N).
    pub(crate) fn from_checked(s: &[u8]) -> Self {
        let n = s.len().min(N);
        let mut bytes = [0u8; N];
        bytes[..n].copy_from_slice(&s[..n]);
        Self {
            len: n as u8,
            bytes,
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored, so this cannot fail; fall back to "" to
        // stay panic-free regardless.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Display for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Declares a `Copy` identifier newtype over [`InlineStr`].
macro_rules! inline_id {
    ($(#[$doc:meta])* $name:ident, $cap:expr, $kind:literal, $allowed:expr, $alphabet:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::inline::InlineStr<$cap>);

        impl $name {
            /// Maximum length in bytes.
            pub const MAX_LEN: usize = $cap;

            /// Validates and builds the identifier.
            pub fn new(s: &str) -> Result<Self, $crate::inline::IdError> {
                $crate::inline::InlineStr::new($kind, s, $allowed, $alphabet).map(Self)
            }

            /// A compile-time constant identifier (a literal in code, never external input).
            pub const fn from_const(s: &str) -> Self {
                Self($crate::inline::InlineStr::from_const(s, $allowed))
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.as_str())
            }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::inline::IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use inline_id;

#[cfg(test)]
mod order_tests {
    use super::InlineStr;

    fn ids(s: &str) -> InlineStr<24> {
        InlineStr::new("id", s, |b| b.is_ascii_graphic(), "graphic").unwrap()
    }

    #[test]
    fn order_is_length_then_bytes() {
        let mut v = vec![
            "BTCUSDT",
            "ETHUSDT",
            "BTCUSD_PERP",
            "A",
            "BTCUSDC",
            "ZZZZZZZZZZZZZZZZZZZZZZZZ",
        ];
        let mut want = v.clone();
        want.sort_by(|a, b| a.len().cmp(&b.len()).then(a.as_bytes().cmp(b.as_bytes())));
        v.sort_by_key(|s| ids(s));
        assert_eq!(v, want);
    }
}
