//! Online group migration (KIP-848, `group.consumer.migration.policy`) on
//! the wire: a classic group with a member becomes a consumer group when a
//! ConsumerGroupHeartbeat joins it, its classic member keeps its partitions
//! and commits until told to rejoin, partitions move only after they were
//! given up, and the group goes back to classic when the new-protocol
//! member leaves — with the generation its classic member knows.

mod common;

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};
use common::{create_topic_with_partitions, Client, Weir};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as Assigned;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn versioned<M: Encodable>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    message.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn subscription() -> Bytes {
    versioned(
        &ConsumerProtocolSubscription::default().with_topics(vec![s("t")]),
        1,
    )
}

fn assignment(partitions: &[i32]) -> Bytes {
    versioned(
        &ConsumerProtocolAssignment::default().with_assigned_partitions(vec![Assigned::default()
            .with_topic(TopicName(s("t")))
            .with_partitions(partitions.to_vec())]),
        1,
    )
}

fn partitions_of(assignment: &Bytes) -> BTreeSet<i32> {
    let mut buf = assignment.clone();
    let version = bytes::Buf::get_i16(&mut buf);
    let a = ConsumerProtocolAssignment::decode(&mut buf, version).unwrap();
    a.assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().copied())
        .collect()
}

fn join(c: &mut Client, member: &str) -> JoinGroupResponse {
    let request = JoinGroupRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(5_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(subscription())]);
    c.call(&request, 7).unwrap()
}

/// Joins as a new member: (member id, response).
fn join_new(c: &mut Client) -> JoinGroupResponse {
    let first = join(c, "");
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
    join(c, &first.member_id)
}

fn sync(
    c: &mut Client,
    member: &str,
    generation: i32,
    assign: &[(&str, &[i32])],
) -> SyncGroupResponse {
    let request = SyncGroupRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_generation_id(generation)
        .with_member_id(s(member))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(
            assign
                .iter()
                .map(|(m, p)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(m))
                        .with_assignment(assignment(p))
                })
                .collect(),
        );
    c.call(&request, 5).unwrap()
}

fn heartbeat(c: &mut Client, member: &str, generation: i32) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_generation_id(generation)
        .with_member_id(s(member));
    c.call(&request, 4).unwrap().error_code
}

fn commit(c: &mut Client, member: &str, generation: i32, partition: i32, offset: i64) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(partition)
                .with_committed_offset(offset)])]);
    c.call(&request, 8).unwrap().topics[0].partitions[0].error_code
}

fn consumer_heartbeat(
    c: &mut Client,
    member: &str,
    epoch: i32,
    owned: Option<Vec<i32>>,
    topic_id: uuid::Uuid,
) -> ConsumerGroupHeartbeatResponse {
    use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
    let request = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(5_000)
        .with_subscribed_topic_names((epoch == 0).then(|| vec![TopicName(s("t"))]))
        .with_topic_partitions(owned.map(|p| {
            vec![TopicPartitions::default()
                .with_topic_id(topic_id)
                .with_partitions(p)]
        }));
    c.call(&request, 0).unwrap()
}

fn group_type(c: &mut Client) -> (String, String) {
    let listed = c.call(&ListGroupsRequest::default(), 5).unwrap();
    let g = listed
        .groups
        .iter()
        .find(|g| g.group_id.as_str() == "g")
        .expect("the group is listed");
    (g.group_type.to_string(), g.group_state.to_string())
}

/// Every offset the group committed (OffsetFetch for all topics).
fn committed(c: &mut Client) -> OffsetFetchResponse {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_topics(None);
    c.call(&request, 7).unwrap()
}

fn find_coordinator(c: &mut Client) {
    let found = c
        .call(&FindCoordinatorRequest::default().with_key(s("g")), 3)
        .unwrap();
    assert_eq!(found.error_code, 0);
}

fn topic_id(c: &mut Client) -> uuid::Uuid {
    let request = MetadataRequest::default().with_topics(Some(vec![
        metadata_request::MetadataRequestTopic::default().with_name(Some(TopicName(s("t")))),
    ]));
    c.call(&request, 12).unwrap().topics[0].topic_id
}

fn assigned(response: &ConsumerGroupHeartbeatResponse) -> Option<Vec<i32>> {
    response.assignment.as_ref().map(|a| {
        a.topic_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().copied())
            .collect()
    })
}

#[test]
fn a_live_group_upgrades_and_downgrades_with_its_classic_member() {
    let weir = Weir::start(&["group.initial.rebalance.delay.ms=0"]);
    let mut c = weir.connect();
    create_topic_with_partitions(&mut c, "t", 4, &[]);
    let id = topic_id(&mut c);
    find_coordinator(&mut c);

    // A classic member leads and takes all four partitions.
    let a = join_new(&mut c);
    assert_eq!(a.error_code, 0);
    let a_id = a.member_id.to_string();
    assert_eq!(a.leader, a.member_id);
    let synced = sync(&mut c, &a_id, a.generation_id, &[(&a_id, &[0, 1, 2, 3])]);
    assert_eq!(synced.error_code, 0);
    assert_eq!(commit(&mut c, &a_id, a.generation_id, 0, 10), 0);
    assert_eq!(group_type(&mut c).0, "classic");

    // A KIP-848 member joins: the group becomes a consumer group; the
    // classic member keeps its partitions, so the new one gets none yet.
    let b = consumer_heartbeat(&mut c, "member-b", 0, Some(vec![]), id);
    assert_eq!(b.error_code, 0, "{:?}", b.error_message);
    assert_eq!(
        group_type(&mut c),
        ("consumer".into(), "Reconciling".into())
    );
    assert_eq!(assigned(&b).unwrap_or_default(), Vec::<i32>::new());
    let described = c
        .call(
            &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g"))]),
            1,
        )
        .unwrap();
    let mut types: Vec<(String, i8)> = described.groups[0]
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.member_type))
        .collect();
    types.sort();
    let mut expected = vec![(a_id.clone(), 0), ("member-b".to_string(), 1)];
    expected.sort();
    assert_eq!(types, expected, "KIP-1099 member types");

    // The classic member still commits under its generation, then hears
    // of the rebalance on its heartbeat.
    assert_eq!(commit(&mut c, &a_id, a.generation_id, 1, 11), 0);
    assert_eq!(
        heartbeat(&mut c, &a_id, a.generation_id),
        ResponseError::RebalanceInProgress.code()
    );
    // It gave its partitions up (eager) and rejoins: answered at once, with
    // its new epoch as generation and no member list (no one leads).
    let a2 = join(&mut c, &a_id);
    assert_eq!(a2.error_code, 0);
    assert!(a2.generation_id > a.generation_id);
    assert!(a2.leader.is_empty() && a2.members.is_empty());
    let synced = sync(&mut c, &a_id, a2.generation_id, &[]);
    assert_eq!(synced.error_code, 0);
    let a_parts = partitions_of(&synced.assignment);
    assert_eq!(a_parts.len(), 2);
    assert_eq!(heartbeat(&mut c, &a_id, a2.generation_id), 0);
    assert_eq!(
        commit(&mut c, &a_id, a.generation_id, 0, 12),
        ResponseError::IllegalGeneration.code()
    );

    // The freed partitions go to the new member.
    let b2 = consumer_heartbeat(&mut c, "member-b", b.member_epoch, Some(vec![]), id);
    assert_eq!(b2.error_code, 0);
    let b_parts: BTreeSet<i32> = assigned(&b2).unwrap().into_iter().collect();
    assert_eq!(b_parts.len(), 2);
    assert!(b_parts.is_disjoint(&a_parts));
    let b_parts: Vec<i32> = b_parts.into_iter().collect();
    let b3 = consumer_heartbeat(&mut c, "member-b", b2.member_epoch, Some(b_parts), id);
    assert_eq!(b3.error_code, 0);
    assert_eq!(group_type(&mut c), ("consumer".into(), "Stable".into()));

    // The new-protocol member leaves: the group is classic again and
    // rebalances; the classic member's generation is still valid, so its
    // commit before rejoining is kept.
    let left = consumer_heartbeat(&mut c, "member-b", -1, None, id);
    assert_eq!(left.error_code, 0);
    assert_eq!(
        group_type(&mut c),
        ("classic".into(), "PreparingRebalance".into())
    );
    assert_eq!(
        heartbeat(&mut c, &a_id, a2.generation_id),
        ResponseError::RebalanceInProgress.code()
    );
    assert_eq!(commit(&mut c, &a_id, a2.generation_id, 0, 13), 0);
    let a3 = join(&mut c, &a_id);
    assert_eq!(a3.error_code, 0);
    assert_eq!(a3.leader, a3.member_id, "the classic member leads again");
    assert!(a3.generation_id > a2.generation_id);
    let synced = sync(&mut c, &a_id, a3.generation_id, &[(&a_id, &[0, 1, 2, 3])]);
    assert_eq!(synced.error_code, 0);
    assert_eq!(group_type(&mut c), ("classic".into(), "Stable".into()));

    let fetched = committed(&mut c);
    let offsets: BTreeSet<(i32, i64)> = fetched.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset))
        .collect();
    assert_eq!(offsets, [(0, 13), (1, 11)].into());
}

#[test]
fn a_disabled_policy_keeps_the_classic_group() {
    let weir = Weir::start(&[
        "group.initial.rebalance.delay.ms=0",
        "group.consumer.migration.policy=disabled",
    ]);
    let mut c = weir.connect();
    create_topic_with_partitions(&mut c, "t", 2, &[]);
    let id = topic_id(&mut c);
    find_coordinator(&mut c);
    let a = join_new(&mut c);
    let a_id = a.member_id.to_string();
    assert_eq!(
        sync(&mut c, &a_id, a.generation_id, &[(&a_id, &[0, 1])]).error_code,
        0
    );
    let b = consumer_heartbeat(&mut c, "member-b", 0, Some(vec![]), id);
    assert_eq!(b.error_code, ResponseError::GroupIdNotFound.code());
    assert!(b
        .error_message
        .unwrap()
        .contains("group.consumer.migration.policy"));
    assert_eq!(heartbeat(&mut c, &a_id, a.generation_id), 0);
    assert_eq!(group_type(&mut c), ("classic".into(), "Stable".into()));
}

#[test]
fn an_upgraded_group_does_not_come_back_classic_after_a_crash() {
    let mut weir = Weir::start(&["group.initial.rebalance.delay.ms=0"]);
    let mut c = weir.connect();
    create_topic_with_partitions(&mut c, "t", 2, &[]);
    let id = topic_id(&mut c);
    find_coordinator(&mut c);
    let a = join_new(&mut c);
    let a_id = a.member_id.to_string();
    assert_eq!(
        sync(&mut c, &a_id, a.generation_id, &[(&a_id, &[0, 1])]).error_code,
        0
    );
    assert_eq!(commit(&mut c, &a_id, a.generation_id, 1, 7), 0);
    let b = consumer_heartbeat(&mut c, "member-b", 0, Some(vec![]), id);
    assert_eq!(b.error_code, 0);

    // The upgrade deleted the classic group's record: after kill -9 the
    // group holds its offsets and no stale classic member.
    weir.restart_after_kill();
    let mut c = weir.connect();
    find_coordinator(&mut c);
    assert_eq!(group_type(&mut c), ("classic".into(), "Empty".into()));
    assert_eq!(
        heartbeat(&mut c, &a_id, a.generation_id),
        ResponseError::UnknownMemberId.code()
    );
    let fetched = committed(&mut c);
    assert_eq!(fetched.topics[0].partitions[0].committed_offset, 7);
}
