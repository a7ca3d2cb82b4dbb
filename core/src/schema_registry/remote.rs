//! A broker that holds no replica of `_schemas` (a cluster larger than the
//! topic's replication factor) reads it from its leader: consumer fetches
//! over the cluster channel, from the offset this registry has applied up
//! to, applied as the local replica's records are. Registry HTTP requests
//! catch up this way before they are answered, so a schema registered
//! through the leader is there on the next read from any broker; schema
//! validation catches up when a record names a schema id (or a subject)
//! this broker does not know yet, at most once per `PATIENCE`.

use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::records::TOPIC;
use super::registry::SchemaRegistry;
use crate::protocol::error::ResponseError;

/// How long validation may wait for the leader, and how often it asks.
const PATIENCE: Duration = Duration::from_secs(2);
const AT_MOST_EVERY: Duration = Duration::from_millis(100);

/// Fetch v12: by topic name, as every broker version here reads it.
const FETCH_VERSION: i16 = 12;

impl SchemaRegistry {
    /// Applies what the leader of `_schemas-0` has committed past what this
    /// registry applied, when this broker holds no replica of it (else it
    /// reads its own, and this does nothing). Errors are logged: the
    /// registry then answers with what it has.
    pub async fn catch_up_remote(&self) {
        let Ok(broker) = self.broker() else { return };
        if broker.replicas.get_by_name(TOPIC, 0).is_some() {
            return;
        }
        let image = broker.image();
        let Some(leader) = image
            .topics
            .get(TOPIC)
            .and_then(|t| t.partitions.first())
            .map(|p| p.leader)
        else {
            return;
        };
        let Some(address) = image.brokers.get(&leader).map(|b| (b.host.clone(), b.port)) else {
            return;
        };
        // Bounded: a registry is small, and a read that never ends would
        // hold up the request waiting on it.
        for _ in 0..64 {
            let next = *self.applied_to.lock().expect("applied_to");
            let request = fetch_from(next);
            let answer: std::io::Result<FetchResponse> = broker
                .channel
                .call(
                    (&address.0, address.1),
                    broker.node_id(),
                    FETCH_VERSION,
                    &request,
                )
                .await;
            let response = match answer {
                Ok(response) => response,
                Err(e) => {
                    tracing::warn!(leader, error = %e, "schema registry: cannot read _schemas from its leader");
                    return;
                }
            };
            let Some(data) = response
                .responses
                .into_iter()
                .next()
                .and_then(|t| t.partitions.into_iter().next())
            else {
                return;
            };
            if data.error_code == ResponseError::OffsetOutOfRange.code() {
                // Compacted or deleted below where we were: start again
                // from what is there.
                *self.applied_to.lock().expect("applied_to") = data.log_start_offset.max(next);
                if data.log_start_offset <= next {
                    return;
                }
                continue;
            }
            let bytes = data.records.unwrap_or_default();
            if data.error_code != 0 || bytes.is_empty() {
                return;
            }
            let mut applied = self.applied_to.lock().expect("applied_to");
            self.apply(&bytes, &mut applied);
            if *applied >= data.high_watermark || *applied <= next {
                return;
            }
        }
    }

    /// `catch_up_remote` from synchronous code on the produce path (schema
    /// validation, which did not find schema `id`, or not under the subject
    /// it wanted), when this broker holds no replica: waits up to
    /// `PATIENCE`, and asks about one id at most once per `AT_MOST_EVERY`
    /// (a producer naming an id that does not exist must not make every
    /// batch wait). Whether it asked.
    pub fn catch_up_remote_blocking(&self, id: i32) -> bool {
        let Ok(broker) = self.broker() else {
            return false;
        };
        if broker.replicas.get_by_name(TOPIC, 0).is_some()
            || !broker.image().topics.contains_key(TOPIC)
        {
            return false;
        }
        {
            let mut asked = self.last_remote.lock().expect("last_remote");
            if asked
                .get(&id)
                .is_some_and(|at: &Instant| at.elapsed() < AT_MOST_EVERY)
            {
                return false;
            }
            if asked.len() >= 1024 {
                asked.clear();
            }
            asked.insert(id, Instant::now());
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return false;
        }
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                let _ = tokio::time::timeout(PATIENCE, self.catch_up_remote()).await;
            })
        });
        true
    }
}

/// A consumer's fetch of `_schemas-0` from `offset`, answered at once.
fn fetch_from(offset: i64) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(8 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(offset)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(4 << 20)])])
}
