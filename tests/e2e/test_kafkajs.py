"""kafkajs 2.2.4 (non-flexible protocol versions), driven through
tests/js/check.js: produce and read back with every codec, admin calls."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[1] / "js"


def node(broker, *args, timeout=300):
    assert shutil.which("node"), "node is not installed"
    assert (JS / "node_modules" / "kafkajs").exists(), "run `npm ci` in tests/js (tests/run.sh does)"
    done = subprocess.run(["node", str(JS / "check.js"), broker.bootstrap, *args], capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_round_trip(broker, codec):
    assert node(broker, "roundtrip", codec, "100000") == {"topic": "kafkajs-" + codec, "count": 100_000}


def test_admin(broker):
    assert node(broker, "admin") == {
        "invalidTopic": "INVALID_TOPIC_EXCEPTION",
        "invalidReplicationFactor": "INVALID_REPLICATION_FACTOR",
        "retention": "240000",
        "partitions": 2,
        "high": "100",
        "byTime": "43",
        "low": "30",
        "brokers": 1,
        "deleted": True,
    }
