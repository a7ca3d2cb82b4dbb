"""Cluster benchmarks (docs/benchmarks.md), outside CI:

    WEIR_BIN=target/release/weir python3 tests/e2e/bench_cluster.py [KILLS]

- controller failover: kill -9 of the active controller until a CreateTopics
  sent to the survivors succeeds, median and max over KILLS kills (the
  killed node is restarted and caught up between kills);
- metadata propagation: CreateTopics answered until every broker's Metadata
  lists the topic, p50 and p99;
- CreateTopics throughput, one at a time, with 3 voters, with 1 voter (a
  cluster of one node: a quorum of one) and on a single node (whose log is
  the local journal).
"""

import statistics
import sys
import tempfile
import time

from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, __import__("os").path.dirname(__file__))
from conftest import Broker  # noqa: E402
from test_cluster import Cluster  # noqa: E402


def create(admin, name, timeout=30):
    admin.create_topics([NewTopic(name, 1, 1)], request_timeout=timeout)[name].result(timeout=timeout + 5)


def failover(cluster, kills):
    times = []
    for k in range(kills):
        victim = cluster.controller()
        others = [n for n in cluster.nodes if n is not victim]
        admin = AdminClient({"bootstrap.servers": ",".join(n.bootstrap for n in others)})
        create(admin, "warm-%d" % k)
        victim.kill()
        start = time.time()
        for attempt in range(1000):
            try:
                create(admin, "failover-%d-%d" % (k, attempt), timeout=5)
                break
            except Exception:
                time.sleep(0.01)
        times.append(time.time() - start)
        victim.start()
        cluster.wait(lambda s: len(s["voters"]) == 3 and all(v["lag"] == 0 for v in s["voters"]))
    return times


def propagation(cluster, count):
    admins = [AdminClient({"bootstrap.servers": n.bootstrap}) for n in cluster.nodes]
    times = []
    for i in range(count):
        name = "prop-%d" % i
        create(admins[i % 3], name)
        start = time.time()
        for admin in admins:
            while name not in admin.list_topics(topic=name, timeout=5).topics or (
                admin.list_topics(topic=name, timeout=5).topics[name].error is not None
            ):
                time.sleep(0.0005)
        times.append(time.time() - start)
    return times


def throughput(bootstrap, count):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    start = time.time()
    for i in range(count):
        create(admin, "tp-%d" % i)
    return count / (time.time() - start)


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(tmp).start()
        try:
            times = failover(cluster, kills)
            print(
                "failover (kill -9 of the active controller -> CreateTopics ok), %d kills: median %.2f s, max %.2f s"
                % (kills, statistics.median(times), max(times))
            )
            prop = sorted(propagation(cluster, 200))
            print(
                "propagation (CreateTopics answered -> on every broker): p50 %.1f ms, p99 %.1f ms"
                % (1e3 * prop[len(prop) // 2], 1e3 * prop[int(len(prop) * 0.99)])
            )
            print("CreateTopics, 3 voters: %.0f topics/s" % throughput(cluster.nodes[0].bootstrap, 300))
        finally:
            cluster.stop()
    with tempfile.TemporaryDirectory() as tmp:
        one = Cluster(tmp, size=1).start()
        try:
            print("CreateTopics, 1 voter: %.0f topics/s" % throughput(one.nodes[0].bootstrap, 300))
        finally:
            one.stop()
    with tempfile.TemporaryDirectory() as tmp:
        single = Broker(tmp).start()
        try:
            print("CreateTopics, 1 node: %.0f topics/s" % throughput(single.bootstrap, 300))
        finally:
            single.stop()


if __name__ == "__main__":
    main()
