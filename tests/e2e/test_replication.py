"""Replication on a three-node cluster of real weir processes: followers
fetch from leaders, acks=all waits for every in-sync replica, and when a
leader is killed (kill -9) the controller elects an in-sync follower, the
producer rides through, and no acknowledged record is lost or duplicated."""

import socket
import struct
import subprocess
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import WEIR
from test_cluster import Cluster, eventually  # noqa: F401  (fixture helpers)

import pytest


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    for node in c.nodes:
        # Below broker.session.timeout.ms (2000): a stopped follower leaves
        # the ISR by its leader's decision before the controller fences it.
        node.config["replica.lag.time.max.ms"] = 1500
        node.config["replica.fetch.backoff.ms"] = 200
    c.start()
    yield c
    c.stop()


def until(condition, timeout=20):
    """Polls `condition` until it is true; fails with its last value."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("not true within %ss: %r" % (timeout, value))
        time.sleep(0.1)


def create(bootstrap, name, partitions, rf, **configs):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(name, partitions, rf, config={k: str(v) for k, v in configs.items()})
    admin.create_topics([topic], request_timeout=30)[name].result(timeout=40)


def describe(bootstrap, name):
    """{partition: (leader, replicas, isr)} as librdkafka sees it."""
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(name, timeout=10)
    return {p.id: (p.leader, sorted(p.replicas), sorted(p.isrs)) for p in metadata.topics[name].partitions.values()}


def offset_for_leader_epoch(node, topic, partition, epoch):
    """OffsetForLeaderEpoch v2 by hand: (error, leader epoch, end offset)."""
    name = topic.encode()
    body = struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">i", 1) + struct.pack(">iii", partition, -1, epoch)
    header = struct.pack(">hhih", 23, 2, 7, 4) + b"test"
    frame = header + body
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        data = s.recv(size, socket.MSG_WAITALL)
    # correlation id, throttle, topics[1], name, partitions[1]
    at = 4 + 4 + 4
    (length,) = struct.unpack(">h", data[at : at + 2])
    at += 2 + length + 4
    error, _, leader_epoch, end = struct.unpack(">hiiq", data[at : at + 18])
    return error, leader_epoch, end


def consume_all(bootstrap, name, partitions, expected, timeout=60):
    """Every record of the topic, per partition, in offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "check-%s-%f" % (name, time.time()),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(name, p, 0) for p in range(partitions)])
    seen = {p: [] for p in range(partitions)}
    deadline = time.time() + timeout
    while sum(len(v) for v in seen.values()) < expected and time.time() < deadline:
        for m in consumer.consume(500, 1.0):
            if m.error() is None:
                seen[m.partition()].append((m.offset(), m.value()))
    consumer.close()
    return seen


def metrics(node):
    """The node's /metrics as {name with labels: value}."""
    import urllib.request

    with urllib.request.urlopen(node.admin_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def log_bytes(node, topic, partition):
    """The partition's segment files on `node`, concatenated."""
    directory = node.data_dir / ("%s-%d" % (topic, partition))
    return b"".join(p.read_bytes() for p in sorted(directory.glob("*.log")))


def same_logs(cluster, topic, partitions, nodes=None):
    for p in range(partitions):
        copies = [log_bytes(n, topic, p) for n in nodes or cluster.nodes]
        assert copies[0] and all(c == copies[0] for c in copies), [len(c) for c in copies]


def test_acks_all_is_replicated_to_every_in_sync_replica(cluster):
    n1, n2, n3 = cluster.nodes
    create(n1.bootstrap, "rf3", 3, 3, **{"min.insync.replicas": 2})
    until(lambda: all(isr == [1, 2, 3] for _, _, isr in describe(n2.bootstrap, "rf3").values()))
    producer = Producer({"bootstrap.servers": n1.bootstrap, "enable.idempotence": True, "acks": "all"})
    for i in range(3000):
        producer.produce("rf3", key=b"k%d" % i, value=b"v%d" % i)
    assert producer.flush(60) == 0
    seen = consume_all(n2.bootstrap, "rf3", 3, 3000)
    assert sum(len(v) for v in seen.values()) == 3000
    for records in seen.values():
        offsets = [o for o, _ in records]
        assert offsets == list(range(len(offsets)))
    # Followers store the leader's batches byte for byte.
    eventually(lambda: same_logs(cluster, "rf3", 3), timeout=10)

    # A follower that stops fetching leaves the ISR after replica.lag.time.max.ms;
    # acks=all then needs only the two left (min.insync.replicas 2) ...
    leaders = {p: leader for p, (leader, _, _) in describe(n1.bootstrap, "rf3").items()}
    follower = next(n for n in cluster.nodes if n.config["node.id"] != leaders[0])
    follower.proc.send_signal(19)  # SIGSTOP
    try:
        others = [n for n in cluster.nodes if n is not follower]
        fid = follower.config["node.id"]
        until(lambda: fid not in describe(others[0].bootstrap, "rf3")[0][2], timeout=20)
        producer = Producer({"bootstrap.servers": others[0].bootstrap, "acks": "all"})
        for i in range(100):
            producer.produce("rf3", value=b"while-stopped-%d" % i, partition=0)
        assert producer.flush(30) == 0
        # Leadership may have moved meanwhile (a busy machine): the gauges
        # and counters are read over the live brokers.
        def total(name):
            return sum(metrics(n).get(name, 0) for n in others)

        until(lambda: total("kafka_server_replicamanager_underreplicatedpartitions") >= 1)
        assert total('kafka_network_requestmetrics_requests_total{request="Produce"}') >= 1
        assert total('kafka_server_brokertopicmetrics_bytesin_total{topic="rf3"}') > 0
        leader = cluster.nodes[describe(others[0].bootstrap, "rf3")[0][0] - 1]
        status = cluster.status(leader)
        assert any(p["topic"] == "rf3" for p in status["under_replicated_partitions"]), status
        shown = subprocess.run([WEIR, "cluster", "status", "--admin", leader.admin_url], capture_output=True, text=True)
        assert "under-replicated partitions:" in shown.stdout and "rf3-0" in shown.stdout, shown.stdout
    finally:
        follower.proc.send_signal(18)  # SIGCONT
    # ... and it catches up and comes back (as a broker that was not paused
    # sees it: the resumed one answers from its old metadata for a moment).
    until(lambda: describe(others[0].bootstrap, "rf3")[0][2] == [1, 2, 3], timeout=30)
    eventually(lambda: same_logs(cluster, "rf3", 3), timeout=10)
    until(lambda: sum(metrics(n)["kafka_server_replicamanager_isrexpands_total"] for n in cluster.nodes) >= 1)
    assert sum(metrics(n)["kafka_controller_kafkacontroller_activecontrollercount"] for n in cluster.nodes) == 1


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_a_lost_leader_loses_no_acknowledged_record(cluster, how):
    """kill -9, or SIGTERM (a controlled shutdown: the controller moves the
    leadership away before the broker goes)."""
    n1, n2, n3 = cluster.nodes
    create(n1.bootstrap, "failover", 1, 3, **{"min.insync.replicas": 2})
    until(lambda: describe(n1.bootstrap, "failover")[0][2] == [1, 2, 3], timeout=15)
    bootstrap = cluster.bootstrap
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 60000,
        }
    )
    acked, failed = [], []

    def report(err, msg):
        (failed if err else acked).append((msg.value(), err))

    stop = threading.Event()
    sent = [0]

    def produce():
        while not stop.is_set():
            producer.produce("failover", value=b"%08d" % sent[0], on_delivery=report)
            sent[0] += 1
            producer.poll(0)
            time.sleep(0.001)
        producer.flush(60)

    writer = threading.Thread(target=produce)
    writer.start()
    time.sleep(2)
    leader = describe(n2.bootstrap, "failover")[0][0]
    victim = cluster.nodes[leader - 1]
    if how == "kill":
        victim.kill()
    else:
        assert victim.stop() == 0
        assert "controlled shutdown" in victim.log_path.read_text()
    survivors = [n for n in cluster.nodes if n is not victim]

    def new_leader():
        leader_now = describe(survivors[0].bootstrap, "failover")[0][0]
        assert leader_now not in (-1, leader), leader_now
        return leader_now

    elected = eventually(new_leader, timeout=20)
    time.sleep(3)
    stop.set()
    writer.join(90)
    # KIP-320: the new leader says where epoch 0 (the old leader's) ended,
    # and that its own epoch runs to its log end.
    new_node = cluster.nodes[elected - 1]
    error, epoch, end_of_first = offset_for_leader_epoch(new_node, "failover", 0, 0)
    assert (error, epoch) == (0, 0) and 0 < end_of_first <= len(acked), (error, epoch, end_of_first)
    error, epoch, end = offset_for_leader_epoch(new_node, "failover", 0, 1)
    assert (error, epoch) == (0, 1) and end >= len(acked), (error, epoch, end)
    if how == "kill":
        # (A stopping controller counts the elections its own shutdown
        # made, and then it is gone.)
        elections = sum(metrics(n)["kafka_controller_controllerstats_leaderelections_total"] for n in survivors)
        assert elections >= 1
    assert not failed, failed[:5]
    assert len(acked) == sent[0]
    seen = consume_all(survivors[0].bootstrap, "failover", 1, len(acked))
    values = [v for _, v in seen[0]]
    assert len(values) == len(set(values)), "duplicates"
    assert set(values) >= {v for v, _ in acked}, "acknowledged records lost"
    assert values == sorted(values), "order"

    # The killed broker comes back, truncates what it alone held, catches up
    # and rejoins the ISR; every copy is then the same.
    victim.start()
    until(lambda: describe(n1.bootstrap if victim is not n1 else n2.bootstrap, "failover")[0][2] == [1, 2, 3], timeout=30)
    eventually(lambda: same_logs(cluster, "failover", 1), timeout=10)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_group_carries_on_when_its_coordinator_is_killed(cluster, protocol):
    """The group's coordinator (the leader of its __consumer_offsets
    partition) is killed mid-way: the group finds the new one, which loaded
    the partition, and goes on from its committed offsets, which never move
    backward; every record is consumed."""
    from confluent_kafka.admin import AdminClient as Admin

    n1, n2, n3 = cluster.nodes
    create(n1.bootstrap, "orders", 3, 3, **{"min.insync.replicas": 2})
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(3000):
        producer.produce("orders", key=b"%d" % i, value=b"%06d" % i)
    assert producer.flush(60) == 0
    group = "riders-" + protocol
    config = {
        "bootstrap.servers": cluster.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    if protocol == "consumer":
        config["group.protocol"] = "consumer"
    else:
        config["session.timeout.ms"] = 10000
    consumer = Consumer(config)
    consumer.subscribe(["orders"])
    seen = set()
    committed = {}
    killed = None
    deadline = time.time() + 120
    while len(seen) < 3000 and time.time() < deadline:
        messages = consumer.consume(200, 1.0)
        for m in messages:
            if m.error() is None:
                seen.add(m.value())
        if messages:
            try:
                consumer.commit(asynchronous=False)
            except Exception:
                pass  # retried with the next batch (the coordinator is moving)
        for tp in consumer.committed([TopicPartition("orders", p) for p in range(3)], timeout=10) if messages else []:
            if tp.offset >= 0:
                assert tp.offset >= committed.get(tp.partition, 0), (tp, committed)
                committed[tp.partition] = tp.offset
        if killed is None and len(seen) >= 1000:
            admin = Admin({"bootstrap.servers": cluster.bootstrap})
            coordinator = admin.describe_consumer_groups([group])[group].result(timeout=10).coordinator.id
            killed = cluster.nodes[coordinator - 1]
            killed.kill()
    # The last commit may have met the move: commit until it is accepted.
    for _ in range(30):
        try:
            consumer.commit(asynchronous=False)
            break
        except Exception:
            time.sleep(0.5)
    consumer.close()
    assert killed is not None
    assert len(seen) == 3000
    # A new member of the group starts where the group committed: the end.
    survivors = ",".join(n.bootstrap for n in cluster.nodes if n.proc is not None)
    check = Consumer(dict(config, **{"bootstrap.servers": survivors}))
    offsets = check.committed([TopicPartition("orders", p) for p in range(3)], timeout=30)
    check.close()
    assert sum(tp.offset for tp in offsets) == 3000, offsets


def test_consumers_fetch_from_a_replica_in_their_rack(tmp_path):
    """KIP-392: with the rack-aware replica selector, a consumer whose
    client.rack names a follower's rack reads from that follower."""
    c = Cluster(tmp_path)
    for node in c.nodes:
        node.config["replica.selector.class"] = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
    c.start()
    try:
        n1 = c.nodes[0]
        create(n1.bootstrap, "racked", 1, 3)
        producer = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
        for i in range(500):
            producer.produce("racked", value=b"%d" % i)
        assert producer.flush(30) == 0
        leader = describe(n1.bootstrap, "racked")[0][0]
        follower = next(n for n in c.nodes if n.config["node.id"] != leader)
        consumer = Consumer(
            {
                "bootstrap.servers": c.bootstrap,
                "group.id": "racked-readers",
                "client.rack": follower.config["broker.rack"],
                "auto.offset.reset": "earliest",
            }
        )
        consumer.assign([TopicPartition("racked", 0, 0)])
        seen = []
        deadline = time.time() + 30
        while len(seen) < 500 and time.time() < deadline:
            seen.extend(m.value() for m in consumer.consume(500, 1.0) if m.error() is None)
        consumer.close()
        assert len(seen) == 500
        served = metrics(follower)['kafka_server_brokertopicmetrics_bytesout_total{topic="racked"}']
        assert served > 0, "the follower in the consumer's rack served nothing"
        assert metrics(c.nodes[leader - 1])['kafka_server_brokertopicmetrics_bytesout_total{topic="racked"}'] == 0
    finally:
        c.stop()


def test_leadership_goes_back_to_the_preferred_replica(cluster):
    """A restarted preferred replica rejoins the ISR; ElectLeaders
    (preferred) gives it its leadership back; CreatePartitions adds
    replicated partitions that take acks=all writes."""
    from confluent_kafka import ElectionType
    from confluent_kafka.admin import NewPartitions

    n1, n2, n3 = cluster.nodes
    create(n1.bootstrap, "preferred", 3, 3, **{"min.insync.replicas": 2})
    before = describe(n1.bootstrap, "preferred")
    preferred = before[0][0]
    victim = cluster.nodes[preferred - 1]
    victim.kill()
    other = next(n for n in cluster.nodes if n is not victim)
    until(lambda: describe(other.bootstrap, "preferred")[0][0] not in (-1, preferred))
    victim.start()
    until(lambda: describe(other.bootstrap, "preferred")[0][2] == [1, 2, 3], timeout=30)
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    elected = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition("preferred", 0)]).result(timeout=30)
    assert elected[TopicPartition("preferred", 0)] is None, elected
    until(lambda: describe(other.bootstrap, "preferred")[0][0] == preferred)
    # Already the preferred leader: ELECTION_NOT_NEEDED, as Kafka answers.
    again = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition("preferred", 0)]).result(timeout=30)
    assert "ELECTION_NOT_NEEDED" in str(again[TopicPartition("preferred", 0)])

    admin.create_partitions([NewPartitions("preferred", 5)])["preferred"].result(timeout=30)
    until(lambda: len(describe(n2.bootstrap, "preferred")) == 5)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
    for p in range(5):
        producer.produce("preferred", value=b"x", partition=p)
    assert producer.flush(30) == 0
    assert all(len(r) == 3 for _, r, _ in describe(n3.bootstrap, "preferred").values())


def test_reassignment_moves_replicas_with_no_loss(cluster):
    """AlterPartitionReassignments (kafka-python) moves a partition from
    brokers a,b to b,c (c not the active controller, which is paused): c
    catches up before it joins the ISR, the move completes, the leaving
    leader hands over, nothing is lost, and ListPartitionReassignments
    shows the move while it is under way."""
    from kafka import TopicPartition as KpTopicPartition
    from kafka.admin import KafkaAdminClient

    controller = cluster.controller()
    new = next(n for n in cluster.nodes if n is not controller)
    a, b = [n for n in cluster.nodes if n is not new]
    ia, ib, ic = (n.config["node.id"] for n in (a, b, new))
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    topic = NewTopic("moving", 1, replica_assignment=[[ia, ib]], config={"min.insync.replicas": "1"})
    admin.create_topics([topic])["moving"].result(timeout=30)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(2000):
        producer.produce("moving", value=b"%06d" % i)
    assert producer.flush(30) == 0
    tp = KpTopicPartition("moving", 0)
    new.proc.send_signal(19)  # SIGSTOP: the new replica cannot catch up yet
    try:
        # kafka-python sends admin requests to the controller id a random
        # broker's Metadata names (itself, as in KRaft), and keeps it: wait
        # until the paused broker is fenced, so Metadata no longer offers it.
        until(lambda: ic not in AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10).brokers)
        kp = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=30000)
        assert kp.alter_partition_reassignments({tp: [ib, ic]}) == {tp: None}
        ongoing = kp.list_partition_reassignments()
        assert ongoing[tp]["adding_replicas"] == [ic] and ongoing[tp]["removing_replicas"] == [ia], ongoing
    finally:
        new.proc.send_signal(18)
    until(lambda: describe(b.bootstrap, "moving")[0][1] == sorted([ib, ic]), timeout=30)
    assert kp.list_partition_reassignments() == {}
    leader, replicas, isr = describe(b.bootstrap, "moving")[0]
    assert leader in (ib, ic) and isr == sorted([ib, ic])
    kp.close()
    seen = consume_all(b.bootstrap, "moving", 1, 2000)
    assert [v for _, v in seen[0]] == [b"%06d" % i for i in range(2000)]
    eventually(lambda: same_logs(cluster, "moving", 1, nodes=[b, new]), timeout=10)
    until(lambda: not (a.data_dir / "moving-0").exists(), timeout=20)


def test_route_mode_needs_the_chosen_partitions_leader(tmp_path):
    """A route-mode partitioner that sends records to a partition led by
    another broker is refused with POLICY_VIOLATION naming that leader (not
    retriable: a retry would land on the same broker); nothing is written.
    Where this broker leads the chosen partition, the records move."""
    from test_interceptors import plugin

    c = Cluster(tmp_path)
    for node in c.nodes:
        node.plugins = [plugin("crc32", "crc32.wasm", kind="partitioner")]
    c.start()
    try:
        n1 = c.nodes[0]
        admin = AdminClient({"bootstrap.servers": n1.bootstrap})
        # Partitions 0 and 1 led by broker 1, partition 2 by broker 2.
        topic = NewTopic("routed", 3, replica_assignment=[[1], [1], [2]], config={"weir.partitioner": "crc32"})
        admin.create_topics([topic])["routed"].result(timeout=30)
        until(lambda: {p: leader for p, (leader, _, _) in describe(n1.bootstrap, "routed").items()} == {0: 1, 1: 1, 2: 2})
        import zlib

        key_for = {}
        i = 0
        while len(key_for) < 3:
            key = b"k%d" % i
            key_for.setdefault(zlib.crc32(key) % 3, key)
            i += 1
        producer = Producer({"bootstrap.servers": c.bootstrap})
        errors = []
        report = lambda err, msg: errors.append(err)  # noqa: E731
        # Sent to partition 0 (broker 1), belonging to partition 1 (broker 1): moved.
        producer.produce("routed", key=key_for[1], value=b"ok", partition=0, on_delivery=report)
        producer.flush(30)
        assert errors == [None], errors
        # Sent to partition 0, belonging to partition 2 (broker 2): refused.
        errors.clear()
        producer.produce("routed", key=key_for[2], value=b"no", partition=0, on_delivery=report)
        producer.flush(30)
        assert errors[0] is not None and errors[0].name() == "POLICY_VIOLATION", errors
        seen = consume_all(c.bootstrap, "routed", 3, 1, timeout=10)
        assert {p: [v for _, v in r] for p, r in seen.items()} == {0: [], 1: [b"ok"], 2: []}
    finally:
        c.stop()


def ride_with_kafka_python(bootstrap, topic, seconds):
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, retries=100,
        request_timeout_ms=10000, delivery_timeout_ms=60000,
    )
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="riders-py", auto_offset_reset="earliest")
    acked, errors, seen = [], 0, set()
    stop = time.time() + seconds
    n = 0
    while time.time() < stop:
        value = b"%08d" % n
        try:
            producer.send(topic, key=b"%d" % (n % 8), value=value).get(timeout=60)
            acked.append(value.decode())
        except Exception:
            errors += 1
        n += 1
        for records in consumer.poll(timeout_ms=0).values():
            seen.update(r.value.decode() for r in records)
    deadline = time.time() + 60
    while not set(acked) <= seen and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen.update(r.value.decode() for r in records)
    producer.close()
    consumer.close()
    return acked, errors, seen


def ride_with_aiokafka(bootstrap, topic, seconds):
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def ride():
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=10000
        )
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id="riders-aio", auto_offset_reset="earliest"
        )
        await producer.start()
        await consumer.start()
        acked, errors, seen = [], 0, set()
        try:
            stop = time.time() + seconds
            n = 0
            while time.time() < stop:
                value = b"%08d" % n
                try:
                    await producer.send_and_wait(topic, key=b"%d" % (n % 8), value=value)
                    acked.append(value.decode())
                except Exception:
                    errors += 1
                n += 1
                for records in (await consumer.getmany(timeout_ms=0)).values():
                    seen.update(r.value.decode() for r in records)
            deadline = time.time() + 60
            while not set(acked) <= seen and time.time() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.update(r.value.decode() for r in records)
        finally:
            await producer.stop()
            await consumer.stop()
        return acked, errors, seen

    return asyncio.run(ride())


def ride_with_kcat(bootstrap, topic, seconds):
    """kcat -P fed a line every few milliseconds (idempotent, acks=all): it
    exits 0 only when every line was delivered; kcat -C then reads them."""
    from test_kcat import KCAT

    producer = subprocess.Popen(
        [KCAT, "-b", bootstrap, "-P", "-t", topic, "-X", "acks=all", "-X", "enable.idempotence=true",
         "-X", "message.timeout.ms=60000", "-X", "linger.ms=5"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    sent = []
    stop = time.time() + seconds
    while time.time() < stop:
        value = "%08d" % len(sent)
        producer.stdin.write(value.encode() + b"\n")
        producer.stdin.flush()
        sent.append(value)
        time.sleep(0.003)
    producer.stdin.close()
    stderr = producer.stderr.read().decode()
    # Connection errors are logged; a lost record is "Delivery failed".
    errors = 0 if producer.wait(timeout=120) == 0 and "Delivery failed" not in stderr else 1
    out = subprocess.run(
        [KCAT, "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q"],
        capture_output=True, text=True, timeout=120,
    ).stdout
    return sent, errors, set(out.split())


@pytest.mark.parametrize("client", ["kafka-python", "aiokafka", "kafkajs", "kcat"])
def test_clients_ride_through_a_leader_kill(cluster, client):
    """kafka-python, aiokafka, kafkajs and kcat: an idempotent acks=all
    producer and a consumer (a group, but for kcat) carry on across kill -9
    of the partition's leader with no error the application sees (beyond
    retries), and the consumer reads every acknowledged record."""
    import json as _json
    import pathlib

    n1 = cluster.nodes[0]
    topic = "ride-" + client
    create(n1.bootstrap, topic, 1, 3, **{"min.insync.replicas": 2})
    until(lambda: describe(n1.bootstrap, topic)[0][2] == [1, 2, 3])
    leader = describe(n1.bootstrap, topic)[0][0]
    victim = cluster.nodes[leader - 1]
    killer = threading.Timer(3, victim.kill)
    killer.start()
    if client == "kafkajs":
        js = pathlib.Path(__file__).resolve().parents[1] / "js" / "ride_through.js"
        done = subprocess.run(
            ["node", str(js), cluster.bootstrap, topic, "riders-js", "8"], capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr
        result = _json.loads(done.stdout)
        acked, errors, seen = result["acked"], result["errors"], set(result["seen"])
    else:
        ride = {"kafka-python": ride_with_kafka_python, "aiokafka": ride_with_aiokafka, "kcat": ride_with_kcat}
        acked, errors, seen = ride[client](cluster.bootstrap, topic, 8)
    killer.join()
    assert victim.proc is None, "the leader was not killed during the run"
    assert errors == 0, "%d sends failed" % errors
    assert len(acked) > 100
    assert set(acked) <= seen, "%d acknowledged records not seen" % len(set(acked) - seen)
