"""Retention (cleanup.policy=delete) with real clients: retention.bytes and
retention.ms delete whole closed segments, oldest first, and move the
earliest offset ListOffsets reports; segment.ms rolls an idle segment so
time retention reaches it; a consumer below the new start resets as its
auto.offset.reset says; DeleteRecords still works alongside; a kill -9
during deletion leaves a log that reopens whole."""

import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create(broker, name, **config):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result(10)


def produce(broker, topic, count, size=1000):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    for i in range(count):
        producer.produce(topic, key=b"k%d" % i, value=b"%06d" % i + b"x" * (size - 6), partition=0)
    assert producer.flush(30) == 0


def watermarks(broker, topic):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "w"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        consumer.close()


def wait_for_start(broker, topic, predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        low, high = watermarks(broker, topic)
        if predicate(low, high):
            return low, high
        time.sleep(0.2)
    raise AssertionError("log start of %s stayed at %s" % (topic, watermarks(broker, topic)))


def segments(broker, topic):
    return sorted(p.name for p in (broker.data_dir / ("%s-0" % topic)).glob("*.log"))


def first_read(broker, topic, reset, offset=0):
    """The offset of the first record a consumer assigned at `offset` gets."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "r-" + reset,
                         "auto.offset.reset": reset, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, offset)])
    try:
        for _ in range(50):
            for m in consumer.consume(10, 0.2):
                if not m.error():
                    return m.offset()
        return None
    finally:
        consumer.close()


def test_retention_bytes_deletes_the_oldest_segments(make_broker):
    broker = make_broker(log_retention_check_interval_ms=200)
    create(broker, "sized", **{"segment.bytes": "20000", "retention.bytes": "50000"})
    produce(broker, "sized", 200)
    low, high = wait_for_start(broker, "sized", lambda low, high: low > 0)
    assert high == 200
    # What is left holds at least retention.bytes, and not a whole segment
    # more, once a retention pass has run after the last append (one may
    # have run while the records were still arriving).
    files = broker.data_dir / "sized-0"
    deadline = time.time() + 10
    while True:
        size = sum(p.stat().st_size for p in files.glob("*.log"))
        if size < 50000 + 20000 + 1100 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert 50000 <= size < 50000 + 20000 + 1100, size
    low, high = wait_for_start(broker, "sized", lambda low, high: high == 200)
    assert segments(broker, "sized")[0] == "%020d.log" % low
    # Below the start: earliest resets to it, latest to the end.
    assert first_read(broker, "sized", "earliest") == low
    assert first_read(broker, "sized", "latest") is None
    # DeleteRecords moves the start further, and retention goes on.
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    tp = TopicPartition("sized", 0, low + 5)
    assert admin.delete_records([tp])[TopicPartition("sized", 0)].result(10).low_watermark == low + 5
    assert first_read(broker, "sized", "earliest") == low + 5
    produce(broker, "sized", 100)
    later, _ = wait_for_start(broker, "sized", lambda l, h: l > low + 5 and h == 300)
    assert first_read(broker, "sized", "earliest", offset=later) == later


def test_retention_ms_deletes_segments_that_expired_even_when_idle(make_broker):
    broker = make_broker(log_retention_check_interval_ms=200)
    create(broker, "timed", **{"retention.ms": "1500", "segment.ms": "500"})
    kept = "kept"
    create(broker, kept)  # the broker default: 7 days
    produce(broker, "timed", 20)
    produce(broker, kept, 20)
    # Nothing more is produced: segment.ms rolls the active segment, and
    # once its records are older than retention.ms it goes too.
    assert wait_for_start(broker, "timed", lambda low, high: low == high == 20)
    assert first_read(broker, "timed", "earliest") is None
    produce(broker, "timed", 3)
    assert first_read(broker, "timed", "earliest") == 20
    assert watermarks(broker, kept) == (0, 20)


def test_kill_during_retention_leaves_a_whole_log(make_broker):
    broker = make_broker(log_retention_check_interval_ms=50)
    create(broker, "killed", **{"segment.bytes": "20000", "retention.bytes": "30000"})
    # Kill the broker while retention is deleting segments of a log that
    # keeps growing, several times; each restart must find a log whose
    # records from its start to its end are all there, in order.
    produced = 0
    for round in range(4):
        produce(broker, "killed", 60)
        produced += 60
        time.sleep(0.05 * round)
        broker.kill()
        broker.start()
        low, high = watermarks(broker, "killed")
        assert high == produced
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "k",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.assign([TopicPartition("killed", 0, low)])
        offsets = []
        for _ in range(100):
            offsets += [(m.offset(), m.value()[:6]) for m in consumer.consume(100, 0.2) if not m.error()]
            if offsets and offsets[-1][0] == high - 1:
                break
        consumer.close()
        start = offsets[0][0]
        assert start >= low
        assert offsets == [(o, b"%06d" % (o % 60)) for o in range(start, high)]
        assert not list((broker.data_dir / "killed-0").glob("*.deleted"))
    assert low > 0, "retention deleted segments along the way"
