//! The benchmark's strategies, written against the SDK (`veloz_runtime::Strategy`)
//! and mirroring the peers' strategies rule for rule:
//!
//! * [`MarketMaker`]: hftbacktest's `market_maker`: every 100 ms cancel the
//!   quotes the touch moved away from, re-quote GTX (post-only) 0.01 at the
//!   best bid and ask while the position is within ±0.1;
//! * [`TopOfBook`]: hftbacktest's `per_event`: reads the top of the book on
//!   every book and trade callback;
//! * [`EmaCross`]: NautilusTrader's `EMACross` example: 1-minute MID bars
//!   aggregated inside the strategy from quotes, EMA 10 / EMA 20 on bar
//!   closes, flat → enter, opposite → close and reverse, market orders of
//!   0.010.
//!
//! Each strategy counts its loop iterations and publishes the count to an
//! [`IterCounter`] when it stops (so the hot path touches no atomics).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use veloz_core::events::Quote;
use veloz_core::{ClientOrderId, InstrumentId, Price, Quantity, Side, TimeInForce, UnixNanos};
use veloz_oms::OrderStatus;
use veloz_runtime::{Context, OrderRequest, Strategy};

/// Loop iterations a strategy made, published when it stops.
pub type IterCounter = Arc<AtomicU64>;

fn position_raw(ctx: &Context<'_>, id: InstrumentId) -> i64 {
    ctx.position(id).map(|p| p.qty_raw).unwrap_or(0)
}

/// hftbacktest's trivial market maker (see the module docs).
#[derive(Debug)]
pub struct MarketMaker {
    instrument: InstrumentId,
    interval: u64,
    until: UnixNanos,
    next: UnixNanos,
    qty: Quantity,
    max_position_raw: i64,
    iters: u64,
    counter: IterCounter,
    cancels: Vec<ClientOrderId>,
}

impl MarketMaker {
    /// Quotes `qty` every `interval_nanos` until `until` (the end of the
    /// data, like hftbacktest's `elapse` loop).
    pub fn new(
        instrument: InstrumentId,
        interval_nanos: u64,
        until: UnixNanos,
        qty: Quantity,
        max_position: Quantity,
        counter: IterCounter,
    ) -> Self {
        Self {
            instrument,
            interval: interval_nanos,
            until,
            next: UnixNanos::ZERO,
            qty,
            max_position_raw: max_position.raw(),
            iters: 0,
            counter,
            cancels: Vec::with_capacity(4),
        }
    }

    fn arm(&mut self, ctx: &mut Context<'_>) {
        self.next = self.next.add_nanos(self.interval);
        if self.next <= self.until {
            ctx.set_timer(self.next, 0);
        }
    }

    fn quote(&mut self, ctx: &mut Context<'_>) {
        let id = self.instrument;
        let Some((bb, ba)) = ctx.best_bid_ask(id) else {
            return;
        };
        if ba <= bb {
            return;
        }
        let (mut has_bid, mut has_ask) = (false, false);
        self.cancels.clear();
        for o in ctx.open_orders(id) {
            // hftbacktest's `cancellable`: acknowledged and no request in flight.
            if !matches!(
                o.status(),
                OrderStatus::Accepted | OrderStatus::PartiallyFilled
            ) {
                continue;
            }
            let px = o.price().unwrap_or(Price::ZERO);
            match o.side() {
                Side::Buy if px < bb => self.cancels.push(o.client_order_id()),
                Side::Sell if px > ba => self.cancels.push(o.client_order_id()),
                Side::Buy => has_bid = true,
                Side::Sell => has_ask = true,
            }
        }
        for c in self.cancels.drain(..) {
            // Only open orders were collected: a refusal cannot happen here.
            let _ = ctx.cancel(c);
        }
        let pos = position_raw(ctx, id);
        if !has_bid && pos < self.max_position_raw {
            let _ =
                ctx.submit(OrderRequest::limit(id, Side::Buy, self.qty, bb).tif(TimeInForce::Gtx));
        }
        if !has_ask && pos > -self.max_position_raw {
            let _ =
                ctx.submit(OrderRequest::limit(id, Side::Sell, self.qty, ba).tif(TimeInForce::Gtx));
        }
        self.iters += 1;
    }
}

impl Strategy for MarketMaker {
    fn name(&self) -> &str {
        "mm"
    }

    fn subscriptions(&self) -> veloz_runtime::strategy::Subscriptions {
        veloz_runtime::strategy::Subscriptions::NONE
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.next = ctx.now();
        self.arm(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, _tag: u64) {
        self.quote(ctx);
        self.arm(ctx);
    }

    fn on_stop(&mut self, _ctx: &mut Context<'_>) {
        self.counter.store(self.iters, Ordering::Relaxed);
    }
}

/// Reads the top of the book on every book and trade callback (see the
/// module docs). The sum of spreads keeps the reads from being optimised away.
#[derive(Debug)]
pub struct TopOfBook {
    instrument: InstrumentId,
    spread_sum_raw: i128,
    iters: u64,
    counter: IterCounter,
}

impl TopOfBook {
    /// A reader of `instrument`'s book.
    pub fn new(instrument: InstrumentId, counter: IterCounter) -> Self {
        Self {
            instrument,
            spread_sum_raw: 0,
            iters: 0,
            counter,
        }
    }

    fn read(&mut self, ctx: &Context<'_>) {
        if let Some((b, a)) = ctx.best_bid_ask(self.instrument) {
            self.spread_sum_raw += i128::from(a.raw() - b.raw());
        }
        self.iters += 1;
    }

    /// The sum of the spreads read, raw `10^-8` units.
    pub fn spread_sum_raw(&self) -> i128 {
        self.spread_sum_raw
    }
}

impl Strategy for TopOfBook {
    fn name(&self) -> &str {
        "tick"
    }

    fn on_book(&mut self, ctx: &mut Context<'_>, _instrument: InstrumentId) {
        self.read(ctx);
    }

    fn on_trade(&mut self, ctx: &mut Context<'_>, _trade: &veloz_core::events::Trade) {
        self.read(ctx);
    }

    fn on_stop(&mut self, _ctx: &mut Context<'_>) {
        self.counter.store(self.iters, Ordering::Relaxed);
    }
}

/// An exponential moving average in exact integers: the value is kept in
/// raw price units scaled by 2^16 and updated with
/// `v += 2 (x - v) / (period + 1)`, rounded toward zero (NautilusTrader's
/// formula: alpha = 2 / (period + 1), seeded with the first input, ready
/// after `period` inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ema {
    period: u32,
    count: u32,
    value: i128,
}

const EMA_SHIFT: u32 = 16;

impl Ema {
    /// An EMA over `period` inputs.
    pub fn new(period: u32) -> Self {
        Self {
            period,
            count: 0,
            value: 0,
        }
    }

    /// Adds an input (raw price units).
    pub fn update(&mut self, raw: i64) {
        let x = i128::from(raw) << EMA_SHIFT;
        if self.count == 0 {
            self.value = x;
        } else {
            self.value += 2 * (x - self.value) / (i128::from(self.period) + 1);
        }
        self.count = self.count.saturating_add(1);
    }

    /// Has it seen `period` inputs?
    pub fn ready(&self) -> bool {
        self.count >= self.period
    }

    /// The value in raw price units scaled by 2^16 (compare two EMAs directly).
    pub fn scaled(&self) -> i128 {
        self.value
    }
}

/// A bar being built from quote mids.
#[derive(Debug, Clone, Copy)]
struct OpenBar {
    minute: u64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
}

/// NautilusTrader's `EMACross` (see the module docs).
#[derive(Debug)]
pub struct EmaCross {
    instrument: InstrumentId,
    trade_size: Quantity,
    fast: Ema,
    slow: Ema,
    bar: Option<OpenBar>,
    bar_nanos: u64,
    iters: u64,
    counter: IterCounter,
}

impl EmaCross {
    /// EMA `fast` / `slow` on `bar_secs` MID bars, trading `trade_size`.
    pub fn new(
        instrument: InstrumentId,
        bar_secs: u64,
        fast: u32,
        slow: u32,
        trade_size: Quantity,
        counter: IterCounter,
    ) -> Self {
        Self {
            instrument,
            trade_size,
            fast: Ema::new(fast),
            slow: Ema::new(slow),
            bar: None,
            bar_nanos: bar_secs * 1_000_000_000,
            iters: 0,
            counter,
        }
    }

    fn on_bar_close(&mut self, ctx: &mut Context<'_>, bar: OpenBar) {
        self.iters += 1;
        self.fast.update(bar.close);
        self.slow.update(bar.close);
        if !(self.fast.ready() && self.slow.ready()) {
            return;
        }
        if bar.open == bar.high && bar.high == bar.low && bar.low == bar.close {
            return; // a single-price bar carries no information
        }
        let pos = position_raw(ctx, self.instrument);
        let want = if self.fast.scaled() >= self.slow.scaled() {
            Side::Buy
        } else {
            Side::Sell
        };
        let opposite = match want {
            Side::Buy => pos < 0,
            Side::Sell => pos > 0,
        };
        if pos != 0 && !opposite {
            return;
        }
        let id = self.instrument;
        if opposite {
            // Close the position, then enter the other way.
            let close = Quantity::from_raw(pos.abs(), self.trade_size.precision());
            let _ = ctx.submit(OrderRequest::market(id, want, close).reduce_only());
        }
        let _ = ctx.submit(OrderRequest::market(id, want, self.trade_size));
    }
}

impl Strategy for EmaCross {
    fn name(&self) -> &str {
        "ema-cross"
    }

    fn on_quote(&mut self, ctx: &mut Context<'_>, q: &Quote) {
        // Mid in raw units: exact, a half tick is a whole number of raw units.
        let mid = (q.bid.price.raw() + q.ask.price.raw()) / 2;
        let minute = q.times.local.0 / self.bar_nanos;
        match &mut self.bar {
            Some(b) if b.minute == minute => {
                b.high = b.high.max(mid);
                b.low = b.low.min(mid);
                b.close = mid;
            }
            slot => {
                let done = slot.replace(OpenBar {
                    minute,
                    open: mid,
                    high: mid,
                    low: mid,
                    close: mid,
                });
                if let Some(b) = done {
                    self.on_bar_close(ctx, b);
                }
            }
        }
    }

    fn on_stop(&mut self, _ctx: &mut Context<'_>) {
        self.counter.store(self.iters, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_seeds_with_the_first_input_and_converges() {
        let mut e = Ema::new(3);
        e.update(100);
        assert_eq!(e.scaled(), 100 << EMA_SHIFT);
        assert!(!e.ready());
        e.update(200); // alpha = 0.5
        assert_eq!(e.scaled(), 150 << EMA_SHIFT);
        e.update(200);
        assert!(e.ready());
        assert_eq!(e.scaled(), 175 << EMA_SHIFT);
    }
}
