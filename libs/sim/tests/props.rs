//! Property tests: random order and market sequences never create or destroy
//! money between two spot accounts, never fill an order beyond its quantity,
//! never leave a balance negative, release every lock and margin reservation
//! once all orders are done, and always give the same reports for the same
//! inputs.

mod common;

use common::*;
use proptest::prelude::*;
use veloz_core::events::ModifyOrder;
use veloz_core::{
    AggressorSide, ClientOrderId, InstrumentId, OrderFlags, OrderType, Side, StrategyId,
    TimeInForce, UnixNanos,
};
use veloz_sim::{AccountId, OrderRef, SimExchange, StpMode};

#[derive(Debug, Clone)]
enum Op {
    Limit {
        b: bool,
        buy: bool,
        px: u8,
        qty: u16,
        tif: u8,
    },
    Market {
        b: bool,
        buy: bool,
        qty: u16,
    },
    Cancel {
        b: bool,
        idx: u8,
    },
    Modify {
        b: bool,
        idx: u8,
        px: u8,
        qty: u16,
    },
    Trade {
        px: u8,
        qty: u16,
        seller: bool,
    },
    Depth {
        bid: bool,
        px: u8,
        qty: u16,
    },
}

fn op(with_market: bool) -> BoxedStrategy<Op> {
    let own = prop_oneof![
        4 => (any::<bool>(), any::<bool>(), 0u8..12, 1u16..400, 0u8..5)
            .prop_map(|(b, buy, px, qty, tif)| Op::Limit { b, buy, px, qty, tif }),
        1 => (any::<bool>(), any::<bool>(), 1u16..400).prop_map(|(b, buy, qty)| Op::Market { b, buy, qty }),
        2 => (any::<bool>(), any::<u8>()).prop_map(|(b, idx)| Op::Cancel { b, idx }),
        1 => (any::<bool>(), any::<u8>(), 0u8..12, 1u16..400)
            .prop_map(|(b, idx, px, qty)| Op::Modify { b, idx, px, qty }),
    ];
    if !with_market {
        return own.boxed();
    }
    prop_oneof![
        6 => own,
        2 => (0u8..12, 1u16..400, any::<bool>()).prop_map(|(px, qty, seller)| Op::Trade { px, qty, seller }),
        2 => (any::<bool>(), 0u8..12, 0u16..400).prop_map(|(bid, px, qty)| Op::Depth { bid, px, qty }),
    ]
    .boxed()
}

fn price(px: u8) -> String {
    // 99.00 .. 101.75 in steps of 0.25
    format!("{}", 9_900 + u32::from(px) * 25)
        .chars()
        .enumerate()
        .fold(String::new(), |mut s, (i, c)| {
            if i == 3 {
                s.push('.');
            }
            s.push(c);
            s
        })
}

fn qty(qty: u16) -> String {
    // 0.001 .. 0.399
    format!("0.{qty:03}")
}

struct Run {
    v: SimExchange,
    id: InstrumentId,
    placed: Vec<(AccountId, ClientOrderId)>,
    n: u64,
}

impl Run {
    fn new(futures: bool, with_book: bool) -> Self {
        let (mut v, id) = venue_with(if futures { usdm() } else { spot() });
        for a in [A, B] {
            if futures {
                v.deposit_futures(a, money("5000", "USDT")).unwrap();
            } else {
                v.deposit_spot(a, money("150", "USDT")).unwrap();
                v.deposit_spot(a, money("1.5", "BTC")).unwrap();
            }
        }
        if with_book {
            v.on_market_event(&snapshot(id, &[("100", "1")], &[("100.25", "1")], 0))
                .unwrap();
        }
        Run {
            v,
            id,
            placed: Vec::new(),
            n: 0,
        }
    }

    fn apply(&mut self, op: &Op) {
        self.n += 1;
        let now = t(self.n);
        let id = self.id;
        let acct = |b: bool| if b { B } else { A };
        let side = |buy: bool| if buy { Side::Buy } else { Side::Sell };
        match *op {
            Op::Limit {
                b,
                buy,
                px,
                qty: q_,
                tif,
            } => {
                let cid = format!("o{}", self.n);
                let (tif, post) = match tif {
                    0 | 1 => (TimeInForce::Gtc, false),
                    2 => (TimeInForce::Ioc, false),
                    3 => (TimeInForce::Fok, false),
                    _ => (TimeInForce::Gtc, true),
                };
                let mut o = order(
                    id,
                    &cid,
                    side(buy),
                    OrderType::Limit,
                    &qty(q_),
                    Some(&price(px)),
                    tif,
                );
                if post {
                    o.flags = OrderFlags::POST_ONLY;
                }
                let stp = if self.n % 3 == 0 {
                    Some(StpMode::None)
                } else {
                    None
                };
                if self.v.submit(acct(b), &o, stp, now).is_ok() {
                    self.placed.push((acct(b), o.client_order_id));
                }
            }
            Op::Market { b, buy, qty: q_ } => {
                let cid = format!("m{}", self.n);
                let _ = self
                    .v
                    .submit(acct(b), &market(id, &cid, side(buy), &qty(q_)), None, now);
            }
            Op::Cancel { b, idx } => {
                if let Some((a, c)) = self.pick(acct(b), idx) {
                    let _ = self.v.cancel(a, id, OrderRef::Client(c), now);
                }
            }
            Op::Modify {
                b,
                idx,
                px,
                qty: q_,
            } => {
                if let Some((a, c)) = self.pick(acct(b), idx) {
                    let m = ModifyOrder {
                        strategy: StrategyId::new("test").unwrap(),
                        instrument: id,
                        client_order_id: c,
                        venue_order_id: None,
                        quantity: Some(q(&qty(q_))),
                        price: Some(p(&price(px))),
                        trigger_price: None,
                        ts_init: UnixNanos::ZERO,
                    };
                    let _ = self.v.modify(a, &m, now);
                }
            }
            Op::Trade {
                px,
                qty: q_,
                seller,
            } => {
                let aggressor = if seller {
                    AggressorSide::Seller
                } else {
                    AggressorSide::Buyer
                };
                let ms = self.n;
                self.v
                    .on_market_event(&trade(id, &price(px), &qty(q_), aggressor, ms))
                    .unwrap();
            }
            Op::Depth { bid, px, qty: q_ } => {
                let ms = self.n;
                let s = if bid { Side::Buy } else { Side::Sell };
                self.v
                    .on_market_event(&depth(id, s, &price(px), &qty(q_), ms))
                    .unwrap();
            }
        }
    }

    fn pick(&self, a: AccountId, idx: u8) -> Option<(AccountId, ClientOrderId)> {
        let mine: Vec<_> = self.placed.iter().filter(|(x, _)| *x == a).collect();
        if mine.is_empty() {
            return None;
        }
        mine.get(usize::from(idx) % mine.len()).map(|x| **x)
    }

    fn check_orders(&self) -> Result<(), TestCaseError> {
        for a in [A, B] {
            for o in self.v.open_orders(a, self.id) {
                prop_assert!(o.filled <= o.quantity, "{o:?}");
                prop_assert!(!o.filled.is_negative());
            }
        }
        Ok(())
    }

    fn spot_totals(&self, c: &str) -> i128 {
        [A, B]
            .iter()
            .map(|a| {
                let b = self.v.account(*a).unwrap().spot_balance(cur(c));
                b.free + b.locked
            })
            .sum::<i128>()
            + self.v.fees_in(cur(c)).raw()
    }

    fn check_spot_non_negative(&self) -> Result<(), TestCaseError> {
        for a in [A, B] {
            for c in ["USDT", "BTC"] {
                let b = self.v.account(a).unwrap().spot_balance(cur(c));
                prop_assert!(b.free >= 0 && b.locked >= 0, "{a} {c} {b:?}");
            }
        }
        Ok(())
    }

    fn cancel_everything(&mut self) {
        self.n += 1;
        for a in [A, B] {
            self.v.cancel_all(a, self.id, None, t(self.n)).unwrap();
        }
    }
}

fn fills_never_exceed(reports: &[veloz_sim::SimReport]) -> Result<(), TestCaseError> {
    for r in reports {
        if let Some(o) = r.as_order() {
            if !o.order.quantity.is_zero() {
                prop_assert!(o.order.filled <= o.order.quantity, "{:?}", o.order);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn spot_money_is_conserved_between_two_accounts(ops in prop::collection::vec(op(false), 1..60)) {
        let mut run = Run::new(false, false);
        let (usdt0, btc0) = (run.spot_totals("USDT"), run.spot_totals("BTC"));
        for o in &ops {
            run.apply(o);
            prop_assert_eq!(run.spot_totals("USDT"), usdt0);
            prop_assert_eq!(run.spot_totals("BTC"), btc0);
            run.check_spot_non_negative()?;
            run.check_orders()?;
            fills_never_exceed(&run.v.take_reports())?;
        }
        run.cancel_everything();
        for a in [A, B] {
            for c in ["USDT", "BTC"] {
                prop_assert_eq!(run.v.account(a).unwrap().spot_balance(cur(c)).locked, 0);
            }
        }
        prop_assert_eq!(run.spot_totals("USDT"), usdt0);
    }

    #[test]
    fn spot_against_a_replayed_market_keeps_its_invariants(ops in prop::collection::vec(op(true), 1..80)) {
        let mut run = Run::new(false, true);
        for o in &ops {
            run.apply(o);
            run.check_spot_non_negative()?;
            run.check_orders()?;
            fills_never_exceed(&run.v.take_reports())?;
        }
        run.cancel_everything();
        for a in [A, B] {
            for c in ["USDT", "BTC"] {
                prop_assert_eq!(run.v.account(a).unwrap().spot_balance(cur(c)).locked, 0);
            }
        }
    }

    #[test]
    fn futures_reservations_return_to_zero(ops in prop::collection::vec(op(true), 1..80)) {
        let mut run = Run::new(true, true);
        for o in &ops {
            run.apply(o);
            run.check_orders()?;
            fills_never_exceed(&run.v.take_reports())?;
            for a in [A, B] {
                prop_assert!(run.v.account(a).unwrap().order_margin(cur("USDT")).raw() >= 0);
            }
        }
        run.cancel_everything();
        for a in [A, B] {
            prop_assert_eq!(run.v.account(a).unwrap().order_margin(cur("USDT")).raw(), 0);
            prop_assert!(run.v.open_orders(a, run.id).is_empty());
        }
    }

    #[test]
    fn same_inputs_give_the_same_reports(ops in prop::collection::vec(op(true), 1..60)) {
        let play = |futures| {
            let mut run = Run::new(futures, true);
            let mut out = Vec::new();
            for o in &ops {
                run.apply(o);
                out.extend(run.v.take_reports());
            }
            format!("{out:?}")
        };
        prop_assert_eq!(play(false), play(false));
        prop_assert_eq!(play(true), play(true));
    }
}
