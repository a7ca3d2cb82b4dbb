//! Produce: validates and appends each partition's record batches as leader.
//! acks=0 gets no response (and, as in Kafka, a failed acks=0 request closes
//! the connection so the client notices); acks=1 and acks=all are answered
//! once the batches are appended and, for acks=all, committed (on one node the
//! high watermark follows the append).

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

/// `Err` closes the connection (a failed acks=0 request).
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: ProduceRequest,
) -> Result<Option<ProduceResponse>, String> {
    let acks = request.acks;
    let image = broker.image();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut failed = None;
    let mut appended = false;
    for topic in request.topic_data {
        let name = if ctx.version >= 13 {
            image.topic_names.get(&topic.topic_id).cloned()
        } else {
            Some(topic.name.to_string())
        };
        let unknown = if ctx.version >= 13 {
            ResponseError::UnknownTopicId
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let result = if !matches!(acks, -1..=1) {
                Err(ApiError::new(
                    ResponseError::InvalidRequiredAcks,
                    format!("acks must be -1, 0 or 1, not {acks}"),
                ))
            } else {
                match name
                    .as_deref()
                    .and_then(|n| broker.replicas.get_by_name(n, data.index))
                {
                    None => Err(ApiError::new(
                        unknown,
                        "This server does not host this topic-partition.",
                    )),
                    Some(partition) => match data.records.as_deref() {
                        None | Some([]) => Err(ApiError::new(
                            ResponseError::InvalidRecord,
                            "produce request holds no records",
                        )),
                        Some(records) => partition.append_as_leader(records, acks),
                    },
                }
            };
            let mut response = PartitionProduceResponse::default().with_index(data.index);
            match result {
                Ok((info, log_start_offset)) => {
                    appended = true;
                    response.base_offset = info.base_offset;
                    response.log_append_time_ms = info.log_append_time;
                    if ctx.version >= 5 {
                        response.log_start_offset = log_start_offset;
                    }
                }
                Err(e) => {
                    failed.get_or_insert_with(|| e.to_string());
                    response.error_code = e.code();
                    response.base_offset = -1;
                    if ctx.version >= 8 {
                        response.error_message = e.message();
                    }
                }
            }
            partitions.push(response);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_topic_id(topic.topic_id)
                .with_partition_responses(partitions),
        );
    }
    if appended {
        broker.replicas.notify_appended();
    }
    if acks == 0 {
        return match failed {
            Some(reason) => Err(format!("acks=0 produce failed: {reason}")),
            None => Ok(None),
        };
    }
    Ok(Some(ProduceResponse::default().with_responses(responses)))
}
