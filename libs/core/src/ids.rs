//! Identifiers: venue, market kind, symbol, instrument, strategy, venue order id,
//! trade id, and client order ids with their deterministic generator.
//!
//! All string identifiers are `Copy` and allocation-free ([`crate::inline`]).

use std::fmt;
use std::str::FromStr;

use crate::inline::{inline_id, IdError};

inline_id!(
    /// A trading venue, e.g. `BINANCE`. Upper-case letters, digits and `_`, at most 16 bytes.
    Venue,
    16,
    "venue",
    |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_',
    "A-Z, 0-9 and _"
);

impl Venue {
    /// `BINANCE`.
    pub const BINANCE: Self = Self::from_const("BINANCE");

    /// `BINANCE`.
    pub const fn binance() -> Self {
        Self::BINANCE
    }
}

inline_id!(
    /// A venue's symbol, e.g. `BTCUSDT`, `BTCUSD_PERP`, `1000SATSUSDT`. Upper-case
    /// letters, digits, `_` and `-`, at most 32 bytes.
    Symbol,
    32,
    "symbol",
    |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-',
    "A-Z, 0-9, _ and -"
);

inline_id!(
    /// A strategy instance, e.g. `grid-btc-1`. Letters, digits, `_` and `-`, at most 24 bytes.
    StrategyId,
    24,
    "strategy id",
    |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
    "A-Z, a-z, 0-9, _ and -"
);

inline_id!(
    /// A client order id as Binance accepts it: 1 to 36 characters of
    /// `[.A-Z:/a-z0-9_-]` (Binance's documented pattern `^[\.A-Z\:/a-z0-9_-]{1,36}$`).
    ClientOrderId,
    36,
    "client order id",
    |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'/' | b'_' | b'-'),
    "A-Z, a-z, 0-9, '.', ':', '/', '_' and '-'"
);

/// Which Binance market an instrument trades on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum MarketKind {
    /// Spot (`/api/v3`).
    #[serde(rename = "SPOT")]
    Spot,
    /// USDⓈ-margined futures (`/fapi`): linear, settled in the margin asset.
    #[serde(rename = "USDM")]
    UsdM,
    /// Coin-margined futures (`/dapi`): inverse, contracts worth a fixed USD amount.
    #[serde(rename = "COINM")]
    CoinM,
}

impl MarketKind {
    /// `SPOT`, `USDM` or `COINM`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Spot => "SPOT",
            Self::UsdM => "USDM",
            Self::CoinM => "COINM",
        }
    }

    /// Is this a derivatives market?
    pub const fn is_futures(self) -> bool {
        !matches!(self, Self::Spot)
    }
}

impl fmt::Display for MarketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MarketKind {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "SPOT" => Ok(Self::Spot),
            "USDM" | "USD-M" | "UM" | "FUTURES" => Ok(Self::UsdM),
            "COINM" | "COIN-M" | "CM" | "DELIVERY" => Ok(Self::CoinM),
            _ => Err(IdError::Malformed {
                kind: "market kind",
                value: s.into(),
                reason: "expected SPOT, USDM or COINM",
            }),
        }
    }
}

/// One tradable instrument: venue, market kind and symbol.
///
/// Written and parsed as `VENUE.KIND.SYMBOL`, e.g. `BINANCE.USDM.BTCUSDT`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstrumentId {
    /// The venue.
    pub venue: Venue,
    /// Spot, USD-M or COIN-M.
    pub kind: MarketKind,
    /// The venue's symbol.
    pub symbol: Symbol,
}

impl InstrumentId {
    /// Builds an id.
    pub const fn new(venue: Venue, kind: MarketKind, symbol: Symbol) -> Self {
        Self {
            venue,
            kind,
            symbol,
        }
    }

    /// A Binance instrument, e.g. `InstrumentId::binance(MarketKind::UsdM, "BTCUSDT")`.
    pub fn binance(kind: MarketKind, symbol: &str) -> Result<Self, IdError> {
        Ok(Self::new(Venue::binance(), kind, Symbol::new(symbol)?))
    }
}

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.venue, self.kind, self.symbol)
    }
}

impl fmt::Debug for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstrumentId({self})")
    }
}

impl FromStr for InstrumentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(v), Some(k), Some(sym)) => {
                Ok(Self::new(Venue::new(v)?, k.parse()?, Symbol::new(sym)?))
            }
            _ => Err(IdError::Malformed {
                kind: "instrument id",
                value: s.into(),
                reason: "expected VENUE.KIND.SYMBOL, e.g. BINANCE.USDM.BTCUSDT",
            }),
        }
    }
}

impl serde::Serialize for InstrumentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for InstrumentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The venue's id for an order (Binance `orderId`, or `algoId` for algo orders).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct VenueOrderId(pub u64);

impl fmt::Display for VenueOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The venue's id for one execution (Binance trade id `t`). Fills are
/// de-duplicated on (instrument, trade id).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TradeId(pub u64);

impl fmt::Display for TradeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Maximum length of the tag a [`ClientOrderIdGenerator`] puts in front of its ids.
pub const CLIENT_ORDER_TAG_MAX: usize = 12;

/// Epochs must stay below `36^9` so that an id never exceeds 36 characters.
pub const MAX_EPOCH: u64 = 101_559_956_668_416;

/// Makes client order ids that are deterministic and unique across restarts.
///
/// An id is `TAG.EPOCH.SEQ`: the strategy's tag (1..=12 characters of
/// `[A-Za-z0-9_-]`), the session epoch in base 36, and a per-session sequence
/// number in base 36, at most 35 characters in all.
///
/// * **Deterministic**: the same tag, epoch and sequence give the same ids, so a
///   backtest or a journal replay produces identical ids.
/// * **Unique across restarts**: each start takes a new epoch (the start time in
///   milliseconds, from the [`crate::Clock`]), and [`Self::resume`] never goes back
///   to an epoch at or before the last one used, even if the wall clock did.
/// * **Recognisable**: [`ClientOrderIdGenerator::parse`] splits an id back into its
///   parts, so orders from outside VeloZ (or from another strategy) are told apart.
#[derive(Debug, Clone)]
pub struct ClientOrderIdGenerator {
    tag: String,
    epoch: u64,
    next_seq: u64,
}

/// The parts of an id made by a [`ClientOrderIdGenerator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrderIdParts<'a> {
    /// The strategy's tag.
    pub tag: &'a str,
    /// The session epoch.
    pub epoch: u64,
    /// The sequence number within the session.
    pub seq: u64,
}

fn base36(mut n: u64, out: &mut [u8; 13]) -> &[u8] {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = DIGITS[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    &out[i..]
}

impl ClientOrderIdGenerator {
    /// A generator for a new session with the given epoch (use the start time in ms).
    pub fn new(tag: &str, epoch: u64) -> Result<Self, IdError> {
        if tag.is_empty() {
            return Err(IdError::Empty {
                kind: "client order id tag",
            });
        }
        if tag.len() > CLIENT_ORDER_TAG_MAX {
            return Err(IdError::TooLong {
                kind: "client order id tag",
                value: tag.into(),
                len: tag.len(),
                max: CLIENT_ORDER_TAG_MAX,
            });
        }
        if let Some(ch) = tag
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(IdError::BadChar {
                kind: "client order id tag",
                value: tag.into(),
                ch,
                allowed: "A-Z, a-z, 0-9, _ and -",
            });
        }
        if epoch >= MAX_EPOCH {
            return Err(IdError::Malformed {
                kind: "client order id epoch",
                value: epoch.to_string(),
                reason: "must be below 36^9 (milliseconds until the year 5188)",
            });
        }
        Ok(Self {
            tag: tag.into(),
            epoch,
            next_seq: 0,
        })
    }

    /// A generator for a restart: the epoch is `now_ms`, or `last_epoch + 1` if the
    /// clock has not moved past the last session's epoch (clock set back, or two
    /// restarts in one millisecond).
    pub fn resume(tag: &str, last_epoch: Option<u64>, now_ms: u64) -> Result<Self, IdError> {
        let epoch = match last_epoch {
            Some(last) if now_ms <= last => last.saturating_add(1),
            _ => now_ms,
        };
        Self::new(tag, epoch)
    }

    /// The session epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// How many ids this generator has made.
    pub fn issued(&self) -> u64 {
        self.next_seq
    }

    /// The next id.
    pub fn next_id(&mut self) -> ClientOrderId {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.make(seq)
    }

    /// The id with sequence number `seq` in this session (for replay and recovery).
    pub fn make(&self, seq: u64) -> ClientOrderId {
        // tag ≤ 12, epoch < 36^9 (checked in `new`), seq ≤ 13 base-36 digits, two
        // dots: at most 36 bytes, all in Binance's alphabet (built on the stack:
        // this runs for every order).
        let mut s = [0u8; 40];
        let mut n = 0;
        let mut buf = [0u8; 13];
        for part in [
            self.tag.as_bytes(),
            b".",
            base36(self.epoch, &mut buf),
            b".",
        ] {
            s[n..n + part.len()].copy_from_slice(part);
            n += part.len();
        }
        let tail = base36(seq, &mut buf);
        let end = (n + tail.len()).min(s.len());
        s[n..end].copy_from_slice(&tail[..end - n]);
        ClientOrderId(crate::inline::InlineStr::from_checked(&s[..end]))
    }

    /// Splits an id made by any generator into its parts; `None` for ids from
    /// elsewhere (the web UI, another program, a manual order on the venue).
    pub fn parse(id: &str) -> Option<ClientOrderIdParts<'_>> {
        let mut it = id.split('.');
        let (tag, epoch, seq) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || tag.is_empty() || tag.len() > CLIENT_ORDER_TAG_MAX {
            return None;
        }
        Some(ClientOrderIdParts {
            tag,
            epoch: u64::from_str_radix(epoch, 36).ok()?,
            seq: u64::from_str_radix(seq, 36).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrument_id_round_trips() {
        let id = InstrumentId::binance(MarketKind::CoinM, "BTCUSD_PERP").unwrap();
        assert_eq!(id.to_string(), "BINANCE.COINM.BTCUSD_PERP");
        assert_eq!(id.to_string().parse::<InstrumentId>().unwrap(), id);
        assert!("BINANCE.XX.BTC".parse::<InstrumentId>().is_err());
        assert!("BINANCE".parse::<InstrumentId>().is_err());
        assert!(Symbol::new("btcusdt").is_err());
    }

    #[test]
    fn client_order_ids_are_deterministic_valid_and_unique() {
        let mut a = ClientOrderIdGenerator::new("grid-btc_01", 1_723_161_600_000).unwrap();
        let mut b = ClientOrderIdGenerator::new("grid-btc_01", 1_723_161_600_000).unwrap();
        let ids: Vec<_> = (0..1000).map(|_| a.next_id()).collect();
        let ids_b: Vec<_> = (0..1000).map(|_| b.next_id()).collect();
        assert_eq!(ids, ids_b);
        let set: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(set.len(), ids.len());
        for id in &ids {
            assert!(id.as_str().len() <= 36);
        }
        let p = ClientOrderIdGenerator::parse(ids[999].as_str()).unwrap();
        assert_eq!(
            (p.tag, p.epoch, p.seq),
            ("grid-btc_01", 1_723_161_600_000, 999)
        );
        // A restart in the same millisecond, or with the clock set back, gets a new epoch.
        let r =
            ClientOrderIdGenerator::resume("grid-btc_01", Some(a.epoch()), a.epoch() - 5).unwrap();
        assert!(r.epoch() > a.epoch());
        assert_ne!(r.make(0), a.make(0));
        // Longest tag, largest epoch and sequence still fit Binance's limit.
        let g = ClientOrderIdGenerator::new("abcdefghijkl", MAX_EPOCH - 1).unwrap();
        let longest = g.make(u64::MAX);
        assert_eq!(longest.as_str().len(), 36);
        assert_eq!(ClientOrderId::new(longest.as_str()).unwrap(), longest);
        assert!(ClientOrderIdGenerator::new("abc", MAX_EPOCH).is_err());
        assert!(ClientOrderIdGenerator::new("bad.tag", 1).is_err());
        assert!(ClientOrderIdGenerator::parse("web_manual_order").is_none());
    }
}
