"""Idempotent producers with real clients: librdkafka with
enable.idempotence=true keeps producing across a broker restart and every
record is stored exactly once, in order; kafka-python's default producer
(idempotent) works as is."""

from confluent_kafka import Producer
from kafka import KafkaProducer

from chaos_proxy import ChaosProxy
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


def test_idempotent_producer_through_a_proxy_that_cuts_responses(make_broker, tmp_path):
    """Connections are cut at random points in the broker's responses: the
    producer retries batches the broker already stored, and every numbered
    record must still be stored exactly once, in order."""
    total = 200_000
    upstream = make_broker()
    upstream.stop()
    with ChaosProxy(upstream.port, cut_probability=0.15) as proxy:
        # Clients learn the broker's address from Metadata: advertise the proxy.
        upstream.config["advertised.listeners"] = "PLAINTEXT://127.0.0.1:%d" % proxy.port
        upstream.start()
        create_topic(upstream, "chaos", partitions=1)
        producer = Producer(
            {
                "bootstrap.servers": "127.0.0.1:%d" % proxy.port,
                "enable.idempotence": True,
                "linger.ms": 2,
                "batch.num.messages": 500,
                "message.timeout.ms": 300_000,
                "reconnect.backoff.ms": 10,
                "reconnect.backoff.max.ms": 100,
            }
        )
        errors = []
        for n in range(total):
            while True:
                try:
                    producer.produce("chaos", value=b"%d" % n, on_delivery=lambda err, msg: err and errors.append(err))
                    break
                except BufferError:
                    producer.poll(0.05)
        assert producer.flush(300) == 0
        assert not errors, errors[:3]
        assert proxy.cuts >= 10, "the proxy really cut connections (%d)" % proxy.cuts
        proxy.cut_probability = 0  # read back through it, without faults
        values = [int(m.value()) for m in consume(upstream, "chaos", 1, total, timeout=120)]
    assert values == list(range(total)), "every record exactly once, in order"


def test_idempotent_producer_across_a_kill_9_in_the_middle_of_the_load(broker):
    """kill -9 while batches are in flight. After the restart the producer
    carries on with its id and sequences, so the broker must have rebuilt their
    state from the log (without it: OUT_OF_ORDER_SEQUENCE_NUMBER, a fatal error
    for librdkafka); batches written but not acknowledged come back as retries.
    (Duplicates from lost acknowledgements are forced by the proxy test.)"""
    total = 200_000
    create_topic(broker, "killed", partitions=2)
    delivered = []
    errors = []

    def report(err, msg):
        if err:
            errors.append(err)
        else:
            delivered.append(1)

    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 300_000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 200,
        }
    )
    killed = False
    for n in range(total):
        while True:
            try:
                producer.produce("killed", key=b"%d" % (n % 2), value=b"%d" % n, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        if not killed and len(delivered) > total // 4:
            broker.kill()  # in the middle of the load, with batches in flight
            broker.start()
            killed = True
        if n % 1000 == 0:
            producer.poll(0)
    assert producer.flush(300) == 0
    assert killed and not errors, errors[:3]
    got = consume(broker, "killed", 2, total, timeout=120)
    per_key = {}
    for m in got:
        per_key.setdefault(m.key(), []).append(int(m.value()))
    assert sorted(v for values in per_key.values() for v in values) == list(range(total)), "exactly once"
    assert all(values == sorted(values) for values in per_key.values()), "in order per partition"
