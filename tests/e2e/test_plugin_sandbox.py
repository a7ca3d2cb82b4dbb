"""A hostile plugin per failure (tests/../plugins/hostile, built from
source): an infinite loop, a memory bomb, a trap, an out-of-range answer,
an error answer, and attempts to read files, the environment and sockets.
For each, the broker keeps serving, the topic's on-error policy applies
(reject: POLICY_VIOLATION, nothing appended; skip: appended as sent), the
failure is logged with the plugin's name, and nothing leaks out of the
sandbox."""

import pathlib
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = pathlib.Path(__file__).resolve().parents[2]
WASM = ROOT / "target" / "wasm32-wasip2" / "release"
FAILURES = ["loop", "memory", "trap", "out-of-range", "refuse"]
PROBES = ["files", "env", "sockets"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    from conftest import Broker

    for name in ("hostile.wasm", "murmur2.wasm"):
        assert (WASM / name).exists(), "build the plugins first (tests/run.sh does): %s" % name
    workdir = tmp_path_factory.mktemp("sandbox")
    broker = Broker(workdir)
    plugins = [{"name": "murmur2", "path": str(WASM / "murmur2.wasm"), "kind": "partitioner"}]
    for behaviour in FAILURES + PROBES:
        plugins.append({
            "name": "hostile-" + behaviour,
            "path": str(WASM / "hostile.wasm"),
            "kind": "partitioner",
            "timeout-ms": 50,
            "memory-mb": 32,
            "config": {"behaviour": behaviour, "target": broker.bootstrap},
        })
    broker.plugins = plugins
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topics = [NewTopic("healthy", 3, 1, config={"weir.partitioner": "murmur2"})]
    for behaviour in FAILURES:
        for policy in ("reject", "skip"):
            topics.append(NewTopic("%s-%s" % (behaviour, policy), 3, 1, config={
                "weir.partitioner": "hostile-" + behaviour, "weir.plugin.on-error": policy}))
    for behaviour in PROBES:
        topics.append(NewTopic("probe-" + behaviour, 3, 1, config={"weir.partitioner": "hostile-" + behaviour}))
    for f in admin.create_topics(topics).values():
        f.result()
    yield broker
    broker.stop()


def produce_one(broker, topic, partition=0):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "retries": 0, "linger.ms": 0})
    result = []
    producer.produce(topic, key=b"k", value=b"v", partition=partition, on_delivery=lambda e, m: result.append(e))
    producer.flush(30)
    return result[0]


def partitions_holding(broker, topic, partitions=3):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "probe", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    found = []
    deadline = time.time() + 5
    while time.time() < deadline and not found:
        found = [m.partition() for m in consumer.consume(10, 0.2) if not m.error()]
    consumer.close()
    return found


@pytest.mark.parametrize("behaviour", FAILURES)
def test_a_failing_plugin_costs_only_its_batch(sandbox, behaviour):
    started = time.monotonic()
    error = produce_one(sandbox, "%s-reject" % behaviour)
    assert error is not None and error.name() == "POLICY_VIOLATION", error
    # The CPU deadline (50 ms) and the memory cap end a runaway call fast.
    assert time.monotonic() - started < 5
    assert partitions_holding(sandbox, "%s-reject" % behaviour) == []
    assert produce_one(sandbox, "%s-skip" % behaviour, partition=1) is None
    assert partitions_holding(sandbox, "%s-skip" % behaviour) == [1]
    # Every other topic is still served.
    assert produce_one(sandbox, "healthy") is None
    log = sandbox.output()
    assert "hostile-%s" % behaviour in log


def test_failures_are_described_in_the_log(sandbox):
    for behaviour in ("loop", "trap"):
        produce_one(sandbox, "%s-reject" % behaviour)
    log = sandbox.output()
    assert "ran past its 50 ms deadline" in log
    assert "trapped" in log
    assert "panicked" not in log, "the broker itself must never panic"


@pytest.mark.parametrize("behaviour", PROBES)
def test_plugins_cannot_reach_files_environment_or_sockets(sandbox, behaviour):
    # The plugin answers partition 2 when its attempt was blocked, 1 if it worked.
    assert produce_one(sandbox, "probe-" + behaviour) is None
    assert partitions_holding(sandbox, "probe-" + behaviour) == [2]
