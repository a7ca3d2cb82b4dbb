"""ACLs with Kafka's model and codes, with real clients.

A broker with `authorizer.class.name` set and a SASL_PLAINTEXT listener
(PLAIN users admin, alice, bob): the super user creates ACLs with
confluent-kafka's AdminClient; alice and bob then get exactly what the ACLs
give them — a topic they may not describe is not listed, a denied produce or
fetch gets TOPIC_AUTHORIZATION_FAILED and reads nothing, a denied group gets
GROUP_AUTHORIZATION_FAILED, a denied admin call CLUSTER_AUTHORIZATION_FAILED,
a DENY wins over an ALLOW, prefixed ACLs cover a tenant's topics, the
authorized-operations fields are the principal's. ACLs survive a restart
and, once deleted, stop granting. Managing plugins on the admin endpoint
takes ALTER on the cluster."""

import json
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, NewTopic, ResourcePatternType, ResourceType)

from conftest import Broker, free_port

USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        + " ".join('user_%s="%s"' % kv for kv in USERS.items()) + ";")


def acl_broker(workdir):
    node = Broker(workdir)
    node.sasl_port = free_port()
    node.config.update({
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (node.port, node.sasl_port),
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.jaas.config": JAAS,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin;User:test",
        "auto.create.topics.enable": False,
    })
    return node


def as_user(node, user, **extra):
    config = {"bootstrap.servers": "127.0.0.1:%d" % node.sasl_port, "security.protocol": "SASL_PLAINTEXT",
              "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": USERS[user]}
    config.update(extra)
    return config


def allow(resource_type, name, principal, op, pattern=ResourcePatternType.LITERAL,
          permission=AclPermissionType.ALLOW):
    return AclBinding(resource_type, name, pattern, principal, "*", op, permission)


ALICE_ACLS = [
    allow(ResourceType.TOPIC, "orders", "User:alice", AclOperation.READ),
    allow(ResourceType.TOPIC, "orders", "User:alice", AclOperation.WRITE),
    allow(ResourceType.GROUP, "alice-group", "User:alice", AclOperation.READ),
    allow(ResourceType.TOPIC, "tenant-a.", "User:bob", AclOperation.ALL, ResourcePatternType.PREFIXED),
    allow(ResourceType.TOPIC, "tenant-a.secret", "User:bob", AclOperation.READ,
          permission=AclPermissionType.DENY),
    allow(ResourceType.GROUP, "bob-", "User:bob", AclOperation.READ, ResourcePatternType.PREFIXED),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = acl_broker(tmp_path_factory.mktemp("acls")).start()
    admin = AdminClient(as_user(node, "admin"))
    topics = [NewTopic(t, 1, 1) for t in ("orders", "secrets", "tenant-a.x", "tenant-a.secret")]
    for f in admin.create_topics(topics).values():
        f.result(10)
    for f in admin.create_acls(ALICE_ACLS).values():
        f.result(10)
    producer = Producer(as_user(node, "admin"))
    for topic in ("orders", "secrets", "tenant-a.secret"):
        producer.produce(topic, value=b"kept-in-" + topic.encode(), partition=0)
    assert producer.flush(20) == 0
    yield node
    node.stop()


def produce(config, topic):
    errors = []
    producer = Producer(dict(config, **{"message.timeout.ms": 5000, "retries": 0}))
    producer.produce(topic, value=b"x", partition=0, on_delivery=lambda e, m: errors.append(e))
    producer.flush(10)
    return errors[0] if errors else "no delivery report"


def consume(config, topic, group="alice-group"):
    """Reads partition 0 from the start: (values, error codes)."""
    consumer = Consumer(dict(config, **{"group.id": group, "enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    values, errors = [], []
    deadline = time.time() + 8
    while time.time() < deadline and not values and not errors:
        for m in consumer.consume(10, 0.5):
            (errors.append(m.error().code()) if m.error() else values.append(m.value()))
    consumer.close()
    return values, errors


def test_topics_a_principal_may_not_describe_are_not_listed(node):
    alice = AdminClient(as_user(node, "alice"))
    assert sorted(alice.list_topics(timeout=10).topics) == ["orders"]
    bob = AdminClient(as_user(node, "bob"))
    assert sorted(bob.list_topics(timeout=10).topics) == ["tenant-a.secret", "tenant-a.x"]
    anonymous = AdminClient({"bootstrap.servers": node.bootstrap})
    assert anonymous.list_topics(timeout=10).topics == {}
    admin = AdminClient(as_user(node, "admin"))
    assert sorted(admin.list_topics(timeout=10).topics) == ["orders", "secrets", "tenant-a.secret", "tenant-a.x"]


def test_produce_and_fetch_get_topic_authorization_failed_and_no_data(node):
    alice = as_user(node, "alice")
    assert produce(alice, "orders") is None
    assert produce(alice, "secrets").code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    values, _ = consume(alice, "orders")
    assert values and values[0] == b"kept-in-orders"
    # Metadata does not tell her where "secrets" is: she reads nothing.
    values, errors = consume(alice, "secrets")
    assert values == [] and set(errors) <= {KafkaError.TOPIC_AUTHORIZATION_FAILED}
    # bob: ALL on tenant-a.*, but a DENY on reading tenant-a.secret wins:
    # he may describe it, so his Fetch itself is refused.
    bob = as_user(node, "bob")
    assert produce(bob, "tenant-a.x") is None
    assert produce(bob, "tenant-a.secret") is None, "the DENY is for READ only"
    values, errors = consume(bob, "tenant-a.secret", group="bob-1")
    assert values == [] and KafkaError.TOPIC_AUTHORIZATION_FAILED in errors

    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaTopicPartition
    from kafka.errors import TopicAuthorizationFailedError
    consumer = KafkaConsumer(bootstrap_servers="127.0.0.1:%d" % node.sasl_port, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="PLAIN", sasl_plain_username="bob",
                             sasl_plain_password=USERS["bob"])
    consumer.assign([KafkaTopicPartition("tenant-a.secret", 0)])
    with pytest.raises(TopicAuthorizationFailedError):
        consumer.poll(timeout_ms=5000)
        consumer.poll(timeout_ms=5000)
    consumer.close()


def test_groups_need_read(node):
    alice = as_user(node, "alice")
    consumer = Consumer(dict(alice, **{"group.id": "someone-elses"}))
    consumer.subscribe(["orders"])
    errors = []
    deadline = time.time() + 10
    while time.time() < deadline and not errors:
        errors += [m.error().code() for m in consumer.consume(10, 0.5) if m.error()]
    consumer.close()
    assert errors[:1] == [KafkaError.GROUP_AUTHORIZATION_FAILED]
    consumer = Consumer(dict(alice, **{"group.id": "alice-group", "enable.auto.commit": False}))
    consumer.commit(offsets=[TopicPartition("orders", 0, 1)], asynchronous=False)
    assert consumer.committed([TopicPartition("orders", 0)], timeout=10)[0].offset == 1
    consumer.close()


def test_admin_calls_need_rights_on_the_cluster(node):
    alice = AdminClient(as_user(node, "alice"))
    with pytest.raises(KafkaException) as refused:
        alice.create_topics([NewTopic("alices-own", 1, 1)])["alices-own"].result(10)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    grant_herself = allow(ResourceType.TOPIC, "secrets", "User:alice", AclOperation.READ)
    with pytest.raises(KafkaException) as refused:
        alice.create_acls([grant_herself])[grant_herself].result(10)
    assert refused.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    # librdkafka describes the cluster with Metadata: its operations are hers.
    assert not alice.describe_cluster(include_authorized_operations=True).result(10).authorized_operations
    admin = AdminClient(as_user(node, "admin"))
    every = set(admin.describe_cluster(include_authorized_operations=True).result(10).authorized_operations)
    assert {AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.CLUSTER_ACTION} <= every
    with pytest.raises(KafkaException) as refused:
        alice.delete_topics(["orders"])["orders"].result(10)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Her rights on a topic, as DescribeTopics reports them.
    from confluent_kafka import TopicCollection
    described = alice.describe_topics(TopicCollection(["orders"]), include_authorized_operations=True)
    ops = set(described["orders"].result(10).authorized_operations)
    assert ops == {AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE}


def test_acls_are_described_deleted_and_survive_a_restart(tmp_path):
    node = acl_broker(tmp_path).start()
    try:
        admin = AdminClient(as_user(node, "admin"))
        admin.create_topics([NewTopic("t", 1, 1)])["t"].result(10)
        grant = allow(ResourceType.TOPIC, "t", "User:alice", AclOperation.WRITE)
        invalid = allow(ResourceType.BROKER, "not-the-cluster", "User:alice", AclOperation.ALTER)
        results = admin.create_acls([grant, invalid])
        results[grant].result(10)
        with pytest.raises(KafkaException) as refused:
            results[invalid].result(10)
        assert refused.value.args[0].code() == KafkaError.INVALID_REQUEST
        everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                      AclOperation.ANY, AclPermissionType.ANY)
        assert admin.describe_acls(everything).result(10) == [grant]
        node.stop()
        node.start()
        admin = AdminClient(as_user(node, "admin"))
        assert admin.describe_acls(everything).result(10) == [grant]
        assert produce(as_user(node, "alice"), "t") is None
        deleted = admin.delete_acls([everything])
        assert list(deleted.values())[0].result(10) == [grant]
        assert admin.describe_acls(everything).result(10) == []
        assert produce(as_user(node, "alice"), "t").code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        node.stop()


def test_acl_apis_answer_security_disabled_without_an_authorizer(tmp_path):
    node = Broker(tmp_path).start()
    try:
        # librdkafka drops DescribeAcls' top-level error; kafka-python shows it.
        from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                                 KafkaAdminClient, ResourcePatternFilter)
        from kafka.admin import ResourceType as KafkaResourceType
        from kafka.errors import SecurityDisabledError
        admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
        everything = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                               permission_type=ACLPermissionType.ANY,
                               resource_pattern=ResourcePatternFilter(KafkaResourceType.ANY, None,
                                                                      ACLResourcePatternType.ANY))
        with pytest.raises(SecurityDisabledError):
            admin.describe_acls(everything)
        admin.close()
    finally:
        node.stop()


def test_managing_plugins_takes_alter_on_the_cluster(node):
    with open(node.workdir / "admin.tokens", "a") as tokens:
        tokens.write("User:alice alice-admin-token-0123456789\n")
    time.sleep(0.05)
    request = urllib.request.Request(node.admin_url + "/v1/plugins/nothing-here", method="DELETE",
                                     headers={"Authorization": "Bearer alice-admin-token-0123456789"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert "ALTER on the cluster" in refused.value.read().decode()
    admin = AdminClient(as_user(node, "admin"))
    grant = allow(ResourceType.BROKER, "kafka-cluster", "User:alice", AclOperation.ALTER)
    list(admin.create_acls([grant]).values())[0].result(10)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)
    assert missing.value.code == 404, "allowed now: the plugin just does not exist"
    list(admin.delete_acls([AclBindingFilter(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL,
                                              "User:alice", "*", AclOperation.ALTER,
                                              AclPermissionType.ALLOW)]).values())[0].result(10)
