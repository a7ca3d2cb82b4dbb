//! DescribeGroups: state, protocol and members of each group. An unknown
//! group is described as Dead with no members, as Kafka does.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::str_bytes;
use crate::protocol::error::ResponseError;
use crate::security::acl::{operation, resource};
use crate::server::authorize::GROUP_OPERATIONS;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .into_iter()
        .map(|id| {
            let operations = if request.include_authorized_operations {
                ctx.operations(broker, resource::GROUP, &id, GROUP_OPERATIONS)
            } else {
                i32::MIN
            };
            let described = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(operations);
            if !ctx.may(broker, operation::DESCRIBE, resource::GROUP, &id) {
                let denied = ResponseError::GroupAuthorizationFailed;
                return described.with_error_code(denied.code());
            }
            match broker.groups.describe(&id) {
                Err(e) => described.with_error_code(e.code()),
                Ok(d) => described
                    .with_group_state(str_bytes(d.state))
                    .with_protocol_type(str_bytes(d.protocol_type))
                    .with_protocol_data(str_bytes(d.protocol))
                    .with_members(
                        d.members
                            .into_iter()
                            .map(|m| {
                                let member = DescribedGroupMember::default()
                                    .with_member_id(str_bytes(m.member_id))
                                    .with_client_id(str_bytes(m.client_id))
                                    .with_client_host(str_bytes(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment);
                                if ctx.version >= 4 {
                                    member
                                        .with_group_instance_id(m.group_instance_id.map(str_bytes))
                                } else {
                                    member
                                }
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
