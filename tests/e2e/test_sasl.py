"""SASL on SASL_PLAINTEXT and SASL_SSL listeners, with real clients.

One broker listens on PLAINTEXT (for the harness and to manage SCRAM
users), SASL_PLAINTEXT and SASL_SSL, with PLAIN users from the JAAS config,
SCRAM credentials made with AlterUserScramCredentials (kept in the metadata
log, so they survive a restart) and OAUTHBEARER: unsigned tokens on
SASL_PLAINTEXT (Kafka's unsecured validator) and tokens signed by a key of
a JWKS file on SASL_SSL. confluent-kafka, kafka-python, aiokafka, kafkajs
and kcat produce and consume with each mechanism; wrong passwords, unknown
users and expired or forged tokens get SASL_AUTHENTICATION_FAILED and
nothing else; before authenticating a connection may send only ApiVersions
and the SASL requests; with `connections.max.reauth.ms` clients
re-authenticate (KIP-368) and a connection that does not is closed."""

import asyncio
import base64
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, NewTopic, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialDeletion, UserScramCredentialUpsertion)

from conftest import ROOT, Broker, free_port
from test_tls import make_ca, make_cert, openssl

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'user_admin="admin-secret" user_alice="alice-plain";')
SCRAM_USERS = {"alice": "alice-scram", "bob": "bob-scram"}
KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The TLS keystore and CA, and an RSA key published in a JWKS file."""
    d = tmp_path_factory.mktemp("sasl-keys")
    ca = make_ca(d, "ca")
    server, server_key = make_cert(d, "ca", "server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost")
    keystore = d / "keystore.pem"
    keystore.write_text(server_key.read_text() + server.read_text())
    openssl("genrsa", "-out", "jwt.key", "2048", cwd=d)
    modulus = subprocess.run(["openssl", "rsa", "-in", "jwt.key", "-noout", "-modulus"], cwd=d,
                             check=True, capture_output=True, text=True).stdout.strip().split("=")[1]
    jwks = d / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                          "n": b64url(bytes.fromhex(modulus)), "e": "AQAB"}]}))
    openssl("genrsa", "-out", "forger.key", "2048", cwd=d)
    return dict(dir=d, ca=ca, keystore=keystore, jwks=jwks, jwt_key=d / "jwt.key", forger_key=d / "forger.key")


def signed_jwt(key, claims, kid="k1"):
    """An RS256 JWT signed with openssl."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = ("%s.%s" % (header, payload)).encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key)], input=signing_input,
                               check=True, capture_output=True).stdout
    return "%s.%s.%s" % (header, payload, b64url(signature))


def sasl_broker(workdir, keys, **extra):
    node = Broker(workdir, prefix=["env", "RUST_LOG=info,weir::server::authentication=debug"])
    node.sasl_port, node.sasl_ssl_port = free_port(), free_port()
    node.config.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d"
                     % (node.port, node.sasl_port, node.sasl_ssl_port),
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
        "sasl.jaas.config": PLAIN_JAAS,
        "ssl.keystore.location": str(keys["keystore"]),
        "listener.name.sasl_ssl.sasl.oauthbearer.jwks.endpoint.url": "file://%s" % keys["jwks"],
        "listener.name.sasl_ssl.sasl.oauthbearer.expected.audience": "weir",
        "listener.name.sasl_ssl.sasl.oauthbearer.expected.issuer": "https://issuer.test",
    })
    node.config.update(extra)
    return node


def add_scram_users(node):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    upserts = []
    for user, password in SCRAM_USERS.items():
        for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
            upserts.append(UserScramCredentialUpsertion(user, ScramCredentialInfo(mechanism, 8192),
                                                        password.encode()))
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(10)


@pytest.fixture(scope="module")
def node(tmp_path_factory, keys):
    node = sasl_broker(tmp_path_factory.mktemp("sasl"), keys).start()
    add_scram_users(node)
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    admin.create_topics([NewTopic("guarded", 1, 1)])["guarded"].result(10)
    yield node
    node.stop()


def client_config(node, keys, protocol, mechanism, user, password):
    port = node.sasl_port if protocol == "SASL_PLAINTEXT" else node.sasl_ssl_port
    config = {"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": protocol,
              "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}
    if protocol == "SASL_SSL":
        config["ssl.ca.location"] = str(keys["ca"])
    return config


def round_trip(config, topic, tag, n=50):
    """Produces n records with confluent-kafka and reads them back."""
    producer = Producer(dict(config, **{"linger.ms": 5}))
    for i in range(n):
        producer.produce(topic, value=b"%s-%d" % (tag.encode(), i), partition=0)
    assert producer.flush(30) == 0
    consumer = Consumer(dict(config, **{"group.id": "sasl-" + tag, "auto.offset.reset": "earliest"}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(100):
        got += [m.value() for m in consumer.consume(500, 0.2) if not m.error()]
        if sum(v.startswith(tag.encode() + b"-") for v in got) >= n:
            break
    consumer.close()
    return [v for v in got if v.startswith(tag.encode() + b"-")]


CREDENTIALS = {"PLAIN": ("alice", "alice-plain"), "SCRAM-SHA-256": ("alice", "alice-scram"),
               "SCRAM-SHA-512": ("bob", "bob-scram")}


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_confluent_kafka_authenticates(node, keys, protocol, mechanism):
    user, password = CREDENTIALS[mechanism]
    tag = "%s-%s" % (protocol, mechanism)
    got = round_trip(client_config(node, keys, protocol, mechanism, user, password), "guarded", tag)
    assert len(got) == 50 and got[0] == tag.encode() + b"-0"
    assert "principal=User:%s" % user in node.log_path.read_text()


@pytest.mark.parametrize("protocol,mechanism", [("SASL_PLAINTEXT", "SCRAM-SHA-512"), ("SASL_SSL", "PLAIN"),
                                                ("SASL_SSL", "SCRAM-SHA-256")])
def test_kafka_python_aiokafka_kafkajs_and_kcat_authenticate(node, keys, protocol, mechanism):
    user, password = CREDENTIALS[mechanism]
    port = node.sasl_port if protocol == "SASL_PLAINTEXT" else node.sasl_ssl_port
    bootstrap = "127.0.0.1:%d" % port
    tag = ("%s-%s" % (protocol, mechanism)).encode()

    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KafkaTopicPartition
    common = dict(bootstrap_servers=bootstrap, security_protocol=protocol, sasl_mechanism=mechanism,
                  sasl_plain_username=user, sasl_plain_password=password)
    if protocol == "SASL_SSL":
        common["ssl_cafile"] = str(keys["ca"])
    producer = KafkaProducer(**common)
    sent = producer.send("guarded", tag + b"-kafka-python", partition=0).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(consumer_timeout_ms=5000, **common)
    tp = KafkaTopicPartition("guarded", 0)
    consumer.assign([tp])
    consumer.seek(tp, sent.offset)
    assert [m.value for m in consumer][:1] == [tag + b"-kafka-python"]
    consumer.close()

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context

    async def aiokafka_round_trip():
        options = dict(bootstrap_servers=bootstrap, security_protocol=protocol, sasl_mechanism=mechanism,
                       sasl_plain_username=user, sasl_plain_password=password)
        if protocol == "SASL_SSL":
            options["ssl_context"] = create_ssl_context(cafile=str(keys["ca"]))
        producer = AIOKafkaProducer(**options)
        await producer.start()
        try:
            meta = await producer.send_and_wait("guarded", tag + b"-aiokafka", partition=0)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(**options)
        await consumer.start()
        try:
            from aiokafka import TopicPartition as AioTopicPartition
            tp = AioTopicPartition("guarded", 0)
            consumer.assign([tp])
            consumer.seek(tp, meta.offset)
            message = await asyncio.wait_for(consumer.getone(), 20)
        finally:
            await consumer.stop()
        return message.value

    assert asyncio.run(aiokafka_round_trip()) == tag + b"-aiokafka"

    env = dict(os.environ, WEIR_SASL_MECHANISM=mechanism, WEIR_SASL_USERNAME=user, WEIR_SASL_PASSWORD=password)
    if protocol == "SASL_SSL":
        env["WEIR_TLS_CA"] = str(keys["ca"])
    js = ROOT / "tests" / "js"
    out = subprocess.run(["node", str(js / "produce.js"), bootstrap, "guarded", json.dumps(["kafkajs"])],
                         env=env, capture_output=True, text=True, timeout=60)
    assert isinstance(json.loads(out.stdout), list), out.stdout + out.stderr

    assert KCAT, "kcat is not installed: tests/run.sh installs it from apt"
    kcat = [KCAT, "-b", bootstrap, "-X", "security.protocol=" + protocol, "-X", "sasl.mechanisms=" + mechanism,
            "-X", "sasl.username=" + user, "-X", "sasl.password=" + password]
    if protocol == "SASL_SSL":
        kcat += ["-X", "ssl.ca.location=" + str(keys["ca"])]
    subprocess.run(kcat + ["-P", "-t", "guarded", "-p", "0"], input=tag + b"-kcat\n", check=True, timeout=60,
                   capture_output=True)
    read = subprocess.run(kcat + ["-C", "-t", "guarded", "-p", "0", "-o", "-1", "-e"], check=True, timeout=60,
                          capture_output=True)
    assert read.stdout.strip().endswith(tag + b"-kcat"), read


@pytest.mark.parametrize("protocol,mechanism,user,password", [
    ("SASL_PLAINTEXT", "PLAIN", "alice", "wrong"),
    ("SASL_PLAINTEXT", "PLAIN", "nobody", "alice-plain"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "wrong"),
    ("SASL_SSL", "SCRAM-SHA-512", "nobody", "bob-scram"),
    ("SASL_SSL", "SCRAM-SHA-256", "bob", "alice-scram"),
])
def test_wrong_credentials_are_refused_and_nothing_is_written(node, keys, protocol, mechanism, user, password,
                                                             caplog):
    errors = []
    config = client_config(node, keys, protocol, mechanism, user, password)
    config.update({"message.timeout.ms": 4000, "error_cb": errors.append, "log_level": 0})
    producer = Producer(config)
    failed = []
    producer.produce("guarded", value=b"intruder", partition=0, on_delivery=lambda e, m: failed.append(e))
    producer.flush(10)
    assert failed and failed[0] is not None
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert "SASL_AUTHENTICATION_FAILED" in str(errors[0]) or "Authentication failed" in str(errors[0]), errors

    from kafka import KafkaProducer
    from kafka.errors import KafkaError as PyKafkaError
    options = dict(bootstrap_servers=config["bootstrap.servers"], security_protocol=protocol,
                   sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password)
    if protocol == "SASL_SSL":
        options["ssl_cafile"] = str(keys["ca"])
    with caplog.at_level(logging.ERROR, logger="kafka"), pytest.raises(PyKafkaError):
        KafkaProducer(bootstrap_timeout_ms=3000, **options).send("guarded", b"intruder").get(timeout=10)
    assert "SaslAuthenticationFailedError" in caplog.text

    consumer = Consumer({"bootstrap.servers": node.bootstrap, "group.id": "audit"})
    consumer.assign([TopicPartition("guarded", 0, 0)])
    seen = []
    for _ in range(10):
        seen += [m.value() for m in consumer.consume(500, 0.3) if not m.error()]
    consumer.close()
    assert b"intruder" not in seen


def test_scram_credentials_are_described_altered_and_survive_a_restart(tmp_path, keys):
    node = sasl_broker(tmp_path, keys).start()
    try:
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        add_scram_users(node)
        described = admin.describe_user_scram_credentials(["alice"])["alice"].result(10)
        assert sorted((i.mechanism, i.iterations) for i in described.scram_credential_infos) == [
            (ScramMechanism.SCRAM_SHA_256, 8192), (ScramMechanism.SCRAM_SHA_512, 8192)]
        everyone = admin.describe_user_scram_credentials().result(10)
        assert sorted(everyone) == ["alice", "bob"]
        with pytest.raises(KafkaException) as unknown:
            admin.describe_user_scram_credentials(["carol"])["carol"].result(10)
        assert unknown.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND
        few = UserScramCredentialUpsertion("carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 100), b"x")
        with pytest.raises(KafkaException) as refused:
            admin.alter_user_scram_credentials([few])["carol"].result(10)
        assert refused.value.args[0].code() == KafkaError.UNACCEPTABLE_CREDENTIAL
        gone = UserScramCredentialDeletion("carol", ScramMechanism.SCRAM_SHA_512)
        with pytest.raises(KafkaException) as missing:
            admin.alter_user_scram_credentials([gone])["carol"].result(10)
        assert missing.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND

        admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(10)
        node.stop()
        node.start()
        config = client_config(node, keys, "SASL_PLAINTEXT", "SCRAM-SHA-512", "bob", "bob-scram")
        assert len(round_trip(config, "kept", "after-restart", n=5)) == 5

        # A deleted credential no longer authenticates.
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        bob_512 = UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_512)
        admin.alter_user_scram_credentials([bob_512])["bob"].result(10)
        errors = []
        producer = Producer(dict(config, **{"message.timeout.ms": 3000, "error_cb": errors.append, "log_level": 0}))
        producer.produce("kept", value=b"x", partition=0)
        producer.flush(8)
        assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    finally:
        node.stop()


def oauth_config(node, keys, token_fn, protocol="SASL_SSL"):
    port = node.sasl_port if protocol == "SASL_PLAINTEXT" else node.sasl_ssl_port
    config = {"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": protocol,
              "sasl.mechanism": "OAUTHBEARER", "oauth_cb": token_fn}
    if protocol == "SASL_SSL":
        config["ssl.ca.location"] = str(keys["ca"])
    return config


def test_oauthbearer_with_unsigned_and_signed_tokens(node, keys):
    # SASL_PLAINTEXT has no JWKS: librdkafka's own unsigned tokens pass.
    unsecured = {"bootstrap.servers": "127.0.0.1:%d" % node.sasl_port, "security.protocol": "SASL_PLAINTEXT",
                 "sasl.mechanism": "OAUTHBEARER", "enable.sasl.oauthbearer.unsecure.jwt": True,
                 "sasl.oauthbearer.config": "principal=carol"}
    assert len(round_trip(unsecured, "guarded", "oauth-unsecured", n=5)) == 5
    assert "principal=User:carol" in node.log_path.read_text()

    def claims(**changes):
        now = int(time.time())
        c = {"sub": "dave", "aud": "weir", "iss": "https://issuer.test", "iat": now, "exp": now + 600}
        c.update(changes)
        return {k: v for k, v in c.items() if v is not None}

    good = signed_jwt(keys["jwt_key"], claims())
    config = oauth_config(node, keys, lambda _: (good, time.time() + 600, "dave"))
    assert len(round_trip(config, "guarded", "oauth-signed", n=5)) == 5
    assert "principal=User:dave" in node.log_path.read_text()

    for name, token in [
        ("expired", signed_jwt(keys["jwt_key"], claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))),
        ("forged", signed_jwt(keys["forger_key"], claims())),
        ("wrong audience", signed_jwt(keys["jwt_key"], claims(aud="elsewhere"))),
        ("wrong issuer", signed_jwt(keys["jwt_key"], claims(iss="https://evil.test"))),
        ("unsigned", "%s.%s." % (b64url(b'{"alg":"none"}'), b64url(json.dumps(claims()).encode()))),
    ]:
        errors = []
        bad = oauth_config(node, keys, lambda _, t=token: (t, time.time() + 600, "dave"))
        bad.update({"message.timeout.ms": 3000, "error_cb": errors.append, "log_level": 0})
        producer = Producer(bad)
        failed = []
        producer.produce("guarded", value=b"intruder", partition=0, on_delivery=lambda e, m: failed.append(e))
        producer.flush(8)
        assert failed and failed[0] is not None, name
        assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), (name, errors)


def kafka_request(sock, api_key, version, correlation, body):
    header = struct.pack(">hhih", api_key, version, correlation, 4) + b"test"
    message = header + body
    sock.sendall(struct.pack(">i", len(message)) + message)


def kafka_response(sock):
    size_bytes = sock.recv(4, socket.MSG_WAITALL)
    if len(size_bytes) < 4:
        return None
    size = struct.unpack(">i", size_bytes)[0]
    return sock.recv(size, socket.MSG_WAITALL)


def string(s):
    return struct.pack(">h", len(s)) + s


def handshake(sock, mechanism, correlation=1):
    kafka_request(sock, 17, 1, correlation, string(mechanism))
    answer = kafka_response(sock)
    code = struct.unpack(">h", answer[4:6])[0]
    count = struct.unpack(">i", answer[6:10])[0]
    names, at = [], 10
    for _ in range(count):
        n = struct.unpack(">h", answer[at:at + 2])[0]
        names.append(answer[at + 2:at + 2 + n].decode())
        at += 2 + n
    return code, names


def authenticate(sock, token, correlation=2):
    """SaslAuthenticate v1: returns (error code, message, session lifetime ms)."""
    kafka_request(sock, 36, 1, correlation, struct.pack(">i", len(token)) + token)
    answer = kafka_response(sock)
    code = struct.unpack(">h", answer[4:6])[0]
    n = struct.unpack(">h", answer[6:8])[0]
    message = answer[8:8 + n].decode() if n >= 0 else None
    at = 8 + max(n, 0)
    auth_len = struct.unpack(">i", answer[at:at + 4])[0]
    lifetime = struct.unpack(">q", answer[at + 4 + auth_len:at + 12 + auth_len])[0]
    return code, message, lifetime


def metadata_request(sock, correlation):
    kafka_request(sock, 3, 1, correlation, struct.pack(">i", -1))
    return kafka_response(sock)


def test_only_sasl_requests_before_authentication(node):
    address = ("127.0.0.1", node.sasl_port)
    # Metadata before authenticating: the connection is closed, as Kafka does.
    with socket.create_connection(address, timeout=10) as s:
        assert metadata_request(s, 1) is None
    # ApiVersions is answered, and lists the SASL requests.
    with socket.create_connection(address, timeout=10) as s:
        kafka_request(s, 18, 0, 1, b"")
        answer = kafka_response(s)
        keys = [struct.unpack(">h", answer[10 + 6 * i:12 + 6 * i])[0]
                for i in range(struct.unpack(">i", answer[6:10])[0])]
        assert 17 in keys and 36 in keys
        # An unknown mechanism: UNSUPPORTED_SASL_MECHANISM and the list.
        code, names = handshake(s, b"GSSAPI")
        assert code == 33 and names == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
        assert kafka_response(s) is None, "closed after refusing the mechanism"
    # A wrong PLAIN password: SASL_AUTHENTICATION_FAILED with a message, then closed.
    with socket.create_connection(address, timeout=10) as s:
        assert handshake(s, b"PLAIN")[0] == 0
        code, message, _ = authenticate(s, b"\0alice\0nope")
        assert code == 58 and "Invalid username or password" in message
        assert metadata_request(s, 3) is None
    # The right one: requests are served.
    with socket.create_connection(address, timeout=10) as s:
        assert handshake(s, b"PLAIN")[0] == 0
        assert authenticate(s, b"\0alice\0alice-plain")[0] == 0
        assert metadata_request(s, 3) is not None
    # SaslHandshake on a PLAINTEXT listener: ILLEGAL_SASL_STATE, as Kafka answers.
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as s:
        assert handshake(s, b"PLAIN")[0] == 34


def test_malformed_sasl_exchanges_never_hurt_the_broker(node):
    import random
    rng = random.Random(20261206)
    mechanisms = [b"PLAIN", b"SCRAM-SHA-256", b"SCRAM-SHA-512", b"OAUTHBEARER"]
    for i in range(200):
        with socket.create_connection(("127.0.0.1", node.sasl_port), timeout=10) as s:
            assert handshake(s, rng.choice(mechanisms))[0] == 0
            for step in range(rng.randint(1, 3)):
                size = rng.choice([0, 1, 5, 40, 300])
                token = bytes(rng.getrandbits(8) for _ in range(size))
                if rng.random() < 0.5:
                    token = rng.choice([b"n,,n=alice,r=", b"n,,\x01auth=Bearer ", b"\0alice\0"]) + token
                try:
                    kafka_request(s, 36, 1, 2 + step, struct.pack(">i", len(token)) + token)
                    if kafka_response(s) is None:
                        break
                except OSError:
                    break
    assert node.proc.poll() is None, "the broker survived"
    assert "panicked" not in node.log_path.read_text()
    config = client_config(node, None, "SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "alice-scram")
    assert len(round_trip(config, "guarded", "after-fuzz", n=3)) == 3


def test_sessions_expire_and_clients_reauthenticate(tmp_path, keys):
    node = sasl_broker(tmp_path, keys, **{"connections.max.reauth.ms": 2000}).start()
    try:
        add_scram_users(node)
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        admin.create_topics([NewTopic("long", 1, 1)])["long"].result(10)
        # librdkafka re-authenticates on its own: a producer outlives many sessions.
        config = client_config(node, keys, "SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "alice-scram")
        producer = Producer(dict(config, **{"linger.ms": 0}))
        failures = []
        for i in range(14):
            producer.produce("long", value=b"%d" % i, partition=0, on_delivery=lambda e, m: failures.append(e))
            producer.flush(10)
            time.sleep(0.5)
        assert failures == [None] * 14
        assert node.log_path.read_text().count("SASL authenticated") >= 3, "re-authenticated"

        # A client that does not re-authenticate is told when its session
        # ends, and then its connection is closed.
        with socket.create_connection(("127.0.0.1", node.sasl_port), timeout=10) as s:
            assert handshake(s, b"PLAIN")[0] == 0
            code, _, lifetime = authenticate(s, b"\0alice\0alice-plain")
            assert code == 0 and 0 < lifetime <= 2000
            assert metadata_request(s, 3) is not None
            time.sleep(2.5)
            assert metadata_request(s, 4) is None
        # Re-authenticating as someone else is refused.
        with socket.create_connection(("127.0.0.1", node.sasl_port), timeout=10) as s:
            assert handshake(s, b"PLAIN")[0] == 0
            assert authenticate(s, b"\0alice\0alice-plain")[0] == 0
            assert handshake(s, b"PLAIN", correlation=3)[0] == 0
            code, message, _ = authenticate(s, b"\0admin\0admin-secret", correlation=4)
            assert code == 58 and "principal" in message
    finally:
        node.stop()
