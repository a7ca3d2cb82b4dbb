//! Request metrics (Kafka's `kafka.network:type=RequestMetrics`): requests
//! served per API, their total time as a histogram, and errors per API and
//! error code, exported on `/metrics`. Counting is a few relaxed atomic
//! adds per request; errors take a lock, only when there is one.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseKind};

/// Upper bounds (ms) of the latency buckets.
const BUCKETS_MS: [u64; 11] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];
/// API keys are below this.
const KEYS: usize = 128;

struct ApiMetrics {
    requests: AtomicU64,
    total_us: AtomicU64,
    /// Requests at or below each bucket's bound (not cumulative).
    buckets: [AtomicU64; BUCKETS_MS.len() + 1],
}

static APIS: [ApiMetrics; KEYS] = [const {
    ApiMetrics {
        requests: AtomicU64::new(0),
        total_us: AtomicU64::new(0),
        buckets: [const { AtomicU64::new(0) }; BUCKETS_MS.len() + 1],
    }
}; KEYS];

/// (API key, error code) → count.
static ERRORS: Mutex<BTreeMap<(i16, i16), u64>> = Mutex::new(BTreeMap::new());

/// Records one request of `api` that took `elapsed`.
pub fn record(api: ApiKey, elapsed: Duration) {
    let Some(m) = APIS.get(api as i16 as usize) else {
        return;
    };
    m.requests.fetch_add(1, Ordering::Relaxed);
    m.total_us
        .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    let ms = elapsed.as_millis() as u64;
    let bucket = BUCKETS_MS
        .iter()
        .position(|bound| ms < *bound)
        .unwrap_or(BUCKETS_MS.len());
    m.buckets[bucket].fetch_add(1, Ordering::Relaxed);
}

/// The error codes a Fetch response carries (top level and partitions).
pub fn fetch_errors(r: &FetchResponse) -> Vec<i16> {
    std::iter::once(r.error_code)
        .chain(
            r.responses
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        )
        .collect()
}

/// The error codes a response carries (its top-level error, or each
/// partition's where errors are per partition).
pub fn response_errors(response: &ResponseKind) -> Vec<i16> {
    let mut codes: Vec<i16> = Vec::new();
    match response {
        ResponseKind::Produce(r) => codes.extend(
            r.responses
                .iter()
                .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code)),
        ),
        ResponseKind::Fetch(r) => codes = fetch_errors(r),
        ResponseKind::JoinGroup(r) => codes.push(r.error_code),
        ResponseKind::SyncGroup(r) => codes.push(r.error_code),
        ResponseKind::Heartbeat(r) => codes.push(r.error_code),
        ResponseKind::LeaveGroup(r) => codes.push(r.error_code),
        ResponseKind::FindCoordinator(r) => codes.push(r.error_code),
        ResponseKind::InitProducerId(r) => codes.push(r.error_code),
        ResponseKind::ConsumerGroupHeartbeat(r) => codes.push(r.error_code),
        ResponseKind::OffsetCommit(r) => codes.extend(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::ListOffsets(r) => codes.extend(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        _ => {}
    }
    codes
}

/// Counts the non-zero `codes` answered to a request of `api`.
pub fn record_errors(api: ApiKey, codes: Vec<i16>) {
    if codes.iter().all(|c| *c == 0) {
        return;
    }
    let mut errors = ERRORS.lock().expect("errors lock");
    for code in codes.into_iter().filter(|c| *c != 0) {
        *errors.entry((api as i16, code)).or_default() += 1;
    }
}

/// Appends the request metrics in Prometheus' text format.
pub fn write_prometheus(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP kafka_network_requestmetrics_requests_total Requests served, by API.\n# TYPE kafka_network_requestmetrics_requests_total counter"
    );
    let served: Vec<(ApiKey, &ApiMetrics)> = (0..KEYS as i16)
        .filter_map(|k| Some((ApiKey::try_from(k).ok()?, &APIS[k as usize])))
        .filter(|(_, m)| m.requests.load(Ordering::Relaxed) > 0)
        .collect();
    for (api, m) in &served {
        let _ = writeln!(
            out,
            "kafka_network_requestmetrics_requests_total{{request=\"{api:?}\"}} {}",
            m.requests.load(Ordering::Relaxed)
        );
    }
    let name = "kafka_network_requestmetrics_totaltimems";
    let _ = writeln!(
        out,
        "# HELP {name} Time from a request's arrival to its response, by API.\n# TYPE {name} histogram"
    );
    for (api, m) in &served {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS_MS.iter().enumerate() {
            cumulative += m.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{request=\"{api:?}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let requests = m.requests.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{request=\"{api:?}\",le=\"+Inf\"}} {requests}"
        );
        let sum_ms = m.total_us.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "{name}_sum{{request=\"{api:?}\"}} {sum_ms}");
        let _ = writeln!(out, "{name}_count{{request=\"{api:?}\"}} {requests}");
    }
    let _ = writeln!(
        out,
        "# HELP kafka_network_requestmetrics_errors_total Errors answered, by API and error.\n# TYPE kafka_network_requestmetrics_errors_total counter"
    );
    for ((key, code), count) in ERRORS.lock().expect("errors lock").iter() {
        let api = ApiKey::try_from(*key).map_or_else(|_| key.to_string(), |a| format!("{a:?}"));
        let error = crate::protocol::error::ResponseError::try_from_code(*code)
            .map_or_else(|| code.to_string(), |e| format!("{e:?}"));
        let _ = writeln!(
            out,
            "kafka_network_requestmetrics_errors_total{{request=\"{api}\",error=\"{error}\"}} {count}"
        );
    }
}
