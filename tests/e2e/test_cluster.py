"""A three-node cluster of real weir processes (combined mode: every node a
broker and a controller-quorum voter) on loopback: topics created through any
broker, with confluent-kafka, kafka-python and kafkajs, are seen the same by
all; kill -9 of the active controller under a stream of CreateTopics loses no
acknowledged topic, a new controller takes over within seconds, and the
killed node catches up when it returns; a node of another cluster is refused."""

import json
import pathlib
import shutil
import subprocess
import threading
import time

import urllib.error
import urllib.request

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic

from conftest import WEIR, Broker, free_port

JS = pathlib.Path(__file__).resolve().parents[1] / "js"


class Cluster:
    def __init__(self, workdir, size=3, net=None):
        """`net`: a netns.Net to run each node in its own network namespace
        (so a node can be cut off); by default every node is on loopback."""
        hosts = [net.host(i) if net else "127.0.0.1" for i in range(size)]
        controller_ports = [free_port() for _ in range(size)]
        voters = ",".join("%d@%s:%d" % (i + 1, hosts[i], p) for i, p in enumerate(controller_ports))
        self.nodes = []
        for i in range(size):
            node = Broker(
                pathlib.Path(workdir) / ("node%d" % (i + 1)),
                host=hosts[i],
                prefix=net.wrap(i) if net else (),
            )
            node.workdir.mkdir(parents=True, exist_ok=True)
            node.config.update(
                {
                    "node.id": i + 1,
                    "process.roles": "broker,controller",
                    "controller.quorum.voters": voters,
                    "controller.listener.names": "CONTROLLER",
                    "listeners": "PLAINTEXT://%s:%d,CONTROLLER://%s:%d"
                    % (hosts[i], node.port, hosts[i], controller_ports[i]),
                    "broker.rack": "rack-%d" % (i + 1),
                    "broker.heartbeat.interval.ms": 250,
                    "broker.session.timeout.ms": 2000,
                    "weir.controlled.shutdown.timeout.ms": 2000,
                    # Snapshots (and compaction) every few dozen records.
                    "metadata.log.max.record.bytes.between.snapshots": 4096,
                }
            )
            self.nodes.append(node)

    @property
    def bootstrap(self):
        return ",".join(n.bootstrap for n in self.nodes if n.proc is not None)

    def start(self):
        for node in self.nodes:
            node.start()
        self.wait(lambda s: s["controller"]["reachable"] and len(s["brokers"]) == len(self.nodes))
        return self

    def status(self, node):
        with urllib.request.urlopen(node.admin_url + "/v1/cluster", timeout=10) as response:
            return json.load(response)

    def wait(self, ready, timeout=30, node=None):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            for n in [node] if node else [n for n in self.nodes if n.proc is not None]:
                try:
                    last = self.status(n)
                    if ready(last):
                        return last
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        raise AssertionError("cluster not ready in %ss: %s" % (timeout, last))

    def controller(self):
        status = self.wait(lambda s: s["controller"]["reachable"])
        return self.nodes[status["controller"]["id"] - 1]

    def stop(self):
        for node in self.nodes:
            node.stop()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path).start()
    yield c
    c.stop()


def create(bootstrap, name, partitions, rf):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return admin.create_topics([NewTopic(name, partitions, rf)], request_timeout=30)[name].result(timeout=40)


def topics_seen_by(node):
    """The topics and brokers in the Metadata *this* broker answers (a
    client may ask another broker it learnt of: retried until it is this one).
    librdkafka names the answering broker "host:port/id", or "host:port/bootstrap"
    (id -1) when the answer came over the bootstrap connection."""
    for _ in range(50):
        metadata = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=10)
        if answered_by(metadata) == node.bootstrap:
            break
    assert answered_by(metadata) == node.bootstrap, "another broker answered: " + metadata.orig_broker_name
    return {
        name: {p.id: (p.leader, list(p.replicas), list(p.isrs)) for p in t.partitions.values()}
        for name, t in metadata.topics.items()
    }, {b.id: (b.host, b.port) for b in metadata.brokers.values()}


def answered_by(metadata):
    return metadata.orig_broker_name.rsplit("/", 1)[0]


def eventually(check, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def test_topics_created_through_any_broker_are_seen_by_all(cluster):
    n1, n2, n3 = cluster.nodes
    # confluent-kafka through node 1.
    create(n1.bootstrap, "via-confluent", 6, 1)
    # kafka-python through node 2 (not necessarily the controller: forwarded).
    admin = KafkaAdminClient(bootstrap_servers=n2.bootstrap, request_timeout_ms=30000)
    admin.create_topics([KpNewTopic("via-kafka-python", 3, 3)])
    admin.close()
    # kafkajs through node 3.
    assert shutil.which("node"), "node is not installed"
    done = subprocess.run(
        ["node", str(JS / "cluster.js"), n3.bootstrap, "create", "via-kafkajs", "2", "2"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    seen_by_js = json.loads(done.stdout)
    assert seen_by_js["created"] is True
    assert seen_by_js["brokers"] == [1, 2, 3]
    assert [len(p["replicas"]) for p in seen_by_js["partitions"]] == [2, 2]

    def same_everywhere():
        views = [topics_seen_by(n) for n in cluster.nodes]
        assert all(v == views[0] for v in views), views
        topics, brokers = views[0]
        assert sorted(brokers) == [1, 2, 3]
        assert len(topics["via-confluent"]) == 6
        # Partition i starts on the broker after partition i-1's: every broker leads.
        assert {leader for leader, _, _ in topics["via-confluent"].values()} == {1, 2, 3}
        assert all(len(set(r)) == 3 for _, r, _ in topics["via-kafka-python"].values())
        assert len(topics["via-kafkajs"]) == 2
        return topics

    eventually(same_everywhere)

    # Rack, the active controller and the quorum through DescribeCluster and the admin endpoint.
    status = cluster.status(n2)
    assert {b["id"]: b["rack"] for b in status["brokers"]} == {1: "rack-1", 2: "rack-2", 3: "rack-3"}
    assert sorted(v["id"] for v in status["voters"]) == [1, 2, 3]
    assert status["controller"]["term"] >= 1
    shown = subprocess.run(
        [WEIR, "cluster", "status", "--admin", n3.admin_url], capture_output=True, text=True, timeout=30
    )
    assert shown.returncode == 0, shown.stderr
    assert "active controller: %d" % status["controller"]["id"] in shown.stdout
    assert "rack-3" in shown.stdout

    # A replication factor above the broker count is refused, wherever it is sent.
    with pytest.raises(Exception) as refused:
        create(n3.bootstrap, "too-many", 1, 4)
    assert "INVALID_REPLICATION_FACTOR" in str(refused.value)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_produce_and_group_consume_across_brokers(cluster, protocol):
    """Partitions lead on every broker; an idempotent producer and a group
    (its coordinator the leader of its __consumer_offsets partition) work
    through any one bootstrap broker."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    n1, n2, n3 = cluster.nodes
    create(n1.bootstrap, "spread", 6, 1)
    producer = Producer({"bootstrap.servers": n3.bootstrap, "enable.idempotence": True})
    for i in range(600):
        producer.produce("spread", key=b"k%d" % i, value=b"v%d" % i)
    assert producer.flush(30) == 0
    for group in ["g-%s-%d" % (protocol, i) for i in range(3)]:
        config = {"bootstrap.servers": n2.bootstrap, "group.id": group, "auto.offset.reset": "earliest"}
        config["group.protocol"] = protocol
        if protocol == "classic":
            config["session.timeout.ms"] = 6000
        consumer = Consumer(config)
        consumer.subscribe(["spread"])
        seen = set()
        deadline = time.time() + 60
        while len(seen) < 600 and time.time() < deadline:
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                seen.add(m.value())
        assert len(seen) == 600, (group, len(seen))
        consumer.commit(asynchronous=False)
        consumer.close()
        # The committed offsets, asked through another broker.
        check = Consumer({"bootstrap.servers": n1.bootstrap, "group.id": group})
        committed = check.committed([TopicPartition("spread", p) for p in range(6)], timeout=30)
        check.close()
        assert sum(tp.offset for tp in committed) == 600, committed


def test_killing_the_active_controller_loses_no_created_topic(cluster):
    acknowledged, errors = [], []
    stop = threading.Event()

    def create_stream():
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        i = 0
        while not stop.is_set():
            name = "stream-%d" % i
            try:
                admin.create_topics([NewTopic(name, 1, 1)], request_timeout=20)[name].result(timeout=30)
                acknowledged.append((time.time(), name))
            except Exception as e:  # an election in progress: retried with the next name
                errors.append(str(e))
            i += 1

    worker = threading.Thread(target=create_stream)
    worker.start()
    try:
        time.sleep(1.5)
        victim = cluster.controller()
        victim.kill()
        killed_at = time.time()
        new = cluster.wait(lambda s: s["controller"]["reachable"] and s["controller"]["id"] != victim.config["node.id"])
        before = len(acknowledged)
        eventually(lambda: (assert_more(acknowledged, before)), timeout=15)
        first_after = next(t for t, _ in acknowledged[before:])
        assert first_after - killed_at < 10, "creation resumed %.1fs after the kill" % (first_after - killed_at)
        time.sleep(1)
    finally:
        stop.set()
        worker.join(60)
    assert len(acknowledged) > 10, (acknowledged, errors)
    names = {name for _, name in acknowledged}
    survivors = [n for n in cluster.nodes if n.proc is not None]
    for node in survivors:
        eventually(lambda: assert_has(topics_seen_by(node)[0], names))
    # The killed node comes back and catches up with everything committed
    # meanwhile: from the leader's snapshot, as the log behind it is gone.
    survivors_logs = "".join(n.log_path.read_text() for n in survivors)
    assert "metadata snapshot taken" in survivors_logs
    victim.start()
    eventually(lambda: assert_has(topics_seen_by(victim)[0], names), timeout=30)
    assert "installing the leader's metadata snapshot" in victim.log_path.read_text()
    status = cluster.wait(lambda s: all(v["lag"] == 0 for v in s["voters"]) and len(s["voters"]) == 3)
    assert status["controller"]["id"] == new["controller"]["id"]


def assert_more(items, count):
    assert len(items) > count


def assert_has(topics, names):
    missing = names - set(topics)
    assert not missing, "missing %d acknowledged topics: %s" % (len(missing), sorted(missing)[:5])


def states(status):
    return {b["id"]: b["state"] for b in status["brokers"]}


def test_a_silent_broker_is_fenced_and_a_stopping_one_says_so(cluster):
    controller = cluster.controller()
    silent, stopping = [n for n in cluster.nodes if n is not controller]
    silent_id, stopping_id = silent.config["node.id"], stopping.config["node.id"]
    create(controller.bootstrap, "one-each", 3, 1)
    silent.kill()
    killed_at = time.time()
    cluster.wait(lambda s: states(s).get(silent_id) == "fenced", node=controller)
    assert time.time() - killed_at < 6, "fenced %.1fs after the kill" % (time.time() - killed_at)
    # Clients are no longer sent to it; no new replica is placed on it; its
    # replicas are offline, and a partition it led has no leader.
    eventually(lambda: assert_brokers(controller, {1, 2, 3} - {silent_id}))
    described = KafkaAdminClient(bootstrap_servers=controller.bootstrap).describe_topics(["one-each"])
    partitions = {p["partition_index"]: p for p in described[0]["partitions"]}
    on_silent = [p for p in partitions.values() if p["replica_nodes"] == [silent_id]]
    assert len(on_silent) == 1, partitions
    assert on_silent[0]["offline_replicas"] == [silent_id] and on_silent[0]["leader_id"] == -1, on_silent
    assert on_silent[0]["error_code"] == 5  # LEADER_NOT_AVAILABLE
    assert all(p["offline_replicas"] == [] for p in partitions.values() if p is not on_silent[0])
    create(controller.bootstrap, "while-fenced", 4, 2)
    topics, _ = topics_seen_by(controller)
    assert all(silent_id not in replicas for _, replicas, _ in topics["while-fenced"].values())
    with pytest.raises(Exception) as refused:
        create(controller.bootstrap, "needs-three", 1, 3)
    assert "INVALID_REPLICATION_FACTOR" in str(refused.value)
    # Back: its heartbeats make it live again.
    silent.start()
    cluster.wait(lambda s: states(s).get(silent_id) == "running", node=controller)
    eventually(lambda: assert_brokers(controller, {1, 2, 3}))
    # SIGTERM: a controlled shutdown the controller records before the broker goes.
    assert stopping.stop() == 0
    assert "controlled shutdown" in stopping.log_path.read_text()
    status = cluster.status(controller)
    assert states(status)[stopping_id] == "shutting down", status
    stopping.start()
    cluster.wait(lambda s: states(s).get(stopping_id) == "running", node=controller)


def assert_brokers(node, ids):
    assert set(topics_seen_by(node)[1]) == ids


def test_a_node_of_another_cluster_is_refused(cluster):
    n1, n2, n3 = cluster.nodes
    create(n1.bootstrap, "ours", 1, 1)
    n3.stop()
    # Its data directory says which cluster it belongs to: a node configured
    # for another cluster will not start on it.
    n3.config["weir.cluster.id"] = "another-cluster-id-000"
    with pytest.raises(RuntimeError) as refused:
        n3.start(timeout=10)
    assert "belongs to cluster" in str(refused.value)
    n3.proc = None
    # With a fresh directory it starts, but the quorum refuses its messages:
    # it never learns the cluster's metadata, and the cluster carries on.
    shutil.rmtree(n3.data_dir)
    n3.start()
    time.sleep(3)
    status = cluster.status(n3)
    assert status["controller"]["id"] is None and status["brokers"] == [], status
    assert status["cluster_id"] == "another-cluster-id-000"
    create(n1.bootstrap, "still-ours", 1, 1)
    eventually(lambda: assert_has(topics_seen_by(n2)[0], {"ours", "still-ours"}))
    refusals = "".join(n.log_path.read_text() for n in (n1, n2))
    assert "controller listener connection refused" in refusals and "another-cluster-id-000" in refusals


def test_a_plugin_deployed_through_one_broker_runs_on_every_broker(tmp_path):
    """`weir plugin deploy` through a broker that is not the controller: the
    component is committed with its sha256 through the controller, every
    broker loads exactly those bytes, reports its version (shown by `weir
    plugin list` on any node), and unloads it when it is removed."""
    import hashlib

    from confluent_kafka import Consumer, Producer
    from test_interceptors import WASM, plugin
    from test_plugin_reload import weir_plugin

    c = Cluster(tmp_path)
    for node in c.nodes:
        # Every broker runs "mask" from its weir.toml: header-stamp for now.
        node.plugins = [plugin("mask", "header_stamp.wasm", headers="stamp=v1", fields="secret")]
    c.start()
    try:
        controller = c.controller()
        through = next(n for n in c.nodes if n is not controller)
        admin = AdminClient({"bootstrap.servers": c.bootstrap})
        topic = NewTopic("masked", 3, 1, config={"weir.interceptors.produce": "mask"})
        admin.create_topics([topic])["masked"].result(timeout=30)
        topics, _ = topics_seen_by(controller)
        assert {leader for leader, _, _ in topics["masked"].values()} == {1, 2, 3}

        redact = WASM / "redact.wasm"
        sha = hashlib.sha256(redact.read_bytes()).hexdigest()
        deployed = weir_plugin(through, "deploy", "mask", str(redact))
        assert deployed.returncode == 0, deployed.stderr

        def every_broker_runs_it():
            for node in c.nodes:
                listed = {p["name"]: p for p in json.loads(weir_plugin(node, "list").stdout)}
                assert listed["mask"]["sha256"] == sha, (node.config["node.id"], listed["mask"]["sha256"])
                assert listed["mask"]["brokers"] == {"1": sha, "2": sha, "3": sha}, listed["mask"]

        eventually(every_broker_runs_it, timeout=20)
        # Each partition's leader masks what it appends.
        producer = Producer({"bootstrap.servers": c.bootstrap})
        for p in range(3):
            for i in range(10):
                producer.produce("masked", value=json.dumps({"secret": "s", "i": i}).encode(), partition=p)
        assert producer.flush(30) == 0
        consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "masked", "auto.offset.reset": "earliest"})
        consumer.subscribe(["masked"])
        seen = []
        deadline = time.time() + 60
        while len(seen) < 30 and time.time() < deadline:
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                seen.append((m.partition(), json.loads(m.value())["secret"]))
        consumer.close()
        assert sorted(seen) == [(p, "***") for p in range(3) for _ in range(10)]

        # Removed through another broker: unloaded everywhere.
        last = next(n for n in c.nodes if n is not through)
        assert weir_plugin(last, "remove", "mask", "--force").returncode == 0

        def nobody_runs_it():
            for node in c.nodes:
                assert json.loads(weir_plugin(node, "list").stdout) == [], node.config["node.id"]

        eventually(nobody_runs_it, timeout=20)
    finally:
        c.stop()


def test_acls_follow_a_forwarded_request_to_the_controller(tmp_path):
    """A broker forwards admin requests to the active controller with the
    client's principal: alice is refused a topic through a broker that is
    not the controller, the super user grants her a prefix through another,
    and then she may. Every broker enforces the same ACLs. The first
    (inter-broker) listener is PLAINTEXT, so its principal, User:ANONYMOUS,
    is a super user, as Kafka's inter-broker principal must be."""
    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)
    users = {"admin": "admin-secret", "alice": "alice-secret"}
    cluster = Cluster(tmp_path)
    for node in cluster.nodes:
        node.sasl_port = free_port()
        plain, controller = node.config["listeners"].split(",")
        node.config.update({
            "listeners": "%s,SASL_PLAINTEXT://127.0.0.1:%d,%s" % (plain, node.sasl_port, controller),
            "sasl.enabled.mechanisms": "PLAIN",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
                                + " ".join('user_%s="%s"' % kv for kv in users.items()) + ";",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:admin;User:ANONYMOUS",
        })
    cluster.start()
    try:
        leader = cluster.controller()
        others = [n for n in cluster.nodes if n is not leader]

        def client(node, user):
            return {"bootstrap.servers": "127.0.0.1:%d" % node.sasl_port, "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": users[user]}

        alice = AdminClient(client(others[0], "alice"))
        with pytest.raises(KafkaException) as refused:
            alice.create_topics([NewTopic("alice.orders", 1, 3)])["alice.orders"].result(30)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

        admin = AdminClient(client(others[1], "admin"))
        grant = AclBinding(ResourceType.TOPIC, "alice.", ResourcePatternType.PREFIXED, "User:alice", "*",
                           AclOperation.ALL, AclPermissionType.ALLOW)
        admin.create_acls([grant])[grant].result(30)
        alice.create_topics([NewTopic("alice.orders", 1, 3)])["alice.orders"].result(30)
        producer = Producer(dict(client(others[1], "alice"), acks="all"))
        producer.produce("alice.orders", b"replicated", partition=0)
        assert producer.flush(30) == 0
        for node in cluster.nodes:
            seen = AdminClient(client(node, "alice")).list_topics(timeout=10).topics
            assert sorted(seen) == ["alice.orders"], node.bootstrap
    finally:
        cluster.stop()


def test_the_schema_registry_and_validation_in_a_cluster(tmp_path):
    """`_schemas` gets two replicas (schema.registry.topic.replication.factor)
    on three brokers: a client given every broker's registry URL registers
    through whichever leads it (the others answer 503 and confluent-kafka
    moves on), the brokers with a replica serve the committed schemas from
    it, the one without reads the leader's (at once), and partitions led
    by each broker validate against them."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.serialization import MessageField, SerializationContext
    from confluent_kafka import Producer
    from test_interceptors import plugin

    c = Cluster(tmp_path)
    for node in c.nodes:
        node.plugins = [plugin("avro", "avro.wasm", kind="serializer")]
        node.config["schema.registry.topic.replication.factor"] = 2
    c.start()
    try:
        urls = ",".join(n.registry_url for n in c.nodes)
        registry = SchemaRegistryClient({"url": urls})
        schema = json.dumps({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}]})
        schema_id = registry.register_schema("orders-value", Schema(schema, "AVRO"))
        topics, _ = topics_seen_by(c.nodes[0])
        replicas = topics["_schemas"][0][1]
        assert len(replicas) == 2, topics["_schemas"]
        outside = next(n for i, n in enumerate(c.nodes) if i + 1 not in replicas)
        # The broker without a replica reads the leader's, so what was just
        # registered is there at once.
        v2 = json.dumps({"type": "record", "name": "Order", "fields": [
            {"name": "id", "type": "long"}, {"name": "note", "type": "string", "default": ""}]})
        v2_id = registry.register_schema("orders-value", Schema(v2, "AVRO"))
        alone = SchemaRegistryClient({"url": outside.registry_url})
        assert alone.get_latest_version("orders-value").schema_id == v2_id
        assert alone.get_schema(schema_id).schema_str == schema

        def everyone_serves_it():
            for node in c.nodes:
                one = SchemaRegistryClient({"url": node.registry_url})
                try:  # a follower learns the new high watermark on its next fetch
                    assert one.get_schema(schema_id).schema_str == schema
                    assert one.get_latest_version("orders-value").schema_id == v2_id
                except SchemaRegistryError as e:
                    raise AssertionError(str(e))

        eventually(everyone_serves_it, timeout=20)
        admin = AdminClient({"bootstrap.servers": c.bootstrap})
        config = {"weir.value.schema.validation": "true", "weir.value.serializer": "avro"}
        admin.create_topics([NewTopic("orders", 3, replica_assignment=[[1], [2], [3]], config=config)])[
            "orders"].result(timeout=30)
        serialize = AvroSerializer(registry, schema)
        ctx = SerializationContext("orders", MessageField.VALUE)
        producer = Producer({"bootstrap.servers": c.bootstrap, "linger.ms": 100})
        results = []
        for partition in range(3):
            producer.produce("orders", value=serialize({"id": partition}, ctx), partition=partition,
                             on_delivery=lambda e, m: results.append(e))
            producer.produce("orders", value=b"\x00\x00\x00\x00\x63oops", partition=partition,
                             on_delivery=lambda e, m: results.append(e))
        producer.flush(30)
        refused = [e for e in results if e is not None]
        # Each leader refused its unframed-id record (and, batched with it,
        # perhaps the valid one); none took an invalid record.
        assert len(refused) >= 3 and all(e.name() in ("INVALID_RECORD", "_INVALID_DIFFERENT_RECORD")
                                         for e in refused), results

        # A schema registered through the leader alone (the broker without
        # a replica is not asked), then at once named by a record produced
        # to a partition that broker leads: validation reads the leader's.
        leader = c.nodes[topics["_schemas"][0][0] - 1]
        fresh = json.dumps({"type": "record", "name": "Payment", "fields": [{"name": "cents", "type": "long"}]})
        through_leader = SchemaRegistryClient({"url": leader.registry_url})
        admin.create_topics([NewTopic("payments", 1, replica_assignment=[[c.nodes.index(outside) + 1]],
                                      config=config)])["payments"].result(timeout=30)
        pay = AvroSerializer(through_leader, fresh)(
            {"cents": 1250}, SerializationContext("payments", MessageField.VALUE))
        results.clear()
        producer.produce("payments", value=pay, partition=0, on_delivery=lambda e, m: results.append(e))
        producer.flush(30)
        assert results == [None], results
    finally:
        c.stop()
