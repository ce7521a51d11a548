//! The risk engine inside the kernel: an oversized order is denied with its
//! reason in the audit, the kill switch cancels every open order and closes
//! the position with a reduce-only market order, new orders are denied
//! afterwards while cancels still go out, and a journal replay of a run with
//! control inputs rebuilds the same state and commands.

use std::collections::VecDeque;

use veloz_core::events::{
    Command, EventTimes, Fill, Level, MarketEvent, OrderEvent, OrderEventKind, Quote,
};
use veloz_core::{
    ClientOrderId, InstrumentId, Liquidity, Money, OrderFlags, OrderType, Price, Quantity, Side,
    TradeId, UnixNanos, VenueOrderId,
};
use veloz_risk::{RiskConfig, RiskEngine, RiskRecordKind, Rule, TradingState};
use veloz_runtime::{
    Context, Control, Input, Journal, Kernel, KernelConfig, MemoryJournal, OrderRequest,
    RecordingVenue, StepAudit, Strategy,
};

/// What the scripted strategy does on its next quote.
#[derive(Debug, Clone)]
enum Step {
    Submit(OrderRequest),
    CancelFirstOpen,
    Nothing,
}

/// On every quote, takes the next step of its script; records the reasons
/// of its denied orders and the trading state it saw.
#[derive(Debug)]
struct Scripted {
    instrument: InstrumentId,
    script: VecDeque<Step>,
}

impl Strategy for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn on_quote(&mut self, ctx: &mut Context<'_>, q: &Quote) {
        if q.instrument != self.instrument {
            return;
        }
        match self.script.pop_front() {
            Some(Step::Submit(r)) => {
                let _ = ctx.submit(r);
            }
            Some(Step::CancelFirstOpen) => {
                let id = ctx
                    .open_orders(self.instrument)
                    .map(|o| o.client_order_id())
                    .next();
                if let Some(id) = id {
                    let _ = ctx.cancel(id);
                }
            }
            Some(Step::Nothing) | None => {}
        }
        if let Some(state) = ctx.trading_state() {
            ctx.log(format!("state {state}"));
        }
    }
}

fn inst() -> veloz_core::Instrument {
    veloz_sim::presets::usdm_btcusdt()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn t(ms: u64) -> UnixNanos {
    UnixNanos::from_millis(1_700_000_000_000 + ms)
}

fn quote(id: InstrumentId, at: UnixNanos) -> Input {
    Input::Market(MarketEvent::Quote(Quote {
        instrument: id,
        bid: Level {
            price: p("49990"),
            qty: q("1"),
        },
        ask: Level {
            price: p("50010"),
            qty: q("1"),
        },
        update_id: None,
        times: EventTimes::new(at, at),
    }))
}

fn order_event(
    id: InstrumentId,
    coid: ClientOrderId,
    at: UnixNanos,
    kind: OrderEventKind,
) -> Input {
    Input::Order(OrderEvent {
        instrument: id,
        client_order_id: coid,
        // The id generator's sequence number ("VZ.1.<n>") as the venue id.
        venue_order_id: coid
            .as_str()
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .map(VenueOrderId),
        kind,
        times: EventTimes::new(at, at),
    })
}

fn risk() -> RiskEngine {
    RiskEngine::new(RiskConfig {
        max_order_qty: Some(q("1")),
        ..RiskConfig::default()
    })
    .unwrap()
}

fn kernel(id: InstrumentId, with_risk: bool) -> Kernel {
    let mut k = Kernel::new(&KernelConfig::default()).unwrap();
    k.add_instrument(inst());
    let script = VecDeque::from(vec![
        // 1: oversized (max_order_qty 1).
        Step::Submit(OrderRequest::limit(id, Side::Buy, q("5"), p("49990"))),
        // 2: a resting bid.
        Step::Submit(OrderRequest::limit(id, Side::Buy, q("0.010"), p("49000"))),
        // 3: a buy that fills (the test reports the fill).
        Step::Submit(OrderRequest::limit(id, Side::Buy, q("0.500"), p("50010"))),
        // 4: after the kill switch: denied.
        Step::Submit(OrderRequest::limit(id, Side::Buy, q("0.010"), p("49500"))),
        // 5: after the kill switch: a cancel still goes out.
        Step::CancelFirstOpen,
        // 6: after the operator resumes: accepted.
        Step::Submit(OrderRequest::limit(id, Side::Sell, q("0.010"), p("50500"))),
        Step::Nothing,
    ]);
    k.add_strategy(
        "s1",
        Box::new(Scripted {
            instrument: id,
            script,
        }),
    )
    .unwrap();
    if with_risk {
        k.set_risk(risk());
    }
    k
}

/// Runs the scenario, returning every step's audit.
fn run(k: &mut Kernel, venue: &mut RecordingVenue) -> Vec<StepAudit> {
    let id = inst().id;
    let mut audits = Vec::new();
    let mut step = |k: &mut Kernel, venue: &mut RecordingVenue, at, input| {
        audits.push(k.handle(at, input, venue).unwrap());
    };
    step(k, venue, t(0), Input::Start);
    step(k, venue, t(1), quote(id, t(1))); // oversized: denied
    step(k, venue, t(2), quote(id, t(2))); // resting bid
    let bid = last_submit(venue);
    step(
        k,
        venue,
        t(3),
        order_event(id, bid, t(3), OrderEventKind::Accepted),
    );
    step(k, venue, t(4), quote(id, t(4))); // buy 0.5
    let buy = last_submit(venue);
    step(
        k,
        venue,
        t(5),
        order_event(id, buy, t(5), OrderEventKind::Accepted),
    );
    let fill = Fill {
        trade_id: TradeId(1),
        side: Side::Buy,
        price: p("50010"),
        qty: q("0.500"),
        fee: Money::parse("5", inst().quote).unwrap(),
        liquidity: Liquidity::Taker,
    };
    step(
        k,
        venue,
        t(6),
        order_event(id, buy, t(6), OrderEventKind::Filled(fill)),
    );
    step(
        k,
        venue,
        t(7),
        Input::Control(Control::KillSwitch {
            flatten: true,
            reason: "operator pressed the button".into(),
        }),
    );
    step(k, venue, t(8), quote(id, t(8))); // denied: halted
    step(k, venue, t(9), quote(id, t(9))); // cancel goes out
    step(
        k,
        venue,
        t(10),
        Input::Control(Control::SetTradingState {
            state: TradingState::Active,
            reason: "resume".into(),
        }),
    );
    step(k, venue, t(11), quote(id, t(11))); // accepted again
    step(k, venue, t(12), Input::Stop);
    audits
}

fn last_submit(venue: &RecordingVenue) -> ClientOrderId {
    venue
        .sent
        .iter()
        .rev()
        .find_map(|(_, c)| match c {
            Command::Submit(o) => Some(o.client_order_id),
            _ => None,
        })
        .unwrap()
}

#[test]
fn oversized_order_is_denied_with_the_reason_in_the_audit() {
    let id = inst().id;
    let mut k = kernel(id, true);
    let mut venue = RecordingVenue::default();
    let audits = run(&mut k, &mut venue);
    let a = &audits[1];
    assert_eq!(a.commands, 0);
    assert_eq!(a.denied.len(), 1, "{a:?}");
    assert!(a.denied[0].1.contains("max_order_qty"), "{:?}", a.denied);
    assert!(matches!(
        a.risk[0].kind,
        RiskRecordKind::OrderDenied {
            rule: Rule::MaxOrderQty,
            ..
        }
    ));
    // The order exists, denied, with the reason.
    let o = k.orders().get(&a.denied[0].0).unwrap();
    assert_eq!(o.status(), veloz_oms::OrderStatus::Denied);
    assert!(k.stats().risk_denied >= 1);
}

#[test]
fn kill_switch_cancels_flattens_and_blocks_new_orders_but_not_cancels() {
    let id = inst().id;
    let mut k = kernel(id, true);
    let mut venue = RecordingVenue::default();
    let audits = run(&mut k, &mut venue);
    assert_eq!(
        k.portfolio().position(id).unwrap().qty(),
        q("0.500"),
        "{:?}",
        &audits[2..7]
    );

    // The kill switch step: HALTED, one cancel-all, one reduce-only market sell of 0.5.
    let ks = &audits[7];
    assert_eq!(ks.commands, 2, "{ks:?}");
    assert!(ks
        .risk
        .iter()
        .any(|r| matches!(r.kind, RiskRecordKind::KillSwitch { flatten: true })));
    assert!(ks.risk.iter().any(|r| matches!(
        r.kind,
        RiskRecordKind::StateChanged {
            to: TradingState::Halted,
            ..
        }
    )));
    let at_ks: Vec<&Command> = venue
        .sent
        .iter()
        .filter(|(at, _)| *at == t(7))
        .map(|(_, c)| c)
        .collect();
    assert_eq!(at_ks.len(), 2);
    assert!(matches!(at_ks[0], Command::CancelAll(c) if c.instrument == id && c.side.is_none()));
    match at_ks[1] {
        Command::Submit(o) => {
            assert_eq!(o.side, Side::Sell);
            assert_eq!(o.order_type, OrderType::Market);
            assert_eq!(o.quantity, q("0.500"));
            assert!(o.flags.contains(OrderFlags::REDUCE_ONLY));
            assert_eq!(o.strategy, veloz_runtime::kernel::RISK_STRATEGY);
        }
        other => panic!("expected the flatten order, got {other:?}"),
    }
    assert_eq!(k.stats().halts, 1);

    // After the kill switch: the new order is denied (HALTED)...
    let a = &audits[8];
    assert_eq!(a.commands, 0);
    assert_eq!(a.denied.len(), 1);
    assert!(a.denied[0].1.contains("HALTED"), "{:?}", a.denied);
    // ...while the strategy's cancel goes out.
    let a = &audits[9];
    assert_eq!(a.commands, 1, "{a:?}");
    assert!(venue
        .sent
        .iter()
        .any(|(at, c)| *at == t(9) && matches!(c, Command::Cancel(_))));

    // After the operator resumes, orders flow again.
    let a = &audits[11];
    assert_eq!(a.commands, 1, "{a:?}");
    assert!(a.denied.is_empty());
    assert_eq!(k.trading_state(), Some(TradingState::Active));
    // The strategy saw the state through its context.
    let log: Vec<&str> = k
        .strategy_log()
        .iter()
        .map(|(_, _, m)| m.as_str())
        .collect();
    assert!(log.contains(&"state HALTED"), "{log:?}");
    assert!(log.contains(&"state ACTIVE"), "{log:?}");
}

#[test]
fn without_a_risk_engine_nothing_is_denied_and_the_kill_switch_still_cancels() {
    let id = inst().id;
    let mut k = kernel(id, false);
    let mut venue = RecordingVenue::default();
    let audits = run(&mut k, &mut venue);
    // The oversized order goes out (only the instrument rules apply).
    assert_eq!(audits[1].commands, 1);
    assert!(audits.iter().all(|a| a.risk.is_empty()));
    assert_eq!(k.trading_state(), None);
    // The kill switch still cancels and flattens, and says nothing blocks.
    assert_eq!(audits[7].commands, 2, "{:?}", audits[7]);
    assert!(audits[7].notes[0].contains("not blocked"));
    assert_eq!(audits[8].commands, 1);
}

#[test]
fn lost_connection_halts_and_venue_rejects_are_observed() {
    let id = inst().id;
    let mut k = Kernel::new(&KernelConfig::default()).unwrap();
    k.add_instrument(inst());
    k.add_strategy(
        "s1",
        Box::new(Scripted {
            instrument: id,
            script: VecDeque::from(vec![
                Step::Submit(OrderRequest::limit(id, Side::Buy, q("0.010"), p("49000"))),
                Step::Submit(OrderRequest::limit(id, Side::Buy, q("0.010"), p("49000"))),
            ]),
        }),
    )
    .unwrap();
    k.set_risk(
        RiskEngine::new(RiskConfig {
            max_rejects: 1,
            ..RiskConfig::default()
        })
        .unwrap(),
    );
    let mut venue = RecordingVenue::default();
    k.handle(t(0), Input::Start, &mut venue).unwrap();
    k.handle(t(1), quote(id, t(1)), &mut venue).unwrap();
    let coid = last_submit(&venue);
    let a = k
        .handle(
            t(2),
            order_event(
                id,
                coid,
                t(2),
                OrderEventKind::Rejected {
                    code: Some(-2019),
                    reason: "Margin is insufficient.".into(),
                },
            ),
            &mut venue,
        )
        .unwrap();
    assert_eq!(k.trading_state(), Some(TradingState::Halted));
    assert!(a.risk.iter().any(|r| r.reason.contains("-2019")), "{a:?}");
    let a = k
        .handle(
            t(3),
            Input::Control(Control::SetTradingState {
                state: TradingState::Active,
                reason: "checked margin".into(),
            }),
            &mut venue,
        )
        .unwrap();
    assert_eq!(a.risk.len(), 1);
    let a = k
        .handle(
            t(4),
            Input::Control(Control::Connection {
                up: false,
                what: "user data stream".into(),
            }),
            &mut venue,
        )
        .unwrap();
    assert_eq!(k.trading_state(), Some(TradingState::Halted));
    assert!(a.risk[0].reason.contains("user data stream lost"));
    let a = k.handle(t(5), quote(id, t(5)), &mut venue).unwrap();
    assert_eq!(a.commands, 0);
    assert_eq!(k.stats().halts, 2);
}

#[test]
fn journal_replay_with_control_inputs_gives_the_same_state() {
    let id = inst().id;
    let mut k = kernel(id, true);
    k.set_journal(Box::new(MemoryJournal::new()));
    let mut venue = RecordingVenue::default();
    let audits = run(&mut k, &mut venue);
    let journal: Box<dyn Journal> = k.take_journal().unwrap();
    let entries = journal.entries().unwrap();
    assert_eq!(entries.len(), audits.len());
    assert!(entries
        .iter()
        .any(|e| matches!(e.input, Input::Control(Control::KillSwitch { .. }))));
    // The control inputs survive the JSON form of a journal line.
    for e in entries {
        let line = serde_json::to_string(e).unwrap();
        let back: veloz_runtime::Stamped = serde_json::from_str(&line).unwrap();
        assert_eq!(&back, e);
    }

    let mut fresh = kernel(id, true);
    let mut replayed = RecordingVenue::default();
    fresh.replay(entries, &mut replayed).unwrap();
    assert_eq!(fresh.state(), k.state());
    assert_eq!(replayed.sent, venue.sent);
    assert_eq!(fresh.stats(), k.stats());
    assert_eq!(fresh.state().trading_state, Some(TradingState::Active));
}
