//! One side of an L2 book: a dense, tick-indexed window around the best price
//! plus an ordered overflow map for every level the window cannot hold.
//!
//! This module owns the storage and the invariants of a book side; it knows
//! nothing about events, instruments or display precision (see [`crate::book`]).
//!
//! # Layout
//!
//! * The **window** covers `window` consecutive price slots `base + i × tick`
//!   (`i` in `0..window`). Quantities live in a flat `Vec<i64>` (0 = empty) and
//!   a bitmap marks the occupied slots, so finding the next level after the best
//!   is deleted scans 64 slots per instruction.
//! * The **overflow** (`BTreeMap<i64, i64>`) holds every level whose price is
//!   outside the window or not on its tick grid: junk far from the top, prices
//!   off the inferred grid, absurdly large or small prices.
//!
//! Every level is in exactly one of the two. The window is an accelerator, the
//! union is the truth: queries merge both, so the side is correct for any input,
//! and fast when most updates land near the top (the real pattern).
//!
//! # Keeping the window useful
//!
//! * It is anchored on the first price inserted into an empty side, with that
//!   price in the middle.
//! * It is re-centred on the best price when the best drifts into the outer
//!   eighth of the window, or when a price outside the window becomes the best.
//!   Re-centring moves every level (O(n log n)) and is rare: the best has to
//!   move by 3/8 of the window between two of them.
//! * The tick is either fixed (the instrument's tick size) or inferred: the
//!   largest power of ten (at most 1.0) dividing the first price, refined to the
//!   greatest common divisor when a price inside the window falls between two
//!   slots. Refinement only ever shrinks the tick, so it happens a handful of
//!   times at most.
//!
//! Answers never depend on any of this, only speed does. The slow cases are
//! inputs no sound feed produces: a best price that keeps jumping between two
//! prices further apart than the window re-centres on every jump, and a price
//! off the grid inside the window shrinks an inferred tick (and so the
//! window's price range) for good. Configuring the instrument's tick avoids
//! the latter.
//!
//! The update path has no data-dependent branch except the one taken when the
//! best slot changes: whether an update inserts, changes or deletes a level is
//! random in real feeds, and mispredicting it cost more than everything else.
//!
//! A best bid/offer message says more than one level update: every level
//! better than its price is gone. [`Ladder::remove_better`] clears them a
//! bitmap word at a time and searches for the next best once, and
//! [`Ladder::set_best`] also skips that search when the quoted level lands in
//! the window (it is the new best). Both end in the state deleting the levels
//! one at a time would leave (property-tested against that).

use std::collections::BTreeMap;

/// Smallest accepted window, in slots.
pub(crate) const MIN_WINDOW: usize = 64;
/// Largest accepted window, in slots.
pub(crate) const MAX_WINDOW: usize = 1 << 24;
/// Largest inferred starting tick: 1.0 in raw `10^-8` units.
const MAX_INFERRED_TICK: u64 = 100_000_000;

/// One side of a book. `BID` selects the ordering: for bids the best price is
/// the highest, for asks the lowest.
#[derive(Debug, Clone)]
pub(crate) struct Ladder<const BID: bool> {
    /// Slots in the window (a multiple of 64).
    window: usize,
    /// The tick is the instrument's and never changes.
    fixed_tick: bool,
    /// Grid step in raw units; 0 only while an inferred tick is still unknown.
    tick: u64,
    /// Division by the tick as one multiplication, an addition and a shift
    /// (see [`div_magic`]): the multiplier less `2^64`...
    magic: u64,
    /// ... and the shift.
    shift: u32,
    /// Price of slot 0.
    base: i64,
    /// `window × tick` while anchored, 0 while not (then every lookup misses).
    /// Always `base + span <= 2^63`, so the wrapping range check is exact.
    span: u64,
    /// Has the window been pointed somewhere since the side was last empty?
    /// (Until then the side holds no level at all.)
    anchored: bool,
    /// Quantity per slot, 0 = empty. Allocated on first anchoring.
    qty: Vec<i64>,
    /// Occupancy bitmap of `qty`.
    bits: Vec<u64>,
    /// Number of occupied slots.
    dense_len: usize,
    /// Slot of the best occupied slot; when the window is empty, a sentinel
    /// every slot beats (-1 for bids, `window` for asks).
    best: isize,
    /// Levels outside the window or off its grid.
    overflow: BTreeMap<i64, i64>,
    /// Best price in `overflow` (cached: best-price queries stay O(1)).
    ovf_best: Option<i64>,
}

impl<const BID: bool> Ladder<BID> {
    /// An empty side. `window` must already be validated (multiple of 64 in
    /// `MIN_WINDOW..=MAX_WINDOW`); `tick`, if given, must be positive.
    pub(crate) fn new(window: usize, tick: Option<u64>) -> Self {
        Self {
            window,
            fixed_tick: tick.is_some(),
            tick: tick.unwrap_or(0),
            magic: 0,
            shift: 0,
            base: 0,
            span: 0,
            anchored: false,
            qty: Vec::new(),
            bits: Vec::new(),
            dense_len: 0,
            best: Self::empty_best(window),
            overflow: BTreeMap::new(),
            ovf_best: None,
        }
    }

    /// Is `a` a better price than `b` on this side?
    #[inline(always)]
    fn better(a: i64, b: i64) -> bool {
        if BID {
            a > b
        } else {
            a < b
        }
    }

    /// The `best` sentinel of an empty window.
    #[inline(always)]
    fn empty_best(window: usize) -> isize {
        if BID {
            -1
        } else {
            window as isize
        }
    }

    /// Is slot `a` better than slot `b`?
    #[inline(always)]
    fn better_slot(a: isize, b: isize) -> bool {
        if BID {
            a > b
        } else {
            a < b
        }
    }

    /// Price of slot `i` (fits: `base + span <= 2^63`).
    #[inline(always)]
    fn price_of(&self, i: usize) -> i64 {
        self.base
            .wrapping_add((i as u64).wrapping_mul(self.tick) as i64)
    }

    /// The window slot of `price`, if it is inside the window and on its grid.
    #[inline(always)]
    fn slot_of(&self, price: i64) -> Option<usize> {
        let off = price.wrapping_sub(self.base) as u64;
        if off < self.span {
            // span > 0 implies tick > 0.
            let idx = self.div_tick(off);
            if off - idx * self.tick == 0 {
                return Some(idx as usize);
            }
        }
        None
    }

    /// `off / tick` for `off < 2^63`, without a division instruction or a
    /// branch. Every caller passes an offset inside the window, and the
    /// window's span is at most `2^62` (see [`Ladder::anchor`]).
    #[inline(always)]
    fn div_tick(&self, off: u64) -> u64 {
        debug_assert!(off < 1 << 63);
        // off × (2^64 + magic) / 2^(64 + shift), where the high half of
        // off × 2^64 is `off` itself; the sum cannot overflow for off < 2^63.
        let hi = ((u128::from(off) * u128::from(self.magic)) >> 64) as u64;
        (hi + off) >> self.shift
    }

    /// Is `price` inside the window's price range (on the grid or not)?
    #[inline]
    fn in_range(&self, price: i64) -> bool {
        (price.wrapping_sub(self.base) as u64) < self.span
    }

    // ------------------------------------------------------------ updates

    /// Sets the absolute quantity at `price` (`qty == 0` deletes; deleting an
    /// absent level is a no-op). `qty` must be `>= 0` (checked by the book).
    #[inline]
    pub(crate) fn set(&mut self, price: i64, qty: i64) {
        debug_assert!(qty >= 0);
        match self.slot_of(price) {
            Some(idx) => self.set_slot(idx, qty),
            None => self.set_slow(price, qty),
        }
    }

    /// The hot path. Written without data-dependent branches except the one
    /// taken when the best slot changes: whether an update inserts, modifies or
    /// deletes is random in real feeds, so branching on it would mispredict.
    #[inline(always)]
    fn set_slot(&mut self, idx: usize, qty: i64) {
        let old = std::mem::replace(&mut self.qty[idx], qty);
        let (has, had) = (qty != 0, old != 0);
        let word = &mut self.bits[idx >> 6];
        let mask = 1u64 << (idx & 63);
        *word = (*word & !mask) | (mask & u64::from(has).wrapping_neg());
        self.dense_len = self.dense_len + usize::from(has) - usize::from(had);
        let i = idx as isize;
        let improves = has & Self::better_slot(i, self.best);
        let removes_best = !has & (i == self.best);
        if improves | removes_best {
            self.best_changed(i, has);
        }
    }

    /// The best slot is now `next` (`None`: the window is empty; if levels
    /// remain outside it, the window moves onto the best of them).
    #[inline]
    fn best_is(&mut self, next: Option<usize>) {
        match next {
            Some(n) => {
                self.best = n as isize;
                self.check_edges();
            }
            None => {
                self.best = Self::empty_best(self.window);
                if let Some(p) = self.ovf_best {
                    self.recenter(self.tick, p);
                }
            }
        }
    }

    /// Slot `i` became the best (`has`), or the best slot `i` was emptied.
    #[inline(never)]
    fn best_changed(&mut self, i: isize, has: bool) {
        if has {
            self.best = i;
            self.check_edges();
            return;
        }
        let idx = i as usize;
        let next = if BID {
            prev_set(&self.bits, idx)
        } else {
            next_set(&self.bits, self.window, idx)
        };
        self.best_is(next);
    }

    /// Re-centres when the best slot has drifted into the outer eighth.
    #[inline(always)]
    fn check_edges(&mut self) {
        let margin = (self.window >> 3) as isize;
        if self.best < margin || self.best >= self.window as isize - margin {
            self.edge_recenter();
        }
    }

    #[cold]
    #[inline(never)]
    fn edge_recenter(&mut self) {
        let p = self.price_of(self.best as usize);
        self.recenter(self.tick, p);
    }

    /// Deletes every level strictly better than `price` (bids above it, asks
    /// below it); returns how many. The result is what deleting them one at a
    /// time, best first, gives; but the window is cleared a bitmap word at a
    /// time and the next best slot is searched once, not once per level.
    #[inline]
    pub(crate) fn remove_better(&mut self, price: i64) -> usize {
        let mut removed = 0;
        if self.ovf_best.is_some_and(|o| Self::better(o, price)) {
            removed += self.remove_better_overflow(price);
        }
        if self.dense_len > 0 && Self::better(self.price_of(self.best as usize), price) {
            removed += self.remove_better_dense(price);
        } else if removed > 0 && self.dense_len == 0 {
            // Only overflow levels were removed and the window is empty: as
            // after any deletion that empties the window, move it onto the
            // best remaining level (if any).
            if let Some(p) = self.ovf_best {
                self.recenter(self.tick, p);
            }
        }
        removed
    }

    /// The overflow part of [`Ladder::remove_better`].
    #[cold]
    #[inline(never)]
    fn remove_better_overflow(&mut self, price: i64) -> usize {
        let mut removed = 0;
        while let Some(o) = self.ovf_best.filter(|&o| Self::better(o, price)) {
            self.overflow.remove(&o);
            self.ovf_best = self.overflow_extreme();
            removed += 1;
        }
        removed
    }

    /// The window part of [`Ladder::remove_better`]; the best window slot is
    /// better than `price`.
    #[inline(never)]
    fn remove_better_dense(&mut self, price: i64) -> usize {
        let best = self.best as usize;
        // The slots to clear, `lo..=hi`: from the best slot to the last slot
        // strictly better than `price`. The best slot's price is better than
        // `price`, so for bids `price` is below the window's end and for asks
        // above its start, and the offsets below are inside the window.
        let (lo, hi) = if BID {
            let lo = if price < self.base {
                0
            } else {
                // First slot priced above `price`.
                self.div_tick(price.wrapping_sub(self.base) as u64) as usize + 1
            };
            (lo, best)
        } else {
            let off = price.wrapping_sub(self.base) as u64; // > 0
            let hi = if off >= self.span {
                self.window - 1
            } else {
                // Last slot priced below `price`.
                self.div_tick(off - 1) as usize
            };
            (best, hi)
        };
        let removed = self.clear_slots(lo, hi);
        let next = if BID {
            prev_set(&self.bits, lo)
        } else {
            next_set(&self.bits, self.window, hi)
        };
        self.best_is(next);
        removed
    }

    /// Empties the window slots `lo..=hi`; returns how many were occupied.
    /// `best` is left as it was: the caller sets it.
    #[inline]
    fn clear_slots(&mut self, lo: usize, hi: usize) -> usize {
        debug_assert!(lo <= hi && hi < self.window);
        let (wl, wh) = (lo >> 6, hi >> 6);
        let lo_mask = u64::MAX << (lo & 63);
        let hi_mask = u64::MAX >> (63 - (hi & 63));
        // A quote usually moves the best by a few dozen ticks at most, so the
        // range mostly lies in one bitmap word.
        if wl == wh {
            return self.clear_word(wl, lo_mask & hi_mask);
        }
        let mut removed = self.clear_word(wl, lo_mask);
        for w in wl + 1..wh {
            if self.bits[w] != 0 {
                removed += self.clear_word(w, u64::MAX);
            }
        }
        removed + self.clear_word(wh, hi_mask)
    }

    /// Empties the slots of bitmap word `w` selected by `mask`; returns how
    /// many were occupied. (Counted in the loop that zeroes their quantities:
    /// `count_ones` is a dozen instructions on baseline x86-64.)
    #[inline(always)]
    fn clear_word(&mut self, w: usize, mask: u64) -> usize {
        let mut word = self.bits[w] & mask;
        self.bits[w] ^= word;
        // One bounds check for the word's 64 quantities, none per slot.
        let qty = &mut self.qty[w * 64..][..64];
        let mut removed = 0;
        while word != 0 {
            qty[word.trailing_zeros() as usize & 63] = 0;
            word &= word - 1;
            removed += 1;
        }
        self.dense_len -= removed;
        removed
    }

    /// Makes `price` the best level with `qty`: deletes every level strictly
    /// better than `price` (returns how many), then sets `qty` at `price`
    /// (0 deletes it). The same as [`Ladder::remove_better`] then
    /// [`Ladder::set`], but when `price` has a window slot and `qty > 0` the
    /// new best slot is known, so no search for the next best level runs.
    #[inline]
    pub(crate) fn set_best(&mut self, price: i64, qty: i64) -> usize {
        debug_assert!(qty >= 0);
        // The fast path needs: a positive quantity, a window slot for `price`
        // and no overflow level better than it (the overflow's best is below
        // the window's top for any sound feed).
        let off = price.wrapping_sub(self.base) as u64;
        if off < self.span && qty > 0 && !self.ovf_best.is_some_and(|o| Self::better(o, price)) {
            // span > 0 implies tick > 0.
            let idx = self.div_tick(off);
            if off == idx * self.tick {
                return self.set_best_slot(idx as usize, qty);
            }
        }
        self.set_best_general(price, qty)
    }

    /// [`Ladder::set_best`] when `price` is not in the window, not on its
    /// grid, `qty` is 0 or an overflow level is better than `price`.
    #[cold]
    #[inline(never)]
    fn set_best_general(&mut self, price: i64, qty: i64) -> usize {
        let Some(idx) = self.slot_of(price).filter(|_| qty > 0) else {
            let removed = self.remove_better(price);
            self.set(price, qty);
            return removed;
        };
        let removed = self.remove_better_overflow(price);
        removed + self.set_best_slot(idx, qty)
    }

    /// [`Ladder::set_best`] for the window slot `idx` with `qty > 0`, when
    /// no overflow level is better than the slot's price.
    #[inline(always)]
    fn set_best_slot(&mut self, idx: usize, qty: i64) -> usize {
        let i = idx as isize;
        let mut removed = 0;
        // An empty window's `best` is a sentinel no slot is worse than, so
        // this also says the window is not empty.
        if Self::better_slot(self.best, i) {
            let best = self.best as usize;
            removed = if BID {
                self.clear_slots(idx + 1, best)
            } else {
                self.clear_slots(best, idx - 1)
            };
        }
        // Every slot better than `idx` is empty now and `idx` gets a positive
        // quantity: it is the best slot, whatever it was before.
        let old = std::mem::replace(&mut self.qty[idx], qty);
        if old == 0 {
            self.bits[idx >> 6] |= 1u64 << (idx & 63);
            self.dense_len += 1;
        }
        if self.best != i {
            self.best = i;
            self.check_edges();
        }
        removed
    }

    /// Everything that does not hit a window slot.
    #[cold]
    #[inline(never)]
    fn set_slow(&mut self, price: i64, qty: i64) {
        if !self.anchored {
            // Not anchored: the side is empty (the overflow is only used while
            // anchored), so there is nothing to delete.
            if qty != 0 {
                if self.tick == 0 {
                    self.tick = inferred_tick(price);
                }
                self.anchor(price);
                self.place(price, qty);
            }
            return;
        }
        if !self.fixed_tick && self.in_range(price) && qty != 0 {
            // Inside the window but between two slots: the inferred tick was too
            // coarse. Refine it and rebuild around the current best.
            let off = price.wrapping_sub(self.base) as u64;
            let tick = gcd(self.tick, off);
            let centre = self.best_price().map_or(price, |(p, _)| p);
            self.recenter(tick, centre);
            self.place(price, qty);
            self.after_overflow_insert(price);
            return;
        }
        if qty == 0 {
            if self.overflow.remove(&price).is_some() && self.ovf_best == Some(price) {
                self.ovf_best = self.overflow_extreme();
            }
            return;
        }
        if self.overflow.insert(price, qty).is_none()
            && self.ovf_best.is_none_or(|b| Self::better(price, b))
        {
            self.ovf_best = Some(price);
        }
        self.after_overflow_insert(price);
    }

    /// After `price` may have landed in the overflow: if it is now the best
    /// price of the side and lies outside the window, move the window onto it.
    fn after_overflow_insert(&mut self, price: i64) {
        if self.slot_of(price).is_some() || self.in_range(price) {
            return;
        }
        let beats_window =
            self.dense_len == 0 || Self::better(price, self.price_of(self.best as usize));
        if beats_window && self.ovf_best == Some(price) {
            self.recenter(self.tick, price);
        }
    }

    /// Inserts a positive quantity without any re-centring (rebuild helper).
    fn place(&mut self, price: i64, qty: i64) {
        debug_assert!(qty > 0);
        match self.slot_of(price) {
            Some(idx) => {
                let old = std::mem::replace(&mut self.qty[idx], qty);
                if old == 0 {
                    self.bits[idx >> 6] |= 1u64 << (idx & 63);
                    self.dense_len += 1;
                    if Self::better_slot(idx as isize, self.best) {
                        self.best = idx as isize;
                    }
                }
            }
            None => {
                if self.overflow.insert(price, qty).is_none()
                    && self.ovf_best.is_none_or(|b| Self::better(price, b))
                {
                    self.ovf_best = Some(price);
                }
            }
        }
    }

    /// Points the window at `centre` with the current tick (allocating it on
    /// first use). The window must be empty.
    fn anchor(&mut self, centre: i64) {
        debug_assert_eq!(self.dense_len, 0);
        if self.qty.is_empty() {
            self.qty = vec![0; self.window];
            self.bits = vec![0; self.window / 64];
        }
        (self.magic, self.shift) = div_magic(self.tick);
        let (base, span) = window_bounds(centre, self.tick, self.window);
        // A fixed tick is validated so that tick × window <= 2^62; an inferred
        // one is at most 10^8 (and only shrinks) with at most 2^24 slots.
        debug_assert!(span <= 1 << 62);
        self.base = base;
        self.span = span;
        self.anchored = true;
    }

    /// Moves every level out, re-anchors on `centre` with `tick`, and puts
    /// every level back.
    fn recenter(&mut self, tick: u64, centre: i64) {
        let mut levels: Vec<(i64, i64)> = Vec::with_capacity(self.len());
        self.drain_window(&mut levels);
        levels.extend(self.overflow.iter().map(|(&p, &q)| (p, q)));
        self.overflow.clear();
        self.ovf_best = None;
        self.tick = tick;
        self.anchor(centre);
        for (p, q) in levels {
            self.place(p, q);
        }
    }

    /// Empties the window, pushing its levels into `out` (if given).
    fn drain_window(&mut self, out: &mut Vec<(i64, i64)>) {
        for w in 0..self.bits.len() {
            let mut word = std::mem::take(&mut self.bits[w]);
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let q = std::mem::take(&mut self.qty[i]);
                out.push((self.price_of(i), q));
            }
        }
        self.dense_len = 0;
        self.best = Self::empty_best(self.window);
    }

    /// Removes every level. The window is released from its anchor; an
    /// inferred tick is kept as the starting guess for the next prices.
    pub(crate) fn clear(&mut self) {
        if self.dense_len > 0 {
            for w in 0..self.bits.len() {
                let mut word = std::mem::take(&mut self.bits[w]);
                while word != 0 {
                    let i = w * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    self.qty[i] = 0;
                }
            }
        }
        self.dense_len = 0;
        self.best = Self::empty_best(self.window);
        self.span = 0;
        self.anchored = false;
        self.overflow.clear();
        self.ovf_best = None;
    }

    // ------------------------------------------------------------ queries

    /// Number of levels.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.dense_len + self.overflow.len()
    }

    /// Best `(price, qty)`.
    #[inline]
    pub(crate) fn best_price(&self) -> Option<(i64, i64)> {
        let dense = (self.dense_len > 0).then_some(self.best as usize);
        match (dense, self.ovf_best) {
            (Some(i), None) => Some((self.price_of(i), self.qty[i])),
            (None, None) => None,
            (d, Some(o)) => {
                let dp = d.map(|i| (self.price_of(i), self.qty[i]));
                match dp {
                    Some((p, q)) if Self::better(p, o) => Some((p, q)),
                    _ => self.overflow.get(&o).map(|&q| (o, q)),
                }
            }
        }
    }

    /// Quantity at `price` (0 if absent).
    #[inline]
    pub(crate) fn qty_at(&self, price: i64) -> i64 {
        match self.slot_of(price) {
            Some(i) => self.qty[i],
            None => self.overflow.get(&price).copied().unwrap_or(0),
        }
    }

    /// Levels best first.
    #[inline]
    pub(crate) fn iter(&self) -> SideLevels<'_, BID> {
        let (w, word) = if self.dense_len == 0 {
            (0, 0)
        } else {
            let best = self.best as usize;
            let keep = if BID {
                u64::MAX >> (63 - (best & 63))
            } else {
                u64::MAX << (best & 63)
            };
            (best >> 6, self.bits[best >> 6] & keep)
        };
        SideLevels {
            qty: &self.qty,
            bits: &self.bits,
            base: self.base,
            tick: self.tick,
            w,
            word,
            overflow: &self.overflow,
            ovf_next: self.ovf_best,
        }
    }

    fn overflow_extreme(&self) -> Option<i64> {
        if BID {
            self.overflow.last_key_value().map(|(&p, _)| p)
        } else {
            self.overflow.first_key_value().map(|(&p, _)| p)
        }
    }

    /// Checks every internal invariant; returns what is broken.
    pub(crate) fn check(&self) -> Result<(), String> {
        let side = if BID { "bid" } else { "ask" };
        if self.span != 0 {
            let end = i128::from(self.base) + i128::from(self.span);
            if end > i128::from(i64::MAX) + 1 {
                return Err(format!("{side}: window end {end} beyond 2^63"));
            }
            if self.span != self.window as u64 * self.tick {
                return Err(format!("{side}: span {} != window × tick", self.span));
            }
        }
        let mut count = 0;
        let mut best: Option<isize> = None;
        for (i, &q) in self.qty.iter().enumerate() {
            let bit = self.bits[i >> 6] >> (i & 63) & 1 == 1;
            if bit != (q != 0) {
                return Err(format!("{side}: slot {i} qty {q} but bit {bit}"));
            }
            if q < 0 {
                return Err(format!("{side}: slot {i} negative qty {q}"));
            }
            if q != 0 {
                if !self.anchored {
                    return Err(format!("{side}: slot {i} occupied while unanchored"));
                }
                count += 1;
                if best.is_none_or(|b| Self::better_slot(i as isize, b)) {
                    best = Some(i as isize);
                }
            }
        }
        if count != self.dense_len {
            return Err(format!(
                "{side}: dense_len {} but {count} slots",
                self.dense_len
            ));
        }
        if best.unwrap_or(Self::empty_best(self.window)) != self.best {
            return Err(format!(
                "{side}: best slot {} but real best {best:?}",
                self.best
            ));
        }
        for (&p, &q) in &self.overflow {
            if q <= 0 {
                return Err(format!("{side}: overflow level {p} has qty {q}"));
            }
            if self.slot_of(p).is_some() {
                return Err(format!("{side}: overflow price {p} belongs in the window"));
            }
        }
        if self.ovf_best != self.overflow_extreme() {
            return Err(format!(
                "{side}: cached overflow best {:?} != {:?}",
                self.ovf_best,
                self.overflow_extreme()
            ));
        }
        if !self.anchored && !self.overflow.is_empty() {
            return Err(format!("{side}: overflow used while unanchored"));
        }
        Ok(())
    }
}

/// Levels of one side, best first, as raw `(price, qty)` pairs.
///
/// Merges the window (walked through its bitmap, one word at a time) with the
/// overflow, which is only searched when one of its levels is next, so reading
/// the top of the book never touches the overflow tree.
#[derive(Debug, Clone)]
pub(crate) struct SideLevels<'a, const BID: bool> {
    qty: &'a [i64],
    bits: &'a [u64],
    base: i64,
    tick: u64,
    /// Bitmap word being walked.
    w: usize,
    /// Its occupied slots not yielded yet (0 = move to the next word).
    word: u64,
    overflow: &'a BTreeMap<i64, i64>,
    /// Price of the next overflow level to yield.
    ovf_next: Option<i64>,
}

impl<const BID: bool> SideLevels<'_, BID> {
    /// The next window slot to yield, moving to further words as needed.
    #[inline(always)]
    fn peek_dense(&mut self) -> Option<usize> {
        loop {
            if self.word != 0 {
                let bit = if BID {
                    63 - self.word.leading_zeros() as usize
                } else {
                    self.word.trailing_zeros() as usize
                };
                return Some(self.w * 64 + bit);
            }
            if BID {
                if self.w == 0 {
                    return None;
                }
                self.w -= 1;
            } else {
                if self.w + 1 >= self.bits.len() {
                    return None;
                }
                self.w += 1;
            }
            self.word = self.bits[self.w];
        }
    }

    /// Yields the overflow level at `p` and finds the one after it.
    #[inline]
    fn take_ovf(&mut self, p: i64) -> Option<(i64, i64)> {
        let (this, next) = overflow_step::<BID>(self.overflow, p);
        self.ovf_next = next;
        this
    }
}

/// The overflow level at `p` and the price of the one after it, best first.
/// (A free function, so the iterator state never escapes to memory.)
#[cold]
#[inline(never)]
fn overflow_step<const BID: bool>(
    overflow: &BTreeMap<i64, i64>,
    p: i64,
) -> (Option<(i64, i64)>, Option<i64>) {
    let (this, next) = if BID {
        let mut r = overflow.range(..=p);
        (r.next_back(), r.next_back())
    } else {
        let mut r = overflow.range(p..);
        (r.next(), r.next())
    };
    (this.map(|(&k, &q)| (k, q)), next.map(|(&k, _)| k))
}

impl<const BID: bool> Iterator for SideLevels<'_, BID> {
    type Item = (i64, i64);

    #[inline]
    fn next(&mut self) -> Option<(i64, i64)> {
        let Some(i) = self.peek_dense() else {
            return self.ovf_next.and_then(|o| self.take_ovf(o));
        };
        let p = self
            .base
            .wrapping_add((i as u64).wrapping_mul(self.tick) as i64);
        if let Some(o) = self.ovf_next {
            if if BID { o > p } else { o < p } {
                return self.take_ovf(o);
            }
        }
        self.word &= !(1u64 << (i & 63));
        Some((p, self.qty[i]))
    }
}

/// Levels of one side of an [`L2Book`](crate::L2Book), best first, as raw
/// `(price, qty)` pairs in `10^-8` units.
#[derive(Debug, Clone)]
pub struct RawLevels<'a>(RawInner<'a>);

#[derive(Debug, Clone)]
enum RawInner<'a> {
    Bids(SideLevels<'a, true>),
    Asks(SideLevels<'a, false>),
}

impl<'a> From<SideLevels<'a, true>> for RawLevels<'a> {
    fn from(l: SideLevels<'a, true>) -> Self {
        Self(RawInner::Bids(l))
    }
}

impl<'a> From<SideLevels<'a, false>> for RawLevels<'a> {
    fn from(l: SideLevels<'a, false>) -> Self {
        Self(RawInner::Asks(l))
    }
}

impl Iterator for RawLevels<'_> {
    type Item = (i64, i64);

    #[inline]
    fn next(&mut self) -> Option<(i64, i64)> {
        match &mut self.0 {
            RawInner::Bids(l) => l.next(),
            RawInner::Asks(l) => l.next(),
        }
    }

    #[inline]
    fn fold<B, F: FnMut(B, (i64, i64)) -> B>(self, init: B, f: F) -> B {
        match self.0 {
            RawInner::Bids(l) => l.fold(init, f),
            RawInner::Asks(l) => l.fold(init, f),
        }
    }
}

/// Highest set bit strictly below `idx`.
#[inline]
fn prev_set(bits: &[u64], idx: usize) -> Option<usize> {
    if idx == 0 {
        return None;
    }
    let i = idx - 1;
    let mut w = i >> 6;
    let mut word = bits[w] & (u64::MAX >> (63 - (i & 63)));
    loop {
        if word != 0 {
            return Some(w * 64 + 63 - word.leading_zeros() as usize);
        }
        if w == 0 {
            return None;
        }
        w -= 1;
        word = bits[w];
    }
}

/// Lowest set bit strictly above `idx` (and below `window`).
#[inline]
fn next_set(bits: &[u64], window: usize, idx: usize) -> Option<usize> {
    let i = idx + 1;
    if i >= window {
        return None;
    }
    let mut w = i >> 6;
    let mut word = bits[w] & (u64::MAX << (i & 63));
    loop {
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        w += 1;
        if w == bits.len() {
            return None;
        }
        word = bits[w];
    }
}

/// The starting tick guess for an inferred grid: the largest power of ten,
/// at most `MAX_INFERRED_TICK`, that divides `price`.
fn inferred_tick(price: i64) -> u64 {
    let mut p = price.unsigned_abs();
    if p == 0 {
        return MAX_INFERRED_TICK;
    }
    let mut tick = 1;
    while tick < MAX_INFERRED_TICK && p % 10 == 0 {
        p /= 10;
        tick *= 10;
    }
    tick
}

/// The multiplier and shift of [`Ladder::div_tick`] for a divisor `d >= 1`:
/// `(m - 2^64, s)` with `n / d = floor(n × m / 2^(64 + s))`.
///
/// * `d = 2^k`: `m = 2^64`, `s = k` (a plain shift).
/// * otherwise `s = ceil(log2 d)` and `m = ceil(2^(64+s) / d)`, which lies in
///   `(2^64, 2^65)` because `2^(s-1) < d < 2^s`. With `e = m × d - 2^(64+s)`
///   in `[0, d)`, `n × m / 2^(64+s) = n / d + n × e / (d × 2^(64+s))`, and the
///   error term is below `n / 2^(64+s) < 2^-(s+1) < 1 / d` for `n < 2^63`:
///   too small to reach the next integer, so the quotient is exact.
fn div_magic(d: u64) -> (u64, u32) {
    debug_assert!(d >= 1);
    if d.is_power_of_two() {
        return (0, d.trailing_zeros());
    }
    let s = 64 - (d - 1).leading_zeros(); // ceil(log2 d), 2..=64
                                          // ceil(x / d) = floor((x - 1) / d) + 1, with x = 2^(64+s) (2^128 - 1 fits).
    let m = (u128::MAX >> (64 - s)) / u128::from(d) + 1;
    ((m - (1u128 << 64)) as u64, s)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `(base, span)` of a window of `window` slots of `tick` that contains
/// `centre` on its grid, as near the middle as the i64 range allows, with
/// `base + span <= 2^63`. If the tick is so large that no such window holds
/// `centre`, the returned window simply does not contain it (the level then
/// lives in the overflow).
fn window_bounds(centre: i64, tick: u64, window: usize) -> (i64, u64) {
    let t = i128::from(tick);
    let span = window as i128 * t;
    let min = i128::from(i64::MIN);
    let max_base = i128::from(i64::MAX) + 1 - span; // base + span <= 2^63
    let mut base = i128::from(centre) - (window as i128 / 2) * t;
    if base < min {
        // Move up by whole ticks.
        base += (min - base + t - 1) / t * t;
    }
    if base > max_base {
        base -= (base - max_base + t - 1) / t * t;
    }
    if base < min || span > i128::from(u64::MAX) {
        // A tick so large the window cannot fit the i64 range: degrade to a
        // window that matches nothing, everything goes to the overflow.
        return (0, 0);
    }
    // In range: min <= base <= max_base < 2^63.
    (base as i64, span as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels<const B: bool>(l: &Ladder<B>) -> Vec<(i64, i64)> {
        l.iter().collect()
    }

    #[test]
    fn bid_side_orders_and_finds_next_best() {
        let mut l = Ladder::<true>::new(64, Some(10));
        for (p, q) in [(1000, 1), (990, 2), (1010, 3), (5, 4), (1_000_000, 5)] {
            l.set(p, q);
            l.check().unwrap();
        }
        assert_eq!(
            levels(&l),
            vec![(1_000_000, 5), (1010, 3), (1000, 1), (990, 2), (5, 4)]
        );
        l.set(1_000_000, 0);
        l.check().unwrap();
        assert_eq!(l.best_price(), Some((1010, 3)));
        l.set(1010, 0);
        l.set(1000, 0);
        l.check().unwrap();
        assert_eq!(l.best_price(), Some((990, 2)));
        l.set(777, 0); // absent
        assert_eq!(l.len(), 2);
        l.set(990, 0);
        l.check().unwrap();
        assert_eq!(l.best_price(), Some((5, 4)));
        assert_eq!(l.qty_at(5), 4);
    }

    #[test]
    fn ask_side_recentres_when_price_moves() {
        let mut l = Ladder::<false>::new(64, None);
        for k in 0..500 {
            l.set(100_000 - k * 7, 1 + k);
            l.check().unwrap();
            assert_eq!(l.best_price(), Some((100_000 - k * 7, 1 + k)));
        }
        assert_eq!(l.len(), 500);
        let all = levels(&l);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn inferred_tick_refines() {
        let mut l = Ladder::<true>::new(64, None);
        l.set(6_180_000_000_000, 1); // 61800.00 -> tick 1.0
        assert_eq!(l.tick, 100_000_000);
        l.set(6_180_010_000_000, 2); // 61800.10 -> tick 0.1
        assert_eq!(l.tick, 10_000_000);
        l.check().unwrap();
        assert_eq!(l.dense_len, 2);
        assert_eq!(l.best_price(), Some((6_180_010_000_000, 2)));
    }

    #[test]
    fn extreme_prices_are_kept() {
        let mut l = Ladder::<false>::new(64, None);
        for p in [i64::MAX, i64::MIN, 0, -1, 1, i64::MAX - 1, i64::MIN + 1] {
            l.set(p, 3);
            l.check().unwrap();
        }
        assert_eq!(l.len(), 7);
        assert_eq!(l.best_price(), Some((i64::MIN, 3)));
        let all = levels(&l);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "{all:?}");
        for p in [i64::MIN, 0, i64::MAX] {
            l.set(p, 0);
            l.check().unwrap();
        }
        assert_eq!(l.len(), 4);
        assert_eq!(l.best_price(), Some((i64::MIN + 1, 3)));
    }

    #[test]
    fn window_bounds_respect_i64_range() {
        for (c, t) in [
            (i64::MAX, 1),
            (i64::MAX, 7),
            (i64::MIN, 3),
            (0, u64::MAX / 64),
        ] {
            let (b, s) = window_bounds(c, t, 64);
            assert!(i128::from(b) + i128::from(s) <= i128::from(i64::MAX) + 1);
        }
        assert_eq!(inferred_tick(6_180_020_000_000), 10_000_000);
        assert_eq!(inferred_tick(0), MAX_INFERRED_TICK);
        assert_eq!(inferred_tick(-30), 10);
        assert_eq!(gcd(100, 30), 10);
    }

    #[test]
    fn magic_division_is_exact() {
        let mut l = Ladder::<true>::new(64, Some(1));
        let ds = [
            1u64,
            2,
            3,
            7,
            10,
            1 << 20,
            10_000_000,
            100_000_000,
            999_999_937,
            6,
            1 << 40,
            (1 << 61) + 1,
            (1 << 62) - 1,
            u64::MAX / 64,
        ];
        let mut ns = vec![0u64, 1, 2, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ns.push(x);
            ns.push(x >> (x % 64));
        }
        // The domain of div_tick: offsets below 2^63.
        let ns: Vec<u64> = ns.into_iter().map(|n| n >> 1).collect();
        for d in 1..=1_000u64 {
            l.tick = d;
            (l.magic, l.shift) = div_magic(d);
            for &n in ns.iter().take(300).chain(&[d - 1, d, d + 1, 1_000_003]) {
                assert_eq!(l.div_tick(n), n / d, "{n} / {d}");
            }
        }
        for d in ds {
            l.tick = d;
            (l.magic, l.shift) = div_magic(d);
            for &n in &ns {
                assert_eq!(l.div_tick(n), n / d, "{n} / {d}");
                for k in [n / d, (n / d).saturating_sub(1)] {
                    let m = k.wrapping_mul(d);
                    if m / d == k && (1..1 << 63).contains(&m) {
                        assert_eq!(l.div_tick(m), k, "{m} / {d}");
                        assert_eq!(l.div_tick(m.wrapping_sub(1)), m.wrapping_sub(1) / d);
                    }
                }
            }
        }
    }
}
