//! Simulated accounts: a spot wallet (free and locked balance per asset) and a
//! futures wallet (wallet balance per margin asset, positions, leverage and
//! margin mode per symbol, position mode), with read-only views for queries.
//!
//! Spot and futures wallets of one account are separate, as on Binance
//! (money moves between them only through [`SimExchange::deposit_spot`] /
//! [`SimExchange::deposit_futures`] and withdrawals).
//!
//! [`SimExchange::deposit_spot`]: crate::SimExchange::deposit_spot
//! [`SimExchange::deposit_futures`]: crate::SimExchange::deposit_futures

use std::collections::BTreeMap;

use veloz_core::{Currency, InstrumentId, MarginMode, Money, PositionSide, Price, Quantity};

/// Free and locked amounts of one spot asset (raw `10^-8` units).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpotBalance {
    /// Available.
    pub free: i128,
    /// Locked by open orders.
    pub locked: i128,
}

/// Per-symbol futures settings of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolConfig {
    /// Leverage (1..=the first margin tier's maximum).
    pub leverage: u32,
    /// Cross or isolated.
    pub margin_mode: MarginMode,
}

/// One futures position leg (internal raw state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    /// Signed quantity, raw units (long > 0).
    pub qty: i64,
    /// Entry price, raw.
    pub entry: i64,
    /// Isolated margin held by the position (isolated mode only).
    pub isolated: i128,
    /// Realised PnL accumulated (fees not included).
    pub realized: i128,
    /// Margin mode the position was opened in.
    pub mode: MarginMode,
}

fn rank(ps: PositionSide) -> u8 {
    match ps {
        PositionSide::Both => 0,
        PositionSide::Long => 1,
        PositionSide::Short => 2,
    }
}

fn unrank(r: u8) -> PositionSide {
    match r {
        1 => PositionSide::Long,
        2 => PositionSide::Short,
        _ => PositionSide::Both,
    }
}

/// Position legs of an account keyed by (instrument, leg), in a fixed order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Positions(BTreeMap<(InstrumentId, u8), Pos>);

type Key = (InstrumentId, PositionSide);

impl Positions {
    pub fn get(&self, k: &Key) -> Option<&Pos> {
        self.0.get(&(k.0, rank(k.1)))
    }

    pub fn insert(&mut self, k: Key, p: Pos) {
        self.0.insert((k.0, rank(k.1)), p);
    }

    pub fn remove(&mut self, k: &Key) -> Option<Pos> {
        self.0.remove(&(k.0, rank(k.1)))
    }

    pub fn iter(&self) -> impl Iterator<Item = (Key, &Pos)> + '_ {
        self.0.iter().map(|((i, r), p)| ((*i, unrank(*r)), p))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Key, &mut Pos)> + '_ {
        self.0.iter_mut().map(|((i, r), p)| ((*i, unrank(*r)), p))
    }

    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.0.keys().map(|(i, r)| (*i, unrank(*r)))
    }

    pub fn values(&self) -> impl Iterator<Item = &Pos> + '_ {
        self.0.values()
    }
}

/// One simulated account (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub(crate) spot: BTreeMap<Currency, SpotBalance>,
    pub(crate) wallets: BTreeMap<Currency, i128>,
    pub(crate) reserved: BTreeMap<Currency, i128>,
    pub(crate) positions: Positions,
    pub(crate) symbols: BTreeMap<InstrumentId, SymbolConfig>,
    pub(crate) hedge_mode: bool,
}

impl Account {
    /// Spot balance of `asset` (zero if never touched).
    pub fn spot_balance(&self, asset: Currency) -> SpotBalance {
        self.spot.get(&asset).copied().unwrap_or_default()
    }

    /// Every spot asset with a non-zero balance, in code order.
    pub fn spot_balances(&self) -> impl Iterator<Item = (Currency, SpotBalance)> + '_ {
        self.spot
            .iter()
            .filter(|(_, b)| b.free != 0 || b.locked != 0)
            .map(|(c, b)| (*c, *b))
    }

    /// Futures wallet balance of a margin asset (deposits + realised PnL −
    /// fees + funding, less isolated margin moved into positions).
    pub fn wallet_balance(&self, asset: Currency) -> Money {
        Money::from_raw(self.wallets.get(&asset).copied().unwrap_or(0), asset)
    }

    /// Initial margin reserved by open futures orders in `asset`.
    pub fn order_margin(&self, asset: Currency) -> Money {
        Money::from_raw(self.reserved.get(&asset).copied().unwrap_or(0), asset)
    }

    /// Is the account in hedge (dual-side) position mode?
    pub fn hedge_mode(&self) -> bool {
        self.hedge_mode
    }

    /// Settings of a symbol, if changed from the defaults.
    pub fn symbol_config(&self, instrument: InstrumentId) -> Option<SymbolConfig> {
        self.symbols.get(&instrument).copied()
    }

    /// Does the account hold any futures position?
    pub fn has_positions(&self) -> bool {
        self.positions.values().any(|p| p.qty != 0)
    }
}

/// A futures position as queries show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionView {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Leg.
    pub position_side: PositionSide,
    /// Signed quantity (short < 0).
    pub qty: Quantity,
    /// Entry price.
    pub entry_price: Price,
    /// Mark price used for the figures below.
    pub mark_price: Price,
    /// Unrealised PnL at the mark price.
    pub unrealized_pnl: Money,
    /// Realised PnL since the position was first opened (fees excluded).
    pub realized_pnl: Money,
    /// Cross or isolated.
    pub margin_mode: MarginMode,
    /// Leverage.
    pub leverage: u32,
    /// Isolated margin (zero in cross mode).
    pub isolated_margin: Money,
    /// Initial margin at the mark price.
    pub initial_margin: Money,
    /// Maintenance margin at the mark price.
    pub maint_margin: Money,
    /// Notional at the mark price (in the margin asset).
    pub notional: Money,
}

/// A futures account's margin summary for one margin asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarginSummary {
    /// Margin asset.
    pub asset: Currency,
    /// Wallet balance (cross part; isolated margin is held by positions).
    pub wallet_balance: Money,
    /// Unrealised PnL of cross positions.
    pub cross_unrealized_pnl: Money,
    /// Initial margin of cross positions at mark.
    pub position_initial_margin: Money,
    /// Initial margin reserved by open orders.
    pub order_initial_margin: Money,
    /// Maintenance margin of cross positions.
    pub maint_margin: Money,
    /// Margin balance: wallet + cross unrealised PnL.
    pub margin_balance: Money,
    /// Available for new orders: margin balance − position IM − order IM.
    pub available_balance: Money,
}
