"""kafka-python 3 (pure Python, flexible protocol versions): produce with every
codec and consume back, admin calls, offsets by timestamp."""

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import InvalidPartitionsError, InvalidReplicationFactorError, TopicAlreadyExistsError

from conftest import records

CODECS = [None, "gzip", "snappy", "lz4", "zstd"]
COUNT = 100_000


def admin_client(broker):
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)


def produce(broker, topic, recs, partition=None, **conf):
    # kafka-python's defaults, idempotence included.
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5, **conf)
    futures = [
        producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=ts, partition=partition)
        for key, value, headers, ts in recs
    ]
    producer.flush(60)
    producer.close()
    return [f.get(10) for f in futures]


def consume(broker, topic, partitions, count, timeout=60):
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, group_id=None)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    consumer.seek_to_beginning()
    got = []
    deadline = time.time() + timeout
    while len(got) < count and time.time() < deadline:
        for batch in consumer.poll(timeout_ms=500, max_records=50_000).values():
            got.extend(batch)
    consumer.close()
    return got


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_byte_for_byte(broker, codec):
    topic = "kp-%s" % codec
    admin = admin_client(broker)
    admin.create_topics([NewTopic(topic, 2, 1)])
    recs = records(COUNT, seed=2)
    metas = produce(broker, topic, recs, compression_type=codec, batch_size=65536)
    got = consume(broker, topic, 2, COUNT)
    assert len(got) == COUNT
    expected = {key: (value, headers, ts) for key, value, headers, ts in recs}
    where = {(m.topic_partition.partition, m.offset) for m in metas}
    for msg in got:
        value, headers, ts = expected[msg.key]
        assert msg.value == value
        assert list(msg.headers) == headers
        assert msg.timestamp == ts
        assert (msg.partition, msg.offset) in where
    admin.close()


def test_admin_and_offsets(broker):
    admin = admin_client(broker)
    admin.create_topics([NewTopic("kp-admin", 1, 1, topic_configs={"retention.bytes": "1000000"})])
    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics([NewTopic("kp-admin", 1, 1)])
    with pytest.raises(InvalidReplicationFactorError):
        admin.create_topics([NewTopic("kp-rf", 1, 3)])

    def topic_config(key):
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin")], config_filter="all")
        [by_name] = described.values()
        return by_name["kp-admin"][key]["value"]

    assert topic_config("retention.bytes") == "1000000"
    assert topic_config("cleanup.policy") == "delete"
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin", configs={"retention.bytes": "2000000"})])
    assert topic_config("retention.bytes") == "2000000"
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, "kp-admin", configs={"retention.bytes": "3000000"})], incremental=False
    )
    assert topic_config("retention.bytes") == "3000000"

    admin.create_partitions({"kp-admin": NewPartitions(3)})
    with pytest.raises(InvalidPartitionsError):
        admin.create_partitions({"kp-admin": NewPartitions(2)})

    base = int(time.time() * 1000) - 10_000
    produce(broker, "kp-admin", [(b"k%d" % i, b"v", [], base + i) for i in range(100)], partition=0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    tp = TopicPartition("kp-admin", 0)
    assert consumer.end_offsets([tp])[tp] == 100
    assert consumer.offsets_for_times({tp: base + 42})[tp].offset == 42
    admin.delete_records({tp: 10})
    assert consumer.beginning_offsets([tp])[tp] == 10
    consumer.close()

    admin.delete_topics(["kp-admin"])
    assert "kp-admin" not in admin.list_topics()
    admin.close()
