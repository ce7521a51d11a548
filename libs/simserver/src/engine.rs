//! The engine task: the single owner of the [`SimExchange`], of the market
//! sources and of every subscriber list.
//!
//! Handlers never lock the engine: they send it a job (a closure over
//! `&mut Engine`) through a bounded channel and await the reply on a oneshot
//! ([`EngineHandle::call`]). Between jobs the task pumps the market sources on
//! the replay clock, runs `countdownCancelAll` deadlines and moves the venue's
//! clock. Every report the venue produces is encoded once and pushed to the
//! subscribers of its account with `try_send` on their bounded queues: the
//! engine never waits for a client; a subscriber whose queue is full is
//! disconnected and counted in [`Stats`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use veloz_core::events::{AccountEvent, Fill, MarkPrice, MarketEvent, OrderEventKind, Trade};
use veloz_core::{Currency, Instrument, InstrumentId, MarketKind, Money, UnixNanos, VenueOrderId};
use veloz_market::L2Book;
use veloz_sim::{AccountId, InstrumentSettings, SimExchange, SimReport};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::faults::{self, ConnectionKind, FaultKind, Faults, SharedFaults, Target};
use crate::market::StreamFrame;
use crate::market::{MarketSource, MarketStep};
use crate::wire;

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Wall-clock time.
pub fn now_nanos() -> UnixNanos {
    UnixNanos(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    )
}

/// A job for the engine.
pub type Job = Box<dyn FnOnce(&mut Engine) + Send>;

/// Outgoing queue of one WebSocket connection.
pub type Outbox = mpsc::Sender<Arc<str>>;

/// Counters of the fan-out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Market frames queued to subscribers.
    pub market_frames_sent: u64,
    /// User-data events queued to subscribers.
    pub user_events_sent: u64,
    /// Subscribers disconnected because their queue was full.
    pub slow_disconnects: u64,
    /// Market events the venue refused (bad data in a source).
    pub market_events_refused: u64,
    /// Market steps published.
    pub market_steps: u64,
}

#[derive(Debug)]
struct MarketSub {
    id: u64,
    product: MarketKind,
    streams: HashSet<String>,
    combined: bool,
    tx: Outbox,
}

#[derive(Debug)]
struct UserSub {
    id: u64,
    account: AccountId,
    product: MarketKind,
    /// Spot WebSocket API subscriptions wrap events as
    /// `{"subscriptionId":n,"event":…}`.
    wrap: Option<u64>,
    /// The listenKey of a listenKey stream.
    listen_key: Option<String>,
    tx: Outbox,
}

/// A listenKey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenKey {
    /// Owner.
    pub account: AccountId,
    /// Product it was created on.
    pub product: MarketKind,
    /// Expiry (ms).
    pub expires_ms: u64,
}

/// Engine state (owned by the engine task).
#[derive(Debug)]
pub struct Engine {
    /// The venue.
    pub sim: SimExchange,
    instruments: BTreeMap<(MarketKind, String), Instrument>,
    sources: Vec<Box<dyn MarketSource>>,
    speed: u32,
    /// (wall instant, source time) the replay clock is anchored at.
    anchor: Option<(Instant, UnixNanos)>,
    market_subs: Vec<MarketSub>,
    user_subs: Vec<UserSub>,
    /// listenKeys by key.
    pub listen_keys: HashMap<String, ListenKey>,
    /// countdownCancelAll deadlines (ms) by account and instrument.
    pub countdowns: HashMap<(AccountId, InstrumentId), u64>,
    next_id: u64,
    /// Fan-out counters.
    pub stats: Stats,
    /// Lifetime of a listenKey without keepalive (ms).
    pub listen_key_ttl_ms: u64,
    /// The rate limits (for exchangeInfo).
    pub rate_limits: crate::config::RateLimitConfig,
    /// Books kept from depth snapshots and diffs only (what a client syncing
    /// from the depth stream sees), for the REST depth snapshot. The venue's
    /// own book also takes quotes and trades into account.
    depth_books: HashMap<InstrumentId, L2Book>,
    /// Fills of each account, oldest first (at most [`HISTORY`]).
    pub fills: HashMap<AccountId, VecDeque<FillRecord>>,
    /// Recent public trades per instrument (market and simulated), oldest
    /// first (at most [`RECENT_TRADES`]).
    pub trades: HashMap<InstrumentId, VecDeque<Trade>>,
    /// One-minute bars per instrument, oldest first (at most [`MINUTE_BARS`]).
    pub bars: HashMap<InstrumentId, VecDeque<MinuteBar>>,
    /// The last mark-price event per perpetual.
    pub marks: HashMap<InstrumentId, MarkPrice>,
    /// Orders each account placed, oldest first (at most [`HISTORY`]).
    pub orders: HashMap<AccountId, OrderHistory>,
    /// Fault rules and counters (shared with the ports and the admin endpoint).
    pub faults: SharedFaults,
    /// Frames held back by `reorder_frames`, sent after the next frame of
    /// their stream.
    held: Vec<(MarketKind, StreamFrame)>,
    /// Frames held back by `delay_frames` until the instant.
    delayed: Vec<(Instant, MarketKind, StreamFrame)>,
    /// User-data frames held by `reorder_frames`, by subscriber.
    held_user: Vec<(u64, Arc<str>)>,
    /// User-data frames held by `delay_frames`, by subscriber.
    delayed_user: Vec<(Instant, u64, Arc<str>)>,
}

/// How many fills and orders per account stay listed by `myTrades` /
/// `userTrades` / `allOrders`.
pub const HISTORY: usize = 10_000;

/// The orders one account placed, oldest first, at most [`HISTORY`], with a
/// set beside the list so recording a report is O(1) (every order report
/// passes here, on the engine task all requests share).
#[derive(Debug, Default)]
pub struct OrderHistory {
    list: VecDeque<(InstrumentId, VenueOrderId)>,
    seen: std::collections::HashSet<(InstrumentId, VenueOrderId)>,
}

impl OrderHistory {
    /// Records an order (once; later reports of the same order are ignored).
    pub fn record(&mut self, key: (InstrumentId, VenueOrderId)) {
        if self.seen.insert(key) {
            self.list.push_back(key);
            if self.list.len() > HISTORY {
                if let Some(old) = self.list.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    /// The orders, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &(InstrumentId, VenueOrderId)> {
        self.list.iter()
    }
}

/// How many public trades per instrument `GET …/trades` can list.
pub const RECENT_TRADES: usize = 1000;

/// How many one-minute bars per instrument `GET …/klines` can aggregate
/// (one week).
pub const MINUTE_BARS: usize = 7 * 24 * 60;

/// One minute of trades (raw fixed-point units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteBar {
    /// Start of the minute (ms).
    pub open_ms: u64,
    /// First price.
    pub open: i64,
    /// Highest price.
    pub high: i64,
    /// Lowest price.
    pub low: i64,
    /// Last price.
    pub close: i64,
    /// Base volume.
    pub volume: i128,
    /// Quote volume.
    pub quote_volume: i128,
    /// Number of trades.
    pub trades: u64,
    /// Base volume bought by takers.
    pub taker_buy_volume: i128,
    /// Quote volume bought by takers.
    pub taker_buy_quote: i128,
}

fn push_trade(
    trades: &mut HashMap<InstrumentId, VecDeque<Trade>>,
    bars: &mut HashMap<InstrumentId, VecDeque<MinuteBar>>,
    t: Trade,
) {
    let q = trades.entry(t.instrument).or_default();
    q.push_back(t);
    if q.len() > RECENT_TRADES {
        q.pop_front();
    }
    let ms = t.times.exchange.0 / 1_000_000;
    let minute = ms - ms % 60_000;
    let (p, v) = (t.price.raw(), i128::from(t.qty.raw()));
    let quote = i128::from(p) * v / 100_000_000;
    let buy = t.aggressor == veloz_core::AggressorSide::Buyer;
    let list = bars.entry(t.instrument).or_default();
    let bar = match list.iter_mut().rev().find(|b| b.open_ms == minute) {
        Some(b) => b,
        None => {
            if list.back().is_some_and(|b| b.open_ms > minute) {
                // A trade older than the newest bar and with no bar of its own.
                return;
            }
            list.push_back(MinuteBar {
                open_ms: minute,
                open: p,
                high: p,
                low: p,
                close: p,
                volume: 0,
                quote_volume: 0,
                trades: 0,
                taker_buy_volume: 0,
                taker_buy_quote: 0,
            });
            if list.len() > MINUTE_BARS {
                list.pop_front();
            }
            match list.back_mut() {
                Some(b) => b,
                None => return,
            }
        }
    };
    bar.high = bar.high.max(p);
    bar.low = bar.low.min(p);
    bar.close = p;
    bar.volume += v;
    bar.quote_volume += quote;
    bar.trades += 1;
    if buy {
        bar.taker_buy_volume += v;
        bar.taker_buy_quote += quote;
    }
}

/// One fill of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRecord {
    /// Instrument.
    pub instrument: InstrumentId,
    /// The order.
    pub order_id: VenueOrderId,
    /// The fill.
    pub fill: Fill,
    /// Position side of the order.
    pub position_side: veloz_core::PositionSide,
    /// When (ms).
    pub time_ms: u64,
}

impl Engine {
    /// Builds the venue from the configuration: preset instruments, accounts
    /// 1, 2, ... in configuration order with their initial balances.
    pub fn new(
        cfg: &ServerConfig,
        sources: Vec<Box<dyn MarketSource>>,
        speed: u32,
    ) -> Result<Self, crate::config::ConfigError> {
        use crate::config::ConfigError as E;
        let mut sim = SimExchange::default();
        let mut instruments = BTreeMap::new();
        for inst in [
            veloz_sim::presets::spot_btcusdt(),
            veloz_sim::presets::usdm_btcusdt(),
            veloz_sim::presets::coinm_btcusd_perp(),
        ] {
            sim.add_instrument(inst.clone(), InstrumentSettings::default())
                .map_err(|e| E::Invalid(e.to_string()))?;
            instruments.insert((inst.id.kind, inst.id.symbol.as_str().to_string()), inst);
        }
        for (i, a) in cfg.accounts.iter().enumerate() {
            let id = AccountId(i as u64 + 1);
            sim.open_account(id);
            for (list, futures) in [(&a.spot_balances, false), (&a.futures_balances, true)] {
                for b in list {
                    let cur = Currency::new(&b.asset).map_err(|e| {
                        E::Invalid(format!("account {:?}: asset {:?}: {e}", a.name, b.asset))
                    })?;
                    let m = Money::parse(&b.amount, cur).map_err(|e| {
                        E::Invalid(format!("account {:?}: amount {:?}: {e}", a.name, b.amount))
                    })?;
                    let r = if futures {
                        sim.deposit_futures(id, m)
                    } else {
                        sim.deposit_spot(id, m)
                    };
                    r.map_err(|e| E::Invalid(format!("account {:?}: {e}", a.name)))?;
                }
            }
        }
        // Opening balances are not user-data events.
        let _ = sim.take_reports();
        let faults = Faults::with_rules(&cfg.faults).map_err(|e| E::Invalid(e.to_string()))?;
        Ok(Self {
            sim,
            instruments,
            sources,
            speed,
            anchor: None,
            market_subs: Vec::new(),
            user_subs: Vec::new(),
            listen_keys: HashMap::new(),
            countdowns: HashMap::new(),
            next_id: 1,
            stats: Stats::default(),
            listen_key_ttl_ms: cfg.listen_key_ttl_secs.saturating_mul(1000),
            rate_limits: cfg.rate_limits,
            depth_books: HashMap::new(),
            fills: HashMap::new(),
            trades: HashMap::new(),
            marks: HashMap::new(),
            bars: HashMap::new(),
            orders: HashMap::new(),
            faults: Arc::new(std::sync::Mutex::new(faults)),
            held: Vec::new(),
            delayed: Vec::new(),
            held_user: Vec::new(),
            delayed_user: Vec::new(),
        })
    }

    /// The instrument `symbol` of `product`.
    pub fn instrument(&self, product: MarketKind, symbol: &str) -> Result<Instrument, ApiError> {
        self.instruments
            .get(&(product, symbol.to_string()))
            .cloned()
            .ok_or_else(ApiError::invalid_symbol)
    }

    /// Every instrument of `product`.
    pub fn instruments_of(&self, product: MarketKind) -> Vec<Instrument> {
        self.instruments
            .iter()
            .filter(|((k, _), _)| *k == product)
            .map(|(_, i)| i.clone())
            .collect()
    }

    /// The book for the REST depth snapshot of `instrument`: the one kept
    /// from depth snapshots and diffs, else the venue's.
    pub fn depth_book(&self, instrument: InstrumentId) -> Option<&L2Book> {
        self.depth_books
            .get(&instrument)
            .or_else(|| self.sim.market_book(instrument).map(|b| b.l2()))
    }

    fn instrument_by_id(&self, id: InstrumentId) -> Option<Instrument> {
        self.instruments
            .get(&(id.kind, id.symbol.as_str().to_string()))
            .cloned()
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a market-stream subscriber; returns its id.
    pub fn add_market_sub(
        &mut self,
        product: MarketKind,
        streams: Vec<String>,
        combined: bool,
        tx: Outbox,
    ) -> u64 {
        let id = self.next_id();
        self.market_subs.push(MarketSub {
            id,
            product,
            streams: streams.into_iter().collect(),
            combined,
            tx,
        });
        id
    }

    /// Changes a subscriber's streams; returns the list after the change.
    pub fn change_streams(&mut self, sub: u64, add: &[String], remove: &[String]) -> Vec<String> {
        let Some(s) = self.market_subs.iter_mut().find(|s| s.id == sub) else {
            return Vec::new();
        };
        for a in add {
            s.streams.insert(a.clone());
        }
        for r in remove {
            s.streams.remove(r);
        }
        let mut v: Vec<String> = s.streams.iter().cloned().collect();
        v.sort();
        v
    }

    /// Adds a user-data subscriber; returns its id.
    pub fn add_user_sub(
        &mut self,
        account: AccountId,
        product: MarketKind,
        wrap: Option<u64>,
        listen_key: Option<String>,
        tx: Outbox,
    ) -> u64 {
        let id = self.next_id();
        self.user_subs.push(UserSub {
            id,
            account,
            product,
            wrap,
            listen_key,
            tx,
        });
        id
    }

    /// Removes a subscriber (market or user data).
    pub fn remove_sub(&mut self, id: u64) {
        self.market_subs.retain(|s| s.id != id);
        self.user_subs.retain(|s| s.id != id);
    }

    /// Applies and publishes one market step.
    pub fn apply_step(&mut self, step: MarketStep) {
        for ev in &step.events {
            if self.sim.on_market_event(ev).is_err() {
                self.stats.market_events_refused += 1;
            }
            let ok = match ev {
                MarketEvent::BookSnapshot(s) => self
                    .depth_books
                    .entry(s.instrument)
                    .or_insert_with(|| L2Book::new(s.instrument))
                    .apply_snapshot(s)
                    .is_ok(),
                MarketEvent::BookDeltas(d) => self
                    .depth_books
                    .get_mut(&d.instrument)
                    .is_none_or(|b| b.apply_deltas(d).is_ok()),
                MarketEvent::Trade(t) => {
                    push_trade(&mut self.trades, &mut self.bars, *t);
                    true
                }
                MarketEvent::MarkPrice(m) => {
                    self.marks.insert(m.instrument, *m);
                    true
                }
                _ => true,
            };
            if !ok {
                self.stats.market_events_refused += 1;
            }
        }
        self.stats.market_steps += 1;
        let frames = self.frame_faults(step.product, step.frames);
        self.publish(step.product, &frames);
        self.drain();
    }

    /// The frames to publish after the frame faults: dropped, duplicated,
    /// held for reordering or delay, depth diffs withheld for a gap.
    fn frame_faults(&mut self, product: MarketKind, frames: Vec<StreamFrame>) -> Vec<StreamFrame> {
        let shared = self.faults.clone();
        let mut f = faults::lock(&shared);
        if f.is_empty() && self.held.is_empty() {
            return frames;
        }
        let mut out = Vec::with_capacity(frames.len());
        let mut gapped: Vec<String> = Vec::new();
        for fr in frames {
            let t = Target::stream(product, &fr.stream);
            // Diff streams only (`@depth`, `@depth@100ms`), not the partial
            // book snapshots (`@depth5`).
            let diff = fr
                .stream
                .split_once("@depth")
                .filter(|(_, rest)| rest.is_empty() || rest.starts_with('@'));
            if let Some((sym, _)) = diff {
                // Every depth stream of the symbol carries the same diff.
                if gapped.iter().any(|g| g == sym) {
                    continue;
                }
                if f.fire(FaultKind::SkipDepthIds, &t).is_some() {
                    gapped.push(sym.to_string());
                    continue;
                }
            }
            match frame_fate(&mut f, &t) {
                Fate::Drop => continue,
                Fate::Delay(ms) => {
                    let at = Instant::now() + Duration::from_millis(ms);
                    self.delayed.push((at, product, fr));
                    continue;
                }
                Fate::Hold => {
                    self.held.push((product, fr));
                    continue;
                }
                Fate::Twice => {
                    out.push(fr.clone());
                    out.push(fr.clone());
                }
                Fate::Send => out.push(fr.clone()),
            }
            while let Some(i) = self
                .held
                .iter()
                .position(|(p, h)| *p == product && h.stream == fr.stream)
            {
                out.push(self.held.remove(i).1);
            }
        }
        out
    }

    /// Publishes frames of `product` to the market subscribers.
    fn publish(&mut self, product: MarketKind, frames: &[StreamFrame]) {
        let mut dead = Vec::new();
        for f in frames {
            let mut wrapped: Option<Arc<str>> = None;
            for s in self.market_subs.iter().filter(|s| s.product == product) {
                if !s.streams.contains(f.stream.as_ref()) || dead.contains(&s.id) {
                    continue;
                }
                let text = if s.combined {
                    wrapped
                        .get_or_insert_with(|| {
                            Arc::from(format!(
                                "{{\"stream\":\"{}\",\"data\":{}}}",
                                f.stream, f.data
                            ))
                        })
                        .clone()
                } else {
                    f.data.clone()
                };
                match s.tx.try_send(text) {
                    Ok(()) => self.stats.market_frames_sent += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        self.stats.slow_disconnects += 1;
                        dead.push(s.id);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => dead.push(s.id),
                }
            }
        }
        for id in dead {
            self.remove_sub(id);
        }
    }

    /// Releases delayed frames that are due, then applies the connection
    /// faults (`server_shutdown`, `close_connections`, `listen_key_expired`)
    /// to the current connections. Runs on every tick and after a rule is
    /// added.
    pub fn session_faults(&mut self) {
        if !self.delayed.is_empty() {
            let now = Instant::now();
            let mut due = Vec::new();
            self.delayed.retain(|(at, p, fr)| {
                if *at <= now {
                    due.push((*p, fr.clone()));
                    false
                } else {
                    true
                }
            });
            for (p, fr) in due {
                self.publish(p, &[fr]);
            }
        }
        if !self.delayed_user.is_empty() {
            let now = Instant::now();
            let mut dead = Vec::new();
            let mut i = 0;
            while i < self.delayed_user.len() {
                if self.delayed_user[i].0 > now {
                    i += 1;
                    continue;
                }
                let (_, id, text) = self.delayed_user.remove(i);
                if let Some(s) = self.user_subs.iter().find(|s| s.id == id) {
                    try_push(&s.tx, text, &mut self.stats, &mut dead, id);
                }
            }
            for id in dead {
                self.remove_sub(id);
            }
        }
        let shared = self.faults.clone();
        let mut f = faults::lock(&shared);
        if f.is_empty() {
            return;
        }
        let ms = now_ms();
        let mut gone = Vec::new();
        for s in &self.market_subs {
            let t = Target::connection(s.product, ConnectionKind::Market);
            if f.fire(FaultKind::ServerShutdown, &t).is_some() {
                let text = serde_json::json!({"e": "serverShutdown", "E": ms}).to_string();
                let _ = s.tx.try_send(Arc::from(text));
                gone.push(s.id);
            } else if f.fire(FaultKind::CloseConnections, &t).is_some() {
                gone.push(s.id);
            }
        }
        let mut expired = Vec::new();
        // WS API connections are closed by their own task, at their next
        // request (`ws_api`): removing their subscription would not close them.
        for s in self.user_subs.iter().filter(|s| s.wrap.is_none()) {
            let t = Target::connection(s.product, ConnectionKind::UserData);
            if let Some(key) = &s.listen_key {
                if f.fire(FaultKind::ListenKeyExpired, &t).is_some() {
                    let text =
                        serde_json::json!({"e": "listenKeyExpired", "E": ms, "listenKey": key})
                            .to_string();
                    if s.tx.try_send(Arc::from(text)).is_ok() {
                        self.stats.user_events_sent += 1;
                    }
                    expired.push(key.clone());
                    gone.push(s.id);
                    continue;
                }
            }
            if f.fire(FaultKind::CloseConnections, &t).is_some() {
                gone.push(s.id);
            }
        }
        drop(f);
        for key in expired {
            self.listen_keys.remove(&key);
        }
        for id in gone {
            self.remove_sub(id);
        }
    }

    /// Takes the venue's reports, pushes them to user-data subscribers and
    /// returns them (callers look for the fills of the order they placed).
    pub fn drain(&mut self) -> Vec<SimReport> {
        let reports = self.sim.take_reports();
        let ms = now_ms();
        self.record(&reports, ms);
        if reports.is_empty() || self.user_subs.is_empty() {
            return reports;
        }
        let mut out: Vec<(AccountId, MarketKind, serde_json::Value)> = Vec::new();
        let mut acct: BTreeMap<(AccountId, u8), Vec<&AccountEvent>> = BTreeMap::new();
        for r in &reports {
            match r {
                SimReport::Order(o) => {
                    let Some(inst) = self.instrument_by_id(o.event.instrument) else {
                        continue;
                    };
                    let v = if inst.id.kind.is_futures() {
                        wire::order_trade_update(&inst, o, ms)
                    } else {
                        wire::execution_report(&inst, o, ms)
                    };
                    if let Some(v) = v {
                        out.push((o.account, inst.id.kind, v));
                    }
                }
                SimReport::Account { account, event } => {
                    let k = match event {
                        AccountEvent::Balance(_) => 0,
                        AccountEvent::Position(p) => kind_code(p.instrument.kind),
                        AccountEvent::Margin(m) => kind_code(self.futures_kind_of_asset(m.asset)),
                    };
                    acct.entry((*account, k)).or_default().push(event);
                }
                _ => {}
            }
        }
        for ((account, k), evs) in acct {
            let v = match k {
                0 => wire::outbound_account_position(&evs, ms).map(|v| (MarketKind::Spot, v)),
                1 => wire::account_update(MarketKind::UsdM, &evs, |i| self.instrument_by_id(i), ms)
                    .map(|v| (MarketKind::UsdM, v)),
                _ => {
                    wire::account_update(MarketKind::CoinM, &evs, |i| self.instrument_by_id(i), ms)
                        .map(|v| (MarketKind::CoinM, v))
                }
            };
            if let Some((kind, v)) = v {
                out.push((account, kind, v));
            }
        }
        let mut dead = Vec::new();
        for (account, kind, v) in out {
            let plain: Arc<str> = Arc::from(v.to_string());
            self.send_user(account, kind, &plain, &mut dead);
        }
        for id in dead {
            self.remove_sub(id);
        }
        reports
    }

    fn record(&mut self, reports: &[SimReport], ms: u64) {
        for r in reports {
            if let SimReport::Trade(t) = r {
                push_trade(
                    &mut self.trades,
                    &mut self.bars,
                    Trade {
                        instrument: t.instrument,
                        trade_id: t.trade_id,
                        price: t.price,
                        qty: t.qty,
                        aggressor: t.aggressor,
                        times: veloz_core::events::EventTimes::new(t.time, t.time),
                    },
                );
            }
            let SimReport::Order(o) = r else { continue };
            let key = (o.event.instrument, o.order.venue_order_id);
            self.orders.entry(o.account).or_default().record(key);
            if let OrderEventKind::Filled(f) = &o.event.kind {
                let fl = self.fills.entry(o.account).or_default();
                fl.push_back(FillRecord {
                    instrument: o.event.instrument,
                    order_id: o.order.venue_order_id,
                    fill: *f,
                    position_side: o.order.position_side,
                    time_ms: ms,
                });
                if fl.len() > HISTORY {
                    fl.pop_front();
                }
            }
        }
    }

    /// Pushes one user-data event (unwrapped JSON) to the subscribers of
    /// `account` on `product` (events the venue does not report itself, e.g.
    /// `ACCOUNT_CONFIG_UPDATE`).
    pub fn push_user(
        &mut self,
        account: AccountId,
        product: MarketKind,
        event: &serde_json::Value,
    ) {
        let plain: Arc<str> = Arc::from(event.to_string());
        let mut dead = Vec::new();
        self.send_user(account, product, &plain, &mut dead);
        for id in dead {
            self.remove_sub(id);
        }
    }

    /// Sends one user-data event (unwrapped JSON) to the subscribers of
    /// `account` on `product`, through the frame faults of user-data
    /// connections (rules naming `connection = user_data` or `ws_api`).
    fn send_user(
        &mut self,
        account: AccountId,
        product: MarketKind,
        plain: &Arc<str>,
        dead: &mut Vec<u64>,
    ) {
        let shared = self.faults.clone();
        let mut f = faults::lock(&shared);
        let faulty = !f.is_empty() || !self.held_user.is_empty();
        for s in self
            .user_subs
            .iter()
            .filter(|s| s.account == account && s.product == product)
        {
            if dead.contains(&s.id) {
                continue;
            }
            let text = match s.wrap {
                None => plain.clone(),
                Some(id) => Arc::from(format!("{{\"subscriptionId\":{id},\"event\":{plain}}}")),
            };
            if !faulty {
                try_push(&s.tx, text, &mut self.stats, dead, s.id);
                continue;
            }
            let kind = if s.wrap.is_some() {
                ConnectionKind::WsApi
            } else {
                ConnectionKind::UserData
            };
            let mut out = Vec::with_capacity(2);
            match frame_fate(&mut f, &Target::user_frame(product, kind)) {
                Fate::Drop => continue,
                Fate::Delay(ms) => {
                    let at = Instant::now() + Duration::from_millis(ms);
                    self.delayed_user.push((at, s.id, text));
                    continue;
                }
                Fate::Hold => {
                    self.held_user.push((s.id, text));
                    continue;
                }
                Fate::Twice => {
                    out.push(text.clone());
                    out.push(text);
                }
                Fate::Send => out.push(text),
            }
            let mut i = 0;
            while i < self.held_user.len() {
                if self.held_user[i].0 == s.id {
                    out.push(self.held_user.remove(i).1);
                } else {
                    i += 1;
                }
            }
            for t in out {
                if !try_push(&s.tx, t, &mut self.stats, dead, s.id) {
                    break;
                }
            }
        }
    }

    fn futures_kind_of_asset(&self, asset: Currency) -> MarketKind {
        self.instruments
            .values()
            .find(|i| i.id.kind == MarketKind::CoinM && i.margin_asset == asset)
            .map_or(MarketKind::UsdM, |_| MarketKind::CoinM)
    }

    /// Runs due countdowns, expires listen keys, moves the venue's clock.
    fn tick(&mut self) {
        let ms = now_ms();
        let due: Vec<(AccountId, InstrumentId)> = self
            .countdowns
            .iter()
            .filter(|(_, d)| **d <= ms)
            .map(|(k, _)| *k)
            .collect();
        for (account, inst) in due {
            self.countdowns.remove(&(account, inst));
            let _ = self.sim.cancel_all(account, inst, None, now_nanos());
        }
        let expired: Vec<String> = self
            .listen_keys
            .iter()
            .filter(|(_, k)| k.expires_ms <= ms)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.listen_keys.remove(&key);
            // Binance tells the connections of the key, then sends nothing more.
            let text: Arc<str> = Arc::from(
                serde_json::json!({"e": "listenKeyExpired", "E": ms, "listenKey": key}).to_string(),
            );
            let mut gone = Vec::new();
            for s in self
                .user_subs
                .iter()
                .filter(|s| s.listen_key.as_deref() == Some(&key))
            {
                if s.tx.try_send(text.clone()).is_ok() {
                    self.stats.user_events_sent += 1;
                }
                gone.push(s.id);
            }
            for id in gone {
                self.remove_sub(id);
            }
        }
        self.sim.advance_time(now_nanos());
        self.drain();
        self.session_faults();
    }

    /// When the next market step is due (wall clock), if any.
    fn next_due(&mut self) -> Option<Instant> {
        let t = self
            .sources
            .iter_mut()
            .filter_map(|s| s.peek_time())
            .min()?;
        if self.speed == 0 {
            // Paced by the readers: nothing while nobody listens, and a short
            // pause while a queue is more than three quarters full.
            if self.market_subs.is_empty() {
                return None;
            }
            let now = Instant::now();
            let slow = self
                .market_subs
                .iter()
                .any(|s| s.tx.capacity() * 4 < s.tx.max_capacity());
            return Some(if slow {
                now + Duration::from_millis(1)
            } else {
                now
            });
        }
        let (wall, src) = *self.anchor.get_or_insert((Instant::now(), t));
        let ahead = t.0.saturating_sub(src.0) / u64::from(self.speed);
        // A capture with absurd time jumps must not overflow the clock.
        Some(
            wall.checked_add(Duration::from_nanos(ahead))
                .unwrap_or(wall),
        )
    }

    /// Applies the sources' opening steps (the synthetic market's first
    /// snapshots), whatever the pacing, so that the venue has a book before
    /// the first request.
    fn prime(&mut self) {
        let steps: Vec<MarketStep> = self.sources.iter_mut().flat_map(|s| s.opening()).collect();
        for step in steps {
            self.apply_step(step);
        }
    }

    /// Publishes every step due by now (at most `max`).
    fn pump(&mut self, max: usize) {
        for _ in 0..max {
            let Some(due) = self.next_due() else { return };
            if due > Instant::now() {
                return;
            }
            let Some(i) = (0..self.sources.len())
                .filter_map(|i| self.sources[i].peek_time().map(|t| (t, i)))
                .min()
                .map(|(_, i)| i)
            else {
                return;
            };
            if let Some(step) = self.sources[i].next_step() {
                self.apply_step(step);
            }
        }
    }
}

/// What the frame faults do with one frame.
enum Fate {
    Send,
    Drop,
    Twice,
    Delay(u64),
    Hold,
}

fn frame_fate(f: &mut Faults, t: &Target<'_>) -> Fate {
    if f.fire(FaultKind::DropFrames, t).is_some() {
        return Fate::Drop;
    }
    if let Some(r) = f.fire(FaultKind::DelayFrames, t) {
        return Fate::Delay(r.delay_ms);
    }
    if f.fire(FaultKind::ReorderFrames, t).is_some() {
        return Fate::Hold;
    }
    if f.fire(FaultKind::DuplicateFrames, t).is_some() {
        return Fate::Twice;
    }
    Fate::Send
}

/// Queues a user-data frame; false (and the subscriber marked dead) if its
/// queue is full or closed.
fn try_push(tx: &Outbox, text: Arc<str>, stats: &mut Stats, dead: &mut Vec<u64>, id: u64) -> bool {
    match tx.try_send(text) {
        Ok(()) => {
            stats.user_events_sent += 1;
            true
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            stats.slow_disconnects += 1;
            dead.push(id);
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            dead.push(id);
            false
        }
    }
}

fn kind_code(k: MarketKind) -> u8 {
    match k {
        MarketKind::Spot => 0,
        MarketKind::UsdM => 1,
        _ => 2,
    }
}

/// A handle on the engine task.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Job>,
}

fn gone() -> ApiError {
    ApiError::new(
        503,
        -1001,
        "Internal error; unable to process your request. Please try again.",
    )
}

impl EngineHandle {
    /// Runs `f` on the engine and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let (otx, orx) = oneshot::channel();
        self.tx
            .send(Box::new(move |e: &mut Engine| {
                let _ = otx.send(f(e));
            }))
            .await
            .map_err(|_| gone())?;
        orx.await.map_err(|_| gone())
    }
}

/// Starts the engine task; it ends when every handle is dropped.
pub fn spawn(engine: Engine) -> EngineHandle {
    let (tx, rx) = mpsc::channel::<Job>(1024);
    tokio::spawn(run(engine, rx));
    EngineHandle { tx }
}

async fn run(mut e: Engine, mut rx: mpsc::Receiver<Job>) {
    e.prime();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let due = e.next_due();
        tokio::select! {
            biased;
            job = rx.recv() => match job {
                Some(job) => {
                    job(&mut e);
                    e.drain();
                }
                None => return,
            },
            _ = tick.tick() => e.tick(),
            _ = sleep_opt(due) => e.pump(256),
        }
    }
}

async fn sleep_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
