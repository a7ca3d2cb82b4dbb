//! Client quotas on produce and fetch bytes and on request time, as Kafka
//! enforces them (`ClientQuotaManager`, `ClientRequestQuotaManager`): the
//! quota of a request's (user, client id) is the
//! first entity, in Kafka's order of precedence, that sets it; the bytes are
//! counted against that entity (`Sensor`: a burst of `quota.window.num - 1`
//! windows of `quota.window.size.seconds` at the quota is allowed, as
//! Kafka's rate over its windows allows); a request that takes it past
//! that is answered with `throttle_time_ms`, and its connection reads
//! nothing more for that long (KIP-219: the answer goes at once, then the
//! channel is muted). With no quota set, a request costs one atomic load.
//!
//! `request_percentage` bounds the time the broker spends handling a
//! client's requests, in percent of one thread: 50 is half a thread's time.
//! A request's time is what its handler spent running (`Busy`: the time
//! inside its future's polls), not the time it waited for replication or
//! for data to fetch, as Kafka counts request-handler thread time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::metadata::command::{ClientQuota, QuotaEntity, QuotaName};

/// Which quota a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Produce,
    Fetch,
    /// Handler time of every request (`request_percentage`).
    Request,
}

impl Kind {
    /// The quota's key in DescribeClientQuotas / AlterClientQuotas.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Produce => "producer_byte_rate",
            Kind::Fetch => "consumer_byte_rate",
            Kind::Request => "request_percentage",
        }
    }

    /// The quota as the sensor counts it, per second: bytes, or
    /// milliseconds of handler time (a percentage of one thread's 1000).
    fn per_second(self, bound: f64) -> f64 {
        match self {
            Kind::Request => bound * 10.0,
            _ => bound,
        }
    }
}

/// The quota keys Weir enforces.
pub const KEYS: &[&str] = &[
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
];

pub struct Quotas {
    window_ms: u64,
    windows: usize,
    any: AtomicBool,
    /// Whether some quota sets `request_percentage`.
    any_request: AtomicBool,
    set: RwLock<Arc<Vec<ClientQuota>>>,
    /// Rates by kind and the entity they count for (user and client id
    /// tags, empty where the quota's entity does not name that part).
    sensors: Mutex<HashMap<(Kind, String, String), Sensor>>,
}

impl Quotas {
    pub fn new(config: &crate::config::BrokerConfig) -> Quotas {
        Quotas {
            window_ms: (config.number("quota.window.size.seconds").max(1) as u64) * 1000,
            windows: config.number("quota.window.num").max(2) as usize,
            any: AtomicBool::new(false),
            any_request: AtomicBool::new(false),
            set: RwLock::new(Arc::new(Vec::new())),
            sensors: Mutex::new(HashMap::new()),
        }
    }

    /// Takes the metadata log's quotas.
    pub fn set_quotas(&self, quotas: &[ClientQuota]) {
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(quotas.to_vec());
        self.any.store(!quotas.is_empty(), Ordering::Release);
        let request = quotas
            .iter()
            .any(|q| q.values.contains_key(Kind::Request.key()));
        self.any_request.store(request, Ordering::Release);
    }

    /// Whether some client's request time is bounded (so handler time is
    /// worth measuring).
    pub fn any_request(&self) -> bool {
        self.any_request.load(Ordering::Acquire)
    }

    /// Whether any quota is set.
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Counts `amount` of a request by `principal` (User:name) with
    /// `client_id` — bytes, or for `Kind::Request` milliseconds of handler
    /// time — and returns how long its connection is throttled.
    pub fn record(
        &self,
        kind: Kind,
        principal: &str,
        client_id: &str,
        amount: f64,
        now_ms: u64,
    ) -> Duration {
        if !self.any() {
            return Duration::ZERO;
        }
        let user = principal.strip_prefix("User:").unwrap_or(principal);
        let set = self.set.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some((bound, user_tag, client_tag)) = resolve(&set, kind.key(), user, client_id) else {
            return Duration::ZERO;
        };
        let mut sensors = self.sensors.lock().unwrap_or_else(|e| e.into_inner());
        if bound <= 0.0 {
            return Duration::ZERO;
        }
        let sensor = sensors
            .entry((kind, user_tag, client_tag))
            .or_insert_with(Sensor::new);
        let burst_ms = (self.windows as u64 - 1) * self.window_ms;
        let throttle = sensor.record(amount, kind.per_second(bound), now_ms, burst_ms);
        // As Kafka caps it: at most the whole measured span.
        Duration::from_millis(throttle.min(self.windows as u64 * self.window_ms))
    }
}

/// The quota for `key` that applies to (user, client id), in Kafka's order
/// of precedence, with the tags its rate is kept under.
fn resolve(
    quotas: &[ClientQuota],
    key: &str,
    user: &str,
    client: &str,
) -> Option<(f64, String, String)> {
    let name = |n: &str| Some(QuotaName::Name(n.to_string()));
    let default = || Some(QuotaName::Default);
    let order: [(Option<QuotaName>, Option<QuotaName>, bool, bool); 8] = [
        (name(user), name(client), true, true),
        (name(user), default(), true, true),
        (name(user), None, true, false),
        (default(), name(client), true, true),
        (default(), default(), true, true),
        (default(), None, true, false),
        (None, name(client), false, true),
        (None, default(), false, true),
    ];
    order.into_iter().find_map(|(u, c, tag_user, tag_client)| {
        let entity = QuotaEntity {
            user: u,
            client_id: c,
        };
        let found = quotas.iter().find(|q| q.entity == entity)?;
        let bound = *found.values.get(key)?;
        let user_tag = if tag_user { user } else { "" };
        let client_tag = if tag_client { client } else { "" };
        Some((bound, user_tag.to_string(), client_tag.to_string()))
    })
}

/// Sets `throttle_time_ms` in a response that has the field (all but a
/// few: Kafka's request quota throttles every API a client uses).
pub fn set_throttle_time(response: &mut kafka_protocol::messages::ResponseKind, ms: i32) {
    use kafka_protocol::messages::ResponseKind as R;
    macro_rules! throttled {
        ($($kind:ident),* $(,)?) => {
            match response {
                $(R::$kind(r) => r.throttle_time_ms = ms,)*
                _ => {}
            }
        };
    }
    throttled!(
        Produce,
        Fetch,
        ListOffsets,
        Metadata,
        OffsetCommit,
        OffsetFetch,
        FindCoordinator,
        JoinGroup,
        Heartbeat,
        LeaveGroup,
        SyncGroup,
        DescribeGroups,
        ListGroups,
        ApiVersions,
        CreateTopics,
        DeleteTopics,
        DeleteRecords,
        InitProducerId,
        OffsetForLeaderEpoch,
        DescribeAcls,
        CreateAcls,
        DeleteAcls,
        DescribeConfigs,
        AlterConfigs,
        CreatePartitions,
        DeleteGroups,
        ElectLeaders,
        IncrementalAlterConfigs,
        AlterPartitionReassignments,
        ListPartitionReassignments,
        OffsetDelete,
        DescribeClientQuotas,
        AlterClientQuotas,
        DescribeUserScramCredentials,
        AlterUserScramCredentials,
        DescribeCluster,
        ConsumerGroupHeartbeat,
        ConsumerGroupDescribe,
        DescribeProducers,
    );
}

/// A request's future, timed while it runs: `busy` sums the time spent in
/// its polls, which is the handler's own time (waits for replication or
/// for data are between polls).
pub struct Busy<F> {
    inner: std::pin::Pin<Box<F>>,
    pub busy: Duration,
}

impl<F: std::future::Future> Busy<F> {
    pub fn new(inner: F) -> Busy<F> {
        Busy {
            inner: Box::pin(inner),
            busy: Duration::ZERO,
        }
    }
}

impl<F: std::future::Future> std::future::Future for &mut Busy<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let started = std::time::Instant::now();
        let polled = self.inner.as_mut().poll(cx);
        self.busy += started.elapsed();
        polled
    }
}

/// A client entity's use of its quota, as the time at which the bytes it
/// sent would have finished arriving at exactly its quota (the generic cell
/// rate algorithm). A client may run ahead of that time by the burst Kafka
/// allows (its rate is measured over at least `windows - 1` windows); a
/// request that takes it further is throttled by the excess. Over any long
/// run the bytes admitted are the quota's, however the requests are sized
/// or timed, which a rate sampled in windows only approximates.
struct Sensor {
    /// Milliseconds, on the caller's clock.
    paid_until: f64,
}

impl Sensor {
    fn new() -> Sensor {
        Sensor { paid_until: 0.0 }
    }

    /// Counts `bytes` at `now_ms` against `bound` bytes per second; returns
    /// how long the client must wait, given `burst_ms` of slack.
    fn record(&mut self, bytes: f64, bound: f64, now_ms: u64, burst_ms: u64) -> u64 {
        let now = now_ms as f64;
        self.paid_until = self.paid_until.max(now) + bytes * 1000.0 / bound;
        (self.paid_until - now - burst_ms as f64).max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(user: Option<QuotaName>, client_id: Option<QuotaName>, rate: f64) -> ClientQuota {
        ClientQuota {
            entity: QuotaEntity { user, client_id },
            values: [("producer_byte_rate".to_string(), rate)].into(),
        }
    }

    #[test]
    fn precedence_is_kafkas() {
        let quotas = vec![
            quota(Some(QuotaName::Name("alice".into())), None, 100.0),
            quota(Some(QuotaName::Default), None, 50.0),
            quota(None, Some(QuotaName::Name("app".into())), 10.0),
        ];
        let found = |u, c| resolve(&quotas, "producer_byte_rate", u, c).map(|(b, ..)| b);
        assert_eq!(
            found("alice", "app"),
            Some(100.0),
            "the user's own quota first"
        );
        assert_eq!(found("bob", "app"), Some(50.0), "then the default user's");
        assert_eq!(resolve(&quotas, "consumer_byte_rate", "bob", "app"), None);
        let only_client = vec![quota(None, Some(QuotaName::Name("app".into())), 10.0)];
        assert_eq!(
            resolve(&only_client, "producer_byte_rate", "bob", "app"),
            Some((10.0, String::new(), "app".into()))
        );
    }

    #[test]
    fn a_producer_over_its_rate_is_throttled_in_proportion() {
        let config = crate::config::BrokerConfig::default();
        let quotas = Quotas::new(&config);
        quotas.set_quotas(&[quota(Some(QuotaName::Default), None, 1000.0)]);
        // A burst of 10 windows of 1 s is allowed: 20,000 bytes at once is
        // 10 s past it.
        let throttle = quotas.record(Kind::Produce, "User:alice", "c", 20_000.0, 1_000_000);
        assert_eq!(throttle, Duration::from_millis(10_000));
        assert_eq!(
            quotas.record(Kind::Produce, "User:bob", "c", 5_000.0, 1_000_000),
            Duration::ZERO
        );
        assert_eq!(
            quotas.record(Kind::Fetch, "User:alice", "c", 50_000.0, 1_000_000),
            Duration::ZERO
        );
    }
}

#[cfg(test)]
mod request_time {
    use super::*;

    #[test]
    fn request_time_is_a_percentage_of_one_thread() {
        let config = crate::config::BrokerConfig::default();
        let quotas = Quotas::new(&config);
        quotas.set_quotas(&[ClientQuota {
            entity: QuotaEntity {
                user: Some(QuotaName::Default),
                client_id: None,
            },
            values: [("request_percentage".to_string(), 10.0)].into(),
        }]);
        assert!(quotas.any_request());
        // 10% of a thread is 100 ms a second: 1.5 s of handler time at
        // once is 15 s of quota, 5 s past the burst of 10 windows.
        let throttle = quotas.record(Kind::Request, "User:alice", "c", 1_500.0, 1_000_000);
        assert_eq!(throttle, Duration::from_millis(5_000));
    }
}

#[cfg(test)]
mod simulation {
    use super::*;

    /// A client that sends `request` bytes whenever its connection is not
    /// muted runs at its quota over a long run, whatever the windows.
    #[test]
    fn a_greedy_client_runs_at_its_quota() {
        for (windows, request) in [
            (11, 1_000_000usize),
            (3, 1_000_000),
            (11, 100_000),
            (3, 30_000),
            (11, 7_000),
        ] {
            let mut config = crate::config::BrokerConfig::default();
            config
                .set("quota.window.num", &windows.to_string())
                .unwrap();
            let quotas = Quotas::new(&config);
            quotas.set_quotas(&[ClientQuota {
                entity: QuotaEntity {
                    user: None,
                    client_id: Some(QuotaName::Default),
                },
                values: [("producer_byte_rate".to_string(), 1_000_000.0)].into(),
            }]);
            let (mut now, mut sent_after_warmup) = (1_000_000u64, 0usize);
            let (warm, end) = (now + 20_000, now + 120_000);
            while now < end {
                let mute = quotas.record(Kind::Produce, "User:a", "c", request as f64, now);
                if now >= warm {
                    sent_after_warmup += request;
                }
                now += mute.as_millis() as u64 + 1;
            }
            let rate = sent_after_warmup as f64 / ((end - warm) as f64 / 1000.0);
            assert!(
                (rate - 1_000_000.0).abs() < 20_000.0,
                "{windows} windows, {request} B requests: {rate:.0} B/s"
            );
        }
    }
}
