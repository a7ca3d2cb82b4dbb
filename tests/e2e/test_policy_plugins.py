"""Retention and compaction policy plugins (the standard ones, built from
source in plugins/), bound with weir.retention.policy and
weir.compaction.policy, each changing the outcome as documented — and a
failing policy falling back to the native rule, counted."""

import pathlib
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from test_compaction import (KEYS, cleaner_broker, compacted, create, produce_updates, read_from_start,
                             wait_until)
from test_plugin_on_error import metrics
from test_retention import watermarks

ROOT = pathlib.Path(__file__).resolve().parents[2]
WASM = ROOT / "target/wasm32-wasip2/release"


def plugin(name, wasm, kind, **config):
    assert (WASM / wasm).exists(), "build the plugins first (tests/run.sh does): %s" % wasm
    return dict(name=name, path=str(WASM / wasm), kind=kind, config=config)


def test_keep_last_n_keeps_a_history_per_key(make_broker):
    broker = cleaner_broker(make_broker, plugins=[
        plugin("last-3", "keep_last_n.wasm", "compaction-policy", n="3"),
        plugin("last-bad", "keep_last_n.wasm", "compaction-policy", n="lots")])
    compacted(broker, "history", **{"weir.compaction.policy": "last-3"})
    latest = produce_updates(broker, "history", rounds=10)

    def three_each():
        got = read_from_start(broker, "history")
        per_key = {}
        for offset, key, value in got:
            per_key.setdefault(key, []).append(value)
        return len(got) == 3 * KEYS and all(len(v) == 3 for v in per_key.values()) and per_key
    per_key = wait_until(three_each)
    assert all(values[-1] == latest[key][1] for key, values in per_key.items())
    assert [v[:4] for v in per_key[b"key-07"]] == [b"v7-7", b"v7-8", b"v7-9"]
    assert metrics(broker, "last-3")["calls"] > 0

    # A policy that fails (its config is wrong) is counted, and the topic
    # is compacted by Kafka's rule instead: one record per key.
    compacted(broker, "fallback", **{"weir.compaction.policy": "last-bad"})
    produce_updates(broker, "fallback", rounds=5)
    wait_until(lambda: len(read_from_start(broker, "fallback")) == KEYS)
    counted = metrics(broker, "last-bad")
    assert counted["refusals"] + counted["failures"] > 0, counted


def test_ttl_per_key_drops_keys_that_stopped_changing(make_broker):
    broker = cleaner_broker(make_broker, plugins=[
        plugin("ttl", "ttl_per_key.wasm", "compaction-policy", **{"ttl-ms": "2000"})])
    compacted(broker, "sessions", **{"weir.compaction.policy": "ttl"})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(20):
        producer.produce("sessions", key=b"old-%d" % i, value=b"x" * 300, partition=0)
    assert producer.flush(10) == 0
    time.sleep(2.5)
    for i in range(20):
        producer.produce("sessions", key=b"new-%d" % i, value=b"y" * 300, partition=0)
    assert producer.flush(10) == 0
    wait_until(lambda: sorted(k for _, k, _ in read_from_start(broker, "sessions"))
               == sorted(b"new-%d" % i for i in range(20)))


def test_consumed_by_all_deletes_only_what_every_group_read(make_broker):
    broker = cleaner_broker(make_broker, plugins=[
        plugin("consumed", "consumed_by_all.wasm", "retention-policy"),
        plugin("consumed-capped", "consumed_by_all.wasm", "retention-policy", **{"max-bytes": "40000"})])
    # retention.ms=1 would delete everything natively: the policy decides.
    config = {"segment.bytes": "16384", "retention.ms": "1"}
    create(broker, "audited", **config, **{"weir.retention.policy": "consumed"})
    create(broker, "capped", **config, **{"weir.retention.policy": "consumed-capped"})
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "batch.num.messages": 10})
    for topic in ("audited", "capped"):
        for i in range(200):
            producer.produce(topic, key=b"k", value=b"%04d" % i + b"." * 500, partition=0)
    assert producer.flush(10) == 0

    # No group reads "audited": nothing goes. "capped" is cut to 40 kB at
    # most (whole segments; the active one stays).
    low, _ = wait_until(lambda: (lambda w: w[0] > 0 and w)(watermarks(broker, "capped")))
    time.sleep(0.5)
    kept = sum(p.stat().st_size for p in (broker.data_dir / "capped-0").glob("*.log"))
    assert kept <= 40000 + 16384 + 600, kept
    assert watermarks(broker, "audited") == (0, 200)

    # Two groups read it; only what both committed past may go.
    for group, offset in (("slow", 90), ("fast", 150)):
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
        consumer.commit(offsets=[TopicPartition("audited", 0, offset)], asynchronous=False)
        consumer.close()
    low, _ = wait_until(lambda: (lambda w: w[0] > 0 and w)(watermarks(broker, "audited")))
    assert 0 < low <= 90
    assert metrics(broker, "consumed")["calls"] > 0
