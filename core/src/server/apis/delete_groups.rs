//! DeleteGroups: removes empty groups and their committed offsets
//! (NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND if unknown).

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::server::broker::Broker;

pub fn handle(
    broker: &Broker,
    ctx: &crate::server::dispatch::RequestContext,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    use crate::security::acl::{operation, resource};
    let results = request
        .groups_names
        .into_iter()
        .map(|id| {
            let error = if ctx.may(broker, operation::DELETE, resource::GROUP, &id) {
                broker.groups.delete_group(&id).err()
            } else {
                Some(kafka_protocol::error::ResponseError::GroupAuthorizationFailed)
            };
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(error.map_or(0, |e| e.code()))
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
