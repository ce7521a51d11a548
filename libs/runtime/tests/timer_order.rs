//! Strategy timers fire in time order, timers set for the same time in the
//! order they were set (also across strategies), each on its own strategy;
//! a timer that is not due yet waits for a later timer input, and a timer set
//! by a timer callback waits for the next one. `Kernel::next_timer` follows.

use std::sync::{Arc, Mutex};

use veloz_core::UnixNanos;
use veloz_runtime::{Context, Input, Kernel, KernelConfig, RecordingVenue, Strategy};

/// `(strategy, tag)` in firing order, shared by the strategies.
type Log = Arc<Mutex<Vec<(u8, u64)>>>;

#[derive(Debug)]
struct Timed {
    me: u8,
    /// `(at, tag)` set on start.
    start: Vec<(u64, u64)>,
    log: Log,
}

impl Strategy for Timed {
    fn name(&self) -> &str {
        "timed"
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for &(at, tag) in &self.start {
            ctx.set_timer(UnixNanos(at), tag);
        }
    }
    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: u64) {
        self.log.lock().unwrap().push((self.me, tag));
        if tag == 2 {
            // Already due when set: fires on the next timer input.
            ctx.set_timer(UnixNanos(50), 20);
        }
    }
}

#[test]
fn timers_fire_by_time_then_by_when_they_were_set() {
    let log = Log::default();
    let mut k = Kernel::new(&KernelConfig::default()).unwrap();
    let a = Timed {
        me: 0,
        start: vec![(300, 1), (100, 2), (100, 3), (200, 4)],
        log: log.clone(),
    };
    let b = Timed {
        me: 1,
        start: vec![(100, 5), (250, 6), (100, 7)],
        log: log.clone(),
    };
    k.add_strategy("a", Box::new(a)).unwrap();
    k.add_strategy("b", Box::new(b)).unwrap();
    let mut venue = RecordingVenue::default();
    k.handle(UnixNanos(1), Input::Start, &mut venue).unwrap();
    assert_eq!(k.next_timer(), Some(UnixNanos(100)));

    let mut fire = |at: u64| {
        k.handle(UnixNanos(at), Input::Timer, &mut venue).unwrap();
        let fired = std::mem::take(&mut *log.lock().unwrap());
        (fired, k.next_timer())
    };
    // Nothing due yet.
    assert_eq!(fire(99), (vec![], Some(UnixNanos(100))));
    // The four timers at 100, in the order set; tag 2 sets one at 50.
    assert_eq!(
        fire(100),
        (vec![(0, 2), (0, 3), (1, 5), (1, 7)], Some(UnixNanos(50)))
    );
    assert_eq!(fire(210), (vec![(0, 20), (0, 4)], Some(UnixNanos(250))));
    assert_eq!(fire(1000), (vec![(1, 6), (0, 1)], None));
    assert_eq!(fire(2000), (vec![], None));
}
