//! Follower fetchers (Kafka's `ReplicaFetcherThread`): one task per source
//! broker, fetching every partition this broker follows there in one Fetch
//! request (with this broker's replica id, so the leader reads up to its
//! log end and counts the fetch towards its ISR), over its own connection
//! to the leader's broker listener. Each answer is applied off the async
//! workers: batches appended with their offsets, the leader's high
//! watermark and log start taken, a diverging epoch truncated to, an
//! out-of-range offset reset.
//!
//! A fetcher works out its partitions afresh before each request (those
//! whose `fetch_position` names its broker as leader), so leadership
//! changes need no bookkeeping here; it ends when it has none.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;
use tracing::{debug, warn};

use super::Replication;
use crate::cluster::channel;
use crate::partition::{FetchPosition, Partition};
use crate::protocol::error::{ApiError, ResponseError};

/// Fetch v12: topic names, last fetched epoch and diverging epochs.
const FETCH_VERSION: i16 = 12;

/// How the fetchers fetch (Kafka's `replica.fetch.*` settings).
#[derive(Debug, Clone, Copy)]
pub struct FetchSettings {
    pub wait_max_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub response_max_bytes: i32,
    pub backoff: Duration,
    pub socket_timeout: Duration,
}

/// Fetches from broker `leader` while this broker follows any partition
/// there.
pub(super) async fn run(replication: Arc<Replication>, leader: i32) {
    let mut connection: Option<TcpStream> = None;
    loop {
        if replication.stopped() {
            return;
        }
        let followed = replication.followed_from(leader);
        if followed.is_empty() {
            return;
        }
        let Some(address) = replication.broker_address(leader) else {
            tokio::time::sleep(replication.settings.backoff).await;
            continue;
        };
        let request = fetch_request(replication.node_id, &replication.settings, &followed);
        let answer = fetch(
            &mut connection,
            &address,
            replication.node_id,
            &replication.settings,
            &request,
        )
        .await;
        match answer {
            Ok(response) => {
                let progressed = tokio::task::spawn_blocking(move || apply(followed, response))
                    .await
                    .unwrap_or(false);
                if !progressed {
                    // Every partition failed (leadership moving, say):
                    // wait for the metadata rather than spin.
                    tokio::time::sleep(
                        replication.settings.backoff.min(Duration::from_millis(200)),
                    )
                    .await;
                }
            }
            Err(e) => {
                debug!(leader, error = %e, "replica fetch failed; retrying after replica.fetch.backoff.ms");
                connection = None;
                tokio::time::sleep(replication.settings.backoff).await;
            }
        }
    }
}

type Followed = Vec<(Arc<Partition>, FetchPosition)>;

fn fetch_request(node_id: i32, settings: &FetchSettings, followed: &Followed) -> FetchRequest {
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (partition, position) in followed {
        topics.entry(partition.tp.topic.as_str()).or_default().push(
            FetchPartition::default()
                .with_partition(partition.tp.partition)
                .with_current_leader_epoch(position.current_leader_epoch)
                .with_fetch_offset(position.fetch_offset)
                .with_last_fetched_epoch(position.last_fetched_epoch)
                .with_log_start_offset(position.log_start_offset)
                .with_partition_max_bytes(settings.max_bytes),
        );
    }
    FetchRequest::default()
        .with_replica_id(BrokerId(node_id))
        .with_replica_state(ReplicaState::default().with_replica_id(BrokerId(node_id)))
        .with_max_wait_ms(settings.wait_max_ms)
        .with_min_bytes(settings.min_bytes)
        .with_max_bytes(settings.response_max_bytes)
        .with_session_epoch(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(name.to_string())))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

async fn fetch(
    connection: &mut Option<TcpStream>,
    address: &(String, u16),
    node_id: i32,
    settings: &FetchSettings,
    request: &FetchRequest,
) -> std::io::Result<FetchResponse> {
    let limit = settings.socket_timeout + Duration::from_millis(settings.wait_max_ms.max(0) as u64);
    let stream = match connection {
        Some(stream) => stream,
        None => {
            let stream = tokio::time::timeout(
                settings.socket_timeout,
                TcpStream::connect((address.0.as_str(), address.1)),
            )
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))??;
            connection.insert(stream)
        }
    };
    let frame = channel::encode_request(node_id, FETCH_VERSION, request)?;
    let response = tokio::time::timeout(limit, channel::exchange(stream, &frame))
        .await
        .map_err(|_| std::io::Error::other("the leader did not answer in time"))??;
    channel::decode_response::<FetchRequest>(response, FETCH_VERSION)
}

/// Applies a fetch response to the partitions it was for. Returns whether
/// any partition was served without error.
fn apply(followed: Followed, response: FetchResponse) -> bool {
    if response.error_code != 0 {
        warn!(
            code = response.error_code,
            "the leader refused the replica fetch"
        );
        return false;
    }
    let by_name: BTreeMap<(&str, i32), &(Arc<Partition>, FetchPosition)> = followed
        .iter()
        .map(|f| ((f.0.tp.topic.as_str(), f.0.tp.partition), f))
        .collect();
    let mut progressed = false;
    for topic in &response.responses {
        for data in &topic.partitions {
            let Some((partition, position)) = by_name
                .get(&(topic.topic.as_str(), data.partition_index))
                .map(|f| (&f.0, &f.1))
            else {
                continue;
            };
            let Some(outcome) = apply_partition(partition, position.current_leader_epoch, data)
            else {
                continue;
            };
            match outcome {
                Ok(()) => progressed = true,
                Err(e) if e.error == ResponseError::FencedLeaderEpoch => {}
                Err(e) => {
                    warn!(partition = %partition.tp, error = %e, "could not apply the leader's records")
                }
            }
        }
    }
    progressed
}

/// Applies the leader's answer for one partition, fetched in leader epoch
/// `epoch`: truncation to a diverging epoch, the records, or a reset after
/// an out-of-range offset. None when the leader refused the partition
/// (leadership moving, say).
pub(crate) fn apply_partition(
    partition: &Partition,
    epoch: i32,
    data: &PartitionData,
) -> Option<Result<(), ApiError>> {
    Some(match ResponseError::try_from_code(data.error_code) {
        None if data.diverging_epoch.end_offset >= 0 || data.diverging_epoch.epoch >= 0 => {
            let diverging = (data.diverging_epoch.epoch, data.diverging_epoch.end_offset);
            partition
                .truncate_to_divergence(epoch, diverging)
                .map(|_| ())
        }
        None => {
            let records = data.records.as_deref().unwrap_or_default();
            partition
                .append_as_follower(records, epoch, data.high_watermark, data.log_start_offset)
                .map(|_| ())
        }
        Some(ResponseError::OffsetOutOfRange) => {
            partition.reset_after_out_of_range(epoch, data.log_start_offset)
        }
        Some(error) => {
            debug!(partition = %partition.tp, ?error, "replica fetch refused for a partition");
            return None;
        }
    })
}
