"""TLS for the admin endpoint, and certificates renewed without a restart.

`weir.admin.listener = "https://…"` serves the admin API over TLS
configured as a Kafka listener named ADMIN (`listener.name.admin.ssl.*`):
plain HTTP gets nothing, `weir plugin` checks the broker's certificate
against `WEIR_ADMIN_CA`, and with `ssl.client.auth` a client certificate
(`WEIR_ADMIN_CERT`) authenticates a deployment as a token does. A Kafka SSL
listener whose keystore file is replaced serves the new certificate from
the next connection on, keeps its clients, and ignores a broken file."""

import os
import pathlib
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from conftest import WEIR, Broker
from test_tls import certs, confluent_round_trip, make_cert, ssl_client_config, with_ssl  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parents[2]
MURMUR2 = ROOT / "target/wasm32-wasip2/release/murmur2.wasm"


def weir_plugin(cwd, url, *args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_ADMIN")}
    environment.update(WEIR_ADMIN=url, RUST_BACKTRACE="0", **env)
    return subprocess.run([WEIR, "plugin", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=60)


def test_the_admin_endpoint_over_https_with_client_certificates(tmp_path, certs):
    node = Broker(tmp_path)
    url = "https://127.0.0.1:%d" % node.admin_port
    node.config.update({
        "weir.admin.listener": url,
        "listener.name.admin.ssl.keystore.location": str(certs["keystore"]),
        "listener.name.admin.ssl.client.auth": "requested",
        "listener.name.admin.ssl.truststore.location": str(certs["ca"]),
        "listener.name.admin.ssl.principal.mapping.rules": "RULE:^.*CN=([A-Za-z]+).*$/$1/L,DEFAULT",
    })
    node.start()
    try:
        trusted = ssl.create_default_context(cafile=str(certs["ca"]))
        with urllib.request.urlopen(url + "/metrics", context=trusted, timeout=10) as answer:
            assert b"weir_plugin" in answer.read()
        with pytest.raises(Exception):
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % node.admin_port, timeout=5).read()

        work = tmp_path / "cli"
        work.mkdir()
        ca = {"WEIR_ADMIN_CA": str(certs["ca"])}
        listed = weir_plugin(work, url, "list", **ca)
        assert listed.returncode == 0, listed.stderr
        untrusted = weir_plugin(work, url, "list")
        assert untrusted.returncode != 0 and "cannot reach" in untrusted.stderr, untrusted.stderr

        refused = weir_plugin(work, url, "deploy", "m", str(MURMUR2), "--kind", "partitioner", **ca)
        assert refused.returncode != 0 and "401" in refused.stderr, refused.stderr
        client_pem = tmp_path / "client-both.pem"
        client_pem.write_text(certs["client"][0].read_text() + certs["client"][1].read_text())
        deployed = weir_plugin(work, url, "deploy", "m", str(MURMUR2), "--kind", "partitioner",
                               WEIR_ADMIN_CERT=str(client_pem), **ca)
        assert deployed.returncode == 0, deployed.stderr
        assert "by=User:alice" in node.output(), "the certificate named the deployer"
        stranger_pem = tmp_path / "stranger-both.pem"
        stranger_pem.write_text(certs["stranger"][0].read_text() + certs["stranger"][1].read_text())
        stranger = weir_plugin(work, url, "deploy", "m", str(MURMUR2), WEIR_ADMIN_CERT=str(stranger_pem), **ca)
        assert stranger.returncode != 0, "a certificate from another CA fails the handshake"
    finally:
        node.stop()


def served_subject(port, ca):
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return dict(pair[0] for pair in tls.getpeercert()["subject"])["commonName"]


def test_a_renewed_certificate_is_served_without_a_restart(tmp_path, certs):
    d = certs["ca"].parent
    keystore = tmp_path / "keystore.pem"
    keystore.write_text(certs["keystore"].read_text())
    node = with_ssl(Broker(tmp_path), keystore).start()
    try:
        port = int(node.ssl_bootstrap.split(":")[1])
        assert served_subject(port, certs["ca"]) == "localhost"
        config = ssl_client_config(node, certs)
        assert len(confluent_round_trip(config, "before")) == 200

        renewed, renewed_key = make_cert(d, "ca", "renewed", "/CN=renewed", "IP:127.0.0.1,DNS:localhost")
        staged = tmp_path / "keystore.pem.new"
        staged.write_text(renewed_key.read_text() + renewed.read_text())
        os.replace(staged, keystore)
        deadline = time.time() + 10
        while served_subject(port, certs["ca"]) != "renewed":
            assert time.time() < deadline, "the renewed certificate is not served"
            time.sleep(0.3)
        assert "TLS keystore changed" in node.output()
        assert len(confluent_round_trip(config, "after")) == 200

        keystore.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n")
        time.sleep(1.5)
        assert served_subject(port, certs["ca"]) == "renewed", "a broken file leaves the last good certificate"
        assert "does not load; keeping the previous certificate" in node.output()
    finally:
        node.stop()
