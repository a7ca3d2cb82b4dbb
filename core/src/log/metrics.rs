//! Storage health counters, exported on `/metrics`: failed appends (a full
//! disk, an I/O error), damaged batches found when starting or fetching, and
//! bytes cut off damaged segment tails. Storage errors are also logged at
//! ERROR, at most once a second (`log_limited`), so a full disk under a fast
//! producer cannot flood the log as well.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Appends that failed with an I/O error and were undone.
pub static APPEND_FAILURES: AtomicU64 = AtomicU64::new(0);
/// Fetches refused because a batch in the range read was damaged.
pub static DAMAGED_READS: AtomicU64 = AtomicU64::new(0);
/// Bytes cut off segment tails at start-up (torn writes, damage).
pub static TRUNCATED_BYTES: AtomicU64 = AtomicU64::new(0);

static LIMITER: LogLimiter = LogLimiter::new();

/// Counts one event and runs `log` (given how many were not logged since
/// the last one) unless something was logged less than a second ago.
pub fn log_limited(counter: &AtomicU64, log: impl FnOnce(u64)) {
    counter.fetch_add(1, Ordering::Relaxed);
    LIMITER.log(log);
}

/// Lets one message a second through, and counts the others.
#[derive(Debug, Default)]
pub struct LogLimiter {
    last_logged_ms: AtomicI64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    pub const fn new() -> LogLimiter {
        LogLimiter {
            last_logged_ms: AtomicI64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Runs `log` (given how many were not logged since the last one)
    /// unless something was logged less than a second ago.
    pub fn log(&self, log: impl FnOnce(u64)) {
        let now = super::now_ms();
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if now - last >= 1_000
            && self
                .last_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log(self.suppressed.swap(0, Ordering::Relaxed));
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Appends the counters in Prometheus' text format.
pub fn write_prometheus(out: &mut String) {
    use std::fmt::Write;
    for (name, help, value) in [
        (
            "weir_log_append_failures_total",
            "Appends that failed with an I/O error (e.g. a full disk) and were undone.",
            &APPEND_FAILURES,
        ),
        (
            "weir_log_damaged_reads_total",
            "Fetches answered KAFKA_STORAGE_ERROR because a stored batch was damaged.",
            &DAMAGED_READS,
        ),
        (
            "weir_log_truncated_bytes_total",
            "Bytes cut off damaged or torn segment tails at start-up.",
            &TRUNCATED_BYTES,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
    }
}
