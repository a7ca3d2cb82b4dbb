//! Metadata: brokers, the cluster id, and topics with their partitions'
//! leaders, epochs, replicas and ISR. Unknown topics are created when both the
//! request and `auto.create.topics.enable` allow it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use uuid::Uuid;

use super::{str_bytes, topic_name};
use crate::metadata::controller::validate_topic_name;
use crate::metadata::TopicImage;
use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;

use crate::security::acl::{operation, resource, CLUSTER_NAME};
use crate::server::authorize::{CLUSTER_OPERATIONS, TOPIC_OPERATIONS};

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: MetadataRequest,
) -> MetadataResponse {
    let auto_create = broker.config.auto_create_topics()
        && (ctx.version < 4 || request.allow_auto_topic_creation);
    let mut topics = Vec::new();
    let describable =
        |t: &&TopicImage| ctx.may(broker, operation::DESCRIBE, resource::TOPIC, &t.name);
    // v0: an empty list means all topics; v1+: null means all. Topics the
    // principal may not describe are left out, as in Kafka.
    match request.topics.as_deref() {
        Some(list) if !(list.is_empty() && ctx.version == 0) => {
            for wanted in list {
                topics.push(
                    lookup(
                        broker,
                        ctx,
                        wanted.name.as_ref().map(|n| n.as_str()),
                        wanted.topic_id,
                        auto_create,
                    )
                    .await,
                );
            }
        }
        _ => topics.extend(
            broker
                .image()
                .topics
                .values()
                .filter(describable)
                .map(|t| describe(broker, t)),
        ),
    }
    for t in topics.iter_mut() {
        fit_topic(t, ctx.version);
        if request.include_topic_authorized_operations && ctx.version >= 8 && t.error_code == 0 {
            let name = t.name.as_ref().map(|n| n.as_str()).unwrap_or_default();
            t.topic_authorized_operations =
                ctx.operations(broker, resource::TOPIC, name, TOPIC_OPERATIONS);
        }
    }
    let image = broker.image();
    // Fenced and stopping brokers are not offered to clients (as in
    // KRaft), once their partitions have had time to move.
    let brokers = image
        .brokers
        .values()
        .filter(|b| broker.offered.offered(b))
        .filter_map(|b| {
            let (host, port) = b.endpoint(&ctx.session.listener)?;
            Some(
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b.id))
                    .with_host(str_bytes(host.to_string()))
                    .with_port(port as i32)
                    .with_rack(b.rack.clone().map(str_bytes)),
            )
        })
        .collect();
    let mut response = MetadataResponse::default()
        .with_brokers(brokers)
        .with_topics(topics);
    if ctx.version >= 1 {
        // As in KRaft, any live broker will do as the controller a client
        // is told of, since each forwards admin requests to the active
        // controller: this one, which is certainly alive (a client that
        // cached the active controller would wait on it after it died).
        // A single node is its own controller anyway.
        response.controller_id = BrokerId(broker.node_id());
    }
    if ctx.version >= 2 {
        response.cluster_id = Some(str_bytes(broker.cluster_id()));
    }
    if request.include_cluster_authorized_operations && (8..=10).contains(&ctx.version) {
        response.cluster_authorized_operations =
            ctx.operations(broker, resource::CLUSTER, CLUSTER_NAME, CLUSTER_OPERATIONS);
    }
    response
}

/// Clears what `version` cannot carry (kafka-protocol refuses to encode a
/// field its version lacks).
fn fit_topic(topic: &mut MetadataResponseTopic, version: i16) {
    if version < 1 {
        topic.is_internal = false;
    }
    if version < 7 {
        topic
            .partitions
            .iter_mut()
            .for_each(|p| p.leader_epoch = -1);
    }
    if version < 10 {
        topic.topic_id = Uuid::nil();
    }
}

async fn lookup(
    broker: &Broker,
    ctx: &RequestContext,
    name: Option<&str>,
    id: Uuid,
    auto_create: bool,
) -> MetadataResponseTopic {
    let image = broker.image();
    let found = match name {
        Some(name) => image.topics.get(name),
        None => image.topic_by_id(&id),
    };
    if found.is_none() {
        let view = match name {
            Some(name) => crate::view::by_name(&image, name),
            None => crate::view::by_id(&image, &id),
        };
        if let Some(view) = view {
            return describe_view(broker, ctx, &view);
        }
    }
    // Without DESCRIBE, whether the topic exists is not told.
    let named = name.or(found.map(|t| t.name.as_str()));
    if let Some(named) = named {
        if !ctx.may(broker, operation::DESCRIBE, resource::TOPIC, named) {
            return MetadataResponseTopic::default()
                .with_name(name.map(topic_name))
                .with_topic_id(id)
                .with_error_code(ResponseError::TopicAuthorizationFailed.code());
        }
    }
    if let Some(topic) = found {
        return describe(broker, topic);
    }
    let auto_create = auto_create
        && name.is_some_and(|n| {
            ctx.may_on_cluster(broker, operation::CREATE)
                || ctx.may(broker, operation::CREATE, resource::TOPIC, n)
        });
    let Some(name) = name else {
        return MetadataResponseTopic::default()
            .with_topic_id(id)
            .with_error_code(ResponseError::UnknownTopicId.code());
    };
    let unknown = || {
        MetadataResponseTopic::default()
            .with_name(Some(topic_name(name)))
            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
    };
    if let Err(e) = validate_topic_name(name) {
        return unknown().with_error_code(e.code());
    }
    if !auto_create {
        return unknown();
    }
    match broker.auto_create_topic(name).await {
        Ok(topic) => describe(broker, &topic),
        // Lost a race with another creator: describe what exists now.
        Err(e) if e.error == ResponseError::TopicAlreadyExists => {
            match broker.image().topics.get(name) {
                Some(topic) => describe(broker, topic),
                None => unknown(),
            }
        }
        Err(e) => unknown().with_error_code(e.code()),
    }
}

/// A view (`orders~json`) as its topic, under its own name and id; told
/// to those who may describe the topic.
fn describe_view(
    broker: &Broker,
    ctx: &RequestContext,
    view: &crate::view::View,
) -> MetadataResponseTopic {
    let described = MetadataResponseTopic::default()
        .with_name(Some(topic_name(&view.name())))
        .with_topic_id(view.id());
    if !ctx.may(
        broker,
        operation::DESCRIBE,
        resource::TOPIC,
        &view.topic.name,
    ) {
        return described.with_error_code(ResponseError::TopicAuthorizationFailed.code());
    }
    described.with_partitions(describe(broker, view.topic).partitions)
}

/// A topic as the image has it. As in Kafka, a replica is offline when its
/// broker is not live (fenced, shutting down, never registered) or, on this
/// broker, when its log could not be opened (an offline log directory); a
/// partition whose leader is offline, or that the controller left without
/// one (no in-sync replica is live), has no leader: LEADER_NOT_AVAILABLE.
pub fn describe(broker: &Broker, topic: &TopicImage) -> MetadataResponseTopic {
    let node = broker.config.node_id();
    let image = broker.image();
    let live = |id: i32| image.brokers.get(&id).is_some_and(|b| b.is_live());
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let log_offline = broker
                .replicas
                .offline_reason_by_name(&topic.name, index as i32)
                .is_some();
            let offline: Vec<BrokerId> = p
                .replicas
                .iter()
                .copied()
                .filter(|id| !live(*id) || (*id == node && log_offline))
                .map(BrokerId)
                .collect();
            let described = MetadataResponsePartition::default()
                .with_partition_index(index as i32)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().copied().map(BrokerId).collect())
                .with_isr_nodes(p.isr.iter().copied().map(BrokerId).collect());
            if p.leader < 0 || offline.contains(&BrokerId(p.leader)) {
                described
                    .with_error_code(ResponseError::LeaderNotAvailable.code())
                    .with_leader_id(BrokerId(-1))
                    .with_offline_replicas(offline)
            } else {
                described.with_offline_replicas(offline)
            }
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(topic.id)
        .with_is_internal(topic.is_internal())
        .with_partitions(partitions)
}
