//! A plugin call's CPU deadline. The engine's epoch advances every
//! millisecond of wall time, which alone would make `timeout-ms` a wall
//! clock: a call on a thread the scheduler left waiting (a busy machine, or
//! the log cleaner's idle CPU class) would be stopped for time it never
//! ran, and a compaction policy stopped that way falls back to Kafka's rule
//! and drops history it meant to keep. So the first epoch check of a call
//! starts a count of the thread's own CPU time, and each later one stops
//! the call only once that count reaches the deadline, charging the time
//! before that first check as one whole tick. Calls shorter than a tick
//! (nearly all) read no clock at all.

use std::time::Duration;

use wasmtime::UpdateDeadline;

use super::engine::EPOCH_TICK;

/// The deadline of the call running in a store.
#[derive(Debug, Clone, Copy)]
pub struct CallDeadline {
    limit: Duration,
    /// The thread's CPU time at the call's first epoch check.
    since: Option<Duration>,
}

impl CallDeadline {
    /// The epoch ticks to allow before the first check.
    pub const FIRST_CHECK: u64 = 1;

    pub fn new(limit: Duration) -> CallDeadline {
        CallDeadline { limit, since: None }
    }

    /// At an epoch check: stop the call, or let it run until the next check.
    pub fn check(&mut self) -> UpdateDeadline {
        let cpu = crate::thread_cpu_time();
        // The first check comes within a tick of the call's start (or
        // later, when the thread waited for a CPU: that wait is not
        // charged), so a tick is all the call can have used before it.
        let base = *self.since.get_or_insert(cpu);
        let used = cpu.saturating_sub(base) + EPOCH_TICK;
        match self.limit.checked_sub(used) {
            Some(left) if !left.is_zero() => UpdateDeadline::Continue(ticks(left)),
            _ => UpdateDeadline::Interrupt,
        }
    }
}

/// Epoch ticks in `d`, at least one.
fn ticks(d: Duration) -> u64 {
    (d.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burn(d: Duration) {
        let start = crate::thread_cpu_time();
        while crate::thread_cpu_time() - start < d {
            std::hint::black_box(0u64);
        }
    }

    #[test]
    fn waiting_is_not_charged_running_is() {
        let mut deadline = CallDeadline::new(Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(50)); // descheduled, not running
        assert!(matches!(deadline.check(), UpdateDeadline::Continue(_)));
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(deadline.check(), UpdateDeadline::Continue(_)));
        burn(Duration::from_millis(25));
        assert!(matches!(deadline.check(), UpdateDeadline::Interrupt));
    }

    #[test]
    fn the_next_check_comes_when_the_budget_could_be_spent() {
        let mut deadline = CallDeadline::new(Duration::from_millis(100));
        match deadline.check() {
            UpdateDeadline::Continue(n) => assert!((90..=100).contains(&n), "{n}"),
            _ => panic!("a fresh call is stopped"),
        }
    }
}
