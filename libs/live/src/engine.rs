//! The live engine: one kernel, fed by the I/O tasks, on one thread.
//!
//! [`run`] loads the instruments' rules from the venue (`exchangeInfo`),
//! builds the kernel and its strategies, replays the journal if the journal
//! folder already has one (a restart: the strategies see everything again
//! and come back to the same state; no command is re-sent), reconciles with
//! the venue, and then loops: one [`Inbound`] message at a time becomes one
//! journaled kernel input; timers fire at their time; a reconciliation pass
//! runs every `reconcile_interval_ms` and after every user-stream reconnect;
//! the status is published for the terminal.
//!
//! On shutdown it stops the strategies, cancels every open order, waits
//! (bounded) until the venue confirms, turns off the dead man's switch, and
//! flushes the journal.
//!
//! Threads: the caller runs [`run`] on a current-thread runtime (the kernel
//! never waits on I/O; the tasks are on the same thread, so a market frame
//! reaches the kernel without a cross-thread wake-up).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use veloz_core::events::{CancelAllOrders, Command, OrderEvent};
use veloz_core::{ClientOrderId, Instrument, InstrumentId, MarketKind, StrategyId, UnixNanos};
use veloz_exec::binance::config::{Credentials, Endpoints};
use veloz_exec::binance::rest::exchange_info::ExchangeInfo;
use veloz_exec::binance::rest::futures::FuturesApi;
use veloz_exec::binance::rest::responses::CountdownCancelAll;
use veloz_exec::binance::rest::spot;
use veloz_exec::binance::transport::http::RestClient;
use veloz_exec::binance::transport::local_now;
use veloz_exec::binance::transport::tls::TlsConfig;
use veloz_oms::OrderStatus;
use veloz_risk::{RiskConfig, RiskEngine};
use veloz_runtime::{
    Control, Input, Kernel, KernelConfig, RecordingVenue, Stamped, StateSnapshot, Venue,
};

use crate::config::LiveConfig;
use crate::inbound::Inbound;
use crate::metrics::LiveMetrics;
use crate::paper::{PaperConfig, PaperVenue};
use crate::reconcile::{LocalOrder, ReconcileSettings, Reconciler, Snapshot};
use crate::status::{PositionLine, Status};
use crate::venue::ChannelVenue;
use crate::{exec, feed, journal, user};

/// Why the engine could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A configuration problem.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A strategy's config is wrong.
    #[error("strategy {id}: {source}")]
    Strategy {
        /// Strategy id.
        id: String,
        /// Cause.
        source: veloz_strategies::StrategyConfigError,
    },
    /// The venue cannot be reached.
    #[error("cannot reach the venue's {product:?} API at {url}: {detail}\n  check that the venue is running (for the simulator: `veloz sim`) and that [venue] points at it")]
    Unreachable {
        /// Product.
        product: MarketKind,
        /// Base URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The venue does not list an instrument a strategy trades.
    #[error("the venue does not list {0}; check the strategy's instrument")]
    UnknownInstrument(InstrumentId),
    /// The kernel refused its setup.
    #[error("kernel setup: {0}")]
    Setup(String),
    /// The journal failed (the engine stops: it must not trade unjournaled).
    #[error("journal: {0}")]
    Journal(String),
    /// The kernel failed.
    #[error("kernel: {0}")]
    Kernel(#[from] veloz_runtime::KernelError),
}

/// Live (the Binance execution client) or paper (the simulated venue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Orders go to the venue.
    Live,
    /// Orders go to a simulated venue fed by the live market.
    Paper,
}

/// Everything [`run`] needs.
#[derive(Debug, Clone)]
pub struct LiveSetup {
    /// The configuration.
    pub config: LiveConfig,
    /// Where the venue is.
    pub endpoints: Endpoints,
    /// API key and signer (live trading needs them; paper trading reads
    /// only public market data).
    pub credentials: Option<Credentials>,
    /// Live or paper.
    pub mode: Mode,
}

/// The kernel's venue: the Binance execution client (live) or the simulated
/// venue (paper).
#[derive(Debug)]
enum EngineVenue {
    Live(ChannelVenue),
    Paper(Box<PaperVenue>),
}

impl Venue for EngineVenue {
    fn send(&mut self, command: &Command, now: UnixNanos) {
        match self {
            Self::Live(v) => v.send(command, now),
            Self::Paper(v) => v.send(command, now),
        }
    }
}

impl EngineVenue {
    fn set_trigger(&mut self, t: Option<UnixNanos>) {
        if let Self::Live(v) = self {
            v.trigger = t;
        }
    }

    fn forget(&mut self, id: &ClientOrderId) {
        if let Self::Live(v) = self {
            v.forget(id);
        }
    }

    fn sent_at(&self, id: &ClientOrderId) -> Option<UnixNanos> {
        match self {
            Self::Live(v) => v.sent(id).map(|s| s.submitted_at),
            Self::Paper(v) => v.sent_at(id),
        }
    }

    fn paper(&mut self) -> Option<&mut PaperVenue> {
        match self {
            Self::Paper(p) => Some(p),
            Self::Live(_) => None,
        }
    }

    fn paper_due(&self) -> Option<UnixNanos> {
        match self {
            Self::Paper(p) => p.due(),
            Self::Live(_) => None,
        }
    }
}

/// The audit trail of a session: `audit.log`, and the lines kept for the
/// summary (at most [`AUDIT_KEEP`]).
struct AuditTrail {
    file: journal::AuditLog,
    lines: Vec<String>,
}

impl AuditTrail {
    fn push(&mut self, line: String) {
        let _ = self.file.write(local_now(), &line);
        if self.lines.len() < AUDIT_KEEP {
            self.lines.push(line);
        }
    }

    /// What a kernel step reported.
    fn step(&mut self, a: &veloz_runtime::StepAudit) {
        for n in &a.notes {
            self.push(n.clone());
        }
        for r in &a.risk {
            self.push(format!("risk: {:?}: {}", r.kind, r.reason));
        }
        // Risk denials are in the risk records already.
        for (id, reason) in a.denied.iter().filter(|(_, r)| !r.starts_with("risk:")) {
            self.push(format!("denied {id}: {reason}"));
        }
    }
}

/// The engine loop's state: the kernel, its venue, and what the session
/// records around them.
struct Session {
    kernel: Kernel,
    venue: EngineVenue,
    metrics: Arc<Mutex<LiveMetrics>>,
    /// Connection states (a change becomes a journaled input).
    links: BTreeMap<String, bool>,
    log: AuditTrail,
    /// Kernel inputs journaled in this session.
    inputs: u64,
}

impl Session {
    /// One kernel input now, audited.
    fn input(&mut self, input: Input) -> Result<veloz_runtime::StepAudit, LiveError> {
        let a = self.kernel.handle(local_now(), input, &mut self.venue)?;
        self.inputs += 1;
        self.log.step(&a);
        Ok(a)
    }

    /// Moves the paper venue to now and hands its reports to the kernel.
    fn pump_paper(&mut self) -> Result<(), LiveError> {
        let Some(p) = self.venue.paper() else {
            return Ok(());
        };
        for input in p.pump(local_now()) {
            self.input(input)?;
        }
        Ok(())
    }

    fn apply_all(&mut self, msgs: Vec<Inbound>) -> Result<(), LiveError> {
        msgs.into_iter().try_for_each(|m| self.apply(m))
    }

    /// Applies one inbound message.
    fn apply(&mut self, msg: Inbound) -> Result<(), LiveError> {
        match msg {
            Inbound::Market { event, received } => {
                // Paper: the simulated venue sees the market first, on the
                // local clock (the event as received: the venue's clock
                // cannot run ahead of ours, and a paper fill is never earlier
                // than the data that caused it).
                if let Some(p) = self.venue.paper() {
                    let mut local = event.clone();
                    local.set_times(veloz_core::events::EventTimes {
                        exchange: received,
                        local: received,
                    });
                    if let Err(e) = p.on_market(&local) {
                        self.log
                            .push(format!("paper venue refused a market event: {e}"));
                    }
                }
                self.venue.set_trigger(Some(received));
                let r = self
                    .kernel
                    .handle_market(local_now(), &event, &mut self.venue);
                self.venue.set_trigger(None);
                self.inputs += 1;
                self.log.step(&r?);
                self.pump_paper()
            }
            Inbound::Reconciled(ev) => {
                let is_fill = matches!(ev.kind, veloz_core::events::OrderEventKind::Filled(_));
                let (id, before) = (ev.client_order_id, self.kernel.stats().duplicate_fills);
                let a = self.order_event(ev)?;
                if is_fill && self.kernel.stats().duplicate_fills == before && a.notes.is_empty() {
                    if let Ok(mut m) = self.metrics.lock() {
                        m.recovered_fills += 1;
                    }
                    self.log.push(format!(
                        "reconcile: fill of {id} recovered (the user stream lost it)"
                    ));
                }
                Ok(())
            }
            Inbound::Order(ev) => self.order_event(ev).map(drop),
            Inbound::Account(ev) => self.input(Input::Account(ev)).map(drop),
            Inbound::Link { what, up } => {
                if self.links.insert(what.clone(), up) == Some(up) {
                    return Ok(());
                }
                self.log
                    .push(format!("{what} {}", if up { "up" } else { "down" }));
                self.input(Input::Control(Control::Connection { up, what }))
                    .map(drop)
            }
            Inbound::Control(c) => {
                self.log.push(format!("operator: {c:?}"));
                self.input(Input::Control(c)).map(drop)
            }
            Inbound::Audit(line) => {
                self.log.push(line);
                Ok(())
            }
            Inbound::Finding(text) => self
                .input(Input::Control(Control::Finding {
                    source: "reconcile".into(),
                    text,
                }))
                .map(drop),
        }
    }

    /// An order event; the venue forgets an order once it is closed.
    fn order_event(&mut self, ev: OrderEvent) -> Result<veloz_runtime::StepAudit, LiveError> {
        let id = ev.client_order_id;
        let a = self.input(Input::Order(ev))?;
        if self
            .kernel
            .orders()
            .get(&id)
            .is_some_and(|o| o.is_closed() || o.status() == OrderStatus::Denied)
        {
            self.venue.forget(&id);
        }
        Ok(a)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct LiveSummary {
    /// Inputs journaled in this session.
    pub inputs: u64,
    /// Inputs replayed from an earlier session.
    pub replayed: u64,
    /// Fills (this session and replayed).
    pub fills: usize,
    /// Orders still open at the end (0 after a clean shutdown).
    pub open_orders_left: usize,
    /// The journal folder.
    pub journal_dir: PathBuf,
    /// Metrics.
    pub metrics: LiveMetrics,
    /// Audit lines of the session.
    pub audits: Vec<String>,
    /// Whether the session resumed a journal.
    pub resumed: bool,
    /// The instruments traded, with the venue's rules.
    pub instruments: Vec<Instrument>,
    /// The kernel's orders, positions and balances at the end.
    pub state: Option<StateSnapshot>,
}

const AUDIT_KEEP: usize = 10_000;

async fn load_instruments(
    rest: &RestClient,
    endpoints: &Endpoints,
    wanted: &BTreeSet<InstrumentId>,
) -> Result<BTreeMap<InstrumentId, Instrument>, LiveError> {
    let kinds: BTreeSet<MarketKind> = wanted.iter().map(|i| i.kind).collect();
    let mut out = BTreeMap::new();
    // One limiter serves the session: per kind of limit and window, the
    // tightest limit of the products traded (conservative when a session
    // mixes spot and futures, whose limits Binance counts apart).
    let mut limits: BTreeMap<(String, u64), veloz_exec::binance::ratelimit::RateLimit> =
        BTreeMap::new();
    for kind in kinds {
        let unreachable = |detail: String| LiveError::Unreachable {
            product: kind,
            url: endpoints.rest_base(kind).to_string(),
            detail,
        };
        rest.sync_time(kind)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let req = match FuturesApi::for_kind(kind) {
            Some(api) => api.exchange_info(),
            None => spot::exchange_info(&[]),
        };
        let info: ExchangeInfo = rest
            .send_json(&req)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        for l in &info.rate_limits {
            let key = (format!("{:?}", l.rate_limit_type), l.window_nanos());
            let e = limits.entry(key).or_insert(*l);
            if l.limit < e.limit {
                *e = *l;
            }
        }
        for id in wanted.iter().filter(|i| i.kind == kind) {
            let sym = info
                .symbol(id.symbol.as_str())
                .ok_or(LiveError::UnknownInstrument(*id))?;
            let inst = sym
                .to_instrument(kind)
                .map_err(|e| LiveError::Setup(format!("{id}: {e}")))?;
            out.insert(*id, inst.instrument);
        }
    }
    let limits: Vec<_> = limits.into_values().collect();
    rest.set_rate_limits(&limits);
    Ok(out)
}

fn snapshot(kernel: &Kernel, venue: &EngineVenue) -> Snapshot {
    let orders = kernel
        .orders()
        .iter()
        .map(|o| LocalOrder {
            id: o.client_order_id(),
            instrument: o.instrument(),
            venue_id: o.venue_order_id(),
            open: o.is_open(),
            unacknowledged: o.is_open() && o.venue_order_id().is_none(),
            filled: o.filled_qty(),
            submitted_at: venue
                .sent_at(&o.client_order_id())
                .unwrap_or(o.request().ts_init),
            cancel_pending_since: (o.status() == OrderStatus::PendingCancel).then(|| {
                o.last_event_times()
                    .map_or(o.request().ts_init, |t| t.local)
            }),
        })
        .collect();
    let positions = kernel
        .portfolio()
        .positions()
        .filter(|p| p.instrument.kind.is_futures())
        .map(|p| (p.instrument, p.qty()))
        .collect();
    Snapshot { orders, positions }
}

/// The smallest share of any request or order window still free, per mille.
fn headroom(rest: &RestClient) -> Option<u32> {
    let now = local_now();
    rest.with_rate_limiter(|l| {
        l.usage(now)
            .iter()
            .filter_map(|w| {
                let allowed = w.allowed.or(w.limit)?;
                (allowed > 0).then(|| {
                    let free = allowed.saturating_sub(w.used);
                    u32::try_from(u64::from(free) * 1000 / u64::from(allowed)).unwrap_or(1000)
                })
            })
            .min()
    })
    .flatten()
}

fn status_of(
    kernel: &Kernel,
    metrics: &Arc<Mutex<LiveMetrics>>,
    audits: &[String],
    started: UnixNanos,
    links: &BTreeMap<String, bool>,
) -> Status {
    let now = local_now();
    let positions = kernel
        .portfolio()
        .positions()
        .map(|p| {
            let mid = kernel.mid_price(p.instrument);
            PositionLine {
                instrument: p.instrument,
                qty: p.qty(),
                entry: p.entry_price(),
                mid,
                realized: p.realized(),
                unrealized_raw: mid.and_then(|m| p.unrealized_raw(m)),
                fills: p.fills,
            }
        })
        .collect();
    let mut open_by_strategy: BTreeMap<StrategyId, usize> = BTreeMap::new();
    for o in kernel.orders().open_orders(None) {
        *open_by_strategy.entry(o.strategy()).or_default() += 1;
    }
    Status {
        time: now,
        uptime_s: now.0.saturating_sub(started.0) / 1_000_000_000,
        positions,
        open_orders: open_by_strategy.values().sum(),
        open_by_strategy: open_by_strategy
            .into_iter()
            .map(|(k, v)| (k.as_str().to_string(), v))
            .collect(),
        orders_total: kernel.orders().len(),
        fills: kernel.fills().len(),
        metrics: metrics.lock().map(|m| m.clone()).unwrap_or_default(),
        last_audit: audits.last().cloned(),
        trading_state: kernel.trading_state().map(|t| t.to_string()),
        links: links.clone(),
        balances: kernel
            .portfolio()
            .balances()
            .map(|(c, free, locked)| (c.as_str().to_string(), free, locked))
            .collect(),
    }
}

/// Runs a live session until `shutdown` resolves (see the module docs).
pub async fn run(
    setup: LiveSetup,
    shutdown: impl std::future::Future<Output = ()>,
    status_tx: watch::Sender<Status>,
    mut controls: mpsc::Receiver<Control>,
) -> Result<LiveSummary, LiveError> {
    let cfg = &setup.config;
    let started = local_now();
    let strategies = cfg.resolve_strategies()?;
    let wanted = wanted_instruments(cfg, &strategies)?;
    if strategies.is_empty() && cfg.custom.is_empty() {
        return Err(LiveError::Setup(
            "no strategies: add at least one [[strategies]] entry (name, id, and config or params)"
                .into(),
        ));
    }
    let timeout = Duration::from_millis(cfg.live.rest_timeout_ms.max(100));
    let live = setup.mode == Mode::Live;
    let credentials = match (&setup.credentials, live) {
        (Some(c), _) => Some(c.clone()),
        (None, false) => None,
        (None, true) => {
            return Err(LiveError::Setup(
                "live trading needs an API key and secret (see [venue] api_key_env)".into(),
            ))
        }
    };
    // TLS: the bundled Mozilla roots, plus the configured extra root.
    let tls = match &cfg.venue.tls_root_pem {
        Some(p) => {
            let path = if p.is_relative() {
                cfg.base_dir.join(p)
            } else {
                p.clone()
            };
            Some(TlsConfig::with_extra_roots_file(&path).map_err(|e| {
                LiveError::Setup(format!("[venue] tls_root_pem {}: {e}", path.display()))
            })?)
        }
        None => None,
    };
    let mut rest = RestClient::new(&setup.endpoints, credentials.clone(), timeout);
    if let Some(t) = &tls {
        rest = rest.with_tls(t);
    }
    let rest = Arc::new(rest);
    let instruments = load_instruments(&rest, &setup.endpoints, &wanted).await?;
    let inst_list: Vec<Instrument> = instruments.values().cloned().collect();

    // The journal folder: run metadata (the id epoch) and the journal.
    let dir = cfg.journal.dir.clone();
    let meta = journal::RunMeta::load_or_create(&dir, started)
        .map_err(|e| LiveError::Journal(e.to_string()))?;
    let mut kernel = build_kernel(cfg, &inst_list, meta.epoch_ms)?;
    let (journal, earlier) =
        journal::open(&dir, &cfg.journal).map_err(|e| LiveError::Journal(e.to_string()))?;
    let resumed = !earlier.is_empty();
    if resumed && !live {
        return Err(LiveError::Setup(format!(
            "{}: a paper session cannot resume (its simulated account is not journaled); use a new [journal] dir",
            dir.display()
        )));
    }
    let replayed = kernel.replay(earlier.iter(), &mut RecordingVenue::default())?;
    drop(earlier);
    kernel.set_journal(journal);

    let metrics = Arc::new(Mutex::new(LiveMetrics::default()));
    let instruments = Arc::new(instruments);
    let (in_tx, mut in_rx) = mpsc::channel::<Inbound>(65_536);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let tracker: crate::venue::SharedTracker = Default::default();
    let venue = if live {
        EngineVenue::Live(ChannelVenue::new(out_tx, tracker.clone()))
    } else {
        let paper: PaperConfig = match &cfg.paper {
            Some(t) => t
                .clone()
                .try_into()
                .map_err(|e| LiveError::Setup(format!("[paper]: {e}; see docs/LIVE.md")))?,
            None => PaperConfig::default(),
        };
        EngineVenue::Paper(Box::new(
            PaperVenue::new(&paper, &inst_list).map_err(|e| LiveError::Setup(e.to_string()))?,
        ))
    };
    let mut tasks = Vec::new();
    if live {
        tasks.push(tokio::spawn(exec::run(
            exec::ExecShared {
                rest: rest.clone(),
                instruments: instruments.clone(),
                out: in_tx.clone(),
                metrics: metrics.clone(),
                tracker: tracker.clone(),
            },
            out_rx,
        )));
    }
    let kinds: BTreeSet<MarketKind> = instruments.keys().map(|i| i.kind).collect();
    for (n, kind) in kinds.iter().enumerate() {
        let seed = meta.epoch_ms ^ (n as u64 + 1);
        tasks.push(tokio::spawn(feed::run(
            feed::FeedSpec {
                kind: *kind,
                ws_base: setup.endpoints.ws_base(*kind).to_string(),
                instruments: instruments
                    .keys()
                    .filter(|i| i.kind == *kind)
                    .copied()
                    .collect(),
                streams: cfg.live.streams.clone(),
                seed,
                rest: Some(rest.clone()),
                tls: tls.clone(),
            },
            in_tx.clone(),
            metrics.clone(),
        )));
        let Some(creds) = credentials.clone().filter(|_| live) else {
            continue;
        };
        let url = match kind {
            MarketKind::Spot => setup.endpoints.ws_api(*kind),
            _ => setup.endpoints.ws_base(*kind),
        };
        tasks.push(tokio::spawn(user::run(
            user::UserSpec {
                kind: *kind,
                url: url.to_string(),
                credentials: creds,
                rest: rest.clone(),
                seed,
                tls: tls.clone(),
            },
            in_tx.clone(),
            metrics.clone(),
        )));
    }
    // The dead man's switch: per futures instrument, the shortest countdown
    // of the strategies trading it (a strategy's own setting, else the
    // session's); instruments of custom strategies take the session's.
    let mut countdowns: BTreeMap<InstrumentId, u64> = BTreeMap::new();
    for s in &strategies {
        let ms = s.dead_man_switch_ms.unwrap_or(cfg.live.dead_man_switch_ms);
        let ids = veloz_strategies::instruments_of(&s.name, &s.config).unwrap_or_default();
        for id in ids.into_iter().filter(|i| i.kind.is_futures()) {
            if ms > 0 {
                let e = countdowns.entry(id).or_insert(ms);
                *e = (*e).min(ms);
            }
        }
    }
    if cfg.live.dead_man_switch_ms > 0 {
        for c in &cfg.custom {
            for id in c.instruments.iter().filter(|i| i.kind.is_futures()) {
                let e = countdowns.entry(*id).or_insert(cfg.live.dead_man_switch_ms);
                *e = (*e).min(cfg.live.dead_man_switch_ms);
            }
        }
    }
    let futures_ids: Vec<InstrumentId> = countdowns.keys().copied().collect();
    if live && !countdowns.is_empty() {
        let (rest, ids, metrics, tx) = (
            rest.clone(),
            countdowns.clone(),
            metrics.clone(),
            in_tx.clone(),
        );
        // Renewed at a quarter of the shortest countdown (or `heartbeat_ms`).
        let shortest = countdowns.values().copied().min().unwrap_or(60_000);
        let every = cfg.live.heartbeat_ms.unwrap_or(shortest / 4).max(1);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(every));
            loop {
                tick.tick().await;
                for (id, countdown) in &ids {
                    let Some(api) = FuturesApi::for_kind(id.kind) else {
                        continue;
                    };
                    let r: Result<CountdownCancelAll, _> = rest
                        .send_json(&api.countdown_cancel_all(&id.symbol, *countdown))
                        .await;
                    match r {
                        Ok(_) => {
                            if let Ok(mut m) = metrics.lock() {
                                m.heartbeats += 1;
                            }
                        }
                        Err(e) => {
                            if tx
                                .send(Inbound::Audit(format!(
                                    "dead man's switch on {id} not renewed: {e}"
                                )))
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                }
            }
        }));
    }
    // The server-time offset drifts: measured again every minute.
    if live {
        let (rest, kinds, tx) = (rest.clone(), kinds.clone(), in_tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.tick().await;
            loop {
                tick.tick().await;
                for k in &kinds {
                    if let Err(e) = rest.sync_time(*k).await {
                        if tx
                            .send(Inbound::Audit(format!(
                                "server time of {k:?} not measured: {e}"
                            )))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        }));
    }
    // Reconciliation runs in its own task, one pass at a time.
    let (rec_tx, mut rec_rx) = mpsc::channel::<Snapshot>(1);
    let (rec_done_tx, mut rec_done_rx) = mpsc::channel::<Vec<Inbound>>(4);
    if live {
        let mut rec = Reconciler::new(
            rest.clone(),
            instruments.clone(),
            metrics.clone(),
            tracker.clone(),
            ReconcileSettings {
                grace_ms: 2_000,
                not_found_after_ms: cfg.live.not_found_after_ms,
                epoch: meta.epoch_ms,
            },
        );
        tasks.push(tokio::spawn(async move {
            while let Some(snap) = rec_rx.recv().await {
                let r = rec.pass(&snap).await;
                let mut out = r.events;
                out.extend(
                    r.errors
                        .into_iter()
                        .map(|e| Inbound::Audit(format!("reconcile: {e}; retried next pass"))),
                );
                if rec_done_tx.send(out).await.is_err() {
                    return;
                }
            }
        }));
    }

    let mut s = Session {
        kernel,
        venue,
        metrics: metrics.clone(),
        links: BTreeMap::new(),
        log: AuditTrail {
            file: journal::AuditLog::open(&dir).map_err(|e| LiveError::Journal(e.to_string()))?,
            lines: Vec::new(),
        },
        inputs: 0,
    };

    // First reconciliation before the strategies act.
    if live && rec_tx.try_send(snapshot(&s.kernel, &s.venue)).is_ok() {
        let events = tokio::time::timeout(Duration::from_secs(30), rec_done_rx.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        s.apply_all(events)?;
    }
    if !resumed {
        s.input(Input::Start)?;
    } else {
        s.log.push(format!(
            "resumed: {replayed} journaled inputs replayed, then reconciled with the venue"
        ));
    }

    let mut reconcile_tick =
        tokio::time::interval(Duration::from_millis(cfg.live.reconcile_interval_ms));
    reconcile_tick.reset();
    let mut status_tick =
        tokio::time::interval(Duration::from_millis(cfg.live.status_interval_ms.max(50)));
    // Time moves for the risk engine even when the market is silent.
    let mut clock_tick = tokio::time::interval(Duration::from_secs(1));
    tokio::pin!(shutdown);
    loop {
        let timer_at = s.kernel.next_timer();
        let sleep_for = timer_at.map(|t| Duration::from_nanos(t.0.saturating_sub(local_now().0)));
        let paper_in = s
            .venue
            .paper_due()
            .map(|t| Duration::from_nanos(t.0.saturating_sub(local_now().0)));
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            msg = in_rx.recv() => {
                let Some(msg) = msg else { break };
                let reconnect = matches!(&msg, Inbound::Link { what, up: true } if what.contains("user"));
                s.apply(msg)?;
                if reconnect {
                    let _ = rec_tx.try_send(snapshot(&s.kernel, &s.venue));
                }
            }
            Some(events) = rec_done_rx.recv() => {
                s.apply_all(events)?;
            }
            Some(c) = controls.recv() => {
                s.apply(Inbound::Control(c))?;
            }
            _ = async { match sleep_for { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {
                s.input(Input::Timer)?;
            }
            _ = async { match paper_in { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {
                s.pump_paper()?;
            }
            _ = clock_tick.tick() => {
                s.input(Input::Timer)?;
            }
            _ = reconcile_tick.tick(), if live => {
                let _ = rec_tx.try_send(snapshot(&s.kernel, &s.venue));
            }
            _ = status_tick.tick() => {
                if let Ok(mut m) = metrics.lock() {
                    m.rate_limit_headroom_per_mille = headroom(&rest);
                }
                let _ = status_tx.send(status_of(&s.kernel, &metrics, &s.log.lines, started, &s.links));
            }
        }
    }

    // Shutdown: stop the strategies, then the kill switch (journaled: halt,
    // cancel everything), then wait for the venue to confirm.
    s.input(Input::Stop)?;
    s.input(Input::Control(Control::KillSwitch {
        flatten: false,
        reason: "shutdown".into(),
    }))?;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(cfg.live.shutdown_timeout_ms);
    let mut last_cancel = Some(tokio::time::Instant::now());
    loop {
        s.pump_paper()?;
        let open: BTreeSet<InstrumentId> = s
            .kernel
            .orders()
            .open_orders(None)
            .map(|o| o.instrument())
            .collect();
        if open.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            s.log.push(format!(
                    "shutdown: {} orders still open after {} ms; the dead man's switch (if on) cancels them at the venue",
                    s.kernel.orders().open_orders(None).count(),
                    cfg.live.shutdown_timeout_ms
                ));
            break;
        }
        if last_cancel.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_cancel = Some(tokio::time::Instant::now());
            for id in &open {
                let cmd = Command::CancelAll(CancelAllOrders {
                    strategy: StrategyId::from_const("shutdown"),
                    instrument: *id,
                    side: None,
                    ts_init: local_now(),
                });
                s.venue.send(&cmd, local_now());
            }
            if live {
                let _ = rec_tx.try_send(snapshot(&s.kernel, &s.venue));
            }
        }
        tokio::select! {
            msg = in_rx.recv() => {
                let Some(msg) = msg else { break };
                // Market data no longer matters; order events do.
                if !matches!(msg, Inbound::Market { .. }) {
                    s.apply(msg)?;
                }
            }
            Some(events) = rec_done_rx.recv() => {
                s.apply_all(events)?;
            }
            _ = tokio::time::sleep(Duration::from_millis(if live { 100 } else { 5 })) => {}
        }
    }
    // A last reconciliation: balances and positions as the venue has them
    // now that nothing is working (a pass already running is applied first).
    for _ in 0..(if live { 3 } else { 0 }) {
        let sent = rec_tx.try_send(snapshot(&s.kernel, &s.venue)).is_ok();
        match tokio::time::timeout(Duration::from_secs(10), rec_done_rx.recv()).await {
            Ok(Some(events)) => {
                s.apply_all(events)?;
            }
            _ => break,
        }
        if sent {
            break;
        }
    }
    // The dead man's switch off (countdown 0), then stop the tasks.
    for t in &tasks {
        t.abort();
    }
    if live {
        for id in &futures_ids {
            if let Some(api) = FuturesApi::for_kind(id.kind) {
                let _ = rest.send(&api.countdown_cancel_all(&id.symbol, 0)).await;
            }
        }
    }
    if let Some(mut j) = s.kernel.take_journal() {
        j.flush().map_err(|e| LiveError::Journal(e.to_string()))?;
    }
    let open_left = s.kernel.orders().open_orders(None).count();
    let state = s.kernel.state();
    let _ = status_tx.send(status_of(
        &s.kernel,
        &metrics,
        &s.log.lines,
        started,
        &s.links,
    ));
    let metrics = metrics.lock().map(|m| m.clone()).unwrap_or_default();
    Ok(LiveSummary {
        inputs: s.inputs,
        replayed,
        fills: s.kernel.fills().len(),
        open_orders_left: open_left,
        journal_dir: dir,
        metrics,
        audits: s.log.lines,
        resumed,
        instruments: inst_list,
        state: Some(state),
    })
}

/// [`run`] with nobody reading the status and no operator commands (a
/// program embedding VeloZ, tests, benchmarks).
pub async fn run_unattended(
    setup: LiveSetup,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<LiveSummary, LiveError> {
    let (status, _unread) = watch::channel(Status::default());
    let (_no_commands, controls) = mpsc::channel(1);
    run(setup, shutdown, status, controls).await
}

/// Every instrument the strategies (built-in and custom) trade.
fn wanted_instruments(
    cfg: &LiveConfig,
    strategies: &[crate::config::ResolvedStrategy],
) -> Result<BTreeSet<InstrumentId>, LiveError> {
    let mut wanted = BTreeSet::new();
    for s in strategies {
        let ids = veloz_strategies::instruments_of(&s.name, &s.config).map_err(|source| {
            LiveError::Strategy {
                id: s.id.clone(),
                source,
            }
        })?;
        wanted.extend(ids);
    }
    for c in &cfg.custom {
        wanted.extend(c.instruments.iter().copied());
    }
    Ok(wanted)
}

/// The trading rules of every instrument `cfg`'s strategies trade, from the
/// venue's `exchangeInfo`.
pub async fn load_rules(
    rest: &RestClient,
    endpoints: &Endpoints,
    cfg: &LiveConfig,
) -> Result<Vec<Instrument>, LiveError> {
    let wanted = wanted_instruments(cfg, &cfg.resolve_strategies()?)?;
    Ok(load_instruments(rest, endpoints, &wanted)
        .await?
        .into_values()
        .collect())
}

/// Builds a kernel like [`run`]'s: the instruments, the strategies, the
/// session's id epoch.
fn build_kernel(
    cfg: &LiveConfig,
    instruments: &[Instrument],
    epoch_ms: u64,
) -> Result<Kernel, LiveError> {
    let mut kernel = Kernel::new(&KernelConfig {
        id_tag: "VZ".into(),
        id_epoch: epoch_ms,
        record_fills: true,
    })
    .map_err(|e| LiveError::Setup(e.to_string()))?;
    for i in instruments {
        kernel.add_instrument(i.clone());
    }
    let risk: RiskConfig = match &cfg.risk {
        Some(t) => t
            .clone()
            .try_into()
            .map_err(|e| LiveError::Setup(format!("[risk]: {e}; see docs/RISK.md for the keys")))?,
        None => RiskConfig::default(),
    };
    kernel.set_risk(RiskEngine::new(risk).map_err(|e| LiveError::Setup(format!("[risk]: {e}")))?);
    for s in cfg.resolve_strategies()? {
        veloz_strategies::check_rules(&s.name, &s.config, instruments).map_err(|source| {
            LiveError::Strategy {
                id: s.id.clone(),
                source,
            }
        })?;
        let built =
            veloz_strategies::build(&s.name, &s.config).map_err(|source| LiveError::Strategy {
                id: s.id.clone(),
                source,
            })?;
        kernel
            .add_strategy(&s.id, built)
            .map_err(|e| LiveError::Setup(e.to_string()))?;
    }
    for c in &cfg.custom {
        kernel
            .add_strategy(&c.id, (c.factory)())
            .map_err(|e| LiveError::Setup(e.to_string()))?;
    }
    Ok(kernel)
}

/// Replays the session's journal into a fresh kernel (the session's
/// instruments, strategies and id epoch) and returns it.
pub fn replay_kernel(
    cfg: &LiveConfig,
    dir: &Path,
    instruments: &[Instrument],
) -> Result<Kernel, LiveError> {
    let meta = journal::RunMeta::load_or_create(dir, local_now())
        .map_err(|e| LiveError::Journal(e.to_string()))?;
    let mut kernel = build_kernel(cfg, instruments, meta.epoch_ms)?;
    let entries = read_journal(dir)?;
    kernel.replay(entries.iter(), &mut RecordingVenue::default())?;
    Ok(kernel)
}

/// Replays the session's journal into a fresh kernel and returns its state.
pub fn replay_state(
    cfg: &LiveConfig,
    dir: &Path,
    instruments: &[Instrument],
) -> Result<StateSnapshot, LiveError> {
    Ok(replay_kernel(cfg, dir, instruments)?.state())
}

/// Checks that the journal of a finished session replays to the state the
/// session ended with.
pub fn verify_replay(cfg: &LiveConfig, summary: &LiveSummary) -> Result<(), LiveError> {
    let replayed = replay_state(cfg, &summary.journal_dir, &summary.instruments)?;
    match &summary.state {
        Some(s) if *s == replayed => Ok(()),
        Some(_) => Err(LiveError::Journal(format!(
            "{}: the replayed state differs from the session's final state",
            summary.journal_dir.display()
        ))),
        None => Err(LiveError::Journal(
            "the session recorded no final state".into(),
        )),
    }
}

/// The journal folder's inputs, for tools and tests: every journaled input
/// in order.
pub fn read_journal(dir: &Path) -> Result<Vec<Stamped>, LiveError> {
    journal::read_all(dir).map_err(|e| LiveError::Journal(e.to_string()))
}
