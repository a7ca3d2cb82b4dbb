//! FindCoordinator: a group's coordinator is the leader of its
//! `__consumer_offsets` partition (on one node, this broker); the first
//! request for a group coordinator creates `__consumer_offsets`. (librdkafka
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

/// The coordinator of `key`: its node id, host and port.
fn locate(
    broker: &Broker,
    listener: &str,
    key_type: i8,
    key: &str,
) -> Result<(i32, String, u16), ApiError> {
    match key_type {
        GROUP => group_coordinator(broker, listener, key),
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

/// The live leader of the group's `__consumer_offsets` partition, at its
/// endpoint on `listener`.
fn group_coordinator(
    broker: &Broker,
    listener: &str,
    group: &str,
) -> Result<(i32, String, u16), ApiError> {
    let image = broker.image();
    if !broker.in_cluster() {
        let here = image.brokers.get(&broker.node_id());
        let (host, port) = here
            .and_then(|b| b.endpoint(listener))
            .unwrap_or((&broker.advertised.host, broker.advertised.port));
        return Ok((broker.node_id(), host.to_string(), port));
    }
    let partition = broker.groups.partition_of(group) as usize;
    let leader = image
        .topics
        .get(crate::group::OFFSETS_TOPIC)
        .and_then(|t| t.partitions.get(partition))
        .map(|p| p.leader);
    leader
        .and_then(|id| image.brokers.get(&id))
        .filter(|b| b.is_live())
        .and_then(|b| {
            let (host, port) = b.endpoint(listener)?;
            Some((b.id, host.to_string(), port))
        })
        .ok_or_else(|| {
            ApiError::new(
                ResponseError::CoordinatorNotAvailable,
                "The coordinator is not available.",
            )
        })
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
    let locate = |key_type, key: &str| {
        use crate::security::acl::{operation, resource};
        let (resource_type, denied) = match key_type {
            GROUP => (resource::GROUP, ResponseError::GroupAuthorizationFailed),
            _ => (
                resource::TRANSACTIONAL_ID,
                ResponseError::TransactionalIdAuthorizationFailed,
            ),
        };
        if !ctx.may(broker, operation::DESCRIBE, resource_type, key) {
            let message = crate::server::authorize::message(denied).unwrap_or_default();
            return Err(ApiError::new(denied, message.to_string()));
        }
        ready
            .clone()
            .and_then(|()| locate(broker, &ctx.session.listener, key_type, key))
    };
    if ctx.version >= 4 {
        let coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                let coordinator = Coordinator::default().with_key(key.clone());
                match locate(request.key_type, key.as_str()) {
                    Ok((node, host, port)) => coordinator
                        .with_node_id(BrokerId(node))
                        .with_host(str_bytes(host))
                        .with_port(port as i32),
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
    match locate(request.key_type, request.key.as_str()) {
        Ok((node, host, port)) => response
            .with_node_id(BrokerId(node))
            .with_host(str_bytes(host))
            .with_port(port as i32),
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
