//! LeaveGroup: members leave a classic group (v3+: several at once, by
//! member id or group.instance.id), and the rest rebalance without them.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::group::MemberRef;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let members: Vec<MemberRef> = if ctx.version >= 3 {
        request
            .members
            .iter()
            .map(|m| MemberRef {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
                generation: -1,
            })
            .collect()
    } else {
        vec![MemberRef {
            member_id: request.member_id.to_string(),
            ..Default::default()
        }]
    };
    let response = LeaveGroupResponse::default();
    match broker.groups.leave(&request.group_id, &members) {
        Err(e) => response.with_error_code(e.code()),
        Ok(results) if ctx.version >= 3 => response.with_members(
            request
                .members
                .into_iter()
                .zip(results)
                .map(|(m, r)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id)
                        .with_group_instance_id(m.group_instance_id)
                        .with_error_code(r.err().map_or(0, |e| e.code()))
                })
                .collect(),
        ),
        Ok(results) => {
            let error = results.into_iter().find_map(Result::err);
            response.with_error_code(error.map_or(0, |e| e.code()))
        }
    }
}
