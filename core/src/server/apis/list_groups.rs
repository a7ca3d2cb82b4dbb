//! ListGroups: every group this coordinator knows, optionally filtered by
//! state (v4+) and type (v5+), both compared case-insensitively as in Kafka.

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::str_bytes;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let groups = match broker.groups.list() {
        Ok(groups) => groups,
        Err(e) => return ListGroupsResponse::default().with_error_code(e.code()),
    };
    let matches = |filter: &[kafka_protocol::protocol::StrBytes], value: &str| {
        filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
    };
    // DESCRIBE on the cluster lists every group; otherwise those the
    // principal may describe, as in Kafka.
    use crate::security::acl::{operation, resource};
    let all = ctx.may_on_cluster(broker, operation::DESCRIBE);
    let listed = groups
        .into_iter()
        .filter(|g| all || ctx.may(broker, operation::DESCRIBE, resource::GROUP, &g.group_id))
        .filter(|g| matches(&request.states_filter, g.state))
        .filter(|g| matches(&request.types_filter, g.group_type))
        .map(|g| {
            let mut listed = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(g.group_id)))
                .with_protocol_type(str_bytes(g.protocol_type));
            if ctx.version >= 4 {
                listed.group_state = str_bytes(g.state);
            }
            if ctx.version >= 5 {
                listed.group_type = str_bytes(g.group_type);
            }
            listed
        })
        .collect();
    ListGroupsResponse::default().with_groups(listed)
}
