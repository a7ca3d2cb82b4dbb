"""The admin endpoint as an attacker on the same machine would try it.

Plugin names follow one grammar wherever they enter: the endpoint refuses a
deployment under a name such as path traversal, control and bidirectional
characters or 5,000 characters with 400 and the rule; the config refuses
such a name at start. Uploads are capped by `weir.plugin.max.bytes` as they
stream in (413), and an upload that is refused, for its size or because it
is no component, leaves nothing on disk.

Every mutating call needs a bearer token from the broker's token file:
without one, or with a wrong one, it is refused (401) before its body is
read; reads need none. A broker on its default config writes a private
token file at first start, which `weir plugin` run beside it finds."""

import http.client
import os
import pathlib
import stat
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ADMIN_TOKEN, ROOT, WEIR, Broker

MURMUR = ROOT / "target/wasm32-wasip2/release/murmur2.wasm"


def request(url, body=None, method="GET", token=ADMIN_TOKEN):
    """(status, body) of an admin call."""
    headers = {"Authorization": "Bearer " + token} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method, headers=headers),
                                    timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()

BAD = ["..", "a..b", "line\nbreak", "nul\0x", "rtl\u202etxt", "Upper", "x" * 5000]


@pytest.mark.parametrize("name", BAD, ids=["dotdot", "inner-dotdot", "newline", "nul", "rtl", "upper", "long"])
def test_the_admin_endpoint_refuses_a_bad_plugin_name(broker, name):
    url = broker.admin_url + "/v1/plugins/" + urllib.parse.quote(name, safe="") + "?kind=partitioner"
    code, body = request(url, b"\0asm not really", "PUT")
    assert code == 400
    assert "is not a plugin name" in body and len(body) < 400, body


def test_a_bad_plugin_name_in_the_config_stops_the_start(tmp_path):
    node = Broker(tmp_path, plugins=[{"name": "../evil", "kind": "partitioner", "path": "evil.wasm"}])
    with pytest.raises(RuntimeError) as refused:
        node.start(timeout=20)
    assert "is not a plugin name" in str(refused.value)


def put(broker, name, body, kind="partitioner", token=ADMIN_TOKEN):
    return request("%s/v1/plugins/%s?kind=%s" % (broker.admin_url, name, kind), body, "PUT", token)


def stored(broker):
    plugins = broker.data_dir / "__plugins"
    return sorted(p.name for p in plugins.iterdir()) if plugins.exists() else []


def test_uploads_are_capped_and_a_refused_one_leaves_nothing(make_broker):
    broker = make_broker(**{"weir.plugin.max.bytes": 1 << 20})
    code, _ = put(broker, "junk", b"\0" * (2 << 20))
    assert code == 413
    code, body = put(broker, "junk", b"\0asm" + b"\0" * 1000)
    assert code == 422, body
    assert stored(broker) == []


def test_changes_need_a_listed_token_and_reads_do_not(broker):
    for token in (None, "not-the-token-at-all", ADMIN_TOKEN + "x"):
        code, body = put(broker, "m", MURMUR.read_bytes(), token=token)
        assert code == 401 and "admin token" in body, (code, body)
        code, _ = request(broker.admin_url + "/v1/plugins/m?force=true", method="DELETE", token=token)
        assert code == 401
    assert stored(broker) == []
    # Refused before the body is read: an upload that announces 32 MiB and
    # sends none of it is answered at once.
    conn = http.client.HTTPConnection(broker.host, broker.admin_port, timeout=10)
    conn.putrequest("PUT", "/v1/plugins/m?kind=partitioner")
    conn.putheader("Content-Length", str(32 << 20))
    conn.endheaders()
    assert conn.getresponse().status == 401
    conn.close()
    assert request(broker.admin_url + "/v1/plugins", token=None)[0] == 200
    assert request(broker.admin_url + "/metrics", token=None)[0] == 200
    code, body = put(broker, "m", MURMUR.read_bytes())
    assert code == 200, body
    assert "User:test" in broker.log_path.read_text()
    assert request(broker.admin_url + "/v1/plugins/m", method="DELETE")[0] == 200


def test_a_default_broker_writes_a_private_token_that_the_cli_beside_it_finds(tmp_path):
    node = Broker(tmp_path, log_dirs=str(tmp_path / "weir-data"))
    del node.config["weir.admin.tokens.file"]
    node.start()
    try:
        tokens = tmp_path / "weir-data" / "admin.tokens"
        assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
        principal, token = [l for l in tokens.read_text().splitlines() if not l.startswith("#")][0].split()
        assert principal == "User:admin" and len(token) == 64
        env = {k: v for k, v in os.environ.items() if k != "WEIR_ADMIN_TOKEN"}
        # host:port, as weir.admin.listener writes it, is taken too.
        admin = "%s:%d" % (node.host, node.admin_port)
        deploy = [WEIR, "plugin", "deploy", "m", str(MURMUR), "--kind", "partitioner", "--admin", admin]
        elsewhere = subprocess.run(deploy, cwd=tmp_path / "weir-data", env=env, capture_output=True, text=True, timeout=60)
        assert elsewhere.returncode != 0 and "401" in elsewhere.stderr and "WEIR_ADMIN_TOKEN" in elsewhere.stderr
        beside = subprocess.run(deploy, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert beside.returncode == 0, beside.stderr
        assert "User:admin" in node.log_path.read_text()
        wrong = subprocess.run(deploy, cwd=tmp_path, env=dict(env, WEIR_ADMIN_TOKEN="x" * 64),
                               capture_output=True, text=True, timeout=60)
        assert wrong.returncode != 0 and "unknown token" in wrong.stderr
        # Revoked by editing the file, without a restart.
        tokens.write_text("User:admin %s\n" % ("f" * 64))
        again = subprocess.run(deploy, cwd=tmp_path, env=dict(env, WEIR_ADMIN_TOKEN=token),
                               capture_output=True, text=True, timeout=60)
        assert again.returncode != 0 and "unknown token" in again.stderr
    finally:
        node.stop()


def test_a_kafka_client_cannot_forge_a_brokers_plugin_change(make_broker):
    """Brokers of a cluster hand plugin changes to the active controller with
    Weir's submit request, on the controller listener. The same bytes on a
    client listener are an unknown API: answered as one, and nothing changes."""
    import socket
    import struct
    broker = make_broker()
    assert put(broker, "m", MURMUR.read_bytes())[0] == 200
    client_id = b"weir-peer:broker-1"
    body = struct.pack(">hhih", 0x5701, 0, 7, len(client_id)) + client_id + b'[{"type":"remove_plugin","name":"m"}]'
    with socket.create_connection((broker.host, broker.port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", s.recv(4))[0]
        answer = b""
        while len(answer) < size:
            answer += s.recv(size - len(answer))
    correlation, code = struct.unpack(">ih", answer[:6])
    assert (correlation, code) == (7, 35), answer  # UNSUPPORTED_VERSION
    assert request(broker.admin_url + "/v1/plugins/m", token=None)[0] == 200, "the plugin was removed"
