//! Where the simulator's market comes from.
//!
//! A [`MarketSource`] yields time-ordered [`MarketStep`]s: the raw stream
//! frames to publish (with their Binance stream names) and the normalised
//! [`MarketEvent`]s the matching engine applies. The engine keeps its book in
//! sync with those events, so the REST depth snapshot served at any moment is
//! consistent with the frames already published.
//!
//! * [`CaptureReplay`]: a recorded Binance capture (the hftbacktest line
//!   format), frames served verbatim on their recorded stream names;
//! * [`ManualSource`]: steps pushed by a test or an embedding program;
//! * [`SynthSource`]: the seeded synthetic generator of `veloz_sim::synth`,
//!   the default market.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, MarketKind, UnixNanos};
use veloz_exec::binance::capture::{CaptureError, CaptureReader};
use veloz_exec::binance::encode::Encoder;
use veloz_exec::binance::stream::{
    parse_depth_snapshot, parse_frame, unwrap_combined, StreamSource,
};
use veloz_sim::synth::{SynthConfig, SynthError, SynthMarket};

/// One frame of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFrame {
    /// Stream name as clients subscribe to it, e.g. `btcusdt@depth@100ms`.
    pub stream: Arc<str>,
    /// The payload (the `data` of a combined-stream wrapper).
    pub data: Arc<str>,
}

/// What happens in the market at one moment, on one product.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketStep {
    /// Source time of the step.
    pub time: UnixNanos,
    /// Product whose streams carry the frames.
    pub product: MarketKind,
    /// Frames to publish.
    pub frames: Vec<StreamFrame>,
    /// Events for the matching engine.
    pub events: Vec<MarketEvent>,
}

/// A time-ordered source of market steps.
pub trait MarketSource: Send + std::fmt::Debug {
    /// Source time of the next step, `None` when the source is exhausted (or,
    /// for a manual source, has nothing queued).
    fn peek_time(&mut self) -> Option<UnixNanos>;
    /// The next step.
    fn next_step(&mut self) -> Option<MarketStep>;
    /// Steps for the engine only (no frames) that open the market, applied
    /// at start whatever the pacing (the synthetic market's first book
    /// snapshots). None by default.
    fn opening(&mut self) -> Vec<MarketStep> {
        Vec::new()
    }
}

/// Steps pushed from outside (tests, embedding programs).
#[derive(Debug, Default)]
pub struct ManualSource {
    queue: VecDeque<MarketStep>,
}

impl ManualSource {
    /// Queues a step.
    pub fn push(&mut self, step: MarketStep) {
        self.queue.push_back(step);
    }
}

impl MarketSource for ManualSource {
    fn peek_time(&mut self) -> Option<UnixNanos> {
        self.queue.front().map(|s| s.time)
    }
    fn next_step(&mut self) -> Option<MarketStep> {
        self.queue.pop_front()
    }
}

/// Replay of one product's recorded capture.
///
/// Each stream line becomes one step: its frame is published verbatim on its
/// recorded stream name, and what our parser reads from it goes to the engine.
/// Snapshot lines (REST bodies recorded by the collector) are given to the
/// engine only; depth updates before the first snapshot of an instrument are
/// published but not applied (the engine's book starts at a snapshot, as a
/// client's would), and so are updates whose last id is not past the
/// snapshot's `lastUpdateId`. Unreadable lines are skipped and counted.
#[derive(Debug)]
pub struct CaptureReplay {
    reader: CaptureReader,
    src: StreamSource,
    next: Option<MarketStep>,
    synced: HashMap<InstrumentId, u64>,
    last: Option<InstrumentId>,
    /// Lines that could not be read or parsed.
    pub skipped: u64,
    done: bool,
}

impl CaptureReplay {
    /// Opens capture files of `product` (one continuous capture, in order).
    pub fn open(product: MarketKind, files: &[PathBuf]) -> Result<Self, CaptureError> {
        Ok(Self {
            reader: CaptureReader::open(files)?,
            src: StreamSource::binance(product),
            next: None,
            synced: HashMap::new(),
            last: None,
            skipped: 0,
            done: false,
        })
    }

    fn fill(&mut self) {
        while self.next.is_none() && !self.done {
            let line = match self.reader.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.done = true;
                    return;
                }
                Err(_) => {
                    self.skipped += 1;
                    self.reader.skip_rest_of_file();
                    continue;
                }
            };
            let local = line.local;
            if line.is_snapshot() {
                // The collector records snapshots without a symbol: take it
                // from the last depth frame's instrument.
                let Some(inst) = snapshot_instrument(self.src.kind, self.last, line.json) else {
                    self.skipped += 1;
                    continue;
                };
                match parse_depth_snapshot(inst, line.json, local) {
                    Ok(s) => {
                        self.synced.insert(inst, s.last_update_id);
                        self.next = Some(MarketStep {
                            time: local,
                            product: self.src.kind,
                            frames: Vec::new(),
                            events: vec![MarketEvent::BookSnapshot(s)],
                        });
                    }
                    Err(_) => self.skipped += 1,
                }
                continue;
            }
            let Ok((Some(stream), data)) = unwrap_combined(line.json) else {
                self.skipped += 1;
                continue;
            };
            let events = match parse_frame(&self.src, line.json, local) {
                Ok(m) => m.into_market_events(),
                Err(_) => Vec::new(),
            };
            let events: Vec<MarketEvent> = events
                .into_iter()
                .filter(|e| match e {
                    // As a client syncs: updates older than the snapshot are dropped.
                    MarketEvent::BookDeltas(d) => self
                        .synced
                        .get(&d.instrument)
                        .is_some_and(|snap| d.last_update_id > *snap),
                    _ => true,
                })
                .collect();
            if let Some(id) = stream_instrument(self.src.kind, &stream) {
                self.last = Some(id);
            }
            self.next = Some(MarketStep {
                time: local,
                product: self.src.kind,
                frames: vec![StreamFrame {
                    stream: Arc::from(stream.as_ref()),
                    data: Arc::from(data),
                }],
                events,
            });
        }
    }
}

fn stream_instrument(kind: MarketKind, stream: &str) -> Option<InstrumentId> {
    let sym = stream
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    InstrumentId::binance(kind, &sym).ok()
}

/// The instrument of a recorded snapshot: COIN-M snapshots name their symbol;
/// spot and USD-M ones belong to the last depth stream seen.
fn snapshot_instrument(
    kind: MarketKind,
    last: Option<InstrumentId>,
    json: &str,
) -> Option<InstrumentId> {
    if let Some(i) = json.find("\"symbol\":\"") {
        let rest = &json[i + 10..];
        if let Some(end) = rest.find('"') {
            if let Ok(id) = InstrumentId::binance(kind, &rest[..end]) {
                return Some(id);
            }
        }
    }
    last
}

impl MarketSource for CaptureReplay {
    fn peek_time(&mut self) -> Option<UnixNanos> {
        self.fill();
        self.next.as_ref().map(|s| s.time)
    }
    fn next_step(&mut self) -> Option<MarketStep> {
        self.fill();
        self.next.take()
    }
}

/// The seeded synthetic market of `veloz_sim::synth`, one generator per
/// instrument, encoded into Binance frames with `veloz_exec::binance::encode`.
///
/// Streams: diffs on `<s>@depth` and `<s>@depth@100ms` (futures also
/// `@depth@0ms`, `@250ms`, `@500ms`: the same diffs under every speed a client
/// may ask for), `<s>@bookTicker`, `<s>@trade`, `<s>@aggTrade` (one trade per
/// aggregate) and, for perpetuals, `<s>@markPrice` and `<s>@markPrice@1s`. The
/// initial book snapshot goes to the engine only (clients take it from REST).
#[derive(Debug)]
pub struct SynthSource {
    markets: Vec<SynthEntry>,
}

#[derive(Debug)]
struct SynthEntry {
    market: SynthMarket,
    encoder: Encoder,
    symbol: String,
    kind: MarketKind,
    next: Option<MarketEvent>,
}

impl SynthSource {
    /// Generators for `instruments`, all starting at `start_ms` with `config`
    /// (instrument `i` is seeded with `config.seed + i`).
    pub fn new(
        instruments: &[veloz_core::Instrument],
        config: &SynthConfig,
        start_ms: u64,
    ) -> Result<Self, SynthError> {
        let mut markets = Vec::new();
        for (i, inst) in instruments.iter().enumerate() {
            let cfg = SynthConfig {
                seed: config.seed.wrapping_add(i as u64),
                start_time_ms: start_ms,
                ..config.clone()
            };
            markets.push(SynthEntry {
                market: SynthMarket::new(inst.clone(), cfg)?,
                encoder: Encoder::for_instrument(inst),
                symbol: inst.id.symbol.as_str().to_ascii_lowercase(),
                kind: inst.id.kind,
                next: None,
            });
        }
        Ok(Self { markets })
    }
}

fn frames_of(e: &SynthEntry, ev: &MarketEvent) -> Vec<StreamFrame> {
    let mut out = String::new();
    let names: Vec<String> = match ev {
        MarketEvent::BookDeltas(d) => {
            e.encoder.depth_update(&mut out, d, None);
            let speeds: &[&str] = if e.kind.is_futures() {
                &["", "@0ms", "@100ms", "@250ms", "@500ms"]
            } else {
                &["", "@100ms"]
            };
            speeds
                .iter()
                .map(|s| format!("{}@depth{s}", e.symbol))
                .collect()
        }
        MarketEvent::Quote(q) => {
            e.encoder.book_ticker(&mut out, q, None);
            vec![format!("{}@bookTicker", e.symbol)]
        }
        MarketEvent::Trade(t) => {
            e.encoder.trade(&mut out, t, None);
            let data: Arc<str> = Arc::from(out.as_str());
            let mut agg = String::new();
            let a = veloz_exec::binance::stream::AggTrade {
                trade: *t,
                first_trade_id: t.trade_id,
                last_trade_id: t.trade_id,
            };
            e.encoder.agg_trade(&mut agg, &a, None);
            return vec![
                StreamFrame {
                    stream: Arc::from(format!("{}@trade", e.symbol)),
                    data,
                },
                StreamFrame {
                    stream: Arc::from(format!("{}@aggTrade", e.symbol)),
                    data: Arc::from(agg),
                },
            ];
        }
        MarketEvent::MarkPrice(m) => {
            e.encoder.mark_price(&mut out, m);
            vec![
                format!("{}@markPrice", e.symbol),
                format!("{}@markPrice@1s", e.symbol),
            ]
        }
        _ => return Vec::new(),
    };
    let data: Arc<str> = Arc::from(out);
    names
        .into_iter()
        .map(|n| StreamFrame {
            stream: Arc::from(n),
            data: data.clone(),
        })
        .collect()
}

impl MarketSource for SynthSource {
    fn opening(&mut self) -> Vec<MarketStep> {
        let mut out = Vec::new();
        for e in &mut self.markets {
            let ev = e.next.take().unwrap_or_else(|| e.market.next_event());
            if matches!(ev, MarketEvent::BookSnapshot(_)) {
                out.push(MarketStep {
                    time: ev.times().exchange,
                    product: e.kind,
                    frames: Vec::new(),
                    events: vec![ev],
                });
            } else {
                e.next = Some(ev);
            }
        }
        out
    }

    fn peek_time(&mut self) -> Option<UnixNanos> {
        self.markets
            .iter_mut()
            .map(|e| {
                e.next
                    .get_or_insert_with(|| e.market.next_event())
                    .times()
                    .exchange
            })
            .min()
    }

    fn next_step(&mut self) -> Option<MarketStep> {
        let t = self.peek_time()?;
        let e = self
            .markets
            .iter_mut()
            .find(|e| e.next.as_ref().is_some_and(|ev| ev.times().exchange == t))?;
        let ev = e.next.take()?;
        let frames = frames_of(e, &ev);
        Some(MarketStep {
            time: t,
            product: e.kind,
            frames,
            events: vec![ev],
        })
    }
}
