"""Fetch interceptors with real consumers: the `filter` standard plugin
(built from source by tests/run.sh) shows each consumer only the matching
records, at their stored offsets; batches whose records are all filtered
out are still passed, so librdkafka, kafka-python and kafkajs all move past
them and reach what comes after. An unbound topic with the same records
reads them all (the plain path), and what is stored never changes."""

import json
import pathlib
import subprocess

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka import KafkaConsumer

from test_interceptors import plugin

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def fbroker(make_broker):
    return make_broker(plugins=[
        plugin("acme-only", "filter.wasm", kind="fetch-interceptor", header="tenant", equals="acme"),
        plugin("eu-only", "filter.wasm", kind="fetch-interceptor", field="order.region", equals="eu"),
    ])


def create(broker, name, **config):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result()


def produce_tenants(broker, topic, codec):
    """Four batches: 50 records of other tenants, 10 alternating, 30 of
    others, then one acme record. Returns the offsets of the acme records."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec, "linger.ms": 50})
    offsets, n = [], 0
    for tenants in (["other"] * 50, ["acme", "other"] * 5, ["other"] * 30, ["acme"]):
        for tenant in tenants:
            if tenant == "acme":
                offsets.append(n)
            producer.produce(topic, value=b"r%d" % n, headers={"tenant": tenant})
            n += 1
        producer.flush(10)
    return offsets


def confluent_read(broker, topic, expected):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "c-" + topic,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    out = []
    for _ in range(200):
        out += [m for m in consumer.consume(100, 0.1) if not m.error()]
        if len(out) >= expected:
            break
    position = consumer.position([TopicPartition(topic, 0)])[0].offset
    consumer.close()
    return [(m.offset(), m.value().decode()) for m in out], position


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_librdkafka_sees_only_matching_records_at_their_offsets(fbroker, codec):
    topic = "tenants-" + codec
    create(fbroker, topic, **{"weir.interceptors.fetch": "acme-only"})
    create(fbroker, topic + "-plain")
    acme = produce_tenants(fbroker, topic, codec)
    produce_tenants(fbroker, topic + "-plain", codec)
    got, position = confluent_read(fbroker, topic, len(acme))
    assert got == [(o, "r%d" % o) for o in acme]
    # The consumer moved past the all-filtered batches to the end of the log.
    assert position == 91
    everything, _ = confluent_read(fbroker, topic + "-plain", 91)
    assert [o for o, _ in everything] == list(range(91))
    metrics = subprocess.run(["curl", "-s", fbroker.admin_url + "/metrics"], capture_output=True, text=True).stdout
    assert 'weir_plugin_calls_total{plugin="acme-only"}' in metrics


def test_kafka_python_sees_only_matching_records(fbroker):
    topic = "tenants-kp"
    create(fbroker, topic, **{"weir.interceptors.fetch": "acme-only"})
    acme = produce_tenants(fbroker, topic, "gzip")
    consumer = KafkaConsumer(topic, bootstrap_servers=fbroker.bootstrap, group_id="kp",
                             auto_offset_reset="earliest", consumer_timeout_ms=10000)
    got = []
    for message in consumer:
        got.append((message.offset, message.value.decode()))
        if len(got) == len(acme):
            break
    consumer.commit()
    committed = consumer.committed(__import__("kafka").TopicPartition(topic, 0))
    consumer.close()
    assert got == [(o, "r%d" % o) for o in acme]
    assert committed == 91


def test_kafkajs_sees_only_matching_records(fbroker):
    topic = "tenants-js"
    create(fbroker, topic, **{"weir.interceptors.fetch": "acme-only"})
    acme = produce_tenants(fbroker, topic, "gzip")
    out = subprocess.run(["node", str(ROOT / "tests" / "js" / "consume.js"), fbroker.bootstrap, topic, "js", str(len(acme))],
                         capture_output=True, text=True, timeout=60).stdout
    assert json.loads(out) == [[o, "r%d" % o] for o in acme]


def test_a_json_field_filter_and_unbinding_at_run_time(fbroker):
    topic = "orders"
    create(fbroker, topic, **{"weir.interceptors.fetch": "eu-only"})
    producer = Producer({"bootstrap.servers": fbroker.bootstrap, "compression.type": "lz4", "enable.idempotence": True})
    regions = ["eu", "us", "apac", "eu", "us"] * 20
    for i, region in enumerate(regions):
        producer.produce(topic, value=json.dumps({"n": i, "order": {"region": region}}).encode())
    producer.flush(10)
    eu = [i for i, r in enumerate(regions) if r == "eu"]
    got, _ = confluent_read(fbroker, topic, len(eu))
    assert [o for o, _ in got] == eu
    # Unbinding through the Kafka admin API: the stored records were never changed.
    admin = AdminClient({"bootstrap.servers": fbroker.bootstrap})
    resource = ConfigResource("topic", topic, set_config={"weir.interceptors.fetch": ""})
    admin.alter_configs([resource])[resource].result()
    got, _ = confluent_read(fbroker, topic, len(regions))
    assert [o for o, _ in got] == list(range(len(regions)))


def test_a_read_cut_part_way_through_a_batch_is_still_filtered(fbroker):
    # 1 MiB batches and a 1 MiB fetch limit per partition: each read ends
    # part way through a batch, which the consumer fetches again next time.
    create(fbroker, "big", **{"weir.interceptors.fetch": "eu-only"})
    producer = Producer({"bootstrap.servers": fbroker.bootstrap, "linger.ms": 100, "batch.size": 1000000})
    pad = "x" * 1000
    for i in range(3000):
        region = "eu" if i % 2 == 0 else "us"
        producer.produce("big", value=json.dumps({"order": {"region": region}, "n": i, "pad": pad}).encode())
    producer.flush(30)
    got, position = confluent_read(fbroker, "big", 1500)
    assert [offset for offset, _ in got] == list(range(0, 3000, 2))
    assert position >= 2999  # past the last record it was given
