//! SyncGroup: the leader hands in the assignment; every member gets its own
//! share once the leader's arrives.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::str_bytes;
use crate::group::MemberRef;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let member = MemberRef {
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
        generation: request.generation_id,
    };
    let protocol = (
        request.protocol_type.map(|s| s.to_string()),
        request.protocol_name.map(|s| s.to_string()),
    );
    let assignments = request
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let result = broker
        .groups
        .sync(&request.group_id, member, protocol, assignments)
        .await;
    let mut response = SyncGroupResponse::default()
        .with_error_code(result.error.map_or(0, |e| e.code()))
        .with_assignment(result.assignment);
    if ctx.version >= 5 {
        response.protocol_type = result.protocol_type.map(str_bytes);
        response.protocol_name = result.protocol_name.map(str_bytes);
    }
    response
}
