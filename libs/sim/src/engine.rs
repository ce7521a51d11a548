//! The matching engine of one instrument: our orders meet the replayed
//! market's book and each other with price-time priority, and fills move the
//! accounts' money.
//!
//! # Two books, one priority
//!
//! Each instrument has the **market book** (the replayed venue's L2 levels,
//! see [`crate::market`]) and the **user book** (resting simulated orders of
//! every account, per price in time order). Simulated orders never modify the
//! market book; every simulated resting order carries its *quantity ahead*
//! (the market's quantity in front of it at its price, see [`crate::queue`]).
//!
//! A simulated **taker** walks the opposite side best price first, across
//! both books. At one price it meets, in order:
//!
//! 1. the market quantity ahead of the first simulated order there,
//! 2. that order, then the market quantity between it and the next simulated
//!    order (its quantity ahead minus what was already taken), and so on,
//! 3. finally the rest of the market quantity at the price.
//!
//! Market quantity a taker takes is remembered as *consumed* until the
//! venue's data shows it gone (see [`crate::market`]), and it moves the
//! simulated orders at that price forward by the same amount. Fills against
//! another simulated order are maker fills for that order; both sides of one
//! execution share one trade id (per instrument, increasing from
//! `InstrumentSettings::first_trade_id`).
//!
//! # How the replayed market fills resting simulated orders
//!
//! * **Trade at our price.** A public trade of quantity `Q` at price `P`
//!   whose aggressor is on the other side is walked through the orders at `P`
//!   exactly like a taker: market quantity ahead of each order first, then the
//!   order. Only the part of `Q` beyond the quantity ahead fills us; the total
//!   filled by one public trade never exceeds `Q`.
//! * **Trade through our price.** A public trade at a price *worse* than a
//!   resting order's price (a sell trade below our bid, a buy trade above our
//!   ask) means the venue's whole queue at our price is gone: orders at those
//!   better prices fill first, best price first and in time order, ignoring
//!   the quantity ahead, up to the trade's quantity `Q` in total (the part of
//!   `Q` they use is no longer available at `P`). Conservative: a trade through
//!   us fills at most its own quantity, never "fully whatever the size".
//! * **Book crossing our price.** When the venue's book moves so that its
//!   opposite best price reaches or crosses a resting order's price (asks at or
//!   below our bid), the order fills as a maker at its own price against that
//!   visible quantity, which is then consumed. The venue's book shows nothing
//!   left at our price on our side in that case, so nothing can be ahead of us.
//!
//! All fills of resting orders are maker fills at the order's own price.
//!
//! # Order rules
//!
//! LIMIT (GTC, GTD, IOC, FOK), MARKET, post-only (spot `LIMIT_MAKER`, futures
//! `GTX`: refused with Binance's error if any part would take), FOK (futures:
//! refused with `-5021` unless it can fill in full; spot: accepted then
//! expired), IOC and market leftovers expire, self-trade prevention
//! (`EXPIRE_TAKER` / `EXPIRE_MAKER` / `EXPIRE_BOTH` / `NONE`) between orders of
//! the same account, reduce-only and close-position (quantity clamped to the
//! position at execution time; resting reducing orders expire when their
//! position is flat).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use veloz_core::events::{
    AccountEvent, Balance, BookDeltas, EventTimes, Fill, MarginReport, OrderEvent, OrderEventKind,
    PositionReport, Quote, Trade,
};
use veloz_core::{
    AggressorSide, ClientOrderId, ContractKind, Currency, Instrument, InstrumentId, Liquidity,
    MarginMode, Money, OrderFlags, OrderType, PositionSide, Price, Quantity, Rounding, Side,
    TimeInForce, TradeId, UnixNanos, VenueOrderId,
};

use crate::account::{Account, MarginSummary, Pos, PositionView, SymbolConfig};
use crate::arith::{linear_notional, mul_div, SCALE};
use crate::error::VenueError;
use crate::futures::{initial_margin, maintenance_margin, Contract, MarginTier};
use crate::market::MarketBook;
use crate::order::{AccountId, SimOrder, SimOrderStatus, StpMode};
use crate::queue::{DepthChange, QueueModel};
use crate::report::{Counterparty, ExpireReason, OrderReport, SimReport, SimTrade};

/// Per-instrument settings of the simulation that the instrument's trading
/// rules do not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentSettings {
    /// Maintenance-margin table (futures).
    pub margin_tiers: Vec<MarginTier>,
    /// Decimals fees are rounded up to (Binance's commission precision; 8 by
    /// default, which means no extra rounding).
    pub fee_precision: u8,
    /// First venue order id issued.
    pub first_order_id: u64,
    /// First trade id issued.
    pub first_trade_id: u64,
}

impl Default for InstrumentSettings {
    fn default() -> Self {
        Self {
            margin_tiers: crate::futures::default_margin_tiers(),
            fee_precision: 8,
            first_order_id: 1,
            first_trade_id: 1,
        }
    }
}

/// Static and slowly changing data of one instrument.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub spec: Instrument,
    pub settings: InstrumentSettings,
    pub contract: Contract,
    pub last: Option<i64>,
    pub mark: Option<i64>,
    pub funding_rate: Option<i64>,
    pub next_funding: Option<UnixNanos>,
    pub last_funding: Option<UnixNanos>,
}

impl Meta {
    pub fn new(spec: Instrument, settings: InstrumentSettings) -> Self {
        let contract = Contract::of(spec.contract);
        Self {
            spec,
            settings,
            contract,
            last: None,
            mark: None,
            funding_rate: None,
            next_funding: None,
            last_funding: None,
        }
    }

    pub fn is_futures(&self) -> bool {
        !matches!(self.spec.contract, ContractKind::Spot)
    }

    /// The mark price, else the last price.
    pub fn mark_or_last(&self) -> Option<i64> {
        self.mark.or(self.last)
    }

    pub fn price(&self, raw: i64) -> Price {
        Price::from_raw(raw, self.spec.price_precision)
    }

    pub fn qty(&self, raw: i64) -> Quantity {
        Quantity::from_raw(raw, self.spec.qty_precision)
    }
}

/// The dynamic state of one instrument: books and orders.
#[derive(Debug)]
pub(crate) struct Book {
    pub market: MarketBook,
    pub bids: BTreeMap<i64, Vec<VenueOrderId>>,
    pub asks: BTreeMap<i64, Vec<VenueOrderId>>,
    /// Open orders. Boxed, as are `closed` ones: an order moves from one
    /// map to the other, and the maps shift their values on every insert
    /// and removal, so a pointer moves instead of the whole order.
    pub orders: BTreeMap<VenueOrderId, Box<SimOrder>>,
    pub closed: BTreeMap<VenueOrderId, Box<SimOrder>>,
    pub closed_fifo: VecDeque<VenueOrderId>,
    pub client_ids: BTreeMap<(AccountId, ClientOrderId), VenueOrderId>,
    pub waiting: BTreeSet<VenueOrderId>,
    pub gtd: BTreeSet<(UnixNanos, VenueOrderId)>,
    pub traded: crate::traded::TradedAt,
    pub next_order_id: u64,
    pub next_trade_id: u64,
    pub next_seq: u64,
    /// Emptied level vectors kept for the next level our orders open (a
    /// market maker opens and empties a level per fill or cancel: this saves
    /// an allocation and a free each time). Always empty vectors, at most
    /// [`SPARE_LEVELS`] of them; they hold no state.
    pub spare_levels: Vec<Vec<VenueOrderId>>,
}

/// How many emptied level vectors a book keeps for reuse.
const SPARE_LEVELS: usize = 16;

impl Book {
    pub fn new(spec: &Instrument, settings: &InstrumentSettings) -> Self {
        Self {
            market: MarketBook::new(spec),
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            orders: BTreeMap::new(),
            closed: BTreeMap::new(),
            closed_fifo: VecDeque::new(),
            client_ids: BTreeMap::new(),
            waiting: BTreeSet::new(),
            gtd: BTreeSet::new(),
            traded: crate::traded::TradedAt::default(),
            next_order_id: settings.first_order_id,
            next_trade_id: settings.first_trade_id,
            next_seq: 0,
            spare_levels: Vec::new(),
        }
    }

    pub fn levels(&self, side: Side) -> &BTreeMap<i64, Vec<VenueOrderId>> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Resting simulated levels of `side`, best first (bids descending, asks
    /// ascending; no boxed iterator: this runs on every public trade).
    pub fn levels_best_first(
        &self,
        side: Side,
    ) -> impl Iterator<Item = (i64, &[VenueOrderId])> + '_ {
        let (asks, bids) = match side {
            Side::Buy => (None, Some(self.bids.iter().rev())),
            Side::Sell => (Some(self.asks.iter()), None),
        };
        asks.into_iter()
            .flatten()
            .chain(bids.into_iter().flatten())
            .map(|(p, v)| (*p, v.as_slice()))
    }

    /// Every (side, price) with resting simulated orders.
    pub fn resting_levels(&self) -> Vec<(Side, i64)> {
        self.bids
            .keys()
            .map(|p| (Side::Buy, *p))
            .chain(self.asks.keys().map(|p| (Side::Sell, *p)))
            .collect()
    }

    /// Finds an order (open or closed) by venue id.
    pub fn find(&self, id: VenueOrderId) -> Option<&SimOrder> {
        self.orders
            .get(&id)
            .or_else(|| self.closed.get(&id))
            .map(|o| &**o)
    }

    /// Does no delta of the message name a level where our orders rest?
    /// (Then the message changes no effective quantity at our levels: a
    /// delta changes the venue's quantity, and what our takers consumed,
    /// at its own level only.)
    #[inline]
    pub fn deltas_miss_ours(&self, d: &BookDeltas) -> bool {
        d.deltas
            .iter()
            .all(|x| !self.levels(x.side).contains_key(&x.level.price.raw()))
    }

    /// Does the quote leave every level where our orders rest alone? A quote
    /// whose two prices are positive sets its level and removes the levels
    /// better than it, on each side, and nothing else: it misses ours when
    /// our best bid is below its bid and our best ask above its ask.
    #[inline]
    pub fn quote_misses_ours(&self, q: &Quote) -> bool {
        let (bid, ask) = (q.bid.price.raw(), q.ask.price.raw());
        bid > 0
            && ask > 0
            && self.bids.last_key_value().is_none_or(|(p, _)| *p < bid)
            && self.asks.first_key_value().is_none_or(|(p, _)| *p > ask)
    }

    /// Does a public trade reach none of our orders? It fills or moves only
    /// orders resting on the side it trades against (bids for a seller's
    /// trade) at its price or better (a higher bid, a lower ask), so it
    /// misses ours when our best level on that side is worse than its price.
    #[inline]
    pub fn trade_misses_ours(&self, t: &Trade) -> bool {
        let price = t.price.raw();
        match t.aggressor {
            AggressorSide::Seller => self.bids.last_key_value().is_none_or(|(p, _)| *p < price),
            AggressorSide::Buyer => self.asks.first_key_value().is_none_or(|(p, _)| *p > price),
        }
    }

    /// Does the venue's best effective level on the other side reach our
    /// best resting level of `side`? (The first check of
    /// `Ctx::fill_crossed`'s loop: when it is `false` for both sides, no
    /// resting order can fill against the venue's book.)
    #[inline(always)]
    pub fn reached(&self, side: Side) -> bool {
        let ours = match side {
            Side::Buy => self.bids.last_key_value(),
            Side::Sell => self.asks.first_key_value(),
        };
        let Some(p) = ours.and_then(|(p, ids)| (!ids.is_empty()).then_some(*p)) else {
            return false;
        };
        // The effective book only lacks liquidity the venue's book has (its
        // best ask is at or above the venue's, its best bid at or below):
        // when the venue's best level does not reach us, neither does the
        // effective one, and the walk over consumed levels is not needed.
        let l2 = self.market.l2();
        let venue_reaches = match side {
            Side::Buy => l2.best_ask_raw().is_some_and(|(mp, _)| mp <= p),
            Side::Sell => l2.best_bid_raw().is_some_and(|(mp, _)| mp >= p),
        };
        if !venue_reaches {
            return false;
        }
        match (side, self.market.best_effective(side.opposite())) {
            (Side::Buy, Some((mp, _))) => mp <= p,
            (Side::Sell, Some((mp, _))) => mp >= p,
            (_, None) => false,
        }
    }
}

/// Money the venue itself received or paid (for conservation checks).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledgers {
    /// Trading fees collected (negative = rebates paid).
    pub fees: BTreeMap<Currency, i128>,
    /// Liquidation clearance fees collected.
    pub clearance: BTreeMap<Currency, i128>,
    /// Paid by the insurance fund to cover losses beyond margin.
    pub insurance: BTreeMap<Currency, i128>,
    /// Net funding credited to accounts.
    pub funding: BTreeMap<Currency, i128>,
}

pub(crate) fn add(map: &mut BTreeMap<Currency, i128>, c: Currency, v: i128) {
    *map.entry(c).or_insert(0) += v;
}

/// One step of a matching plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Market {
        price: i64,
        qty: i64,
    },
    Maker {
        id: VenueOrderId,
        price: i64,
        qty: i64,
    },
    ExpireMaker {
        id: VenueOrderId,
    },
    ExpireTaker,
}

/// What a taker would do against the current books.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    pub filled: i64,
    /// Σ price × qty truncated to 8 decimals per step (spot quote spent).
    pub cost: i128,
    pub worst: Option<i64>,
    pub stp_taker: bool,
}

/// Why an order is being placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    New,
    Triggered,
    Amended,
}

/// Borrowed state for one operation on one instrument.
pub(crate) struct Ctx<'a> {
    pub iid: InstrumentId,
    pub meta: &'a Meta,
    pub metas: &'a crate::idmap::IdMap<Meta>,
    pub book: &'a mut Book,
    pub accounts: &'a mut BTreeMap<AccountId, Account>,
    pub ledgers: &'a mut Ledgers,
    pub queue: &'a mut dyn QueueModel,
    pub out: &'a mut Vec<SimReport>,
    pub closed_kept: usize,
    pub now: UnixNanos,
    /// Last trade price set during this operation.
    pub last: Option<i64>,
    /// Positions that went flat during this operation.
    pub flat: Vec<(AccountId, PositionSide)>,
    /// Did a wallet or a position change during this operation (a fill)?
    pub accounts_changed: bool,
}

fn times(now: UnixNanos) -> EventTimes {
    EventTimes::new(now, now)
}

/// Queues an order report with a snapshot of `order` (a free function, so
/// that an order still in the book can be reported without copying it
/// first: the book and the report queue are separate fields of `Ctx`).
fn push_order_report(
    out: &mut Vec<SimReport>,
    now: UnixNanos,
    order: &SimOrder,
    kind: OrderEventKind,
    reason: Option<ExpireReason>,
) {
    out.push(SimReport::Order(Box::new(OrderReport {
        account: order.account,
        event: OrderEvent {
            instrument: order.instrument,
            client_order_id: order.client_order_id,
            venue_order_id: Some(order.venue_order_id),
            kind,
            times: times(now),
        },
        expire_reason: reason,
        order: order.clone(),
    })));
}

/// Default per-symbol settings of an account.
pub(crate) fn symbol_config(
    acct: &Account,
    iid: InstrumentId,
    default_leverage: u32,
) -> SymbolConfig {
    acct.symbols.get(&iid).copied().unwrap_or(SymbolConfig {
        leverage: default_leverage,
        margin_mode: MarginMode::Cross,
    })
}

/// Margin summary of one account in one margin asset.
pub(crate) fn margin_summary(
    metas: &crate::idmap::IdMap<Meta>,
    acct: &Account,
    asset: Currency,
    default_leverage: u32,
) -> Option<MarginSummary> {
    margin_summary_known(metas, acct, asset, default_leverage, None)
}

/// The figures of one position leg valued at its instrument's mark (else
/// last, else its entry price), as [`position_view`] and [`margin_summary`]
/// compute them; `None` where one of them overflows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LegFigures {
    mark: i64,
    upnl: i128,
    notional: i128,
    im: i128,
    mm: i128,
}

/// [`LegFigures`] of `pos` (an instrument of `meta`) at leverage `lev`.
fn leg_figures(meta: &Meta, pos: &Pos, lev: u32) -> Option<LegFigures> {
    let mark = meta.mark_or_last().unwrap_or(pos.entry);
    let (upnl, notional) = if pos.qty == 0 {
        (0, 0)
    } else {
        (
            meta.contract.pnl(pos.qty, pos.entry, mark)?,
            meta.contract.notional(mark, pos.qty, Rounding::HalfEven)?,
        )
    };
    Some(LegFigures {
        mark,
        upnl,
        notional,
        im: initial_margin(notional, lev)?,
        mm: maintenance_margin(&meta.settings.margin_tiers, notional)?,
    })
}

/// [`margin_summary`] with the figures of one leg already computed (`known`:
/// its key and figures, which must be those of an open cross leg of the
/// account at the current prices): they are used instead of being computed
/// again. The same result as without them.
pub(crate) fn margin_summary_known(
    metas: &crate::idmap::IdMap<Meta>,
    acct: &Account,
    asset: Currency,
    default_leverage: u32,
    known: Option<(&(InstrumentId, PositionSide), &LegFigures)>,
) -> Option<MarginSummary> {
    let wallet = acct.wallets.get(&asset).copied().unwrap_or(0);
    let reserved = acct.reserved.get(&asset).copied().unwrap_or(0);
    let (mut upnl, mut im, mut mm) = (0i128, 0i128, 0i128);
    for ((iid, leg), pos) in acct.positions.iter() {
        let Some(meta) = metas.get(&iid) else {
            continue;
        };
        if meta.spec.margin_asset != asset || pos.qty == 0 || pos.mode != MarginMode::Cross {
            continue;
        }
        if let Some((k, f)) = known {
            if k.0 == iid && k.1 == leg {
                upnl += f.upnl;
                im += f.im;
                mm += f.mm;
                continue;
            }
        }
        let mark = meta.mark_or_last().unwrap_or(pos.entry);
        let notional = meta.contract.notional(mark, pos.qty, Rounding::HalfEven)?;
        upnl += meta.contract.pnl(pos.qty, pos.entry, mark)?;
        let lev = symbol_config(acct, iid, default_leverage).leverage;
        im += initial_margin(notional, lev)?;
        mm += maintenance_margin(&meta.settings.margin_tiers, notional)?;
    }
    let m = |v| Money::from_raw(v, asset);
    Some(MarginSummary {
        asset,
        wallet_balance: m(wallet),
        cross_unrealized_pnl: m(upnl),
        position_initial_margin: m(im),
        order_initial_margin: m(reserved),
        maint_margin: m(mm),
        margin_balance: m(wallet + upnl),
        available_balance: m(wallet + upnl - im - reserved),
    })
}

/// Is the cross margin balance of `asset` (wallet + unrealised PnL) below
/// the maintenance margin? The liquidation decision of [`margin_summary`]
/// without the figures it does not need: `false` wherever `margin_summary`
/// would give `None` (an overflow), as the decision then is "no summary,
/// no liquidation". The initial margin it leaves out cannot overflow (a
/// non-negative notional divided by a leverage of at least 1).
pub(crate) fn cross_below_maintenance(
    metas: &crate::idmap::IdMap<Meta>,
    acct: &Account,
    asset: Currency,
) -> bool {
    let wallet = acct.wallets.get(&asset).copied().unwrap_or(0);
    let (mut upnl, mut mm) = (0i128, 0i128);
    for ((iid, _), pos) in acct.positions.iter() {
        let Some(meta) = metas.get(&iid) else {
            continue;
        };
        if meta.spec.margin_asset != asset || pos.qty == 0 || pos.mode != MarginMode::Cross {
            continue;
        }
        let mark = meta.mark_or_last().unwrap_or(pos.entry);
        let Some(notional) = meta.contract.notional(mark, pos.qty, Rounding::HalfEven) else {
            return false;
        };
        let Some(pnl) = meta.contract.pnl(pos.qty, pos.entry, mark) else {
            return false;
        };
        let Some(m) = maintenance_margin(&meta.settings.margin_tiers, notional) else {
            return false;
        };
        upnl += pnl;
        mm += m;
    }
    wallet + upnl < mm
}

/// Is an isolated position's margin (its isolated wallet + unrealised PnL
/// at the mark, else the last price) below its maintenance margin? A PnL or
/// notional that overflows counts as 0, as in the liquidation check.
pub(crate) fn isolated_below_maintenance(meta: &Meta, pos: &Pos) -> bool {
    let mark = meta.mark_or_last().unwrap_or(pos.entry);
    let upnl = meta.contract.pnl(pos.qty, pos.entry, mark).unwrap_or(0);
    let notional = meta
        .contract
        .notional(mark, pos.qty, Rounding::HalfEven)
        .unwrap_or(0);
    let mm = maintenance_margin(&meta.settings.margin_tiers, notional).unwrap_or(0);
    pos.isolated + upnl < mm
}

/// View of one position.
pub(crate) fn position_view(
    meta: &Meta,
    acct: &Account,
    key: (InstrumentId, PositionSide),
    default_leverage: u32,
) -> Option<PositionView> {
    let pos = acct.positions.get(&key).copied().unwrap_or_default();
    let lev = symbol_config(acct, key.0, default_leverage).leverage;
    let f = leg_figures(meta, &pos, lev)?;
    let asset = meta.spec.margin_asset;
    let m = |v| Money::from_raw(v, asset);
    Some(PositionView {
        instrument: key.0,
        position_side: key.1,
        qty: meta.qty(pos.qty),
        entry_price: meta.price(pos.entry),
        mark_price: meta.price(f.mark),
        unrealized_pnl: m(f.upnl),
        realized_pnl: m(pos.realized),
        margin_mode: pos.mode,
        leverage: lev,
        isolated_margin: m(pos.isolated),
        initial_margin: m(f.im),
        maint_margin: m(f.mm),
        notional: m(f.notional),
    })
}

impl Ctx<'_> {
    pub fn is_futures(&self) -> bool {
        self.meta.is_futures()
    }

    fn kind(&self) -> veloz_core::MarketKind {
        self.iid.kind
    }

    fn default_leverage(&self) -> u32 {
        crate::exchange::DEFAULT_LEVERAGE
    }

    // ------------------------------------------------------------ reports

    fn emit_order(&mut self, order: &SimOrder, kind: OrderEventKind, reason: Option<ExpireReason>) {
        push_order_report(self.out, self.now, order, kind, reason);
    }

    pub fn emit_spot_balance(&mut self, account: AccountId, asset: Currency) {
        let Some(acct) = self.accounts.get(&account) else {
            return;
        };
        let b = acct.spot_balance(asset);
        self.out.push(SimReport::Account {
            account,
            event: AccountEvent::Balance(Balance {
                kind: veloz_core::MarketKind::Spot,
                asset,
                free: Money::from_raw(b.free, asset),
                locked: Money::from_raw(b.locked, asset),
                times: times(self.now),
            }),
        });
    }

    pub fn emit_futures(&mut self, account: AccountId, position_side: PositionSide) {
        let Some(acct) = self.accounts.get(&account) else {
            return;
        };
        let asset = self.meta.spec.margin_asset;
        // The leg's figures once, for its report and the margin summary
        // (what `position_view` and `margin_summary` would each compute).
        let key = (self.iid, position_side);
        let pos = acct.positions.get(&key).copied().unwrap_or_default();
        let lev = symbol_config(acct, self.iid, self.default_leverage()).leverage;
        let figures = leg_figures(self.meta, &pos, lev);
        if let Some(f) = &figures {
            self.out.push(SimReport::Account {
                account,
                event: AccountEvent::Position(PositionReport {
                    instrument: self.iid,
                    position_side,
                    qty: self.meta.qty(pos.qty),
                    entry_price: self.meta.price(pos.entry),
                    unrealized_pnl: Money::from_raw(f.upnl, asset),
                    margin_mode: pos.mode,
                    times: times(self.now),
                }),
            });
        }
        // Only an open cross leg counts in the summary.
        let known = figures
            .as_ref()
            .filter(|_| pos.qty != 0 && pos.mode == MarginMode::Cross)
            .map(|f| (&key, f));
        if let Some(s) =
            margin_summary_known(self.metas, acct, asset, self.default_leverage(), known)
        {
            self.out.push(SimReport::Account {
                account,
                event: AccountEvent::Margin(MarginReport {
                    asset,
                    wallet_balance: s.wallet_balance,
                    initial_margin: Money::from_raw(
                        s.position_initial_margin.raw() + s.order_initial_margin.raw(),
                        asset,
                    ),
                    maintenance_margin: s.maint_margin,
                    times: times(self.now),
                }),
            });
        }
    }

    // ------------------------------------------------------------ capacity

    /// How much of a reducing order the position allows now (`i64::MAX` for
    /// orders that do not reduce, and on spot).
    pub fn reducible(
        &self,
        account: AccountId,
        side: Side,
        position_side: PositionSide,
        reducing: bool,
    ) -> i64 {
        if !self.is_futures() || !reducing {
            return i64::MAX;
        }
        let Some(acct) = self.accounts.get(&account) else {
            return 0;
        };
        let pos = acct
            .positions
            .get(&(self.iid, position_side))
            .map_or(0, |p| p.qty);
        match (position_side, side) {
            (PositionSide::Both, Side::Sell) | (PositionSide::Long, Side::Sell) => pos.max(0),
            (PositionSide::Both, Side::Buy) | (PositionSide::Short, Side::Buy) => (-pos).max(0),
            _ => 0,
        }
    }

    fn order_capacity(&self, o: &SimOrder) -> i64 {
        let rem = o.remaining().raw();
        rem.min(self.reducible(o.account, o.side, o.position_side, o.is_reducing()))
    }

    /// The part of `qty` that would open or increase a position (one-way:
    /// beyond the opposite position; hedge: opening legs only).
    fn opening_qty(
        &self,
        account: AccountId,
        side: Side,
        position_side: PositionSide,
        reducing: bool,
        qty: i64,
    ) -> i64 {
        if reducing {
            return 0;
        }
        if position_side != PositionSide::Both {
            return qty;
        }
        let opposite = self.reducible(account, side, PositionSide::Both, true);
        (qty - opposite).max(0)
    }

    // ------------------------------------------------------------ planning

    /// What a taker of `qty` on `side` up to `limit` would execute now.
    pub fn plan_take(
        &self,
        account: AccountId,
        side: Side,
        limit: Option<i64>,
        qty: i64,
        stp: StpMode,
    ) -> Plan {
        let opp = side.opposite();
        let better = |a: i64, b: i64| match opp {
            Side::Sell => a < b,
            Side::Buy => a > b,
        };
        let crosses = |p: i64| match (limit, side) {
            (None, _) => true,
            (Some(l), Side::Buy) => p <= l,
            (Some(l), Side::Sell) => p >= l,
        };
        let mut plan = Plan::default();
        let mut m_iter = self.book.market.effective_levels(opp).peekable();
        let mut u_iter = self.book.levels_best_first(opp).peekable();
        let mut remaining = qty;
        'levels: while remaining > 0 {
            let mp = m_iter.peek().map(|x| x.0);
            let up = u_iter.peek().map(|x| x.0);
            let p = match (mp, up) {
                (None, None) => break,
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (Some(a), Some(b)) => {
                    if a == b || better(a, b) {
                        a
                    } else {
                        b
                    }
                }
            };
            if !crosses(p) {
                break;
            }
            let mkt = if mp == Some(p) {
                m_iter.next().map_or(0, |x| x.1)
            } else {
                0
            };
            let ids: &[VenueOrderId] = if up == Some(p) {
                u_iter.next().map_or(&[], |x| x.1)
            } else {
                &[]
            };
            let before = remaining;
            let mut taken = 0i64;
            let take_market = |plan: &mut Plan, remaining: &mut i64, taken: &mut i64, max: i64| {
                let m = (*remaining).min(max.max(0));
                if m > 0 {
                    plan.steps.push(Step::Market { price: p, qty: m });
                    plan.cost += linear_notional(p, m, Rounding::Down).unwrap_or(0);
                    *taken += m;
                    *remaining -= m;
                }
            };
            for id in ids {
                let Some(o) = self.book.orders.get(id) else {
                    continue;
                };
                let front = o.queue_ahead.min(mkt) - taken;
                take_market(&mut plan, &mut remaining, &mut taken, front);
                if remaining == 0 {
                    break;
                }
                if o.account == account && stp != StpMode::None {
                    match stp {
                        StpMode::ExpireMaker => {
                            plan.steps.push(Step::ExpireMaker { id: *id });
                            continue;
                        }
                        StpMode::ExpireTaker => {
                            plan.steps.push(Step::ExpireTaker);
                            plan.stp_taker = true;
                        }
                        StpMode::ExpireBoth | StpMode::None => {
                            plan.steps.push(Step::ExpireMaker { id: *id });
                            plan.steps.push(Step::ExpireTaker);
                            plan.stp_taker = true;
                        }
                    }
                    if remaining < before {
                        plan.worst = Some(p);
                    }
                    break 'levels;
                }
                let f = remaining.min(self.order_capacity(o));
                if f > 0 {
                    plan.steps.push(Step::Maker {
                        id: *id,
                        price: p,
                        qty: f,
                    });
                    plan.cost += linear_notional(p, f, Rounding::Down).unwrap_or(0);
                    remaining -= f;
                }
            }
            if remaining > 0 {
                let rest = mkt - taken;
                take_market(&mut plan, &mut remaining, &mut taken, rest);
            }
            if remaining < before {
                plan.worst = Some(p);
            }
        }
        plan.filled = qty - remaining;
        plan
    }

    // ------------------------------------------------------------ placing

    fn fail(
        &mut self,
        id: VenueOrderId,
        origin: Origin,
        err: VenueError,
    ) -> Result<(), VenueError> {
        match origin {
            Origin::New => Err(err),
            Origin::Triggered => {
                self.close_order(
                    id,
                    SimOrderStatus::Expired,
                    Some(OrderEventKind::Expired),
                    Some(ExpireReason::TriggerFailed { code: err.code }),
                );
                Ok(())
            }
            Origin::Amended => {
                self.close_order(
                    id,
                    SimOrderStatus::Canceled,
                    Some(OrderEventKind::Canceled),
                    None,
                );
                Ok(())
            }
        }
    }

    /// Spot: the amount a working order must have locked (quote for buys,
    /// base for sells).
    fn spot_lock_needed(&self, o: &SimOrder, plan: &Plan) -> Option<i128> {
        let rem = o.remaining().raw();
        match (o.side, o.price) {
            (Side::Sell, _) => Some(i128::from(rem)),
            (Side::Buy, Some(l)) if o.working_type() == OrderType::Limit => {
                linear_notional(l.raw(), rem, Rounding::Up)
            }
            (Side::Buy, _) => Some(plan.cost),
        }
    }

    /// Spot: the asset an order locks.
    pub fn lock_asset(&self, side: Side) -> Currency {
        match side {
            Side::Buy => self.meta.spec.quote,
            Side::Sell => self.meta.spec.base,
        }
    }

    /// Spot: sets an order's lock to `needed`, taking from or returning to
    /// the free balance.
    pub fn set_spot_lock(
        &mut self,
        id: VenueOrderId,
        side: Side,
        account: AccountId,
        current: i128,
        needed: i128,
    ) -> Result<(), VenueError> {
        let asset = self.lock_asset(side);
        let acct = self
            .accounts
            .get_mut(&account)
            .ok_or_else(VenueError::unknown_account)?;
        let bal = acct.spot.entry(asset).or_default();
        let delta = needed - current;
        if delta > 0 && bal.free < delta {
            return Err(VenueError::insufficient_balance());
        }
        bal.free -= delta;
        bal.locked += delta;
        if let Some(o) = self.book.orders.get_mut(&id) {
            o.locked = needed;
        }
        if delta != 0 {
            self.emit_spot_balance(account, asset);
        }
        Ok(())
    }

    /// Futures: initial margin a working order needs for its opening part at
    /// `price`.
    fn futures_margin_needed(&self, o: &SimOrder, qty: i64, price: i64) -> Option<i128> {
        let opening = self.opening_qty(o.account, o.side, o.position_side, o.is_reducing(), qty);
        if opening == 0 {
            return Some(0);
        }
        let acct = self.accounts.get(&o.account)?;
        let lev = symbol_config(acct, self.iid, self.default_leverage()).leverage;
        let notional = self.meta.contract.notional(price, opening, Rounding::Up)?;
        initial_margin(notional, lev)
    }

    fn available(&self, account: AccountId) -> i128 {
        let asset = self.meta.spec.margin_asset;
        self.accounts
            .get(&account)
            .and_then(|a| margin_summary(self.metas, a, asset, self.default_leverage()))
            .map_or(0, |s| s.available_balance.raw())
    }

    /// Places a working (non-conditional or triggered) order that is already
    /// built (and, unless `origin` is `New`, already in `orders`): matches it
    /// against both books, then rests or expires the rest.
    pub fn place(&mut self, mut order: SimOrder, origin: Origin) -> Result<(), VenueError> {
        let id = order.venue_order_id;
        let kind = self.kind();
        let futures = self.is_futures();
        let working = order.working_type();
        // Quantity to match, clamped by the position for reducing orders.
        let mut qty = order.remaining().raw();
        if futures && order.is_reducing() {
            let cap = self.reducible(order.account, order.side, order.position_side, true);
            if order.flags.contains(OrderFlags::CLOSE_POSITION) {
                let q = order.filled.raw().saturating_add(cap);
                order.quantity = self.meta.qty(q);
                if let Some(o) = self.book.orders.get_mut(&id) {
                    o.quantity = order.quantity;
                }
                qty = cap;
            }
            if cap == 0 {
                return match origin {
                    Origin::New => Err(VenueError::reduce_only_rejected()),
                    _ => {
                        self.close_order(
                            id,
                            SimOrderStatus::Expired,
                            Some(OrderEventKind::Expired),
                            Some(ExpireReason::NothingToReduce),
                        );
                        Ok(())
                    }
                };
            }
            qty = qty.min(cap);
        }
        let limit = if working == OrderType::Limit {
            order.price.map(|p| p.raw())
        } else {
            None
        };
        let plan = self.plan_take(order.account, order.side, limit, qty, order.stp);
        if order.post_only
            && (plan.filled > 0
                || plan
                    .steps
                    .iter()
                    .any(|s| !matches!(s, Step::ExpireMaker { .. })))
        {
            return self.fail(id, origin, VenueError::would_take(kind));
        }
        let fok_fails =
            order.time_in_force == TimeInForce::Fok && (plan.filled < qty || plan.stp_taker);
        if fok_fails && futures {
            return self.fail(id, origin, VenueError::fok_rejected());
        }
        // Account checks.
        // (quantity, price, margin needed) of the check below, for `rest`.
        let mut checked: Option<(i64, i64, i128)> = None;
        if futures {
            let price = limit
                .or(plan.worst)
                .or(self.meta.mark_or_last())
                .unwrap_or(0);
            let need = self
                .futures_margin_needed(&order, qty, price)
                .ok_or_else(VenueError::overflow)?;
            checked = Some((qty, price, need));
            let own = if origin == Origin::New {
                0
            } else {
                order.locked
            };
            if need > 0 && self.available(order.account) + own < need {
                return self.fail(id, origin, VenueError::insufficient_margin());
            }
        }
        let spot_needed = if futures {
            0
        } else {
            self.spot_lock_needed(&order, &plan)
                .ok_or_else(VenueError::overflow)?
        };
        if !futures {
            let needed = spot_needed;
            let asset = self.lock_asset(order.side);
            let free = self
                .accounts
                .get(&order.account)
                .map_or(0, |a| a.spot_balance(asset).free);
            let current = if origin == Origin::New {
                0
            } else {
                order.locked
            };
            if needed - current > free {
                return self.fail(id, origin, VenueError::insufficient_balance());
            }
        }
        // Accepted.
        let (side, account) = (order.side, order.account);
        if origin == Origin::New {
            self.emit_order(&order, OrderEventKind::Accepted, None);
            self.insert_open(order);
        }
        if !futures {
            let current = self.book.orders.get(&id).map_or(0, |o| o.locked);
            // Affordability was checked above, so this cannot fail.
            let _ = self.set_spot_lock(id, side, account, current, spot_needed);
        }
        if fok_fails {
            self.close_order(
                id,
                SimOrderStatus::Expired,
                Some(OrderEventKind::Expired),
                Some(ExpireReason::FillOrKill),
            );
            return Ok(());
        }
        let stp_expired = self.execute(id, &plan);
        let Some(o) = self.book.orders.get(&id) else {
            self.after_fills();
            return Ok(());
        };
        let (reason, status) = if stp_expired {
            (
                Some(ExpireReason::SelfTradePrevention),
                SimOrderStatus::ExpiredInMatch,
            )
        } else if working == OrderType::Market || o.time_in_force.is_immediate() {
            (
                Some(ExpireReason::ImmediateLeftover),
                SimOrderStatus::Expired,
            )
        } else {
            (None, SimOrderStatus::New)
        };
        if reason.is_some() {
            self.close_order(id, status, Some(OrderEventKind::Expired), reason);
        } else {
            // Nothing filled: the position the margin depends on is the
            // one the check above saw, so its figure is the reservation if
            // the order rests its whole checked quantity at the checked
            // price (`rest` compares).
            self.rest(id, checked.filter(|_| plan.filled == 0));
        }
        self.after_fills();
        Ok(())
    }

    /// Inserts an accepted order in the open-order maps.
    pub fn insert_open(&mut self, order: SimOrder) {
        let id = order.venue_order_id;
        self.book
            .client_ids
            .insert((order.account, order.client_order_id), id);
        if !order.triggered {
            self.book.waiting.insert(id);
        }
        if let (Some(t), TimeInForce::Gtd) = (order.expire_time, order.time_in_force) {
            self.book.gtd.insert((t, id));
        }
        self.book.orders.insert(id, Box::new(order));
    }

    /// Puts a working limit order on the user book with its queue position.
    /// `known`: a (quantity, price, margin needed) the caller computed with
    /// [`Ctx::futures_margin_needed`] since the account last changed; used
    /// as the reservation when the order rests that quantity at that price.
    fn rest(&mut self, id: VenueOrderId, known: Option<(i64, i64, i128)>) {
        let seq = self.book.next_seq;
        self.book.next_seq += 1;
        let Some(o) = self.book.orders.get(&id) else {
            return;
        };
        let Some(price) = o.price.map(|p| p.raw()) else {
            return;
        };
        let side = o.side;
        let level = self.book.market.effective(side, price);
        let ahead = self.queue.initial_ahead(level).clamp(0, level.max(0));
        let reserve = if self.is_futures() {
            let rem = o.remaining().raw();
            match known {
                Some((q, p, need)) if q == rem && p == price => need,
                _ => self.futures_margin_needed(o, rem, price).unwrap_or(0),
            }
        } else {
            0
        };
        let (account, futures) = (o.account, self.is_futures());
        if let Some(o) = self.book.orders.get_mut(&id) {
            o.queue_ahead = ahead;
            o.seq = seq;
            if futures {
                let delta = reserve - o.locked;
                o.locked = reserve;
                if let Some(a) = self.accounts.get_mut(&account) {
                    add(&mut a.reserved, self.meta.spec.margin_asset, delta);
                }
            }
        }
        let book = &mut *self.book;
        let levels = match side {
            Side::Buy => &mut book.bids,
            Side::Sell => &mut book.asks,
        };
        levels
            .entry(price)
            .or_insert_with(|| book.spare_levels.pop().unwrap_or_default())
            .push(id);
    }

    /// Removes an order from the user book level it rests on.
    pub fn unrest(&mut self, id: VenueOrderId) {
        let Some(o) = self.book.orders.get(&id) else {
            return;
        };
        let (side, price) = (o.side, o.price.map(|p| p.raw()));
        if let Some(p) = price {
            let book = &mut *self.book;
            let levels = match side {
                Side::Buy => &mut book.bids,
                Side::Sell => &mut book.asks,
            };
            if let Some(v) = levels.get_mut(&p) {
                v.retain(|x| *x != id);
                if v.is_empty() {
                    if let Some(v) = levels.remove(&p) {
                        if book.spare_levels.len() < SPARE_LEVELS {
                            book.spare_levels.push(v);
                        }
                    }
                    book.traded.remove(&(side, p));
                }
            }
        }
    }

    /// Closes an order: releases locks and reservations, unlinks it, emits
    /// `event` (if any) and keeps it among the closed orders.
    pub fn close_order(
        &mut self,
        id: VenueOrderId,
        status: SimOrderStatus,
        event: Option<OrderEventKind>,
        reason: Option<ExpireReason>,
    ) {
        self.unrest(id);
        let Some(mut o) = self.book.orders.remove(&id) else {
            return;
        };
        self.book.waiting.remove(&id);
        if let Some(t) = o.expire_time {
            self.book.gtd.remove(&(t, id));
        }
        self.book.client_ids.remove(&(o.account, o.client_order_id));
        o.status = status;
        o.updated = self.now;
        let locked = std::mem::take(&mut o.locked);
        if locked != 0 {
            if self.is_futures() {
                if let Some(a) = self.accounts.get_mut(&o.account) {
                    add(&mut a.reserved, self.meta.spec.margin_asset, -locked);
                }
            } else {
                let asset = self.lock_asset(o.side);
                if let Some(a) = self.accounts.get_mut(&o.account) {
                    let b = a.spot.entry(asset).or_default();
                    b.locked -= locked;
                    b.free += locked;
                }
                self.emit_spot_balance(o.account, asset);
            }
        }
        if let Some(kind) = event {
            self.emit_order(&o, kind, reason);
        }
        self.book.closed.insert(id, o);
        self.book.closed_fifo.push_back(id);
        while self.book.closed_fifo.len() > self.closed_kept {
            if let Some(old) = self.book.closed_fifo.pop_front() {
                self.book.closed.remove(&old);
            }
        }
    }

    // ------------------------------------------------------------ executing

    fn next_trade_id(&mut self) -> TradeId {
        let t = TradeId(self.book.next_trade_id);
        self.book.next_trade_id += 1;
        t
    }

    /// Moves simulated orders resting at `(side, price)` forward by `qty`.
    fn reduce_ahead(&mut self, side: Side, price: i64, qty: i64) {
        let ids = self
            .book
            .levels(side)
            .get(&price)
            .cloned()
            .unwrap_or_default();
        for id in ids {
            if let Some(o) = self.book.orders.get_mut(&id) {
                o.queue_ahead = (o.queue_ahead - qty).max(0);
            }
        }
    }

    /// Executes a plan for taker `taker`. Returns whether self-trade
    /// prevention expired the taker.
    fn execute(&mut self, taker: VenueOrderId, plan: &Plan) -> bool {
        let Some(t) = self.book.orders.get(&taker) else {
            return false;
        };
        let (side, account) = (t.side, t.account);
        let aggressor = match side {
            Side::Buy => AggressorSide::Buyer,
            Side::Sell => AggressorSide::Seller,
        };
        let mut stp = false;
        for step in &plan.steps {
            match *step {
                Step::Market { price, qty } => {
                    let Some(t) = self.book.orders.get(&taker) else {
                        break;
                    };
                    let qty = qty.min(self.order_capacity(t));
                    if qty <= 0 {
                        continue;
                    }
                    let tid = self.next_trade_id();
                    self.book.market.consume(side.opposite(), price, qty);
                    self.reduce_ahead(side.opposite(), price, qty);
                    self.fill(taker, price, qty, Liquidity::Taker, tid);
                    self.trade(
                        tid,
                        price,
                        qty,
                        aggressor,
                        Some(account),
                        Counterparty::Market,
                    );
                }
                Step::Maker { id, price, qty } => {
                    let (Some(t), Some(m)) =
                        (self.book.orders.get(&taker), self.book.orders.get(&id))
                    else {
                        continue;
                    };
                    let cap_m = self.order_capacity(m);
                    let maker_account = m.account;
                    let qty = qty.min(self.order_capacity(t)).min(cap_m);
                    if cap_m <= 0 {
                        self.close_order(
                            id,
                            SimOrderStatus::Expired,
                            Some(OrderEventKind::Expired),
                            Some(ExpireReason::NothingToReduce),
                        );
                        continue;
                    }
                    if qty <= 0 {
                        continue;
                    }
                    let tid = self.next_trade_id();
                    self.fill(taker, price, qty, Liquidity::Taker, tid);
                    self.fill(id, price, qty, Liquidity::Maker, tid);
                    self.trade(
                        tid,
                        price,
                        qty,
                        aggressor,
                        Some(account),
                        Counterparty::Account {
                            account: maker_account,
                            venue_order_id: id,
                        },
                    );
                }
                Step::ExpireMaker { id } => {
                    self.close_order(
                        id,
                        SimOrderStatus::ExpiredInMatch,
                        Some(OrderEventKind::Expired),
                        Some(ExpireReason::SelfTradePrevention),
                    );
                }
                Step::ExpireTaker => stp = true,
            }
        }
        stp
    }

    fn trade(
        &mut self,
        tid: TradeId,
        price: i64,
        qty: i64,
        aggressor: AggressorSide,
        taker: Option<AccountId>,
        maker: Counterparty,
    ) {
        self.last = Some(price);
        self.out.push(SimReport::Trade(SimTrade {
            instrument: self.iid,
            trade_id: tid,
            price: self.meta.price(price),
            qty: self.meta.qty(qty),
            aggressor,
            taker,
            maker,
            time: self.now,
        }));
    }

    /// Applies one fill to an order and its account.
    fn fill(&mut self, id: VenueOrderId, price: i64, qty: i64, liquidity: Liquidity, tid: TradeId) {
        let futures = self.is_futures();
        let Some(o) = self.book.orders.get_mut(&id) else {
            return;
        };
        let rem_before = o.remaining().raw();
        o.filled = Quantity::from_raw(o.filled.raw() + qty, o.quantity.precision());
        o.cum_notional_e16 += i128::from(price) * i128::from(qty);
        o.updated = self.now;
        let done = o.remaining().raw() == 0;
        o.status = if done {
            SimOrderStatus::Filled
        } else {
            SimOrderStatus::PartiallyFilled
        };
        let (account, side, position_side) = (o.account, o.side, o.position_side);
        let rate = match liquidity {
            Liquidity::Maker => self.meta.spec.maker_fee.raw(),
            Liquidity::Taker => self.meta.spec.taker_fee.raw(),
        };
        let fee_precision = self.meta.settings.fee_precision;
        let round_fee = |fee: i128, asset: Currency| -> i128 {
            Money::from_raw(fee, asset)
                .round_to_precision(fee_precision, Rounding::Up)
                .map_or(fee, |m| m.raw())
        };
        let fee_money;
        self.accounts_changed = true;
        if futures {
            // Release the reservation proportionally to what is left.
            let rem_after = rem_before - qty;
            let old = o.locked;
            let new = if rem_before > 0 {
                mul_div(
                    old,
                    i128::from(rem_after),
                    i128::from(rem_before),
                    Rounding::Down,
                )
                .unwrap_or(0)
            } else {
                0
            };
            o.locked = new;
            let asset = self.meta.spec.margin_asset;
            let fee = match self.meta.contract {
                Contract::Linear => mul_div(
                    i128::from(price) * i128::from(qty),
                    i128::from(rate),
                    SCALE * SCALE,
                    Rounding::Up,
                ),
                Contract::Inverse(cs) => mul_div(
                    i128::from(qty) * i128::from(cs),
                    i128::from(rate),
                    i128::from(price) * SCALE,
                    Rounding::Up,
                ),
            }
            .unwrap_or(0);
            let fee = round_fee(fee, asset);
            fee_money = Money::from_raw(fee, asset);
            add(&mut self.ledgers.fees, asset, fee);
            if let Some(a) = self.accounts.get_mut(&account) {
                add(&mut a.reserved, asset, new - old);
                add(&mut a.wallets, asset, -fee);
            }
            self.apply_position(account, side, position_side, price, qty);
        } else {
            let (base, quote) = (self.meta.spec.base, self.meta.spec.quote);
            let cost = linear_notional(price, qty, Rounding::Down).unwrap_or(0);
            let lock_take = match side {
                Side::Buy => cost.min(o.locked),
                Side::Sell => i128::from(qty).min(o.locked),
            };
            o.locked -= lock_take;
            // A limit buy keeps exactly price × remaining locked: a fill at a
            // better price releases the difference at once.
            let mut release = 0i128;
            if side == Side::Buy && o.working_type() == OrderType::Limit {
                if let Some(l) = o.price {
                    let needed = linear_notional(l.raw(), o.remaining().raw(), Rounding::Up)
                        .unwrap_or(o.locked);
                    release = (o.locked - needed).max(0);
                    o.locked -= release;
                }
            }
            let acct = self.accounts.entry(account).or_default();
            match side {
                Side::Buy => {
                    let fee = round_fee(
                        mul_div(i128::from(qty), i128::from(rate), SCALE, Rounding::Up)
                            .unwrap_or(0),
                        base,
                    );
                    let q = acct.spot.entry(quote).or_default();
                    q.locked -= lock_take + release;
                    q.free += release - (cost - lock_take);
                    acct.spot.entry(base).or_default().free += i128::from(qty) - fee;
                    add(&mut self.ledgers.fees, base, fee);
                    fee_money = Money::from_raw(fee, base);
                }
                Side::Sell => {
                    let fee = round_fee(
                        mul_div(cost, i128::from(rate), SCALE, Rounding::Up).unwrap_or(0),
                        quote,
                    );
                    let b = acct.spot.entry(base).or_default();
                    b.locked -= lock_take;
                    b.free -= i128::from(qty) - lock_take;
                    acct.spot.entry(quote).or_default().free += cost - fee;
                    add(&mut self.ledgers.fees, quote, fee);
                    fee_money = Money::from_raw(fee, quote);
                }
            }
        }
        let fill = Fill {
            trade_id: tid,
            side,
            price: self.meta.price(price),
            qty: self.meta.qty(qty),
            fee: fee_money,
            liquidity,
        };
        if let Some(o) = self.book.orders.get(&id) {
            push_order_report(self.out, self.now, o, OrderEventKind::Filled(fill), None);
        }
        if futures {
            self.emit_futures(account, position_side);
        } else {
            self.emit_spot_balance(account, self.meta.spec.base);
            self.emit_spot_balance(account, self.meta.spec.quote);
        }
        if done {
            self.close_order(id, SimOrderStatus::Filled, None, None);
        }
    }

    /// Applies a futures execution to the account's position leg.
    fn apply_position(
        &mut self,
        account: AccountId,
        side: Side,
        position_side: PositionSide,
        price: i64,
        qty: i64,
    ) {
        let contract = self.meta.contract;
        let asset = self.meta.spec.margin_asset;
        let iid = self.iid;
        let default_leverage = self.default_leverage();
        self.accounts_changed = true;
        let Some(acct) = self.accounts.get_mut(&account) else {
            return;
        };
        let cfg = symbol_config(acct, iid, default_leverage);
        let mut pos = acct
            .positions
            .get(&(iid, position_side))
            .copied()
            .unwrap_or(Pos {
                mode: cfg.margin_mode,
                ..Pos::default()
            });
        let sign = side.sign();
        let mut wallet_delta = 0i128;
        let open = |pos: &mut Pos, add_qty: i64, wallet_delta: &mut i128| {
            if pos.qty == 0 {
                pos.mode = cfg.margin_mode;
            }
            pos.entry = contract
                .entry_after_add(pos.qty.abs(), pos.entry, add_qty, price)
                .unwrap_or(price);
            pos.qty += sign * add_qty;
            if pos.mode == MarginMode::Isolated {
                let im = contract
                    .notional(price, add_qty, Rounding::Up)
                    .and_then(|n| initial_margin(n, cfg.leverage))
                    .unwrap_or(0);
                pos.isolated += im;
                *wallet_delta -= im;
            }
        };
        if pos.qty == 0 || pos.qty.signum() == sign {
            open(&mut pos, qty, &mut wallet_delta);
        } else {
            let held = pos.qty.abs();
            let closed = qty.min(held);
            let closing = pos.qty.signum() * closed;
            let realized = contract.pnl(closing, pos.entry, price).unwrap_or(0);
            pos.realized += realized;
            wallet_delta += realized;
            if pos.mode == MarginMode::Isolated {
                let release = mul_div(
                    pos.isolated,
                    i128::from(closed),
                    i128::from(held),
                    Rounding::Down,
                )
                .unwrap_or(0);
                pos.isolated -= release;
                wallet_delta += release;
            }
            pos.qty -= closing;
            if pos.qty == 0 {
                pos.entry = 0;
                wallet_delta += std::mem::take(&mut pos.isolated);
                self.flat.push((account, position_side));
            }
            let rest = qty - closed;
            if rest > 0 {
                pos.realized = 0;
                open(&mut pos, rest, &mut wallet_delta);
            }
        }
        add(&mut acct.wallets, asset, wallet_delta);
        if pos.qty == 0 && pos.isolated == 0 {
            acct.positions.remove(&(iid, position_side));
        } else {
            acct.positions.insert((iid, position_side), pos);
        }
    }

    /// After fills: resting reducing orders of flat positions expire.
    #[inline]
    pub fn after_fills(&mut self) {
        // Nothing went flat (every book update without a fill): nothing to do.
        if !self.flat.is_empty() {
            self.expire_flat_reducing();
        }
    }

    /// [`Ctx::after_fills`] when some positions went flat.
    fn expire_flat_reducing(&mut self) {
        let flat = std::mem::take(&mut self.flat);
        for (account, leg) in flat {
            let still_flat = self
                .accounts
                .get(&account)
                .is_none_or(|a| a.positions.get(&(self.iid, leg)).is_none_or(|p| p.qty == 0));
            if !still_flat {
                continue;
            }
            let ids: Vec<VenueOrderId> = self
                .book
                .orders
                .values()
                .filter(|o| {
                    o.account == account && o.position_side == leg && o.triggered && o.is_reducing()
                })
                .map(|o| o.venue_order_id)
                .collect();
            for id in ids {
                self.close_order(
                    id,
                    SimOrderStatus::Expired,
                    Some(OrderEventKind::Expired),
                    Some(ExpireReason::NothingToReduce),
                );
            }
        }
    }

    // ------------------------------------------------------------ market-driven fills

    /// A public trade: fills resting simulated orders through and at its price.
    pub fn on_public_trade(&mut self, price: i64, qty: i64, aggressor: AggressorSide) {
        let resting = match aggressor {
            AggressorSide::Seller => Side::Buy,
            AggressorSide::Buyer => Side::Sell,
        };
        let mut left = qty;
        // Through: resting orders at prices better than the trade (a range
        // of the level map: no boxed iterator, and no allocation when there
        // are none, the usual case).
        let through: Vec<(i64, Vec<VenueOrderId>)> = match resting {
            Side::Buy => self
                .book
                .bids
                .range((Bound::Excluded(price), Bound::Unbounded))
                .rev()
                .map(|(p, ids)| (*p, ids.clone()))
                .collect(),
            Side::Sell => self
                .book
                .asks
                .range(..price)
                .map(|(p, ids)| (*p, ids.clone()))
                .collect(),
        };
        for (p, ids) in through {
            for id in ids {
                if left == 0 {
                    break;
                }
                left -= self.market_fill(id, p, left, aggressor);
            }
        }
        // At the trade's price: quantity ahead first.
        let ids = self
            .book
            .levels(resting)
            .get(&price)
            .cloned()
            .unwrap_or_default();
        if !ids.is_empty() {
            let mkt = self.book.market.effective(resting, price);
            let mut taken = 0i64;
            for id in &ids {
                if left == 0 {
                    break;
                }
                let Some(o) = self.book.orders.get(id) else {
                    continue;
                };
                let front = (o.queue_ahead.min(mkt) - taken).max(0);
                let m = left.min(front);
                taken += m;
                left -= m;
                if left == 0 {
                    break;
                }
                left -= self.market_fill(*id, price, left, aggressor);
            }
            if taken > 0 {
                self.reduce_ahead(resting, price, taken);
            }
            self.book.traded.add((resting, price), qty);
        }
        self.after_fills();
    }

    /// Fills resting order `id` for up to `max` at `price` as a maker against
    /// the replayed market. Returns the quantity filled.
    fn market_fill(
        &mut self,
        id: VenueOrderId,
        price: i64,
        max: i64,
        aggressor: AggressorSide,
    ) -> i64 {
        let Some(o) = self.book.orders.get(&id) else {
            return 0;
        };
        let cap = self.order_capacity(o);
        if cap <= 0 {
            self.close_order(
                id,
                SimOrderStatus::Expired,
                Some(OrderEventKind::Expired),
                Some(ExpireReason::NothingToReduce),
            );
            return 0;
        }
        let f = max.min(cap);
        if f <= 0 {
            return 0;
        }
        let tid = self.next_trade_id();
        self.fill(id, price, f, Liquidity::Maker, tid);
        self.trade(
            tid,
            price,
            f,
            aggressor,
            None,
            Counterparty::Account {
                account: self.book.find(id).map_or(AccountId(0), |o| o.account),
                venue_order_id: id,
            },
        );
        f
    }

    /// After the venue's book changed: queue positions follow the model and
    /// resting orders the book crossed fill. `before` holds the effective
    /// quantity of every resting level before the change.
    pub fn on_book_change(&mut self, before: &[((Side, i64), i64)]) {
        for &((side, price), prev) in before {
            let new = self.book.market.effective(side, price);
            if new == prev {
                continue;
            }
            let traded = self.book.traded.remove(&(side, price)).unwrap_or(0);
            // The level's ids and the orders are separate fields: no copy of
            // the id list is needed to update the orders.
            let Book {
                bids, asks, orders, ..
            } = &mut *self.book;
            let level = match side {
                Side::Buy => bids.get(&price),
                Side::Sell => asks.get(&price),
            };
            for id in level.map_or(&[][..], Vec::as_slice) {
                let Some(o) = orders.get_mut(id) else {
                    continue;
                };
                o.queue_ahead = self
                    .queue
                    .on_depth_change(
                        o.queue_ahead,
                        DepthChange {
                            prev_qty: prev,
                            new_qty: new,
                            traded,
                        },
                    )
                    .clamp(0, new.max(0));
            }
        }
        self.fill_crossed();
    }

    /// Resting simulated orders the venue's opposite side reached or crossed
    /// fill at their own price against that liquidity.
    fn fill_crossed(&mut self) {
        // Fast path: neither our best bid nor our best ask is reached by the
        // venue's opposite side (the usual book update): the loop below
        // would stop at its first check on both sides.
        if !self.reached(Side::Buy) && !self.reached(Side::Sell) {
            self.after_fills();
            return;
        }
        for side in [Side::Buy, Side::Sell] {
            let opp = side.opposite();
            loop {
                // The best resting level of our orders on this side, and its
                // first order (no allocation: this runs on every book update).
                // (`last_key_value`/`first_key_value` walk one edge of the
                // tree; an iterator would find both ends first.)
                let best = match side {
                    Side::Buy => self.book.bids.last_key_value(),
                    Side::Sell => self.book.asks.first_key_value(),
                };
                let Some((p, id)) = best.and_then(|(p, ids)| ids.first().map(|id| (*p, *id)))
                else {
                    break;
                };
                let Some((mp, mq)) = self.book.market.best_effective(opp) else {
                    break;
                };
                let crossed = match side {
                    Side::Buy => mp <= p,
                    Side::Sell => mp >= p,
                };
                if !crossed {
                    break;
                }
                let aggressor = match opp {
                    Side::Buy => AggressorSide::Buyer,
                    Side::Sell => AggressorSide::Seller,
                };
                let before_len = self.book.orders.len();
                let f = self.market_fill(id, p, mq, aggressor);
                if f > 0 {
                    self.book.market.consume(opp, mp, f);
                } else if self.book.orders.len() == before_len && self.book.orders.contains_key(&id)
                {
                    // Nothing could fill and nothing closed: stop to avoid spinning.
                    break;
                }
            }
        }
        self.after_fills();
    }

    /// Does the venue's best effective level on the other side reach our
    /// best resting level of `side`? (The first check of
    /// [`Ctx::fill_crossed`]'s loop; see [`Book::reached`].)
    #[inline(always)]
    fn reached(&self, side: Side) -> bool {
        self.book.reached(side)
    }

    // ------------------------------------------------------------ cancel / expire helpers

    /// Cancels every open order of `account` (optionally one side).
    pub fn cancel_all(&mut self, account: AccountId, side: Option<Side>) -> usize {
        let ids: Vec<VenueOrderId> = self
            .book
            .orders
            .values()
            .filter(|o| o.account == account && side.is_none_or(|s| o.side == s))
            .map(|o| o.venue_order_id)
            .collect();
        for id in &ids {
            self.close_order(
                *id,
                SimOrderStatus::Canceled,
                Some(OrderEventKind::Canceled),
                None,
            );
        }
        ids.len()
    }

    /// Expires GTD orders whose time has come.
    pub fn expire_gtd(&mut self) {
        let due: Vec<VenueOrderId> = self
            .book
            .gtd
            .iter()
            .take_while(|(t, _)| *t <= self.now)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            self.close_order(
                id,
                SimOrderStatus::Expired,
                Some(OrderEventKind::Expired),
                Some(ExpireReason::GoodTillDate),
            );
        }
    }

    /// Emits `Accepted` for a new conditional order and stores it.
    pub fn accept_waiting(&mut self, order: SimOrder) {
        self.emit_order(&order, OrderEventKind::Accepted, None);
        self.insert_open(order);
    }

    /// Emits an event for an open order (Updated, Triggered).
    pub fn emit_open(&mut self, id: VenueOrderId, kind: OrderEventKind) {
        if let Some(o) = self.book.orders.get(&id) {
            push_order_report(self.out, self.now, o, kind, None);
        }
    }
}
