"""`weir plugin new --kind authorizer|authenticator` in every SDK language:
each template builds as it stands with the language's real toolchain,
`weir plugin test` shows its decisions on sample principals and
credentials, and a deployed authorizer decides, on a running broker, what
real SASL clients may do — failing closed until it is there."""

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker, free_port
from test_plugin_cli import LANGS, new_project, weir

USERS = {"acme.alice": "alice-pw", "globex.bob": "bob-pw"}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        + " ".join('user_%s="%s"' % kv for kv in USERS.items()) + ";")


def produce(node, user, topic):
    errors = []
    producer = Producer({"bootstrap.servers": "127.0.0.1:%d" % node.sasl_port, "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": USERS[user],
                         "message.timeout.ms": 10000})
    producer.produce(topic, b"v", on_delivery=lambda e, m: errors.append(e))
    producer.flush(15)
    return errors[0] if errors else "no delivery report"


@pytest.mark.parametrize("lang", LANGS)
def test_new_auth_plugins_build_test_and_decide(tmp_path, lang):
    authenticator = new_project(tmp_path, "authenticator", "passwords", lang)
    tested = weir("test", "--config", "user.alice=alice-secret", cwd=authenticator).stdout
    assert 'PLAIN alice / "alice-secret" → accept as User:alice' in tested, tested
    assert 'PLAIN alice / "wrong" → refuse: Invalid username or password' in tested, tested
    assert 'PLAIN mallory / "guess" → defer' in tested, tested
    assert "OAUTHBEARER token → defer" in tested, tested

    authorizer = new_project(tmp_path, "authorizer", "tenants", lang)
    tested = weir("test", cwd=authorizer).stdout
    alice, bob, carol = tested.split("User:")[1:4]
    assert "WRITE topic acme.orders → allow" in alice and "READ topic globex.orders → deny" in alice, tested
    assert "READ group acme.billing → allow" in alice and "ALTER cluster kafka-cluster → defer" in alice, tested
    assert "WRITE topic acme.orders → deny" in bob and "READ topic globex.orders → allow" in bob, tested
    assert carol.count("→ defer") == 4, tested

    node = Broker(tmp_path / "broker")
    (tmp_path / "broker").mkdir()
    node.sasl_port = free_port()
    node.config.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (node.port, node.sasl_port),
        "sasl.enabled.mechanisms": "PLAIN", "sasl.jaas.config": JAAS,
        "weir.authorizer": "tenants", "super.users": "User:ANONYMOUS;User:test",
    })
    node.start()
    try:
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        for f in admin.create_topics([NewTopic("acme.orders", 1, 1), NewTopic("globex.orders", 1, 1)]).values():
            f.result()
        denied = produce(node, "acme.alice", "acme.orders")
        assert denied is not None, "no authorizer loaded yet: every action is denied"
        assert "authorizer plugin tenants is not loaded" in node.output()

        weir("deploy", cwd=authorizer, admin=node.admin_url)
        assert produce(node, "acme.alice", "acme.orders") is None
        assert produce(node, "globex.bob", "globex.orders") is None
        refused = produce(node, "acme.alice", "globex.orders")
        assert refused is not None and refused.code() in (
            KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.UNKNOWN_TOPIC_OR_PART), refused
    finally:
        node.stop()
