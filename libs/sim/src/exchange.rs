//! [`SimExchange`]: the simulated venue. It owns the instruments (market book,
//! user book, orders), the accounts and the venue's own ledgers, takes
//! commands, market events and time, and queues [`SimReport`]s for the caller
//! to [`take`](SimExchange::take_reports).
//!
//! # Calls and time
//!
//! Every call carries the time it happens at (`now`, or the event's exchange
//! time for market events). Time never goes backwards: an earlier time is
//! treated as the current one. Before handling a call the venue catches up to
//! its time: good-till-date orders due by then expire, and funding due by then
//! is settled (see [`crate::futures`] and `docs/SIMULATION.md`). After the
//! call, conditional orders whose trigger price was reached are triggered (and
//! placed, which may trigger more), and futures accounts whose margin balance
//! fell below their maintenance margin are liquidated.
//!
//! Commands return `Ok` with the venue order id (or nothing) or a
//! [`VenueError`] worded as Binance words it; everything that happened is in
//! the reports. The same inputs in the same order always give the same
//! reports: there is no wall clock, no global state, no hash-ordered
//! iteration, and the only randomness is the queue model's own seeded RNG.

use std::collections::BTreeMap;

use veloz_core::events::{
    BookDeltas, MarketEvent, ModifyOrder, OrderEventKind, Quote, SubmitOrder, Trade,
};
use veloz_core::{
    ClientOrderId, Currency, Instrument, InstrumentId, MarginMode, MarketKind, Money, OrderCheck,
    OrderFlags, OrderType, PositionSide, Price, Quantity, Rounding, Side, TimeInForce,
    TriggerPriceType, UnixNanos, VenueOrderId, Violation,
};

use crate::account::{Account, MarginSummary, PositionView, SymbolConfig};
use crate::arith::mul_div;
use crate::engine::{
    add, cross_below_maintenance, isolated_below_maintenance, margin_summary, position_view,
    symbol_config, Book, Ctx, InstrumentSettings, Ledgers, Meta, Origin,
};
use crate::error::{SimError, VenueError};
use crate::idmap::IdMap;
use crate::market::MarketBook;
use crate::order::{AccountId, SimOrder, SimOrderStatus, StpMode, TrailingState};
use crate::queue::{ConservativeQueue, QueueModel};
use crate::report::{FundingPayment, LiquidatedPosition, LiquidationReport, SimReport};
use crate::trigger::{stop_triggers, trailing_level, trailing_update};
use veloz_market::BookError;

/// Leverage of a symbol an account never set (Binance's default is 20×).
pub const DEFAULT_LEVERAGE: u32 = 20;

/// Venue-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Self-trade prevention mode of orders that do not name one.
    pub default_stp: StpMode,
    /// A GTD order's expiry must be at least this far in the future
    /// (nanoseconds; Binance: 600 s). Zero disables the check.
    pub gtd_min_horizon_nanos: u64,
    /// How many closed orders per instrument stay queryable.
    pub closed_orders_kept: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            default_stp: StpMode::ExpireMaker,
            gtd_min_horizon_nanos: 600_000_000_000,
            closed_orders_kept: 10_000,
        }
    }
}

/// How far prices may move after a liquidation check that found nothing
/// before the check could find something (computed by that check; see
/// `SimExchange::price_room`). Any other input change (a wallet, a
/// position) runs the check again whatever the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PriceRoom {
    /// No room: every price change runs the check again.
    None,
    /// No open position: no price change can make the check find one.
    Anywhere,
    /// Every open position is on the instrument at index `at`, valued at
    /// `m0` by the check: the band is computed at the first change of that
    /// price; prices of other instruments do not matter.
    Pending {
        /// Index of the instrument in the venue's tables.
        at: usize,
        /// The price (raw) the check valued the positions at.
        m0: i64,
    },
    /// Every open position is on the instrument at index `at`: the check
    /// finds nothing while its mark (else last) price stays in `lo..=hi`;
    /// prices of other instruments do not matter.
    Band {
        /// Index of the instrument in the venue's tables.
        at: usize,
        /// Lowest price (raw) with nothing to liquidate.
        lo: i64,
        /// Highest price (raw) with nothing to liquidate.
        hi: i64,
    },
}

/// Which order a cancel or modify means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRef {
    /// By venue order id.
    Venue(VenueOrderId),
    /// By client order id (among the account's open orders).
    Client(ClientOrderId),
}

/// The simulated venue (see the module docs).
#[derive(Debug)]
pub struct SimExchange {
    config: SimConfig,
    queue: Box<dyn QueueModel>,
    metas: IdMap<Meta>,
    books: IdMap<Book>,
    accounts: BTreeMap<AccountId, Account>,
    ledgers: Ledgers,
    now: UnixNanos,
    /// No GTD expiry and no funding is due before this time: a lower bound
    /// on the earliest of them, so that catching up to a time before it
    /// (nearly every market event) checks nothing. Recomputed when reached,
    /// lowered when an engine call leaves an earlier expiry and when a mark
    /// price sets a funding time.
    due_from: UnixNanos,
    out: Vec<SimReport>,
    /// The last liquidation check found nothing, and nothing it reads (the
    /// accounts' wallets and positions, the instruments' mark and last
    /// prices) changed since: the next check would find nothing again and
    /// is skipped. Cleared by every change of those inputs (see
    /// [`SimExchange::inputs_changed`]).
    liquidation_clear: bool,
    /// How far prices may move, after a liquidation check that found
    /// nothing, before the check could find something (see [`PriceRoom`]):
    /// a price change within it keeps `liquidation_clear`.
    price_room: PriceRoom,
    /// Use `price_room` (off only to test it against the full check).
    use_price_room: bool,
    /// Take the market-data fast paths for instruments where our orders
    /// rest (see [`SimExchange::on_market_event`]); off only to test them
    /// against the general path.
    quiet_paths: bool,
}

impl Default for SimExchange {
    fn default() -> Self {
        Self::new(SimConfig::default(), Box::new(ConservativeQueue))
    }
}

fn first_violation(kind: MarketKind, side: Side, market: bool, v: &Violation) -> VenueError {
    let futures = kind.is_futures();
    if !futures {
        let filter = match v {
            Violation::NonPositivePrice { .. }
            | Violation::PriceBelowMin { .. }
            | Violation::PriceAboveMax { .. }
            | Violation::PriceNotOnTick { .. } => "PRICE_FILTER",
            Violation::NonPositiveQuantity { .. }
            | Violation::QuantityBelowMin { .. }
            | Violation::QuantityAboveMax { .. }
            | Violation::QuantityNotOnStep { .. } => {
                if market {
                    "MARKET_LOT_SIZE"
                } else {
                    "LOT_SIZE"
                }
            }
            Violation::NotionalBelowMin { .. } | Violation::NotionalAboveMax { .. } => "NOTIONAL",
            Violation::PriceOutsideBand { .. } => "PERCENT_PRICE_BY_SIDE",
            Violation::MissingPrice { .. } => return VenueError::missing_param("price"),
            Violation::MissingTriggerPrice { .. } => return VenueError::missing_param("stopPrice"),
            Violation::FlagNotSupported { flag, .. } => {
                return VenueError::param_not_required(flag)
            }
            Violation::TypeNotSupported { .. } | Violation::PostOnlyNotAllowed { .. } => {
                return VenueError::invalid_order_type()
            }
            Violation::MissingReferencePrice | Violation::Arithmetic(_) => {
                return VenueError::new(-1013, format!("Filter failure: {v}"))
            }
        };
        return VenueError::new(-1013, format!("Filter failure: {filter}"));
    }
    match v {
        Violation::NonPositivePrice { .. } => VenueError::new(-4001, "Price less than 0."),
        Violation::PriceBelowMin { .. } => VenueError::new(-4013, "Price less than min price."),
        Violation::PriceAboveMax { .. } => VenueError::new(-4002, "Price greater than max price."),
        Violation::PriceNotOnTick { .. } => {
            VenueError::new(-4014, "Price not increased by tick size.")
        }
        Violation::NonPositiveQuantity { .. } => {
            VenueError::new(-4003, "Quantity less than or equal to zero.")
        }
        Violation::QuantityBelowMin { .. } => {
            VenueError::new(-4004, "Quantity less than min quantity.")
        }
        Violation::QuantityAboveMax { .. } => {
            VenueError::new(-4005, "Quantity greater than max quantity.")
        }
        Violation::QuantityNotOnStep { .. } => {
            VenueError::new(-4023, "Qty not increased by step size.")
        }
        Violation::NotionalBelowMin { min, .. } => VenueError::new(
            -4164,
            format!(
                "Order's notional must be no smaller than {min} (unless you choose reduce only)."
            ),
        ),
        Violation::NotionalAboveMax { .. } => VenueError::new(
            -2027,
            "Exceeded the maximum allowable position at current leverage.",
        ),
        Violation::PriceOutsideBand { .. } => match side {
            Side::Buy => VenueError::new(-4016, "Price is higher than mark price multiplier cap."),
            Side::Sell => {
                VenueError::new(-4024, "Price is lower than mark price multiplier floor.")
            }
        },
        Violation::MissingPrice { .. } => VenueError::missing_param("price"),
        Violation::MissingTriggerPrice { .. } => VenueError::missing_param("stopPrice"),
        Violation::FlagNotSupported { flag, .. } => VenueError::param_not_required(flag),
        Violation::TypeNotSupported { .. } | Violation::PostOnlyNotAllowed { .. } => {
            VenueError::invalid_order_type()
        }
        Violation::MissingReferencePrice | Violation::Arithmetic(_) => VenueError::new(
            -1111,
            format!("Precision is over the maximum defined for this asset: {v}"),
        ),
    }
}

/// Market data for an instrument the venue does not simulate.
#[cold]
#[inline(never)]
fn unknown_instrument(iid: &InstrumentId) -> SimError {
    SimError::UnknownInstrument(*iid)
}

/// A market-data refusal of the venue's book, as the venue reports it.
#[cold]
#[inline(never)]
fn market_error(e: BookError) -> SimError {
    SimError::Market(e.to_string())
}

impl SimExchange {
    /// A venue with `config` and a queue model.
    pub fn new(config: SimConfig, queue: Box<dyn QueueModel>) -> Self {
        Self {
            config,
            queue,
            metas: IdMap::new(),
            books: IdMap::new(),
            accounts: BTreeMap::new(),
            ledgers: Ledgers::default(),
            now: UnixNanos::ZERO,
            due_from: UnixNanos::ZERO,
            out: Vec::new(),
            liquidation_clear: false,
            price_room: PriceRoom::None,
            use_price_room: true,
            quiet_paths: true,
        }
    }

    /// Switches off (or back on) the price room of the liquidation check
    /// (see [`PriceRoom`]), so that every price change runs the full check
    /// again. The results are the same either way; this exists to test
    /// exactly that.
    #[doc(hidden)]
    pub fn set_price_room(&mut self, on: bool) {
        self.use_price_room = on;
    }

    /// Switches off (or back on) the market-data fast paths taken while our
    /// orders rest on an instrument (depth messages and quotes that touch
    /// none of our levels, trades that reach none of our prices), so that
    /// every such event takes the general path. The results are the same
    /// either way; this exists to test exactly that.
    #[doc(hidden)]
    pub fn set_quiet_paths(&mut self, on: bool) {
        self.quiet_paths = on;
    }

    /// Something the liquidation check reads changed (a wallet, a position,
    /// a mark or last price): the next check runs in full.
    #[inline]
    fn inputs_changed(&mut self) {
        self.liquidation_clear = false;
    }

    /// A public trade at `price` on the instrument at index `at` of `metas`:
    /// its last price, which values its positions where no mark is known
    /// (so a change is an input change of the liquidation check, unless it
    /// stays within the check's price room).
    #[inline]
    fn set_last_price(&mut self, at: usize, price: i64) {
        if let Some(m) = self.metas.value_at_mut(at) {
            if m.last != Some(price) {
                m.last = Some(price);
                self.price_moved(at);
            }
        }
    }

    /// The last or mark price of the instrument at index `at` changed (and
    /// nothing else the liquidation check reads): a clear check stays clear
    /// while the price that values its positions stays within the room
    /// computed by that check.
    #[inline]
    fn price_moved(&mut self, at: usize) {
        if !self.liquidation_clear {
            return;
        }
        if let PriceRoom::Pending { at: a, m0 } = self.price_room {
            if a == at {
                // The first move of the positions' price since the check:
                // the room around the price the check used (nothing else
                // changed since, or the check would not be clear).
                self.price_room = self.price_band(a, m0);
            }
        }
        let keep = self.use_price_room
            && match self.price_room {
                PriceRoom::Anywhere => true,
                PriceRoom::Pending { at: a, .. } => a != at,
                PriceRoom::Band { at: a, lo, hi } => {
                    a != at
                        || self
                            .metas
                            .value_at(at)
                            .and_then(Meta::mark_or_last)
                            .is_some_and(|m| lo <= m && m <= hi)
                }
                PriceRoom::None => false,
            };
        if !keep {
            self.inputs_changed();
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The queue model.
    pub fn queue_model(&self) -> &dyn QueueModel {
        &*self.queue
    }

    /// The venue's current time (the latest time it was given).
    pub fn now(&self) -> UnixNanos {
        self.now
    }

    /// Are reports queued (would [`take_reports`](Self::take_reports) return any)?
    #[inline]
    pub fn has_reports(&self) -> bool {
        !self.out.is_empty()
    }

    /// Takes every report queued since the last call, keeping the queue's
    /// capacity for the next ones (no allocation per call, unlike
    /// [`take_reports`](Self::take_reports)).
    pub fn drain_reports(&mut self) -> std::vec::Drain<'_, SimReport> {
        self.out.drain(..)
    }

    /// Takes every report queued since the last call.
    pub fn take_reports(&mut self) -> Vec<SimReport> {
        std::mem::take(&mut self.out)
    }

    // ------------------------------------------------------------ setup

    /// Adds an instrument to simulate.
    pub fn add_instrument(
        &mut self,
        spec: Instrument,
        settings: InstrumentSettings,
    ) -> Result<(), SimError> {
        let id = spec.id;
        if self.metas.contains_key(&id) {
            return Err(SimError::DuplicateInstrument(id));
        }
        if settings.fee_precision > veloz_core::FIXED_PRECISION {
            return Err(SimError::InvalidParameter(format!(
                "fee_precision {} is above 8 decimals",
                settings.fee_precision
            )));
        }
        if spec.id.kind.is_futures() && settings.margin_tiers.is_empty() {
            return Err(SimError::InvalidParameter(format!(
                "{id}: a futures instrument needs at least one margin tier"
            )));
        }
        self.books.insert(id, Book::new(&spec, &settings));
        self.metas.insert(id, Meta::new(spec, settings));
        self.inputs_changed();
        Ok(())
    }

    /// The trading rules of a simulated instrument.
    pub fn instrument(&self, id: InstrumentId) -> Option<&Instrument> {
        self.metas.get(&id).map(|m| &m.spec)
    }

    /// Every simulated instrument id, in order.
    pub fn instruments(&self) -> impl Iterator<Item = InstrumentId> + '_ {
        self.metas.keys().copied()
    }

    /// Opens an account (no-op if it exists).
    pub fn open_account(&mut self, id: AccountId) {
        self.accounts.entry(id).or_default();
        self.inputs_changed();
    }

    /// Credits (or, negative, debits) the spot wallet.
    pub fn deposit_spot(&mut self, account: AccountId, amount: Money) -> Result<(), SimError> {
        let acct = self
            .accounts
            .get_mut(&account)
            .ok_or(SimError::UnknownAccount(account))?;
        let b = acct.spot.entry(amount.currency()).or_default();
        if b.free + amount.raw() < 0 {
            return Err(SimError::InvalidParameter(format!(
                "cannot withdraw {amount}: only {} free",
                Money::from_raw(b.free, amount.currency())
            )));
        }
        b.free += amount.raw();
        let (free, locked) = (b.free, b.locked);
        self.out.push(SimReport::Account {
            account,
            event: veloz_core::events::AccountEvent::Balance(veloz_core::events::Balance {
                kind: veloz_core::MarketKind::Spot,
                asset: amount.currency(),
                free: Money::from_raw(free, amount.currency()),
                locked: Money::from_raw(locked, amount.currency()),
                times: veloz_core::events::EventTimes::new(self.now, self.now),
            }),
        });
        Ok(())
    }

    /// Credits (or, negative, debits) the futures wallet of a margin asset.
    pub fn deposit_futures(&mut self, account: AccountId, amount: Money) -> Result<(), SimError> {
        let acct = self
            .accounts
            .get_mut(&account)
            .ok_or(SimError::UnknownAccount(account))?;
        add(&mut acct.wallets, amount.currency(), amount.raw());
        self.liquidation_clear = false;
        if let Some(m) = margin_summary(&self.metas, acct, amount.currency(), DEFAULT_LEVERAGE) {
            self.out.push(SimReport::Account {
                account,
                event: veloz_core::events::AccountEvent::Margin(veloz_core::events::MarginReport {
                    asset: m.asset,
                    wallet_balance: m.wallet_balance,
                    initial_margin: Money::from_raw(
                        m.position_initial_margin.raw() + m.order_initial_margin.raw(),
                        m.asset,
                    ),
                    maintenance_margin: m.maint_margin,
                    times: veloz_core::events::EventTimes::new(self.now, self.now),
                }),
            });
        }
        Ok(())
    }

    /// Sets the leverage of a symbol (`-4028` outside 1..=the first tier's maximum).
    pub fn set_leverage(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        leverage: u32,
    ) -> Result<(), VenueError> {
        let meta = self
            .metas
            .get(&instrument)
            .filter(|m| m.is_futures())
            .ok_or_else(VenueError::invalid_symbol)?;
        let max = meta
            .settings
            .margin_tiers
            .first()
            .map_or(125, |t| t.max_leverage);
        if leverage == 0 || leverage > max {
            return Err(VenueError::invalid_leverage(leverage));
        }
        let acct = self
            .accounts
            .get_mut(&account)
            .ok_or_else(VenueError::unknown_account)?;
        let cfg = symbol_config(acct, instrument, DEFAULT_LEVERAGE);
        acct.symbols.insert(
            instrument,
            SymbolConfig {
                leverage,
                margin_mode: cfg.margin_mode,
            },
        );
        Ok(())
    }

    /// Sets cross or isolated margin for a symbol (`-4046` no change, `-4047`
    /// open orders, `-4048` open position).
    pub fn set_margin_mode(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        mode: MarginMode,
    ) -> Result<(), VenueError> {
        if !self.metas.get(&instrument).is_some_and(Meta::is_futures) {
            return Err(VenueError::invalid_symbol());
        }
        let has_orders = self
            .books
            .get(&instrument)
            .is_some_and(|b| b.orders.values().any(|o| o.account == account));
        let acct = self
            .accounts
            .get_mut(&account)
            .ok_or_else(VenueError::unknown_account)?;
        let cfg = symbol_config(acct, instrument, DEFAULT_LEVERAGE);
        if cfg.margin_mode == mode {
            return Err(VenueError::new(-4046, "No need to change margin type."));
        }
        if has_orders {
            return Err(VenueError::new(
                -4047,
                "Margin type cannot be changed if there exists open orders.",
            ));
        }
        if acct
            .positions
            .iter()
            .any(|((i, _), p)| i == instrument && p.qty != 0)
        {
            return Err(VenueError::new(
                -4048,
                "Margin type cannot be changed if there exists position.",
            ));
        }
        acct.symbols.insert(
            instrument,
            SymbolConfig {
                leverage: cfg.leverage,
                margin_mode: mode,
            },
        );
        Ok(())
    }

    /// Switches one-way (`false`) or hedge (`true`) position mode (`-4059`
    /// no change, `-4067` open orders, `-4068` open positions).
    pub fn set_hedge_mode(&mut self, account: AccountId, hedge: bool) -> Result<(), VenueError> {
        let futures_orders = self
            .books
            .iter()
            .any(|(id, b)| id.kind.is_futures() && b.orders.values().any(|o| o.account == account));
        let acct = self
            .accounts
            .get_mut(&account)
            .ok_or_else(VenueError::unknown_account)?;
        if acct.hedge_mode == hedge {
            return Err(VenueError::new(-4059, "No need to change position side."));
        }
        if futures_orders {
            return Err(VenueError::new(
                -4067,
                "Position side cannot be changed if there exists open orders.",
            ));
        }
        if acct.has_positions() {
            return Err(VenueError::new(
                -4068,
                "Position side cannot be changed if there exists position.",
            ));
        }
        acct.hedge_mode = hedge;
        Ok(())
    }

    // ------------------------------------------------------------ queries

    /// An account.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    /// Every account id, in order.
    pub fn account_ids(&self) -> impl Iterator<Item = AccountId> + '_ {
        self.accounts.keys().copied()
    }

    /// An order (open, or among the kept closed ones).
    pub fn order(&self, instrument: InstrumentId, id: VenueOrderId) -> Option<&SimOrder> {
        self.books.get(&instrument)?.find(id)
    }

    /// An open order by client order id.
    pub fn open_order_by_client_id(
        &self,
        account: AccountId,
        instrument: InstrumentId,
        client_order_id: ClientOrderId,
    ) -> Option<&SimOrder> {
        let b = self.books.get(&instrument)?;
        let id = b.client_ids.get(&(account, client_order_id))?;
        b.orders.get(id).map(|o| &**o)
    }

    /// Open orders of an account on an instrument, by venue order id.
    pub fn open_orders(&self, account: AccountId, instrument: InstrumentId) -> Vec<&SimOrder> {
        self.books.get(&instrument).map_or_else(Vec::new, |b| {
            b.orders
                .values()
                .filter(|o| o.account == account)
                .map(|o| &**o)
                .collect()
        })
    }

    /// The replayed market book of an instrument.
    pub fn market_book(&self, instrument: InstrumentId) -> Option<&MarketBook> {
        self.books.get(&instrument).map(|b| &b.market)
    }

    /// Last trade price (public or simulated).
    pub fn last_price(&self, instrument: InstrumentId) -> Option<Price> {
        let m = self.metas.get(&instrument)?;
        m.last.map(|p| m.price(p))
    }

    /// Last mark price received.
    pub fn mark_price(&self, instrument: InstrumentId) -> Option<Price> {
        let m = self.metas.get(&instrument)?;
        m.mark.map(|p| m.price(p))
    }

    /// A futures position (zero quantity if flat).
    pub fn position(
        &self,
        account: AccountId,
        instrument: InstrumentId,
        position_side: PositionSide,
    ) -> Option<PositionView> {
        let meta = self.metas.get(&instrument)?;
        let acct = self.accounts.get(&account)?;
        position_view(meta, acct, (instrument, position_side), DEFAULT_LEVERAGE)
    }

    /// Every open futures position of an account.
    pub fn positions(&self, account: AccountId) -> Vec<PositionView> {
        let Some(acct) = self.accounts.get(&account) else {
            return Vec::new();
        };
        acct.positions
            .keys()
            .filter_map(|k| {
                let meta = self.metas.get(&k.0)?;
                position_view(meta, acct, k, DEFAULT_LEVERAGE)
            })
            .collect()
    }

    /// The margin summary of a futures account in one margin asset.
    pub fn margin(&self, account: AccountId, asset: Currency) -> Option<MarginSummary> {
        let acct = self.accounts.get(&account)?;
        margin_summary(&self.metas, acct, asset, DEFAULT_LEVERAGE)
    }

    /// Trading fees the venue collected, per asset (negative = net rebates).
    pub fn fees_collected(&self) -> Vec<Money> {
        self.ledgers
            .fees
            .iter()
            .map(|(c, v)| Money::from_raw(*v, *c))
            .collect()
    }

    /// Fees collected in one asset.
    pub fn fees_in(&self, asset: Currency) -> Money {
        Money::from_raw(self.ledgers.fees.get(&asset).copied().unwrap_or(0), asset)
    }

    /// Liquidation clearance fees collected in one asset.
    pub fn clearance_fees_in(&self, asset: Currency) -> Money {
        Money::from_raw(
            self.ledgers.clearance.get(&asset).copied().unwrap_or(0),
            asset,
        )
    }

    /// Losses beyond margin the insurance fund covered, in one asset.
    pub fn insurance_paid_in(&self, asset: Currency) -> Money {
        Money::from_raw(
            self.ledgers.insurance.get(&asset).copied().unwrap_or(0),
            asset,
        )
    }

    /// Net funding credited to accounts in one asset.
    pub fn funding_net_in(&self, asset: Currency) -> Money {
        Money::from_raw(
            self.ledgers.funding.get(&asset).copied().unwrap_or(0),
            asset,
        )
    }

    // ------------------------------------------------------------ internals

    fn with_ctx<R>(&mut self, iid: InstrumentId, f: impl FnOnce(&mut Ctx<'_>) -> R) -> Option<R> {
        let at = self.books.index_of(&iid)?;
        self.with_ctx_at(at, iid, f)
    }

    /// [`SimExchange::with_ctx`] for the instrument `iid` found at index `at`
    /// of `books` (and so of `metas`: both have the same keys), without
    /// searching for it again.
    #[inline]
    fn with_ctx_at<R>(
        &mut self,
        at: usize,
        iid: InstrumentId,
        f: impl FnOnce(&mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let meta = self.metas.value_at(at)?;
        debug_assert_eq!(meta.spec.id, iid);
        let book = self.books.value_at_mut(at)?;
        let mut ctx = Ctx {
            iid,
            meta,
            metas: &self.metas,
            book,
            accounts: &mut self.accounts,
            ledgers: &mut self.ledgers,
            queue: &mut *self.queue,
            out: &mut self.out,
            closed_kept: self.config.closed_orders_kept,
            now: self.now,
            last: None,
            flat: Vec::new(),
            accounts_changed: false,
        };
        let r = f(&mut ctx);
        // The call may have given an order an expiry earlier than `due_from`.
        if let Some(&(e, _)) = ctx.book.gtd.first() {
            self.due_from = self.due_from.min(e);
        }
        let (last, accounts_changed) = (ctx.last, ctx.accounts_changed);
        if let (Some(l), Some(m)) = (last, self.metas.value_at_mut(at)) {
            m.last = Some(l);
        }
        if accounts_changed || last.is_some() {
            self.inputs_changed();
        }
        Some(r)
    }

    /// Catches up to `now`: GTD expiry and funding due by then.
    #[inline]
    fn advance_to(&mut self, now: UnixNanos) {
        if now > self.now {
            self.now = now;
        }
        // Fast path: nothing can be due before `due_from`.
        if self.now < self.due_from {
            return;
        }
        self.advance_due();
    }

    /// [`SimExchange::advance_to`] once `due_from` is reached: expires GTD
    /// orders and settles funding due by now, then computes the next
    /// `due_from`.
    #[inline(never)]
    fn advance_due(&mut self) {
        let t = self.now;
        let gtd_due = self
            .books
            .values()
            .any(|b| b.gtd.iter().next().is_some_and(|(e, _)| *e <= t));
        let funding_due = self.metas.values().any(|m| {
            m.next_funding
                .is_some_and(|f| m.is_futures() && f <= t && m.last_funding.is_none_or(|l| l < f))
        });
        if gtd_due || funding_due {
            let ids: Vec<InstrumentId> = self.metas.keys().copied().collect();
            let mut funded = false;
            for iid in ids {
                self.with_ctx(iid, |c| c.expire_gtd());
                let due = self.metas.get(&iid).and_then(|m| {
                    let t = m.next_funding?;
                    (m.is_futures() && t <= self.now && m.last_funding.is_none_or(|l| l < t))
                        .then_some((t, m.funding_rate.unwrap_or(0)))
                });
                if let Some((t, rate)) = due {
                    self.settle_funding_at(iid, rate, t);
                    funded = true;
                }
            }
            if funded {
                self.check_liquidations();
            }
        }
        self.due_from = self.next_due();
    }

    /// The earliest GTD expiry or pending funding time (what
    /// [`SimExchange::advance_due`] checks), or the end of time.
    fn next_due(&self) -> UnixNanos {
        let gtd = self
            .books
            .values()
            .filter_map(|b| b.gtd.first().map(|(e, _)| *e));
        let funding = self.metas.values().filter_map(|m| {
            m.next_funding
                .filter(|&f| m.is_futures() && m.last_funding.is_none_or(|l| l < f))
        });
        gtd.chain(funding).min().unwrap_or(UnixNanos(u64::MAX))
    }

    /// Moves the venue's clock to `now` (GTD expiry, funding, triggers).
    pub fn advance_time(&mut self, now: UnixNanos) {
        self.advance_to(now);
        self.after_call(None);
    }

    /// Settles funding for every position of `instrument` at `rate` and the
    /// current mark price (use this to drive funding from historical funding
    /// data instead of `MarkPrice` events).
    pub fn settle_funding(
        &mut self,
        instrument: InstrumentId,
        rate: Price,
        now: UnixNanos,
    ) -> Result<(), SimError> {
        if !self.metas.get(&instrument).is_some_and(Meta::is_futures) {
            return Err(SimError::UnknownInstrument(instrument));
        }
        self.advance_to(now);
        let t = self.now;
        self.settle_funding_at(instrument, rate.raw(), t);
        self.check_liquidations();
        Ok(())
    }

    fn settle_funding_at(&mut self, iid: InstrumentId, rate: i64, time: UnixNanos) {
        let Some(meta) = self.metas.get(&iid) else {
            return;
        };
        let (contract, asset) = (meta.contract, meta.spec.margin_asset);
        let Some(mark) = meta.mark_or_last() else {
            if let Some(m) = self.metas.get_mut(&iid) {
                m.last_funding = Some(time);
            }
            self.due_from = UnixNanos::ZERO;
            return;
        };
        let (mark_p, rate_p) = (meta.price(mark), Price::from_raw(rate, 8));
        let mut touched = Vec::new();
        self.liquidation_clear = false;
        for (aid, acct) in self.accounts.iter_mut() {
            for ((i, leg), pos) in acct.positions.iter_mut() {
                if i != iid || pos.qty == 0 {
                    continue;
                }
                let amount = contract.funding(pos.qty, mark, rate).unwrap_or(0);
                if pos.mode == MarginMode::Isolated {
                    pos.isolated += amount;
                } else {
                    add(&mut acct.wallets, asset, amount);
                }
                add(&mut self.ledgers.funding, asset, amount);
                self.out.push(SimReport::Funding(FundingPayment {
                    account: *aid,
                    instrument: iid,
                    position_side: leg,
                    position_qty: Quantity::from_raw(pos.qty, meta.spec.qty_precision),
                    mark: mark_p,
                    rate: rate_p,
                    amount: Money::from_raw(amount, asset),
                    time,
                }));
                touched.push((*aid, leg));
            }
        }
        if let Some(m) = self.metas.get_mut(&iid) {
            m.last_funding = Some(time);
        }
        // What is due depends on the last funding time: check again next time.
        self.due_from = UnixNanos::ZERO;
        for (aid, leg) in touched {
            self.with_ctx(iid, |c| c.emit_futures(aid, leg));
        }
    }

    /// After a call: triggers (repeatedly, as placing may move the last
    /// price) and liquidations.
    fn after_call(&mut self, only: Option<InstrumentId>) {
        self.after_call_checked(only, true);
    }

    /// After a command: the liquidation check only if something traded
    /// (placing, amending or canceling orders moves no position or price).
    fn after_command(&mut self, only: Option<InstrumentId>, reports_before: usize) {
        let traded = self.out[reports_before.min(self.out.len())..]
            .iter()
            .any(|r| matches!(r, SimReport::Trade(_)));
        self.after_call_checked(only, traded);
    }

    /// Triggers, then (if `liquidations`) the liquidation check. A book
    /// update that filled nothing moves neither the mark nor the last price
    /// nor any margin, so it skips the liquidation check.
    fn after_call_checked(&mut self, only: Option<InstrumentId>, liquidations: bool) {
        match only {
            Some(i) => self.process_triggers(i),
            None => {
                let ids: Vec<InstrumentId> = self.metas.keys().copied().collect();
                for iid in ids {
                    self.process_triggers(iid);
                }
            }
        }
        if liquidations {
            self.check_liquidations();
        }
    }

    /// Fires the stop and trailing orders of `iid` whose trigger price was
    /// reached (inlined check: usually nothing is waiting).
    #[inline(always)]
    fn process_triggers(&mut self, iid: InstrumentId) {
        // Usually no instrument has a waiting order: a scan of the (few)
        // books' counts is cheaper than the keyed lookup below.
        if self.books.values().all(|b| b.waiting.is_empty()) {
            return;
        }
        let waiting = self.books.get(&iid).map_or(0, |b| b.waiting.len());
        if waiting != 0 {
            self.fire_triggers(iid, waiting);
        }
    }

    fn fire_triggers(&mut self, iid: InstrumentId, waiting: usize) {
        let limit = waiting + 1;
        for _ in 0..limit {
            let Some(meta) = self.metas.get(&iid) else {
                return;
            };
            let (last, mark) = (
                meta.last.map(|p| meta.price(p)),
                meta.mark.map(|p| meta.price(p)),
            );
            let Some(book) = self.books.get_mut(&iid) else {
                return;
            };
            let mut fired = Vec::new();
            let waiting: Vec<VenueOrderId> = book.waiting.iter().copied().collect();
            for id in waiting {
                let Some(o) = book.orders.get_mut(&id) else {
                    continue;
                };
                let price = match o.trigger_type {
                    TriggerPriceType::Last => last,
                    TriggerPriceType::Mark => mark,
                };
                let Some(price) = price else { continue };
                let fire = if let Some(t) = o.trailing.as_mut() {
                    let f = trailing_update(t, o.side, price);
                    o.trigger_price = trailing_level(t, o.side);
                    f
                } else {
                    o.trigger_price
                        .is_some_and(|s| stop_triggers(o.order_type, o.side, s, price))
                };
                if fire {
                    fired.push(id);
                }
            }
            if fired.is_empty() {
                return;
            }
            for id in fired {
                self.with_ctx(iid, |c| {
                    c.book.waiting.remove(&id);
                    let Some(o) = c.book.orders.get_mut(&id) else {
                        return;
                    };
                    o.triggered = true;
                    o.updated = c.now;
                    let order = SimOrder::clone(o);
                    c.emit_open(id, OrderEventKind::Triggered);
                    let _ = c.place(order, Origin::Triggered);
                });
            }
        }
    }

    /// Liquidates every futures account whose margin fell below maintenance
    /// (inlined skip: usually nothing the check reads changed).
    #[inline(always)]
    fn check_liquidations(&mut self) {
        if !self.liquidation_clear {
            self.check_liquidations_now();
        }
    }

    fn check_liquidations_now(&mut self) {
        // Fast path: decide without allocating whether anything is due (the
        // usual answer); only then collect and liquidate below.
        if !self.liquidation_due() {
            self.liquidation_clear = true;
            self.price_room = self.price_room_scan();
            return;
        }
        let accounts: Vec<AccountId> = self
            .accounts
            .iter()
            .filter(|(_, a)| a.has_positions())
            .map(|(id, _)| *id)
            .collect();
        for aid in accounts {
            let Some(acct) = self.accounts.get(&aid) else {
                continue;
            };
            let mut cross_assets: Vec<Currency> = Vec::new();
            let mut isolated = Vec::new();
            for ((iid, leg), pos) in acct.positions.iter() {
                let Some(meta) = self.metas.get(&iid) else {
                    continue;
                };
                if pos.qty == 0 {
                    continue;
                }
                match pos.mode {
                    MarginMode::Cross => {
                        if !cross_assets.contains(&meta.spec.margin_asset) {
                            cross_assets.push(meta.spec.margin_asset);
                        }
                    }
                    MarginMode::Isolated => {
                        if isolated_below_maintenance(meta, pos) {
                            isolated.push((iid, leg));
                        }
                    }
                }
            }
            let mut liquidate_cross = Vec::new();
            for asset in cross_assets {
                if let Some(s) = margin_summary(&self.metas, acct, asset, DEFAULT_LEVERAGE) {
                    if s.margin_balance.raw() < s.maint_margin.raw() {
                        liquidate_cross.push(asset);
                    }
                }
            }
            for asset in liquidate_cross {
                self.liquidate(aid, asset, None);
            }
            for (iid, leg) in isolated {
                let asset = self.metas.get(&iid).map(|m| m.spec.margin_asset);
                if let Some(asset) = asset {
                    self.liquidate(aid, asset, Some((iid, leg)));
                }
            }
        }
    }

    /// How far the price of the one instrument with open positions can move
    /// before the liquidation check could find something, just after a
    /// check that found nothing (see [`PriceRoom`]).
    ///
    /// Each unit the check tests (an account's cross positions in the
    /// instrument's margin asset; an isolated position) has a margin
    /// (wallet or isolated margin, plus unrealised PnL) at least its
    /// maintenance margin; their difference `h` is the headroom. For a
    /// linear contract with a one-tier margin table, moving the price by
    /// `d` (raw) changes a leg's PnL by `q × d / 10^8` and its maintenance
    /// margin by `rate × q × d / 10^16`, each exactly but for the rounding
    /// of the PnL (down, < 1 unit), the notional (half-even, < 1 unit, so
    /// < `rate / 10^8` unit of margin) and the margin (up, < 1 unit). So
    /// with `Q` the sum of the unit's absolute quantities and `n` its legs,
    /// the headroom falls by less than
    /// `Q × |d| × (10^8 + rate) / 10^16 + n × (3 + rate / 10^8)`,
    /// and while that is at most `h` the unit stays at or above its
    /// maintenance margin. The room is the smallest such `|d|` bound over
    /// the units, around the price the check valued the positions at.
    /// Anything else (several instruments with positions, an inverse
    /// contract, a table of several tiers, a position valued at its entry
    /// for want of a price) gets no room: every price change runs the check.
    ///
    /// This scan finds the instrument and the price; the bound itself
    /// ([`SimExchange::price_band`]) is computed at the first move of that
    /// price, as most checks are followed by another input change first.
    fn price_room_scan(&self) -> PriceRoom {
        let mut inst: Option<usize> = None;
        for acct in self.accounts.values() {
            for ((iid, _), pos) in acct.positions.iter() {
                if pos.qty == 0 {
                    continue;
                }
                let Some(at) = self.metas.index_of(&iid) else {
                    // The check skips it, and no price of ours moves it.
                    continue;
                };
                if inst.is_some_and(|i| i != at) {
                    return PriceRoom::None;
                }
                inst = Some(at);
            }
        }
        let Some(at) = inst else {
            // No open position: no price can make the check find one.
            return PriceRoom::Anywhere;
        };
        match self.metas.value_at(at).and_then(Meta::mark_or_last) {
            Some(m0) => PriceRoom::Pending { at, m0 },
            None => PriceRoom::None,
        }
    }

    /// The room of [`SimExchange::price_room_scan`] around `m0`, the price
    /// that valued the positions (all on the instrument at index `at`) at
    /// the last check, which found nothing; nothing but that price has
    /// changed since.
    fn price_band(&self, at: usize, m0: i64) -> PriceRoom {
        let Some(meta) = self.metas.value_at(at) else {
            return PriceRoom::None;
        };
        let ([tier], crate::futures::Contract::Linear) =
            (meta.settings.margin_tiers.as_slice(), meta.contract)
        else {
            return PriceRoom::None;
        };
        let rate = i128::from(tier.maint_margin_rate.raw());
        if rate < 0 {
            return PriceRoom::None;
        }
        let iid = meta.spec.id;
        let asset = meta.spec.margin_asset;
        // (margin - maintenance, Σ|q|, legs) of one unit -> its room.
        let room = |h: i128, q: i128, legs: i128| -> Option<i128> {
            let slack = legs.checked_mul(3 + rate / crate::arith::SCALE + 1)?;
            let h = h - slack;
            if h <= 0 || q == 0 {
                return Some(0);
            }
            mul_div(
                h,
                crate::arith::SCALE * crate::arith::SCALE,
                q.checked_mul(crate::arith::SCALE + rate)?,
                Rounding::Down,
            )
        };
        // (PnL, maintenance margin) of one leg at `m0`, as the check
        // computes them.
        let leg = |pos: &crate::account::Pos| -> Option<(i128, i128)> {
            let notional = meta.contract.notional(m0, pos.qty, Rounding::HalfEven)?;
            let pnl = meta.contract.pnl(pos.qty, pos.entry, m0)?;
            let mm = crate::futures::maintenance_margin(&meta.settings.margin_tiers, notional)?;
            Some((pnl, mm))
        };
        let mut best = i128::MAX;
        for acct in self.accounts.values() {
            let (mut upnl, mut mm, mut q, mut legs) = (0i128, 0i128, 0i128, 0i128);
            for ((i, _), pos) in acct.positions.iter() {
                if pos.qty == 0 || i != iid {
                    continue;
                }
                let Some((pnl, m)) = leg(pos) else {
                    return PriceRoom::None;
                };
                match pos.mode {
                    MarginMode::Cross => {
                        upnl += pnl;
                        mm += m;
                        q += i128::from(pos.qty).abs();
                        legs += 1;
                    }
                    MarginMode::Isolated => {
                        let Some(r) = room(pos.isolated + pnl - m, i128::from(pos.qty).abs(), 1)
                        else {
                            return PriceRoom::None;
                        };
                        best = best.min(r);
                    }
                }
            }
            if legs > 0 {
                let wallet = acct.wallets.get(&asset).copied().unwrap_or(0);
                let Some(r) = room(wallet + upnl - mm, q, legs) else {
                    return PriceRoom::None;
                };
                best = best.min(r);
            }
        }
        let m0 = i128::from(m0);
        let clamp = |v: i128| i64::try_from(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)));
        match (
            clamp(m0.saturating_sub(best)),
            clamp(m0.saturating_add(best)),
        ) {
            (Ok(lo), Ok(hi)) => PriceRoom::Band { at, lo, hi },
            _ => PriceRoom::None,
        }
    }

    /// Would [`SimExchange::check_liquidations`] liquidate anything? The same
    /// decision per position and per cross margin asset, without collecting.
    fn liquidation_due(&self) -> bool {
        for acct in self.accounts.values() {
            for (n, ((iid, _), pos)) in acct.positions.iter().enumerate() {
                if pos.qty == 0 {
                    continue;
                }
                let Some(meta) = self.metas.get(&iid) else {
                    continue;
                };
                match pos.mode {
                    MarginMode::Cross => {
                        let asset = meta.spec.margin_asset;
                        // Each cross asset once: skip it if an earlier open
                        // cross position (with a known instrument) had it.
                        let seen = acct.positions.iter().take(n).any(|((i, _), p)| {
                            p.qty != 0
                                && p.mode == MarginMode::Cross
                                && self
                                    .metas
                                    .get(&i)
                                    .is_some_and(|m| m.spec.margin_asset == asset)
                        });
                        if !seen && cross_below_maintenance(&self.metas, acct, asset) {
                            return true;
                        }
                    }
                    MarginMode::Isolated => {
                        if isolated_below_maintenance(meta, pos) {
                            return true;
                        }
                    }
                }
            }
        }
        false
    }

    /// Closes positions at the mark price: every cross position of `asset`
    /// (`which` = `None`), or one isolated position.
    fn liquidate(
        &mut self,
        aid: AccountId,
        asset: Currency,
        which: Option<(InstrumentId, PositionSide)>,
    ) {
        self.inputs_changed();
        // Cancel the account's open orders on the instruments concerned.
        let iids: Vec<InstrumentId> = match which {
            Some((iid, _)) => vec![iid],
            None => self
                .metas
                .iter()
                .filter(|(_, m)| m.is_futures() && m.spec.margin_asset == asset)
                .map(|(i, _)| *i)
                .collect(),
        };
        for iid in &iids {
            self.with_ctx(*iid, |c| c.cancel_all(aid, None));
        }
        let Some(acct) = self.accounts.get_mut(&aid) else {
            return;
        };
        let keys: Vec<(InstrumentId, PositionSide)> = acct
            .positions
            .iter()
            .filter(|((iid, leg), p)| {
                p.qty != 0
                    && match which {
                        Some(w) => w == (*iid, *leg),
                        None => {
                            p.mode == MarginMode::Cross
                                && self
                                    .metas
                                    .get(iid)
                                    .is_some_and(|m| m.spec.margin_asset == asset)
                        }
                    }
            })
            .map(|(k, _)| k)
            .collect();
        let mut closed = Vec::new();
        let mut remaining = 0i128;
        for key in &keys {
            let Some(meta) = self.metas.get(&key.0) else {
                continue;
            };
            let Some(pos) = acct.positions.remove(key) else {
                continue;
            };
            let mark = meta.mark_or_last().unwrap_or(pos.entry);
            let realized = meta.contract.pnl(pos.qty, pos.entry, mark).unwrap_or(0);
            if which.is_some() {
                remaining += pos.isolated + realized;
            } else {
                add(&mut acct.wallets, asset, realized);
            }
            closed.push(LiquidatedPosition {
                instrument: key.0,
                position_side: key.1,
                qty: Quantity::from_raw(pos.qty, meta.spec.qty_precision),
                price: meta.price(mark),
                realized_pnl: Money::from_raw(realized, asset),
            });
        }
        if which.is_none() {
            remaining = acct.wallets.get(&asset).copied().unwrap_or(0);
            acct.wallets.insert(asset, 0);
        }
        let (fee, cover) = if remaining >= 0 {
            (remaining, 0)
        } else {
            (0, -remaining)
        };
        add(&mut self.ledgers.clearance, asset, fee);
        add(&mut self.ledgers.insurance, asset, cover);
        self.out.push(SimReport::Liquidation(LiquidationReport {
            account: aid,
            margin_asset: asset,
            positions: closed,
            clearance_fee: Money::from_raw(fee, asset),
            insurance_cover: Money::from_raw(cover, asset),
            time: self.now,
        }));
        for key in keys {
            self.with_ctx(key.0, |c| c.emit_futures(aid, key.1));
        }
    }

    // ------------------------------------------------------------ market data

    /// Applies one market event at its exchange time.
    #[inline]
    pub fn on_market_event(&mut self, ev: &MarketEvent) -> Result<(), SimError> {
        // Fast path: with nothing of ours resting or waiting on the
        // instrument, a book update only moves the venue's book (no queue
        // positions to update, nothing to cross, no triggers to check), and a
        // public trade only sets the last price (nothing to fill): what the
        // general path does in that case, without its bookkeeping. One match
        // on the event finds its instrument, its time and what to do.
        let at = match ev {
            MarketEvent::BookDeltas(d) => {
                let at = self.locate(&d.instrument, d.times.exchange)?;
                if let Some(book) = self.idle_book(at) {
                    return book.market.apply_routed_deltas(d).map_err(market_error);
                }
                if self.quiet_paths
                    && self
                        .books
                        .value_at(at)
                        .is_some_and(|b| b.waiting.is_empty() && b.deltas_miss_ours(d))
                {
                    return self.quiet_deltas(at, d);
                }
                at
            }
            MarketEvent::Quote(q) => {
                let at = self.locate(&q.instrument, q.times.exchange)?;
                if let Some(book) = self.idle_book(at) {
                    return book
                        .market
                        .apply_routed_quote(q)
                        .map(|_| ())
                        .map_err(market_error);
                }
                return self.busy_quote(at, q, ev);
            }
            MarketEvent::BookSnapshot(s) => {
                let at = self.locate(&s.instrument, s.times.exchange)?;
                if let Some(book) = self.idle_book(at) {
                    return book.market.apply_snapshot(s).map_err(market_error);
                }
                at
            }
            MarketEvent::Trade(t) => {
                let at = self.locate(&t.instrument, t.times.exchange)?;
                if self.idle_book(at).is_some()
                    || (self.quiet_paths
                        && self
                            .books
                            .value_at(at)
                            .is_some_and(|b| b.waiting.is_empty() && b.trade_misses_ours(t)))
                {
                    self.idle_trade(at, t);
                    return Ok(());
                }
                at
            }
            _ => self.locate(ev.instrument_ref(), ev.times().exchange)?,
        };
        self.on_market_general(at, ev)
    }

    /// A quote on an instrument where our orders rest or wait: the quiet
    /// path if it misses them all and nothing waits, else the general path
    /// (out of line: quote feeds mostly take the idle path).
    #[inline(never)]
    fn busy_quote(&mut self, at: usize, q: &Quote, ev: &MarketEvent) -> Result<(), SimError> {
        if self.quiet_paths
            && self
                .books
                .value_at(at)
                .is_some_and(|b| b.waiting.is_empty() && b.quote_misses_ours(q))
        {
            return self.quiet_quote(at, q);
        }
        self.on_market_general(at, ev)
    }

    /// The index of `iid`'s book (and meta), after catching the clock up to
    /// `exchange` (which adds no instrument, so the index stays valid).
    #[inline(always)]
    fn locate(&mut self, iid: &InstrumentId, exchange: UnixNanos) -> Result<usize, SimError> {
        let Some(at) = self.books.index_of(iid) else {
            return Err(unknown_instrument(iid));
        };
        self.advance_to(exchange);
        Ok(at)
    }

    /// The book at `at` if nothing of ours rests or waits on it.
    #[inline(always)]
    fn idle_book(&mut self, at: usize) -> Option<&mut Book> {
        self.books
            .value_at_mut(at)
            .filter(|b| b.bids.is_empty() && b.asks.is_empty() && b.waiting.is_empty())
    }

    /// A public trade on an instrument where nothing of ours rests or waits,
    /// or where nothing waits and none of our orders rests at or better than
    /// its price on the side it trades against (see [`Book::trade_misses_ours`]):
    /// it fills nothing and moves no queue position, so it only sets the
    /// last price; then the liquidation check that follows every trade.
    #[inline(never)]
    fn idle_trade(&mut self, at: usize, t: &Trade) {
        if t.qty.is_positive() && t.price.is_positive() {
            // `books` and `metas` have the same keys, so the same indexes.
            self.set_last_price(at, t.price.raw());
        }
        // The general path's `after_call_checked`: no triggers wait here.
        self.check_liquidations();
    }

    /// A depth message or quote on an instrument where our orders rest but
    /// nothing waits, which touches none of the levels our orders rest at
    /// (see [`Book::deltas_miss_ours`] and [`Book::quote_misses_ours`]).
    ///
    /// Why this equals the general path: the effective quantity at each of
    /// our levels (the venue's quantity there less what our takers consumed
    /// there) is unchanged, so no queue position moves and the queue model
    /// is not consulted (the general path consults it only where that
    /// quantity changed), and the public-trade memory of those levels stays.
    /// What is left of the general path is the crossing check, whose first
    /// test ([`Book::reached`]) is made here; only if the venue's book now
    /// reaches one of our best prices does the crossing run in full, with
    /// the general path's after-event checks. No order waits, so no trigger
    /// can fire; no price or margin moved, so without a fill the
    /// liquidation check is not due.
    ///
    /// Depth messages and quotes each have their own entry
    /// ([`SimExchange::quiet_deltas`], [`SimExchange::quiet_quote`]) so the
    /// event's kind, already matched by the caller, is not matched again.
    #[inline(never)]
    fn quiet_deltas(&mut self, at: usize, d: &BookDeltas) -> Result<(), SimError> {
        let Some(book) = self.books.value_at_mut(at) else {
            return Ok(());
        };
        book.market.apply_routed_deltas(d).map_err(market_error)?;
        if book.reached(Side::Buy) || book.reached(Side::Sell) {
            self.cross_after_quiet_update(at, d.instrument);
        }
        Ok(())
    }

    /// [`SimExchange::quiet_deltas`] for a quote.
    #[inline(never)]
    fn quiet_quote(&mut self, at: usize, q: &Quote) -> Result<(), SimError> {
        let Some(book) = self.books.value_at_mut(at) else {
            return Ok(());
        };
        book.market
            .apply_routed_quote(q)
            .map(|_| ())
            .map_err(market_error)?;
        if book.reached(Side::Buy) || book.reached(Side::Sell) {
            self.cross_after_quiet_update(at, q.instrument);
        }
        Ok(())
    }

    /// [`SimExchange::quiet_deltas`] when the venue's book reached one
    /// of our best prices: the general path's crossing and its after-event
    /// checks (no level of ours changed, so no queue update).
    #[cold]
    #[inline(never)]
    fn cross_after_quiet_update(&mut self, at: usize, iid: InstrumentId) {
        let reports_before = self.out.len();
        self.with_ctx_at(at, iid, |c| c.on_book_change(&[]));
        self.after_market_event(at, iid, true, reports_before);
    }

    /// Every market event the fast path of
    /// [`SimExchange::on_market_event`] does not take (the instrument is
    /// known and the clock has been advanced already).
    #[inline(never)]
    fn on_market_general(&mut self, at: usize, ev: &MarketEvent) -> Result<(), SimError> {
        let iid = *ev.instrument_ref();
        let reports_before = self.out.len();
        match ev {
            MarketEvent::BookSnapshot(_) | MarketEvent::BookDeltas(_) | MarketEvent::Quote(_) => {
                let r = self.with_ctx_at(at, iid, |c| {
                    // A one-change message names at most one of our levels:
                    // its depth before is kept on the stack.
                    let mut one: Option<((Side, i64), i64)> = None;
                    let before: Vec<((Side, i64), i64)> =
                        if c.book.bids.is_empty() && c.book.asks.is_empty() {
                            Vec::new()
                        } else if let MarketEvent::BookDeltas(d) = ev {
                            // Deltas change only the levels they name: only our
                            // resting levels among them can see their depth move.
                            let mut v: Vec<((Side, i64), i64)> = Vec::new();
                            if let [x] = d.deltas.as_slice() {
                                let p = x.level.price.raw();
                                if c.book.levels(x.side).contains_key(&p) {
                                    one = Some(((x.side, p), c.book.market.effective(x.side, p)));
                                }
                            } else {
                                for x in &d.deltas {
                                    let p = x.level.price.raw();
                                    if c.book.levels(x.side).contains_key(&p)
                                        && !v.iter().any(|(k, _)| *k == (x.side, p))
                                    {
                                        v.push(((x.side, p), c.book.market.effective(x.side, p)));
                                    }
                                }
                            }
                            v
                        } else {
                            c.book
                                .resting_levels()
                                .into_iter()
                                .map(|(s, p)| ((s, p), c.book.market.effective(s, p)))
                                .collect()
                        };
                    let applied = match ev {
                        MarketEvent::BookSnapshot(s) => c.book.market.apply_snapshot(s),
                        MarketEvent::BookDeltas(d) => c.book.market.apply_routed_deltas(d),
                        MarketEvent::Quote(q) => c.book.market.apply_routed_quote(q).map(|_| ()),
                        _ => Ok(()),
                    };
                    match applied {
                        Ok(()) => {
                            match &one {
                                Some(x) => c.on_book_change(std::slice::from_ref(x)),
                                None => c.on_book_change(&before),
                            }
                            Ok(())
                        }
                        Err(e) => Err(market_error(e)),
                    }
                });
                if let Some(Err(e)) = r {
                    return Err(e);
                }
            }
            MarketEvent::Trade(t) => {
                if t.qty.is_positive() && t.price.is_positive() {
                    self.with_ctx_at(at, iid, |c| {
                        c.on_public_trade(t.price.raw(), t.qty.raw(), t.aggressor)
                    });
                    self.set_last_price(at, t.price.raw());
                }
            }
            MarketEvent::MarkPrice(mp) => {
                let mut moved = false;
                if let Some(m) = self.metas.value_at_mut(at) {
                    if mp.mark.is_positive() && m.mark != Some(mp.mark.raw()) {
                        m.mark = Some(mp.mark.raw());
                        moved = true;
                    }
                    if let Some(r) = mp.funding_rate {
                        m.funding_rate = Some(r.raw());
                    }
                    if let Some(t) = mp.next_funding_time {
                        if t > self.now && m.last_funding.is_none_or(|l| l < t) {
                            m.next_funding = Some(t);
                            self.due_from = self.due_from.min(t);
                        }
                    }
                }
                if moved {
                    self.price_moved(at);
                }
            }
            MarketEvent::Bar(_) | MarketEvent::Liquidation(_) => {}
        }
        let book_only = matches!(
            ev,
            MarketEvent::BookSnapshot(_) | MarketEvent::BookDeltas(_) | MarketEvent::Quote(_)
        );
        self.after_market_event(at, iid, book_only, reports_before);
        Ok(())
    }

    /// After a market event on the instrument `iid` at index `at`:
    /// `after_command` for book updates (`book_only`: the liquidation check
    /// only if something traded since `reports_before`),
    /// `after_call_checked` for the rest, without searching for the
    /// instrument again to find no trigger waiting.
    fn after_market_event(
        &mut self,
        at: usize,
        iid: InstrumentId,
        book_only: bool,
        reports_before: usize,
    ) {
        let liquidations = !book_only
            || self.out[reports_before.min(self.out.len())..]
                .iter()
                .any(|r| matches!(r, SimReport::Trade(_)));
        if self
            .books
            .value_at(at)
            .is_some_and(|b| !b.waiting.is_empty())
        {
            self.process_triggers(iid);
        }
        if liquidations {
            self.check_liquidations();
        }
    }

    // ------------------------------------------------------------ commands

    /// Submits an order for `account` at time `now`. `stp` overrides the
    /// venue's default self-trade prevention mode.
    pub fn submit(
        &mut self,
        account: AccountId,
        order: &SubmitOrder,
        stp: Option<StpMode>,
        now: UnixNanos,
    ) -> Result<VenueOrderId, VenueError> {
        self.advance_to(now);
        let iid = order.instrument;
        let before = self.out.len();
        let r = self.submit_inner(account, order, stp);
        self.after_command(Some(iid), before);
        r
    }

    /// Checks a new order of `account` on the instrument at index `at` of
    /// `books` and `metas` (the order's instrument).
    fn validate_submit(
        &self,
        at: usize,
        account: AccountId,
        o: &SubmitOrder,
    ) -> Result<(), VenueError> {
        let meta = self
            .metas
            .value_at(at)
            .ok_or_else(VenueError::invalid_symbol)?;
        let acct = self
            .accounts
            .get(&account)
            .ok_or_else(VenueError::unknown_account)?;
        let book = self
            .books
            .value_at(at)
            .ok_or_else(VenueError::invalid_symbol)?;
        let kind = o.instrument.kind;
        let futures = meta.is_futures();
        if book.client_ids.contains_key(&(account, o.client_order_id)) {
            return Err(VenueError::duplicate_order(kind));
        }
        let post_only =
            o.flags.contains(OrderFlags::POST_ONLY) || o.time_in_force == TimeInForce::Gtx;
        if !futures {
            if matches!(o.time_in_force, TimeInForce::Gtx | TimeInForce::Gtd) {
                return Err(VenueError::invalid_tif());
            }
            if o.order_type == OrderType::TrailingStopMarket {
                return Err(VenueError::invalid_order_type());
            }
            if o.flags.contains(OrderFlags::REDUCE_ONLY) {
                return Err(VenueError::param_not_required("reduceOnly"));
            }
            if o.flags.contains(OrderFlags::CLOSE_POSITION) {
                return Err(VenueError::param_not_required("closePosition"));
            }
            if o.position_side != PositionSide::Both {
                return Err(VenueError::param_not_required("positionSide"));
            }
        } else {
            if acct.hedge_mode {
                if o.position_side == PositionSide::Both {
                    return Err(VenueError::position_side_mismatch());
                }
                if o.flags.contains(OrderFlags::REDUCE_ONLY) {
                    return Err(VenueError::param_not_required("reduceOnly"));
                }
            } else if o.position_side != PositionSide::Both {
                return Err(VenueError::position_side_mismatch());
            }
            if o.flags.contains(OrderFlags::CLOSE_POSITION)
                && !matches!(
                    o.order_type,
                    OrderType::StopMarket | OrderType::TakeProfitMarket
                )
            {
                return Err(VenueError::invalid_param("closePosition"));
            }
            if o.order_type == OrderType::TrailingStopMarket {
                let Some(t) = o.trailing else {
                    return Err(VenueError::missing_param("callbackRate"));
                };
                let r = t.callback_rate.raw();
                if !(10_000_000..=1_000_000_000).contains(&r) {
                    return Err(VenueError::invalid_param("callbackRate"));
                }
            }
        }
        if post_only && o.order_type != OrderType::Limit {
            return Err(VenueError::invalid_order_type());
        }
        if o.time_in_force == TimeInForce::Gtd && o.order_type.has_limit_price() {
            let Some(t) = o.expire_time else {
                return Err(VenueError::missing_param("goodTillDate"));
            };
            if t <= self.now.add_nanos(self.config.gtd_min_horizon_nanos) {
                return Err(VenueError::bad_good_till_date());
            }
        }
        let reference = if futures {
            meta.mark_or_last()
        } else {
            meta.last
        }
        .map(|p| meta.price(p));
        let mut flags = o.flags;
        if post_only {
            flags = flags | OrderFlags::POST_ONLY;
        }
        let check = OrderCheck {
            side: o.side,
            order_type: o.order_type,
            quantity: o.quantity,
            price: o.price,
            trigger_price: o.trigger_price,
            flags,
            reference_price: reference,
        };
        // The cheap integer check passes only orders the full check finds
        // nothing wrong with (`Instrument::passes_plain_limit`, the kernel's
        // pre-trade check runs it too); any other order takes the full
        // check, which produces the refusal.
        if !meta.spec.passes_plain_limit(&check) {
            let violations = meta.spec.validate(&check);
            if let Some(v) = violations
                .iter()
                .find(|v| !matches!(v, Violation::MissingReferencePrice))
            {
                return Err(first_violation(
                    kind,
                    o.side,
                    !o.order_type.has_limit_price(),
                    v,
                ));
            }
        }
        if o.order_type.is_conditional() && o.order_type != OrderType::TrailingStopMarket {
            let price = match o.trigger_type {
                TriggerPriceType::Last => meta.last,
                TriggerPriceType::Mark => meta.mark,
            };
            if let (Some(p), Some(stop)) = (price, o.trigger_price) {
                if stop_triggers(o.order_type, o.side, stop, meta.price(p)) {
                    return Err(VenueError::would_trigger(kind));
                }
            }
        }
        if futures && o.flags.contains(OrderFlags::REDUCE_ONLY) && !o.order_type.is_conditional() {
            let pos = acct
                .positions
                .get(&(o.instrument, PositionSide::Both))
                .map_or(0, |p| p.qty);
            let ok = match o.side {
                Side::Sell => pos > 0,
                Side::Buy => pos < 0,
            };
            if !ok {
                return Err(VenueError::reduce_only_rejected());
            }
        }
        Ok(())
    }

    fn submit_inner(
        &mut self,
        account: AccountId,
        o: &SubmitOrder,
        stp: Option<StpMode>,
    ) -> Result<VenueOrderId, VenueError> {
        let iid = o.instrument;
        // The instrument's index, found once (`books` and `metas` have the
        // same keys, so the same indexes).
        let at = self
            .books
            .index_of(&iid)
            .ok_or_else(VenueError::invalid_symbol)?;
        self.validate_submit(at, account, o)?;
        let meta = self
            .metas
            .value_at(at)
            .ok_or_else(VenueError::invalid_symbol)?;
        let book = self
            .books
            .value_at_mut(at)
            .ok_or_else(VenueError::invalid_symbol)?;
        let id = VenueOrderId(book.next_order_id);
        book.next_order_id += 1;
        let conditional = o.order_type.is_conditional();
        let trailing = o.trailing.map(|t| {
            let reference = match o.trigger_type {
                TriggerPriceType::Last => meta.last,
                TriggerPriceType::Mark => meta.mark,
            }
            .map(|p| meta.price(p));
            let mut s = TrailingState {
                callback_rate: t.callback_rate,
                activation_price: t.activation_price,
                activated: false,
                extreme: None,
            };
            if t.activation_price.is_none() {
                if let Some(r) = reference {
                    s.activated = true;
                    s.extreme = Some(r);
                }
            }
            s
        });
        let post_only =
            o.flags.contains(OrderFlags::POST_ONLY) || o.time_in_force == TimeInForce::Gtx;
        let close_position = o.flags.contains(OrderFlags::CLOSE_POSITION);
        let order = SimOrder {
            account,
            instrument: iid,
            venue_order_id: id,
            client_order_id: o.client_order_id,
            strategy: o.strategy,
            side: o.side,
            order_type: o.order_type,
            time_in_force: o.time_in_force,
            post_only,
            price: if o.order_type.has_limit_price() {
                o.price
            } else {
                None
            },
            trigger_price: match trailing.as_ref() {
                Some(t) => trailing_level(t, o.side),
                None => o.trigger_price,
            },
            trigger_type: o.trigger_type,
            trailing,
            quantity: if close_position {
                Quantity::from_raw(0, meta.spec.qty_precision)
            } else {
                o.quantity
            },
            filled: Quantity::from_raw(0, o.quantity.precision()),
            cum_notional_e16: 0,
            flags: if close_position {
                o.flags | OrderFlags::REDUCE_ONLY
            } else {
                o.flags
            },
            position_side: o.position_side,
            expire_time: if o.time_in_force == TimeInForce::Gtd {
                o.expire_time
            } else {
                None
            },
            stp: stp.unwrap_or(self.config.default_stp),
            status: SimOrderStatus::New,
            triggered: !conditional,
            created: self.now,
            updated: self.now,
            queue_ahead: 0,
            seq: 0,
            locked: 0,
        };
        let r = self
            .with_ctx_at(at, iid, |c| {
                if conditional {
                    // Spot conditionals lock at placement (sells: base; limit
                    // buys: price × qty); market buys are checked at trigger.
                    if !c.is_futures() {
                        let needed = match (order.side, order.price) {
                            (Side::Sell, _) => i128::from(order.quantity.raw()),
                            (Side::Buy, Some(l)) => crate::arith::linear_notional(
                                l.raw(),
                                order.quantity.raw(),
                                Rounding::Up,
                            )
                            .ok_or_else(VenueError::overflow)?,
                            (Side::Buy, None) => 0,
                        };
                        let asset = c.lock_asset(order.side);
                        let free = c
                            .accounts
                            .get(&account)
                            .map_or(0, |a| a.spot_balance(asset).free);
                        if needed > free {
                            return Err(VenueError::insufficient_balance());
                        }
                        let side = order.side;
                        c.accept_waiting(order);
                        c.set_spot_lock(id, side, account, 0, needed)?;
                    } else {
                        c.accept_waiting(order);
                    }
                    Ok(())
                } else {
                    c.place(order, Origin::New)
                }
            })
            .ok_or_else(VenueError::invalid_symbol)?;
        r.map(|()| id)
    }

    fn resolve(
        &self,
        account: AccountId,
        instrument: InstrumentId,
        r: OrderRef,
    ) -> Option<VenueOrderId> {
        let b = self.books.get(&instrument)?;
        match r {
            OrderRef::Venue(id) => b
                .orders
                .get(&id)
                .filter(|o| o.account == account)
                .map(|o| o.venue_order_id),
            OrderRef::Client(c) => b.client_ids.get(&(account, c)).copied(),
        }
    }

    /// Cancels one open order (`-2011 Unknown order sent.` if it is not open).
    pub fn cancel(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        order: OrderRef,
        now: UnixNanos,
    ) -> Result<(), VenueError> {
        self.advance_to(now);
        if !self.metas.contains_key(&instrument) {
            return Err(VenueError::invalid_symbol());
        }
        let id = self
            .resolve(account, instrument, order)
            .ok_or_else(VenueError::unknown_order_cancel)?;
        let before = self.out.len();
        self.with_ctx(instrument, |c| {
            c.close_order(
                id,
                SimOrderStatus::Canceled,
                Some(OrderEventKind::Canceled),
                None,
            );
        });
        self.after_command(Some(instrument), before);
        Ok(())
    }

    /// Cancels every open order of `account` on `instrument` (optionally one
    /// side); returns how many.
    pub fn cancel_all(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        side: Option<Side>,
        now: UnixNanos,
    ) -> Result<usize, VenueError> {
        self.advance_to(now);
        if !self.accounts.contains_key(&account) {
            return Err(VenueError::unknown_account());
        }
        let before = self.out.len();
        let n = self
            .with_ctx(instrument, |c| c.cancel_all(account, side))
            .ok_or_else(VenueError::invalid_symbol)?;
        self.after_command(Some(instrument), before);
        Ok(n)
    }

    /// Amends an open order: quantity, limit price and/or trigger price.
    ///
    /// A resting order keeps its queue priority only when its price is
    /// unchanged and its quantity goes down; otherwise it is taken off the
    /// book and placed again (it may then match; a post-only order that would
    /// take is canceled, as Binance does for GTX).
    pub fn modify(
        &mut self,
        account: AccountId,
        m: &ModifyOrder,
        now: UnixNanos,
    ) -> Result<(), VenueError> {
        self.advance_to(now);
        let iid = m.instrument;
        let before = self.out.len();
        let r = self.modify_inner(account, m);
        self.after_command(Some(iid), before);
        r
    }

    fn modify_inner(&mut self, account: AccountId, m: &ModifyOrder) -> Result<(), VenueError> {
        let iid = m.instrument;
        let meta = self
            .metas
            .get(&iid)
            .ok_or_else(VenueError::invalid_symbol)?;
        let oref = match m.venue_order_id {
            Some(v) => OrderRef::Venue(v),
            None => OrderRef::Client(m.client_order_id),
        };
        let id = self
            .resolve(account, iid, oref)
            .ok_or_else(VenueError::no_such_order)?;
        let book = self
            .books
            .get(&iid)
            .ok_or_else(VenueError::invalid_symbol)?;
        let o = book
            .orders
            .get(&id)
            .ok_or_else(VenueError::no_such_order)?
            .clone();
        let new_qty = m.quantity.unwrap_or(o.quantity);
        let new_price = m.price.or(o.price);
        let new_trigger = m.trigger_price.or(o.trigger_price);
        if new_qty == o.quantity && new_price == o.price && new_trigger == o.trigger_price {
            return Err(VenueError::same_order());
        }
        if m.price.is_some() && !o.order_type.has_limit_price() {
            return Err(VenueError::param_not_required("price"));
        }
        if m.trigger_price.is_some() && (!o.order_type.is_conditional() || o.triggered) {
            return Err(VenueError::param_not_required("stopPrice"));
        }
        if new_qty <= o.filled {
            return Err(VenueError::new(
                -4003,
                "Quantity less than or equal to the executed quantity.",
            ));
        }
        let kind = iid.kind;
        let reference = if meta.is_futures() {
            meta.mark_or_last()
        } else {
            meta.last
        }
        .map(|p| meta.price(p));
        let violations = meta.spec.validate(&OrderCheck {
            side: o.side,
            order_type: o.order_type,
            quantity: new_qty,
            price: new_price,
            trigger_price: new_trigger,
            flags: o.flags,
            reference_price: reference,
        });
        if let Some(v) = violations.iter().find(|v| {
            let close_qty = o.flags.contains(OrderFlags::CLOSE_POSITION)
                && matches!(v, Violation::NonPositiveQuantity { .. });
            !(close_qty || matches!(v, Violation::MissingReferencePrice))
        }) {
            return Err(first_violation(
                kind,
                o.side,
                !o.order_type.has_limit_price(),
                v,
            ));
        }
        if !o.triggered {
            if let Some(stop) = new_trigger {
                let price = match o.trigger_type {
                    TriggerPriceType::Last => meta.last,
                    TriggerPriceType::Mark => meta.mark,
                };
                if price.is_some_and(|p| stop_triggers(o.order_type, o.side, stop, meta.price(p))) {
                    return Err(VenueError::would_trigger(kind));
                }
            }
        }
        let futures = meta.is_futures();
        let keep_priority = new_price == o.price && new_qty < o.quantity;
        self.with_ctx(iid, |c| {
            // Spot: the new lock must be affordable before anything changes.
            let mut updated = o.clone();
            updated.quantity = new_qty;
            updated.price = new_price;
            updated.trigger_price = new_trigger;
            if !futures {
                let rem = updated.remaining().raw();
                let needed = match (o.side, updated.price) {
                    (Side::Sell, _) => i128::from(rem),
                    (Side::Buy, Some(l)) => {
                        crate::arith::linear_notional(l.raw(), rem, Rounding::Up)
                            .ok_or_else(VenueError::overflow)?
                    }
                    (Side::Buy, None) => o.locked,
                };
                c.set_spot_lock(id, o.side, account, o.locked, needed)?;
            }
            if !o.triggered || keep_priority {
                if let Some(x) = c.book.orders.get_mut(&id) {
                    x.quantity = new_qty;
                    x.price = new_price;
                    x.trigger_price = new_trigger;
                    x.updated = c.now;
                }
                c.emit_open(
                    id,
                    OrderEventKind::Updated {
                        quantity: new_qty,
                        price: new_price,
                        trigger_price: new_trigger,
                    },
                );
                return Ok(());
            }
            c.unrest(id);
            let Some(x) = c.book.orders.get_mut(&id) else {
                return Err(VenueError::no_such_order());
            };
            x.quantity = new_qty;
            x.price = new_price;
            x.updated = c.now;
            let placed = SimOrder::clone(x);
            c.emit_open(
                id,
                OrderEventKind::Updated {
                    quantity: new_qty,
                    price: new_price,
                    trigger_price: new_trigger,
                },
            );
            c.place(placed, Origin::Amended)
        })
        .ok_or_else(VenueError::invalid_symbol)?
    }
}
