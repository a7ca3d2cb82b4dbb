"""Format views: `orders~json` reads the Avro (or Protobuf) topic `orders`
with every value converted to JSON by the topic's serializer plugin,
offsets unchanged, through confluent-kafka (assign and a subscribed group
committing offsets) and kcat; a view is read-only and follows its topic's
partitions."""

import json
import subprocess

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from test_interceptors import plugin
import test_typed_access as typed_access
from test_typed_access import AVRO, Formats, orders

PARTITIONS = 3


@pytest.fixture
def vbroker(make_broker):
    return make_broker(plugins=[
        plugin("avro", "avro.wasm", kind="serializer"),
        plugin("protobuf", "protobuf.wasm", kind="serializer"),
    ])


def create(broker, topic, **config):
    typed_access.create(broker, topic, PARTITIONS, **config)


def produce(broker, topic, values):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    errors = []
    for i, value in enumerate(values):
        producer.produce(topic, key=b"k%d" % i, value=value, headers=[("n", b"%d" % i)],
                         on_delivery=lambda e, m: errors.append(e))
    producer.flush(30)
    return errors


def read(broker, topic, expected, **config):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "views",
                         "enable.auto.commit": False, **config})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen = []
    for _ in range(100):
        seen += [m for m in consumer.consume(500, 0.1) if not m.error()]
        if len(seen) >= expected:
            break
    consumer.close()
    return {(m.partition(), m.offset()): m for m in seen}


def test_a_json_view_of_an_avro_topic(vbroker):
    formats = Formats(SchemaRegistryClient({"url": vbroker.registry_url}))
    create(vbroker, "orders", **{"weir.value.serializer": "avro"})
    sent = orders(60)
    assert produce(vbroker, "orders", [formats.encode("avro", "orders", o) for o in sent]) == [None] * 60

    stored = read(vbroker, "orders", 60)
    viewed = read(vbroker, "orders~json", 60)
    assert len(stored) == len(viewed) == 60
    assert stored.keys() == viewed.keys(), "the same offsets in the same partitions"
    for place, m in viewed.items():
        original = stored[place]
        assert m.topic() == "orders~json"
        assert json.loads(m.value()) == formats.decode("avro", "orders", original.value())
        assert (m.key(), m.headers(), m.timestamp()) == (original.key(), original.headers(), original.timestamp())
    assert sorted(json.loads(m.value())["id"] for m in viewed.values()) == list(range(60))


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_group_subscribes_to_a_view_and_commits_its_own_offsets(vbroker, protocol):
    formats = Formats(SchemaRegistryClient({"url": vbroker.registry_url}))
    create(vbroker, "payments", **{"weir.value.serializer": "protobuf"})
    sent = orders(30)
    assert produce(vbroker, "payments", [formats.encode("protobuf", "payments", o) for o in sent]) == [None] * 30
    # The classic protocol (the client assigns) and KIP-848's (the broker
    # assigns the view's partitions).
    consumer = Consumer({"bootstrap.servers": vbroker.bootstrap, "group.id": "json-readers",
                         "group.protocol": protocol,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["payments~json"])
    got = []
    for _ in range(100):
        got += [m for m in consumer.consume(100, 0.2) if not m.error()]
        if len(got) >= 30:
            break
    consumer.commit(asynchronous=False)
    committed = consumer.committed([TopicPartition("payments~json", p) for p in range(PARTITIONS)], timeout=10)
    consumer.close()
    # Protobuf's JSON mapping: int64 as a string, and default values (id 0)
    # left out, as the spec says.
    assert sorted(json.loads(m.value()).get("id", "0") for m in got) == sorted(str(i) for i in range(30))
    ends = {p: max(m.offset() for m in got if m.partition() == p) + 1 for p in {m.partition() for m in got}}
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == ends


def test_kcat_reads_a_view_and_producing_to_one_is_refused(vbroker):
    registry = SchemaRegistryClient({"url": vbroker.registry_url})
    create(vbroker, "readings", **{"weir.value.serializer": "avro"})
    to_avro = AvroSerializer(registry, AVRO)
    values = [to_avro(o, SerializationContext("readings", MessageField.VALUE)) for o in orders(10)]
    assert produce(vbroker, "readings", values) == [None] * 10
    out = subprocess.run(["kcat", "-b", vbroker.bootstrap, "-C", "-t", "readings~json", "-e", "-q",
                          "-o", "beginning", "-f", "%o %s\n"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [line.split(" ", 1) for line in out.stdout.splitlines() if line]
    assert sorted(json.loads(v)["customer"]["id"] for _, v in lines) == sorted(o["customer"]["id"] for o in orders(10))

    producer = Producer({"bootstrap.servers": vbroker.bootstrap})
    errors = []
    producer.produce("readings~json", value=b"{}", partition=0, on_delivery=lambda e, m: errors.append(e))
    producer.flush(30)
    assert [e and e.code() for e in errors] == [KafkaError.TOPIC_EXCEPTION], errors
    assert read(vbroker, "readings", 10).keys() == read(vbroker, "readings~json", 10).keys()
    assert len(read(vbroker, "readings", 11)) == 10, "nothing was written through the view"


def test_views_of_topics_without_a_serializer_drop_the_framing(vbroker):
    create(vbroker, "plain")
    framed = b"\x00\x00\x00\x00\x07" + b'{"a": 1}'
    assert produce(vbroker, "plain", [framed, b'{"b": 2}', b"not json"]) == [None] * 3
    viewed = sorted(m.value() for m in read(vbroker, "plain~json", 3).values())
    assert viewed == sorted([b'{"a": 1}', b'{"b": 2}', b"not json"])
    # A view of a topic that does not exist does not exist.
    consumer = Consumer({"bootstrap.servers": vbroker.bootstrap, "group.id": "none"})
    topics = consumer.list_topics("missing~json", timeout=10).topics
    consumer.close()
    assert topics["missing~json"].error is not None
