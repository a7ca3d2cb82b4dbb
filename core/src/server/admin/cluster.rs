//! `GET /v1/cluster`: the cluster as `weir cluster status` prints it — its
//! brokers (id, address, rack, state), the active controller and its Raft
//! term, and each voter's log end and lag behind the leader, asked of the
//! active controller with DescribeQuorum wherever the call arrives — and
//! the partitions that are under-replicated (ISR smaller than the replica
//! set) or offline (no live leader), from the metadata.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use kafka_protocol::messages::{DescribeQuorumRequest, DescribeQuorumResponse};
use serde_json::{json, Value};

use crate::protocol::error::ResponseError;
use crate::server::apis::describe_quorum;
use crate::server::Broker;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new().route("/v1/cluster", get(status))
}

async fn status(State(broker): State<Arc<Broker>>) -> Json<Value> {
    let image = broker.image();
    let quorum = describe(&broker).await;
    let partition = quorum
        .as_ref()
        .and_then(|q| q.topics.first())
        .and_then(|t| t.partitions.first())
        .filter(|p| p.error_code == 0);
    let brokers: Vec<Value> = image
        .brokers
        .values()
        .map(|b| {
            json!({
                "id": b.id,
                "host": b.host,
                "port": b.port,
                "rack": b.rack,
                "state": b.state.name(),
            })
        })
        .collect();
    let voters: Vec<Value> = match partition {
        Some(p) => {
            let leader_end = p
                .current_voters
                .iter()
                .find(|v| v.replica_id == p.leader_id)
                .map(|v| v.log_end_offset)
                .unwrap_or(p.high_watermark);
            p.current_voters
                .iter()
                .map(|v| {
                    json!({
                        "id": v.replica_id.0,
                        "log_end": v.log_end_offset,
                        "lag": (leader_end - v.log_end_offset).max(0),
                    })
                })
                .collect()
        }
        None => Vec::new(),
    };
    let local = broker.controller.log().quorum_status();
    let live = |id: i32| image.brokers.get(&id).is_some_and(|b| b.is_live());
    let mut under_replicated = Vec::new();
    let mut offline = Vec::new();
    for topic in image.topics.values() {
        for (index, p) in topic.partitions.iter().enumerate() {
            let entry = json!({
                "topic": topic.name,
                "partition": index,
                "leader": p.leader,
                "replicas": p.replicas,
                "isr": p.isr,
            });
            if p.leader < 0 || !live(p.leader) {
                offline.push(entry);
            } else if p.isr.len() < p.replicas.len() {
                under_replicated.push(entry);
            }
        }
    }
    Json(json!({
        "cluster_id": broker.cluster_id(),
        "answered_by": broker.node_id(),
        "controller": {
            "id": partition.map(|p| p.leader_id.0).or(broker.controller.active_controller()),
            "term": partition.map(|p| p.leader_epoch as i64).or(local.as_ref().map(|s| s.term as i64)),
            "commit": partition.map(|p| p.high_watermark),
            "reachable": partition.is_some(),
        },
        "brokers": brokers,
        "voters": voters,
        "under_replicated_partitions": under_replicated,
        "offline_partitions": offline,
        "this_node": local.map(|s| json!({
            "id": s.node_id,
            "term": s.term,
            "commit": s.commit,
            "applied": s.applied,
            "last_index": s.last_index,
        })),
    }))
}

/// DescribeQuorum answered here when this node is the active controller
/// (or a single node), else by the active controller.
async fn describe(broker: &Broker) -> Option<DescribeQuorumResponse> {
    let request = DescribeQuorumRequest::default();
    let remote = broker.in_cluster() && !broker.controller.log().is_active();
    if !remote {
        return Some(describe_quorum::handle(broker, request));
    }
    broker
        .call_controller(0, &request, ResponseError::NotController)
        .await
        .ok()
}
