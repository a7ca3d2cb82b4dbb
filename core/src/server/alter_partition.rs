//! AlterPartition, both ends: a leader's ISR changes reach the active
//! controller (directly when this node is it, else over the controller
//! listener), and the active controller answers other brokers' requests.
//! Also the link the replication tasks use to send them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use kafka_protocol::messages::alter_partition_request::{PartitionData, TopicData};
use kafka_protocol::messages::alter_partition_response as response;
use kafka_protocol::messages::{AlterPartitionRequest, AlterPartitionResponse, BrokerId};

use super::broker::Broker;
use crate::metadata::IsrRequest;
use crate::protocol::error::{ApiError, ResponseError};
use crate::replication::{IsrAnswers, IsrChannel};

/// AlterPartition v2: topic ids and plain broker ids in the ISR.
const VERSION: i16 = 2;

/// The replication tasks' way to the controller, not keeping the broker alive.
pub struct ControllerLink(pub Weak<Broker>);

impl IsrChannel for ControllerLink {
    fn alter_partition(
        &self,
        requests: Vec<IsrRequest>,
    ) -> Pin<Box<dyn Future<Output = IsrAnswers> + Send + '_>> {
        Box::pin(async move {
            let broker: Arc<Broker> = self.0.upgrade().ok_or_else(|| {
                ApiError::new(ResponseError::BrokerNotAvailable, "the broker is stopping")
            })?;
            broker.alter_partition(requests).await
        })
    }
}

impl Broker {
    /// Asks the active controller for these ISR changes, led by this broker.
    pub async fn alter_partition(&self, requests: Vec<IsrRequest>) -> IsrAnswers {
        if self.controller.log().is_active() {
            let answers = self
                .controller
                .alter_partitions(self.node_id(), requests)
                .await?;
            return Ok(answers.into_iter().map(|a| a.map(|_| ())).collect());
        }
        let order: Vec<(uuid::Uuid, i32)> =
            requests.iter().map(|r| (r.topic_id, r.partition)).collect();
        let request = encode(self.node_id(), self.image().applied as i64, requests);
        let answer: AlterPartitionResponse = self
            .call_controller(VERSION, &request, ResponseError::NotController)
            .await?;
        if let Some(error) = ResponseError::try_from_code(answer.error_code) {
            return Err(ApiError::new(
                error,
                "the controller refused AlterPartition",
            ));
        }
        let mut codes = std::collections::HashMap::new();
        for topic in &answer.topics {
            for p in &topic.partitions {
                codes.insert((topic.topic_id, p.partition_index), p.error_code);
            }
        }
        Ok(order
            .iter()
            .map(|key| match codes.get(key).copied() {
                Some(0) => Ok(()),
                Some(code) => {
                    Err(ResponseError::try_from_code(code)
                        .unwrap_or(ResponseError::UnknownServerError))
                }
                None => Err(ResponseError::UnknownServerError),
            })
            .collect())
    }

    /// AlterPartition from another broker, on the active controller.
    pub async fn handle_alter_partition(
        &self,
        request: AlterPartitionRequest,
    ) -> AlterPartitionResponse {
        let leader = request.broker_id.0;
        let requests: Vec<IsrRequest> = request
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| IsrRequest {
                    topic_id: t.topic_id,
                    partition: p.partition_index,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                    isr: if p.new_isr_with_epochs.is_empty() {
                        p.new_isr.iter().map(|b| b.0).collect()
                    } else {
                        p.new_isr_with_epochs
                            .iter()
                            .map(|b| b.broker_id.0)
                            .collect()
                    },
                })
            })
            .collect();
        let answers = match self
            .controller
            .alter_partitions(leader, requests.clone())
            .await
        {
            Ok(answers) => answers,
            Err(e) => return AlterPartitionResponse::default().with_error_code(e.code()),
        };
        let mut topics: Vec<response::TopicData> = Vec::new();
        for (r, answer) in requests.iter().zip(answers) {
            let mut data = response::PartitionData::default().with_partition_index(r.partition);
            match answer {
                Ok(p) => {
                    data.leader_id = BrokerId(p.leader);
                    data.leader_epoch = p.leader_epoch;
                    data.isr = p.isr.iter().map(|b| BrokerId(*b)).collect();
                    data.partition_epoch = p.partition_epoch;
                }
                Err(error) => data.error_code = error.code(),
            }
            match topics.iter_mut().find(|t| t.topic_id == r.topic_id) {
                Some(topic) => topic.partitions.push(data),
                None => topics.push(
                    response::TopicData::default()
                        .with_topic_id(r.topic_id)
                        .with_partitions(vec![data]),
                ),
            }
        }
        AlterPartitionResponse::default().with_topics(topics)
    }
}

fn encode(leader: i32, broker_epoch: i64, requests: Vec<IsrRequest>) -> AlterPartitionRequest {
    let mut topics: Vec<TopicData> = Vec::new();
    for r in requests {
        let data = PartitionData::default()
            .with_partition_index(r.partition)
            .with_leader_epoch(r.leader_epoch)
            .with_partition_epoch(r.partition_epoch)
            .with_new_isr(r.isr.into_iter().map(BrokerId).collect());
        match topics.iter_mut().find(|t| t.topic_id == r.topic_id) {
            Some(topic) => topic.partitions.push(data),
            None => topics.push(
                TopicData::default()
                    .with_topic_id(r.topic_id)
                    .with_partitions(vec![data]),
            ),
        }
    }
    AlterPartitionRequest::default()
        .with_broker_id(BrokerId(leader))
        .with_broker_epoch(broker_epoch)
        .with_topics(topics)
}
