"""Storage faults with real files and real processes: a full disk (a real
64 MiB tmpfs) loses no acknowledged record, before or after kill -9; a
damaged segment tail is cut off even after a clean stop, before new records
land behind it; a damaged middle segment is refused to readers rather than
served, and `weir log verify` reports it."""

import os
import subprocess
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING

from conftest import WEIR
from test_confluent import consume, create_topic, produce


@pytest.fixture
def small_disk(tmp_path):
    """A real 64 MiB filesystem (tmpfs), unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def produce_numbered(broker, topic, first, count, value_size=10_000, timeout_ms=4_000, **conf):
    """Sends records numbered first.. with acks=all; returns {n: offset} of
    the acknowledged ones and the errors of the others."""
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": timeout_ms,
            "enable.idempotence": False,
            **conf,
        }
    )
    acked, errors = {}, []

    def report(err, msg):
        if err:
            errors.append(err)
        else:
            acked[int(msg.key())] = msg.offset()

    for n in range(first, first + count):
        value = ((b"%d|" % n) * value_size)[:value_size]
        while True:
            try:
                producer.produce(topic, key=b"%d" % n, value=value, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    return acked, errors


def read_all(broker, topic, end):
    """Every record of partition 0 below `end`, with CRCs checked."""
    got = consume(broker, topic, 1, end, timeout=60, **{"check.crcs": True})
    return {m.offset(): m for m in got}


def assert_readable(stored, acked):
    for n, offset in acked.items():
        msg = stored.get(offset)
        assert msg is not None, "acknowledged record %d at offset %d is not readable" % (n, offset)
        assert int(msg.key()) == n and msg.value().startswith(b"%d|" % n)


def metric(broker, name):
    text = urllib.request.urlopen(broker.admin_url + "/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s in:\n%s" % (name, text))


def test_a_full_disk_loses_no_acknowledged_record(make_broker, small_disk):
    # Ballast to free later: the disk fills while it is there.
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (16 << 20))
    broker = make_broker(log_dirs=str(small_disk / "data"))
    create_topic(broker, "full", partitions=1, config={"segment.bytes": str(8 << 20)})

    acked, errors = produce_numbered(broker, "full", 0, 6_000)
    assert errors, "64 MiB cannot hold 60 MB of records beside the ballast"
    assert any("STORAGE" in str(e) or "TIMED_OUT" in str(e) for e in errors), errors[:3]
    assert len(acked) > 1_000
    assert "could not append" in broker.output() and str(small_disk / "data") in broker.output()
    assert metric(broker, "weir_log_append_failures_total") >= 1

    ballast.unlink()
    more, errors = produce_numbered(broker, "full", 100_000, 500, timeout_ms=30_000)
    assert not errors and len(more) == 500
    acked.update(more)
    end = max(acked.values()) + 1
    assert_readable(read_all(broker, "full", len(acked)), acked)
    assert subprocess.run([WEIR, "log", "verify", str(small_disk / "data")], capture_output=True).returncode == 0

    broker.kill()
    broker.start()
    stored = read_all(broker, "full", len(acked))
    assert_readable(stored, acked)
    assert max(stored) + 1 >= end


def test_a_cut_tail_after_a_clean_stop_is_truncated_before_new_appends(broker):
    create_topic(broker, "cut", partitions=1)
    # Small batches (~30 records): the cut takes only the last one, however
    # the producer happened to batch (a 1 MB batch would take most records).
    acked, errors = produce_numbered(broker, "cut", 0, 2_000, value_size=500, **{"batch.size": 16384})
    assert not errors
    assert broker.stop() == 0
    segment = broker.data_dir / "cut-0" / ("%020d.log" % 0)
    size = segment.stat().st_size
    os.truncate(segment, size - 300)

    broker.start()
    assert "cut a damaged tail off the active segment" in broker.output()
    stored = read_all(broker, "cut", 1)
    # What is left is every record before the last batch, and readable.
    survivors = {n: o for n, o in acked.items() if o < max(stored) + 1}
    end = max(stored) + 1
    stored = read_all(broker, "cut", end)
    assert len(stored) == end and end > 1_500
    assert_readable(stored, survivors)
    more, errors = produce_numbered(broker, "cut", 10_000, 100, value_size=500)
    assert not errors and min(more.values()) == end
    broker.kill()
    broker.start()
    stored = read_all(broker, "cut", end + 100)
    assert_readable(stored, {**survivors, **more})


def test_a_damaged_middle_segment_is_refused_not_served_and_verify_reports_it(broker):
    create_topic(broker, "flip", partitions=1, config={"segment.bytes": "200000"})
    acked, errors = produce_numbered(broker, "flip", 0, 3_000, value_size=500, **{"batch.size": 16384})
    assert not errors
    assert broker.stop() == 0
    data = broker.data_dir / "flip-0"
    logs = sorted(data.glob("*.log"))
    assert len(logs) >= 4
    ok = subprocess.run([WEIR, "log", "verify", str(broker.data_dir)], capture_output=True, text=True)
    assert ok.returncode == 0 and "0 damaged" in ok.stdout, ok.stdout
    middle = logs[len(logs) // 2]
    damaged_base = int(middle.name[:-4])
    with open(middle, "r+b") as f:
        f.seek(middle.stat().st_size // 2)
        f.write(b"\xa5" * 16)
    report = subprocess.run([WEIR, "log", "verify", str(data)], capture_output=True, text=True)
    assert report.returncode == 1
    assert "DAMAGED %s" % middle in report.stdout, report.stdout

    broker.start()
    # A consumer without CRC checks gets every record before the damaged
    # batch, then nothing: the broker refuses the batch instead of serving it.
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "flip", "check.crcs": False})
    consumer.assign([TopicPartition("flip", 0, OFFSET_BEGINNING)])
    got = []
    deadline = time.time() + 20
    while time.time() < deadline:
        for msg in consumer.consume(1_000, 0.5):
            if not msg.error():
                got.append(msg)
    consumer.close()
    offsets = [m.offset() for m in got]
    assert offsets == list(range(len(offsets)))
    assert damaged_base <= len(offsets) < 3_000
    for m in got:
        assert m.value().startswith(b"%d|" % int(m.key())), "garbage reached a consumer"
    assert "refused to serve a damaged batch" in broker.output()
    assert metric(broker, "weir_log_damaged_reads_total") >= 1
    # Records after the damage are still readable from a later offset.
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "flip2"})
    logs_after = [int(p.name[:-4]) for p in logs if int(p.name[:-4]) > damaged_base]
    consumer.assign([TopicPartition("flip", 0, logs_after[0])])
    msgs = [m for m in consumer.consume(100, 10) if not m.error()]
    consumer.close()
    assert msgs and msgs[0].offset() == logs_after[0]


def test_a_partition_cap_refuses_creation_before_recording_it(make_broker):
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

    broker = make_broker(weir_max_partitions=40)
    client = AdminClient({"bootstrap.servers": broker.bootstrap})
    with pytest.raises(Exception) as refused:
        client.create_topics([NewTopic("huge", 50, 1)])["huge"].result(10)
    assert "POLICY_VIOLATION" in str(refused.value) and "weir.max.partitions (40)" in str(refused.value)
    assert "huge" not in client.list_topics(timeout=10).topics
    client.create_topics([NewTopic("fits", 30, 1)])["fits"].result(10)
    with pytest.raises(Exception) as refused:
        client.create_partitions([NewPartitions("fits", 45)])["fits"].result(10)
    assert "weir.max.partitions" in str(refused.value)
    assert len(client.list_topics(timeout=10).topics["fits"].partitions) == 30


def test_partitions_that_cannot_open_go_offline_and_the_rest_serve(make_broker):
    from confluent_kafka.admin import AdminClient, NewTopic

    broker = make_broker(weir_max_partitions=100_000)
    client = AdminClient({"bootstrap.servers": broker.bootstrap})
    client.create_topics([NewTopic("many", 400, 1)])["many"].result(30)
    assert broker.stop() == 0
    # 400 partitions need 1,200 files: with 600 the broker still starts.
    broker.nofile = 600
    broker.start()
    assert "it is offline" in broker.output()
    meta = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics("many", timeout=10).topics["many"]
    offline = [p for p in meta.partitions.values() if p.leader == -1]
    online = [p for p in meta.partitions.values() if p.leader == 1]
    assert offline and online and len(offline) + len(online) == 400
    assert all(p.error is not None and p.error.code() == KafkaError.LEADER_NOT_AVAILABLE for p in offline)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 3000})
    results = {}
    for p in (online[0].id, offline[0].id):
        producer.produce("many", value=b"x", partition=p, on_delivery=lambda err, msg: results.update({msg.partition(): err}))
    producer.flush(10)
    assert results[online[0].id] is None
    assert results[offline[0].id] is not None
    # Back with enough files, every partition serves again.
    broker.stop()
    broker.nofile = None
    broker.start()
    meta = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics("many", timeout=10).topics["many"]
    assert all(p.leader == 1 for p in meta.partitions.values())


def open_files_under(broker, directory):
    fds = "/proc/%d/fd" % broker.proc.pid
    links = []
    for fd in os.listdir(fds):
        try:
            links.append(os.readlink(os.path.join(fds, fd)))
        except OSError:
            pass
    return [link for link in links if link.startswith(str(directory))]


def test_idle_closed_segments_hold_no_open_files(make_broker):
    broker = make_broker(weir_segment_file_idle_ms=300)
    create_topic(broker, "segs", partitions=1, config={"segment.bytes": "20000"})
    acked, errors = produce_numbered(broker, "segs", 0, 2_000, value_size=500, **{"batch.size": 4096})
    assert not errors
    directory = broker.data_dir / "segs-0"
    segments = len(list(directory.glob("*.log")))
    assert segments > 20
    time.sleep(1.5)
    # Only the active segment's .log, .index and .timeindex stay open.
    assert len(open_files_under(broker, directory)) <= 3, open_files_under(broker, directory)
    stored = read_all(broker, "segs", 2_000)
    assert_readable(stored, acked)
    time.sleep(1.5)
    assert len(open_files_under(broker, directory)) <= 3
