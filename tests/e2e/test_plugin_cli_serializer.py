"""A custom serializer from `weir plugin new --kind serializer`, in Rust,
C, Zig, Python, JavaScript and AssemblyScript: the template (CSV lines whose columns a JSON schema
in the registry names) builds, `weir plugin test` shows its verdicts and
`--expect` pins them, and deployed and bound to a topic with validation on
it makes the broker refuse lines with the wrong number of fields; its
decoding (CSV line to a JSON object) is what the standard json-field
partitioner reads, by column name, to place lines."""

import json

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from test_interceptors import plugin
from test_plugin_cli import new_project, weir
from test_plugins import PARTITIONS, java_partition, read_all


@pytest.mark.parametrize("lang", ["rust", "c", "zig", "python", "javascript", "assemblyscript"])
def test_a_new_serializer_builds_tests_and_validates(tmp_path, make_broker, lang):
    project = new_project(tmp_path, "serializer", "csv", lang)
    tested = weir("test", cwd=project).stdout
    assert "payload 0 valid" in tested and "payload 3 valid" in tested, tested
    assert "payload 1 invalid: 2 fields, the schema has 3 columns" in tested, tested
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps({"verdicts": [None, "2 fields, the schema has 3 columns",
                                                 "4 fields, the schema has 3 columns", None]}))
    assert "as expected" in weir("test", "--expect", str(expected), cwd=project).stdout
    # Decoded to an object of the columns, and encoded back to the same line.
    decoded = [json.loads(line.split("decodes to ", 1)[1]) for line in tested.splitlines() if "decodes to" in line]
    assert decoded == [{"id": "1", "customer": "acme", "total": "9.50"},
                       {"id": "4", "customer": "umbrella", "total": "1.25"}], tested
    expected.write_text(json.dumps({"round_trip": [True, None, None, True]}))
    assert "as expected" in weir("test", "--expect", str(expected), cwd=project).stdout
    schema = tmp_path / "two.json"
    schema.write_text('{"columns": ["id", "name"]}')
    two = weir("test", "--schema", str(schema), cwd=project).stdout
    assert "payload 1 valid" in two and "payload 0 invalid: 3 fields, the schema has 2 columns" in two, two

    broker = make_broker(plugins=[plugin("by-customer", "json_field.wasm", kind="partitioner", field="customer")])
    weir("deploy", cwd=project, admin=broker.admin_url)
    registry = SchemaRegistryClient({"url": broker.registry_url})
    schema_id = registry.register_schema(
        "lines-value", Schema('{"title": "orders", "columns": ["id", "customer", "total"]}', "JSON"))
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("lines", PARTITIONS, 1, config={
        "weir.value.schema.validation": "true", "weir.value.serializer": "csv",
        "weir.partitioner": "by-customer"})])["lines"].result(timeout=30)

    framing = b"\x00" + schema_id.to_bytes(4, "big")
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 10000, "retries": 0})
    results = []
    for line in [b"1,acme,9.50", b"2,globex", b"3,initech,12.00,extra"]:
        producer.produce("lines", value=framing + line, partition=0, on_delivery=lambda e, m: results.append(e))
    producer.flush(30)
    assert [e and e.name() for e in results] == ["_INVALID_DIFFERENT_RECORD", "INVALID_RECORD", "INVALID_RECORD"]
    results.clear()
    lines = [b"%d,customer-%d,1.25" % (i, i % 7) for i in range(40)]
    for line in lines:
        producer.produce("lines", value=framing + line, partition=0, on_delivery=lambda e, m: results.append(e))
    producer.flush(30)
    assert results == [None] * 40
    # Each line went where its `customer` column hashes to.
    seen = read_all(broker, "lines", 40)
    assert sorted(v for _, v, _ in seen) == sorted(framing + line for line in lines)
    for _, value, partition in seen:
        assert partition == java_partition(value[5:].split(b",")[1]), value
