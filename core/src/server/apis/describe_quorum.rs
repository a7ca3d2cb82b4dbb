//! DescribeQuorum: the controller quorum as its leader sees it — the
//! leader, its term (Kafka's epoch), the commit index (high watermark) and
//! each voter's log end. Only the active controller can answer; another
//! broker forwards the request to it (`membership`). A single node is a
//! quorum of one.

use kafka_protocol::messages::describe_quorum_response::{PartitionData, ReplicaState, TopicData};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};

use super::str_bytes;
use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;

const METADATA_TOPIC: &str = "__cluster_metadata";

pub fn handle(broker: &Broker, _request: DescribeQuorumRequest) -> DescribeQuorumResponse {
    let mut partition = PartitionData::default().with_partition_index(0);
    let voters: Vec<(u64, u64)> = match broker.controller.log().quorum_status() {
        None => {
            let applied = broker.image().applied;
            partition.leader_id = BrokerId(broker.node_id());
            partition.high_watermark = applied as i64;
            vec![(broker.node_id() as u64, applied)]
        }
        Some(status) if status.active => {
            partition.leader_id = BrokerId(status.node_id as i32);
            partition.leader_epoch = status.term as i32;
            partition.high_watermark = status.commit as i64;
            status.voters
        }
        Some(_) => {
            partition.error_code = ResponseError::NotLeaderOrFollower.code();
            partition.error_message = Some(str_bytes(
                "This node is not the active controller.".to_string(),
            ));
            partition.leader_id = BrokerId(broker.controller.active_controller().unwrap_or(-1));
            Vec::new()
        }
    };
    partition.current_voters = voters
        .into_iter()
        .map(|(id, log_end)| {
            ReplicaState::default()
                .with_replica_id(BrokerId(id as i32))
                .with_log_end_offset(log_end as i64)
                .with_last_fetch_timestamp(-1)
                .with_last_caught_up_timestamp(-1)
        })
        .collect();
    DescribeQuorumResponse::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(str_bytes(METADATA_TOPIC.to_string())))
        .with_partitions(vec![partition])])
}
