"""A producer process for the kill -9 test: sends numbered records with
acks=all until killed, appending `partition offset number` for every record
the broker acknowledged to the file given as argv[2]."""

import sys

from confluent_kafka import Producer

bootstrap, acked_path, topic = sys.argv[1], sys.argv[2], sys.argv[3]
out = open(acked_path, "a", buffering=1)


def value_of(n):
    return (b"record-%d|" % n) * (1 + n % 7)


def report(err, msg):
    if err is None:
        out.write("%d %d %s\n" % (msg.partition(), msg.offset(), msg.key().decode()))


producer = Producer(
    {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "lz4",
        "message.timeout.ms": 600_000,
        "retries": 1_000_000,
    }
)
n = 0
while True:
    try:
        producer.produce(topic, key=b"%d" % n, value=value_of(n), on_delivery=report)
        n += 1
    except BufferError:
        producer.poll(0.01)
    if n % 100 == 0:
        producer.poll(0)
