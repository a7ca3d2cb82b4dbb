"""Native plugins: shared libraries loaded with dlopen behind the same
bindings, metrics and on-error policies as WASM plugins — the C example
(examples/native/c, a murmur2 partitioner) built with the system C compiler
and the Rust example (examples/native/rust, a produce interceptor) built
with cargo, exercised with real clients. A broker that has not enabled
native plugins refuses them, by name."""

import json
import os
import pathlib
import shutil
import subprocess
import urllib.request

import pytest
from confluent_kafka import Producer

from conftest import WEIR, Broker
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
    # Native libraries load only from weir.plugin.native.dir: both in one.
    rust_lib = out / "libstamp_native.so"
    shutil.copy(ROOT / "target/release/libstamp_native.so", rust_lib)
    return c_lib, rust_lib


def test_native_plugins_place_and_stamp_records(libraries, make_broker):
    c_lib, rust_lib = libraries
    broker = make_broker(plugins=[
        {"name": "murmur2-native", "path": str(c_lib), "kind": "partitioner"},
        {"name": "stamp-native", "path": str(rust_lib), "kind": "produce-interceptor", "config": {"stamp": "rust"}},
    ], **{"weir.plugin.native.enabled": "true", "weir.plugin.native.dir": str(c_lib.parent)})
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
    assert "never from an upload" in result.stderr, result.stderr


def test_an_uploaded_library_never_runs_even_where_native_plugins_are_enabled(libraries, make_broker, tmp_path):
    """An upload's constructor would run at dlopen, as root, before any
    check: the upload is refused by its bytes, and the constructor never
    runs. A weir.toml library outside weir.plugin.native.dir is refused too."""
    c_lib, _ = libraries
    marker = tmp_path / "constructor-ran"
    evil = tmp_path / "evil.so"
    source = tmp_path / "evil.c"
    source.write_text(
        '#include <stdio.h>\n'
        '__attribute__((constructor)) static void evil(void) { FILE *f = fopen("%s", "w"); if (f) fclose(f); }\n' % marker
    )
    subprocess.run(["cc", "-shared", "-fPIC", str(source), "-o", str(evil)], check=True)
    broker = make_broker(**{"weir.plugin.native.enabled": "true", "weir.plugin.native.dir": str(c_lib.parent)})
    env = dict(os.environ, WEIR_ADMIN=broker.admin_url, RUST_BACKTRACE="0")
    result = subprocess.run([WEIR, "plugin", "deploy", "evil", str(evil), "--kind", "partitioner"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "never from an upload" in result.stderr, result.stderr
    assert not marker.exists(), "the uploaded library's constructor ran"
    outside = Broker(
        tmp_path / "outside",
        plugins=[{"name": "evil", "path": str(evil), "kind": "partitioner"}],
        **{"weir.plugin.native.enabled": "true", "weir.plugin.native.dir": str(c_lib.parent)},
    )
    outside.workdir.mkdir()
    with pytest.raises(RuntimeError) as refused:
        outside.start(timeout=20)
    assert "is not inside weir.plugin.native.dir" in str(refused.value)
    assert not marker.exists(), "the library's constructor ran"
