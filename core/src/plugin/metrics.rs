//! Counters of one plugin's calls, kept by name across reloads, and their
//! Prometheus text form (served on the admin endpoint's `/metrics`).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::partition::partitioner::PluginFailure;

/// Upper bounds of the call-time histogram's buckets, in microseconds.
pub const BUCKETS_US: [u64; 10] = [5, 10, 25, 50, 100, 250, 1_000, 10_000, 100_000, 1_000_000];

#[derive(Debug, Default)]
pub struct PluginMetrics {
    pub calls: AtomicU64,
    pub records: AtomicU64,
    /// The plugin answered with an error, refused a client or denied an
    /// action.
    pub refusals: AtomicU64,
    /// Traps, timeouts, memory exhaustion and invalid answers.
    pub failures: AtomicU64,
    /// Of the failures, the calls stopped at their CPU deadline.
    pub timeouts: AtomicU64,
    /// Batches whose records went to a dead-letter topic.
    pub dead_letters: AtomicU64,
    /// Times this plugin was replaced in the running broker.
    pub reloads: AtomicU64,
    pub call_nanos: AtomicU64,
    /// Calls per bucket of `BUCKETS_US` (the last counts the rest).
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    /// Its rejections are logged at most once a second.
    rejections_logged: crate::log::metrics::LogLimiter,
}

impl PluginMetrics {
    pub fn record(&self, records: usize, took: Duration, failure: Option<&PluginFailure>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.call_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        let micros = took.as_micros() as u64;
        let bucket = BUCKETS_US
            .iter()
            .position(|b| micros <= *b)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        match failure {
            Some(PluginFailure::Refused(_)) => self.refusals.fetch_add(1, Ordering::Relaxed),
            Some(PluginFailure::Failed(why)) => {
                if why.contains("deadline") {
                    self.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                self.failures.fetch_add(1, Ordering::Relaxed)
            }
            None => 0,
        };
    }

    /// A call that answered with a refusal (a refused client, a denied
    /// action) rather than an error.
    pub fn record_refusal(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// A batch the plugin refused (an interceptor's `reject`): counted, and
    /// logged at most once a second with the plugin, topic and reason, as a
    /// librdkafka user sees only "Broker: Policy violation".
    pub fn record_rejection(&self, plugin: &str, topic: &str, reason: &str, records: usize) {
        self.count_refusal();
        self.rejections_logged.log(|suppressed| {
            tracing::warn!(%plugin, %topic, %reason, records_named = records, suppressed,
                "plugin rejected a batch");
        });
    }

    /// A batch the plugin refused, logged by its caller (schema validation
    /// logs the batch's reasons itself).
    pub fn count_refusal(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// A call counted as a success whose answer the broker then refused.
    pub fn record_bad_answer(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as JSON (for `weir plugin list`).
    pub fn to_json(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "calls": get(&self.calls),
            "records": get(&self.records),
            "refusals": get(&self.refusals),
            "failures": get(&self.failures),
            "timeouts": get(&self.timeouts),
            "dead_letters": get(&self.dead_letters),
            "reloads": get(&self.reloads),
            "call_seconds_total": get(&self.call_nanos) as f64 / 1e9,
        })
    }

    /// Appends this plugin's series in the Prometheus text format.
    pub fn write_prometheus(&self, name: &str, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let counters = [
            ("calls", &self.calls),
            ("records", &self.records),
            ("refusals", &self.refusals),
            ("failures", &self.failures),
            ("timeouts", &self.timeouts),
            ("dead_letters", &self.dead_letters),
            ("reloads", &self.reloads),
        ];
        for (metric, counter) in counters {
            let _ = writeln!(
                out,
                "weir_plugin_{metric}_total{{plugin=\"{name}\"}} {}",
                get(counter)
            );
        }
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS_US.iter().zip(&self.buckets) {
            cumulative += get(bucket);
            let _ = writeln!(
                out,
                "weir_plugin_call_seconds_bucket{{plugin=\"{name}\",le=\"{}\"}} {cumulative}",
                *bound as f64 / 1e6
            );
        }
        cumulative += get(&self.buckets[BUCKETS_US.len()]);
        let _ = writeln!(
            out,
            "weir_plugin_call_seconds_bucket{{plugin=\"{name}\",le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "weir_plugin_call_seconds_sum{{plugin=\"{name}\"}} {}",
            get(&self.call_nanos) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "weir_plugin_call_seconds_count{{plugin=\"{name}\"}} {cumulative}"
        );
    }
}

/// The `# HELP`/`# TYPE` lines of the plugin series.
pub const PROMETHEUS_HEADER: &str = "\
# HELP weir_plugin_calls_total Calls into a plugin (one per record batch).
# TYPE weir_plugin_calls_total counter
# HELP weir_plugin_records_total Records passed to a plugin.
# TYPE weir_plugin_records_total counter
# HELP weir_plugin_refusals_total Refusals: calls answered with an error, clients refused, actions denied.
# TYPE weir_plugin_refusals_total counter
# HELP weir_plugin_failures_total Calls that trapped, timed out, ran out of memory or answered nonsense.
# TYPE weir_plugin_failures_total counter
# HELP weir_plugin_timeouts_total Calls stopped at their CPU deadline.
# TYPE weir_plugin_timeouts_total counter
# HELP weir_plugin_dead_letters_total Batches sent to a dead-letter topic after the plugin failed.
# TYPE weir_plugin_dead_letters_total counter
# HELP weir_plugin_reloads_total Times the plugin was replaced in the running broker.
# TYPE weir_plugin_reloads_total counter
# HELP weir_plugin_call_seconds Time of one call, instantiation included.
# TYPE weir_plugin_call_seconds histogram
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative() {
        let m = PluginMetrics::default();
        m.record(10, Duration::from_micros(3), None);
        m.record(10, Duration::from_micros(30), None);
        m.record(
            1,
            Duration::from_secs(2),
            Some(&PluginFailure::Failed(
                "ran past its 100 ms deadline".into(),
            )),
        );
        let mut out = String::new();
        m.write_prometheus("p", &mut out);
        assert!(
            out.contains("weir_plugin_call_seconds_bucket{plugin=\"p\",le=\"0.000005\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("weir_plugin_call_seconds_bucket{plugin=\"p\",le=\"0.00005\"} 2"),
            "{out}"
        );
        assert!(
            out.contains("weir_plugin_call_seconds_bucket{plugin=\"p\",le=\"+Inf\"} 3"),
            "{out}"
        );
        assert!(
            out.contains("weir_plugin_timeouts_total{plugin=\"p\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("weir_plugin_records_total{plugin=\"p\"} 21"),
            "{out}"
        );
    }
}
