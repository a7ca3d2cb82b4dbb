"""Consumer groups with real clients (confluent-kafka, kafka-python, kafkajs),
each member its own process: sharing a topic, failover after a killed member,
committed offsets across a broker crash, static membership, cooperative
rebalancing, and each client's group admin calls."""

import json
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from groups import CLIENTS, JS, Member, all_records, balanced, produce_numbered, settle, wait_until

PARTITIONS = 6
GROUP_CONFIG = {"group.initial.rebalance.delay.ms": 300}


@pytest.fixture
def group_broker(make_broker):
    return make_broker(**GROUP_CONFIG)


def create_topic(broker, name, partitions=PARTITIONS):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result()


def start_members(client, broker, group, topic, count, **opts):
    return [Member(client, broker, group, topic, **opts) for _ in range(count)]


def close_all(members):
    for m in members:
        m.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_three_members_share_a_topic(group_broker, client):
    topic, group = "share-" + client, "g-share-" + client
    create_topic(group_broker, topic)
    produce_numbered(group_broker, topic, PARTITIONS, 100)
    members = start_members(client, group_broker, group, topic, 3)
    try:
        wait_until(lambda: balanced(members, PARTITIONS), 60, "a balanced assignment")
        wait_until(lambda: len(all_records(members)) >= 600, 60, "600 records")
        # More records after the group settled go to the current owners only.
        produce_numbered(group_broker, topic, PARTITIONS, 50, start=100)
        wait_until(lambda: len(all_records(members)) >= 900, 60, "900 records")
        seen = [(p, o) for p, o, _ in all_records(members)]
        assert len(seen) == len(set(seen)) == 900, "a record was read twice"
        owners = {}
        for i, m in enumerate(members):
            for p, _, _ in m.snapshot()[1]:
                owners.setdefault(p, set()).add(i)
        assert all(len(o) == 1 for o in owners.values()), owners
    finally:
        close_all(members)


@pytest.mark.parametrize("client", CLIENTS)
def test_killed_member_partitions_move_after_session_timeout(group_broker, client):
    topic, group = "failover-" + client, "g-failover-" + client
    create_topic(group_broker, topic)
    members = start_members(client, group_broker, group, topic, 3, session_ms=6000)
    try:
        wait_until(lambda: balanced(members, PARTITIONS), 60, "a balanced assignment")
        victim, survivors = members[0], members[1:]
        killed_at = time.monotonic()
        victim.kill()
        wait_until(lambda: balanced(survivors, PARTITIONS), 40, "the survivors to take over")
        moved_after = time.monotonic() - killed_at
        # Not before the session expired: the broker had no other way to know.
        assert moved_after > 4, moved_after
        produce_numbered(group_broker, topic, PARTITIONS, 20)
        wait_until(lambda: len(all_records(survivors)) >= 120, 60, "the survivors to read everything")
    finally:
        close_all(members)


@pytest.mark.parametrize("client", CLIENTS)
def test_committed_offsets_survive_a_broker_crash(group_broker, client):
    topic, group = "resume-" + client, "g-resume-" + client
    create_topic(group_broker, topic)
    produce_numbered(group_broker, topic, PARTITIONS, 50)
    members = start_members(client, group_broker, group, topic, 2)
    try:
        wait_until(lambda: len(all_records(members)) >= 300, 60, "300 records")
    finally:
        close_all(members)
    first = all_records(members)
    assert len(first) == 300
    group_broker.kill()
    group_broker.start()
    produce_numbered(group_broker, topic, PARTITIONS, 50, start=50)
    members = start_members(client, group_broker, group, topic, 2)
    try:
        wait_until(lambda: len(all_records(members)) >= 300, 90, "the 300 new records")
        time.sleep(1)
        second = all_records(members)
    finally:
        close_all(members)
    # Exactly the records after the committed offsets: none lost, none again.
    assert sorted(o for _, o, _ in second) == sorted(o + 50 for _, o, _ in first)
    assert {v for _, _, v in second} == {"%d:%d" % (p, n) for p in range(PARTITIONS) for n in range(50, 100)}


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_static_member_restarts_without_rebalance(group_broker, client):
    # kafkajs has no static membership (group.instance.id).
    topic, group = "static-" + client, "g-static-" + client
    create_topic(group_broker, topic)
    opts = dict(session_ms=20000)
    members = [Member(client, group_broker, group, topic, instance="i%d" % i, **opts) for i in range(3)]
    try:
        wait_until(lambda: balanced(members, PARTITIONS), 60, "a balanced assignment")
        settle(members)
        before = [m.snapshot() for m in members]
        members[1].kill()
        members[1] = Member(client, group_broker, group, topic, instance="i1", **opts)
        wait_until(lambda: members[1].snapshot()[0], 30, "the restarted member's assignment")
        assert members[1].snapshot()[0] == before[1][0], "the static member got other partitions"
        time.sleep(2)
        for i in (0, 2):
            assert len(members[i].snapshot()[2]) == len(before[i][2]), "member %d saw a rebalance" % i
        produce_numbered(group_broker, topic, PARTITIONS, 10)
        wait_until(lambda: len(all_records(members)) >= 60, 60, "every partition to be read")
    finally:
        close_all(members)


def test_cooperative_sticky_moves_only_what_it_must(group_broker):
    topic, group = "coop", "g-coop"
    create_topic(group_broker, topic)
    opts = dict(assignor="cooperative-sticky")
    first = start_members("confluent", group_broker, group, topic, 2, **opts)
    third = None
    try:
        wait_until(lambda: balanced(first, PARTITIONS), 60, "two members balanced")
        settle(first)
        events_before = [len(m.snapshot()[2]) for m in first]
        third = Member("confluent", group_broker, group, topic, **opts)
        members = first + [third]
        wait_until(lambda: balanced(members, PARTITIONS), 60, "three members balanced")
        for m, n in zip(first, events_before):
            later = [e for _, e in m.snapshot()[2][n:] if e["event"] == "assignment"]
            # Incremental: partitions are revoked one by one, never all at once.
            assert later and all(e["partitions"] for e in later), later
        assert all(len(m.snapshot()[0]) == 2 for m in members)
    finally:
        close_all(first + ([third] if third else []))


def admin_view(client, broker, group, topic, phase):
    """Lists, describes and deletes `group` through each client's admin API;
    the same answers are expected from all three."""
    if client == "kafkajs":
        done = subprocess.run(
            ["node", str(JS / "group_admin.js"), broker.bootstrap, group, topic, phase],
            capture_output=True, text=True, timeout=60,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    if client == "confluent":
        from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException

        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        out = {}
        if phase == "busy":
            listed = admin.list_consumer_groups().result().valid
            out["listed"] = [{"groupId": g.group_id, "protocolType": "consumer"} for g in listed if g.group_id == group]
            described = admin.describe_consumer_groups([group])[group].result()
            out["state"] = described.state.name
            out["protocol"] = described.partition_assignor
            out["members"] = len(described.members)
            offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result()
            out["committed"] = sum(1 for tp in offsets.topic_partitions if tp.offset > 0)
            try:
                admin.delete_consumer_groups([group])[group].result()
                out["delete"] = "ok"
            except KafkaException as e:
                out["delete"] = e.args[0].name()
        else:
            admin.delete_consumer_groups([group])[group].result()
            out["listed"] = [g.group_id for g in admin.list_consumer_groups().result().valid if g.group_id == group]
        return out
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        out = {}
        if phase == "busy":
            listed = admin.list_groups()
            out["listed"] = [{"groupId": g["group_id"], "protocolType": g["protocol_type"]} for g in listed if g["group_id"] == group]
            described = admin.describe_groups([group])[group]
            out["state"] = described["group_state"]
            out["protocol"] = described["protocol_data"]
            out["members"] = len(described["members"])
            offsets = admin.list_group_offsets(group)[group]
            out["committed"] = sum(1 for v in offsets.values() if v.offset > 0)
            out["delete"] = str(admin.delete_groups([group])[group])
        else:
            result = admin.delete_groups([group])[group]
            assert str(result) in ("None", "OK"), result
            out["listed"] = [g["group_id"] for g in admin.list_groups() if g["group_id"] == group]
        return out
    finally:
        admin.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_list_describe_delete_groups(group_broker, client):
    topic, group = "admin-" + client, "g-admin-" + client
    create_topic(group_broker, topic)
    produce_numbered(group_broker, topic, PARTITIONS, 10)
    members = start_members("confluent", group_broker, group, topic, 2)
    try:
        wait_until(lambda: balanced(members, PARTITIONS), 60, "a balanced assignment")
        wait_until(lambda: len(all_records(members)) >= 60, 60, "60 records")
        settle(members)
        busy = admin_view(client, group_broker, group, topic, "busy")
    finally:
        close_all(members)
    assert busy["listed"] == [{"groupId": group, "protocolType": "consumer"}], busy
    assert busy["state"].lower() == "stable", busy
    assert busy["protocol"] == "range", busy
    assert busy["members"] == 2, busy
    assert busy["committed"] == PARTITIONS, busy
    assert "NON_EMPTY_GROUP" in busy["delete"].upper().replace("ERROR", "").replace("NONEMPTYGROUP", "NON_EMPTY_GROUP"), busy
    idle = admin_view(client, group_broker, group, topic, "idle")
    assert idle["listed"] == [], idle


KIP848_CONFIG = dict(GROUP_CONFIG, **{
    "group.consumer.heartbeat.interval.ms": 500,
    "group.consumer.session.timeout.ms": 6000,
})


def test_kip848_consumer_group_shares_fails_over_and_coexists(make_broker):
    """librdkafka with group.protocol=consumer: server-side assignment,
    failover after the session timeout, beside a classic group."""
    broker = make_broker(**KIP848_CONFIG)
    topic = "kip848"
    create_topic(broker, topic)
    produce_numbered(broker, topic, PARTITIONS, 50)
    members = start_members("confluent", broker, "g-848", topic, 3, protocol="consumer")
    classic = start_members("kafka-python", broker, "g-classic", topic, 2)
    try:
        wait_until(lambda: balanced(members, PARTITIONS), 60, "a balanced KIP-848 assignment")
        wait_until(lambda: balanced(classic, PARTITIONS), 60, "a balanced classic assignment")
        wait_until(lambda: len(all_records(members)) >= 300, 60, "300 records in the KIP-848 group")
        wait_until(lambda: len(all_records(classic)) >= 300, 60, "300 records in the classic group")
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        described = admin.describe_consumer_groups(["g-848"])["g-848"].result()
        assert described.type.name == "CONSUMER"
        assert described.state.name == "STABLE"
        assert len(described.members) == 3
        assert sorted(p.partition for m in described.members for p in m.assignment.topic_partitions) == list(range(PARTITIONS))
        listed = {g.group_id: g.type.name for g in admin.list_consumer_groups().result().valid}
        assert listed == {"g-848": "CONSUMER", "g-classic": "CLASSIC"}
        killed_at = time.monotonic()
        members[0].kill()
        wait_until(lambda: balanced(members[1:], PARTITIONS), 40, "the survivors to take over")
        assert time.monotonic() - killed_at > 4
        produce_numbered(broker, topic, PARTITIONS, 10, start=50)
        wait_until(lambda: len(all_records(members)) >= 360, 60, "the new records")
        seen = [(p, o) for p, o, _ in all_records(members)]
        # Committed before each record was reported, so nothing is read twice.
        assert len(seen) == len(set(seen)) == 360
    finally:
        close_all(members + classic)
