//! FindCoordinator: on one node this broker coordinates every group; the
//! first request for a group coordinator creates `__consumer_offsets`. (librdkafka
//! also reads FindCoordinator support as "this broker takes LZ4".) Transaction
//! coordinators are not offered until transactions exist.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

fn locate(key_type: i8) -> Result<(), ApiError> {
    match key_type {
        GROUP => Ok(()),
        TRANSACTION => Err(ApiError::new(
            ResponseError::CoordinatorNotAvailable,
            "Transactions are not supported yet",
        )),
        other => Err(ApiError::new(
            ResponseError::InvalidRequest,
            format!("Unsupported coordinator key type {other}"),
        )),
    }
}

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let ready = if request.key_type == GROUP {
        // The first group to look for a coordinator creates __consumer_offsets.
        broker.ensure_offsets_topic().await
    } else {
        Ok(())
    };
    let locate = |key_type| ready.clone().and_then(|()| locate(key_type));
    let host = str_bytes(broker.advertised.host.clone());
    let port = broker.advertised.port as i32;
    let node = BrokerId(broker.node_id());
    if ctx.version >= 4 {
        let coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                let coordinator = Coordinator::default().with_key(key.clone());
                match locate(request.key_type) {
                    Ok(()) => coordinator
                        .with_node_id(node)
                        .with_host(host.clone())
                        .with_port(port),
                    Err(e) => coordinator
                        .with_node_id(BrokerId(-1))
                        .with_host(StrBytes::default())
                        .with_port(-1)
                        .with_error_code(e.code())
                        .with_error_message(e.message()),
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let response = FindCoordinatorResponse::default();
    match locate(request.key_type) {
        Ok(()) => response.with_node_id(node).with_host(host).with_port(port),
        Err(e) => {
            let response = response
                .with_node_id(BrokerId(-1))
                .with_port(-1)
                .with_error_code(e.code());
            if ctx.version >= 1 {
                response.with_error_message(e.message())
            } else {
                response
            }
        }
    }
}
