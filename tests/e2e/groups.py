"""Helpers for consumer-group tests: members run as separate processes
(group_member.py for confluent-kafka and kafka-python, group_member.js for
kafkajs) that report assignments and committed records as JSON lines."""

import json
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
JS = HERE.parent / "js"
CLIENTS = ["confluent", "kafka-python", "kafkajs"]


class Member:
    def __init__(self, client, broker, group, topic, **opts):
        options = dict(client=client, bootstrap=broker.bootstrap, group=group, topic=topic, **opts)
        if client == "kafkajs":
            cmd = ["node", str(JS / "group_member.js"), json.dumps(options)]
        else:
            cmd = [sys.executable, str(HERE / "group_member.py"), json.dumps(options)]
        self.name = opts.get("instance") or "member"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lock = threading.Lock()
        self.events = []
        self.assignment = None
        self.records = []
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            with self.lock:
                self.events.append((time.monotonic(), event))
                if event["event"] == "assignment":
                    self.assignment = set(event["partitions"])
                elif event["event"] == "records":
                    self.records.extend(tuple(r) for r in event["records"])
                elif event["event"] == "closed":
                    self.closed = True

    def snapshot(self):
        with self.lock:
            return set(self.assignment or ()), list(self.records), list(self.events)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def close(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def balanced(members, partitions):
    """True when the members' assignments are disjoint, cover every
    partition, and every member has some."""
    assignments = [m.snapshot()[0] for m in members]
    union = set().union(*assignments)
    return (
        union == set(range(partitions))
        and sum(len(a) for a in assignments) == partitions
        and all(assignments)
    )


def settle(members, quiet=1.5, timeout=30):
    """Waits until no member has reported anything for `quiet` seconds (a
    new group may rebalance more than once while its members arrive)."""

    def last_event():
        return max((m.snapshot()[2][-1][0] for m in members if m.snapshot()[2]), default=0)

    wait_until(lambda: time.monotonic() - last_event() >= quiet, timeout, "the group to settle")


def all_records(members):
    out = []
    for m in members:
        out.extend(m.snapshot()[1])
    return out


def produce_numbered(broker, topic, partitions, per_partition, start=0):
    """Writes `per_partition` records to each partition; values are
    "<partition>:<n>" with n counting from `start`."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for n in range(start, start + per_partition):
        for p in range(partitions):
            producer.produce(topic, value=b"%d:%d" % (p, n), partition=p)
    assert producer.flush(30) == 0
