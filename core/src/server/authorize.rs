//! Authorization of requests, as Kafka's `KafkaApis` checks them: what a
//! request needs on which resource, and the error it gets without it.
//!
//! Requests that stand or fall on one resource (the cluster, or the one
//! group they name) are refused here whole (`refuse_whole`); requests
//! naming many resources (topics, partitions, groups) are checked per
//! resource by their handlers through `RequestContext::may`. A peer
//! broker's own requests on the controller listener are trusted; a client's
//! request a peer forwarded carries the client's principal.
//!
//! Every check goes through `decide`: super users, then the authorizer
//! plugin when one is bound (`weir.authorizer`, failing closed), then the
//! ACLs.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use std::collections::HashMap;

use super::broker::Broker;
use super::dispatch::RequestContext;
use crate::security::acl::{operation, resource, CLUSTER_NAME};
use crate::security::plugin::{Action, Caller, Decision};

impl RequestContext {
    /// Whether this request's principal may perform `op` on the resource.
    pub fn may(&self, broker: &Broker, op: i8, resource_type: i8, name: &str) -> bool {
        if self.session.trusted {
            return true;
        }
        let action = Action {
            operation: op,
            resource_type,
            name: name.to_string(),
        };
        self.decide(broker, std::slice::from_ref(&action))[0]
    }

    /// Whether it may perform `op` on the cluster.
    pub fn may_on_cluster(&self, broker: &Broker, op: i8) -> bool {
        self.may(broker, op, resource::CLUSTER, CLUSTER_NAME)
    }

    /// The authorized-operations bit set of one resource over `ops`.
    pub fn operations(&self, broker: &Broker, resource_type: i8, name: &str, ops: &[i8]) -> i32 {
        if self.session.trusted {
            return ops.iter().fold(0, |bits, op| bits | (1 << op));
        }
        let actions: Vec<Action> = ops
            .iter()
            .map(|op| Action {
                operation: *op,
                resource_type,
                name: name.to_string(),
            })
            .collect();
        self.decide(broker, &actions)
            .iter()
            .zip(ops)
            .filter(|(allowed, _)| **allowed)
            .fold(0, |bits, (_, op)| bits | (1 << op))
    }

    /// Whether the principal may perform each action.
    fn decide(&self, broker: &Broker, actions: &[Action]) -> Vec<bool> {
        let caller = || self.session.caller(self.client_id.clone());
        decide(broker, caller, Some(&self.session.decisions), actions)
    }
}

/// Whether the caller may perform each action: a super user may do
/// anything; then the authorizer plugin (`weir.authorizer`) is asked, its
/// answers kept in `cache` for `weir.authorizer.cache.ms`; what it defers
/// (or everything, without one) goes to the ACLs. A plugin that fails
/// denies the whole call.
pub fn decide(
    broker: &Broker,
    caller: impl FnOnce() -> Caller,
    cache: Option<&DecisionCache>,
    actions: &[Action],
) -> Vec<bool> {
    let caller = caller();
    let acls = |a: &Action| {
        broker.authorizer.authorize(
            &caller.principal,
            &caller.address,
            a.operation,
            a.resource_type,
            &a.name,
        )
    };
    let Some(binding) = &broker.authorizer_plugin else {
        return actions.iter().map(acls).collect();
    };
    if broker.authorizer.is_super_user(&caller.principal) {
        return vec![true; actions.len()];
    }
    let now = std::time::Instant::now();
    let mut decisions: Vec<Option<Decision>> = actions
        .iter()
        .map(|a| cache.and_then(|c| c.get(a, now)))
        .collect();
    let missing: Vec<Action> = actions
        .iter()
        .zip(&decisions)
        .filter(|(_, d)| d.is_none())
        .map(|(a, _)| a.clone())
        .collect();
    if !missing.is_empty() {
        let answers = match broker.plugins.authorizer(&binding.name) {
            Some(plugin) => plugin
                .authorize(&caller, &missing)
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "the authorizer plugin {} is not loaded",
                binding.name
            )),
        };
        let answers = answers.unwrap_or_else(|why| {
            tracing::warn!(plugin = %binding.name, principal = %caller.principal, error = %why, "authorization fails closed: denied");
            vec![Decision::Deny; missing.len()]
        });
        let mut answers = answers.into_iter();
        for (action, decision) in actions.iter().zip(decisions.iter_mut()) {
            if decision.is_none() {
                let answer = answers.next().unwrap_or(Decision::Deny);
                if let Some(cache) = cache {
                    cache.put(action, answer, now + binding.cache_for);
                }
                *decision = Some(answer);
            }
        }
    }
    actions
        .iter()
        .zip(decisions)
        .map(|(action, decision)| match decision {
            Some(Decision::Allow) => true,
            Some(Decision::Deny) | None => false,
            Some(Decision::Defer) => acls(action),
        })
        .collect()
}

/// The broker's authorizer plugin binding (`weir.authorizer`).
pub struct AuthorizerBinding {
    pub name: String,
    /// `weir.authorizer.cache.ms`.
    pub cache_for: std::time::Duration,
}

impl AuthorizerBinding {
    pub fn from_config(config: &crate::config::BrokerConfig) -> Option<AuthorizerBinding> {
        let name = config.get("weir.authorizer").unwrap_or_default();
        let name = name.trim();
        (!name.is_empty()).then(|| AuthorizerBinding {
            name: name.to_string(),
            cache_for: std::time::Duration::from_millis(
                config.number("weir.authorizer.cache.ms").max(0) as u64,
            ),
        })
    }
}

/// A connection's recent answers from the authorizer plugin. A session
/// made anew (another principal, a forwarded request) starts empty: a
/// clone is empty.
#[derive(Default)]
pub struct DecisionCache {
    answers: std::sync::Mutex<HashMap<Action, (Decision, std::time::Instant)>>,
}

/// A connection keeps at most this many answers (a client touching more
/// resources starts over).
const MOST_CACHED: usize = 4096;

impl DecisionCache {
    fn get(&self, action: &Action, now: std::time::Instant) -> Option<Decision> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .get(action)
            .filter(|(_, until)| *until > now)
            .map(|(d, _)| *d)
    }

    fn put(&self, action: &Action, decision: Decision, until: std::time::Instant) {
        if until <= std::time::Instant::now() {
            return;
        }
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if answers.len() >= MOST_CACHED {
            answers.clear();
        }
        answers.insert(action.clone(), (decision, until));
    }
}

impl Clone for DecisionCache {
    fn clone(&self) -> Self {
        DecisionCache::default()
    }
}

impl std::fmt::Debug for DecisionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecisionCache")
    }
}

/// The operations of a topic, the cluster and a group, as the
/// authorized-operations fields list them.
pub const TOPIC_OPERATIONS: &[i8] = &[
    operation::READ,
    operation::WRITE,
    operation::CREATE,
    operation::DELETE,
    operation::ALTER,
    operation::DESCRIBE,
    operation::DESCRIBE_CONFIGS,
    operation::ALTER_CONFIGS,
];
pub const CLUSTER_OPERATIONS: &[i8] = &[
    operation::CREATE,
    operation::ALTER,
    operation::DESCRIBE,
    operation::CLUSTER_ACTION,
    operation::DESCRIBE_CONFIGS,
    operation::ALTER_CONFIGS,
    operation::IDEMPOTENT_WRITE,
];
pub const GROUP_OPERATIONS: &[i8] = &[
    operation::READ,
    operation::DELETE,
    operation::DESCRIBE,
    operation::DESCRIBE_CONFIGS,
    operation::ALTER_CONFIGS,
];

const CLUSTER_DENIED: ResponseError = ResponseError::ClusterAuthorizationFailed;
const GROUP_DENIED: ResponseError = ResponseError::GroupAuthorizationFailed;

/// The answer to a request its principal may not make at all, or None
/// when it may (or when its resources are checked one by one later).
pub fn refuse_whole(
    broker: &Broker,
    ctx: &RequestContext,
    request: &RequestKind,
) -> Option<ResponseKind> {
    if ctx.session.trusted || !broker.authorization_on() {
        return None;
    }
    let cluster = |op| !ctx.may_on_cluster(broker, op);
    let group = |id: &GroupId| !ctx.may(broker, operation::READ, resource::GROUP, id);
    let code = |e: ResponseError| e.code();
    Some(match request {
        RequestKind::DescribeCluster(_) if cluster(operation::DESCRIBE) => {
            ResponseKind::DescribeCluster(
                DescribeClusterResponse::default()
                    .with_error_code(code(CLUSTER_DENIED))
                    .with_error_message(message(CLUSTER_DENIED)),
            )
        }
        RequestKind::DescribeQuorum(_) if cluster(operation::DESCRIBE) => {
            ResponseKind::DescribeQuorum(
                DescribeQuorumResponse::default()
                    .with_error_code(code(CLUSTER_DENIED))
                    .with_error_message(message(CLUSTER_DENIED)),
            )
        }
        RequestKind::ElectLeaders(_) if cluster(operation::ALTER) => ResponseKind::ElectLeaders(
            ElectLeadersResponse::default().with_error_code(code(CLUSTER_DENIED)),
        ),
        RequestKind::AlterPartitionReassignments(_) if cluster(operation::ALTER) => {
            ResponseKind::AlterPartitionReassignments(
                AlterPartitionReassignmentsResponse::default()
                    .with_error_code(code(CLUSTER_DENIED))
                    .with_error_message(message(CLUSTER_DENIED)),
            )
        }
        RequestKind::ListPartitionReassignments(_) if cluster(operation::DESCRIBE) => {
            ResponseKind::ListPartitionReassignments(
                ListPartitionReassignmentsResponse::default()
                    .with_error_code(code(CLUSTER_DENIED))
                    .with_error_message(message(CLUSTER_DENIED)),
            )
        }
        RequestKind::DescribeUserScramCredentials(_) if cluster(operation::DESCRIBE) => {
            ResponseKind::DescribeUserScramCredentials(
                DescribeUserScramCredentialsResponse::default()
                    .with_error_code(code(CLUSTER_DENIED))
                    .with_error_message(message(CLUSTER_DENIED)),
            )
        }
        RequestKind::AlterUserScramCredentials(r) if cluster(operation::ALTER) => {
            let mut users: Vec<StrBytes> = r.deletions.iter().map(|d| d.name.clone()).collect();
            users.extend(r.upsertions.iter().map(|u| u.name.clone()));
            users.dedup();
            ResponseKind::AlterUserScramCredentials(
                AlterUserScramCredentialsResponse::default().with_results(
                    users
                        .into_iter()
                        .map(|user| {
                            alter_user_scram_credentials_response::AlterUserScramCredentialsResult::default()
                                .with_user(user)
                                .with_error_code(code(CLUSTER_DENIED))
                                .with_error_message(message(CLUSTER_DENIED))
                        })
                        .collect(),
                ),
            )
        }
        RequestKind::DescribeClientQuotas(_) if cluster(operation::DESCRIBE_CONFIGS) => {
            ResponseKind::DescribeClientQuotas(
                DescribeClientQuotasResponse::default()
                    .with_error_code(code(CLUSTER_DENIED))
                    .with_error_message(message(CLUSTER_DENIED)),
            )
        }
        RequestKind::AlterClientQuotas(r) if cluster(operation::ALTER_CONFIGS) => {
            ResponseKind::AlterClientQuotas(
                AlterClientQuotasResponse::default().with_entries(
                    r.entries
                        .iter()
                        .map(|e| {
                            alter_client_quotas_response::EntryData::default()
                                .with_entity(
                                    e.entity
                                        .iter()
                                        .map(|p| {
                                            alter_client_quotas_response::EntityData::default()
                                                .with_entity_type(p.entity_type.clone())
                                                .with_entity_name(p.entity_name.clone())
                                        })
                                        .collect(),
                                )
                                .with_error_code(code(CLUSTER_DENIED))
                                .with_error_message(message(CLUSTER_DENIED))
                        })
                        .collect(),
                ),
            )
        }
        RequestKind::DescribeAcls(_) if cluster(operation::DESCRIBE) => ResponseKind::DescribeAcls(
            DescribeAclsResponse::default()
                .with_error_code(code(CLUSTER_DENIED))
                .with_error_message(message(CLUSTER_DENIED)),
        ),
        RequestKind::CreateAcls(r) if cluster(operation::ALTER) => ResponseKind::CreateAcls(
            CreateAclsResponse::default().with_results(
                r.creations
                    .iter()
                    .map(|_| {
                        create_acls_response::AclCreationResult::default()
                            .with_error_code(code(CLUSTER_DENIED))
                            .with_error_message(message(CLUSTER_DENIED))
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteAcls(r) if cluster(operation::ALTER) => ResponseKind::DeleteAcls(
            DeleteAclsResponse::default().with_filter_results(
                r.filters
                    .iter()
                    .map(|_| {
                        delete_acls_response::DeleteAclsFilterResult::default()
                            .with_error_code(code(CLUSTER_DENIED))
                            .with_error_message(message(CLUSTER_DENIED))
                    })
                    .collect(),
            ),
        ),
        RequestKind::BrokerRegistration(_) if cluster(operation::CLUSTER_ACTION) => {
            ResponseKind::BrokerRegistration(
                BrokerRegistrationResponse::default().with_error_code(code(CLUSTER_DENIED)),
            )
        }
        RequestKind::BrokerHeartbeat(_) if cluster(operation::CLUSTER_ACTION) => {
            ResponseKind::BrokerHeartbeat(
                BrokerHeartbeatResponse::default().with_error_code(code(CLUSTER_DENIED)),
            )
        }
        RequestKind::AlterPartition(_) if cluster(operation::CLUSTER_ACTION) => {
            ResponseKind::AlterPartition(
                AlterPartitionResponse::default().with_error_code(code(CLUSTER_DENIED)),
            )
        }
        RequestKind::AllocateProducerIds(_) if cluster(operation::CLUSTER_ACTION) => {
            ResponseKind::AllocateProducerIds(
                AllocateProducerIdsResponse::default().with_error_code(code(CLUSTER_DENIED)),
            )
        }
        RequestKind::JoinGroup(r) if group(&r.group_id) => ResponseKind::JoinGroup(
            JoinGroupResponse::default()
                .with_error_code(code(GROUP_DENIED))
                .with_member_id(r.member_id.clone()),
        ),
        RequestKind::SyncGroup(r) if group(&r.group_id) => ResponseKind::SyncGroup(
            SyncGroupResponse::default().with_error_code(code(GROUP_DENIED)),
        ),
        RequestKind::Heartbeat(r) if group(&r.group_id) => ResponseKind::Heartbeat(
            HeartbeatResponse::default().with_error_code(code(GROUP_DENIED)),
        ),
        RequestKind::LeaveGroup(r) if group(&r.group_id) => ResponseKind::LeaveGroup(
            LeaveGroupResponse::default().with_error_code(code(GROUP_DENIED)),
        ),
        RequestKind::ConsumerGroupHeartbeat(r) if group(&r.group_id) => {
            ResponseKind::ConsumerGroupHeartbeat(
                ConsumerGroupHeartbeatResponse::default()
                    .with_error_code(code(GROUP_DENIED))
                    .with_error_message(message(GROUP_DENIED)),
            )
        }
        _ => return None,
    })
}

/// Why the principal may not `op` (DESCRIBE_CONFIGS or ALTER_CONFIGS) the
/// configs of a DescribeConfigs/AlterConfigs resource (its config resource
/// type: topic 2, broker 4, broker logger 8, group 32), if it may not.
pub fn config_refusal(
    broker: &Broker,
    ctx: &RequestContext,
    op: i8,
    config_resource: i8,
    name: &str,
) -> Option<crate::protocol::error::ApiError> {
    let (resource_type, name, denied) = match config_resource {
        2 => (
            resource::TOPIC,
            name,
            ResponseError::TopicAuthorizationFailed,
        ),
        32 => (resource::GROUP, name, GROUP_DENIED),
        _ => (resource::CLUSTER, CLUSTER_NAME, CLUSTER_DENIED),
    };
    if ctx.may(broker, op, resource_type, name) {
        return None;
    }
    let text = message(denied).map(|m| m.to_string()).unwrap_or_default();
    Some(crate::protocol::error::ApiError::new(denied, text))
}

/// Kafka's message for an authorization error.
pub fn message(error: ResponseError) -> Option<StrBytes> {
    let text = match error {
        ResponseError::ClusterAuthorizationFailed => "Cluster authorization failed.",
        ResponseError::GroupAuthorizationFailed => "Group authorization failed.",
        ResponseError::TopicAuthorizationFailed => "Topic authorization failed.",
        ResponseError::TransactionalIdAuthorizationFailed => {
            "Transactional Id authorization failed."
        }
        _ => return None,
    };
    Some(StrBytes::from_static_str(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(ops: &[i8]) -> i32 {
        ops.iter().fold(0, |bits, op| bits | (1 << op))
    }

    #[test]
    fn a_super_user_gets_what_kafka_reports_for_one() {
        assert_eq!(bits(TOPIC_OPERATIONS), 0xDF8);
        assert_eq!(bits(CLUSTER_OPERATIONS), 0x1FA0);
    }
}
