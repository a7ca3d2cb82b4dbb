"""Idempotent producers with real clients: librdkafka with
enable.idempotence=true keeps producing across a broker restart and every
record is stored exactly once, in order; kafka-python's default producer
(idempotent) works as is."""

from confluent_kafka import Producer
from kafka import KafkaProducer

from test_confluent import consume, create_topic


def test_librdkafka_idempotent_producer_across_a_restart(broker):
    create_topic(broker, "idem", partitions=3)
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 120_000,
        }
    )
    errors = []

    def send(start, count):
        for n in range(start, start + count):
            while True:
                try:
                    producer.produce(
                        "idem",
                        key=b"%d" % (n % 97),
                        value=b"%d" % n,
                        on_delivery=lambda err, msg: err and errors.append(err),
                    )
                    break
                except BufferError:
                    producer.poll(0.05)

    send(0, 20_000)
    assert producer.flush(60) == 0
    broker.restart()  # the producer keeps its id and sequences
    send(20_000, 20_000)
    assert producer.flush(120) == 0
    assert not errors, errors[:3]

    got = consume(broker, "idem", 3, 40_000, timeout=60)
    values = [int(m.value()) for m in got]
    assert len(values) == 40_000 and sorted(values) == list(range(40_000)), "each record exactly once"
    by_key = {}
    for m in got:  # within a partition, a key's values keep their order
        by_key.setdefault(m.key(), []).append(int(m.value()))
    assert all(v == sorted(v) for v in by_key.values())


def test_kafka_python_default_producer_is_idempotent(broker):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    assert producer.config["enable_idempotence"], "kafka-python 3 default"
    futures = [producer.send("kp-idem", b"v%d" % i) for i in range(1_000)]
    producer.flush(30)
    offsets = sorted(f.get(10).offset for f in futures)
    assert offsets == list(range(1_000))
    producer.close()
