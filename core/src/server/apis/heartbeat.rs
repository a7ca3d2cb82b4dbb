//! Heartbeat: keeps a member's session alive, and tells it when the group is
//! rebalancing (REBALANCE_IN_PROGRESS) so it rejoins.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::group::MemberRef;
use crate::server::broker::Broker;

pub fn handle(broker: &Broker, request: HeartbeatRequest) -> HeartbeatResponse {
    let member = MemberRef {
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
        generation: request.generation_id,
    };
    let error = broker.groups.heartbeat(&request.group_id, &member).err();
    HeartbeatResponse::default().with_error_code(error.map_or(0, |e| e.code()))
}
