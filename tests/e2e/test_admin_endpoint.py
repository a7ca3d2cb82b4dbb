"""The admin endpoint as an attacker on the same machine would try it.

Plugin names follow one grammar wherever they enter: the endpoint refuses a
deployment under a name such as path traversal, control and bidirectional
characters or 5,000 characters with 400 and the rule; the config refuses
such a name at start. Uploads are capped by `weir.plugin.max.bytes` as they
stream in (413), and an upload that is refused, for its size or because it
is no component, leaves nothing on disk."""

import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import WEIR, Broker

BAD = ["..", "a..b", "line\nbreak", "nul\0x", "rtl\u202etxt", "Upper", "x" * 5000]


@pytest.mark.parametrize("name", BAD, ids=["dotdot", "inner-dotdot", "newline", "nul", "rtl", "upper", "long"])
def test_the_admin_endpoint_refuses_a_bad_plugin_name(broker, name):
    url = broker.admin_url + "/v1/plugins/" + urllib.parse.quote(name, safe="") + "?kind=partitioner"
    request = urllib.request.Request(url, data=b"\0asm not really", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    body = refused.value.read().decode()
    assert "is not a plugin name" in body and len(body) < 400, body


def test_a_bad_plugin_name_in_the_config_stops_the_start(tmp_path):
    node = Broker(tmp_path, plugins=[{"name": "../evil", "kind": "partitioner", "path": "evil.wasm"}])
    with pytest.raises(RuntimeError) as refused:
        node.start(timeout=20)
    assert "is not a plugin name" in str(refused.value)


def put(broker, name, body, kind="partitioner"):
    url = "%s/v1/plugins/%s?kind=%s" % (broker.admin_url, name, kind)
    request = urllib.request.Request(url, data=body, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


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
