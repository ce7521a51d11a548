//! # veloz-bench-book
//!
//! Input for the L2 book benchmark (`cargo bench -p veloz-bench-book`): the
//! real Binance USD-M BTCUSDT capture (`binance/hftbacktest/usdm_btcusdt_20240808.gz`
//! in the shared fixtures), decoded once with `veloz-exec`'s capture reader and
//! stream parser into the REST snapshot and the diff-depth events that follow
//! it, synchronised the way Binance documents for futures (drop events with
//! `u < lastUpdateId`, the first kept event bridges the snapshot, then each
//! event's `pu` is the previous `u`).
//!
//! Everything here runs outside the timed loops: the benchmark times only the
//! application of the pre-decoded updates. This crate owns no trading logic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use veloz_core::events::{BookDeltas, BookSnapshot};
use veloz_core::fixtures::{fixture, MissingFixture};
use veloz_core::{MarketKind, Side};
use veloz_exec::binance::capture::{CaptureError, CaptureReader};
use veloz_exec::binance::stream::{
    parse_depth_snapshot, parse_frame, StreamError, StreamMessage, StreamSource,
};

/// The capture replayed by the benchmark, relative to the fixtures folder.
pub const CAPTURE: &str = "binance/hftbacktest/usdm_btcusdt_20240808.gz";

/// Why the replay could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The fixture is not there.
    #[error(transparent)]
    Missing(#[from] MissingFixture),
    /// The capture could not be read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A frame could not be parsed.
    #[error("{path:?} line {line}: {source}")]
    Frame {
        /// The capture.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Parser error.
        #[source]
        source: StreamError,
    },
    /// The capture does not hold what the benchmark needs.
    #[error("{0}; the benchmark needs the unmodified shared capture {CAPTURE}")]
    Content(String),
}

/// One level update, raw `10^-8` units (`qty` 0 deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// Bid (`Buy`) or ask (`Sell`).
    pub side: Side,
    /// Price, raw.
    pub price: i64,
    /// Absolute quantity, raw.
    pub qty: i64,
}

/// The decoded capture: one snapshot and the events that follow it.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The REST snapshot the replay starts from.
    pub snapshot: BookSnapshot,
    /// The diff-depth events after the snapshot, as decoded.
    pub deltas: Vec<BookDeltas>,
    /// Every level update of `deltas`, flattened, in order.
    pub updates: Vec<Update>,
    /// `updates[event_ends[i-1]..event_ends[i]]` are the updates of event `i`.
    pub event_ends: Vec<usize>,
}

impl Replay {
    /// Reads and decodes [`CAPTURE`].
    pub fn load() -> Result<Self, ReplayError> {
        let path = fixture(CAPTURE)?;
        let src = StreamSource::binance(MarketKind::UsdM);
        let mut reader = CaptureReader::open(&[&path])?;
        let mut snapshot: Option<BookSnapshot> = None;
        let mut all: Vec<BookDeltas> = Vec::new();
        while let Some(line) = reader.next_line()? {
            let (local, json, is_snapshot) = (line.local, line.json.to_owned(), line.is_snapshot());
            let line_no = reader.position().1;
            let frame_err = |source| ReplayError::Frame {
                path: path.clone(),
                line: line_no,
                source,
            };
            if is_snapshot {
                let instrument = all.first().map(|d| d.instrument).ok_or_else(|| {
                    ReplayError::Content("the snapshot comes before any depth event".into())
                })?;
                snapshot = Some(parse_depth_snapshot(instrument, &json, local).map_err(frame_err)?);
                continue;
            }
            if let StreamMessage::Depth(d) = parse_frame(&src, &json, local).map_err(frame_err)? {
                all.push(d);
            }
        }
        let snapshot =
            snapshot.ok_or_else(|| ReplayError::Content("no REST snapshot line".into()))?;
        let last = snapshot.last_update_id;
        let deltas: Vec<BookDeltas> = all
            .into_iter()
            .filter(|d| d.last_update_id >= last)
            .collect();
        let first = deltas
            .first()
            .ok_or_else(|| ReplayError::Content("no depth event after the snapshot".into()))?;
        if first.first_update_id > last {
            return Err(ReplayError::Content(format!(
                "first event U={} does not bridge lastUpdateId={last}",
                first.first_update_id
            )));
        }
        for w in deltas.windows(2) {
            if w[1].prev_last_update_id != Some(w[0].last_update_id) {
                return Err(ReplayError::Content(format!(
                    "gap: event pu={:?} after u={}",
                    w[1].prev_last_update_id, w[0].last_update_id
                )));
            }
        }
        let mut updates = Vec::new();
        let mut event_ends = Vec::with_capacity(deltas.len());
        for d in &deltas {
            updates.extend(d.deltas.iter().map(|x| Update {
                side: x.side,
                price: x.level.price.raw(),
                qty: x.level.qty.raw(),
            }));
            event_ends.push(updates.len());
        }
        Ok(Self {
            snapshot,
            deltas,
            updates,
            event_ends,
        })
    }

    /// The updates of each event, in order.
    pub fn events(&self) -> impl Iterator<Item = &[Update]> + '_ {
        let starts = std::iter::once(0).chain(self.event_ends.iter().copied());
        starts
            .zip(self.event_ends.iter().copied())
            .map(move |(a, b)| &self.updates[a..b])
    }

    /// Lowest and highest price in the snapshot and the updates (raw).
    pub fn price_range(&self) -> (i64, i64) {
        let snap = self
            .snapshot
            .bids
            .iter()
            .chain(&self.snapshot.asks)
            .map(|l| l.price.raw());
        let all = snap.chain(self.updates.iter().map(|u| u.price));
        all.fold((i64::MAX, i64::MIN), |(lo, hi), p| (lo.min(p), hi.max(p)))
    }
}

/// Raw `10^-8` units as `f64`, for feeding hftbacktest (whose depth structures
/// take floating-point prices and quantities). Benchmark input only: never use
/// this on a trading path.
pub fn raw_to_f64(raw: i64) -> f64 {
    raw as f64 / 1e8
}

/// The `BTreeMap` baseline: one ordered map per side, nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BTreeBook {
    /// Bids, price -> quantity.
    pub bids: BTreeMap<i64, i64>,
    /// Asks, price -> quantity.
    pub asks: BTreeMap<i64, i64>,
}

impl BTreeBook {
    /// A book holding `snapshot`.
    pub fn from_snapshot(snapshot: &BookSnapshot) -> Self {
        let mut b = Self::default();
        for l in &snapshot.bids {
            b.set(Side::Buy, l.price.raw(), l.qty.raw());
        }
        for l in &snapshot.asks {
            b.set(Side::Sell, l.price.raw(), l.qty.raw());
        }
        b
    }

    /// Sets the absolute quantity of a level (0 deletes).
    #[inline]
    pub fn set(&mut self, side: Side, price: i64, qty: i64) {
        let m = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if qty == 0 {
            m.remove(&price);
        } else {
            m.insert(price, qty);
        }
    }

    /// Applies one update.
    #[inline]
    pub fn apply(&mut self, u: &Update) {
        self.set(u.side, u.price, u.qty);
    }

    /// Best bid `(price, qty)`.
    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.last_key_value().map(|(&p, &q)| (p, q))
    }

    /// Best ask `(price, qty)`.
    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.first_key_value().map(|(&p, &q)| (p, q))
    }

    /// The best `n` levels of `side` into `out`.
    pub fn top_into(&self, side: Side, n: usize, out: &mut Vec<(i64, i64)>) {
        out.clear();
        match side {
            Side::Buy => out.extend(self.bids.iter().rev().take(n).map(|(&p, &q)| (p, q))),
            Side::Sell => out.extend(self.asks.iter().take(n).map(|(&p, &q)| (p, q))),
        }
    }

    /// `(filled, Σ price × qty in raw 10^-16)` of a taker buy of `qty` raw units.
    pub fn cost_to_buy(&self, qty: i64) -> (i64, i128) {
        let mut left = qty;
        let mut notional = 0i128;
        for (&p, &q) in &self.asks {
            if left == 0 {
                break;
            }
            let take = q.min(left);
            left -= take;
            notional += i128::from(p) * i128::from(take);
        }
        (qty - left, notional)
    }
}
