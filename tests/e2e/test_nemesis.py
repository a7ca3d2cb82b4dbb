"""A Jepsen-style check of replication with real processes: idempotent
acks=all producers write numbered records to an RF3 / min.insync.replicas 2
topic, and a consumer group reads and commits, while a nemesis, at random,
kills -9 a broker (leader or not) and restarts it, pauses one with SIGSTOP
past replica.lag.time.max.ms and the session timeout, kills the active
controller, stops one with SIGTERM, or cuts one off from every other node
and the clients (each broker in its own network namespace, where the
machine allows: see netns.py) -- one fault at a time, waiting for the
cluster to heal in between. Then a checker reads every partition and
asserts: no acknowledged record lost or moved, no duplicate, each writer's
order kept per partition, the high watermark never moved backward as the
consumers saw it, and committed group offsets never moved backward.

NEMESIS_FAULTS sets the number of faults (20 in CI); the soak is
`NEMESIS_FAULTS=300 WEIR_BIN=target/release/weir python3 -m pytest tests/e2e/test_nemesis.py`
(its last result is in docs/benchmarks.md). NEMESIS_SEED replays a run's
choice of faults."""

import os
import random
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

import netns
from test_cluster import Cluster
from test_replication import create, describe, until

TOPIC = "jepsen"
PARTITIONS = 3
FAULTS = int(os.environ.get("NEMESIS_FAULTS", "20"))
SEED = int(os.environ.get("NEMESIS_SEED", str(int(time.time()))))


class Writer(threading.Thread):
    """One idempotent acks=all producer writing w<id>-<n> values; keeps
    (partition, offset, value) of every acknowledged record."""

    def __init__(self, bootstrap, wid):
        super().__init__(daemon=True)
        self.wid = wid
        self.acked = []
        self.failed = 0
        self.fatal = None
        self.stop = threading.Event()
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": 120000,
            }
        )

    def report(self, err, msg):
        if err is None:
            self.acked.append((msg.partition(), msg.offset(), msg.value()))
        elif err.fatal():
            self.fatal = err
        else:
            self.failed += 1

    def run(self):
        n = 0
        while not self.stop.is_set() and self.fatal is None:
            value = b"w%d-%08d" % (self.wid, n)
            try:
                self.producer.produce(TOPIC, key=b"%d" % (n % 16), value=value, on_delivery=self.report)
                n += 1
            except BufferError:
                pass
            self.producer.poll(0.002)
        self.producer.flush(150)


class Reader(threading.Thread):
    """A group member that reads and commits, and samples the high
    watermark and the group's committed offsets, which must never go back."""

    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.backward = []
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "nemesis-readers",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10000,
            }
        )

    def run(self):
        self.consumer.subscribe([TOPIC])
        high = {}
        committed = {}
        while not self.stop.is_set():
            messages = self.consumer.consume(500, 0.5)
            if messages:
                try:
                    self.consumer.commit(asynchronous=False)
                except KafkaException:
                    pass
            for p in range(PARTITIONS):
                try:
                    _, hw = self.consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=2, cached=True)
                except KafkaException:
                    continue
                if hw >= 0:
                    if hw < high.get(p, -1):
                        self.backward.append(("high watermark", p, high[p], hw))
                    high[p] = max(high.get(p, -1), hw)
            try:
                for tp in self.consumer.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=2):
                    if tp.offset >= 0:
                        if tp.offset < committed.get(tp.partition, -1):
                            self.backward.append(("committed", tp.partition, committed[tp.partition], tp.offset))
                        committed[tp.partition] = max(committed.get(tp.partition, -1), tp.offset)
            except KafkaException:
                pass
        self.consumer.close()


def healed(cluster):
    """Every broker back and every partition's ISR full."""
    live = [n for n in cluster.nodes if n.proc is not None]
    if len(live) < len(cluster.nodes):
        return False
    try:
        status = cluster.status(live[0])
        if len([b for b in status["brokers"] if b["state"] == "running"]) < len(cluster.nodes):
            return False
        return all(len(isr) == 3 and leader > 0 for leader, _, isr in describe(cluster.bootstrap, TOPIC).values())
    except Exception:
        return False


def inflict(cluster, net, rng, log):
    """One fault, then the repair."""
    kinds = ["kill", "kill-controller", "pause", "stop"] + (["cut"] if net else [])
    kind = rng.choice(kinds)
    if kind == "kill-controller":
        victim = cluster.controller()
    else:
        victim = rng.choice(cluster.nodes)
    log.append((kind, victim.config["node.id"]))
    if kind in ("kill", "kill-controller"):
        victim.kill()
        time.sleep(rng.uniform(1, 4))
        victim.start()
    elif kind == "stop":
        victim.stop()
        time.sleep(rng.uniform(0.5, 2))
        victim.start()
    elif kind == "cut":
        index = cluster.nodes.index(victim)
        net.cut(index)
        time.sleep(rng.uniform(2.5, 4))
        net.heal(index)
    else:
        victim.proc.send_signal(19)  # SIGSTOP, past the lag and session timeouts
        time.sleep(rng.uniform(2.5, 4))
        victim.proc.send_signal(18)
    until(lambda: healed(cluster), timeout=60)


def test_no_acknowledged_record_is_lost_under_faults(tmp_path):
    rng = random.Random(SEED)
    print("NEMESIS_SEED=%d" % SEED)
    net = netns.Net(3) if netns.available() else None
    if net is None:
        print("no network namespaces here (needs root): no cut-off faults")
    cluster = Cluster(tmp_path, net=net)
    for node in cluster.nodes:
        node.config["replica.lag.time.max.ms"] = 1500
        node.config["replica.fetch.backoff.ms"] = 200
    cluster.start()
    try:
        create(cluster.nodes[0].bootstrap, TOPIC, PARTITIONS, 3, **{"min.insync.replicas": 2})
        until(lambda: healed(cluster), timeout=30)
        bootstrap = cluster.bootstrap
        writers = [Writer(bootstrap, i) for i in range(2)]
        reader = Reader(bootstrap)
        for t in writers + [reader]:
            t.start()
        log = []
        for _ in range(FAULTS):
            time.sleep(rng.uniform(0.5, 2))
            inflict(cluster, net, rng, log)
        time.sleep(2)
        for t in writers + [reader]:
            t.stop.set()
        for t in writers + [reader]:
            t.join(180)
        print("faults:", log)
        check(cluster, writers, reader)
    finally:
        cluster.stop()
        if net:
            net.close()


def check(cluster, writers, reader):
    for w in writers:
        assert w.fatal is None, "writer %d: fatal error %s" % (w.wid, w.fatal)
    acked = [a for w in writers for a in w.acked]
    print("acknowledged: %d, failed deliveries: %d" % (len(acked), sum(w.failed for w in writers)))
    assert len(acked) > 1000, "too few writes to judge: %d" % len(acked)
    # Every finding is gathered, then reported together.
    problems = []
    if reader.backward:
        problems.append("moved backward: %s" % reader.backward[:5])
    # Read everything back.
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": "nemesis-check",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    ends = {}
    for p in range(PARTITIONS):
        _, ends[p] = consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10, cached=False)
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
    stored = {p: {} for p in range(PARTITIONS)}
    deadline = time.time() + 120
    while any(len(stored[p]) < ends[p] for p in range(PARTITIONS)) and time.time() < deadline:
        for m in consumer.consume(1000, 1.0):
            if m.error() is None:
                stored[m.partition()][m.offset()] = m.value()
    consumer.close()
    for p in range(PARTITIONS):
        if len(stored[p]) != ends[p]:
            problems.append("partition %d: read %d of %d" % (p, len(stored[p]), ends[p]))
    # No acknowledged record lost or moved.
    lost = [(p, o, v) for p, o, v in acked if stored[p].get(o) != v]
    if lost:
        problems.append("%d acknowledged records lost or moved, e.g. %s" % (len(lost), lost[:5]))
    # No duplicate: each value once in the whole topic.
    values = [v for p in stored for v in stored[p].values()]
    if len(values) != len(set(values)):
        problems.append("%d duplicates" % (len(values) - len(set(values))))
    # Each writer's records keep their order within a partition.
    for p in range(PARTITIONS):
        last = {}
        for offset in sorted(stored[p]):
            wid, n = stored[p][offset].split(b"-")
            if int(n) <= last.get(wid, -1):
                problems.append("partition %d: %s out of order at %d" % (p, stored[p][offset], offset))
            last[wid] = int(n)
    print("checked: %d records stored; problems: %s" % (len(values), problems or "none"))
    assert not problems, problems
