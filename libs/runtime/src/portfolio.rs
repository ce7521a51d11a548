//! Positions and balances as the kernel knows them, computed exactly from
//! fills, funding and the venue's balance reports.
//!
//! A [`Position`] is the net position of one instrument built from our own
//! fills: signed quantity, average entry price (linear or inverse, as the
//! venue computes it), realised PnL, fees by currency and funding. Balances
//! are what the venue last reported. All amounts are fixed-point; nothing here
//! uses floating point.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use veloz_core::events::{AccountEvent, Fill, MarginReport, PositionReport};
use veloz_core::{
    ContractKind, Currency, Instrument, InstrumentId, MarketKind, Money, Price, Quantity, Side,
};
use veloz_sim::futures::Contract;

/// The net position of one instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Signed quantity (positive = long), raw units of `10^-8`.
    pub qty_raw: i64,
    /// Average entry price, raw (0 when flat).
    pub entry_raw: i64,
    /// Realised PnL in [`Position::pnl_currency`], raw.
    pub realized_raw: i128,
    /// Funding received (negative = paid) in the margin asset, raw.
    pub funding_raw: i128,
    /// Fees paid by currency, raw (positive = paid).
    pub fees: BTreeMap<Currency, i128>,
    /// Traded notional, raw `10^-8` of the quote (linear) or USD (inverse).
    pub turnover_raw: i128,
    /// Number of fills.
    pub fills: u64,
    /// Currency of PnL: the quote for spot and USD-M, the coin for COIN-M.
    pub pnl_currency: Currency,
    qty_precision: u8,
    price_precision: u8,
    contract: ContractKind,
}

impl Position {
    /// A flat position in `instrument`.
    pub fn flat(instrument: &Instrument) -> Self {
        let pnl_currency = match instrument.contract {
            ContractKind::Spot => instrument.quote,
            _ => instrument.margin_asset,
        };
        Self {
            instrument: instrument.id,
            qty_raw: 0,
            entry_raw: 0,
            realized_raw: 0,
            funding_raw: 0,
            fees: BTreeMap::new(),
            turnover_raw: 0,
            fills: 0,
            pnl_currency,
            qty_precision: instrument.qty_precision,
            price_precision: instrument.price_precision,
            contract: instrument.contract,
        }
    }

    /// Signed quantity.
    pub fn qty(&self) -> Quantity {
        Quantity::from_raw(self.qty_raw, self.qty_precision)
    }

    /// Average entry price (`None` when flat).
    pub fn entry_price(&self) -> Option<Price> {
        (self.qty_raw != 0).then(|| Price::from_raw(self.entry_raw, self.price_precision))
    }

    /// Realised PnL.
    pub fn realized(&self) -> Money {
        Money::from_raw(self.realized_raw, self.pnl_currency)
    }

    /// Is the position flat?
    pub fn is_flat(&self) -> bool {
        self.qty_raw == 0
    }

    fn formulas(&self) -> Contract {
        Contract::of(self.contract)
    }

    /// Unrealised PnL at `mark` (zero when flat; `None` on overflow).
    pub fn unrealized_raw(&self, mark: Price) -> Option<i128> {
        if self.qty_raw == 0 {
            return Some(0);
        }
        self.formulas()
            .pnl(self.qty_raw, self.entry_raw, mark.raw())
    }

    /// Applies one of our fills. Returns `false` (and changes nothing) if the
    /// arithmetic would overflow.
    pub fn apply_fill(&mut self, fill: &Fill) -> bool {
        let signed = match fill.side {
            Side::Buy => fill.qty.raw(),
            Side::Sell => -fill.qty.raw(),
        };
        let px = fill.price.raw();
        let c = self.formulas();
        let Some(notional) = c.notional(px, fill.qty.raw(), veloz_core::Rounding::HalfEven) else {
            return false;
        };
        // Every figure is computed before any is written (a refused fill
        // changes nothing), without copying the position and its fee map.
        let held = self.qty_raw;
        let (qty, entry, realized) = if held == 0 || held.signum() == signed.signum() {
            let Some(e) = c.entry_after_add(held.abs(), self.entry_raw, signed.abs(), px) else {
                return false;
            };
            (held + signed, e, self.realized_raw)
        } else {
            let closing = signed.abs().min(held.abs());
            let closed_signed = closing * held.signum();
            let Some(pnl) = c.pnl(closed_signed, self.entry_raw, px) else {
                return false;
            };
            let rest = held + signed;
            let entry = if rest == 0 {
                0
            } else if rest.signum() != held.signum() {
                px
            } else {
                self.entry_raw
            };
            (rest, entry, self.realized_raw + pnl)
        };
        self.qty_raw = qty;
        self.entry_raw = entry;
        self.realized_raw = realized;
        *self.fees.entry(fill.fee.currency()).or_insert(0) += fill.fee.raw();
        self.turnover_raw += notional;
        self.fills += 1;
        true
    }
}

/// Up to this many positions [`Portfolio`] finds one by an equality scan.
const LINEAR_SEARCH_MAX: usize = 8;

/// A map ordered by key for the venue's reports (a few assets and
/// instruments, replaced on every report): a vector sorted by key, searched
/// by equality up to [`LINEAR_SEARCH_MAX`] entries and by bisection beyond,
/// instead of a tree whose ordered key comparisons cost more than the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SmallMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    #[inline]
    fn find(&self, key: &K) -> Result<usize, usize> {
        if self.0.len() <= LINEAR_SEARCH_MAX {
            if let Some(i) = self.0.iter().position(|(k, _)| k == key) {
                return Ok(i);
            }
            return Err(self.0.partition_point(|(k, _)| k < key));
        }
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    #[inline]
    fn insert(&mut self, key: K, value: V) {
        match self.find(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    #[inline]
    fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Entries in key order.
    fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// Every position and the venue's balances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Portfolio {
    /// Positions sorted by instrument id (the order a map by id iterates
    /// in), found by [`Portfolio::find`]: each fill and order reads one.
    positions: Vec<Position>,
    balances: SmallMap<Currency, (Money, Money)>,
    wallets: SmallMap<(MarketKind, Currency), (Money, Money)>,
    margins: SmallMap<Currency, MarginReport>,
    venue_positions: SmallMap<InstrumentId, PositionReport>,
}

impl Portfolio {
    /// Registers an instrument (a flat position).
    pub fn add_instrument(&mut self, instrument: &Instrument) {
        if self.find(&instrument.id).is_none() {
            let at = self
                .positions
                .partition_point(|p| p.instrument < instrument.id);
            self.positions.insert(at, Position::flat(instrument));
        }
    }

    /// Where the position of `id` is. A run trades a handful of instruments:
    /// up to [`LINEAR_SEARCH_MAX`] of them a scan comparing ids for equality
    /// is cheaper than ordered comparisons; beyond, a binary search.
    #[inline]
    fn find(&self, id: &InstrumentId) -> Option<usize> {
        if self.positions.len() <= LINEAR_SEARCH_MAX {
            self.positions.iter().position(|p| p.instrument == *id)
        } else {
            self.positions
                .binary_search_by(|p| p.instrument.cmp(id))
                .ok()
        }
    }

    /// The position of `instrument`, if it is registered.
    #[inline]
    pub fn position(&self, instrument: InstrumentId) -> Option<&Position> {
        self.find(&instrument).map(|i| &self.positions[i])
    }

    fn position_mut(&mut self, instrument: &InstrumentId) -> Option<&mut Position> {
        self.find(instrument).map(|i| &mut self.positions[i])
    }

    /// Every position, by instrument id.
    pub fn positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.iter()
    }

    /// Applies a fill to its instrument's position (`false` if unknown or
    /// overflowing).
    pub fn apply_fill(&mut self, instrument: InstrumentId, fill: &Fill) -> bool {
        self.position_mut(&instrument)
            .is_some_and(|p| p.apply_fill(fill))
    }

    /// Adds a funding payment.
    pub fn apply_funding(&mut self, instrument: InstrumentId, amount: Money) -> bool {
        match self.position_mut(&instrument) {
            Some(p) => {
                p.funding_raw += amount.raw();
                true
            }
            None => false,
        }
    }

    /// Applies a venue account report.
    pub fn apply_account(&mut self, ev: &AccountEvent) {
        match ev {
            AccountEvent::Balance(b) if b.kind == MarketKind::Spot => {
                self.balances.insert(b.asset, (b.free, b.locked));
            }
            AccountEvent::Balance(b) => {
                self.wallets.insert((b.kind, b.asset), (b.free, b.locked));
            }
            AccountEvent::Margin(m) => {
                self.margins.insert(m.asset, *m);
            }
            AccountEvent::Position(p) => {
                self.venue_positions.insert(p.instrument, *p);
            }
        }
    }

    /// Spot balance `(free, locked)` as last reported.
    pub fn balance(&self, asset: Currency) -> Option<(Money, Money)> {
        self.balances.get(&asset).copied()
    }

    /// Every reported spot balance.
    pub fn balances(&self) -> impl Iterator<Item = (Currency, Money, Money)> + '_ {
        self.balances.iter().map(|(c, (f, l))| (*c, *f, *l))
    }

    /// A futures wallet balance `(free, locked)` of `kind` (USD-M or COIN-M)
    /// as last reported: free is the cross wallet balance, locked the rest
    /// of the wallet (isolated margin).
    pub fn wallet(&self, kind: MarketKind, asset: Currency) -> Option<(Money, Money)> {
        self.wallets.get(&(kind, asset)).copied()
    }

    /// Every reported futures wallet balance.
    pub fn wallets(&self) -> impl Iterator<Item = (MarketKind, Currency, Money, Money)> + '_ {
        self.wallets.iter().map(|((k, c), (f, l))| (*k, *c, *f, *l))
    }

    /// Futures margin of `asset` as last reported.
    pub fn margin(&self, asset: Currency) -> Option<&MarginReport> {
        self.margins.get(&asset)
    }

    /// The venue's last report of a futures position.
    pub fn venue_position(&self, instrument: InstrumentId) -> Option<&PositionReport> {
        self.venue_positions.get(&instrument)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloz_core::{Liquidity, TradeId};

    fn fill(side: Side, px: &str, qty: &str, fee: &str, cur: Currency) -> Fill {
        Fill {
            trade_id: TradeId(1),
            side,
            price: Price::parse(px).unwrap(),
            qty: Quantity::parse(qty).unwrap(),
            fee: Money::parse(fee, cur).unwrap(),
            liquidity: Liquidity::Maker,
        }
    }

    #[test]
    fn linear_round_trip_realises_exact_pnl() {
        let inst = veloz_sim::presets::usdm_btcusdt();
        let usdt = inst.quote;
        let mut p = Position::flat(&inst);
        assert!(p.apply_fill(&fill(Side::Buy, "100", "1", "0.02", usdt)));
        assert!(p.apply_fill(&fill(Side::Buy, "110", "1", "0.02", usdt)));
        assert_eq!(p.entry_raw, 105 * 100_000_000);
        assert_eq!(
            p.unrealized_raw(Price::parse("107").unwrap()),
            Some(4 * 100_000_000)
        );
        assert!(p.apply_fill(&fill(Side::Sell, "120", "3", "0.05", usdt)));
        // closes 2 at 120 from 105 (+30), then short 1 at 120
        assert_eq!(p.realized_raw, 30 * 100_000_000);
        assert_eq!(p.qty_raw, -100_000_000);
        assert_eq!(p.entry_raw, 120 * 100_000_000);
        assert_eq!(p.fees[&usdt], 9_000_000);
        assert_eq!(p.fills, 3);
        assert_eq!(p.turnover_raw, (100 + 110 + 360) * 100_000_000);
    }

    /// Positions are found and iterated in id order with a few instruments
    /// (equality scan) and with many (binary search), whatever the order
    /// they were added in; an unknown instrument has none.
    #[test]
    fn positions_are_found_with_few_and_many_instruments() {
        for n in [1usize, 3, LINEAR_SEARCH_MAX, LINEAR_SEARCH_MAX + 1, 40] {
            let base = veloz_sim::presets::usdm_btcusdt();
            let usdt = base.quote;
            let insts: Vec<Instrument> = (0..n)
                .map(|i| {
                    let mut inst = base.clone();
                    // Added in a scrambled order.
                    let k = (i * 17 + 5) % n;
                    inst.id =
                        InstrumentId::binance(MarketKind::UsdM, &format!("S{k}USDT")).unwrap();
                    inst
                })
                .collect();
            let mut pf = Portfolio::default();
            for inst in &insts {
                pf.add_instrument(inst);
                pf.add_instrument(inst); // twice: still one position
            }
            let ids: Vec<InstrumentId> = pf.positions().map(|p| p.instrument).collect();
            let mut sorted: Vec<InstrumentId> = insts.iter().map(|i| i.id).collect();
            sorted.sort();
            assert_eq!(ids, sorted);
            for (k, inst) in insts.iter().enumerate() {
                assert_eq!(pf.position(inst.id).map(|p| p.instrument), Some(inst.id));
                let qty = format!("{}", k + 1);
                assert!(pf.apply_fill(inst.id, &fill(Side::Buy, "100", &qty, "0", usdt)));
                assert!(pf.apply_funding(inst.id, Money::parse("1", usdt).unwrap()));
            }
            for (k, inst) in insts.iter().enumerate() {
                let p = pf.position(inst.id).unwrap();
                assert_eq!(p.qty_raw, (k as i64 + 1) * 100_000_000);
                assert_eq!(p.funding_raw, 100_000_000);
            }
            let other = InstrumentId::binance(MarketKind::UsdM, "NOPEUSDT").unwrap();
            assert!(pf.position(other).is_none());
            assert!(!pf.apply_fill(other, &fill(Side::Buy, "100", "1", "0", usdt)));
            assert!(!pf.apply_funding(other, Money::parse("1", usdt).unwrap()));
        }
    }

    /// The venue-report map answers as a `BTreeMap` would (lookups,
    /// replacements, key order), with few keys (scan) and many (bisection).
    #[test]
    fn small_map_agrees_with_a_btree_map() {
        for n in [1u64, 5, 8, 9, 60] {
            let mut small = SmallMap::default();
            let mut tree = BTreeMap::new();
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for step in 0..400u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = x % n;
                small.insert(key, step);
                tree.insert(key, step);
                let probe = (x >> 20) % (n + 2);
                assert_eq!(small.get(&probe), tree.get(&probe));
            }
            let a: Vec<_> = small.iter().map(|(k, v)| (*k, *v)).collect();
            let b: Vec<_> = tree.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn inverse_pnl_is_in_coin() {
        let inst = veloz_sim::presets::coinm_btcusd_perp();
        let btc = inst.margin_asset;
        let mut p = Position::flat(&inst);
        // 1 contract of 100 USD long at 50_000, closed at 100_000:
        // 100 * (1/50_000 - 1/100_000) = 0.001 BTC.
        assert!(p.apply_fill(&fill(Side::Buy, "50000", "1", "0", btc)));
        assert!(p.apply_fill(&fill(Side::Sell, "100000", "1", "0", btc)));
        assert_eq!(p.realized_raw, 100_000);
        assert_eq!(p.pnl_currency, btc);
        assert!(p.is_flat());
    }
}
