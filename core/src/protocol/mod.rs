//! Thin glue over the `kafka-protocol` crate: which API versions Weir serves,
//! and the error type every handler answers with.

pub mod error;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::Message;

/// Versions Weir implements for `M`, within what `kafka-protocol` can decode.
fn range<M: Message>(min: i16, max: i16) -> (i16, i16) {
    (min.max(M::VERSIONS.min), max.min(M::VERSIONS.max))
}

/// Every API Weir answers and its version range. ApiVersions advertises these.
/// Built once: dispatch consults it on every request.
pub fn supported_apis() -> &'static [(ApiKey, i16, i16)] {
    static APIS: std::sync::OnceLock<Vec<(ApiKey, i16, i16)>> = std::sync::OnceLock::new();
    APIS.get_or_init(api_table)
}

fn api_table() -> Vec<(ApiKey, i16, i16)> {
    vec![
        // KAFKA-18659: advertise Produce from v0 (librdkafka checks it) while
        // only v3+ (RecordBatch v2) is accepted.
        (ApiKey::Produce, 0, range::<ProduceRequest>(3, 13).1),
        with(ApiKey::Fetch, range::<FetchRequest>(4, 17)),
        with(ApiKey::ListOffsets, range::<ListOffsetsRequest>(1, 10)),
        with(ApiKey::Metadata, range::<MetadataRequest>(0, 13)),
        with(ApiKey::ApiVersions, range::<ApiVersionsRequest>(0, 4)),
        with(ApiKey::CreateTopics, range::<CreateTopicsRequest>(2, 7)),
        with(ApiKey::DeleteTopics, range::<DeleteTopicsRequest>(1, 6)),
        with(ApiKey::DeleteRecords, range::<DeleteRecordsRequest>(0, 2)),
        with(
            ApiKey::DescribeConfigs,
            range::<DescribeConfigsRequest>(1, 4),
        ),
        with(ApiKey::AlterConfigs, range::<AlterConfigsRequest>(0, 2)),
        with(
            ApiKey::CreatePartitions,
            range::<CreatePartitionsRequest>(0, 3),
        ),
        with(
            ApiKey::IncrementalAlterConfigs,
            range::<IncrementalAlterConfigsRequest>(0, 1),
        ),
        with(
            ApiKey::FindCoordinator,
            range::<FindCoordinatorRequest>(0, 6),
        ),
        with(ApiKey::InitProducerId, range::<InitProducerIdRequest>(0, 5)),
        with(ApiKey::JoinGroup, range::<JoinGroupRequest>(0, 9)),
        with(ApiKey::SyncGroup, range::<SyncGroupRequest>(0, 5)),
        with(ApiKey::Heartbeat, range::<HeartbeatRequest>(0, 4)),
        with(ApiKey::LeaveGroup, range::<LeaveGroupRequest>(0, 5)),
        with(ApiKey::OffsetCommit, range::<OffsetCommitRequest>(2, 9)),
        with(ApiKey::OffsetFetch, range::<OffsetFetchRequest>(1, 9)),
        with(ApiKey::ListGroups, range::<ListGroupsRequest>(0, 5)),
        with(ApiKey::DescribeGroups, range::<DescribeGroupsRequest>(0, 5)),
        with(ApiKey::DeleteGroups, range::<DeleteGroupsRequest>(0, 2)),
        with(ApiKey::OffsetDelete, range::<OffsetDeleteRequest>(0, 0)),
        with(
            ApiKey::ConsumerGroupHeartbeat,
            range::<ConsumerGroupHeartbeatRequest>(0, 1),
        ),
        with(
            ApiKey::ConsumerGroupDescribe,
            range::<ConsumerGroupDescribeRequest>(0, 1),
        ),
        with(
            ApiKey::DescribeCluster,
            range::<DescribeClusterRequest>(0, 2),
        ),
        with(ApiKey::DescribeQuorum, range::<DescribeQuorumRequest>(0, 2)),
        with(ApiKey::ElectLeaders, range::<ElectLeadersRequest>(0, 2)),
        with(
            ApiKey::AlterPartitionReassignments,
            range::<AlterPartitionReassignmentsRequest>(0, 0),
        ),
        with(
            ApiKey::ListPartitionReassignments,
            range::<ListPartitionReassignmentsRequest>(0, 0),
        ),
        with(
            ApiKey::OffsetForLeaderEpoch,
            range::<OffsetForLeaderEpochRequest>(2, 4),
        ),
        with(ApiKey::SaslHandshake, range::<SaslHandshakeRequest>(0, 1)),
        with(
            ApiKey::SaslAuthenticate,
            range::<SaslAuthenticateRequest>(0, 2),
        ),
        with(
            ApiKey::DescribeUserScramCredentials,
            range::<DescribeUserScramCredentialsRequest>(0, 0),
        ),
        with(
            ApiKey::AlterUserScramCredentials,
            range::<AlterUserScramCredentialsRequest>(0, 0),
        ),
        with(ApiKey::DescribeAcls, range::<DescribeAclsRequest>(1, 3)),
        with(
            ApiKey::DescribeClientQuotas,
            range::<DescribeClientQuotasRequest>(0, 1),
        ),
        with(
            ApiKey::AlterClientQuotas,
            range::<AlterClientQuotasRequest>(0, 1),
        ),
        with(ApiKey::CreateAcls, range::<CreateAclsRequest>(1, 3)),
        with(ApiKey::DeleteAcls, range::<DeleteAclsRequest>(1, 3)),
    ]
}

fn with(key: ApiKey, (min, max): (i16, i16)) -> (ApiKey, i16, i16) {
    (key, min, max)
}

/// True when Weir can decode and answer `key` at `version`.
pub fn is_supported(key: ApiKey, version: i16) -> bool {
    supported_apis().iter().any(|(k, min, max)| {
        *k == key && version >= *min.max(&accepted_min(key)) && version <= *max
    })
}

/// The lowest version actually accepted (Produce is advertised from 0).
fn accepted_min(key: ApiKey) -> i16 {
    if key == ApiKey::Produce {
        3
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_decodable_and_produce_is_advertised_from_zero() {
        for (key, min, max) in supported_apis() {
            assert!(min <= max, "{key:?}");
        }
        assert!(is_supported(ApiKey::Produce, 3));
        assert!(!is_supported(ApiKey::Produce, 2));
        assert!(is_supported(ApiKey::ApiVersions, 0));
        assert!(!is_supported(ApiKey::ApiVersions, 99));
    }
}
