"""One consumer-group member, run as its own process so tests can kill it.

Usage: python group_member.py '<json options>'
Options: client ("confluent" | "kafka-python"), bootstrap, group, topic,
instance (group.instance.id or null), session_ms, heartbeat_ms, assignor
("range" | "roundrobin" | "cooperative-sticky"), protocol ("classic" |
"consumer", librdkafka only).

Prints JSON lines: {"event": "assignment", "partitions": [...]} after every
change; {"event": "records", "records": [[partition, offset, value], ...]}
once the records are processed and their offsets committed (synchronously);
{"event": "closed"} after a graceful close on SIGTERM."""

import json
import signal
import sys

opts = json.loads(sys.argv[1])
stopping = False


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def on_term(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, on_term)


def first_offsets(records):
    """The first offset of each partition in a batch of records."""
    first = {}
    for partition, offset, _ in records:
        first[partition] = min(offset, first.get(partition, offset))
    return first


def run_confluent():
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    config = {
        "bootstrap.servers": opts["bootstrap"],
        "group.id": opts["group"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    if opts.get("protocol", "classic") == "consumer":
        config["group.protocol"] = "consumer"
    else:
        config["session.timeout.ms"] = opts.get("session_ms", 6000)
        config["heartbeat.interval.ms"] = opts.get("heartbeat_ms", 500)
        config["partition.assignment.strategy"] = opts.get("assignor", "range")
    if opts.get("instance"):
        config["group.instance.id"] = opts["instance"]
    consumer = Consumer(config)
    current = set()
    incremental = opts.get("assignor") == "cooperative-sticky" or opts.get("protocol") == "consumer"

    def assigned(c, partitions):
        if incremental:
            c.incremental_assign(partitions)
        current.update(p.partition for p in partitions)
        emit(event="assignment", partitions=sorted(current))

    def revoked(c, partitions):
        if incremental:
            c.incremental_unassign(partitions)
        current.difference_update(p.partition for p in partitions)
        emit(event="assignment", partitions=sorted(current))

    def rewind(records):
        # At least once: records whose commit failed are read again, here
        # if the partition is still ours (else by its next owner, from the
        # committed offset).
        for partition, offset in first_offsets(records).items():
            try:
                consumer.seek(TopicPartition(opts["topic"], partition, offset))
            except KafkaException:
                pass

    consumer.subscribe([opts["topic"]], on_assign=assigned, on_revoke=revoked, on_lost=revoked)
    while not stopping:
        messages = consumer.consume(num_messages=500, timeout=0.2)
        records = [[m.partition(), m.offset(), m.value().decode()] for m in messages if not m.error()]
        if records:
            try:
                consumer.commit(asynchronous=False)
            except KafkaException as e:
                emit(event="commit_failed", error=str(e))
                rewind(records)
                continue
            emit(event="records", records=records)
    consumer.close()
    emit(event="closed")


def run_kafka_python():
    from kafka import KafkaConsumer, ConsumerRebalanceListener, TopicPartition
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    assignors = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}
    config = dict(
        bootstrap_servers=opts["bootstrap"],
        group_id=opts["group"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=opts.get("session_ms", 6000),
        heartbeat_interval_ms=opts.get("heartbeat_ms", 500),
        partition_assignment_strategy=[assignors[opts.get("assignor", "range")]],
    )
    if opts.get("instance"):
        config["group_instance_id"] = opts["instance"]
    consumer = KafkaConsumer(**config)

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            emit(event="assignment", partitions=[])

        def on_partitions_assigned(self, assigned):
            emit(event="assignment", partitions=sorted(p.partition for p in assigned))

    consumer.subscribe([opts["topic"]], listener=Listener())
    while not stopping:
        batches = consumer.poll(timeout_ms=200, max_records=500)
        records = [[m.partition, m.offset, m.value.decode()] for ms in batches.values() for m in ms]
        if records:
            try:
                consumer.commit()
            except Exception as e:  # kafka-python raises several commit errors
                emit(event="commit_failed", error=str(e))
                for partition, offset in first_offsets(records).items():
                    try:
                        consumer.seek(TopicPartition(opts["topic"], partition), offset)
                    except Exception:  # no longer assigned: its next owner reads it
                        pass
                continue
            emit(event="records", records=records)
    consumer.close()
    emit(event="closed")


if __name__ == "__main__":
    {"confluent": run_confluent, "kafka-python": run_kafka_python}[opts["client"]]()
