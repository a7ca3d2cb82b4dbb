"""confluent-kafka (librdkafka 2.16, flexible protocol versions) against a real
weir: produce with every codec, consume back byte for byte, admin calls,
offsets by timestamp, and the errors Kafka would give."""

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

from conftest import records

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def admin(broker):
    """One AdminClient per broker, kept alive: futures fail if their client is collected."""
    if not hasattr(broker, "admin_client"):
        broker.admin_client = AdminClient({"bootstrap.servers": broker.bootstrap})
    return broker.admin_client


def set_config(broker, kind, name, key, value):
    """IncrementalAlterConfigs SET of one key; waits for (and raises) the result."""
    resource = ConfigResource(
        kind, name, incremental_configs=[ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)]
    )
    admin(broker).incremental_alter_configs([resource])[resource].result(10)


def create_topic(broker, name, partitions=3, config=None):
    futures = admin(broker).create_topics([NewTopic(name, partitions, 1, config=config or {})])
    futures[name].result(30)


def produce(broker, topic, recs, **conf):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "acks": "all", **conf})
    delivered = {}
    errors = []

    def report(err, msg):
        if err:
            errors.append(err)
        else:
            delivered[msg.key()] = (msg.partition(), msg.offset())

    for key, value, headers, ts in recs:
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, timestamp=ts, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0
    return delivered, errors


def consume(broker, topic, partitions, count, timeout=60, **conf):
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "e2e-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            **conf,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = []
    deadline = time.time() + timeout
    while len(got) < count and time.time() < deadline:
        for msg in consumer.consume(10_000, 0.5):
            if msg.error():
                raise KafkaException(msg.error())
            got.append(msg)
    consumer.close()
    return got


@pytest.mark.parametrize("codec", CODECS)
def test_100k_records_round_trip_byte_for_byte(broker, codec):
    topic = "roundtrip-" + codec
    create_topic(broker, topic, partitions=3)
    recs = records(100_000, value_size=100)
    delivered, errors = produce(broker, topic, recs, **{"compression.type": codec, "batch.size": 65536})
    assert not errors
    assert len(delivered) == len(recs)

    got = consume(broker, topic, 3, len(recs))
    assert len(got) == len(recs)
    expected = {key: (value, headers, ts) for key, value, headers, ts in recs}
    last_offset = {}
    for msg in got:
        value, headers, ts = expected[msg.key()]
        assert msg.value() == value
        assert msg.headers() == headers
        assert msg.timestamp() == (1, ts)  # TIMESTAMP_CREATE_TIME
        assert delivered[msg.key()] == (msg.partition(), msg.offset())
        assert msg.offset() > last_offset.get(msg.partition(), -1), "offsets increase within a partition"
        last_offset[msg.partition()] = msg.offset()


def test_acks_zero_and_one(broker):
    create_topic(broker, "acks", partitions=1)
    for acks in ("0", "1"):
        recs = records(2_000, seed=int(acks))
        _, errors = produce(broker, "acks", recs, acks=acks)
        assert not errors
    assert len(consume(broker, "acks", 1, 4_000)) == 4_000


def test_offsets_for_times_and_watermarks(broker):
    create_topic(broker, "times", partitions=1)
    base = int(time.time() * 1000) - 100_000
    recs = [(b"k%d" % i, b"v%d" % i, [], base + i * 10) for i in range(1_000)]
    produce(broker, "times", recs)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "t"})
    assert consumer.get_watermark_offsets(TopicPartition("times", 0), timeout=10) == (0, 1_000)
    for i in (0, 1, 500, 999):
        [tp] = consumer.offsets_for_times([TopicPartition("times", 0, base + i * 10)], timeout=10)
        assert tp.offset == i
    [tp] = consumer.offsets_for_times([TopicPartition("times", 0, base + 5 * 10 - 3)], timeout=10)
    assert tp.offset == 5, "first record at or after the timestamp"
    [tp] = consumer.offsets_for_times([TopicPartition("times", 0, base + 10**9)], timeout=10)
    assert tp.offset == -1, "no record that late"
    consumer.close()
    results = admin(broker).list_offsets(
        {
            TopicPartition("times", 0): OffsetSpec.max_timestamp(),
        }
    )
    info = results[TopicPartition("times", 0)].result(10)
    assert (info.offset, info.timestamp) == (999, base + 9_990)
    earliest = admin(broker).list_offsets({TopicPartition("times", 0): OffsetSpec.earliest()})
    assert earliest[TopicPartition("times", 0)].result(10).offset == 0


def test_admin_topics_configs_partitions_records(broker):
    client = admin(broker)
    # validate_only creates nothing
    client.create_topics([NewTopic("admin-t", 2, 1)], validate_only=True)["admin-t"].result(10)
    assert "admin-t" not in client.list_topics(timeout=10).topics
    create_topic(broker, "admin-t", partitions=2, config={"retention.ms": "3600000", "cleanup.policy": "delete"})
    meta = client.list_topics(timeout=10).topics["admin-t"]
    assert sorted(meta.partitions) == [0, 1]

    resource = ConfigResource(ConfigResource.Type.TOPIC, "admin-t")
    configs = client.describe_configs([resource])[resource].result(10)
    assert configs["retention.ms"].value == "3600000"
    assert configs["segment.bytes"].value == "1073741824"
    assert configs["max.message.bytes"].value == "1048588"

    alter = ConfigResource(
        ConfigResource.Type.TOPIC,
        "admin-t",
        incremental_configs=[
            ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("segment.ms", None, incremental_operation=AlterConfigOpType.DELETE),
            ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
        ],
    )
    client.incremental_alter_configs([alter])[alter].result(10)
    configs = client.describe_configs([resource])[resource].result(10)
    assert configs["retention.ms"].value == "60000"
    assert configs["cleanup.policy"].value == "delete,compact"

    with pytest.raises(KafkaException) as err:
        set_config(broker, ConfigResource.Type.TOPIC, "admin-t", "retention.ms", "soon")
    assert err.value.args[0].code() == KafkaError.INVALID_CONFIG

    broker_resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    broker_configs = client.describe_configs([broker_resource])[broker_resource].result(10)
    assert broker_configs["num.partitions"].value == "1"
    assert broker_configs["log.segment.bytes"].value == "1073741824"

    client.create_partitions([NewPartitions("admin-t", 4)])["admin-t"].result(10)
    assert len(client.list_topics(timeout=10).topics["admin-t"].partitions) == 4
    with pytest.raises(KafkaException) as err:
        client.create_partitions([NewPartitions("admin-t", 2)])["admin-t"].result(10)
    assert err.value.args[0].code() == KafkaError.INVALID_PARTITIONS

    produce(broker, "admin-t", [(b"k%d" % i, b"v", [], int(time.time() * 1000)) for i in range(100)], partitioner="consistent")
    tp = TopicPartition("admin-t", 0)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "t"})
    low, high = consumer.get_watermark_offsets(tp, timeout=10)
    assert high > 2
    deleted = client.delete_records([TopicPartition("admin-t", 0, 2)])
    assert deleted[tp].result(10).low_watermark == 2
    assert consumer.get_watermark_offsets(tp, timeout=10) == (2, high)
    consumer.close()

    client.delete_topics(["admin-t"])["admin-t"].result(10)
    deadline = time.time() + 10
    while "admin-t" in client.list_topics(timeout=10).topics and time.time() < deadline:
        time.sleep(0.1)
    assert "admin-t" not in client.list_topics(timeout=10).topics
    # Renamed out of the way at once (admin-t-0.<id>-delete), removed soon after.
    assert not (broker.data_dir / "admin-t-0").exists()
    while list(broker.data_dir.glob("admin-t-*")) and time.time() < deadline:
        time.sleep(0.1)
    assert not list(broker.data_dir.glob("admin-t-*"))


def test_describe_cluster(broker):
    result = admin(broker).describe_cluster().result(10)
    assert [n.id for n in result.nodes] == [1]
    assert result.nodes[0].port == broker.port
    assert len(result.cluster_id) == 22


def test_authorized_operations_are_what_kafka_reports_for_a_superuser(broker):
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AclOperation as Op

    create_topic(broker, "ops", partitions=1)
    client = admin(broker)
    cluster = client.describe_cluster(include_authorized_operations=True).result(10)
    assert set(cluster.authorized_operations) == {
        Op.CREATE, Op.ALTER, Op.DESCRIBE, Op.CLUSTER_ACTION,
        Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE,
    }
    [topic] = client.describe_topics(TopicCollection(["ops"]), include_authorized_operations=True).values()
    assert set(topic.result(10).authorized_operations) == {
        Op.READ, Op.WRITE, Op.CREATE, Op.DELETE, Op.ALTER, Op.DESCRIBE,
        Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS,
    }


@pytest.mark.parametrize(
    "topic,partitions,rf,code",
    [
        ("bad name!", 1, 1, KafkaError.TOPIC_EXCEPTION),
        ("x" * 250, 1, 1, KafkaError.TOPIC_EXCEPTION),
        ("ok", 0, 1, KafkaError.INVALID_PARTITIONS),
        ("ok", 1, 3, KafkaError.INVALID_REPLICATION_FACTOR),
    ],
)
def test_create_topics_errors(broker, topic, partitions, rf, code):
    futures = admin(broker).create_topics([NewTopic(topic, partitions, rf)])
    with pytest.raises(KafkaException) as err:
        futures[topic].result(10)
    assert err.value.args[0].code() == code


def test_topic_already_exists(broker):
    create_topic(broker, "twice", partitions=1)
    with pytest.raises(KafkaException) as err:
        create_topic(broker, "twice", partitions=1)
    assert err.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS


def test_message_too_large(broker):
    create_topic(broker, "small", partitions=1, config={"max.message.bytes": "2000"})
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    errors = []
    producer.produce("small", b"x" * 5_000, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(30)
    assert errors[0] is not None and errors[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert len(consume(broker, "small", 1, 1, timeout=2)) == 0


def test_unknown_topic_without_auto_create(make_broker):
    broker = make_broker(auto_create_topics_enable=False)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 3000})
    errors = []
    producer.produce("nope", b"x", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(10)
    assert errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._MSG_TIMED_OUT)
    assert "nope" not in admin(broker).list_topics(timeout=10).topics


def test_auto_create_uses_num_partitions(make_broker):
    broker = make_broker(num_partitions=4)
    _, errors = produce(broker, "auto", [(b"k", b"v", [], int(time.time() * 1000))])
    assert not errors
    assert len(admin(broker).list_topics(timeout=10).topics["auto"].partitions) == 4


def test_log_append_time_topic(broker):
    create_topic(broker, "lat", partitions=1, config={"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    produce(broker, "lat", [(b"k", b"v", [], 1_000)])
    [msg] = consume(broker, "lat", 1, 1)
    kind, ts = msg.timestamp()
    assert kind == 2  # TIMESTAMP_LOG_APPEND_TIME
    assert before - 1_000 <= ts <= int(time.time() * 1000) + 1_000


def test_long_poll_returns_when_data_arrives(broker):
    create_topic(broker, "poll", partitions=1)
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "p",
            "fetch.wait.max.ms": 5000,
            "fetch.min.bytes": 1,
        }
    )
    consumer.assign([TopicPartition("poll", 0, OFFSET_BEGINNING)])
    consumer.poll(1.0)
    start = time.time()
    produce(broker, "poll", [(b"k", b"v", [], int(time.time() * 1000))], **{"linger.ms": 0})
    msg = None
    while msg is None and time.time() - start < 10:
        msg = consumer.poll(0.1)
    assert msg is not None and msg.value() == b"v"
    assert time.time() - start < 3, "the waiting fetch was woken by the append"
    consumer.close()


def stored_codecs(broker, topic_dir):
    """The codec of every batch in a partition's first segment, read from disk."""
    data = (broker.data_dir / topic_dir / ("%020d.log" % 0)).read_bytes()
    codecs, position = [], 0
    while position + 61 <= len(data):
        length = int.from_bytes(data[position + 8 : position + 12], "big")
        codecs.append(int.from_bytes(data[position + 21 : position + 23], "big") & 7)
        position += 12 + length
    return codecs


def test_topic_compression_type_recompresses(broker):
    create_topic(broker, "squeezed", partitions=1, config={"compression.type": "zstd"})
    recs = records(5_000, seed=9)
    produce(broker, "squeezed", recs, **{"compression.type": "lz4"})
    assert set(stored_codecs(broker, "squeezed-0")) == {4}, "stored as zstd"
    # Changed at runtime: later batches follow the new setting.
    set_config(broker, ConfigResource.Type.TOPIC, "squeezed", "compression.type", "producer")
    more = records(1_000, seed=10)
    produce(broker, "squeezed", more, **{"compression.type": "snappy"})
    assert set(stored_codecs(broker, "squeezed-0")) == {4, 2}
    got = consume(broker, "squeezed", 1, 6_000)
    expected = {k: (v, h) for k, v, h, _ in recs + more}
    assert len(got) == 6_000
    for msg in got:
        assert (msg.value(), msg.headers()) == expected[msg.key()]


def test_dynamic_broker_configs_apply_to_topics_and_survive_restart(broker):
    create_topic(broker, "dyn", partitions=1)
    client = admin(broker)
    topic = ConfigResource(ConfigResource.Type.TOPIC, "dyn")
    before = client.describe_configs([topic])[topic].result(10)["retention.ms"]
    assert before.value == "604800000" and before.is_default

    # (confluent-kafka refuses the cluster-default name ""; on one node the
    # broker's own id means the same.)
    set_config(broker, ConfigResource.Type.BROKER, "1", "log.retention.ms", "1234567")
    after = client.describe_configs([topic])[topic].result(10)["retention.ms"]
    assert after.value == "1234567"
    assert after.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value

    with pytest.raises(KafkaException) as err:
        set_config(broker, ConfigResource.Type.BROKER, "1", "log.dirs", "/elsewhere")
    assert err.value.args[0].code() == KafkaError.INVALID_CONFIG

    broker.restart()
    del broker.admin_client
    node = ConfigResource(ConfigResource.Type.BROKER, "1")
    described = admin(broker).describe_configs([node])[node].result(10)
    assert described["log.retention.ms"].value == "1234567"
    assert described["log.dirs"].is_read_only
    assert admin(broker).describe_configs([topic])[topic].result(10)["retention.ms"].value == "1234567"


def test_kafka_broker_configs_weir_does_not_act_on_are_accepted_and_unknown_names_refused(broker):
    for key, value in [("background.threads", "8"), ("sasl.kerberos.min.time.before.relogin", "60000")]:
        set_config(broker, ConfigResource.Type.BROKER, "1", key, value)
    node = ConfigResource(ConfigResource.Type.BROKER, "1")
    described = admin(broker).describe_configs([node])[node].result(10)
    assert described["background.threads"].value == "8"
    assert described["sasl.kerberos.min.time.before.relogin"].value == "60000"
    with pytest.raises(KafkaException) as err:
        set_config(broker, ConfigResource.Type.BROKER, "1", "no.such.kafka.config", "1")
    assert err.value.args[0].code() == KafkaError.INVALID_CONFIG
    assert "Unknown broker config name" in err.value.args[0].str()
    assert "num.replica.fetchers" not in described, "unset Kafka-only configs are not listed"


def test_group_configs_kip_848(broker):
    """The group config resource (type 32): Kafka's names, defaults from the
    broker's group.* configs, Kafka's checks, and kept across a restart."""
    group = ConfigResource(ConfigResource.Type.GROUP, "billing")
    described = admin(broker).describe_configs([group])[group].result(10)
    assert described["consumer.session.timeout.ms"].value == "45000"
    assert described["consumer.heartbeat.interval.ms"].value == "5000"
    assert described["share.record.lock.duration.ms"].value == "30000"

    set_config(broker, ConfigResource.Type.GROUP, "billing", "consumer.heartbeat.interval.ms", "1000")
    after = admin(broker).describe_configs([group])[group].result(10)["consumer.heartbeat.interval.ms"]
    assert after.value == "1000" and after.source == ConfigSource.GROUP_CONFIG.value

    for key, value in [("consumer.session.timeout.ms", "900"), ("no.such.group.config", "1"),
                       ("consumer.session.timeout.ms", "soon")]:
        with pytest.raises(KafkaException) as err:
            set_config(broker, ConfigResource.Type.GROUP, "billing", key, value)
        assert err.value.args[0].code() == KafkaError.INVALID_CONFIG, (key, value)

    broker.restart()
    del broker.admin_client
    kept = admin(broker).describe_configs([group])[group].result(10)
    assert kept["consumer.heartbeat.interval.ms"].value == "1000"
    other = ConfigResource(ConfigResource.Type.GROUP, "other")
    assert admin(broker).describe_configs([other])[other].result(10)["consumer.heartbeat.interval.ms"].value == "5000"
