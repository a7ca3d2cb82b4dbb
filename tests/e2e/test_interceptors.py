"""Produce interceptors with real clients: the `redact`, `header-stamp` and
`json-validate` standard plugins (built from source by tests/run.sh), alone,
chained, and before a partitioner; compressed batches keep their codec;
records dropped from an idempotent producer's batches leave offset gaps and
nothing is duplicated."""

import json
import pathlib

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from test_confluent import stored_codecs
from test_plugins import java_partition

ROOT = pathlib.Path(__file__).resolve().parents[2]
WASM = ROOT / "target" / "wasm32-wasip2" / "release"


def plugin(name, wasm, kind="produce-interceptor", **config):
    assert (WASM / wasm).exists(), "build the plugins first (tests/run.sh does): %s" % wasm
    return {"name": name, "path": str(WASM / wasm), "kind": kind, "config": config}


@pytest.fixture
def ibroker(make_broker):
    return make_broker(plugins=[
        plugin("redact", "redact.wasm", fields="ssn,email"),
        plugin("stamp", "header_stamp.wasm", headers="source=weir,region=eu"),
        plugin("json-only", "json_validate.wasm"),
        plugin("json-or-drop", "json_validate.wasm", invalid="drop"),
        plugin("murmur2", "murmur2.wasm", kind="partitioner"),
    ])


def create(broker, name, partitions=1, **config):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1, config=config)])[name].result()


def read(broker, topic, expected, partitions=1):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "r", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = []
    for _ in range(100):
        out += [m for m in consumer.consume(1000, 0.1) if not m.error()]
        if len(out) >= expected:
            break
    consumer.close()
    return out


def person(i):
    return json.dumps({"id": i, "ssn": "123-45-%04d" % i, "contact": {"email": "p%d@x.io" % i}}).encode()


@pytest.mark.parametrize("codec", ["none", "lz4", "zstd"])
def test_redact_masks_fields_and_keeps_the_codec(ibroker, codec):
    topic = "people-" + codec
    create(ibroker, topic, **{"weir.interceptors.produce": "redact"})
    # One batch: librdkafka sends a batch uncompressed when compressing
    # would not shrink it, as it does for a lone small record; a short
    # linger on a loaded machine left the last record alone (codec 0).
    # flush() sends at once, whatever the linger.
    producer = Producer({"bootstrap.servers": ibroker.bootstrap, "compression.type": codec, "linger.ms": 10000})
    for i in range(200):
        producer.produce(topic, key=b"k%d" % i, value=person(i), headers=[("trace", b"t%d" % i)])
    producer.produce(topic, key=b"raw", value=b"not json, untouched")
    assert producer.flush(30) == 0
    records = read(ibroker, topic, 201)
    assert [m.offset() for m in records] == list(range(201))
    for i, m in enumerate(records[:200]):
        value = json.loads(m.value())
        assert value == {"id": i, "ssn": "***", "contact": {"email": "***"}}
        assert m.key() == b"k%d" % i and m.headers() == [("trace", b"t%d" % i)]
    assert records[200].value() == b"not json, untouched"
    expected = {"none": 0, "lz4": 3, "zstd": 4}[codec]
    assert set(stored_codecs(ibroker, topic + "-0")) == {expected}


def test_chained_interceptors_then_a_partitioner(ibroker):
    create(ibroker, "chained", partitions=6, **{
        "weir.interceptors.produce": "redact,stamp", "weir.partitioner": "murmur2"})
    producer = Producer({"bootstrap.servers": ibroker.bootstrap, "linger.ms": 10})
    for i in range(300):
        producer.produce("chained", key=b"customer-%d" % i, value=person(i))
    assert producer.flush(30) == 0
    records = read(ibroker, "chained", 300, partitions=6)
    assert len(records) == 300
    for m in records:
        assert json.loads(m.value())["ssn"] == "***"
        assert m.headers() == [("source", b"weir"), ("region", b"eu")]
        assert m.partition() == java_partition(m.key())


def test_json_validate_rejects_a_batch_with_a_bad_value(ibroker):
    create(ibroker, "strict-json", **{"weir.interceptors.produce": "json-only"})
    # A long linger keeps both records in one batch however slow the machine is;
    # flush() sends at once without waiting the linger out.
    producer = Producer({"bootstrap.servers": ibroker.bootstrap, "retries": 0, "linger.ms": 10000})
    results = []
    for value in [b'{"ok": 1}', b"oops", b"{"]:
        producer.produce("strict-json", partition=0, value=value, on_delivery=lambda e, m: results.append(e))
    producer.flush(30)
    # One batch, refused whole; the plugin named the bad records (KIP-467
    # record errors), so librdkafka fails them as invalid and the good one
    # as refused for another's sake.
    assert [e.name() for e in results] == ["_INVALID_DIFFERENT_RECORD", "INVALID_RECORD", "INVALID_RECORD"], results
    # With one bad record in a batch librdkafka reports the batch's error
    # (POLICY_VIOLATION) for all.
    results.clear()
    producer.produce("strict-json", partition=0, value=b"oops", on_delivery=lambda e, m: results.append(e))
    producer.flush(30)
    assert [e.name() for e in results] == ["POLICY_VIOLATION"], results
    producer.produce("strict-json", value=b'{"ok": 2}')
    producer.flush(30)
    assert [m.value() for m in read(ibroker, "strict-json", 1)] == [b'{"ok": 2}']


def test_dropped_records_from_an_idempotent_producer_leave_gaps_not_duplicates(ibroker):
    from kafka import KafkaProducer

    create(ibroker, "lenient-json", **{"weir.interceptors.produce": "json-or-drop"})
    producer = KafkaProducer(bootstrap_servers=ibroker.bootstrap, linger_ms=20, compression_type="gzip")
    futures = []
    for i in range(300):
        value = b"broken %d" % i if i % 3 == 0 else json.dumps({"n": i}).encode()
        futures.append(producer.send("lenient-json", value=value))
    producer.flush()
    offsets = [f.get(timeout=30).offset for f in futures]
    producer.close()
    assert sorted(offsets) == list(range(300)), "every record got its offset"
    records = read(ibroker, "lenient-json", 200)
    assert len(records) == 200
    assert [json.loads(m.value())["n"] for m in records] == [i for i in range(300) if i % 3]
    # Each kept record is at the offset its producer was told.
    assert [m.offset() for m in records] == [o for i, o in enumerate(offsets) if i % 3]


def test_kafkajs_idempotent_producer_through_redact_and_drop(ibroker):
    import subprocess

    from groups import JS

    create(ibroker, "js-chain", **{"weir.interceptors.produce": "json-or-drop,redact"})
    values = [person(i).decode() if i % 2 else "not json %d" % i for i in range(50)]
    done = subprocess.run(["node", str(JS / "produce.js"), ibroker.bootstrap, "js-chain", json.dumps(values), "gzip"],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0], done.stdout + done.stderr
    records = read(ibroker, "js-chain", 25)
    assert [m.offset() for m in records] == list(range(1, 50, 2)), "dropped records leave gaps"
    assert all(json.loads(m.value())["ssn"] == "***" for m in records)
