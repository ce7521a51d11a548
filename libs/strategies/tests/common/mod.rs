//! Shared test helpers: synthetic market events, a backtest set-up on the
//! simulated venue, and `Watch`, a strategy wrapper that checks invariants
//! before every callback and records every order the strategy submits.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use veloz_core::events::{
    Bar, EventTimes, Level, MarkPrice, MarketEvent, OrderEvent, OrderEventKind, Quote, Trade,
};
use veloz_core::{
    AggressorSide, Currency, Instrument, InstrumentId, Money, Price, Quantity, Side, TradeId,
    UnixNanos,
};
use veloz_runtime::backtest::DataSource;
use veloz_runtime::{
    Backtest, BacktestSettings, Context, FillEvent, KernelConfig, Position, RunOutput, Strategy,
};
use veloz_sim::backtest::ConstantLatency;
use veloz_sim::ConservativeQueue;

/// Start of the synthetic data: 2025-05-10 00:00:00 UTC.
pub const T0: u64 = 1_746_835_200_000_000_000;
pub const MS: u64 = 1_000_000;

pub fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
pub fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
pub fn at(ms: u64) -> UnixNanos {
    UnixNanos(T0 + ms * MS)
}
fn times(ms: u64) -> EventTimes {
    EventTimes::new(at(ms), at(ms))
}

pub fn quote(id: InstrumentId, ms: u64, bid: &str, bq: &str, ask: &str, aq: &str) -> MarketEvent {
    MarketEvent::Quote(Quote {
        instrument: id,
        bid: Level {
            price: p(bid),
            qty: q(bq),
        },
        ask: Level {
            price: p(ask),
            qty: q(aq),
        },
        update_id: None,
        times: times(ms),
    })
}

pub fn trade(
    id: InstrumentId,
    ms: u64,
    trade_id: u64,
    price: &str,
    qty: &str,
    seller: bool,
) -> MarketEvent {
    MarketEvent::Trade(Trade {
        instrument: id,
        trade_id: TradeId(trade_id),
        price: p(price),
        qty: q(qty),
        aggressor: if seller {
            AggressorSide::Seller
        } else {
            AggressorSide::Buyer
        },
        times: times(ms),
    })
}

pub fn mark(id: InstrumentId, ms: u64, price: &str) -> MarketEvent {
    MarketEvent::MarkPrice(MarkPrice {
        instrument: id,
        mark: p(price),
        index: None,
        funding_rate: None,
        next_funding_time: None,
        times: times(ms),
    })
}

/// A one-minute bar `i` (open at `i` minutes) with the given open and close;
/// high and low 5 units beyond them.
pub fn bar(id: InstrumentId, i: u64, open: i64, close: i64) -> MarketEvent {
    let open_time = at(i * 60_000);
    let hi = open.max(close) + 5;
    let lo = open.min(close) - 5;
    let close_time = at((i + 1) * 60_000);
    MarketEvent::Bar(Bar {
        instrument: id,
        interval_secs: 60,
        open_time,
        open: Price::from_int(open).unwrap(),
        high: Price::from_int(hi).unwrap(),
        low: Price::from_int(lo).unwrap(),
        close: Price::from_int(close).unwrap(),
        volume: q("10"),
        closed: true,
        times: EventTimes::new(close_time, close_time),
    })
}

pub fn source(events: Vec<MarketEvent>) -> DataSource {
    Box::new(events.into_iter().map(Ok))
}

pub fn money(s: &str, c: &'static str) -> Money {
    Money::parse(s, Currency::from_const(c)).unwrap()
}

/// A backtest with 1 ms entry and response latency and no feed latency.
pub fn backtest(
    instrument: Instrument,
    balances: Vec<Money>,
    strategy: Box<dyn Strategy>,
    events: Vec<MarketEvent>,
) -> Backtest {
    let settings = BacktestSettings {
        instruments: vec![instrument],
        balances,
        leverage: Some(10),
        queue: Box::new(ConservativeQueue),
        entry_latency: Box::new(ConstantLatency(MS)),
        response_latency: Box::new(ConstantLatency(MS)),
        feed_latency: Box::new(ConstantLatency(0)),
        equity_interval_nanos: 0,
        kernel: KernelConfig::default(),
    };
    Backtest::new(
        settings,
        vec![("s1".into(), strategy)],
        vec![source(events)],
    )
    .unwrap()
}

pub fn run(bt: &mut Backtest) -> RunOutput {
    bt.run(1_000_000, |_| {}).unwrap()
}

/// An order the strategy submitted, as seen right after submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub time: UnixNanos,
    pub side: Side,
    pub price: Option<Price>,
    pub qty: Quantity,
    pub reduce_only: bool,
    pub post_only: bool,
    /// Position (raw) when the order was sent.
    pub position_raw: i64,
    /// Mid when the order was sent.
    pub mid: Option<Price>,
}

/// What `Watch` saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub sent: Vec<Sent>,
    pub violations: Vec<String>,
    pub denied: Vec<String>,
    pub rejected: Vec<String>,
    pub max_abs_position_raw: i64,
}

/// Wraps a strategy: before every callback checks that it has at most one
/// open order per side (when `one_per_side`) and that |position| is within
/// `max_position_raw`; records submissions, denials and rejections.
#[derive(Debug)]
pub struct Watch {
    pub inner: Box<dyn Strategy>,
    pub instrument: InstrumentId,
    pub one_per_side: bool,
    pub max_position_raw: Option<i64>,
    pub seen: Arc<Mutex<Seen>>,
}

impl Watch {
    pub fn new(inner: Box<dyn Strategy>, instrument: InstrumentId) -> (Self, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        (
            Self {
                inner,
                instrument,
                one_per_side: false,
                max_position_raw: None,
                seen: seen.clone(),
            },
            seen,
        )
    }

    fn check(&self, ctx: &Context<'_>, at: &str) {
        let mut seen = self.seen.lock().unwrap();
        if self.one_per_side {
            for side in [Side::Buy, Side::Sell] {
                let n = ctx
                    .open_orders(self.instrument)
                    .filter(|o| o.side() == side)
                    .count();
                if n > 1 {
                    seen.violations.push(format!(
                        "{n} open {side:?} orders at {} ({at})",
                        ctx.now().0
                    ));
                }
            }
        }
        let pos = ctx.position(self.instrument).map_or(0, |p| p.qty_raw);
        seen.max_abs_position_raw = seen.max_abs_position_raw.max(pos.abs());
        if let Some(max) = self.max_position_raw {
            if pos.abs() > max {
                seen.violations
                    .push(format!("position {pos} beyond {max} at {}", ctx.now().0));
            }
        }
    }
}

impl Strategy for Watch {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.check(ctx, "start");
        self.inner.on_start(ctx);
    }
    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        self.check(ctx, "stop");
        self.inner.on_stop(ctx);
    }
    fn on_book(&mut self, ctx: &mut Context<'_>, instrument: InstrumentId) {
        self.check(ctx, "book");
        self.inner.on_book(ctx, instrument);
    }
    fn on_quote(&mut self, ctx: &mut Context<'_>, quote: &Quote) {
        self.check(ctx, "quote");
        self.inner.on_quote(ctx, quote);
    }
    fn on_trade(&mut self, ctx: &mut Context<'_>, trade: &Trade) {
        self.check(ctx, "trade");
        self.inner.on_trade(ctx, trade);
    }
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &Bar) {
        self.check(ctx, "bar");
        self.inner.on_bar(ctx, bar);
    }
    fn on_mark_price(&mut self, ctx: &mut Context<'_>, mark: &MarkPrice) {
        self.inner.on_mark_price(ctx, mark);
    }
    fn on_order_event(&mut self, ctx: &mut Context<'_>, event: &OrderEvent) {
        match &event.kind {
            OrderEventKind::Submitted => {
                if let Some(o) = ctx.order(&event.client_order_id) {
                    let r = o.request();
                    let sent = Sent {
                        time: ctx.now(),
                        side: r.side,
                        price: r.price,
                        qty: r.quantity,
                        reduce_only: r.flags.contains(veloz_core::OrderFlags::REDUCE_ONLY),
                        post_only: r.flags.contains(veloz_core::OrderFlags::POST_ONLY),
                        position_raw: ctx.position(self.instrument).map_or(0, |p| p.qty_raw),
                        mid: ctx.mid(self.instrument),
                    };
                    self.seen.lock().unwrap().sent.push(sent);
                }
            }
            OrderEventKind::Denied { reason } => {
                self.seen.lock().unwrap().denied.push(reason.clone());
            }
            OrderEventKind::Rejected { reason, .. } => {
                self.seen.lock().unwrap().rejected.push(reason.clone());
            }
            _ => {}
        }
        self.inner.on_order_event(ctx, event);
    }
    fn on_fill(&mut self, ctx: &mut Context<'_>, fill: FillEvent<'_>) {
        self.inner.on_fill(ctx, fill);
        self.check(ctx, "after fill");
    }
    fn on_position(&mut self, ctx: &mut Context<'_>, position: &Position) {
        self.inner.on_position(ctx, position);
    }
    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: u64) {
        self.check(ctx, "timer");
        self.inner.on_timer(ctx, tag);
    }
}

/// One-minute bars of a fixture CSV (`open_time,open,high,low,close,volume`,
/// gzip), at most `limit` of them.
pub fn fixture_bars(path: &str, id: InstrumentId, limit: usize) -> Vec<MarketEvent> {
    use std::io::{BufRead, BufReader};
    let file = veloz_core::fixtures::fixture(path).expect("fixture is missing");
    let reader = BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&file).expect("open fixture"),
    ));
    let mut out = Vec::new();
    for line in reader.lines().skip(1).take(limit) {
        let line = line.unwrap();
        let f: Vec<&str> = line.split(',').collect();
        let open_ms: u64 = f[0].parse().unwrap();
        let open_time = UnixNanos(open_ms * MS);
        let close_time = UnixNanos((open_ms + 60_000) * MS);
        out.push(MarketEvent::Bar(Bar {
            instrument: id,
            interval_secs: 60,
            open_time,
            open: p(f[1]),
            high: p(f[2]),
            low: p(f[3]),
            close: p(f[4]),
            volume: q(f[5]),
            closed: true,
            times: EventTimes::new(close_time, close_time),
        }));
    }
    out
}
