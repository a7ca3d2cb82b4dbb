"""Client quotas, as Kafka's: AlterClientQuotas / DescribeClientQuotas (sent
raw: neither confluent-kafka nor kafka-python has them) keep byte-rate
and request-time quotas per user and client id in the metadata log; a
producer or consumer over its quota is answered with throttle_time_ms and
its connection muted, so it runs at its rate — measured here within 10% —
while others do not slow down; a client over its request_percentage is
throttled in whatever API it uses. Quotas Weir does not enforce are
refused, not stored."""

import socket
import struct
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker

RATE = 1_000_000


def string(s):
    return struct.pack(">h", len(s)) + s.encode()


def nullable(s):
    return struct.pack(">h", -1) if s is None else string(s)


def request(node, api_key, body):
    header = struct.pack(">hhih", api_key, 0, 1, 4) + b"test"
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        return s.recv(size, socket.MSG_WAITALL)[4:]


def alter(node, entity, ops):
    """AlterClientQuotas v0 for one entity: returns (error code, message)."""
    body = struct.pack(">i", 1) + struct.pack(">i", len(entity))
    for kind, name in entity:
        body += string(kind) + nullable(name)
    body += struct.pack(">i", len(ops))
    for key, value in ops:
        body += string(key) + struct.pack(">d?", value or 0.0, value is None)
    body += struct.pack(">?", False)
    answer = request(node, 49, body)
    code, n = struct.unpack(">hh", answer[8:12])
    return code, (answer[12:12 + n].decode() if n >= 0 else None)


def describe(node):
    """DescribeClientQuotas v0 of every entity: {((type, name), ...): {key: value}}."""
    answer = request(node, 48, struct.pack(">i", 0) + struct.pack(">?", False))
    at = 4
    code, n = struct.unpack(">hh", answer[at:at + 4])
    assert code == 0
    at += 4 + max(n, 0)
    found = {}
    (entries,) = struct.unpack(">i", answer[at:at + 4])
    at += 4

    def read_string():
        nonlocal at
        (n,) = struct.unpack(">h", answer[at:at + 2])
        at += 2
        if n < 0:
            return None
        at += n
        return answer[at - n:at].decode()

    for _ in range(entries):
        (parts,) = struct.unpack(">i", answer[at:at + 4])
        at += 4
        entity = tuple((read_string(), read_string()) for _ in range(parts))
        (values,) = struct.unpack(">i", answer[at:at + 4])
        at += 4
        found[entity] = {}
        for _ in range(values):
            key = read_string()
            found[entity][key] = struct.unpack(">d", answer[at:at + 8])[0]
            at += 8
    return found


@pytest.fixture
def node(tmp_path):
    node = Broker(tmp_path, **{"quota.window.num": 3}).start()
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    for f in admin.create_topics([NewTopic("q", 1, 1)]).values():
        f.result(10)
    yield node
    node.stop()


def test_quotas_are_altered_described_and_refused_where_not_enforced(node):
    assert alter(node, [("client-id", "fast")], [("producer_byte_rate", RATE)]) == (0, None)
    assert alter(node, [("user", None)], [("consumer_byte_rate", 2 * RATE)]) == (0, None)
    assert describe(node) == {(("client-id", "fast"),): {"producer_byte_rate": RATE},
                              (("user", None),): {"consumer_byte_rate": 2 * RATE}}
    code, message = alter(node, [("user", "alice")], [("controller_mutation_rate", 50.0)])
    assert code == 42 and "not supported" in message
    code, message = alter(node, [("user", "alice")], [("request_percentage", -1.0)])
    assert code == 42 and "percentage" in message
    code, message = alter(node, [("ip", None)], [("connection_creation_rate", 5.0)])
    assert code == 42 and "ip" in message
    assert alter(node, [("user", None)], [("consumer_byte_rate", None)]) == (0, None)
    node.stop()
    node.start()
    assert describe(node) == {(("client-id", "fast"),): {"producer_byte_rate": RATE}}


def acked_rate(client_id, node, seconds, value=10_000, skip=4):
    """Produces as fast as acks come back for `seconds`; returns the bytes
    per second acknowledged after the first `skip` seconds."""
    acked = []
    producer = Producer({"bootstrap.servers": node.bootstrap, "client.id": client_id, "linger.ms": 5,
                         "batch.size": 100_000, "queue.buffering.max.kbytes": 4096})
    payload = b"x" * value
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            producer.produce("q", payload, partition=0,
                             on_delivery=lambda e, m: acked.append(time.monotonic()) if e is None else None)
        except BufferError:
            producer.poll(0.05)
        producer.poll(0)
    producer.flush(30)
    counted = [t for t in acked if started + skip <= t < started + seconds]
    return len(counted) * value / (seconds - skip)


def test_a_fast_producer_is_throttled_to_its_rate(node):
    alter(node, [("client-id", "fast")], [("producer_byte_rate", RATE)])
    rate = acked_rate("fast", node, 14)
    assert abs(rate - RATE) / RATE < 0.10, "produced %.0f B/s against a quota of %d" % (rate, RATE)
    unlimited = acked_rate("free", node, 6, skip=1)
    assert unlimited > 5 * RATE, "another client id is not held back: %.0f B/s" % unlimited


def test_a_fast_consumer_is_throttled_to_its_rate(node):
    # Batches of at most 100 KB: a fetch answers at least one whole batch,
    # and 1 MB batches would meter the reads in seconds.
    producer = Producer({"bootstrap.servers": node.bootstrap, "linger.ms": 20, "batch.size": 100_000})
    for _ in range(3000):
        producer.produce("q", b"y" * 10_000, partition=0)
    assert producer.flush(60) == 0
    alter(node, [("client-id", "reader")], [("consumer_byte_rate", RATE)])
    # Small fetches and a small local queue: what the application reads is
    # what was fetched lately, in pieces small beside the 10 s measured.
    consumer = Consumer({"bootstrap.servers": node.bootstrap, "client.id": "reader", "group.id": "r",
                         "fetch.max.bytes": 100_000, "message.max.bytes": 100_000,
                         "max.partition.fetch.bytes": 100_000, "queued.max.messages.kbytes": 200})
    consumer.assign([TopicPartition("q", 0, 0)])
    started = time.monotonic()
    read = []
    while time.monotonic() - started < 14:
        for m in consumer.consume(100, 0.2):
            if not m.error():
                read.append((time.monotonic(), len(m.value())))
    consumer.close()
    # The quota counts batches as fetched, and the application reads them
    # some time later: 15% here (a producer's 10% is timed at its acks).
    counted = sum(n for t, n in read if started + 4 <= t)
    rate = counted / 10
    assert abs(rate - RATE) / RATE < 0.15, "read %.0f B/s against a quota of %d" % (rate, RATE)
    # Over the whole run: the quota, plus the burst allowed (quota.window.num
    # 3: two windows of a second), plus the one fetch that went past it.
    assert sum(n for _, n in read) <= RATE * 14 + 2 * RATE + 200_000


def metadata_loop(node, client_id, seconds):
    """Metadata v4 requests (all topics) one after another on one
    connection for `seconds`: (how many were answered, the largest
    throttle_time_ms)."""
    header = struct.pack(">hhih", 3, 4, 0, len(client_id)) + client_id.encode()
    body = struct.pack(">i?", -1, False)
    frame = struct.pack(">i", len(header) + len(body)) + header + body
    answered, throttled = 0, 0
    with socket.create_connection(("127.0.0.1", node.port), timeout=30) as s:
        deadline = time.time() + seconds
        while time.time() < deadline:
            s.sendall(frame)
            size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
            answer = s.recv(size, socket.MSG_WAITALL)
            throttled = max(throttled, struct.unpack(">i", answer[4:8])[0])
            answered += 1
    return answered, throttled


def test_a_client_over_its_request_percentage_is_throttled(node):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    for f in admin.create_topics([NewTopic("many-%d" % i, 4, 1) for i in range(50)]).values():
        f.result(10)
    # 0.5% of one thread: 5 ms of handling a second.
    assert alter(node, [("client-id", "busy")], [("request_percentage", 0.5)]) == (0, None)
    free, free_throttle = metadata_loop(node, "free", 3)
    busy, busy_throttle = metadata_loop(node, "busy", 6)
    assert free_throttle == 0
    assert busy_throttle > 0, "the busy client is told it is throttled"
    assert busy / 6 < free / 3 / 3, "free: %d in 3 s, busy: %d in 6 s" % (free, busy)
