//! InitProducerId: a new producer id (epoch 0) for an idempotent producer.
//! As in Kafka, a producer without a transactional id gets a fresh id each
//! time, even when it names its old one (KIP-360). Transactional ids need the
//! transaction coordinator, which does not exist yet.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;

pub async fn handle(broker: &Broker, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if request.transactional_id.is_some() {
        return response.with_error_code(ResponseError::CoordinatorNotAvailable.code());
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
