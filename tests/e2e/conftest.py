"""Fixtures for end-to-end tests: a real `weir` process on a free loopback port
with its own data directory, started from a TOML config, stopped by SIGTERM
(or killed with SIGKILL by fault tests), and never left running."""

import json
import os
import pathlib
import resource
import signal
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WEIR = os.environ.get("WEIR_BIN", str(ROOT / "target" / "release" / "weir"))

# Every broker a test starts takes this admin token (weir.admin.tokens.file),
# and every `weir plugin` the tests run sends it (WEIR_ADMIN_TOKEN).
ADMIN_TOKEN = "test-" + os.urandom(16).hex()
os.environ["WEIR_ADMIN_TOKEN"] = ADMIN_TOKEN


_handed_out = set()


def free_port():
    """A free loopback port below the kernel's ephemeral range (32768 and
    up), so a port picked now is not taken by some client's outgoing
    connection before the broker binds it."""
    import random

    while True:
        port = random.randrange(20000, 32768)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def toml_value(value):
    if isinstance(value, dict):
        return "{ %s }" % ", ".join("%s = %s" % (json.dumps(k), toml_value(v)) for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a TOML basic string: quotes and backslashes escaped.
    return json.dumps(str(value))


class Broker:
    """One weir process. `start` may be called again after `stop`/`kill`: the
    port and the data directory stay the same."""

    def __init__(self, workdir, plugins=(), host="127.0.0.1", prefix=(), **config):
        self.workdir = pathlib.Path(workdir)
        # Where it listens, and what its command runs under (e.g. `ip netns
        # exec NS` for a broker in its own network namespace).
        self.host = host
        self.prefix = list(prefix)
        # [[plugins]] tables: dicts of name, path, kind and optional limits.
        self.plugins = list(plugins)
        self.port = free_port()
        self.admin_port = free_port()
        self.registry_port = free_port()
        self.data_dir = self.workdir / "data"
        self.config = {
            "listeners": "PLAINTEXT://%s:%d" % (host, self.port),
            "weir.admin.listener": "%s:%d" % (host, self.admin_port),
            "schema.registry.listener": "%s:%d" % (host, self.registry_port),
            "weir.admin.tokens.file": str(self.workdir / "admin.tokens"),
            "log.dirs": str(self.data_dir),
            "num.partitions": 1,
        }
        self.config.update({k.replace("_", "."): v for k, v in config.items()})
        self.proc = None
        self.starts = 0
        # An open files limit (soft and hard) for the next start, or None.
        self.nofile = None

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def admin_url(self):
        return "http://%s:%d" % (self.host, self.admin_port)

    @property
    def registry_url(self):
        return "http://%s:%d" % (self.host, self.registry_port)

    @property
    def log_path(self):
        return self.workdir / ("broker-%d.log" % self.starts)

    def start(self, timeout=30):
        assert self.proc is None, "already running"
        self.starts += 1
        config_path = self.workdir / "weir.toml"
        (self.workdir / "admin.tokens").write_text("User:test %s\n" % ADMIN_TOKEN)
        text = "".join('"%s" = %s\n' % (k, toml_value(v)) for k, v in self.config.items())
        for plugin in self.plugins:
            text += "\n[[plugins]]\n" + "".join("%s = %s\n" % (k, toml_value(v)) for k, v in plugin.items())
        config_path.write_text(text)
        self.log = open(self.log_path, "w")
        limit = self.nofile
        preexec = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))) if limit else None
        self.proc = subprocess.Popen(
            self.prefix + [WEIR, "serve", "--config", str(config_path)], stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=preexec
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("weir exited with %s:\n%s" % (self.proc.returncode, self.log_path.read_text()))
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("weir did not listen within %ss" % timeout)

    def stop(self, timeout=30):
        """Graceful shutdown (SIGTERM); returns the exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        self.log.close()
        return code

    def kill(self):
        """kill -9: no flush, no clean-shutdown marker."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.log.close()

    def restart(self):
        self.stop()
        return self.start()

    def output(self):
        return self.log_path.read_text()


@pytest.fixture
def make_broker(tmp_path):
    """Builds brokers with extra config; all are stopped after the test."""
    brokers = []

    def make(plugins=(), **config):
        workdir = tmp_path / ("broker%d" % len(brokers))
        workdir.mkdir()
        broker = Broker(workdir, plugins=plugins, **config)
        brokers.append(broker)
        return broker.start()

    yield make
    for broker in brokers:
        broker.stop()


@pytest.fixture
def broker(make_broker):
    return make_broker()


def records(count, seed=0, value_size=100):
    """Deterministic test records: (key, value, headers, timestamp_ms)."""
    base_ts = int(time.time() * 1000) - 600_000
    out = []
    for i in range(count):
        n = seed * 10_000_000 + i
        key = b"key-%d" % n
        value = (b"value-%d-" % n) * (value_size // 12 + 1)
        value = value[: value_size + (n % 37)]
        headers = [("seq", b"%d" % n), ("kind", b"test")]
        out.append((key, value, headers, base_ts + i))
    return out
