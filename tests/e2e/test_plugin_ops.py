"""What a new user trips on when running plugins, fixed: a topic cannot be
bound to a plugin that does not exist or is of another kind (INVALID_CONFIG
naming it, at CreateTopics and AlterConfigs, not at the first produce);
`weir plugin bind` / `unbind` bind without an AdminClient script; a plugin's
rejections are counted in its `refusals` and logged with the plugin, topic
and reason; `weir plugin test --expect` pins a plugin's decisions for CI."""

import json
import re
import shutil
import subprocess
import urllib.request

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from conftest import WEIR
from test_interceptors import WASM, plugin
from test_plugins import read_all, java_partition


@pytest.fixture
def node(make_broker):
    return make_broker(plugins=[
        plugin("murmur2", "murmur2.wasm", kind="partitioner"),
        plugin("json-only", "json_validate.wasm"),
    ])


def cli(node, *args, check=True):
    done = subprocess.run([WEIR, "plugin", *args, "--admin", node.admin_url],
                          capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def configs_of(node, topic):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result(timeout=30)
    return {k: v.value for k, v in described.items() if k.startswith("weir.")}


def invalid_config(future):
    with pytest.raises(KafkaException) as refused:
        future.result(timeout=30)
    error = refused.value.args[0]
    assert error.code() == KafkaError.INVALID_CONFIG, error
    return error.str()


def test_bindings_to_unknown_or_wrong_kind_plugins_are_refused(node):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    message = invalid_config(admin.create_topics(
        [NewTopic("typo", 1, 1, config={"weir.partitioner": "murmur3"})])["typo"])
    assert "murmur3" in message and "no plugin" in message, message
    message = invalid_config(admin.create_topics(
        [NewTopic("wrong", 1, 1, config={"weir.interceptors.produce": "json-only,murmur2"})])["wrong"])
    assert "murmur2 is a partitioner" in message, message
    assert "typo" not in admin.list_topics(timeout=10).topics

    admin.create_topics([NewTopic("plain", 1, 1)])["plain"].result(timeout=30)
    resource = ConfigResource(ConfigResource.Type.TOPIC, "plain", incremental_configs=[
        ConfigEntry("weir.partitioner", "json-only", incremental_operation=AlterConfigOpType.SET)])
    message = invalid_config(admin.incremental_alter_configs([resource])[resource])
    assert "json-only is a produce-interceptor" in message, message
    # A right binding is taken, and removing one always is.
    resource = ConfigResource(ConfigResource.Type.TOPIC, "plain", incremental_configs=[
        ConfigEntry("weir.partitioner", "murmur2", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([resource])[resource].result(timeout=30)
    resource = ConfigResource(ConfigResource.Type.TOPIC, "plain", incremental_configs=[
        ConfigEntry("weir.partitioner", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin.incremental_alter_configs([resource])[resource].result(timeout=30)


def test_bind_and_unbind_from_the_command_line(node):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    admin.create_topics([NewTopic("orders", 6, 1)])["orders"].result(timeout=30)
    cli(node, "bind", "murmur2", "--topic", "orders", "--mode", "route")
    cli(node, "bind", "json-only", "--topic", "orders")
    seen = configs_of(node, "orders")
    assert seen["weir.partitioner"] == "murmur2" and seen["weir.partitioner.mode"] == "route", seen
    assert seen["weir.interceptors.produce"] == "json-only", seen

    producer = Producer({"bootstrap.servers": node.bootstrap})
    keys = [b"k%d" % i for i in range(30)]
    for key in keys:
        producer.produce("orders", key=key, value=b'{"ok": true}', partition=0)
    assert producer.flush(30) == 0
    placed = read_all(node, "orders", len(keys))
    assert all(p == java_partition(k) for k, _, p in placed), placed

    # Mistakes read as answers.
    wrong = cli(node, "bind", "nothing", "--topic", "orders", check=False)
    assert wrong.returncode != 0 and "no plugin named nothing" in wrong.stderr, wrong.stderr
    wrong = cli(node, "bind", "json-only", "--topic", "orders", "--mode", "route", check=False)
    assert "--mode is a partitioner's" in wrong.stderr, wrong.stderr
    wrong = cli(node, "bind", "murmur2", "--topic", "no-topic", check=False)
    assert "no topic named no-topic" in wrong.stderr, wrong.stderr

    cli(node, "unbind", "json-only", "--topic", "orders")
    cli(node, "unbind", "murmur2", "--topic", "orders")
    seen = configs_of(node, "orders")
    assert seen.get("weir.interceptors.produce", "") == "" and seen.get("weir.partitioner", "") == "", seen
    wrong = cli(node, "unbind", "murmur2", "--topic", "orders", check=False)
    assert "is not bound to murmur2" in wrong.stderr, wrong.stderr


def test_rejections_are_counted_and_logged(node):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    admin.create_topics([NewTopic("checked", 1, 1, config={"weir.interceptors.produce": "json-only"})])[
        "checked"].result(timeout=30)
    failed = []
    producer = Producer({"bootstrap.servers": node.bootstrap, "retries": 0, "linger.ms": 10000})
    for value in [b'{"a": 1}', b"not json", b"{"]:
        producer.produce("checked", value=value, on_delivery=lambda e, m: failed.append(e))
    producer.flush(30)
    assert [e and e.name() for e in failed] == [
        "_INVALID_DIFFERENT_RECORD", "INVALID_RECORD", "INVALID_RECORD"], failed

    with urllib.request.urlopen(node.admin_url + "/v1/plugins/json-only", timeout=10) as r:
        counted = json.load(r)["metrics"]
    assert counted["refusals"] == 1 and counted["failures"] == 0, counted
    log = node.output()
    assert "plugin rejected a batch" in log, log[-2000:]
    line = next(l for l in log.splitlines() if "plugin rejected a batch" in l)
    assert "json-only" in line and "checked" in line and "not JSON" in line, line


def test_plugin_test_expect_pins_decisions(tmp_path):
    project = tmp_path / "by-key"
    built = project / "target/wasm32-wasip2/release"
    built.mkdir(parents=True)
    shutil.copy(WASM / "murmur2.wasm", built / "murmur2.wasm")
    (project / "weir-plugin.toml").write_text(
        'name = "murmur2"\nkind = "partitioner"\nlang = "rust"\n'
        'artifact = "target/wasm32-wasip2/release/murmur2.wasm"\n')

    def test(*args):
        return subprocess.run([WEIR, "plugin", "test", *args], cwd=project,
                              capture_output=True, text=True, timeout=120)

    shown = test()
    assert shown.returncode == 0, shown.stderr
    # The last two samples carry no headers (the last no key either).
    assert '"headers":[]' in shown.stdout, shown.stdout
    placed = [int(m) for m in re.findall(r"record \d+ → partition (\d+)", shown.stdout)]
    assert placed[:5] == [java_partition(b"customer-%d" % i) for i in range(5)], placed

    right = tmp_path / "right.json"
    right.write_text(json.dumps({"partitions": placed}))
    got = test("--expect", str(right))
    assert got.returncode == 0 and "as expected" in got.stdout, got.stdout + got.stderr

    wrong = tmp_path / "wrong.json"
    moved = (placed[0] + 1) % 6
    wrong.write_text(json.dumps({"partitions": [moved] + placed[1:]}))
    got = test("--expect", str(wrong))
    assert got.returncode != 0, got.stdout
    assert ".partitions[0]: expected %d, got %d" % (moved, placed[0]) in got.stderr, got.stderr
