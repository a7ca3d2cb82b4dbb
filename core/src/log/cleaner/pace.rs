//! Pacing the log cleaner so that produce and fetch barely feel it. Its I/O
//! stays under `log.cleaner.io.max.bytes.per.second` (`Throttle`), and while
//! it compacts its thread is in the idle CPU class (SCHED_IDLE): a request
//! thread that wakes takes the CPU at once. Nice levels only shift CPU
//! shares; a cleaner at nice 10 or 19 still raised produce p99 by ~30% while
//! it ran on the broker's core, SCHED_IDLE by ~10% (docs/benchmarks.md).
//!
//! An idle-class thread gets next to nothing from a saturated CPU, so a
//! compaction that had under `MIN_SHARE` of a CPU for a second (time spent
//! in the throttle aside) moves to the normal class at nice 10 until it
//! ends: a busy broker still compacts. Work under partition locks (planning,
//! the swap) is done in the normal class, so requests never wait on a lock
//! held by a thread that cannot run.

use std::time::{Duration, Instant};

use tracing::{info, warn};

/// Below this share of a CPU over a second, a compaction is starving.
const MIN_SHARE: f64 = 0.05;
const WINDOW: Duration = Duration::from_secs(1);

/// The cleaner's I/O budget and CPU class, one per cleaner thread.
pub struct Pace {
    throttle: Throttle,
    cpu: Option<CpuClass>,
}

impl Pace {
    /// Pacing by I/O only; the calling thread's CPU class is left alone.
    pub fn new(bytes_per_second: f64) -> Pace {
        Pace {
            throttle: Throttle::new(bytes_per_second),
            cpu: None,
        }
    }

    /// Pacing that also moves the calling thread (a cleaner thread) between
    /// the idle and normal CPU classes; it starts in the normal class at nice 10.
    pub fn with_cpu_classes(bytes_per_second: f64) -> Pace {
        Pace {
            throttle: Throttle::new(bytes_per_second),
            cpu: CpuClass::start(),
        }
    }

    /// Background work without locks follows (a compaction): the thread
    /// yields the CPU to anything else.
    pub fn idle_class(&mut self) {
        if let Some(cpu) = &mut self.cpu {
            cpu.set(libc::SCHED_IDLE);
        }
    }

    /// Work under partition locks follows (the swap, the next plan): nice 10.
    pub fn normal_class(&mut self) {
        if let Some(cpu) = &mut self.cpu {
            cpu.set(libc::SCHED_OTHER);
        }
    }

    /// Accounts for `bytes` read or written: waits when ahead of the I/O
    /// budget, and leaves the idle class when starved of CPU.
    pub fn account(&mut self, bytes: usize) {
        let slept = self.throttle.account(bytes);
        if let Some(cpu) = &mut self.cpu {
            cpu.check(slept);
        }
    }
}

/// Keeps the cleaner's I/O under `log.cleaner.io.max.bytes.per.second`.
struct Throttle {
    bytes_per_second: f64,
    since: Instant,
    bytes: f64,
}

impl Throttle {
    fn new(bytes_per_second: f64) -> Throttle {
        Throttle {
            bytes_per_second,
            since: Instant::now(),
            bytes: 0.0,
        }
    }

    /// Accounts for `bytes` of I/O, sleeping when ahead of the budget; the
    /// time slept.
    fn account(&mut self, bytes: usize) -> Duration {
        if !self.bytes_per_second.is_finite() || self.bytes_per_second <= 0.0 {
            return Duration::ZERO;
        }
        self.bytes += bytes as f64;
        let due = Duration::from_secs_f64(self.bytes / self.bytes_per_second);
        let elapsed = self.since.elapsed();
        let wait = due.saturating_sub(elapsed);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        // A fresh window now and then, so idle time earns no burst.
        if elapsed > Duration::from_secs(1) {
            self.since = Instant::now();
            self.bytes = 0.0;
        }
        wait
    }
}

/// The calling thread's scheduling class, and its CPU use while idle-class.
struct CpuClass {
    policy: libc::c_int,
    window: Instant,
    cpu_at_window: Duration,
    slept: Duration,
}

impl CpuClass {
    /// The normal class at nice 10; None where the thread could not come
    /// back from the idle class (then it stays at nice 10 throughout).
    fn start() -> Option<CpuClass> {
        if !lower_priority() {
            warn!("could not lower the log cleaner thread's priority");
        }
        if !can_leave_idle_class() {
            warn!(
                "the log cleaner runs at nice 10, not in the idle CPU class: leaving \
                that class needs CAP_SYS_NICE or RLIMIT_NICE of at least 10"
            );
            return None;
        }
        Some(CpuClass {
            policy: libc::SCHED_OTHER,
            window: Instant::now(),
            cpu_at_window: Duration::ZERO,
            slept: Duration::ZERO,
        })
    }

    fn set(&mut self, policy: libc::c_int) {
        if policy != self.policy && set_policy(policy) {
            self.policy = policy;
            self.new_window();
        }
    }

    fn new_window(&mut self) {
        self.window = Instant::now();
        self.cpu_at_window = crate::thread_cpu_time();
        self.slept = Duration::ZERO;
    }

    /// Once a second while idle-class: back to normal if starved.
    fn check(&mut self, slept: Duration) {
        if self.policy != libc::SCHED_IDLE {
            return;
        }
        self.slept += slept;
        let wall = self.window.elapsed();
        if wall < WINDOW {
            return;
        }
        let used = crate::thread_cpu_time().saturating_sub(self.cpu_at_window);
        let awake = wall.saturating_sub(self.slept);
        if used.as_secs_f64() < MIN_SHARE * awake.as_secs_f64() {
            info!(
                cpu_ms = used.as_millis() as u64,
                awake_ms = awake.as_millis() as u64,
                "log cleaner starved of CPU in the idle class; nice 10 until this compaction ends"
            );
            self.set(libc::SCHED_OTHER);
            return;
        }
        self.new_window();
    }
}

/// The calling thread to nice 10 (kept across classes).
fn lower_priority() -> bool {
    // SAFETY: plain syscalls on this thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10) == 0
    }
}

/// Moves the calling thread to the idle CPU class for good (entering it
/// needs no privilege; leaving does).
pub(crate) fn enter_idle_class() -> bool {
    set_policy(libc::SCHED_IDLE)
}

fn set_policy(policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; param outlives the call.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
}

/// Whether a thread at nice 10 may enter the idle class and leave it again
/// (unprivileged, leaving needs RLIMIT_NICE): tried on a throwaway thread,
/// so a refusal strands no cleaner thread in the idle class.
fn can_leave_idle_class() -> bool {
    std::thread::spawn(|| {
        lower_priority() && set_policy(libc::SCHED_IDLE) && set_policy(libc::SCHED_OTHER)
    })
    .join()
    .unwrap_or(false)
}
