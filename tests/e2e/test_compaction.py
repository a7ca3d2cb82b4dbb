"""Log compaction (cleanup.policy=compact) with real clients: a topic that
received many updates per key reads back, from the beginning, only the
latest value of each key at its original offset (offsets with gaps), and no
tombstone older than delete.retention.ms; null keys are refused;
__consumer_offsets is compacted the same way and committed offsets survive
it; a kill -9 during compaction leaves a log with everything that should
remain."""

import json
import pathlib
import subprocess
import time

import pytest

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEYS = 50
ROUNDS = 20


def create(broker, name, **config):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result(10)


def compacted(broker, name, **extra):
    config = {"cleanup.policy": "compact", "segment.bytes": "16384", "segment.ms": "300",
              "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1500"}
    config.update(extra)
    create(broker, name, **config)


def cleaner_broker(make_broker, **config):
    return make_broker(log_cleaner_backoff_ms=100, log_retention_check_interval_ms=100, **config)


def produce_updates(broker, topic, rounds=ROUNDS, tombstones=(), codec="none"):
    """KEYS keys, `rounds` updates each; returns {key: (offset, value)} of the latest."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "compression.type": codec})
    latest = {}

    def delivered(err, msg):
        assert err is None, err
        latest[msg.key()] = (msg.offset(), msg.value())

    for r in range(rounds):
        for k in range(KEYS):
            producer.produce(topic, key=b"key-%02d" % k, value=b"v%d-%d" % (k, r) + b"." * 200,
                             partition=0, on_delivery=delivered)
        producer.poll(0)
    for k in tombstones:
        producer.produce(topic, key=b"key-%02d" % k, value=None, partition=0, on_delivery=delivered)
    assert producer.flush(30) == 0
    return latest


def read_from_start(broker, topic):
    """[(offset, key, value)] of the whole partition, read from the beginning."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "reader-%f" % time.time(),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.assign([TopicPartition(topic, 0, low)])
    out = []
    idle = 0
    while idle < 10:
        msgs = [m for m in consumer.consume(500, 0.2) if not m.error()]
        idle = 0 if msgs else idle + 1
        out += [(m.offset(), m.key(), m.value()) for m in msgs]
        if out and out[-1][0] >= high - 1:
            break
    consumer.close()
    return out


def wait_until(predicate, timeout=30, what="the cleaner"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError("waited %ds for %s" % (timeout, what))


def log_bytes(broker, topic, partition=0):
    return sum(p.stat().st_size for p in (broker.data_dir / ("%s-%d" % (topic, partition))).glob("*.log"))


def test_a_compacted_topic_reads_back_the_latest_value_per_key(make_broker):
    broker = cleaner_broker(make_broker)
    compacted(broker, "latest")
    latest = produce_updates(broker, "latest", tombstones=range(5))
    live = {k: v for k, v in latest.items() if v[1] is not None}
    expected = sorted((offset, key, value) for key, (offset, value) in live.items())
    tombstones = sorted((offset, key, None) for key, (offset, value) in latest.items() if value is None)
    before = log_bytes(broker, "latest")

    # First the latest record of every key, tombstones included (younger
    # than delete.retention.ms); then, once they are older, without them.
    wait_until(lambda: read_from_start(broker, "latest") in (sorted(expected + tombstones), expected))
    wait_until(lambda: read_from_start(broker, "latest") == expected, what="tombstones to expire")
    # The records keep their offsets: the log still starts at 0, and a
    # reader from there jumps the gap to the first record kept.
    assert expected[0][0] == KEYS * (ROUNDS - 1) + 5
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "w"})
    assert consumer.get_watermark_offsets(TopicPartition("latest", 0), timeout=10) == (0, KEYS * ROUNDS + 5)
    consumer.close()
    assert log_bytes(broker, "latest") < before / 5

    # kafkajs reads the same values from the beginning.
    out = subprocess.run(["node", str(ROOT / "tests/js/consume.js"), broker.bootstrap, "latest", "js", str(len(live))],
                         capture_output=True, text=True, timeout=60).stdout
    assert sorted(json.loads(out)) == [[o, v.decode()] for o, _, v in expected]

    # New updates are compacted too, and a restart changes nothing.
    more = produce_updates(broker, "latest", rounds=3)
    expected = sorted((offset, key, value) for key, (offset, value) in more.items())
    wait_until(lambda: read_from_start(broker, "latest") == expected)
    broker.stop()
    broker.start()
    assert read_from_start(broker, "latest") == expected


def test_a_tombstone_outlives_the_first_clean_whatever_its_timestamp(make_broker):
    """Kafka's delete horizon (KIP-534): the first clean that keeps a
    tombstone stamps its batch with now + delete.retention.ms, so even a
    tombstone timestamped an hour ago stays that long after it — a reader
    that got the old value before the clean still sees the delete."""
    broker = cleaner_broker(make_broker)
    # Any dirty byte makes the log due: the tombstones are a tiny share.
    compacted(broker, "horizon", **{"delete.retention.ms": "8000", "min.cleanable.dirty.ratio": "0.0001"})
    latest = produce_updates(broker, "horizon", rounds=5)
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    deleted = {}
    for k in range(3):
        key = b"key-%02d" % k
        producer.produce("horizon", key=key, value=None, partition=0, timestamp=an_hour_ago,
                         on_delivery=lambda err, msg: deleted.__setitem__(msg.key(), msg.offset()))
    assert producer.flush(30) == 0
    live = sorted((o, k, v) for k, (o, v) in latest.items() if k not in deleted)
    with_tombstones = sorted(live + [(o, k, None) for k, o in deleted.items()])
    compacted_at = time.time()
    wait_until(lambda: read_from_start(broker, "horizon") == with_tombstones, what="the first clean")
    # The tombstones read back with their own timestamps.
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ts", "enable.auto.commit": False})
    consumer.assign([TopicPartition("horizon", 0, min(deleted.values()))])
    msgs = [m for m in consumer.consume(3, 5) if not m.error() and m.value() is None]
    consumer.close()
    assert [m.timestamp()[1] for m in msgs] == [an_hour_ago] * 3
    # So does kafka-python, which checks each batch's CRC.
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaTopicPartition
    reader = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000)
    tp = KafkaTopicPartition("horizon", 0)
    reader.assign([tp])
    reader.seek(tp, min(deleted.values()))
    got = [(m.offset, m.key, m.value, m.timestamp) for m in reader]
    reader.close()
    assert got == sorted((o, k, None, an_hour_ago) for k, o in deleted.items())
    wait_until(lambda: read_from_start(broker, "horizon") == live, what="the delete horizon")
    assert time.time() - compacted_at >= 7.5, "the tombstones went before delete.retention.ms"


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_are_compacted_and_stay_compressed(make_broker, codec):
    broker = cleaner_broker(make_broker)
    compacted(broker, "squeezed")
    latest = produce_updates(broker, "squeezed", rounds=10, codec=codec)
    expected = sorted((o, k, v) for k, (o, v) in latest.items())
    wait_until(lambda: read_from_start(broker, "squeezed") == expected)
    # The values are runs of dots: recompressed, the log is a fraction of them.
    assert log_bytes(broker, "squeezed") < KEYS * 210 / 2


def test_a_compacted_topic_refuses_records_without_a_key(make_broker):
    broker = cleaner_broker(make_broker)
    compacted(broker, "keyed")
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    errors = []
    producer.produce("keyed", value=b"no key", partition=0, on_delivery=lambda e, m: errors.append(e))
    producer.flush(10)
    assert errors[0] is not None and errors[0].name() == "INVALID_RECORD", errors


def test_keyless_records_fail_one_by_one_with_record_errors(make_broker):
    """KIP-467: of a batch of 100 with 10 keyless records, those 10 fail
    with INVALID_RECORD and their own message; librdkafka fails the other
    90 with _INVALID_DIFFERENT_RECORD (it may send them again alone). The
    record errors themselves are checked on the wire in core/tests."""
    broker = cleaner_broker(make_broker)
    compacted(broker, "mixed")
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 500, "retries": 0})
    outcome = {}
    for i in range(100):
        key = None if i % 10 == 3 else b"k%d" % i
        producer.produce("mixed", key=key, value=b"v%d" % i, partition=0,
                         on_delivery=lambda e, m, i=i: outcome.__setitem__(i, e))
    producer.flush(10)
    assert len(outcome) == 100
    keyless = [i for i in range(100) if i % 10 == 3]
    for i in keyless:
        assert outcome[i] is not None and outcome[i].code() == KafkaError.INVALID_RECORD, outcome[i]
    others = [outcome[i] for i in range(100) if i not in keyless]
    assert all(e is not None and e.code() == KafkaError._INVALID_DIFFERENT_RECORD for e in others), others[:3]


def test_consumer_offsets_are_compacted_and_survive_it(make_broker):
    broker = cleaner_broker(make_broker, offsets_topic_segment_bytes=16384, offsets_topic_num_partitions=1)
    create(broker, "read")
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        producer.produce("read", value=b"%d" % i, partition=0)
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "committer",
                         "enable.auto.commit": False})
    for i in range(400):
        consumer.commit(offsets=[TopicPartition("read", 0, i % 10 + 1)], asynchronous=False)
    consumer.commit(offsets=[TopicPartition("read", 0, 7)], asynchronous=False)
    consumer.close()
    wait_until(lambda: log_bytes(broker, "__consumer_offsets") < 16384, what="__consumer_offsets to shrink")
    broker.kill()
    broker.start()
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "committer"})
    committed = consumer.committed([TopicPartition("read", 0)], timeout=10)
    consumer.close()
    assert committed[0].offset == 7


def left_before(dir, pattern, moment):
    """Files matching `pattern` last written before `moment`."""
    found = []
    for path in dir.glob(pattern):
        try:
            if path.stat().st_mtime < moment:
                found.append(path)
        except FileNotFoundError:  # renamed or removed meanwhile
            pass
    return found


def test_kill_during_compaction_keeps_what_should_remain(make_broker):
    broker = cleaner_broker(make_broker)
    compacted(broker, "killed", **{"delete.retention.ms": "86400000"})
    latest = {}
    for round in range(4):
        latest.update(produce_updates(broker, "killed", rounds=6))
        time.sleep(0.1 * round + 0.3)  # the cleaner is somewhere in its work
        broker.kill()
        killed_at = time.time()
        broker.start()
        got = read_from_start(broker, "killed")
        # Every key's latest value is there, at its offset, whatever was
        # cleaned; older records may be there too, in offset order.
        assert {k: (o, v) for o, k, v in got} == latest
        assert [o for o, _, _ in got] == sorted({o for o, _, _ in got})
        # Nothing the killed cleaner left behind survives recovery (the
        # restarted broker's own cleaner may be mid-run: its files are newer).
        assert not left_before(broker.data_dir / "killed-0", "*.cleaned", killed_at)
        assert not left_before(broker.data_dir / "killed-0", "cleaner.swap", killed_at)
    expected = sorted((o, k, v) for k, (o, v) in latest.items())
    wait_until(lambda: read_from_start(broker, "killed") == expected)
