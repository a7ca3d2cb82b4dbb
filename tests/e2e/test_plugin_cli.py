"""`weir plugin new` → `build` → `test` → `deploy`, as a new user would, in
a temporary directory, for every language `new` knows: each template builds
as it stands with that language's real toolchain (Rust's wasm32-wasip2
target; zig from PyPI for C and Zig; componentize-py from PyPI for
Python; componentize-js from npm for JavaScript; AssemblyScript from npm), `weir plugin test`
prints the plugin's decisions, and the deployed plugin changes what real
clients see on a running broker. The partitioners of every language place keys as the Java
client does (and as the standard murmur2 plugin does), whether
confluent-kafka or kafkajs sent them."""

import json
import os
import pathlib
import re
import subprocess

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import WEIR
from test_interceptors import read
from test_plugins import PARTITIONS, create, java_partition, read_all


ROOT = pathlib.Path(__file__).resolve().parents[2]
LANGS = ["rust", "c", "zig", "python", "javascript", "assemblyscript"]


def weir(*args, cwd, admin=None, check=True):
    env = dict(os.environ, RUST_BACKTRACE="0")
    if admin:
        env["WEIR_ADMIN"] = admin
    result = subprocess.run([WEIR, "plugin", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=900)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def read_first(broker, topic):
    """The (value, headers) of what partition 0 of `topic` holds, once it holds something."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(100):
        got += [m for m in consumer.consume(10, 0.1) if not m.error()]
        if got:
            break
    consumer.close()
    return [(m.value(), m.headers()) for m in got]


def kafkajs(script, *args):
    """Runs tests/js/SCRIPT with kafkajs; its one line of JSON output."""
    out = subprocess.run(["node", str(ROOT / "tests/js" / script), *args],
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def new_project(tmp_path, kind, name, lang):
    weir("new", "--lang", lang, "--kind", kind, name, cwd=tmp_path)
    project = tmp_path / name
    assert (project / "weir-plugin.toml").exists()
    # Not built yet: deploy and test say so.
    assert "weir plugin build" in weir("test", cwd=project, check=False).stderr
    built = weir("build", cwd=project)
    assert re.search(r"built .*\.wasm \(\d+ bytes, sha256 [0-9a-f]{64}\)", built.stdout), built.stdout
    return project


@pytest.mark.parametrize("lang", LANGS)
def test_a_new_partitioner_builds_tests_and_deploys(tmp_path, make_broker, lang):
    project = new_project(tmp_path, "partitioner", "by-key", lang)
    tested = weir("test", cwd=project).stdout
    # The template hashes keys as the Java client does; the samples' keys
    # are customer-0 .. customer-4, and the last record has none.
    for i in range(5):
        assert "record %d → partition %d " % (i, java_partition(b"customer-%d" % i)) in tested, tested

    broker = make_broker()
    weir("deploy", cwd=project, admin=broker.admin_url)
    assert '"by-key"' in weir("list", cwd=project, admin=broker.admin_url).stdout
    create(broker, "routed", **{"weir.partitioner": "by-key"})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    keys = [b"user-%d" % i for i in range(60)]
    for key in keys:
        producer.produce("routed", key=key, value=b"v", partition=0)
    assert producer.flush(30) == 0
    placed = read_all(broker, "routed", len(keys))
    assert sorted(k for k, _, _ in placed) == sorted(keys)
    assert all(p == java_partition(k) for k, _, p in placed)

    # The same keys through the standard murmur2 plugin land in the same partitions.
    std_plugin = ROOT / "target/wasm32-wasip2/release/murmur2.wasm"
    weir("deploy", "murmur2", str(std_plugin), "--kind", "partitioner", cwd=project, admin=broker.admin_url)
    create(broker, "standard", **{"weir.partitioner": "murmur2"})
    for key in keys:
        producer.produce("standard", key=key, value=b"v", partition=0)
    assert producer.flush(30) == 0
    standard = {k: p for k, _, p in read_all(broker, "standard", len(keys))}
    assert {k: p for k, _, p in placed} == standard

    # kafkajs (an idempotent producer) through the same plugin.
    create(broker, "routed-js", **{"weir.partitioner": "by-key"})
    out = kafkajs("produce.js", broker.bootstrap, "routed-js", json.dumps(["v%d" % i for i in range(20)]))
    assert "error" not in out, out
    placed = read_all(broker, "routed-js", 20)
    assert sorted(k for k, _, _ in placed) == sorted(b"k%d" % i for i in range(20))
    assert all(p == java_partition(k) for k, _, p in placed)


@pytest.mark.parametrize("lang", LANGS)
def test_a_new_produce_interceptor_builds_tests_and_deploys(tmp_path, make_broker, lang):
    project = new_project(tmp_path, "produce-interceptor", "stamper", lang)
    tested = weir("test", "--config", "stamp=checked", cwd=project).stdout
    assert "rewrite: 6 of 6 records" in tested
    assert '["stamped-by","checked"]' in tested
    # The template names the records it refuses (host.reject-record).
    samples = tmp_path / "empty.jsonl"
    samples.write_text('{"value": "fine"}\n{"value": ""}\n{"value": ""}\n')
    refusing = weir("test", "--records", str(samples), cwd=project).stdout
    assert "reject: 2 record(s) have an empty value" in refusing or "reject: records with an empty value" in refusing, refusing
    assert "record 1 refused: empty value" in refusing and "record 2 refused: empty value" in refusing, refusing

    broker = make_broker()
    weir("deploy", cwd=project, admin=broker.admin_url)
    create(broker, "stamped", **{"weir.interceptors.produce": "stamper"})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("stamped", key=b"k", value=b"hello", partition=0)
    assert producer.flush(30) == 0
    assert read_first(broker, "stamped") == [(b"hello", [("stamped-by", b"stamper")])]
    # The template refuses a batch holding an empty value, naming each such
    # record: librdkafka fails those as invalid, the rest for their sake.
    refused = []
    batching = Producer({"bootstrap.servers": broker.bootstrap, "retries": 0, "linger.ms": 10000})
    for value in [b"fine", b"", b""]:
        batching.produce("stamped", value=value, partition=0, on_delivery=lambda e, m: refused.append(e))
    batching.flush(30)
    assert [e and e.name() for e in refused] == ["_INVALID_DIFFERENT_RECORD", "INVALID_RECORD", "INVALID_RECORD"], refused

    # kafkajs (an idempotent producer, keyed records spread over partitions).
    create(broker, "stamped-js", **{"weir.interceptors.produce": "stamper"})
    out = kafkajs("produce.js", broker.bootstrap, "stamped-js", json.dumps(["a", "b", "c"]))
    assert "error" not in out, out
    stamped = sorted((m.value(), m.headers()) for m in read(broker, "stamped-js", 3, PARTITIONS))
    assert stamped == [(v, [("stamped-by", b"stamper")]) for v in (b"a", b"b", b"c")]
    out = kafkajs("produce.js", broker.bootstrap, "stamped-js", json.dumps(["fine", ""]))
    assert "policy" in out["error"].lower(), out


@pytest.mark.parametrize("lang", LANGS)
def test_a_new_fetch_interceptor_builds_tests_and_deploys(tmp_path, make_broker, lang):
    project = new_project(tmp_path, "fetch-interceptor", "acme-only", lang)
    tested = weir("test", cwd=project).stdout
    # Three of the six samples carry the header tenant=acme.
    assert "rewrite: 3 of 6 records" in tested, tested
    assert tested.count('["tenant","acme"]') == 3

    broker = make_broker()
    weir("deploy", cwd=project, admin=broker.admin_url)
    create(broker, "tenants", **{"weir.interceptors.fetch": "acme-only"})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(6):
        producer.produce("tenants", value=b"v%d" % i, partition=0,
                         headers=[("tenant", b"acme" if i % 2 == 0 else b"other")])
    assert producer.flush(30) == 0
    # confluent-kafka sees the acme records, at their own offsets...
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g", "enable.auto.commit": False})
    consumer.assign([TopicPartition("tenants", 0, 0)])
    seen = []
    for _ in range(50):
        seen += [(m.offset(), m.value()) for m in consumer.consume(10, 0.1) if not m.error()]
        if len(seen) >= 3:
            break
    consumer.close()
    assert seen == [(0, b"v0"), (2, b"v2"), (4, b"v4")]
    # ...and so does kafkajs.
    assert kafkajs("consume.js", broker.bootstrap, "tenants", "js-group", "3") == [[0, "v0"], [2, "v2"], [4, "v4"]]


@pytest.mark.parametrize("args, message", [
    (["new", "--kind", "shredder", "x"], "unknown kind"),
    (["new", "--kind", "partitioner", "--lang", "cobol", "x"], 'no template for "cobol"'),
    (["new", "--kind", "partitioner", "Bad Name"], "plugin name"),
    (["build"], "is not a plugin project"),
])
def test_mistakes_get_clear_errors(tmp_path, args, message):
    result = weir(*args, cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


AS_EVERY_SHAPE = r'''
import { Batch, Level, Rewrite, Verdict, config, log, nowMs } from "../.weir/sdk/assemblyscript/weir";

export function intercept(batch: Batch): Verdict {
  const mode = config("mode");
  if (mode == "reject") return Verdict.reject("refused in " + batch.topic);
  log(Level.Warn, "batch of " + batch.length.toString());
  const out = new Rewrite();
  for (let i = 0; i < batch.length; i++) {
    const r = batch.record(i);
    const key = r.keyString();
    if (key == "drop") continue;
    if (key == "upper") {
      out.keep(r).setKey(null).setValueString(r.valueString()!.toUpperCase()).setTimestamp(42)
        .addHeader("n", null).addHeaderString("cfg", config("greeting")!);
    } else if (key === null) {
      const made = Uint8Array.wrap(String.UTF8.encode("made"));
      out.add(i, made, null, nowMs() > 1700000000000 ? 1 : 0)
        .addHeaderString("count", batch.partitionCount.toString())
        .addHeaderString("missing", config("nothing") === null ? "null" : "set");
    } else if (r.findHeader("ü") >= 0) {
      out.keep(r).addHeaderString("名前", r.headerString("ü")! + r.headerName(0) + r.keyLength.toString());
    } else {
      out.keep(r);
    }
  }
  return Verdict.rewrite(out);
}
'''


def test_the_assemblyscript_glue_carries_every_shape(tmp_path):
    """The hand-written canonical-ABI glue, beyond the templates: null keys,
    values and header values, new records, changed fields, UTF-8 both ways,
    config present and absent, the clock, the log and a rejection."""
    weir("new", "--lang", "assemblyscript", "--kind", "produce-interceptor", "shapes", cwd=tmp_path)
    project = tmp_path / "shapes"
    (project / "assembly/index.ts").write_text(AS_EVERY_SHAPE)
    weir("build", cwd=project)
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in [
        {"key": "keep", "value": "v1", "headers": [["a", "1"], ["b", None]], "timestamp": 5},
        {"key": "drop", "value": "x"},
        {"key": "upper", "value": "hello", "headers": [["h", "x"]], "timestamp": 6},
        {"key": None, "value": None},
        {"key": "ключ", "value": "ü", "headers": [["ü", "é"]], "timestamp": 7},
    ]) + "\n")
    run = weir("test", "--records", str(records), "--config", "greeting=hi", "--partitions", "7", cwd=project)
    lines = [line for line in run.stdout.splitlines() if line.startswith("record ")]
    got = [(int(line.split()[1]), json.loads(line.split("→ ", 1)[1])) for line in lines]
    assert "rewrite: 4 of 5 records" in run.stdout, run.stdout
    assert got == [
        (0, {"key": "keep", "value": "v1", "headers": [["a", "1"], ["b", None]], "timestamp": 5}),
        (2, {"key": None, "value": "HELLO", "headers": [["h", "x"], ["n", None], ["cfg", "hi"]], "timestamp": 42}),
        (3, {"key": "made", "value": None, "headers": [["count", "7"], ["missing", "null"]], "timestamp": 1}),
        (4, {"key": "ключ", "value": "ü", "headers": [["ü", "é"], ["名前", "éü8"]], "timestamp": 7}),
    ], run.stdout
    assert "batch of 5" in run.stderr + run.stdout
    refused = weir("test", "--records", str(records), "--config", "mode=reject", cwd=project)
    assert "reject: refused in test-topic" in refused.stdout


AS_RETENTION_FIELDS = r'''
import { nowMs } from "../.weir/sdk/assemblyscript/weir";
import { Deletable, PartitionStats, Segments } from "../.weir/sdk/assemblyscript/policy";

// weir plugin test's samples: five 1 MiB segments of 1000 offsets, newest
// records 5 to 1 hours old; committed 2500; retention.ms 3 h.
export function deletable(stats: PartitionStats, segments: Segments): Deletable {
  const hour: i64 = 3600000;
  const fields = stats.topic == "test-topic" && stats.partition == 0 && stats.logStartOffset == 0
    && stats.logEndOffset == 5500 && stats.highWatermark == 5500 && stats.size == (<u64>5 << 20 | <u64>1 << 19)
    && stats.hasCommitted && stats.committed == 2500 && stats.retentionMs == 3 * hour
    && stats.retentionBytes == -1 && abs<i64>(stats.nowMs - nowMs()) < 60000;
  if (!fields) return Deletable.fail("a field came across wrong");
  let right: u32 = 0;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    const base = <i64>i * 1000;
    if (s.baseOffset == base && s.lastOffset == base + 999 && s.size == <u64>1 << 20
        && s.maxTimestamp == stats.nowMs - (5 - <i64>i) * hour) right++;
  }
  return Deletable.oldest(right);
}
'''

AS_COMPACTION_FIELDS = r'''
import { nowMs } from "../.weir/sdk/assemblyscript/weir";
import { CompactionBatch, Keep } from "../.weir/sdk/assemblyscript/policy";

// Keeps a record only when everything the cleaner passed about it is right.
export function keep(batch: CompactionBatch): Keep {
  const out = new Keep(batch.length);
  // weir plugin test asks twice: with no delete horizon, then an hour past it.
  const horizon = !batch.hasDeleteHorizon || batch.deleteHorizon == batch.nowMs - 3600000;
  const fields = batch.batch.topic == "test-topic" && batch.batch.partition == 0
    && batch.deleteRetentionMs == 24 * 3600000 && horizon && batch.tombstonesExpired == batch.hasDeleteHorizon
    && abs<i64>(batch.nowMs - nowMs()) < 60000;
  for (let i = 0; i < batch.length; i++) {
    const latest = <i32>batch.latestOffset(i);
    const expired = !batch.batch.record(i).hasValue && batch.tombstonesExpired;
    const right = batch.offset(i) == <i64>i && latest >= i
      && batch.latestTimestamp(i) == batch.batch.record(latest).timestamp
      && batch.kafkaKeeps(i) == (batch.newer(i) == 0 && !expired);
    out[i] = fields && right;
  }
  return out;
}
'''


def test_the_assemblyscript_policy_glue_reads_every_field(tmp_path):
    """The hand-written glue of the policy worlds: every field of the
    partition stats, the segments, the compaction batch and its candidates
    arrives where the plugin reads it (a wrong one changes the answer)."""
    for kind, name, source in [("retention-policy", "fields-r", AS_RETENTION_FIELDS),
                               ("compaction-policy", "fields-c", AS_COMPACTION_FIELDS)]:
        weir("new", "--lang", "assemblyscript", "--kind", kind, name, cwd=tmp_path)
        (tmp_path / name / "assembly/index.ts").write_text(source)
        weir("build", cwd=tmp_path / name)
    tested = weir("test", cwd=tmp_path / "fields-r").stdout
    assert "deletable: the 5 oldest of 5 (Kafka's rule: 2)" in tested, tested
    tested = weir("test", cwd=tmp_path / "fields-c").stdout
    assert "keeps 8 of 8 records (Kafka's rule: 3)" in tested, tested
    assert "past the delete horizon: keeps 8 of 8 records (Kafka's rule: 2)" in tested, tested


@pytest.mark.parametrize("lang", ["rust", "c", "zig", "python", "javascript", "assemblyscript"])
def test_new_retention_and_compaction_policies_build_test_and_deploy(tmp_path, make_broker, lang):
    retention = new_project(tmp_path, "retention-policy", "read-or-old", lang)
    tested = weir("test", cwd=retention).stdout
    # The samples: a group committed past the two oldest segments.
    assert "deletable: the 2 oldest of 5 (Kafka's rule: 2)" in tested, tested

    compaction = new_project(tmp_path, "compaction-policy", "last-two", lang)
    tested = weir("test", cwd=compaction).stdout
    # Three keys updated in turn: the newest two of each stay; the last
    # record, a tombstone, goes at a clean past its delete horizon.
    assert "keeps 6 of 8 records (Kafka's rule: 3)" in tested, tested
    assert "past the delete horizon: keeps 5 of 8 records (Kafka's rule: 2)" in tested, tested
    assert "record 7 → drop (the other at the first clean)" in tested, tested

    from test_compaction import KEYS, cleaner_broker, compacted, produce_updates, read_from_start, wait_until
    broker = cleaner_broker(make_broker)
    weir("deploy", cwd=compaction, admin=broker.admin_url)
    weir("deploy", cwd=retention, admin=broker.admin_url)
    compacted(broker, "two-each", **{"weir.compaction.policy": "last-two"})
    produce_updates(broker, "two-each", rounds=6)
    wait_until(lambda: len(read_from_start(broker, "two-each")) == 2 * KEYS, timeout=60)
    listed = weir("list", cwd=compaction, admin=broker.admin_url).stdout
    assert '"read-or-old"' in listed and '"last-two"' in listed
