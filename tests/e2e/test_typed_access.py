"""Typed access (`host.field`, `host.encode`): the standard json-field
partitioner, redact produce interceptor and filter fetch interceptor read
fields of Avro, Protobuf and JSON Schema records through the topic's
serializer plugin, so one path (`customer.id`) means the same field in
every format. Records are written and read by confluent-kafka's own
schema-registry serializers."""

import json

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from test_interceptors import plugin
from test_plugins import PARTITIONS, java_partition

AVRO = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [{"name": "id", "type": "string"}]}},
    {"name": "ssn", "type": "string"},
]})
JSON_SCHEMA = json.dumps({"title": "Order", "type": "object", "properties": {
    "id": {"type": "integer"},
    "customer": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    "ssn": {"type": "string"},
}, "required": ["id", "customer", "ssn"]})


def order_class():
    """shop.Order { int64 id; Customer customer; string ssn; }, built at run
    time (no protoc here), as a generated _pb2 module would hold it."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="shop/typed.proto", package="shop", syntax="proto3")
    customer = file.message_type.add(name="Customer")
    customer.field.add(name="id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    order = file.message_type.add(name="Order")
    order.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    order.field.add(name="customer", number=2, type=F.TYPE_MESSAGE, type_name=".shop.Customer",
                    label=F.LABEL_OPTIONAL)
    order.field.add(name="ssn", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


class Formats:
    """Serializers and deserializers of the three formats for one registry."""

    def __init__(self, registry):
        from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
        self.Order = order_class()
        proto = {"use.deprecated.format": False}
        self.to = {
            "avro": AvroSerializer(registry, AVRO),
            "json-schema": JSONSerializer(JSON_SCHEMA, registry),
            "protobuf": ProtobufSerializer(self.Order, registry, proto),
        }
        self.back = {
            "avro": AvroDeserializer(registry),
            "json-schema": JSONDeserializer(JSON_SCHEMA),
            "protobuf": ProtobufDeserializer(self.Order, proto),
        }

    def encode(self, fmt, topic, order):
        ctx = SerializationContext(topic, MessageField.VALUE)
        if fmt == "protobuf":
            order = self.Order(id=order["id"], customer={"id": order["customer"]["id"]}, ssn=order["ssn"])
        return self.to[fmt](order, ctx)

    def decode(self, fmt, topic, value):
        decoded = self.back[fmt](value, SerializationContext(topic, MessageField.VALUE))
        if fmt == "protobuf":
            return {"id": decoded.id, "customer": {"id": decoded.customer.id}, "ssn": decoded.ssn}
        return decoded


@pytest.fixture
def tbroker(make_broker):
    return make_broker(plugins=[
        plugin("avro", "avro.wasm", kind="serializer"),
        plugin("json-schema", "json_schema.wasm", kind="serializer"),
        plugin("protobuf", "protobuf.wasm", kind="serializer"),
        plugin("by-customer", "json_field.wasm", kind="partitioner", field="customer.id"),
        plugin("redact", "redact.wasm", fields="ssn"),
        plugin("only-c3", "filter.wasm", kind="fetch-interceptor", field="customer.id", equals="c3"),
    ])


def create(broker, topic, partitions=PARTITIONS, **config):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1, config=config)])[topic].result(timeout=30)


def produce(broker, topic, values):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20})
    errors = []
    for value in values:
        producer.produce(topic, value=value, on_delivery=lambda e, m: errors.append(e))
    producer.flush(30)
    return errors


def read(broker, topic, expected):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "typed", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen = []
    for _ in range(100):
        seen += [m for m in consumer.consume(500, 0.1) if not m.error()]
        if len(seen) >= expected:
            break
    consumer.close()
    return seen


def orders(count):
    return [{"id": i, "customer": {"id": "c%d" % (i % 13)}, "ssn": "123-45-%04d" % i} for i in range(count)]


FORMATS = ["avro", "json-schema", "protobuf"]


def test_json_field_places_avro_protobuf_and_json_records_alike(tbroker):
    formats = Formats(SchemaRegistryClient({"url": tbroker.registry_url}))
    placed = {}
    for fmt in FORMATS:
        topic = "by-customer-" + fmt
        create(tbroker, topic, **{"weir.value.serializer": fmt, "weir.partitioner": "by-customer"})
        assert produce(tbroker, topic, [formats.encode(fmt, topic, o) for o in orders(130)]) == [None] * 130
        seen = read(tbroker, topic, 130)
        assert len(seen) == 130
        placed[fmt] = sorted((formats.decode(fmt, topic, m.value())["id"], m.partition()) for m in seen)
        for order_id, partition in placed[fmt]:
            assert partition == java_partition(b"c%d" % (order_id % 13)), (fmt, order_id)
    assert placed["avro"] == placed["protobuf"] == placed["json-schema"]
    assert len({p for _, p in placed["avro"]}) > 1


def test_redact_masks_a_field_of_each_format(tbroker):
    formats = Formats(SchemaRegistryClient({"url": tbroker.registry_url}))
    for fmt in FORMATS:
        topic = "redacted-" + fmt
        create(tbroker, topic, **{"weir.value.serializer": fmt, "weir.interceptors.produce": "redact"})
        sent = orders(20)
        assert produce(tbroker, topic, [formats.encode(fmt, topic, o) for o in sent]) == [None] * 20
        got = sorted((formats.decode(fmt, topic, m.value()) for m in read(tbroker, topic, 20)), key=lambda o: o["id"])
        assert got == [dict(o, ssn="***") for o in sent], fmt


def test_redact_refuses_a_record_whose_field_cannot_hold_the_mask(tbroker):
    registry = SchemaRegistryClient({"url": tbroker.registry_url})
    numeric = json.dumps({"type": "record", "name": "Person", "fields": [
        {"name": "name", "type": "string"}, {"name": "ssn", "type": "long"}]})
    topic = "numeric-ssn"
    create(tbroker, topic, **{"weir.value.serializer": "avro", "weir.interceptors.produce": "redact"})
    to_avro = AvroSerializer(registry, numeric)
    value = to_avro({"name": "ann", "ssn": 123456789}, SerializationContext(topic, MessageField.VALUE))
    errors = produce(tbroker, topic, [value])
    assert [e and e.name() for e in errors] == ["POLICY_VIOLATION"], errors
    assert "cannot be masked" in tbroker.output()


def test_filter_reads_a_protobuf_field_on_fetch(tbroker):
    formats = Formats(SchemaRegistryClient({"url": tbroker.registry_url}))
    topic = "only-c3-protobuf"
    create(tbroker, topic, **{"weir.value.serializer": "protobuf", "weir.interceptors.fetch": "only-c3"})
    assert produce(tbroker, topic, [formats.encode("protobuf", topic, o) for o in orders(65)]) == [None] * 65
    seen = read(tbroker, topic, 5)
    got = sorted(formats.decode("protobuf", topic, m.value())["id"] for m in seen)
    assert got == [i for i in range(65) if i % 13 == 3]
