"""The crc32, round-robin and json-field standard partitioners in route
mode, with confluent-kafka producers choosing partitions their own way:
every record ends where the plugin's documented rule puts it (computed
independently here)."""

import json
import zlib
from collections import Counter

import pytest
from confluent_kafka import Producer

from test_interceptors import plugin
from test_plugins import PARTITIONS, create, java_partition, read_all


@pytest.fixture
def pbroker(make_broker):
    return make_broker(plugins=[
        plugin("crc32", "crc32.wasm", kind="partitioner"),
        plugin("round-robin", "round_robin.wasm", kind="partitioner"),
        plugin("by-customer", "json_field.wasm", kind="partitioner", field="customer.id"),
    ])


def produce(broker, topic, records, **config):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20, **config})
    failures = []
    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=lambda err, _: err and failures.append(err))
    assert producer.flush(30) == 0
    assert failures == []


def test_crc32_agrees_with_librdkafkas_consistent_partitioner(pbroker):
    create(pbroker, "by-crc", **{"weir.partitioner": "crc32"})
    records = [(b"user-%d" % i, b"v") for i in range(1000)] + [(None, b"keyless")]
    # The producer places keys with murmur2: the broker moves them.
    produce(pbroker, "by-crc", records, partitioner="murmur2_random")
    seen = read_all(pbroker, "by-crc", len(records))
    assert len(seen) == len(records)
    assert all(p == zlib.crc32(k or b"") % PARTITIONS for k, _, p in seen)


def test_round_robin_spreads_each_batch(pbroker):
    create(pbroker, "spread", **{"weir.partitioner": "round-robin"})
    records = [(b"same-key", b"v%d" % i) for i in range(1200)]
    produce(pbroker, "spread", records, **{"linger.ms": 100, "batch.num.messages": 120})
    seen = read_all(pbroker, "spread", len(records))
    counts = Counter(p for _, _, p in seen)
    assert len(seen) == 1200 and set(counts) == set(range(PARTITIONS))
    assert min(counts.values()) >= 150, counts


def test_json_field_places_by_a_field_of_the_value(pbroker):
    create(pbroker, "orders-by-customer", **{"weir.partitioner": "by-customer"})
    records = [(None, json.dumps({"customer": {"id": "c%d" % (i % 37)}, "n": i}).encode()) for i in range(740)]
    records.append((None, b"not json"))
    produce(pbroker, "orders-by-customer", records)
    seen = read_all(pbroker, "orders-by-customer", len(records))
    assert len(seen) == len(records)
    for _, value, p in seen:
        if value != b"not json":
            assert p == java_partition(json.loads(value)["customer"]["id"].encode())
