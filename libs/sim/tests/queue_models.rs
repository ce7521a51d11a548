//! Queue models inside the engine on a scripted depth/trade sequence: the
//! conservative model, the probabilistic model (seeded, reproducible, never
//! behind the conservative one), and a user-supplied model.

mod common;

use common::*;
use veloz_core::{AggressorSide, Side};
use veloz_sim::{
    ConservativeQueue, DepthChange, InstrumentSettings, ProbabilisticQueue, QueueModel, SimConfig,
    SimExchange,
};

/// Runs the script with `model`; returns (quantity ahead after the cancels,
/// quantity filled by the final trade, every report as text).
fn run(model: Box<dyn QueueModel>) -> (i64, i64, String) {
    let mut v = SimExchange::new(SimConfig::default(), model);
    let inst = spot();
    let id = inst.id;
    v.add_instrument(inst, InstrumentSettings::default())
        .unwrap();
    v.open_account(A);
    v.deposit_spot(A, money("100000", "USDT")).unwrap();
    v.on_market_event(&snapshot(id, &[("100", "10")], &[("101", "10")], 0))
        .unwrap();
    let oid = v
        .submit(A, &limit(id, "q", Side::Buy, "1", "100"), None, t(1))
        .unwrap();
    // 20 join behind us, then 4 single-unit cancels somewhere in the queue.
    v.on_market_event(&depth(id, Side::Buy, "100", "30", 2))
        .unwrap();
    for (i, level) in ["29", "28", "27", "26"].iter().enumerate() {
        v.on_market_event(&depth(id, Side::Buy, "100", level, 3 + i as u64))
            .unwrap();
    }
    let ahead = v.order(id, oid).unwrap().queue_ahead;
    v.on_market_event(&trade(id, "100", "10.5", AggressorSide::Seller, 10))
        .unwrap();
    let filled = v.order(id, oid).unwrap().filled.raw();
    (ahead, filled, format!("{:?}", v.take_reports()))
}

#[test]
fn conservative_model_ignores_cancels() {
    let (ahead, filled, _) = run(Box::new(ConservativeQueue));
    assert_eq!(ahead, q("10").raw());
    assert_eq!(filled, q("0.5").raw());
}

#[test]
fn probabilistic_model_is_seeded_and_never_behind_the_conservative_one() {
    let mut moved = 0;
    for seed in 0..32 {
        let (ahead, filled, reports) = run(Box::new(ProbabilisticQueue::new(1, seed).unwrap()));
        let (ahead2, _, reports2) = run(Box::new(ProbabilisticQueue::new(1, seed).unwrap()));
        assert_eq!(
            (ahead, &reports),
            (ahead2, &reports2),
            "seed {seed} is reproducible"
        );
        assert!(
            ahead <= q("10").raw() && ahead >= q("6").raw(),
            "seed {seed}: {ahead}"
        );
        // Every unit canceled ahead of us is one more unit filled.
        assert_eq!(filled, (q("10.5").raw() - ahead).min(q("1").raw()));
        if ahead < q("10").raw() {
            moved += 1;
        }
    }
    // With a third of the queue ahead, about a third of the cancels land
    // ahead of us: over 32 seeds × 4 cancels some certainly do.
    assert!(moved > 0);
}

/// A user model: optimistic, always at the front of the queue.
#[derive(Debug)]
struct FrontOfQueue;

impl QueueModel for FrontOfQueue {
    fn name(&self) -> &'static str {
        "front"
    }
    fn initial_ahead(&mut self, _level_qty: i64) -> i64 {
        0
    }
    fn on_depth_change(&mut self, _ahead: i64, _change: DepthChange) -> i64 {
        0
    }
}

#[test]
fn users_can_plug_in_their_own_model() {
    let (ahead, filled, _) = run(Box::new(FrontOfQueue));
    assert_eq!(ahead, 0);
    assert_eq!(filled, q("1").raw());
}
