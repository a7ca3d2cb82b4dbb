//! The log cleaner's threads (`log.cleaner.threads`): each takes the
//! compacted partition whose log is dirtiest among those due, plans under
//! the partition lock, compacts without it (`log::cleaner::compact`, with
//! the topic's compaction policy and its share of
//! `log.cleaner.io.max.bytes.per.second`, in the idle CPU class: see
//! `log::cleaner::Pace`), then swaps the result in under the lock again.
//! With nothing due a thread sleeps `log.cleaner.backoff.ms`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{info, warn};

use super::{Partition, ReplicaManager};
use crate::log::cleaner::policy::CompactionPolicy;
use crate::log::cleaner::{compact, CleanPlan, Cleaned, Pace, Source};
use crate::log::now_ms;
use crate::log::TopicPartition;

/// Gives a topic's compaction policy.
pub type PolicyFor = dyn Fn(&str) -> Arc<dyn CompactionPolicy> + Send + Sync;

pub struct CleanerSettings {
    pub threads: usize,
    pub backoff: Duration,
    pub io_bytes_per_second: f64,
}

impl Partition {
    /// What the cleaner may compact here now.
    pub fn clean_plan(&self, now: i64) -> Option<CleanPlan> {
        self.with_state(|s| s.log.clean_plan(s.high_watermark, now))
    }

    /// Swaps in what the cleaner wrote (see `PartitionLog::swap_cleaned`).
    pub fn swap_cleaned(&self, cleaned: &Cleaned) -> std::io::Result<bool> {
        self.with_state(|s| s.log.swap_cleaned(cleaned))
    }
}

/// Starts the cleaner threads.
pub fn start(replicas: Arc<ReplicaManager>, settings: CleanerSettings, policy_for: Arc<PolicyFor>) {
    let busy = Arc::new(Mutex::new(HashSet::new()));
    let threads = settings.threads.max(1);
    for i in 0..threads {
        let (replicas, busy, policy_for) = (replicas.clone(), busy.clone(), policy_for.clone());
        let backoff = settings.backoff;
        let io_bytes_per_second = settings.io_bytes_per_second / threads as f64;
        let spawned = std::thread::Builder::new()
            .name(format!("log-cleaner-{i}"))
            .spawn(move || {
                let mut pace = Pace::with_cpu_classes(io_bytes_per_second);
                while !replicas.is_shut_down() {
                    let cleaned = clean_dirtiest(&replicas, &busy, policy_for.as_ref(), &mut pace);
                    if !cleaned {
                        std::thread::sleep(backoff);
                    }
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "could not start a log cleaner thread");
        }
    }
}

/// Cleans the dirtiest due partition no other thread is cleaning; false
/// when there was none.
fn clean_dirtiest(
    replicas: &ReplicaManager,
    busy: &Mutex<HashSet<TopicPartition>>,
    policy_for: &PolicyFor,
    pace: &mut Pace,
) -> bool {
    let now = now_ms();
    let picked = {
        let mut busy = busy.lock().expect("cleaner lock");
        let dirtiest = replicas
            .all()
            .into_iter()
            .filter(|p| !busy.contains(&p.tp))
            .filter_map(|p| {
                p.clean_plan(now)
                    .filter(|plan| plan.due)
                    .map(|plan| (p, plan))
            })
            .max_by(|a, b| a.1.dirty_ratio.total_cmp(&b.1.dirty_ratio));
        if let Some((p, _)) = &dirtiest {
            busy.insert(p.tp.clone());
        }
        dirtiest
    };
    let Some((partition, plan)) = picked else {
        return false;
    };
    clean(
        &partition,
        plan,
        policy_for(&partition.tp.topic).as_ref(),
        pace,
        now,
    );
    busy.lock().expect("cleaner lock").remove(&partition.tp);
    true
}

fn clean(
    partition: &Partition,
    plan: CleanPlan,
    policy: &dyn CompactionPolicy,
    pace: &mut Pace,
    now: i64,
) {
    let source = Source {
        topic: &partition.tp.topic,
        partition: partition.tp.partition,
    };
    let started = std::time::Instant::now();
    pace.idle_class();
    let compacted = compact(&plan, &source, policy, pace, now);
    pace.normal_class();
    let result = compacted.and_then(|cleaned| {
        partition
            .swap_cleaned(&cleaned)
            .map(|swapped| (cleaned, swapped))
    });
    match result {
        Ok((cleaned, true)) => {
            let s = cleaned.stats;
            info!(partition = %partition.tp, policy = policy.name(),
                bytes_read = s.bytes_read, bytes_written = s.bytes_written,
                records_kept = s.records_kept, records_dropped = s.records_dropped,
                keys = s.keys, policy_failures = s.policy_failures,
                dirty_ratio = plan.dirty_ratio, took_ms = started.elapsed().as_millis() as u64,
                "cleaned log");
        }
        Ok((_, false)) => {
            info!(partition = %partition.tp, "log changed while cleaning; will clean again")
        }
        Err(e) => warn!(partition = %partition.tp, error = %e, "log cleaning failed"),
    }
    // The plan holds the last handles on the replaced segments' files:
    // closing them frees their page cache, work that is the cleaner's too
    // (it cost produce p99 ~20% more at nice 10), done outside the lock.
    pace.idle_class();
    drop(plan);
    pace.normal_class();
}
