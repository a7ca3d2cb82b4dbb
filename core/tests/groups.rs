//! The classic group protocol on the wire: Kafka's error codes for each
//! misstep (member id required, unknown members, stale generations,
//! rebalances in progress, fenced static members, inconsistent protocols,
//! non-empty deletes) and offsets across a kill -9.

mod common;

use bytes::Bytes;
use common::{create_topic, Client, Weir};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn find_coordinator(client: &mut Client, group: &str) {
    let response = client
        .call(&FindCoordinatorRequest::default().with_key(s(group)), 3)
        .unwrap();
    assert_eq!(response.error_code, 0);
}

fn join(
    client: &mut Client,
    group: &str,
    member: &str,
    instance: Option<&str>,
    protocol: &str,
) -> JoinGroupResponse {
    let request = JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(5_000)
        .with_member_id(s(member))
        .with_group_instance_id(instance.map(s))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s(protocol))
            .with_metadata(Bytes::from_static(b"meta"))]);
    client.call(&request, 7).unwrap()
}

fn sync(client: &mut Client, group: &str, member: &str, generation: i32, assign: bool) -> i16 {
    let assignments = if assign {
        vec![SyncGroupRequestAssignment::default()
            .with_member_id(s(member))
            .with_assignment(Bytes::from_static(b"all"))]
    } else {
        vec![]
    };
    let request = SyncGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id(generation)
        .with_member_id(s(member))
        .with_assignments(assignments);
    client.call(&request, 3).unwrap().error_code
}

fn heartbeat(client: &mut Client, group: &str, member: &str, generation: i32) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id(generation)
        .with_member_id(s(member));
    client.call(&request, 3).unwrap().error_code
}

fn commit(client: &mut Client, group: &str, member: &str, generation: i32, offset: i64) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    client.call(&request, 8).unwrap().topics[0].partitions[0].error_code
}

fn code(e: ResponseError) -> i16 {
    e.code()
}

#[test]
fn classic_protocol_errors_match_kafka() {
    let weir = Weir::start(&["group.initial.rebalance.delay.ms=0"]);
    let mut c = weir.connect();
    create_topic(&mut c, "t", &[]);
    find_coordinator(&mut c, "g");

    // KIP-394: a first join gets an id and MEMBER_ID_REQUIRED.
    let first = join(&mut c, "g", "", None, "range");
    assert_eq!(first.error_code, code(ResponseError::MemberIdRequired));
    let id = first.member_id.to_string();
    assert!(id.starts_with("protocol-test-"), "{id}");
    let joined = join(&mut c, "g", &id, None, "range");
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.leader.as_str(), id);
    assert_eq!(joined.members.len(), 1);
    let generation = joined.generation_id;
    assert_eq!(sync(&mut c, "g", &id, generation, true), 0);

    assert_eq!(heartbeat(&mut c, "g", &id, generation), 0);
    assert_eq!(
        heartbeat(&mut c, "g", &id, generation + 1),
        code(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        heartbeat(&mut c, "g", "nobody", generation),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        heartbeat(&mut c, "nogroup", &id, generation),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(commit(&mut c, "g", &id, generation, 7), 0);
    assert_eq!(
        commit(&mut c, "g", &id, generation - 1, 8),
        code(ResponseError::IllegalGeneration)
    );
    // A commit without a generation is only for empty groups.
    assert_eq!(
        commit(&mut c, "g", "", -1, 8),
        code(ResponseError::UnknownMemberId)
    );

    // A member with a protocol the group does not share cannot join.
    let other = join(&mut c, "g", "", None, "roundrobin");
    assert_eq!(
        other.error_code,
        code(ResponseError::InconsistentGroupProtocol)
    );

    // A second member joining sends the group into a rebalance; the first
    // learns it from its heartbeat. The second's join waits for the first.
    let mut c2 = weir.connect();
    let second = join(&mut c2, "g", "", None, "range").member_id.to_string();
    let waiting = std::thread::spawn(move || join(&mut c2, "g", &second, None, "range"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        heartbeat(&mut c, "g", &id, generation),
        code(ResponseError::RebalanceInProgress)
    );
    assert_eq!(
        sync(&mut c, "g", &id, generation, true),
        code(ResponseError::RebalanceInProgress)
    );
    let rejoined = join(&mut c, "g", &id, None, "range");
    let joined2 = waiting.join().unwrap();
    assert_eq!(rejoined.generation_id, generation + 1);
    assert_eq!(joined2.generation_id, generation + 1);
    assert_eq!(rejoined.members.len(), 2, "the leader sees both members");
    assert!(joined2.members.is_empty());

    // Batched leave (v3+): one known member, one unknown.
    let leave = LeaveGroupRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_members(vec![
            MemberIdentity::default().with_member_id(joined2.member_id.clone()),
            MemberIdentity::default().with_member_id(s("ghost")),
        ]);
    let left = c.call(&leave, 3).unwrap();
    assert_eq!(left.error_code, 0);
    assert_eq!(left.members[0].error_code, 0);
    assert_eq!(
        left.members[1].error_code,
        code(ResponseError::UnknownMemberId)
    );

    // Deleting a group with members fails; unknown groups are not found.
    let delete = |c: &mut Client, g: &str| {
        let r = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(g))]);
        c.call(&r, 2).unwrap().results[0].error_code
    };
    assert_eq!(delete(&mut c, "g"), code(ResponseError::NonEmptyGroup));
    assert_eq!(
        delete(&mut c, "nogroup"),
        code(ResponseError::GroupIdNotFound)
    );
}

#[test]
fn static_members_are_fenced_by_their_replacement() {
    let weir = Weir::start(&["group.initial.rebalance.delay.ms=0"]);
    let mut c = weir.connect();
    create_topic(&mut c, "t", &[]);
    find_coordinator(&mut c, "s");
    // Static members get an id at once (no MEMBER_ID_REQUIRED).
    let first = join(&mut c, "s", "", Some("box-1"), "range");
    assert_eq!(first.error_code, 0);
    let old = first.member_id.to_string();
    assert_eq!(sync(&mut c, "s", &old, first.generation_id, true), 0);
    // The same instance restarts: a new id, the same generation, no rebalance.
    let again = join(&mut c, "s", "", Some("box-1"), "range");
    assert_eq!(again.error_code, 0);
    assert_eq!(again.generation_id, first.generation_id);
    assert_ne!(again.member_id.to_string(), old);
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(s("s")))
        .with_generation_id(first.generation_id)
        .with_member_id(s(&old))
        .with_group_instance_id(Some(s("box-1")));
    assert_eq!(
        c.call(&request, 3).unwrap().error_code,
        code(ResponseError::FencedInstanceId)
    );
    let stale = join(&mut c, "s", &old, Some("box-1"), "range");
    assert_eq!(stale.error_code, code(ResponseError::FencedInstanceId));
}

#[test]
fn offsets_of_several_groups_survive_kill_9() {
    let mut weir = Weir::start(&["group.initial.rebalance.delay.ms=0"]);
    let mut c = weir.connect();
    create_topic(&mut c, "t", &[]);
    for (group, offset) in [("a", 11), ("b", 22)] {
        find_coordinator(&mut c, group);
        assert_eq!(commit(&mut c, group, "", -1, offset), 0);
    }
    weir.restart_after_kill();
    let mut c = weir.connect();
    let fetch = OffsetFetchRequest::default().with_groups(
        ["a", "b", "none"]
            .iter()
            .map(|g| {
                OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(s(g)))
                    .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                        .with_name(TopicName(s("t")))
                        .with_partition_indexes(vec![0])]))
            })
            .collect(),
    );
    // Loading may still be in progress right after the start.
    let response = loop {
        let r = c.call(&fetch, 8).unwrap();
        if r.groups.iter().all(|g| g.error_code == 0) {
            break r;
        }
        assert_eq!(
            r.groups[0].error_code,
            code(ResponseError::CoordinatorLoadInProgress)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let offsets: Vec<i64> = response
        .groups
        .iter()
        .map(|g| g.topics[0].partitions[0].committed_offset)
        .collect();
    assert_eq!(offsets, vec![11, 22, -1]);
}

#[test]
fn a_session_ends_at_its_deadline_not_at_the_next_timer_tick() {
    let weir = Weir::start(&[
        "group.initial.rebalance.delay.ms=0",
        "group.min.session.timeout.ms=100",
    ]);
    let mut c = weir.connect();
    for round in 0..3 {
        let group = format!("timed-{round}");
        find_coordinator(&mut c, &group);
        let request = JoinGroupRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_session_timeout_ms(400)
            .with_rebalance_timeout_ms(5_000)
            .with_member_id(s(""))
            .with_group_instance_id(Some(s("box-1")))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"meta"))]);
        let joined = c.call(&request, 7).unwrap();
        assert_eq!(joined.error_code, 0);
        let member = joined.member_id.to_string();
        assert_eq!(sync(&mut c, &group, &member, joined.generation_id, true), 0);
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_generation_id(joined.generation_id)
            .with_member_id(s(&member))
            .with_group_instance_id(Some(s("box-1")));
        assert_eq!(c.call(&request, 3).unwrap().error_code, 0);
        // The session was renewed before the answer came: it has surely
        // ended 410 ms later, and a DeleteGroups then finds the group empty.
        std::thread::sleep(std::time::Duration::from_millis(410));
        let r = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(&group))]);
        assert_eq!(
            c.call(&r, 2).unwrap().results[0].error_code,
            0,
            "round {round}: the expired static member was still in the group"
        );
    }
}

#[test]
fn a_groups_own_heartbeat_interval_is_what_its_members_are_given() {
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let weir = Weir::start(&["group.consumer.heartbeat.interval.ms=5000"]);
    let mut c = weir.connect();
    create_topic(&mut c, "t", &[]);
    find_coordinator(&mut c, "fast");
    let heartbeat = |c: &mut Client, group: &str| {
        let request = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s(&format!("member-of-{group}")))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(5_000)
            .with_subscribed_topic_names(Some(vec![TopicName(s("t"))]))
            .with_topic_partitions(Some(vec![]));
        let response = c.call(&request, 0).unwrap();
        assert_eq!(response.error_code, 0, "{:?}", response.error_message);
        response.heartbeat_interval_ms
    };
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(32)
            .with_resource_name(s("fast"))
            .with_configs(vec![AlterableConfig::default()
                .with_name(s("consumer.heartbeat.interval.ms"))
                .with_config_operation(0)
                .with_value(Some(s("700")))]),
    ]);
    let altered = c.call(&alter, 1).unwrap();
    assert_eq!(altered.responses[0].error_code, 0);
    assert_eq!(heartbeat(&mut c, "fast"), 700);
    assert_eq!(heartbeat(&mut c, "slow"), 5000);
}
