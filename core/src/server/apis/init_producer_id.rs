//! InitProducerId: a new producer id (epoch 0) for an idempotent producer.
//! As in Kafka, a producer without a transactional id gets a fresh id each
//! time, even when it names its old one (KIP-360). Transactional ids need the
//! transaction coordinator, which does not exist yet.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;

pub async fn handle(
    broker: &Broker,
    ctx: &crate::server::dispatch::RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    use crate::security::acl::{operation, resource};
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if let Some(id) = &request.transactional_id {
        if !ctx.may(broker, operation::WRITE, resource::TRANSACTIONAL_ID, id) {
            let denied = ResponseError::TransactionalIdAuthorizationFailed;
            return response.with_error_code(denied.code());
        }
        return response.with_error_code(ResponseError::CoordinatorNotAvailable.code());
    }
    // An idempotent producer: IDEMPOTENT_WRITE on the cluster, or WRITE on
    // some topic (Kafka 2.8+).
    let session = &ctx.session;
    let may_write_somewhere = session.trusted
        || broker.authorizer.allows_any(
            &session.principal,
            session.host(),
            operation::WRITE,
            resource::TOPIC,
        );
    if !ctx.may_on_cluster(broker, operation::IDEMPOTENT_WRITE) && !may_write_somewhere {
        return response.with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    match broker
        .producer_ids
        .next_id(|count| broker.allocate_producer_ids(count))
        .await
    {
        Ok(id) => response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => response.with_error_code(e.code()),
    }
}
