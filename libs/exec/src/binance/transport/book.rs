//! The book-sync driver: one instrument's [`L2Book`] kept in sync from a
//! [`super::market::MarketStream`] and REST depth snapshots.
//!
//! Each frame goes to [`BookDriver::on_event`]: depth diffs of the instrument
//! go to [`BookSync`]; whenever it needs a snapshot (at the start, after a gap,
//! after a reconnect) the driver fetches `GET depth` with the
//! [`RestClient`] and feeds it. A snapshot older than the buffered diffs is
//! dropped and fetched again at the next diff. With a [`Recorder`] attached,
//! every frame and every snapshot the sync used is written in arrival order,
//! so the recording replays through `verify_capture` exactly as it went live.

use veloz_core::{InstrumentId, MarketKind};
use veloz_market::L2Book;

use super::http::RestClient;
use super::market::StreamEvent;
use super::recorder::Recorder;
use super::{local_now, TransportError};
use crate::binance::book_sync::{BookSync, DeltaOutcome, SnapshotOutcome};
use crate::binance::rest::futures::FuturesApi;
use crate::binance::rest::{spot, RestRequest};
use crate::binance::stream::{parse_depth_snapshot, FrameParser, StreamMessage, StreamSource};

/// Counts of what the driver did (beyond [`BookSync`]'s own counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCounters {
    /// Frames seen.
    pub frames: u64,
    /// Snapshots fetched.
    pub snapshots_fetched: u64,
    /// Snapshots used by the sync.
    pub snapshots_used: u64,
    /// Gaps seen in the diff sequence.
    pub gaps: u64,
    /// Reconnections (connections after the first).
    pub reconnects: u64,
}

/// The book-sync driver. See the module docs.
#[derive(Debug)]
pub struct BookDriver {
    instrument: InstrumentId,
    parser: FrameParser,
    sync: BookSync,
    book: L2Book,
    depth: RestRequest,
    recorder: Option<Recorder>,
    counters: DriverCounters,
}

impl BookDriver {
    /// A driver for `instrument`, fetching snapshots of `depth_limit` levels
    /// (one of 5, 10, 20, 50, 100, 500, 1000 on futures; up to 5000 on spot).
    pub fn new(instrument: InstrumentId, depth_limit: u16) -> Result<Self, TransportError> {
        let depth = match FuturesApi::for_kind(instrument.kind) {
            Some(api) => api.depth(&instrument.symbol, Some(depth_limit)),
            None => spot::depth(&instrument.symbol, Some(depth_limit)),
        }
        .map_err(crate::binance::error::BinanceError::from)?;
        Ok(Self {
            instrument,
            parser: FrameParser::new(StreamSource::binance(instrument.kind)),
            sync: BookSync::new(instrument),
            book: L2Book::new(instrument),
            depth,
            recorder: None,
            counters: DriverCounters::default(),
        })
    }

    /// Records every frame and used snapshot into `recorder`.
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The recorder, flushed (to close it, drop the driver or take it).
    pub fn take_recorder(&mut self) -> Result<Option<Recorder>, TransportError> {
        if let Some(r) = &mut self.recorder {
            r.flush()?;
        }
        Ok(self.recorder.take())
    }

    /// The instrument.
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// The local book.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// The sync state machine (state and counters).
    pub fn sync(&self) -> &BookSync {
        &self.sync
    }

    /// The driver's counters.
    pub fn counters(&self) -> DriverCounters {
        self.counters
    }

    /// Whether the book is in sync.
    pub fn is_synced(&self) -> bool {
        self.sync.is_synced()
    }

    /// Handles one stream event. Returns the parsed message of a frame (for
    /// the caller's other consumers), `None` for connection events.
    pub async fn on_event(
        &mut self,
        rest: &RestClient,
        ev: &StreamEvent,
    ) -> Result<Option<StreamMessage>, TransportError> {
        match ev {
            StreamEvent::Connected { connection } => {
                if *connection > 1 {
                    self.counters.reconnects += 1;
                }
                // Frames were (or may have been) missed: start again.
                self.sync.reset(&mut self.book);
                Ok(None)
            }
            StreamEvent::Disconnected { .. } => Ok(None),
            StreamEvent::Frame(f) => self.on_frame(rest, f.local, &f.text).await.map(Some),
        }
    }

    /// Handles one frame.
    pub async fn on_frame(
        &mut self,
        rest: &RestClient,
        local: veloz_core::UnixNanos,
        text: &str,
    ) -> Result<StreamMessage, TransportError> {
        self.counters.frames += 1;
        if let Some(r) = &mut self.recorder {
            r.frame(local, text)?;
        }
        let msg = self.parser.parse(text, local)?;
        if let StreamMessage::Depth(d) = &msg {
            if d.instrument == self.instrument {
                if let DeltaOutcome::Gap(_) = self.sync.on_deltas(&mut self.book, d.clone())? {
                    self.counters.gaps += 1;
                }
                if self.sync.needs_snapshot() {
                    self.fetch_snapshot(rest).await?;
                }
            }
        }
        Ok(msg)
    }

    /// Fetches and feeds one snapshot now. Returns what the sync did with it.
    pub async fn fetch_snapshot(
        &mut self,
        rest: &RestClient,
    ) -> Result<SnapshotOutcome, TransportError> {
        let answer = rest.send(&self.depth).await?;
        let local = local_now();
        self.counters.snapshots_fetched += 1;
        let body = std::str::from_utf8(&answer.body)
            .map_err(|_| TransportError::Unexpected("the depth snapshot is not UTF-8".into()))?;
        let snap = parse_depth_snapshot(self.instrument, body, local)?;
        let outcome = self.sync.on_snapshot(&mut self.book, &snap)?;
        let used = matches!(
            outcome,
            SnapshotOutcome::Bridged { .. }
                | SnapshotOutcome::AwaitingBridge { .. }
                | SnapshotOutcome::GapInBuffer { .. }
        );
        if used {
            self.counters.snapshots_used += 1;
            if let Some(r) = &mut self.recorder {
                r.snapshot(local, body)?;
            }
        }
        if let SnapshotOutcome::GapInBuffer { .. } = outcome {
            self.counters.gaps += 1;
        }
        Ok(outcome)
    }

    /// The market the driver follows.
    pub fn kind(&self) -> MarketKind {
        self.instrument.kind
    }
}
