"""Hot reload in a running broker, under a continuous produce and consume
load: `weir plugin deploy` and an overwritten plugin file each swap a
produce interceptor atomically — no request fails, every record was seen by
exactly one version, and from the moment a deploy returns every new record
shows the new behaviour. `weir plugin list` and `remove` as a user runs them."""

import json
import os
import pathlib
import shutil
import subprocess
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import WEIR
from test_interceptors import WASM


def weir_plugin(broker, *args):
    return subprocess.run([WEIR, "plugin", "--admin", broker.admin_url, *args],
                          capture_output=True, text=True, timeout=60)


def version_of(message):
    """1: stamped by header-stamp; 2: masked by redact."""
    headers = dict(message.headers() or [])
    value = json.loads(message.value())
    if headers.get("stamp") == b"v1" and value["secret"] == "s":
        return 1
    if "stamp" not in headers and value["secret"] == "***":
        return 2
    raise AssertionError("record %s seen by neither version: %s %s" % (message.offset(), headers, value))


def test_deploy_and_file_swap_under_load(make_broker, tmp_path):
    live = tmp_path / "stamp.wasm"
    shutil.copy(WASM / "header_stamp.wasm", live)
    broker = make_broker(plugins=[{
        "name": "stamp", "path": str(live), "kind": "produce-interceptor",
        # Read by header-stamp (v1) and by redact (v2).
        "config": {"headers": "stamp=v1", "fields": "secret"},
    }], **{"weir.plugin.watch.interval.ms": 200})
    topic = "reloaded"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config={"weir.interceptors.produce": "stamp"})])[topic].result()

    errors, acked, marks = [], [], {}
    stop = threading.Event()

    def produce():
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 2, "enable.idempotence": True})
        n = 0

        def report(err, msg):
            if err:
                errors.append(str(err))
            else:
                acked.append(msg.offset())
        while not stop.is_set():
            producer.produce(topic, value=json.dumps({"n": n, "secret": "s"}).encode(), on_delivery=report)
            producer.poll(0)
            n += 1
            if n % 50 == 0:
                producer.flush(10)
        producer.flush(30)

    consumed = []

    def consume():
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "reader", "enable.auto.commit": False})
        consumer.assign([TopicPartition(topic, 0, 0)])
        # Until the producer has finished (its last flush still adds
        # acknowledgements after `stop`) and everything acknowledged is read.
        while "stopped" not in marks or len(consumed) < len(acked):
            for m in consumer.consume(500, 0.2):
                if m.error():
                    errors.append(str(m.error()))
                else:
                    consumed.append(m)
            if time.time() > marks.get("stopped", 1e12) + 20:
                break
        consumer.close()

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    time.sleep(2)
    marks["before_deploy"] = len(acked)
    deployed = weir_plugin(broker, "deploy", "stamp", str(WASM / "redact.wasm"))
    assert deployed.returncode == 0, deployed.stderr
    marks["deployed"] = max(acked) + 1 if acked else 0
    time.sleep(2)
    # Back to v1 by overwriting the watched file (atomically, as an editor or
    # a deploy script would).
    tmp = tmp_path / "stamp.wasm.new"
    shutil.copy(WASM / "header_stamp.wasm", tmp)
    os.replace(tmp, live)
    deadline = time.time() + 10
    while time.time() < deadline:
        listed = json.loads(weir_plugin(broker, "list").stdout)
        if listed[0]["metrics"]["reloads"] == 2:
            break
        time.sleep(0.1)
    marks["file_swapped"] = max(acked) + 1
    time.sleep(2)
    stop.set()
    threads[0].join(60)
    marks["stopped"] = time.time()
    threads[1].join(60)

    assert errors == []
    offsets = [m.offset() for m in consumed]
    assert offsets == list(range(len(offsets))) and len(offsets) == len(acked)
    versions = [version_of(m) for m in consumed]
    # One switch to v2 after the deploy call started, one back to v1 after
    # the file changed; each exactly once, in order.
    changes = [i for i in range(1, len(versions)) if versions[i] != versions[i - 1]]
    assert len(changes) == 2, changes
    assert versions[0] == 1 and versions[changes[0]] == 2 and versions[changes[1]] == 1
    assert marks["before_deploy"] <= changes[0] <= marks["deployed"]
    assert changes[1] <= marks["file_swapped"]

    listed = json.loads(weir_plugin(broker, "list").stdout)
    assert listed[0]["name"] == "stamp" and listed[0]["kind"] == "produce-interceptor"
    assert listed[0]["bindings"] == [{"topic": topic, "config": "weir.interceptors.produce"}]
    assert listed[0]["metrics"]["records"] >= len(acked) and listed[0]["metrics"]["failures"] == 0
    refused = weir_plugin(broker, "remove", "stamp")
    assert refused.returncode != 0 and "is bound" in refused.stderr
    assert weir_plugin(broker, "remove", "stamp", "--force").returncode == 0
    assert json.loads(weir_plugin(broker, "list").stdout) == []


def test_a_deployed_plugin_outlives_a_restart_and_bad_components_are_refused(make_broker, tmp_path):
    broker = make_broker()
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm not really")
    refused = weir_plugin(broker, "deploy", "acme-only", str(bad), "--kind", "fetch-interceptor")
    assert refused.returncode != 0
    no_kind = weir_plugin(broker, "deploy", "acme-only", str(WASM / "filter.wasm"))
    assert no_kind.returncode != 0 and "kind" in no_kind.stderr
    wrong_world = weir_plugin(broker, "deploy", "p", str(WASM / "filter.wasm"), "--kind", "partitioner")
    assert wrong_world.returncode != 0
    ok = weir_plugin(broker, "deploy", "acme-only", str(WASM / "filter.wasm"), "--kind", "fetch-interceptor")
    assert ok.returncode == 0, ok.stderr
    sha = json.loads(ok.stdout)["sha256"]
    broker.restart()
    listed = json.loads(weir_plugin(broker, "list").stdout)
    assert [(p["name"], p["kind"], p["sha256"], p["deployed"]) for p in listed] == [("acme-only", "fetch-interceptor", sha, True)]
