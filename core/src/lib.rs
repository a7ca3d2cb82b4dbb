//! Weir: a streaming broker that speaks the Apache Kafka wire protocol.
//!
//! Layers, top to bottom: `server` (sockets, framing, API handlers) →
//! `partition` (replicas: leader epoch, high watermark) and `metadata`
//! (the controller and its command log) → `log` (segments and indexes on
//! disk). `group` is the group coordinator (membership and committed
//! offsets, stored in `__consumer_offsets`). `config` holds every setting under Kafka's names; `protocol` is the
//! glue over the `kafka-protocol` crate. `cluster` carries messages between
//! nodes (the controller quorum's, so far).

pub mod cluster;
pub mod config;
pub mod group;
pub mod log;
pub mod metadata;
pub mod partition;
pub mod plugin;
pub mod producer;
pub mod protocol;
pub mod replication;
pub mod schema_registry;
pub mod security;
pub mod server;
pub mod view;

/// mimalloc rather than the system allocator: batches of a megabyte are
/// allocated and freed per request (and per plugin call), and glibc hands
/// such blocks back to the kernel each time, so every batch paid page
/// faults again (a plugin call on 1 MiB of records ran 5× slower).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The process's open files limit (soft, hard), if it can be read.
pub fn open_files_limit() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a plain syscall filling a struct this function owns.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    ok.then_some((limit.rlim_cur, limit.rlim_max))
}

/// Called when a runtime thread has no work: at most once a second per
/// thread, mimalloc takes back the blocks other threads freed for this one
/// and returns empty pages to the kernel. Without it, memory that one
/// connection's task allocated and another thread freed (a closed
/// connection, a large request) stayed resident until this thread next
/// allocated, which an idle broker never does.
/// CPU time the calling thread has used.
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub fn on_thread_idle() {
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    LAST.with(|last| {
        if last
            .get()
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            last.set(Some(Instant::now()));
            // SAFETY: collects this thread's own heap; no other effect.
            unsafe { libmimalloc_sys::mi_collect(false) };
        }
    });
}
