"""Debian's stock kcat (librdkafka 2.0.2), which mis-reads tagged fields that
hold default values: -L, -P with keys/headers/codecs, -C, -Q."""

import json
import shutil
import subprocess
import time

import pytest

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def kcat(broker, *args, stdin=None, timeout=60):
    assert KCAT, "kcat is not installed: tests/run.sh installs it from apt"
    done = subprocess.run([KCAT, "-b", broker.bootstrap, *args], input=stdin, capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_metadata_listing(broker):
    kcat(broker, "-P", "-t", "listed", stdin=b"x\n")
    meta = json.loads(kcat(broker, "-L", "-J"))
    assert [b["id"] for b in meta["brokers"]] == [1]
    [topic] = [t for t in meta["topics"] if t["topic"] == "listed"]
    assert topic["partitions"][0]["leader"] == 1


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_and_consume_with_keys_and_headers(broker, codec):
    topic = "kcat-" + codec
    lines = "".join("key%d:value %d %s\n" % (i, i, "x" * (i % 50)) for i in range(20_000))
    kcat(broker, "-P", "-t", topic, "-K:", "-z", codec, "-H", "source=kcat", "-X", "linger.ms=10", stdin=lines.encode())
    out = kcat(broker, "-C", "-t", topic, "-e", "-q", "-f", "%k:%s|%h|%o\n")
    rows = out.splitlines()
    assert len(rows) == 20_000
    for i, row in enumerate(rows):
        assert row == "key%d:value %d %s|source=kcat|%d" % (i, i, "x" * (i % 50), i)


def test_query_offset_by_timestamp(broker):
    kcat(broker, "-P", "-t", "q", stdin=b"".join(b"v%d\n" % i for i in range(100)))
    now = int(time.time() * 1000)
    out = kcat(broker, "-Q", "-t", "q:0:%d" % (now - 60_000))
    assert "offset 0" in out
    out = kcat(broker, "-Q", "-t", "q:0:%d" % (now + 60_000))
    assert "offset -1" in out
