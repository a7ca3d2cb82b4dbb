"""Native plugins: shared libraries loaded with dlopen behind the same
bindings, metrics and on-error policies as WASM plugins — the C example
(examples/native/c, a murmur2 partitioner) built with the system C compiler
and the Rust example (examples/native/rust, a produce interceptor) built
with cargo, exercised with real clients. A broker that has not enabled
native plugins refuses them, by name."""

import json
import os
import pathlib
import subprocess
import urllib.request

import pytest
from confluent_kafka import Producer

from conftest import WEIR
from test_plugin_cli import read_first
from test_plugins import create, java_partition, read_all

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    out = tmp_path_factory.mktemp("native")
    c_lib = out / "murmur2_native.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-I", str(ROOT / "sdk/c"),
                    str(ROOT / "examples/native/c/murmur2_native.c"), "-o", str(c_lib)], check=True)
    subprocess.run(["cargo", "build", "--release", "--manifest-path", str(ROOT / "examples/native/rust/Cargo.toml"),
                    "--target-dir", str(ROOT / "target")], check=True)
    return c_lib, ROOT / "target/release/libstamp_native.so"


def test_native_plugins_place_and_stamp_records(libraries, make_broker):
    c_lib, rust_lib = libraries
    broker = make_broker(plugins=[
        {"name": "murmur2-native", "path": str(c_lib), "kind": "partitioner"},
        {"name": "stamp-native", "path": str(rust_lib), "kind": "produce-interceptor", "config": {"stamp": "rust"}},
    ], **{"weir.plugin.native.enabled": "true"})
    create(broker, "placed", **{"weir.partitioner": "murmur2-native"})
    create(broker, "stamped", **{"weir.interceptors.produce": "stamp-native"})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    keys = [b"user-%d" % i for i in range(60)]
    for key in keys:
        producer.produce("placed", key=key, value=b"v", partition=0)
    producer.produce("stamped", key=b"k", value=b"hello", partition=0, headers=[("own", b"1")])
    assert producer.flush(30) == 0
    placed = read_all(broker, "placed", len(keys))
    assert sorted(k for k, _, _ in placed) == sorted(keys)
    assert all(p == java_partition(k) for k, _, p in placed)

    assert read_first(broker, "stamped") == [(b"hello", [("own", b"1"), ("stamped-by", b"rust")])]

    with urllib.request.urlopen(broker.admin_url + "/v1/plugins/murmur2-native", timeout=10) as r:
        assert json.load(r)["metrics"]["calls"] >= 1


def test_a_broker_refuses_native_plugins_unless_enabled(libraries, make_broker, tmp_path):
    c_lib, _ = libraries
    broker = make_broker()
    env = dict(os.environ, WEIR_ADMIN=broker.admin_url, RUST_BACKTRACE="0")
    result = subprocess.run([WEIR, "plugin", "deploy", "fast", str(c_lib), "--kind", "partitioner"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "weir.plugin.native.enabled=false" in result.stderr, result.stderr
