"""Replication benchmarks (docs/benchmarks.md), outside CI, on a three-node
cluster of real weir processes on this machine with default timeouts:

    cargo build --release -p weir -p weir-bench
    WEIR_BIN=target/release/weir python3 tests/e2e/bench_replication.py [KILLS] [MIB]

- produce MB/s and p50/p99 latency through librdkafka (weir-bench, 1 KiB
  records, 6 partitions, acks=all): replication factor 3 against 1 on the
  same cluster, and a single node;
- failover: kill -9 of a partition's leader until an acks=all produce sent
  after the kill succeeds, median and max over KILLS kills (the killed node
  is restarted and back in the ISR between kills);
- catch-up: a follower stopped while MIB MiB are written comes back; the
  time until it is in the ISR again, and the CPU seconds it spent per GiB
  fetched, beside the leader's CPU per GiB serving a consumer the same data.
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(__file__))
from conftest import Broker  # noqa: E402
from test_cluster import Cluster  # noqa: E402

BENCH = os.path.join(os.path.dirname(os.environ.get("WEIR_BIN", "target/release/weir")), "weir-bench")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create(bootstrap, name, partitions, rf, **configs):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(name, partitions, rf, config={k: str(v) for k, v in configs.items()})
    admin.create_topics([topic])[name].result(timeout=60)


def describe(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(name, timeout=10)
    return {p.id: (p.leader, sorted(p.isrs)) for p in metadata.topics[name].partitions.values()}


def wait(condition, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out")


def weir_bench(bootstrap, rf, records=300_000):
    out = subprocess.run(
        [BENCH, "--bootstrap", bootstrap, "--records", str(records), "--size", "1024", "--partitions", "6",
         "--replication-factor", str(rf), "--acks", "all"],
        capture_output=True, text=True, timeout=900,
    )
    return out.stdout + out.stderr


def produce_figures(text):
    """The produce line(s) of weir-bench's report."""
    return [line for line in text.splitlines() if re.search(r"produce|p50|p99", line, re.I)]


def failover(cluster, kills):
    create(cluster.nodes[0].bootstrap, "failover", 1, 3, **{"min.insync.replicas": 2})
    times = []
    for _ in range(kills):
        wait(lambda: describe(cluster.bootstrap, "failover")[0][1] == [1, 2, 3])
        leader = describe(cluster.bootstrap, "failover")[0][0]
        victim = cluster.nodes[leader - 1]
        others = ",".join(n.bootstrap for n in cluster.nodes if n is not victim)
        producer = Producer({"bootstrap.servers": others, "acks": "all", "linger.ms": 0,
                             "message.timeout.ms": 60000})
        producer.produce("failover", value=b"warm")
        producer.flush(30)
        victim.kill()
        start = time.time()
        done = []
        producer.produce("failover", value=b"after", on_delivery=lambda err, _: done.append(err))
        while not done:
            producer.poll(0.005)
        assert done[0] is None, done[0]
        times.append(time.time() - start)
        victim.start()
    wait(lambda: describe(cluster.bootstrap, "failover")[0][1] == [1, 2, 3])
    return times


def catch_up(cluster, mib):
    n1 = cluster.nodes[0]
    create(n1.bootstrap, "lag", 1, 3, **{"min.insync.replicas": 2})
    leader = describe(n1.bootstrap, "lag")[0][0]
    follower = next(n for n in cluster.nodes if n.config["node.id"] != leader)
    follower.kill()
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "linger.ms": 5,
                         "batch.size": 1 << 20, "queue.buffering.max.kbytes": 1 << 20})
    value = b"x" * 1024
    for i in range(mib * 1024):
        while True:
            try:
                producer.produce("lag", value=value)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(600)
    lpid = cluster.nodes[leader - 1].proc.pid
    leader_before = cpu_seconds(lpid)
    follower.start()
    pid = follower.proc.pid
    start = time.time()
    before = cpu_seconds(pid)
    fid = follower.config["node.id"]
    wait(lambda: fid in describe(n1.bootstrap if follower is not n1 else cluster.nodes[1].bootstrap, "lag")[0][1], 900)
    rejoin = time.time() - start
    follower_cpu = cpu_seconds(pid) - before
    serving_follower = cpu_seconds(lpid) - leader_before
    # The leader serving a consumer the same bytes.
    before = cpu_seconds(lpid)
    consumer = Consumer({"bootstrap.servers": cluster.nodes[leader - 1].bootstrap, "group.id": "bench",
                         "enable.auto.commit": False, "fetch.max.bytes": 50 << 20})
    consumer.assign([TopicPartition("lag", 0, 0)])
    read = 0
    while read < mib * 1024:
        read += sum(1 for m in consumer.consume(10000, 1.0) if m.error() is None)
    consumer.close()
    leader_cpu = cpu_seconds(lpid) - before
    gib = mib / 1024
    return rejoin, follower_cpu / gib, serving_follower / gib, leader_cpu / gib


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    with tempfile.TemporaryDirectory() as tmp:
        single = Broker(os.path.join(tmp, "single"))
        single.workdir.mkdir(parents=True)
        single.start()
        print("single node, RF1:", *produce_figures(weir_bench(single.bootstrap, 1)), sep="\n  ")
        single.stop()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(tmp)
        for node in cluster.nodes:
            # Default timeouts: the test harness's shorter ones go.
            for key in ("broker.heartbeat.interval.ms", "broker.session.timeout.ms",
                        "weir.controlled.shutdown.timeout.ms", "metadata.log.max.record.bytes.between.snapshots"):
                node.config.pop(key, None)
        cluster.start()
        try:
            for rf in (1, 3):
                text = weir_bench(cluster.bootstrap, rf)
                print("cluster, RF%d:" % rf, *produce_figures(text), sep="\n  ")
                admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
                admin.delete_topics(["bench"])["bench"].result(60)
                time.sleep(2)
            times = failover(cluster, kills)
            print("failover over %d kills: median %.2f s, max %.2f s" % (kills, statistics.median(times), max(times)))
            rejoin, follower_cpu, serving_follower, leader_cpu = catch_up(cluster, mib)
            print("catch-up of %d MiB: back in the ISR after %.1f s; follower %.2f CPU-s/GiB fetched; "
                  "leader %.2f CPU-s/GiB serving the follower, %.2f serving a consumer"
                  % (mib, rejoin, follower_cpu, serving_follower, leader_cpu))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
