"""Durability with real files and real processes: a clean restart keeps every
record; a torn tail written into a segment is cut off at start-up; after
kill -9 in the middle of a produce load every acknowledged record is still
there, at its offset, byte for byte."""

import os
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import TopicPartition

from conftest import records
from test_confluent import consume, create_topic, produce

HERE = Path(__file__).resolve().parent


def test_clean_restart_keeps_every_record(broker):
    create_topic(broker, "keep", partitions=3)
    recs = records(30_000)
    delivered, errors = produce(broker, "keep", recs, **{"compression.type": "zstd"})
    assert not errors
    assert broker.stop() == 0, "clean exit on SIGTERM"
    assert (broker.data_dir / ".kafka_cleanshutdown").exists()
    assert "shut down cleanly" in broker.output()
    # A (here empty) producer snapshot at each log end: the next start reads no batch headers.
    for p in range(3):
        ends = sorted(f.name for f in (broker.data_dir / ("keep-%d" % p)).glob("*.snapshot"))
        assert ends, "partition %d has a producer state snapshot" % p

    broker.start()
    assert "recovering" not in broker.output()
    got = consume(broker, "keep", 3, len(recs))
    assert len(got) == len(recs)
    expected = {k: v for k, v, _, _ in recs}
    for msg in got:
        assert msg.value() == expected[msg.key()]
        assert delivered[msg.key()] == (msg.partition(), msg.offset())
    # Offsets continue after the restart.
    more, _ = produce(broker, "keep", records(10, seed=1))
    assert all(offset >= 0 for _, offset in more.values())
    assert len(consume(broker, "keep", 3, len(recs) + 10)) == len(recs) + 10


def test_segments_roll_and_are_named_by_base_offset(broker):
    create_topic(broker, "roll", partitions=1, config={"segment.bytes": "200000", "index.interval.bytes": "1024"})
    recs = records(20_000, value_size=200)
    # Segments roll between batches: small batches make many segments
    # however fast the client is (under load it filled 1 MB batches).
    produce(broker, "roll", recs, **{"batch.size": 16384})
    files = sorted(p.name for p in (broker.data_dir / "roll-0").iterdir())
    logs = [f for f in files if f.endswith(".log")]
    assert len(logs) > 5, files
    assert logs[0] == "%020d.log" % 0
    for log in logs:
        base = log[:-4]
        assert base + ".index" in files and base + ".timeindex" in files
    broker.restart()
    got = consume(broker, "roll", 1, len(recs))
    assert [m.offset() for m in got] == list(range(len(recs)))
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "t"})
    for i in (0, 7_777, 19_999):
        [tp] = consumer.offsets_for_times([TopicPartition("roll", 0, recs[i][3])], timeout=10)
        assert tp.offset == i
    consumer.close()


def test_torn_tail_is_truncated_on_start(broker):
    create_topic(broker, "torn", partitions=1)
    recs = records(5_000)
    produce(broker, "torn", recs)
    broker.kill()
    segment = broker.data_dir / "torn-0" / ("%020d.log" % 0)
    good_size = segment.stat().st_size
    with open(segment, "ab") as f:
        # The start of a batch header whose body never made it to disk.
        f.write((5_000).to_bytes(8, "big") + (500).to_bytes(4, "big") + b"\x00" * 40)
    broker.start()
    assert "truncated" in broker.output()
    assert segment.stat().st_size == good_size
    got = consume(broker, "torn", 1, len(recs))
    assert [m.offset() for m in got] == list(range(5_000))
    more, errors = produce(broker, "torn", records(1, seed=3))
    assert not errors and list(more.values()) == [(0, 5_000)]


def test_kill_9_under_produce_load_keeps_every_acknowledged_record(broker, tmp_path):
    create_topic(broker, "load", partitions=3)
    acked = tmp_path / "acked.txt"
    producer = subprocess.Popen([sys.executable, str(HERE / "acked_producer.py"), broker.bootstrap, str(acked), "load"])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.5)
            if acked.exists() and sum(1 for _ in open(acked)) > 50_000:
                break
        broker.kill()  # while the producer is still sending
    finally:
        time.sleep(0.5)
        producer.kill()
        producer.wait()
    # Only whole lines: the producer may have been killed in the middle of one.
    lines = acked.read_text().split("\n")[:-1]
    acknowledged = {(int(p), int(o)): n for p, o, n in (line.split() for line in lines)}
    assert len(acknowledged) > 50_000

    broker.start()
    assert "recovering" in broker.output()
    ends = {}
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "t"})
    for p in range(3):
        ends[p] = consumer.get_watermark_offsets(TopicPartition("load", p), timeout=10)[1]
    consumer.close()
    got = consume(broker, "load", 3, sum(ends.values()))
    stored = {(m.partition(), m.offset()): m for m in got}
    for (p, o), n in acknowledged.items():
        msg = stored.get((p, o))
        assert msg is not None, "acknowledged record %s at %d/%d is lost" % (n, p, o)
        assert msg.key() == n.encode()
        assert msg.value() == (b"record-%s|" % n.encode()) * (1 + int(n) % 7)
    for p in range(3):
        offsets = sorted(o for (q, o) in stored if q == p)
        assert offsets == list(range(len(offsets))), "no gaps in partition %d" % p
