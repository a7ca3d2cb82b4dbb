"""Fetch over TLS against fetch in plain text (docs/benchmarks.md), outside
CI: one broker with a PLAINTEXT and an SSL listener, MIB MiB of 10 KiB
records, read twice over each by a confluent-kafka consumer; prints the
rate and the broker's CPU seconds per GiB served.

    WEIR_BIN=target/release/weir python3 tests/e2e/bench_tls.py [MIB]
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from conftest import Broker, free_port
from test_tls import make_ca, make_cert
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

MB = int(sys.argv[1]) if len(sys.argv) > 1 else 512
d = pathlib.Path(tempfile.mkdtemp(prefix="weir-bench-tls-"))
certs = d / "certs"; certs.mkdir()
ca = make_ca(certs, "ca")
server, key = make_cert(certs, "ca", "server", "/CN=localhost", "IP:127.0.0.1")
ks = certs / "ks.pem"; ks.write_text(key.read_text() + server.read_text())
node = Broker(d / "b"); (d / "b").mkdir()
ssl_port = free_port()
node.config["listeners"] = "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (node.port, ssl_port)
node.config["ssl.keystore.location"] = str(ks)
node.start()
try:
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    admin.create_topics([NewTopic("t", 1, 1)])["t"].result(10)
    p = Producer({"bootstrap.servers": node.bootstrap, "linger.ms": 20, "batch.size": 1000000})
    value = os.urandom(10240)
    for i in range(MB * 100):
        while True:
            try:
                p.produce("t", value=value, partition=0); break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush(60)
    def cpu():
        f = open("/proc/%d/stat" % node.proc.pid).read().split(")")[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    for name, conf in [("PLAINTEXT", {"bootstrap.servers": node.bootstrap}),
                       ("SSL", {"bootstrap.servers": "127.0.0.1:%d" % ssl_port, "security.protocol": "SSL", "ssl.ca.location": str(ca)}),
                       ("PLAINTEXT", {"bootstrap.servers": node.bootstrap}),
                       ("SSL", {"bootstrap.servers": "127.0.0.1:%d" % ssl_port, "security.protocol": "SSL", "ssl.ca.location": str(ca)})]:
        c = Consumer(dict(conf, **{"group.id": "g%f" % time.time(), "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760,
                                  # room for whole fetches: with the default 64 MiB queue
                                  # librdkafka pauses fetching, and rates swing 2x.
                                  "queued.max.messages.kbytes": 2097151}))
        c.assign([TopicPartition("t", 0, 0)])
        n = 0; total = MB * 100
        c0 = cpu(); t0 = time.time()
        while n < total:
            for m in c.consume(10000, 1.0):
                if not m.error(): n += 1
        dt = time.time() - t0; dc = cpu() - c0
        c.close()
        print("%-9s %4d MB in %.2f s: %6.0f MB/s, broker %.2f CPU-s/GiB" % (name, MB, dt, MB / dt, dc * 1024 / MB), flush=True)
finally:
    node.stop()
    shutil.rmtree(d, ignore_errors=True)  # GiBs of logs
