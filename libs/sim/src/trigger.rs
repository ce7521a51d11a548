//! Trigger rules of conditional orders (Binance semantics).
//!
//! | type | BUY triggers when | SELL triggers when |
//! |---|---|---|
//! | stop (`STOP`, `STOP_MARKET`, spot `STOP_LOSS[_LIMIT]`) | price ≥ stop price | price ≤ stop price |
//! | take profit (`TAKE_PROFIT[_MARKET]`, spot `TAKE_PROFIT[_LIMIT]`) | price ≤ stop price | price ≥ stop price |
//!
//! "Price" is the last trade price or the mark price, as the order asks
//! (`workingType` `CONTRACT_PRICE` / `MARK_PRICE`). The last price moves with
//! every public trade and every simulated trade; the mark price with every
//! `MarkPrice` event. An order that would trigger at once is refused at
//! submission (`-2021` futures, `-2010` spot).
//!
//! **Trailing stop** (futures `TRAILING_STOP_MARKET`, `callbackRate` in
//! percent, optional activation price): a SELL trailing stop activates when
//! the price reaches the activation price from below (at once if none is
//! given, at the price when placed), then tracks the highest price seen and
//! triggers when the price falls to `highest × (1 − rate/100)`. A BUY trailing
//! stop mirrors it (activation from above, lowest price, trigger at
//! `lowest × (1 + rate/100)`). The comparison is exact (cross-multiplied
//! integers); the reported trigger price is that level rounded toward the
//! current price to 8 decimals. Prices are sampled once per market event.

use veloz_core::{OrderType, Price, Rounding, Side};

use crate::arith::mul_div;
use crate::order::TrailingState;

/// `100 %` in raw units of a percent rate (`callbackRate` `1` = `10^8` raw).
const HUNDRED: i128 = 100 * 100_000_000;

/// Does a stop or take-profit order trigger at `price`?
pub fn stop_triggers(order_type: OrderType, side: Side, stop: Price, price: Price) -> bool {
    match (order_type, side) {
        (OrderType::StopMarket | OrderType::StopLimit, Side::Buy) => price >= stop,
        (OrderType::StopMarket | OrderType::StopLimit, Side::Sell) => price <= stop,
        (OrderType::TakeProfitMarket | OrderType::TakeProfitLimit, Side::Buy) => price <= stop,
        (OrderType::TakeProfitMarket | OrderType::TakeProfitLimit, Side::Sell) => price >= stop,
        _ => false,
    }
}

/// The trailing stop's trigger level for its current extreme.
pub fn trailing_level(state: &TrailingState, side: Side) -> Option<Price> {
    let extreme = state.extreme?;
    let (factor, mode) = match side {
        Side::Sell => (
            HUNDRED - i128::from(state.callback_rate.raw()),
            Rounding::Up,
        ),
        Side::Buy => (
            HUNDRED + i128::from(state.callback_rate.raw()),
            Rounding::Down,
        ),
    };
    let raw = mul_div(i128::from(extreme.raw()), factor, HUNDRED, mode)?;
    i64::try_from(raw)
        .ok()
        .map(|r| Price::from_raw(r, veloz_core::FIXED_PRECISION))
}

/// Feeds a new price to a trailing stop; returns `true` when it triggers.
pub fn trailing_update(state: &mut TrailingState, side: Side, price: Price) -> bool {
    if !state.activated {
        let reached = match (state.activation_price, side) {
            (None, _) => true,
            (Some(a), Side::Sell) => price >= a,
            (Some(a), Side::Buy) => price <= a,
        };
        if !reached {
            return false;
        }
        state.activated = true;
        state.extreme = Some(price);
        return false;
    }
    let extreme = match (state.extreme, side) {
        (None, _) => price,
        (Some(e), Side::Sell) => e.max(price),
        (Some(e), Side::Buy) => e.min(price),
    };
    state.extreme = Some(extreme);
    let p = i128::from(price.raw()) * HUNDRED;
    let rate = i128::from(state.callback_rate.raw());
    let e = i128::from(extreme.raw());
    match side {
        Side::Sell => p <= e * (HUNDRED - rate),
        Side::Buy => p >= e * (HUNDRED + rate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    #[test]
    fn stop_and_take_profit_directions() {
        let stop = p("100");
        assert!(stop_triggers(
            OrderType::StopMarket,
            Side::Buy,
            stop,
            p("100")
        ));
        assert!(!stop_triggers(
            OrderType::StopMarket,
            Side::Buy,
            stop,
            p("99.9")
        ));
        assert!(stop_triggers(
            OrderType::StopLimit,
            Side::Sell,
            stop,
            p("99")
        ));
        assert!(!stop_triggers(
            OrderType::StopLimit,
            Side::Sell,
            stop,
            p("100.1")
        ));
        assert!(stop_triggers(
            OrderType::TakeProfitMarket,
            Side::Buy,
            stop,
            p("99")
        ));
        assert!(!stop_triggers(
            OrderType::TakeProfitMarket,
            Side::Buy,
            stop,
            p("101")
        ));
        assert!(stop_triggers(
            OrderType::TakeProfitLimit,
            Side::Sell,
            stop,
            p("101")
        ));
        assert!(!stop_triggers(OrderType::Limit, Side::Sell, stop, p("101")));
    }

    #[test]
    fn trailing_sell_tracks_the_high() {
        let mut s = TrailingState {
            callback_rate: p("1"),
            activation_price: Some(p("105")),
            activated: false,
            extreme: None,
        };
        assert!(!trailing_update(&mut s, Side::Sell, p("104")));
        assert!(!s.activated);
        assert!(!trailing_update(&mut s, Side::Sell, p("105")));
        assert!(s.activated);
        assert!(!trailing_update(&mut s, Side::Sell, p("110")));
        assert_eq!(trailing_level(&s, Side::Sell), Some(p("108.9")));
        assert!(!trailing_update(&mut s, Side::Sell, p("108.91")));
        assert!(trailing_update(&mut s, Side::Sell, p("108.9")));
    }

    #[test]
    fn trailing_buy_tracks_the_low() {
        let mut s = TrailingState {
            callback_rate: p("2.5"),
            activation_price: None,
            activated: false,
            extreme: None,
        };
        assert!(!trailing_update(&mut s, Side::Buy, p("200")));
        assert!(!trailing_update(&mut s, Side::Buy, p("180")));
        // 180 × 1.025 = 184.5
        assert_eq!(trailing_level(&s, Side::Buy), Some(p("184.5")));
        assert!(!trailing_update(&mut s, Side::Buy, p("184.49")));
        assert!(trailing_update(&mut s, Side::Buy, p("184.5")));
    }
}
