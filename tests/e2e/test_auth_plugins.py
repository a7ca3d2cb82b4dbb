"""Authentication and authorization as plugins, with real clients.

A broker binds the standard password authenticator (`weir.authenticator`:
PLAIN passwords checked against Argon2 and bcrypt hashes in the plugin's
config, so the broker's config holds no password) and the standard tenant
authorizer (`weir.authorizer`: `User:<tenant>.<name>` may use only its
tenant's topics and groups), both WebAssembly components built from
plugins/. confluent-kafka and kafka-python clients authenticate with the
hashed passwords and see and touch only their tenant's resources, with
Kafka's error codes. Hostile plugins (a trap, an endless loop, a wrong
answer, a forged principal) make the broker refuse — it fails closed — and
keep serving; swapping a plugin through the admin endpoint takes effect
without a restart. A produce interceptor stamps each record with its
writer's principal, read through `host.caller()`."""

import json
import pathlib
import time
import urllib.request

import argon2
import bcrypt
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import ADMIN_TOKEN, Broker, free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
WASM = ROOT / "target" / "wasm32-wasip2" / "release"
PASSWORDS = {"acme.alice": "alice-pw", "globex.bob": "bob-pw", "admin": "admin-pw"}
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def hashes():
    """alice's password hashed with Argon2id, bob's and admin's with bcrypt
    (cheap parameters: the hash carries them, the plugin reads them)."""
    argon = argon2.PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)
    return {
        "user.acme.alice": argon.hash(PASSWORDS["acme.alice"]),
        "user.globex.bob": bcrypt.hashpw(PASSWORDS["globex.bob"].encode(), bcrypt.gensalt(rounds=6)).decode(),
        "user.admin": bcrypt.hashpw(PASSWORDS["admin"].encode(), bcrypt.gensalt(rounds=6)).decode(),
    }


def plugin(name, wasm, kind, **extra):
    assert (WASM / wasm).exists(), "build the plugins first (tests/run.sh does): %s" % wasm
    return dict(name=name, path=str(WASM / wasm), kind=kind, **extra)


def auth_broker(workdir, authenticator, authorizer, **config):
    node = Broker(workdir)
    node.sasl_port = free_port()
    node.plugins = [authenticator, authorizer,
                    plugin("stamp", "header_stamp.wasm", "produce-interceptor",
                           config={"principal-header": "writer"})]
    node.config.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (node.port, node.sasl_port),
        "sasl.enabled.mechanisms": "PLAIN",
        "weir.authenticator": authenticator["name"],
        "weir.authorizer": authorizer["name"],
        "authorizer.class.name": STANDARD_AUTHORIZER,
        # The harness's PLAINTEXT connections (User:ANONYMOUS) and admin.
        "super.users": "User:admin;User:ANONYMOUS;User:test",
        "auto.create.topics.enable": False,
    })
    node.config.update(config)
    return node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("auth-plugins")
    node = auth_broker(
        workdir,
        plugin("passwords", "password_authenticator.wasm", "authenticator",
               config=hashes(), **{"timeout-ms": 2000}),
        plugin("tenants", "tenant_authorizer.wasm", "authorizer", config={"shared": "announcements"}),
    )
    node.start()
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    topics = [NewTopic(t, 1, 1) for t in ("acme.orders", "globex.orders", "announcements")]
    topics.append(NewTopic("acme.stamped", 1, 1, config={"weir.interceptors.produce": "stamp"}))
    for f in admin.create_topics(topics).values():
        f.result()
    producer = Producer({"bootstrap.servers": node.bootstrap})
    producer.produce("announcements", b"hello tenants")
    producer.flush(10)
    yield node
    node.stop()


def as_user(node, user, password=None, **extra):
    config = {"bootstrap.servers": "127.0.0.1:%d" % node.sasl_port, "security.protocol": "SASL_PLAINTEXT",
              "sasl.mechanism": "PLAIN", "sasl.username": user,
              "sasl.password": password or PASSWORDS[user]}
    config.update(extra)
    return config


def produce(config, topic, value=b"v"):
    errors = []
    producer = Producer(dict(config, **{"message.timeout.ms": 10000}))
    producer.produce(topic, value, on_delivery=lambda e, m: errors.append(e))
    producer.flush(15)
    return errors


def read(config, topic, group=None, seconds=10):
    consumer = Consumer(dict(config, **{"group.id": group or "reader", "enable.auto.commit": False,
                                        "auto.offset.reset": "earliest"}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    got, errors = [], []
    deadline = time.time() + seconds
    while time.time() < deadline and not got and not errors:
        for m in consumer.consume(10, 0.5):
            (errors if m.error() else got).append(m)
    consumer.close()
    return got, errors


def metrics(node, name):
    with urllib.request.urlopen(node.admin_url + "/v1/plugins/" + name, timeout=10) as r:
        return json.load(r)["metrics"]


def auth_error(config):
    """The error a client's first request ends with, if authentication fails."""
    admin = AdminClient(dict(config, **{"socket.timeout.ms": 5000}))
    try:
        admin.list_topics(timeout=8)
        return None
    except KafkaException as e:
        return e.args[0]


def test_argon2_and_bcrypt_passwords_authenticate(node):
    assert produce(as_user(node, "acme.alice"), "acme.orders") == [None], "Argon2id"
    assert produce(as_user(node, "globex.bob"), "globex.orders") == [None], "bcrypt"
    for user, password in (("acme.alice", "guess"), ("globex.bob", "alice-pw"), ("mallory", "x")):
        error = auth_error(as_user(node, user, password))
        assert error is not None and error.code() in (KafkaError._AUTHENTICATION, KafkaError._TRANSPORT), error
    assert "Invalid username or password" in node.output()
    counted = metrics(node, "passwords")
    assert counted["calls"] >= 5 and counted["refusals"] >= 3 and counted["failures"] == 0, counted


def test_kafka_python_authenticates_through_the_plugin(node):
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers="127.0.0.1:%d" % node.sasl_port, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="PLAIN", sasl_plain_username="acme.alice",
                             sasl_plain_password=PASSWORDS["acme.alice"])
    producer.send("acme.orders", b"from kafka-python").get(timeout=15)
    producer.close()
    consumer = KafkaConsumer("acme.orders", bootstrap_servers="127.0.0.1:%d" % node.sasl_port,
                             security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                             sasl_plain_username="acme.alice", sasl_plain_password=PASSWORDS["acme.alice"],
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    assert b"from kafka-python" in [m.value for m in consumer]
    consumer.close()


def test_a_tenant_sees_and_touches_only_its_own(node):
    alice = as_user(node, "acme.alice")
    topics = set(AdminClient(alice).list_topics(timeout=10).topics)
    assert topics == {"acme.orders", "acme.stamped", "announcements"}, "other tenants' topics are invisible"

    [denied] = produce(alice, "globex.orders")
    assert denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, denied
    [denied] = produce(alice, "announcements")
    assert denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, "shared topics are read-only"
    got, _ = read(alice, "announcements", group="acme.readers")
    assert [m.value() for m in got] == [b"hello tenants"]
    # Metadata does not tell her where globex's topic is: she reads nothing.
    got, errors = read(alice, "globex.orders", group="acme.readers", seconds=4)
    assert got == [] and {e.error().code() for e in errors} <= {KafkaError.TOPIC_AUTHORIZATION_FAILED}

    consumer = Consumer(dict(alice, **{"group.id": "globex.spies", "auto.offset.reset": "earliest"}))
    consumer.subscribe(["acme.orders"])
    errors = []
    deadline = time.time() + 15
    while time.time() < deadline and not errors:
        m = consumer.poll(0.5)
        if m is not None and m.error():
            errors.append(m.error())
    consumer.close()
    assert errors and errors[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED, errors

    # Cluster admin operations are deferred to the ACLs: none grant them.
    client = AdminClient(alice)
    futures = client.create_topics([NewTopic("globex.new", 1, 1)])
    with pytest.raises(KafkaException) as refused:
        futures["globex.new"].result()
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    client.create_topics([NewTopic("acme.new", 1, 1)])["acme.new"].result()
    # The super user is not asked about.
    assert produce(as_user(node, "admin"), "globex.orders") == [None]
    assert metrics(node, "tenants")["refusals"] >= 4


def test_a_produce_interceptor_stamps_the_writers_principal(node):
    assert produce(as_user(node, "acme.alice"), "acme.stamped", b"signed") == [None]
    got, _ = read(as_user(node, "acme.alice"), "acme.stamped", group="acme.readers")
    assert dict(got[0].headers())["writer"] == b"User:acme.alice"


def create_topic(node, name):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result()


def admin_put(node, name, kind, wasm):
    request = urllib.request.Request("%s/v1/plugins/%s?kind=%s" % (node.admin_url, name, kind),
                                     data=(WASM / wasm).read_bytes(), method="PUT",
                                     headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


@pytest.mark.parametrize("behaviour", ["trap", "loop", "short"])
def test_a_failing_authorizer_denies_and_a_swap_fixes_it(tmp_path, behaviour):
    node = auth_broker(
        tmp_path,
        plugin("passwords", "password_authenticator.wasm", "authenticator", config=hashes(),
               **{"timeout-ms": 2000}),
        plugin("gate", "hostile_authorizer.wasm", "authorizer", config={"behaviour": behaviour},
               **{"timeout-ms": 50}),
    ).start()
    try:
        create_topic(node, "acme.orders")
        alice = as_user(node, "acme.alice")
        started = time.monotonic()
        [denied] = produce(alice, "acme.orders")
        assert denied is not None and denied.code() in (
            KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError._MSG_TIMED_OUT, KafkaError.UNKNOWN_TOPIC_OR_PART), denied
        assert time.monotonic() - started < 20, "the deadline ends a runaway call"
        assert "authorization fails closed" in node.output()
        counted = metrics(node, "gate")
        assert counted["failures"] >= 1, counted
        # The harness (a super user) is not held up by the broken plugin.
        assert produce({"bootstrap.servers": node.bootstrap}, "acme.orders") == [None]

        assert admin_put(node, "gate", "authorizer", "tenant_authorizer.wasm")["name"] == "gate"
        assert produce(alice, "acme.orders") == [None], "the swapped-in authorizer allows"
        [denied] = produce(alice, "globex.orders")
        assert denied.code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.UNKNOWN_TOPIC_OR_PART)
    finally:
        node.stop()


@pytest.mark.parametrize("behaviour", ["trap", "loop", "bad-principal"])
def test_a_failing_authenticator_refuses_and_the_broker_keeps_serving(tmp_path, behaviour):
    node = auth_broker(
        tmp_path,
        plugin("gatekeeper", "hostile_authenticator.wasm", "authenticator", config={"behaviour": behaviour},
               **{"timeout-ms": 50}),
        plugin("tenants", "tenant_authorizer.wasm", "authorizer"),
    ).start()
    try:
        error = auth_error(as_user(node, "acme.alice"))
        assert error is not None and error.code() in (KafkaError._AUTHENTICATION, KafkaError._TRANSPORT), error
        log = node.output()
        assert "authentication fails closed" in log
        assert "User:evil" not in log.split("authentication fails closed")[0].split("SASL authenticated")[-1]
        assert metrics(node, "gatekeeper")["failures"] >= 1
        assert produce({"bootstrap.servers": node.bootstrap}, "anything") != [], "still serving"
    finally:
        node.stop()


def test_the_authorizer_sees_the_caller_and_answers_are_cached_per_connection(tmp_path):
    node = auth_broker(
        tmp_path,
        plugin("passwords", "password_authenticator.wasm", "authenticator", config=hashes(),
               **{"timeout-ms": 2000}),
        plugin("gate", "hostile_authorizer.wasm", "authorizer", config={"behaviour": "caller"}),
        **{"weir.authorizer.cache.ms": 60000},
    ).start()
    try:
        create_topic(node, "acme.orders")
        producer = Producer(dict(as_user(node, "acme.alice"), **{"linger.ms": 0}))
        errors = []
        producer.produce("acme.orders", b"first", on_delivery=lambda e, m: errors.append(e))
        producer.flush(15)
        calls = metrics(node, "gate")["calls"]
        for i in range(20):
            producer.produce("acme.orders", b"%d" % i, on_delivery=lambda e, m: errors.append(e))
            producer.flush(15)
        assert errors == [None] * 21, "host.caller() named the client the plugin was asked about"
        assert metrics(node, "gate")["calls"] == calls, "20 produces on one connection: answers cached"
    finally:
        node.stop()
