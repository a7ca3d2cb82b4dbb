//! A member of a classic group: who it is, what it supports, its session,
//! and the JoinGroup or SyncGroup response it is waiting for.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::records::MemberValue;
use crate::protocol::error::ResponseError;

/// The answer to a JoinGroup, sent when the join phase completes.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    pub error: Option<ResponseError>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only for the leader: every member and its metadata for the chosen protocol.
    pub members: Vec<JoinedMember>,
    /// KIP-814: the leader rejoined a stable group; it must not reassign.
    pub skip_assignment: bool,
}

impl JoinResult {
    pub fn error(error: ResponseError, member_id: &str) -> JoinResult {
        JoinResult {
            error: Some(error),
            generation: -1,
            member_id: member_id.to_string(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    pub error: Option<ResponseError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: ResponseError) -> SyncResult {
        SyncResult {
            error: Some(error),
            ..Default::default()
        }
    }
}

/// What a member said about itself when it joined.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a dynamic member must first ask for its id (KIP-394).
    pub require_known_member_id: bool,
    /// JoinGroup v9+: the leader may be told to skip the assignment (KIP-814).
    pub supports_skip_assignment: bool,
}

pub struct Member {
    pub id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// When the member is considered gone without a heartbeat.
    pub deadline: Instant,
    pub awaiting_join: Option<oneshot::Sender<JoinResult>>,
    pub awaiting_sync: Option<oneshot::Sender<SyncResult>>,
    /// Whether the member sent the leader's SyncGroup or its own this generation.
    pub synced: bool,
}

impl Member {
    pub fn new(id: String, request: &JoinRequest, now: Instant) -> Member {
        Member {
            id,
            group_instance_id: request.group_instance_id.clone(),
            client_id: request.client_id.clone(),
            client_host: request.client_host.clone(),
            session_timeout: request.session_timeout,
            rebalance_timeout: request.rebalance_timeout,
            protocol_type: request.protocol_type.clone(),
            protocols: request.protocols.clone(),
            assignment: Bytes::new(),
            deadline: now + request.session_timeout,
            awaiting_join: None,
            awaiting_sync: None,
            synced: false,
        }
    }

    /// Takes the latest timeouts and protocols from a rejoin.
    pub fn update(&mut self, request: &JoinRequest) {
        self.session_timeout = request.session_timeout;
        self.rebalance_timeout = request.rebalance_timeout;
        self.protocols = request.protocols.clone();
        self.client_id = request.client_id.clone();
        self.client_host = request.client_host.clone();
    }

    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// The member's preferred protocol among `candidates` (its own order).
    pub fn vote(&self, candidates: &[String]) -> Option<&str> {
        self.protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| candidates.iter().any(|c| c == name))
    }

    pub fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    pub fn heard_from(&mut self, now: Instant) {
        self.deadline = now + self.session_timeout;
    }

    /// A member waiting for a JoinGroup or SyncGroup answer is alive.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.awaiting_join.is_none() && self.awaiting_sync.is_none() && now >= self.deadline
    }

    pub fn to_value(&self, protocol: Option<&str>) -> MemberValue {
        MemberValue {
            member_id: self.id.clone(),
            group_instance_id: self.group_instance_id.clone(),
            client_id: self.client_id.clone(),
            client_host: self.client_host.clone(),
            rebalance_timeout: self.rebalance_timeout.as_millis() as i32,
            session_timeout: self.session_timeout.as_millis() as i32,
            subscription: protocol.map(|p| self.metadata(p)).unwrap_or_default(),
            assignment: self.assignment.clone(),
        }
    }

    /// A member restored from `__consumer_offsets`: it knows only the chosen
    /// protocol, and must heartbeat within its session timeout.
    pub fn from_value(
        value: &MemberValue,
        protocol_type: &str,
        protocol: Option<&str>,
        now: Instant,
    ) -> Member {
        let session_timeout = Duration::from_millis(value.session_timeout.max(0) as u64);
        Member {
            id: value.member_id.clone(),
            group_instance_id: value.group_instance_id.clone(),
            client_id: value.client_id.clone(),
            client_host: value.client_host.clone(),
            session_timeout,
            rebalance_timeout: Duration::from_millis(value.rebalance_timeout.max(0) as u64),
            protocol_type: protocol_type.to_string(),
            protocols: protocol
                .map(|p| vec![(p.to_string(), value.subscription.clone())])
                .unwrap_or_default(),
            assignment: value.assignment.clone(),
            deadline: now + session_timeout,
            awaiting_join: None,
            awaiting_sync: None,
            synced: true,
        }
    }
}

/// The member a LeaveGroup names: by member id, by group.instance.id (an
/// admin may leave the member id empty), or both, which must agree.
pub fn leaving_member(
    static_members: &HashMap<String, String>,
    member_id: &str,
    instance: Option<&str>,
) -> Result<String, ResponseError> {
    match instance {
        Some(instance) => match static_members.get(instance) {
            None => Err(ResponseError::UnknownMemberId),
            Some(current) if !member_id.is_empty() && current != member_id => {
                Err(ResponseError::FencedInstanceId)
            }
            Some(current) => Ok(current.clone()),
        },
        None => Ok(member_id.to_string()),
    }
}
