"""The built-in schema registry, driven by confluent-kafka's own
SchemaRegistryClient and its Avro, Protobuf and JSON Schema serializers, as
a Kafka user would point them at Confluent's registry: register, evolve
under each compatibility level, refuse an incompatible schema, delete soft
and hard, read by id, and produce/consume framed records through the
broker. The state lives in the compacted `_schemas` topic and survives a
restart."""

import json

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def avro(*fields, name="Order"):
    return json.dumps({"type": "record", "name": name, "namespace": "shop", "fields": list(fields)})


ID = {"name": "id", "type": "long"}


def refused(call, code):
    with pytest.raises(SchemaRegistryError) as error:
        call()
    assert error.value.error_code == code, (error.value.error_code, error.value.error_message)
    return error.value.error_message


@pytest.fixture
def registry(broker):
    return SchemaRegistryClient({"url": broker.registry_url})


def test_register_evolve_and_refuse_under_each_level(broker, registry):
    v1 = Schema(avro(ID), "AVRO")
    first = registry.register_schema("orders-value", v1)
    assert registry.register_schema("orders-value", v1) == first, "the same schema keeps its id"
    # The same schema under another subject shares the id.
    assert registry.register_schema("refunds-value", v1) == first
    assert registry.get_schema(first).schema_str == v1.schema_str, "kept as registered"

    # BACKWARD (the default): a new field needs a default.
    without_default = Schema(avro(ID, {"name": "note", "type": "string"}), "AVRO")
    message = refused(lambda: registry.register_schema("orders-value", without_default), 409)
    assert "incompatible" in message, message
    assert not registry.test_compatibility("orders-value", without_default)
    v2 = Schema(avro(ID, {"name": "note", "type": "string", "default": ""}), "AVRO")
    assert registry.test_compatibility("orders-value", v2)
    second = registry.register_schema("orders-value", v2)
    assert second != first
    latest = registry.get_latest_version("orders-value")
    assert (latest.version, latest.schema_id) == (2, second)
    assert registry.get_versions("orders-value") == [1, 2]

    # FORWARD: the old schema must read new data, so removing a field
    # without a default in the old one is refused.
    registry.set_compatibility("orders-value", "FORWARD")
    assert registry.get_compatibility("orders-value") == "FORWARD"
    assert registry.get_config("orders-value").compatibility_level.value == "FORWARD"
    v3_bad = Schema(avro({"name": "note", "type": "string", "default": ""}), "AVRO")
    refused(lambda: registry.register_schema("orders-value", v3_bad), 409)
    # FULL_TRANSITIVE: both ways against every version.
    registry.set_compatibility("orders-value", "FULL_TRANSITIVE")
    v3 = Schema(avro(ID, {"name": "note", "type": "string", "default": ""},
                     {"name": "qty", "type": "int", "default": 1}), "AVRO")
    registry.register_schema("orders-value", v3)
    # NONE takes anything.
    registry.set_compatibility("orders-value", "NONE")
    registry.register_schema("orders-value", Schema(avro({"name": "other", "type": "string"}), "AVRO"))
    assert registry.get_versions("orders-value") == [1, 2, 3, 4]
    refused(lambda: registry.set_compatibility("orders-value", "SIDEWAYS"), 42203)
    # The global level, and an invalid schema.
    registry.set_compatibility(level="FULL")
    assert registry.get_compatibility() == "FULL"
    message = refused(lambda: registry.register_schema("bad-value", Schema('{"type": "recrd"}', "AVRO")), 42201)
    assert "Invalid schema" in message


def test_lookup_delete_soft_and_hard(broker, registry):
    schema = Schema(avro(ID), "AVRO")
    registry.register_schema("gone-value", schema)
    registry.register_schema("gone-value", Schema(avro(ID, {"name": "x", "type": "int", "default": 0}), "AVRO"))
    found = registry.lookup_schema("gone-value", schema)
    assert found.version == 1
    refused(lambda: registry.delete_subject("gone-value", permanent=True), 40405)
    assert registry.delete_version("gone-value", 2) == 2
    assert registry.get_versions("gone-value") == [1]
    assert registry.delete_subject("gone-value") == [1]
    assert "gone-value" not in registry.get_subjects()
    refused(lambda: registry.get_latest_version("gone-value"), 40401)
    # Soft-deleted schemas stay readable by id (consumers of old records).
    assert registry.get_schema(found.schema_id).schema_str
    assert sorted(registry.delete_subject("gone-value", permanent=True)) == [1, 2]
    fresh = SchemaRegistryClient({"url": broker.registry_url})  # the client caches by id
    refused(lambda: fresh.get_schema(found.schema_id), 40403)
    refused(lambda: registry.get_version("nothing", 1), 40401)


def test_references_and_modes(broker, registry):
    money = Schema(json.dumps({"type": "record", "name": "Money", "namespace": "shop",
                               "fields": [{"name": "cents", "type": "long"}]}), "AVRO")
    registry.register_schema("money", money)
    order = Schema(avro(ID, {"name": "total", "type": "shop.Money"}), "AVRO",
                   [SchemaReference("shop.Money", "money", 1)])
    order_id = registry.register_schema("priced-value", order)
    fetched = registry.get_schema(order_id)
    assert [(r.name, r.subject, r.version) for r in fetched.references] == [("shop.Money", "money", 1)]
    # A referenced version cannot be deleted.
    refused(lambda: registry.delete_version("money", 1), 42206)
    # A missing reference is an invalid schema.
    dangling = Schema(avro({"name": "t", "type": "shop.Tax"}), "AVRO", [SchemaReference("shop.Tax", "tax", 1)])
    refused(lambda: registry.register_schema("taxed-value", dangling), 42201)

    registry.update_mode("priced-value", "READONLY")
    refused(lambda: registry.register_schema("priced-value", Schema(avro(ID), "AVRO")), 42205)
    registry.update_mode("priced-value", "READWRITE")
    assert registry.get_mode("priced-value") == "READWRITE"


def read(broker, topic, count):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "r", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(100):
        got += [m for m in consumer.consume(10, 0.2) if not m.error()]
        if len(got) >= count:
            break
    consumer.close()
    return got


def test_avro_and_json_serializers_through_the_broker_and_a_restart(broker, registry):
    schema = avro(ID, {"name": "customer", "type": "string"})
    serialize = AvroSerializer(registry, schema)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    orders = [{"id": i, "customer": "c%d" % i} for i in range(5)]
    for order in orders:
        ctx = SerializationContext("avro-orders", MessageField.VALUE)
        producer.produce("avro-orders", value=serialize(order, ctx), partition=0)
    json_schema = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}},
                              "required": ["id"], "additionalProperties": False})
    to_json = JSONSerializer(json_schema, registry)
    for i in range(3):
        producer.produce("json-orders", value=to_json({"id": i}, SerializationContext("json-orders", MessageField.VALUE)), partition=0)
    assert producer.flush(30) == 0

    broker.restart()
    # A fresh client: everything comes from the _schemas topic.
    fresh = SchemaRegistryClient({"url": broker.registry_url})
    assert set(fresh.get_subjects()) >= {"avro-orders-value", "json-orders-value"}
    deserialize = AvroDeserializer(fresh)
    got = [deserialize(m.value(), SerializationContext("avro-orders", MessageField.VALUE))
           for m in read(broker, "avro-orders", 5)]
    assert got == orders
    from_json = JSONDeserializer(json_schema, schema_registry_client=fresh)
    got = [from_json(m.value(), SerializationContext("json-orders", MessageField.VALUE))
           for m in read(broker, "json-orders", 3)]
    assert got == [{"id": i} for i in range(3)]
    # JSON Schema compatibility: a closed model may gain an optional property...
    grown = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}, "note": {"type": "string"}},
                        "required": ["id"], "additionalProperties": False})
    assert fresh.test_compatibility("json-orders-value", Schema(grown, "JSON"))
    # ...but not a new required one.
    required = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}, "note": {"type": "string"}},
                           "required": ["id", "note"], "additionalProperties": False})
    assert not fresh.test_compatibility("json-orders-value", Schema(required, "JSON"))


def test_protobuf_serializer(broker, registry, tmp_path):
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

    Order = order_class()
    serialize = ProtobufSerializer(Order, registry, {"use.deprecated.format": False})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    ctx = SerializationContext("proto-orders", MessageField.VALUE)
    for i in range(3):
        producer.produce("proto-orders", value=serialize(Order(id=i, customer="c%d" % i), ctx), partition=0)
    assert producer.flush(30) == 0
    deserialize = ProtobufDeserializer(Order, {"use.deprecated.format": False})
    got = [deserialize(m.value(), ctx) for m in read(broker, "proto-orders", 3)]
    assert [(o.id, o.customer) for o in got] == [(i, "c%d" % i) for i in range(3)]

    latest = registry.get_latest_version("proto-orders-value")
    assert latest.schema.schema_type == "PROTOBUF"
    # A field changing to a kind the wire cannot carry is refused.
    changed = 'syntax = "proto3";\npackage shop;\nmessage Order { string id = 1; string customer = 2; }'
    refused(lambda: registry.register_schema("proto-orders-value", Schema(changed, "PROTOBUF")), 409)
    grown = 'syntax = "proto3";\npackage shop;\nmessage Order { int64 id = 1; string customer = 2; double total = 3; }'
    registry.register_schema("proto-orders-value", Schema(grown, "PROTOBUF"))


def test_the_broker_refuses_records_that_do_not_match_their_schema(make_broker):
    """weir.value.schema.validation with the standard avro serializer:
    unframed records, unknown ids, ids of another subject and payloads that
    do not decode are refused with INVALID_RECORD, each named (KIP-467);
    the valid records of another batch go through."""
    from test_interceptors import plugin
    from confluent_kafka.admin import AdminClient, NewTopic

    node = make_broker(plugins=[plugin("avro", "avro.wasm", kind="serializer")])
    registry = SchemaRegistryClient({"url": node.registry_url})
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    admin.create_topics([NewTopic("checked", 1, 1, config={
        "weir.value.schema.validation": "true", "weir.value.serializer": "avro"})])["checked"].result(timeout=30)
    schema = avro(ID, {"name": "customer", "type": "string"})
    serialize = AvroSerializer(registry, schema)
    ctx = SerializationContext("checked", MessageField.VALUE)
    good = [serialize({"id": i, "customer": "c%d" % i}, ctx) for i in range(3)]
    producer = Producer({"bootstrap.servers": node.bootstrap, "linger.ms": 10000, "retries": 0})
    failed = []
    for value in good:
        producer.produce("checked", value=value, partition=0, on_delivery=lambda e, m: failed.append(e))
    producer.flush(30)
    assert failed == [None, None, None]

    other = registry.register_schema("elsewhere-value", Schema(avro({"name": "x", "type": "int"}, name="X"), "AVRO"))
    own_id = int.from_bytes(good[0][1:5], "big")
    bad = [
        good[0],
        b"plain text",                                   # not framed
        b"\x00" + (9999).to_bytes(4, "big") + b"\x02",   # unknown id
        b"\x00" + other.to_bytes(4, "big") + b"\x02",    # another subject's schema
        b"\x00" + own_id.to_bytes(4, "big") + b"\x02",   # a long, then no string
        good[1] + b"\x00",                               # a byte after the datum
    ]
    results = []
    for value in bad:
        producer.produce("checked", value=value, partition=0, on_delivery=lambda e, m: results.append(e))
    producer.flush(30)
    assert [e and e.name() for e in results] == [
        "_INVALID_DIFFERENT_RECORD"] + ["INVALID_RECORD"] * 5, results
    # Tombstones are not checked; the log holds only the valid batch.
    producer.produce("checked", value=None, key=b"k", partition=0)
    assert producer.flush(30) == 0
    values = [m.value() for m in read(node, "checked", 4)]
    assert values == good + [None]


def order_class():
    """An Order message built at run time (no protoc here): what a
    generated _pb2 module holds."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    file = descriptor_pb2.FileDescriptorProto(name="shop/order.proto", package="shop", syntax="proto3")
    message = file.message_type.add(name="Order")
    message.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    message.field.add(name="customer", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def test_json_schema_and_protobuf_serializers_validate_too(make_broker):
    from test_interceptors import plugin
    from confluent_kafka.admin import AdminClient, NewTopic
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    node = make_broker(plugins=[plugin("json-schema", "json_schema.wasm", kind="serializer"),
                                plugin("protobuf", "protobuf.wasm", kind="serializer")])
    registry = SchemaRegistryClient({"url": node.registry_url})
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    for topic, serializer in [("json-checked", "json-schema"), ("proto-checked", "protobuf")]:
        admin.create_topics([NewTopic(topic, 1, 1, config={
            "weir.value.schema.validation": "true", "weir.value.serializer": serializer})])[topic].result(timeout=30)

    def outcomes(topic, values):
        producer = Producer({"bootstrap.servers": node.bootstrap, "linger.ms": 10000, "retries": 0})
        results = []
        for value in values:
            producer.produce(topic, value=value, partition=0, on_delivery=lambda e, m: results.append(e))
        producer.flush(30)
        return [e and e.name() for e in results]

    schema = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}, "customer": {"type": "string"}},
                         "required": ["id"]})
    to_json = JSONSerializer(schema, registry)
    ctx = SerializationContext("json-checked", MessageField.VALUE)
    good = to_json({"id": 1, "customer": "c1"}, ctx)
    assert outcomes("json-checked", [good, to_json({"id": 2}, ctx)]) == [None, None]
    framing = good[:5]
    assert outcomes("json-checked", [good, framing + b'{"id": "one"}', framing + b"{not json"]) == [
        "_INVALID_DIFFERENT_RECORD", "INVALID_RECORD", "INVALID_RECORD"]

    Order = order_class()
    ctx = SerializationContext("proto-checked", MessageField.VALUE)
    to_proto = ProtobufSerializer(Order, registry, {"use.deprecated.format": False})
    good = to_proto(Order(id=7, customer="c7"), ctx)
    assert outcomes("proto-checked", [good, to_proto(Order(id=8), ctx)]) == [None, None]
    # The framing, the message indexes (a single 0: the first message), then
    # field 1 with the wire type of a string but a length past the end.
    framing = good[:6]
    assert outcomes("proto-checked", [good, framing + b"\x0a\x10ab", framing + b"\x04\x02"]) == [
        "_INVALID_DIFFERENT_RECORD", "INVALID_RECORD", "INVALID_RECORD"]
    counted = json.load(__import__("urllib.request").request.urlopen(node.admin_url + "/v1/plugins/protobuf"))["metrics"]
    assert counted["calls"] >= 2 and counted["failures"] == 0, counted
    assert counted["refusals"] == 1, "the one batch its verdicts refused"


def test_kafkajs_schema_registry_client(broker):
    """@kafkajs/confluent-schema-registry registers Avro, JSON Schema and
    Protobuf schemas, encodes and decodes with them, through kafkajs."""
    import subprocess
    from confluent_kafka.admin import AdminClient, NewTopic
    from test_plugin_cli import ROOT

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("js-orders", 1, 1)])["js-orders"].result(timeout=30)
    out = subprocess.run(["node", str(ROOT / "tests/js/schema_registry.js"), broker.bootstrap,
                          broker.registry_url, "js-orders"], capture_output=True, text=True, timeout=120).stdout
    got = json.loads(out)
    assert "error" not in got, got
    assert got["latest"] == got["id"]
    assert got["seen"] == [{"id": 1, "customer": "c1"}, {"id": 2, "customer": "c2"}]
    assert got["json"] == {"id": 7}
    assert got["proto"] == {"id": 8, "customer": "c8"}
