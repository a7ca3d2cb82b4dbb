"""Controllers and brokers on separate nodes, as KRaft runs them in
production: three controller-only voters (process.roles=controller, serving
only their controller listener) and two broker-only nodes that follow the
quorum's metadata as observers, one finding the quorum through
controller.quorum.voters and the other through
controller.quorum.bootstrap.servers. Clients see only the brokers; admin
requests, registrations, heartbeats and producer ids reach the active
controller over its controller listener; kill -9 of the active controller
and a broker's restart lose nothing."""

import pathlib
import socket
import struct
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic

from conftest import Broker, free_port
from test_cluster import Cluster, assert_brokers, create, eventually, topics_seen_by

CLUSTER_ID = "separate-roles-cluster-01"


class SeparateCluster(Cluster):
    def __init__(self, workdir):
        controller_ports = [free_port() for _ in range(3)]
        voters = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(controller_ports))
        common = {
            "controller.listener.names": "CONTROLLER",
            "weir.cluster.id": CLUSTER_ID,
            "broker.heartbeat.interval.ms": 250,
            "broker.session.timeout.ms": 2000,
            "weir.controlled.shutdown.timeout.ms": 2000,
            "metadata.log.max.record.bytes.between.snapshots": 4096,
        }
        self.nodes = []
        for i, port in enumerate(controller_ports):
            node = Broker(pathlib.Path(workdir) / ("controller%d" % (i + 1)))
            # It serves no clients: it is ready once its controller listener is.
            node.port = port
            node.config.update(common)
            node.config.update(
                {
                    "node.id": i + 1,
                    "process.roles": "controller",
                    "controller.quorum.voters": voters,
                    "listeners": "CONTROLLER://127.0.0.1:%d" % port,
                }
            )
            self.nodes.append(node)
        for node_id, quorum in [
            (4, {"controller.quorum.voters": voters}),
            (5, {"controller.quorum.bootstrap.servers": "127.0.0.1:%d" % controller_ports[1]}),
        ]:
            node = Broker(pathlib.Path(workdir) / ("broker%d" % node_id))
            node.config.update(common)
            node.config.update(quorum)
            node.config.update(
                {
                    "node.id": node_id,
                    "process.roles": "broker",
                    "broker.rack": "rack-%d" % node_id,
                }
            )
            self.nodes.append(node)
        for node in self.nodes:
            node.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def controllers(self):
        return self.nodes[:3]

    @property
    def brokers(self):
        return self.nodes[3:]

    @property
    def bootstrap(self):
        return ",".join(n.bootstrap for n in self.brokers if n.proc is not None)

    def start(self):
        for node in self.nodes:
            node.start(timeout=60)
        # Each broker's own view: it observes the registrations a moment
        # after the controller commits them.
        for broker in self.brokers:
            self.wait(
                lambda s: s["controller"]["reachable"] and {b["id"] for b in s["brokers"]} == {4, 5},
                node=broker,
            )
        return self

    def controller(self):
        status = self.wait(lambda s: s["controller"]["reachable"])
        return self.nodes[status["controller"]["id"] - 1]


@pytest.fixture
def cluster(tmp_path):
    c = SeparateCluster(tmp_path).start()
    yield c
    c.stop()


def error_code_of(port, api_key, version, body=b""):
    """Sends a request; returns the error code the answer starts with
    (after the correlation id)."""
    request = struct.pack(">hhih", api_key, version, 7, 3) + b"raw" + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        body = s.recv(size, socket.MSG_WAITALL)
    correlation, code = struct.unpack(">ih", body[:6])
    assert correlation == 7
    return code


def test_controllers_and_brokers_on_separate_nodes(cluster):
    b4, b5 = cluster.brokers
    # Clients are told only of brokers; the controllers serve no clients.
    for broker in cluster.brokers:
        eventually(lambda: assert_brokers(broker, {4, 5}))
    admin = AdminClient({"bootstrap.servers": b4.bootstrap})
    described = admin.describe_cluster(request_timeout=10).result()
    assert {n.id for n in described.nodes} == {4, 5}
    assert described.controller.id in (4, 5)
    assert described.cluster_id == CLUSTER_ID
    controller_port = cluster.controllers[0].port
    assert error_code_of(controller_port, 18, 0) == 0  # ApiVersions
    # Metadata (v1, no topics): UNSUPPORTED_VERSION, as for any client request.
    assert error_code_of(controller_port, 3, 1, body=b"\x00\x00\x00\x00") == 35

    # Admin requests through either broker reach the active controller.
    KafkaAdminClient(bootstrap_servers=b5.bootstrap).create_topics(
        [KpNewTopic("separate", num_partitions=4, replication_factor=2)]
    )
    create(b4.bootstrap, "separate-single", 2, 1)
    for broker in cluster.brokers:
        eventually(lambda: assert_topic(broker, "separate", 4, {4, 5}))
    with pytest.raises(Exception) as refused:
        create(b4.bootstrap, "too-many", 1, 3)
    assert "INVALID_REPLICATION_FACTOR" in str(refused.value)

    # An idempotent producer (its ids from the controller) and a group (its
    # __consumer_offsets created through the controller).
    producer = Producer({"bootstrap.servers": b4.bootstrap, "enable.idempotence": True})
    for i in range(400):
        producer.produce("separate-single", key=b"k%d" % i, value=b"v%d" % i)
    assert producer.flush(30) == 0
    assert consume(b5.bootstrap, "separate-single", "g1", 400) == 400

    # kill -9 of the active (controller-only) controller: another takes
    # over, and the brokers follow it.
    victim = cluster.controller()
    assert victim in cluster.controllers
    victim.kill()
    cluster.wait(
        lambda s: s["controller"]["reachable"] and s["controller"]["id"] != victim.config["node.id"],
        node=b4,
    )
    deadline = time.time() + 20
    while True:
        try:
            create(b5.bootstrap, "after-failover", 3, 2)
            break
        except Exception:
            assert time.time() < deadline, "no topic could be created after the failover"
            time.sleep(0.5)
    for broker in cluster.brokers:
        eventually(lambda: assert_topic(broker, "after-failover", 3, {4, 5}))

    # The killed controller returns and catches up as a follower.
    victim.start(timeout=60)
    cluster.wait(lambda s: len(s["voters"]) == 3 and all(v["lag"] == 0 for v in s["voters"]), node=b4)

    # A broker restarts: it catches up from the controllers before it serves.
    assert b5.stop() == 0
    assert "the controller recorded this broker's controlled shutdown" in b5.log_path.read_text()
    create(b4.bootstrap, "while-b5-away", 1, 1)
    b5.start(timeout=60)
    eventually(lambda: assert_topic(b5, "while-b5-away", 1, {4, 5}), timeout=20)
    cluster.wait(lambda s: {b["id"]: b["state"] for b in s["brokers"]}.get(5) == "running", node=b4)
    assert "joined the cluster's metadata" in b5.log_path.read_text()
    assert consume(b4.bootstrap, "separate-single", "g2", 400) == 400


def assert_topic(broker, name, partitions, allowed):
    topics, _ = topics_seen_by(broker)
    assert name in topics, sorted(topics)
    assert len(topics[name]) == partitions
    for leader, replicas, _ in topics[name].values():
        assert set(replicas) <= allowed and leader in replicas


def consume(bootstrap, topic, group, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    seen = set()
    deadline = time.time() + 60
    while len(seen) < count and time.time() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error() is None:
            seen.add(m.value())
    consumer.close()
    return len(seen)
