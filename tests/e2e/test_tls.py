"""TLS on an SSL listener, with certificates made by openssl for the test: a
broker listening on PLAINTEXT and SSL serves confluent-kafka, kafka-python
and kafkajs over TLS (produce, and fetch through TLS instead of sendfile),
tells each client the endpoint of the listener it came in on, and with
`ssl.client.auth=required` refuses a client without a certificate or with
one from another CA, and names a client by its certificate through
`ssl.principal.mapping.rules`. A keystore that cannot be read stops the
start with the reason."""

import json
import os
import subprocess

import pytest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import ROOT, Broker, free_port


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=%s" % name,
            "-keyout", "%s.key" % name, "-out", "%s.pem" % name, cwd=d)
    return d / ("%s.pem" % name)


def make_cert(d, ca, name, subject, san=None):
    """A key and a certificate signed by `ca`; returns (cert, key)."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", "%s.key" % name,
            "-out", "%s.csr" % name, cwd=d)
    ext = d / ("%s.ext" % name)
    ext.write_text("subjectAltName=%s\n" % san if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "%s.csr" % name, "-CA", "%s.pem" % ca, "-CAkey", "%s.key" % ca,
            "-CAcreateserial", "-days", "2", "-extfile", ext.name, "-out", "%s.pem" % name, cwd=d)
    return d / ("%s.pem" % name), d / ("%s.key" % name)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    ca = make_ca(d, "ca")
    other_ca = make_ca(d, "other")
    server, server_key = make_cert(d, "ca", "server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost")
    keystore = d / "keystore.pem"
    keystore.write_text(server_key.read_text() + server.read_text())
    client = make_cert(d, "ca", "client", "/C=US/O=acme/OU=eng/CN=Alice")
    stranger = make_cert(d, "other", "stranger", "/CN=mallory")
    return dict(ca=ca, other_ca=other_ca, keystore=keystore, client=client, stranger=stranger)


def with_ssl(node, keystore):
    """Adds an SSL listener beside the harness's PLAINTEXT one."""
    ssl_port = free_port()
    node.config["listeners"] = "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (node.port, ssl_port)
    node.config["ssl.keystore.location"] = str(keystore)
    node.ssl_bootstrap = "127.0.0.1:%d" % ssl_port
    return node


def ssl_client_config(node, certs, client=None):
    config = {"bootstrap.servers": node.ssl_bootstrap, "security.protocol": "SSL",
              "ssl.ca.location": str(certs["ca"])}
    if client:
        config["ssl.certificate.location"] = str(client[0])
        config["ssl.key.location"] = str(client[1])
    return config


def confluent_round_trip(config, topic, n=200):
    """Produces n records and reads them back; returns the values read."""
    producer = Producer(dict(config, **{"linger.ms": 5}))
    for i in range(n):
        producer.produce(topic, value=b"v%d" % i, partition=0)
    assert producer.flush(30) == 0
    consumer = Consumer(dict(config, **{"group.id": "tls-" + topic, "auto.offset.reset": "earliest"}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(100):
        got += [m.value() for m in consumer.consume(500, 0.2) if not m.error()]
        if len(got) >= n:
            break
    consumer.close()
    return got


@pytest.fixture
def node(tmp_path, certs):
    node = with_ssl(Broker(tmp_path), certs["keystore"]).start()
    yield node
    node.stop()


def test_confluent_kafka_python_and_kafkajs_over_tls(node, certs):
    config = ssl_client_config(node, certs)
    admin = AdminClient(config)
    admin.create_topics([NewTopic("secure", 1, 1)])["secure"].result(10)
    # Large enough that fetches go through TLS in several chunks.
    got = confluent_round_trip(config, "secure", n=3000)
    assert got[:3] == [b"v0", b"v1", b"v2"] and len(got) == 3000
    # Metadata on the SSL listener names the SSL port; on PLAINTEXT, the plain one.
    ssl_meta = AdminClient(config).list_topics(timeout=10)
    assert ["%s:%d" % (b.host, b.port) for b in ssl_meta.brokers.values()] == [node.ssl_bootstrap]
    plain_meta = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=10)
    assert ["%s:%d" % (b.host, b.port) for b in plain_meta.brokers.values()] == [node.bootstrap]

    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KafkaTopicPartition
    producer = KafkaProducer(bootstrap_servers=node.ssl_bootstrap, security_protocol="SSL",
                             ssl_cafile=str(certs["ca"]))
    producer.send("secure", b"from-kafka-python", partition=0).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=node.ssl_bootstrap, security_protocol="SSL",
                             ssl_cafile=str(certs["ca"]), consumer_timeout_ms=5000)
    tp = KafkaTopicPartition("secure", 0)
    consumer.assign([tp])
    consumer.seek(tp, 3000)
    assert [m.value for m in consumer][:1] == [b"from-kafka-python"]
    consumer.close()

    js = ROOT / "tests" / "js"
    out = subprocess.run(["node", str(js / "produce.js"), node.ssl_bootstrap, "secure", json.dumps(["from-js"])],
                         env=dict(os.environ, WEIR_TLS_CA=str(certs["ca"])), capture_output=True, text=True,
                         timeout=60)
    assert json.loads(out.stdout) == [3001], out.stdout + out.stderr


def test_required_client_certificates_name_the_principal(tmp_path, certs):
    node = with_ssl(Broker(tmp_path, prefix=["env", "RUST_LOG=info,weir::server::connection=debug"]),
                    certs["keystore"])
    node.config.update({
        "ssl.client.auth": "required",
        "ssl.truststore.location": str(certs["ca"]),
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]*),OU=eng,.*$/$1@eng/L,DEFAULT",
    })
    node.start()
    try:
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        admin.create_topics([NewTopic("mtls", 1, 1)])["mtls"].result(10)
        assert confluent_round_trip(ssl_client_config(node, certs, certs["client"]), "mtls", n=10)[:1] == [b"v0"]
        assert "User:alice@eng" in node.log_path.read_text()
        for who in (None, certs["stranger"]):
            producer = Producer(dict(ssl_client_config(node, certs, who), **{"message.timeout.ms": 3000,
                                                                               "log_level": 0}))
            failed = []
            producer.produce("mtls", value=b"x", partition=0, on_delivery=lambda err, msg: failed.append(err))
            producer.flush(10)
            assert failed and failed[0] is not None, "delivered without a certificate the truststore vouches for"
        assert "TLS handshake failed" in node.log_path.read_text()
    finally:
        node.stop()


def test_an_unreadable_keystore_stops_the_start(tmp_path, certs):
    missing = with_ssl(Broker(tmp_path / "missing"), tmp_path / "missing.pem")
    missing.workdir.mkdir()
    with pytest.raises(RuntimeError) as refused:
        missing.start(timeout=20)
    assert "listener SSL" in str(refused.value) and "missing.pem" in str(refused.value)
    jks = with_ssl(Broker(tmp_path / "jks"), certs["keystore"])
    jks.workdir.mkdir()
    jks.config["ssl.keystore.type"] = "JKS"
    with pytest.raises(RuntimeError) as refused:
        jks.start(timeout=20)
    assert "use PEM" in str(refused.value)
