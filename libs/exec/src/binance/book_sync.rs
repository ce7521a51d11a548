//! Keeping a local L2 book in sync with Binance diff-depth streams (digest §6).
//!
//! [`BookSync`] is the per-instrument state machine: it is fed every
//! `depthUpdate` ([`BookSync::on_deltas`]) and every REST depth snapshot
//! ([`BookSync::on_snapshot`]) in arrival order, and applies them to a
//! `veloz_market::L2Book`. It buffers diffs until a snapshot arrives, bridges
//! the snapshot with the buffered diffs, applies each diff after checking it
//! continues the previous one, and on a gap discards the book and asks for a new
//! snapshot. Every call returns what happened, and [`SyncCounters`] keeps totals.
//!
//! Two rule sets ([`SyncRules`]):
//!
//! * **Spot** (`U`/`u`): the first diff applied after a snapshot with id `L` must
//!   satisfy `U <= L + 1 <= u`; each later diff must start at `U == previous u + 1`.
//! * **Futures** (USD-M and COIN-M, `pu`): the first diff must satisfy
//!   `U <= L <= u` (no `+ 1`); each later diff must have `pu == previous u`.
//!
//! On both, a diff whose `u` is not newer than the book is ignored: before the
//! bridge it is simply older than the snapshot (normal), after it it is a
//! duplicate or a late message (counted as stale). Snapshots are only applied
//! through the bridge rule, so a book this module has set is never a mix of two
//! inconsistent views. The state machine does no I/O: fetching a snapshot when
//! [`BookSync::needs_snapshot`] says so is the caller's job.

use std::collections::VecDeque;
use std::fmt;

use veloz_core::events::{BookDeltas, BookSnapshot};
use veloz_core::{InstrumentId, MarketKind};
use veloz_market::{BookError, L2Book};

/// Which continuity rules a stream follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncRules {
    /// Spot: `U == previous u + 1`, bridge `U <= L + 1 <= u`.
    Spot,
    /// USD-M / COIN-M: `pu == previous u`, bridge `U <= L <= u`.
    Futures,
}

impl SyncRules {
    /// The rules of a market.
    pub const fn for_market(kind: MarketKind) -> Self {
        if kind.is_futures() {
            Self::Futures
        } else {
            Self::Spot
        }
    }

    /// Does the diff `d` bridge a book (or snapshot) with id `id`?
    fn bridges(self, id: u64, d: &BookDeltas) -> bool {
        let target = match self {
            Self::Spot => id.saturating_add(1),
            Self::Futures => id,
        };
        d.first_update_id <= target && target <= d.last_update_id
    }

    /// Does `d` directly continue a book whose last applied diff ended at `id`?
    fn continues(self, id: u64, d: &BookDeltas) -> Result<bool, SyncError> {
        match self {
            Self::Spot => Ok(d.first_update_id == id.saturating_add(1)),
            Self::Futures => match d.prev_last_update_id {
                Some(pu) => Ok(pu == id),
                None => Err(SyncError::MissingPrevUpdateId {
                    instrument: d.instrument,
                    last_update_id: d.last_update_id,
                }),
            },
        }
    }
}

/// Why an update could not be processed at all.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The book refused the update (negative quantity, wrong instrument). The
    /// book was discarded; a new snapshot is needed.
    #[error("book update refused, book discarded (fetch a new snapshot): {0}")]
    Book(#[from] BookError),
    /// A futures diff without `pu` under futures rules.
    #[error("depthUpdate {last_update_id} for {instrument} has no `pu`; futures books need it (is the market kind right?)")]
    MissingPrevUpdateId {
        /// Instrument.
        instrument: InstrumentId,
        /// The diff's `u`.
        last_update_id: u64,
    },
    /// An update for another instrument.
    #[error("update for {got} sent to the book sync of {expected}")]
    WrongInstrument {
        /// This sync's instrument.
        expected: InstrumentId,
        /// The update's instrument.
        got: InstrumentId,
    },
}

/// Where the sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// No usable book: diffs are buffered until a snapshot bridges them.
    WaitingForSnapshot,
    /// The book holds a snapshot; the next diff must bridge it.
    AwaitingBridge,
    /// The book is in sync with the stream.
    Synced,
}

/// The ids of a diff, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffIds {
    /// `U`.
    pub first: u64,
    /// `u`.
    pub last: u64,
    /// `pu` (futures).
    pub prev: Option<u64>,
}

impl DiffIds {
    fn of(d: &BookDeltas) -> Self {
        Self {
            first: d.first_update_id,
            last: d.last_update_id,
            prev: d.prev_last_update_id,
        }
    }
}

impl fmt::Display for DiffIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U={} u={}", self.first, self.last)?;
        if let Some(pu) = self.prev {
            write!(f, " pu={pu}")?;
        }
        Ok(())
    }
}

/// A snapshot joined to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bridge {
    /// The snapshot's `lastUpdateId`.
    pub snapshot_id: u64,
    /// The diff that bridged it.
    pub by: DiffIds,
}

/// A break in the diff sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The book id the diff had to continue (`u` of the last diff applied, or the
    /// snapshot id when the diff had to bridge it).
    pub book_id: u64,
    /// The diff that did not continue it.
    pub got: DiffIds,
    /// Whether the gap broke a bridge (the snapshot is older than the diffs).
    pub at_bridge: bool,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at_bridge {
            write!(
                f,
                "snapshot {} is not bridged by the next diff ({})",
                self.book_id, self.got
            )
        } else {
            write!(
                f,
                "diff ({}) does not continue the book at update {}",
                self.got, self.book_id
            )
        }
    }
}

/// What [`BookSync::on_deltas`] did with one diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaOutcome {
    /// No book yet: kept for the next snapshot.
    Buffered,
    /// Older than the snapshot the book was set from: dropped (normal).
    SkippedBeforeSnapshot,
    /// Joined the snapshot to the stream and was applied: the book is in sync.
    Bridged(Bridge),
    /// Applied.
    Applied,
    /// Not newer than the book after the bridge (a duplicate or a late message):
    /// ignored.
    Stale,
    /// Did not continue the book: the book was discarded, this diff starts a new
    /// buffer, and a new snapshot is needed.
    Gap(Gap),
}

/// What [`BookSync::on_snapshot`] did with one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The book was set from the snapshot and the buffered diffs that follow it
    /// were applied; the book is in sync.
    Bridged {
        /// The bridge.
        bridge: Bridge,
        /// Buffered diffs dropped as older than the snapshot.
        dropped: usize,
        /// Buffered diffs applied after the snapshot (the bridging one included).
        applied: usize,
    },
    /// The book was set from the snapshot; no buffered diff reached past it, so
    /// the next diff must bridge it.
    AwaitingBridge {
        /// Buffered diffs dropped as older than the snapshot.
        dropped: usize,
    },
    /// The snapshot is older than the first buffered diff can bridge: it was not
    /// used. Fetch another one.
    TooOld {
        /// Its `lastUpdateId`.
        snapshot_id: u64,
        /// The first buffered diff.
        first_buffered: DiffIds,
    },
    /// The book was already in sync at or past this snapshot: ignored.
    Ignored {
        /// Its `lastUpdateId`.
        snapshot_id: u64,
    },
    /// Bridged, but a later buffered diff broke the sequence: the book was
    /// discarded again and another snapshot is needed.
    GapInBuffer {
        /// The bridge that held.
        bridge: Bridge,
        /// The break.
        gap: Gap,
    },
}

/// Running totals of a [`BookSync`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounters {
    /// Diffs received.
    pub diffs: u64,
    /// Diffs applied to the book.
    pub applied: u64,
    /// Diffs buffered while waiting for a snapshot.
    pub buffered: u64,
    /// Diffs dropped as older than a snapshot (normal).
    pub skipped_before_snapshot: u64,
    /// Diffs ignored after the bridge as not newer than the book (duplicates,
    /// late messages).
    pub stale: u64,
    /// Buffered diffs dropped because the buffer was full.
    pub buffer_overflow: u64,
    /// Snapshots received.
    pub snapshots: u64,
    /// Snapshots not used because they were too old.
    pub snapshots_too_old: u64,
    /// Snapshots joined to the stream.
    pub bridges: u64,
    /// Breaks in the sequence (each one discards the book).
    pub gaps: u64,
    /// Bridges made after a gap: recoveries.
    pub resyncs: u64,
}

/// The per-instrument sync state machine. See the module docs.
#[derive(Debug, Clone)]
pub struct BookSync {
    instrument: InstrumentId,
    rules: SyncRules,
    state: SyncState,
    /// Book id: the snapshot id or the `u` of the last diff applied.
    id: u64,
    buffer: VecDeque<BookDeltas>,
    max_buffer: usize,
    /// A gap happened since the last bridge.
    recovering: bool,
    counters: SyncCounters,
}

impl BookSync {
    /// Default buffer bound (diffs kept while waiting for a snapshot).
    pub const DEFAULT_MAX_BUFFER: usize = 100_000;

    /// A sync for `instrument` with the rules of its market.
    pub fn new(instrument: InstrumentId) -> Self {
        Self::with_rules(instrument, SyncRules::for_market(instrument.kind))
    }

    /// A sync with explicit rules.
    pub fn with_rules(instrument: InstrumentId, rules: SyncRules) -> Self {
        Self {
            instrument,
            rules,
            state: SyncState::WaitingForSnapshot,
            id: 0,
            buffer: VecDeque::new(),
            max_buffer: Self::DEFAULT_MAX_BUFFER,
            recovering: false,
            counters: SyncCounters::default(),
        }
    }

    /// Bounds the buffer (at least 1); the oldest diffs are dropped beyond it,
    /// which only means an older snapshot can no longer be bridged.
    pub fn with_max_buffer(mut self, max: usize) -> Self {
        self.max_buffer = max.max(1);
        self
    }

    /// The instrument.
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// The rules in use.
    pub fn rules(&self) -> SyncRules {
        self.rules
    }

    /// Where the sync stands.
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// Is the book in sync with the stream?
    pub fn is_synced(&self) -> bool {
        self.state == SyncState::Synced
    }

    /// Should the caller fetch a REST snapshot now?
    pub fn needs_snapshot(&self) -> bool {
        self.state == SyncState::WaitingForSnapshot
    }

    /// The book id: the snapshot id or the `u` of the last diff applied (0 while
    /// waiting for a snapshot).
    pub fn book_id(&self) -> u64 {
        self.id
    }

    /// Diffs waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The first buffered diff, if any.
    pub fn first_buffered(&self) -> Option<DiffIds> {
        self.buffer.front().map(DiffIds::of)
    }

    /// Running totals.
    pub fn counters(&self) -> &SyncCounters {
        &self.counters
    }

    /// Forgets the book and the buffer (after a reconnect). Counters are kept.
    pub fn reset(&mut self, book: &mut L2Book) {
        book.clear();
        self.buffer.clear();
        self.state = SyncState::WaitingForSnapshot;
        self.id = 0;
    }

    fn check_instrument(&self, got: InstrumentId) -> Result<(), SyncError> {
        if got == self.instrument {
            Ok(())
        } else {
            Err(SyncError::WrongInstrument {
                expected: self.instrument,
                got,
            })
        }
    }

    fn push_buffer(&mut self, d: BookDeltas) {
        if self.buffer.len() >= self.max_buffer {
            self.buffer.pop_front();
            self.counters.buffer_overflow += 1;
        }
        self.counters.buffered += 1;
        self.buffer.push_back(d);
    }

    /// Discards the book after a gap; `d` starts the new buffer.
    fn gap(&mut self, book: &mut L2Book, d: BookDeltas, at_bridge: bool) -> Gap {
        let gap = Gap {
            book_id: self.id,
            got: DiffIds::of(&d),
            at_bridge,
        };
        self.counters.gaps += 1;
        self.recovering = true;
        book.clear();
        self.state = SyncState::WaitingForSnapshot;
        self.id = 0;
        self.push_buffer(d);
        gap
    }

    fn apply(&mut self, book: &mut L2Book, d: &BookDeltas) -> Result<(), SyncError> {
        if let Err(e) = book.apply_deltas(d) {
            book.clear();
            self.state = SyncState::WaitingForSnapshot;
            self.id = 0;
            return Err(e.into());
        }
        self.id = d.last_update_id;
        self.counters.applied += 1;
        Ok(())
    }

    /// One diff against a book that exists (bridge pending or synced).
    fn step(&mut self, book: &mut L2Book, d: BookDeltas) -> Result<DeltaOutcome, SyncError> {
        if self.state == SyncState::AwaitingBridge {
            if self.rules.bridges(self.id, &d) {
                let bridge = Bridge {
                    snapshot_id: self.id,
                    by: DiffIds::of(&d),
                };
                self.apply(book, &d)?;
                self.state = SyncState::Synced;
                self.counters.bridges += 1;
                if std::mem::take(&mut self.recovering) {
                    self.counters.resyncs += 1;
                }
                return Ok(DeltaOutcome::Bridged(bridge));
            }
            if d.last_update_id <= self.id {
                self.counters.skipped_before_snapshot += 1;
                return Ok(DeltaOutcome::SkippedBeforeSnapshot);
            }
            return Ok(DeltaOutcome::Gap(self.gap(book, d, true)));
        }
        if d.last_update_id <= self.id {
            self.counters.stale += 1;
            return Ok(DeltaOutcome::Stale);
        }
        if !self.rules.continues(self.id, &d)? {
            // Spot diffs may overlap the book (U <= id < u) without a gap; only a
            // diff starting past id + 1 is one. Futures chain strictly on `pu`.
            let overlap = self.rules == SyncRules::Spot && d.first_update_id <= self.id;
            if !overlap {
                return Ok(DeltaOutcome::Gap(self.gap(book, d, false)));
            }
        }
        self.apply(book, &d)?;
        Ok(DeltaOutcome::Applied)
    }

    /// Feeds one diff (a parsed `depthUpdate`) in arrival order.
    pub fn on_deltas(
        &mut self,
        book: &mut L2Book,
        d: BookDeltas,
    ) -> Result<DeltaOutcome, SyncError> {
        self.check_instrument(d.instrument)?;
        self.counters.diffs += 1;
        if self.state == SyncState::WaitingForSnapshot {
            self.push_buffer(d);
            return Ok(DeltaOutcome::Buffered);
        }
        self.step(book, d)
    }

    /// Feeds one REST depth snapshot in arrival order.
    pub fn on_snapshot(
        &mut self,
        book: &mut L2Book,
        snapshot: &BookSnapshot,
    ) -> Result<SnapshotOutcome, SyncError> {
        self.check_instrument(snapshot.instrument)?;
        self.counters.snapshots += 1;
        let l = snapshot.last_update_id;
        if self.state != SyncState::WaitingForSnapshot {
            if l <= self.id {
                return Ok(SnapshotOutcome::Ignored { snapshot_id: l });
            }
            // A newer snapshot while a book exists: start again from it.
            self.buffer.clear();
        }
        // Drop what the snapshot already contains.
        let mut dropped = 0;
        while self
            .buffer
            .front()
            .is_some_and(|d| d.last_update_id <= l && !self.rules.bridges(l, d))
        {
            self.buffer.pop_front();
            dropped += 1;
        }
        self.counters.skipped_before_snapshot += dropped as u64;
        if let Some(first) = self.buffer.front() {
            if !self.rules.bridges(l, first) {
                self.counters.snapshots_too_old += 1;
                return Ok(SnapshotOutcome::TooOld {
                    snapshot_id: l,
                    first_buffered: DiffIds::of(first),
                });
            }
        }
        if let Err(e) = book.apply_snapshot(snapshot) {
            book.clear();
            self.state = SyncState::WaitingForSnapshot;
            self.id = 0;
            return Err(e.into());
        }
        self.id = l;
        self.state = SyncState::AwaitingBridge;
        let Some(first) = self.buffer.pop_front() else {
            return Ok(SnapshotOutcome::AwaitingBridge { dropped });
        };
        let DeltaOutcome::Bridged(bridge) = self.step(book, first)? else {
            // `bridges` was checked above, so `step` bridges; stay safe anyway.
            return Ok(SnapshotOutcome::AwaitingBridge { dropped });
        };
        let mut applied = 1;
        while let Some(d) = self.buffer.pop_front() {
            match self.step(book, d)? {
                DeltaOutcome::Applied => applied += 1,
                DeltaOutcome::Gap(gap) => {
                    // `gap` buffered the breaking diff; keep the rest behind it.
                    return Ok(SnapshotOutcome::GapInBuffer { bridge, gap });
                }
                _ => {}
            }
        }
        Ok(SnapshotOutcome::Bridged {
            bridge,
            dropped,
            applied,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::events::{BookDelta, DeltaList, EventTimes, Level};
    use veloz_core::{Price, Quantity, Side, UnixNanos};

    fn inst(kind: MarketKind) -> InstrumentId {
        InstrumentId::binance(kind, "BTCUSDT").unwrap()
    }

    fn lv(p: i64, q: i64) -> Level {
        Level {
            price: Price::from_int(p).unwrap(),
            qty: Quantity::from_int(q).unwrap(),
        }
    }

    fn diff(kind: MarketKind, u0: u64, u1: u64, pu: Option<u64>, bid: (i64, i64)) -> BookDeltas {
        BookDeltas {
            instrument: inst(kind),
            first_update_id: u0,
            last_update_id: u1,
            prev_last_update_id: pu,
            deltas: DeltaList::one(BookDelta {
                side: Side::Buy,
                level: lv(bid.0, bid.1),
            }),
            times: EventTimes::default(),
        }
    }

    fn snap(kind: MarketKind, id: u64) -> BookSnapshot {
        BookSnapshot {
            instrument: inst(kind),
            last_update_id: id,
            bids: vec![lv(100, 1)],
            asks: vec![lv(101, 1)],
            times: EventTimes::new(UnixNanos(1), UnixNanos(1)),
        }
    }

    #[test]
    fn spot_buffer_bridge_apply_gap_resync() {
        let k = MarketKind::Spot;
        let mut book = L2Book::new(inst(k));
        let mut s = BookSync::new(inst(k));
        assert!(s.needs_snapshot());
        for (a, b) in [(1, 5), (6, 9), (10, 14)] {
            assert_eq!(
                s.on_deltas(&mut book, diff(k, a, b, None, (99, b as i64)))
                    .unwrap(),
                DeltaOutcome::Buffered
            );
        }
        // Snapshot 7: (1,5) is older; (6,9) bridges 6 <= 8 <= 9.
        let out = s.on_snapshot(&mut book, &snap(k, 7)).unwrap();
        assert_eq!(
            out,
            SnapshotOutcome::Bridged {
                bridge: Bridge {
                    snapshot_id: 7,
                    by: DiffIds {
                        first: 6,
                        last: 9,
                        prev: None
                    }
                },
                dropped: 1,
                applied: 2,
            }
        );
        assert!(s.is_synced());
        assert_eq!(s.book_id(), 14);
        assert_eq!(
            book.depth_at(Side::Buy, Price::from_int(99).unwrap()),
            Quantity::from_int(14).unwrap()
        );
        assert_eq!(
            s.on_deltas(&mut book, diff(k, 15, 20, None, (98, 1)))
                .unwrap(),
            DeltaOutcome::Applied
        );
        // A duplicate is stale; a skipped range is a gap.
        assert_eq!(
            s.on_deltas(&mut book, diff(k, 15, 20, None, (98, 1)))
                .unwrap(),
            DeltaOutcome::Stale
        );
        let DeltaOutcome::Gap(g) = s
            .on_deltas(&mut book, diff(k, 25, 30, None, (97, 1)))
            .unwrap()
        else {
            panic!("expected a gap")
        };
        assert_eq!((g.book_id, g.got.first, g.at_bridge), (20, 25, false));
        assert!(s.needs_snapshot());
        assert!(book.is_empty());
        // Too old a snapshot is refused, a fresh one recovers.
        assert!(matches!(
            s.on_snapshot(&mut book, &snap(k, 21)).unwrap(),
            SnapshotOutcome::TooOld {
                snapshot_id: 21,
                ..
            }
        ));
        assert!(matches!(
            s.on_snapshot(&mut book, &snap(k, 24)).unwrap(),
            SnapshotOutcome::Bridged { applied: 1, .. }
        ));
        let c = s.counters();
        assert_eq!(
            (
                c.diffs,
                c.applied,
                c.stale,
                c.gaps,
                c.resyncs,
                c.bridges,
                c.snapshots_too_old
            ),
            (6, 4, 1, 1, 1, 2, 1)
        );
    }

    #[test]
    fn futures_chain_on_pu_and_bridge_without_plus_one() {
        let k = MarketKind::UsdM;
        let mut book = L2Book::new(inst(k));
        let mut s = BookSync::new(inst(k));
        assert_eq!(s.rules(), SyncRules::Futures);
        // Snapshot first, then diffs: (3,8) is older than 10, (9,15) bridges 9 <= 10 <= 15.
        assert_eq!(
            s.on_snapshot(&mut book, &snap(k, 10)).unwrap(),
            SnapshotOutcome::AwaitingBridge { dropped: 0 }
        );
        assert_eq!(
            s.on_deltas(&mut book, diff(k, 3, 8, Some(2), (1, 1)))
                .unwrap(),
            DeltaOutcome::SkippedBeforeSnapshot
        );
        assert!(matches!(
            s.on_deltas(&mut book, diff(k, 9, 15, Some(8), (1, 1)))
                .unwrap(),
            DeltaOutcome::Bridged(_)
        ));
        // Futures ids skip: only pu matters.
        assert_eq!(
            s.on_deltas(&mut book, diff(k, 40, 50, Some(15), (1, 2)))
                .unwrap(),
            DeltaOutcome::Applied
        );
        assert!(matches!(
            s.on_deltas(&mut book, diff(k, 60, 70, Some(55), (1, 2)))
                .unwrap(),
            DeltaOutcome::Gap(_)
        ));
        // Spot's `L + 1` would accept U = 11 against snapshot 10; futures must not.
        let mut s = BookSync::new(inst(k));
        s.on_snapshot(&mut book, &snap(k, 10)).unwrap();
        assert!(matches!(
            s.on_deltas(&mut book, diff(k, 11, 15, Some(9), (1, 1)))
                .unwrap(),
            DeltaOutcome::Gap(Gap {
                at_bridge: true,
                ..
            })
        ));
        // Missing pu under futures rules is a typed error.
        let mut s = BookSync::new(inst(k));
        s.on_snapshot(&mut book, &snap(k, 10)).unwrap();
        s.on_deltas(&mut book, diff(k, 9, 15, Some(8), (1, 1)))
            .unwrap();
        assert!(matches!(
            s.on_deltas(&mut book, diff(k, 16, 17, None, (1, 1))),
            Err(SyncError::MissingPrevUpdateId { .. })
        ));
    }

    #[test]
    fn wrong_instrument_and_bounded_buffer() {
        let k = MarketKind::Spot;
        let mut book = L2Book::new(inst(k));
        let mut s = BookSync::new(inst(k)).with_max_buffer(2);
        let other = BookDeltas {
            instrument: InstrumentId::binance(k, "ETHUSDT").unwrap(),
            ..diff(k, 1, 2, None, (1, 1))
        };
        assert!(matches!(
            s.on_deltas(&mut book, other),
            Err(SyncError::WrongInstrument { .. })
        ));
        for i in 0..5 {
            s.on_deltas(&mut book, diff(k, i * 10 + 1, i * 10 + 10, None, (1, 1)))
                .unwrap();
        }
        assert_eq!(s.buffered(), 2);
        assert_eq!(s.counters().buffer_overflow, 3);
        assert_eq!(s.first_buffered().unwrap().first, 31);
    }
}
