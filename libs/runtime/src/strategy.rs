//! The strategy SDK: the [`Strategy`] trait a strategy implements, the
//! [`Context`] through which it reads state and acts, and [`OrderRequest`].
//!
//! A strategy is a plain value: it owns its parameters and state, receives
//! callbacks one at a time on the kernel's thread, and acts only through the
//! `Context`. It never sees whether it runs in a backtest, paper trading or
//! live: the same object runs unchanged in all three.
//!
//! Commands issued in a callback (submit, cancel, modify, timers) are queued
//! and leave when the callback returns, in the order they were issued: an
//! order submitted in a callback is in [`Context::open_orders`] from the next
//! callback on.

use std::collections::BTreeMap;

use veloz_core::events::{
    Bar, CancelAllOrders, CancelOrder, Command, MarkPrice, ModifyOrder, OrderEvent, Quote,
    SubmitOrder, Trade,
};
use veloz_core::{
    ClientOrderId, ClientOrderIdGenerator, Currency, Instrument, InstrumentId, Money, OrderFlags,
    OrderType, PositionSide, Price, Quantity, Rounding, Side, StrategyId, TimeInForce,
    TriggerPriceType, UnixNanos,
};
use veloz_market::L2Book;
use veloz_oms::{Order, OrderStore};

use crate::input::FundingEvent;
use crate::portfolio::{Portfolio, Position};

/// A fill of one of the strategy's orders, with its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillEvent<'a> {
    /// The order event that carried the fill.
    pub event: &'a OrderEvent,
    /// The fill.
    pub fill: &'a veloz_core::events::Fill,
}

/// Which market data callbacks a strategy wants ([`Strategy::subscriptions`]).
/// The market state ([`Context::book`], [`Context::quote`], ...) is kept up to
/// date whatever a strategy subscribes to: a subscription only decides which
/// callbacks are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subscriptions(u8);

impl Subscriptions {
    /// No market data callback.
    pub const NONE: Self = Self(0);
    /// [`Strategy::on_book`].
    pub const BOOKS: Self = Self(1);
    /// [`Strategy::on_quote`].
    pub const QUOTES: Self = Self(1 << 1);
    /// [`Strategy::on_trade`].
    pub const TRADES: Self = Self(1 << 2);
    /// [`Strategy::on_bar`].
    pub const BARS: Self = Self(1 << 3);
    /// [`Strategy::on_mark_price`].
    pub const MARK_PRICES: Self = Self(1 << 4);
    /// Every market data callback (the default).
    pub const ALL: Self = Self(0b1_1111);

    /// Both sets.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The callbacks in both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Does this set have every callback of `other`?
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Subscriptions {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

/// A trading strategy. Every callback has a default that does nothing, so a
/// strategy implements only what it uses.
pub trait Strategy: std::fmt::Debug + Send {
    /// A short name (for logs and run summaries).
    fn name(&self) -> &str;
    /// The market data callbacks this strategy wants; the kernel reads it
    /// once, when the strategy is added. The default is all of them. A
    /// strategy that reacts to timers or order events only can return
    /// [`Subscriptions::NONE`] and skip a call per market event; its
    /// [`Context`] still shows the current books, quotes and prices.
    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::ALL
    }
    /// Called once before any other callback.
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}
    /// Called once at the end of the run (or when the strategy is stopped).
    fn on_stop(&mut self, _ctx: &mut Context<'_>) {}
    /// The L2 book of `instrument` changed (snapshot or deltas applied).
    fn on_book(&mut self, _ctx: &mut Context<'_>, _instrument: InstrumentId) {}
    /// A best bid/ask update.
    fn on_quote(&mut self, _ctx: &mut Context<'_>, _quote: &Quote) {}
    /// A public trade.
    fn on_trade(&mut self, _ctx: &mut Context<'_>, _trade: &Trade) {}
    /// A bar (delivered when it closes).
    fn on_bar(&mut self, _ctx: &mut Context<'_>, _bar: &Bar) {}
    /// A mark price / funding rate update.
    fn on_mark_price(&mut self, _ctx: &mut Context<'_>, _mark: &MarkPrice) {}
    /// A funding payment on one of our positions.
    fn on_funding(&mut self, _ctx: &mut Context<'_>, _funding: &FundingEvent) {}
    /// Any event about one of this strategy's orders (after it was applied;
    /// for a fill, the position already includes it).
    fn on_order_event(&mut self, _ctx: &mut Context<'_>, _event: &OrderEvent) {}
    /// A fill of one of this strategy's orders (after `on_order_event`).
    fn on_fill(&mut self, _ctx: &mut Context<'_>, _fill: FillEvent<'_>) {}
    /// The position of an instrument changed (after `on_fill`).
    fn on_position(&mut self, _ctx: &mut Context<'_>, _position: &Position) {}
    /// A timer set with [`Context::set_timer`] fired.
    fn on_timer(&mut self, _ctx: &mut Context<'_>, _tag: u64) {}
}

/// Why a strategy's request was refused before it was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkError {
    /// The instrument is not loaded in this run.
    #[error("instrument {0} is not loaded in this run; add it to the run's instruments")]
    UnknownInstrument(InstrumentId),
    /// A limit-type order without a price.
    #[error("{0:?} orders need a price; use OrderRequest::limit or .price(..)")]
    MissingPrice(OrderType),
    /// A zero or negative quantity.
    #[error("order quantity must be positive, got {0}")]
    NonPositiveQuantity(Quantity),
    /// The order is not one of this strategy's open orders.
    #[error("order {0} is not an open order of this strategy")]
    NotOpen(ClientOrderId),
}

/// An order a strategy wants to place; build it with [`OrderRequest::limit`]
/// or [`OrderRequest::market`] and the chained setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Quantity.
    pub quantity: Quantity,
    /// Limit price.
    pub price: Option<Price>,
    /// Trigger price (stop / take-profit types).
    pub trigger_price: Option<Price>,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Flags (post-only, reduce-only, close-position).
    pub flags: OrderFlags,
    /// Position side (futures hedge mode).
    pub position_side: PositionSide,
}

impl OrderRequest {
    /// A GTC limit order.
    pub fn limit(instrument: InstrumentId, side: Side, quantity: Quantity, price: Price) -> Self {
        Self {
            instrument,
            side,
            order_type: OrderType::Limit,
            quantity,
            price: Some(price),
            trigger_price: None,
            time_in_force: TimeInForce::Gtc,
            flags: OrderFlags::NONE,
            position_side: PositionSide::Both,
        }
    }

    /// A market order.
    pub fn market(instrument: InstrumentId, side: Side, quantity: Quantity) -> Self {
        Self {
            order_type: OrderType::Market,
            price: None,
            time_in_force: TimeInForce::Gtc,
            ..Self::limit(instrument, side, quantity, Price::ZERO)
        }
    }

    /// Post-only (never takes liquidity).
    pub fn post_only(mut self) -> Self {
        self.flags = self.flags | OrderFlags::POST_ONLY;
        self
    }

    /// Reduce-only (futures).
    pub fn reduce_only(mut self) -> Self {
        self.flags = self.flags | OrderFlags::REDUCE_ONLY;
        self
    }

    /// Time in force.
    pub fn tif(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }

    /// Position side (hedge mode).
    pub fn position_side(mut self, side: PositionSide) -> Self {
        self.position_side = side;
        self
    }
}

/// A queued action, taken by the kernel after the callback returns.
// Actions live only until the callback returns; boxing the command would
// cost an allocation per order for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Command(Command),
    SetTimer { at: UnixNanos, tag: u64 },
    Log(String),
}

/// What the kernel lends a strategy during a callback.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub now: UnixNanos,
    pub instruments: &'a BTreeMap<InstrumentId, Instrument>,
    pub market: &'a crate::kernel::MarketState,
    pub portfolio: &'a Portfolio,
    pub orders: &'a OrderStore,
    pub trading_state: Option<veloz_risk::TradingState>,
}

/// The strategy's window on the kernel during one callback.
#[derive(Debug)]
pub struct Context<'a> {
    /// Borrowed from the kernel: a callback builds its context per call.
    pub(crate) strategy: &'a StrategyId,
    pub(crate) view: View<'a>,
    pub(crate) ids: &'a mut ClientOrderIdGenerator,
    pub(crate) actions: &'a mut Vec<(usize, Action)>,
    pub(crate) index: usize,
}

impl Context<'_> {
    /// The current time (event time in a backtest, wall clock live).
    #[inline]
    pub fn now(&self) -> UnixNanos {
        self.view.now
    }

    /// This strategy's id.
    #[inline]
    pub fn strategy_id(&self) -> StrategyId {
        *self.strategy
    }

    /// An instrument's trading rules.
    pub fn instrument(&self, id: InstrumentId) -> Option<&Instrument> {
        self.view.instruments.get(&id)
    }

    /// The L2 book of `id`, when the run has book data for it.
    #[inline]
    pub fn book(&self, id: InstrumentId) -> Option<&L2Book> {
        self.view.market.books.get(&id)
    }

    /// Best bid and ask: from the L2 book if there is one, else from the last
    /// quote.
    #[inline]
    pub fn best_bid_ask(&self, id: InstrumentId) -> Option<(Price, Price)> {
        self.view.market.best_bid_ask(id)
    }

    /// The last quote.
    pub fn quote(&self, id: InstrumentId) -> Option<&Quote> {
        self.view.market.quotes.get(&id)
    }

    /// Mid price (rounded half-even to the instrument's precision) from the
    /// book or quote; else the last trade or bar close.
    pub fn mid(&self, id: InstrumentId) -> Option<Price> {
        if let Some((b, a)) = self.best_bid_ask(id) {
            let raw = veloz_core::fixed::div_round_i128(
                i128::from(b.raw()) + i128::from(a.raw()),
                2,
                Rounding::HalfEven,
            )?;
            let px = Price::from_raw(i64::try_from(raw).ok()?, b.precision().max(a.precision()));
            return self
                .instrument(id)
                .and_then(|i| i.snap_price(px, Rounding::HalfEven).ok())
                .or(Some(px));
        }
        self.last_price(id)
    }

    /// Last trade price (or last bar close).
    pub fn last_price(&self, id: InstrumentId) -> Option<Price> {
        self.view.market.last.get(&id).copied()
    }

    /// Last mark price.
    pub fn mark_price(&self, id: InstrumentId) -> Option<Price> {
        self.view.market.marks.get(&id).map(|m| m.mark)
    }

    /// The net position of `id` (built from our fills).
    #[inline]
    pub fn position(&self, id: InstrumentId) -> Option<&Position> {
        self.view.portfolio.position(id)
    }

    /// Spot balance `(free, locked)` as the venue last reported it.
    pub fn balance(&self, asset: Currency) -> Option<(Money, Money)> {
        self.view.portfolio.balance(asset)
    }

    /// The risk engine's trading state (`None` when the run has no risk
    /// engine): when it is REDUCING only orders that reduce a position pass,
    /// when HALTED none do.
    pub fn trading_state(&self) -> Option<veloz_risk::TradingState> {
        self.view.trading_state
    }

    /// The whole portfolio.
    pub fn portfolio(&self) -> &Portfolio {
        self.view.portfolio
    }

    /// One of our orders.
    pub fn order(&self, id: &ClientOrderId) -> Option<&Order> {
        self.view.orders.get(id)
    }

    /// This strategy's open (not closed) orders on `instrument`.
    pub fn open_orders(&self, instrument: InstrumentId) -> impl Iterator<Item = &Order> + '_ {
        let me = *self.strategy;
        self.view
            .orders
            .active_orders(Some(instrument))
            .filter(move |o| o.strategy() == me)
    }

    /// Queues an order; returns its client order id. The request is checked
    /// against the instrument's rules and the risk checks when it leaves; a
    /// refusal comes back as a `Denied` order event.
    pub fn submit(&mut self, req: OrderRequest) -> Result<ClientOrderId, SdkError> {
        if !self.view.instruments.contains_key(&req.instrument) {
            return Err(SdkError::UnknownInstrument(req.instrument));
        }
        if req.order_type.has_limit_price() && req.price.is_none() {
            return Err(SdkError::MissingPrice(req.order_type));
        }
        if !req.quantity.is_positive() {
            return Err(SdkError::NonPositiveQuantity(req.quantity));
        }
        let id = self.ids.next_id();
        let cmd = SubmitOrder {
            strategy: *self.strategy,
            instrument: req.instrument,
            client_order_id: id,
            side: req.side,
            order_type: req.order_type,
            quantity: req.quantity,
            price: if req.order_type.has_limit_price() {
                req.price
            } else {
                None
            },
            trigger_price: req.trigger_price,
            trigger_type: TriggerPriceType::default(),
            time_in_force: req.time_in_force,
            expire_time: None,
            flags: req.flags,
            position_side: req.position_side,
            trailing: None,
            ts_init: self.view.now,
        };
        self.actions
            .push((self.index, Action::Command(Command::Submit(cmd))));
        Ok(id)
    }

    /// Queues a cancel of one of this strategy's open orders.
    pub fn cancel(&mut self, id: ClientOrderId) -> Result<(), SdkError> {
        let o = self.own_open(&id)?;
        let cmd = CancelOrder {
            strategy: *self.strategy,
            instrument: o.instrument(),
            client_order_id: id,
            venue_order_id: o.venue_order_id(),
            ts_init: self.view.now,
        };
        self.actions
            .push((self.index, Action::Command(Command::Cancel(cmd))));
        Ok(())
    }

    /// Queues a cancel of every open order on `instrument` (optionally one side).
    pub fn cancel_all(&mut self, instrument: InstrumentId, side: Option<Side>) {
        let cmd = CancelAllOrders {
            strategy: *self.strategy,
            instrument,
            side,
            ts_init: self.view.now,
        };
        self.actions
            .push((self.index, Action::Command(Command::CancelAll(cmd))));
    }

    /// Queues a modify (price and/or quantity) of an open order.
    pub fn modify(
        &mut self,
        id: ClientOrderId,
        quantity: Option<Quantity>,
        price: Option<Price>,
    ) -> Result<(), SdkError> {
        let o = self.own_open(&id)?;
        let cmd = ModifyOrder {
            strategy: *self.strategy,
            instrument: o.instrument(),
            client_order_id: id,
            venue_order_id: o.venue_order_id(),
            quantity,
            price,
            trigger_price: None,
            ts_init: self.view.now,
        };
        self.actions
            .push((self.index, Action::Command(Command::Modify(cmd))));
        Ok(())
    }

    /// Sets a timer: [`Strategy::on_timer`] is called with `tag` at `at`
    /// (immediately after this callback if `at` is not in the future).
    pub fn set_timer(&mut self, at: UnixNanos, tag: u64) {
        self.actions
            .push((self.index, Action::SetTimer { at, tag }));
    }

    /// Records a message in the run's strategy log (with the time and the
    /// strategy id): why a strategy stopped, a parameter it adjusted, ...
    /// The kernel keeps the first 10,000 messages and counts the rest.
    pub fn log(&mut self, message: impl Into<String>) {
        self.actions.push((self.index, Action::Log(message.into())));
    }

    fn own_open(&self, id: &ClientOrderId) -> Result<&Order, SdkError> {
        match self.view.orders.get(id) {
            Some(o) if o.strategy() == *self.strategy && !o.is_closed() => Ok(o),
            _ => Err(SdkError::NotOpen(*id)),
        }
    }
}
