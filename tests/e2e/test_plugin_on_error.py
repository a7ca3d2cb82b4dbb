"""Hostile interceptors and the on-error policies, with real clients.

The fixtures plugins/hostile-interceptor (produce) and plugins/hostile-fetch
misbehave as configured: an infinite loop, a trap, an answer past
max-output-bytes, an invalid rewrite. For each, a produce is refused with
POLICY_VIOLATION naming the plugin (reject), appended as sent (skip), or
diverted whole to the dead-letter topic with headers saying why
(dead-letter); a consumer reading through a failing fetch interceptor gets
POLICY_VIOLATION, not records; every other topic keeps being served, and
each outcome is counted in the plugin's metrics."""

import json
import pathlib
import re
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = pathlib.Path(__file__).resolve().parents[2]
WASM = ROOT / "target" / "wasm32-wasip2" / "release"
PRODUCE_FAILURES = ["loop", "trap", "oversized", "unordered"]
FETCH_FAILURES = ["loop", "trap", "oversized"]
POLICIES = ["reject", "skip", "dead-letter"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    from conftest import Broker

    for name in ("hostile.wasm", "hostile_interceptor.wasm", "hostile_fetch.wasm"):
        assert (WASM / name).exists(), "build the plugins first (tests/run.sh does): %s" % name
    broker = Broker(tmp_path_factory.mktemp("on-error"))
    limits = {"timeout-ms": 50, "memory-mb": 32, "max-output-bytes": 65536}
    broker.plugins = [
        dict(name="trap", path=str(WASM / "hostile.wasm"), kind="partitioner",
             config={"behaviour": "trap"}, **limits)
    ]
    for b in PRODUCE_FAILURES:
        broker.plugins.append(dict(name="produce-" + b, path=str(WASM / "hostile_interceptor.wasm"),
                                   kind="produce-interceptor", config={"behaviour": b}, **limits))
    for b in FETCH_FAILURES:
        broker.plugins.append(dict(name="fetch-" + b, path=str(WASM / "hostile_fetch.wasm"),
                                   kind="fetch-interceptor", config={"behaviour": b}, **limits))
    broker.start()
    topics = [NewTopic("healthy", 1, 1)]
    for b in PRODUCE_FAILURES:
        for policy in POLICIES:
            topics.append(NewTopic("%s-%s" % (b, policy), 2, 1, config={
                "weir.interceptors.produce": "produce-" + b, "weir.plugin.on-error": policy}))
        topics.append(NewTopic("%s-dead-letter.dead-letter" % b, 1, 1))
    for b in FETCH_FAILURES:
        topics.append(NewTopic("read-" + b, 1, 1, config={"weir.interceptors.fetch": "fetch-" + b}))
    topics.append(NewTopic("routed", 3, 1, config={
        "weir.partitioner": "trap", "weir.plugin.on-error": "dead-letter",
        "weir.plugin.dead-letter.topic": "graveyard"}))
    topics.append(NewTopic("graveyard", 2, 1))
    topics.append(NewTopic("nowhere", 1, 1, config={
        "weir.interceptors.produce": "produce-trap", "weir.plugin.on-error": "dead-letter"}))
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for f in admin.create_topics(topics).values():
        f.result()
    yield broker
    broker.stop()


def produce(broker, topic, values, partition=0, **config):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 10000, **config})
    errors = []
    for v in values:
        producer.produce(topic, key=b"k", value=v, partition=partition,
                         on_delivery=lambda e, m: errors.append(e))
    producer.flush(30)
    return errors


def read(broker, topic, partitions=1, expect=None, seconds=5):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "reader",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    records, errors = [], []
    deadline = time.time() + seconds
    while time.time() < deadline and (expect is None or len(records) < expect):
        for m in consumer.consume(100, 0.2):
            (errors if m.error() else records).append(m)
        if errors:
            break
    consumer.close()
    return records, errors


def metrics(broker, plugin):
    with urllib.request.urlopen(broker.admin_url + "/v1/plugins/" + plugin, timeout=10) as r:
        return json.load(r)["metrics"]


@pytest.mark.parametrize("behaviour", PRODUCE_FAILURES)
def test_a_failing_produce_interceptor_follows_its_policy(broker, behaviour):
    values = [b'{"n": 1}', b'{"n": 2}']
    started = time.monotonic()
    errors = produce(broker, "%s-reject" % behaviour, values, retries=0)
    assert [e and e.name() for e in errors] == ["POLICY_VIOLATION"] * 2
    assert time.monotonic() - started < 10, "the deadline ends a runaway call"
    assert read(broker, "%s-reject" % behaviour, 2, seconds=2)[0] == []

    assert produce(broker, "%s-skip" % behaviour, values) == [None, None]
    records, _ = read(broker, "%s-skip" % behaviour, 2, expect=2)
    assert [m.value() for m in records] == values, "appended as sent"

    assert produce(broker, "%s-dead-letter" % behaviour, values, partition=1) == [None, None]
    assert read(broker, "%s-dead-letter" % behaviour, 2, seconds=2)[0] == []
    dead, _ = read(broker, "%s-dead-letter.dead-letter" % behaviour, seconds=3)
    # The producer may send the two records as one batch or two, and may
    # resend one: each batch a plugin fails on is one dead letter, kept whole.
    values_read = [m.value() for m in dead]
    assert values_read[:2] == values or values_read[:1] == values[:1], values_read
    assert set(values_read) == set(values), values_read
    headers = dict(dead[0].headers())
    assert headers["weir.dead-letter.topic"] == b"%s-dead-letter" % behaviour.encode()
    assert headers["weir.dead-letter.partition"] == b"1"
    assert headers["weir.dead-letter.plugin"] == b"produce-" + behaviour.encode()
    assert headers["weir.dead-letter.error"], "says why"

    counted = metrics(broker, "produce-" + behaviour)
    # The broker logs each dead letter with its record count: the metric,
    # the log and the dead-letter topic agree.
    logged = [int(n) for n in re.findall(
        r"records sent to the dead-letter topic plugin=produce-%s .*?records=(\d+)" % behaviour,
        broker.output())]
    assert counted["failures"] >= 3 and counted["dead_letters"] == len(logged), (counted, logged)
    assert sum(logged) == len(dead), (logged, values_read)
    assert produce(broker, "healthy", [b"still here"]) == [None]


def test_oversized_and_invalid_answers_are_named(broker):
    produce(broker, "oversized-reject", [b"x"], retries=0)
    produce(broker, "unordered-reject", [b"x", b"y"], retries=0)
    log = broker.output()
    assert "over its max-output-bytes of 65536" in log
    assert "do not line up" in log
    assert "panicked" not in log


def test_dead_letters_from_a_partitioner_keep_idempotent_retries_deduplicated(broker):
    values = [b"a", b"b", b"c"]
    assert produce(broker, "routed", values, partition=2, **{"enable.idempotence": True}) == [None] * 3
    dead, _ = read(broker, "graveyard", partitions=2, expect=3)
    assert sorted(m.value() for m in dead) == values
    assert {m.partition() for m in dead} == {0}, "partition 2 modulo graveyard's 2 partitions"
    assert dict(dead[0].headers())["weir.dead-letter.plugin"] == b"trap"
    # The producer's sequence moved on: its next batch is accepted, not
    # refused as out of order.
    assert produce(broker, "routed", [b"d"], partition=2, **{"enable.idempotence": True}) == [None]
    assert read(broker, "routed", 3, seconds=2)[0] == []


def test_a_missing_dead_letter_topic_fails_the_request(broker):
    errors = produce(broker, "nowhere", [b"x"], retries=0)
    assert [e and e.name() for e in errors] == ["POLICY_VIOLATION"]
    assert "dead-letter topic nowhere.dead-letter" in broker.output()
    assert read(broker, "nowhere", seconds=2)[0] == []


@pytest.mark.parametrize("behaviour", FETCH_FAILURES)
def test_a_failing_fetch_interceptor_fails_the_read_not_the_broker(broker, behaviour):
    assert produce(broker, "read-" + behaviour, [b"one", b"two"]) == [None, None]
    records, errors = read(broker, "read-" + behaviour, seconds=10)
    assert records == []
    assert errors and errors[0].error().code() == KafkaError.POLICY_VIOLATION, errors
    assert metrics(broker, "fetch-" + behaviour)["failures"] >= 1
    assert produce(broker, "healthy", [b"served"]) == [None]
    assert read(broker, "healthy", expect=1)[0], "other topics are still read"
