//! One handler per Kafka API, named as Kafka names them. Each turns a decoded
//! request into a response using the broker's layers; none touches sockets.

pub mod acls;
pub mod alter_configs;
pub mod api_versions;
pub mod client_quotas;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_quorum;
pub mod elect_leaders;
pub mod fetch;
pub mod fetch_intercept;
pub mod find_coordinator;
pub mod heartbeat;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod partition_reassignments;
pub mod produce;
pub mod sync_group;
pub mod user_scram_credentials;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Commits the commands of the entries that passed their checks, if there
/// are any; when the commit fails, each of those entries fails with its
/// error (the admin APIs answer per entry).
pub(crate) async fn commit_checked<'a, T: 'a>(
    broker: &crate::server::broker::Broker,
    commands: Vec<crate::metadata::command::Command>,
    outcomes: impl IntoIterator<Item = &'a mut Result<T, crate::protocol::error::ApiError>>,
) {
    if commands.is_empty() {
        return;
    }
    if let Err(e) = broker
        .change_metadata(broker.controller.submit(commands))
        .await
    {
        for outcome in outcomes.into_iter().filter(|o| o.is_ok()) {
            *outcome = Err(e.clone());
        }
    }
}
