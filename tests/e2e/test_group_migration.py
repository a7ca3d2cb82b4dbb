"""Online group migration (KIP-848's group.consumer.migration.policy) with
real clients under load: a classic group of confluent-kafka and
kafka-python members becomes a consumer group when a librdkafka
group.protocol=consumer member joins, and goes back to classic when it
leaves, twice over, while a producer keeps writing. Every acknowledged
record is consumed and committed, and none is read again after its
commit."""

import threading
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from groups import Member, all_records, balanced, wait_until

PARTITIONS = 6
CONFIG = {
    "group.initial.rebalance.delay.ms": 300,
    "group.consumer.heartbeat.interval.ms": 500,
    "group.consumer.session.timeout.ms": 6000,
}


class Load:
    """Produces numbered records to every partition until stopped; keeps
    what was acknowledged."""

    def __init__(self, broker, topic):
        self.producer = Producer({
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
        })
        self.topic = topic
        self.acked = set()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _delivered(self, err, msg):
        if err is None:
            self.acked.add((msg.partition(), msg.offset()))

    def _run(self):
        n = 0
        while not self.stopping.is_set():
            for p in range(PARTITIONS):
                self.producer.produce(self.topic, value=b"%d:%d" % (p, n), partition=p,
                                      on_delivery=self._delivered)
            n += 1
            self.producer.poll(0.02)
        assert self.producer.flush(30) == 0

    def stop(self):
        self.stopping.set()
        self.thread.join(60)


def group_type(admin, group):
    listed = {g.group_id: g.type.name for g in admin.list_consumer_groups().result().valid}
    return listed.get(group)


def test_a_live_group_upgrades_and_downgrades_under_load(make_broker):
    broker = make_broker(**CONFIG)
    topic, group = "migrating", "g-migrating"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result()
    load = Load(broker, topic)
    classic = [
        Member("confluent", broker, group, topic, assignor="range"),
        Member("kafka-python", broker, group, topic, assignor="range"),
    ]
    everyone = list(classic)
    try:
        wait_until(lambda: balanced(classic, PARTITIONS), 60, "a balanced classic group")
        assert group_type(admin, group) == "CLASSIC"
        for _ in range(2):
            upgrader = Member("confluent", broker, group, topic, protocol="consumer")
            everyone.append(upgrader)
            wait_until(lambda: group_type(admin, group) == "CONSUMER", 30, "the upgrade")
            wait_until(lambda: balanced(classic + [upgrader], PARTITIONS), 60,
                       "partitions shared by classic and new-protocol members")
            wait_until(lambda: len(upgrader.snapshot()[1]) > 0, 30, "the new member to consume")
            before = len(all_records(classic))
            wait_until(lambda: len(all_records(classic)) > before, 30,
                       "classic members to consume inside the consumer group")
            upgrader.close()
            assert upgrader.closed
            wait_until(lambda: group_type(admin, group) == "CLASSIC", 30, "the downgrade")
            wait_until(lambda: balanced(classic, PARTITIONS), 60, "a balanced classic group again")
            before = len(all_records(classic))
            wait_until(lambda: len(all_records(classic)) > before, 30,
                       "classic members to consume after the downgrade")
        log = broker.output()
        assert log.count("upgrading the classic group to a consumer group") == 2
        assert log.count("downgrading to a classic group") == 2
        load.stop()
        acked = set(load.acked)
        assert len(acked) > 1000

        def consumed():
            return {(p, o) for p, o, _ in all_records(everyone)}

        wait_until(lambda: acked <= consumed(), 60, "every acknowledged record to be consumed")
        seen = [(p, o) for p, o, _ in all_records(everyone)]
        # Reported only after its commit: a record seen twice was re-read
        # after it had been committed.
        twice = len(seen) - len(set(seen))
        assert twice == 0, "%d committed records were read again" % twice
    finally:
        load.stop()
        for m in everyone:
            m.close()
