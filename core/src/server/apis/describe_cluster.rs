//! DescribeCluster: the cluster id, controller and brokers.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::str_bytes;
use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

const BROKER_ENDPOINTS: i8 = 1;

pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let image = broker.image();
    let mut response = DescribeClusterResponse::default()
        .with_endpoint_type(request.endpoint_type)
        .with_cluster_id(str_bytes(broker.cluster_id()))
        .with_controller_id(BrokerId(broker.controller_id()));
    if request.endpoint_type != BROKER_ENDPOINTS {
        response.error_code = ResponseError::UnsupportedEndpointType.code();
        response.error_message = Some(str_bytes("Only broker endpoints can be described"));
        return response;
    }
    response.brokers = image
        .brokers
        .values()
        .filter(|b| b.is_live())
        .filter_map(|b| {
            let (host, port) = b.endpoint(&ctx.session.listener)?;
            Some(
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(b.id))
                    .with_host(str_bytes(host.to_string()))
                    .with_port(port as i32)
                    .with_rack(b.rack.clone().map(str_bytes)),
            )
        })
        .collect();
    if request.include_cluster_authorized_operations {
        response.cluster_authorized_operations = ctx.operations(
            broker,
            crate::security::acl::resource::CLUSTER,
            crate::security::acl::CLUSTER_NAME,
            crate::server::authorize::CLUSTER_OPERATIONS,
        );
    }
    response
}
