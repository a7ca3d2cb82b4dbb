"""What security costs (docs/benchmarks.md), outside CI:

1. Produce over TLS and over SASL_SSL against plain text: MIB MiB of 1 KiB
   records from a confluent-kafka producer over each listener; prints the
   rate and the broker's CPU seconds per GiB taken in.
2. SASL handshakes: a fresh connection, SaslHandshake and SaslAuthenticate,
   until the broker answers "authenticated", for PLAIN (JAAS users), PLAIN
   through the standard password authenticator plugin (an Argon2id hash,
   OWASP's 19 MiB, two passes), SCRAM-SHA-256 and SCRAM-SHA-512 (4096
   iterations) and OAUTHBEARER (an unsigned token); median and 95th
   percentile over HANDSHAKES each.

    WEIR_BIN=target/release/weir python3 tests/e2e/bench_auth.py [MIB] [HANDSHAKES]
"""
import base64
import hashlib
import hmac
import json
import os
import pathlib
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import argon2
from conftest import Broker, free_port
from confluent_kafka import Producer
from confluent_kafka.admin import (AdminClient, NewTopic, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)
from test_sasl import authenticate, handshake
from test_tls import make_ca, make_cert

MB = int(sys.argv[1]) if len(sys.argv) > 1 else 512
HANDSHAKES = int(sys.argv[2]) if len(sys.argv) > 2 else 200
WASM = pathlib.Path(__file__).resolve().parents[2] / "target/wasm32-wasip2/release"

d = pathlib.Path(tempfile.mkdtemp(prefix="weir-bench-auth-"))
certs = d / "certs"; certs.mkdir()
ca = make_ca(certs, "ca")
server, key = make_cert(certs, "ca", "server", "/CN=localhost", "IP:127.0.0.1")
ks = certs / "ks.pem"; ks.write_text(key.read_text() + server.read_text())
node = Broker(d / "b"); (d / "b").mkdir()
ssl_port, sasl_port, sasl_ssl_port = free_port(), free_port(), free_port()
node.config.update({
    "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d"
                 % (node.port, ssl_port, sasl_port, sasl_ssl_port),
    "ssl.keystore.location": str(ks),
    "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
    "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-pw";',
    "weir.authenticator": "passwords",
})
argon = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
node.plugins = [dict(name="passwords", path=str(WASM / "password_authenticator.wasm"), kind="authenticator",
                     config={"user.carol": argon.hash("carol-pw"), "unknown": "defer"},
                     **{"timeout-ms": 1000})]
node.start()


def cpu():
    f = open("/proc/%d/stat" % node.proc.pid).read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def produce_rate(name, conf, topic):
    p = Producer(dict(conf, **{"linger.ms": 20, "batch.size": 1000000, "compression.type": "none"}))
    value = os.urandom(1024)
    total = MB * 1024
    c0, t0 = cpu(), time.time()
    for _ in range(total):
        while True:
            try:
                p.produce(topic, value=value, partition=0)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush(120)
    dt, dc = time.time() - t0, cpu() - c0
    print("produce %-15s %4d MB in %.2f s: %6.0f MB/s, broker %.2f CPU-s/GiB" % (name, MB, dt, MB / dt, dc * 1024 / MB),
          flush=True)


def scram_client(mechanism, user, password):
    """The client side of SCRAM (RFC 5802): first message, and a function
    from the server's first message to the client's final one."""
    digest = hashlib.sha256 if mechanism == "SCRAM-SHA-256" else hashlib.sha512
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=%s,r=%s" % (user, nonce)

    def final(server_first):
        fields = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac(digest().name, password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        without_proof = "c=biws,r=%s" % fields["r"]
        auth_message = ",".join([bare, server_first.decode(), without_proof]).encode()
        signature = hmac.new(digest(client_key).digest(), auth_message, digest).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return ("%s,p=%s" % (without_proof, base64.b64encode(proof).decode())).encode()

    return ("n,," + bare).encode(), final


def unsigned_token(subject):
    b64 = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
    return "%s.%s." % (b64({"alg": "none"}), b64({"sub": subject, "exp": time.time() + 3600}))


def one_handshake(mechanism, user, password):
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", sasl_port)) as sock:
        code, _ = handshake(sock, mechanism.encode())
        assert code == 0, (mechanism, code)
        if mechanism == "PLAIN":
            code, message, _ = authenticate(sock, b"\0%s\0%s" % (user.encode(), password.encode()))
        elif mechanism == "OAUTHBEARER":
            code, message, _ = authenticate(sock, ("n,,\x01auth=Bearer %s\x01\x01" % unsigned_token(user)).encode())
        else:
            first, final = scram_client(mechanism, user, password)
            sock_answer = authenticate_bytes(sock, first)
            code, message, _ = authenticate(sock, final(sock_answer), correlation=3)
        assert code == 0, (mechanism, user, message)
    return time.perf_counter() - started


def authenticate_bytes(sock, token):
    """SaslAuthenticate v1's auth bytes (a SCRAM challenge)."""
    from test_sasl import kafka_request, kafka_response
    import struct
    kafka_request(sock, 36, 1, 2, struct.pack(">i", len(token)) + token)
    answer = kafka_response(sock)
    n = struct.unpack(">h", answer[6:8])[0]
    at = 8 + max(n, 0)
    length = struct.unpack(">i", answer[at:at + 4])[0]
    return answer[at + 4:at + 4 + length]


try:
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    for t in ("plain", "tls", "sasl-tls"):
        admin.create_topics([NewTopic(t, 1, 1)])[t].result(10)
    for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
        info = ScramCredentialInfo(mechanism, 4096)
        for f in admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion("dave", info, b"dave-pw")]).values():
            f.result(10)
    tls = {"security.protocol": "SSL", "ssl.ca.location": str(ca)}
    sasl_tls = {"security.protocol": "SASL_SSL", "ssl.ca.location": str(ca), "sasl.mechanism": "PLAIN",
                "sasl.username": "alice", "sasl.password": "alice-pw"}
    for _ in range(2):
        produce_rate("PLAINTEXT", {"bootstrap.servers": node.bootstrap}, "plain")
        produce_rate("SSL", dict(tls, **{"bootstrap.servers": "127.0.0.1:%d" % ssl_port}), "tls")
        produce_rate("SASL_SSL", dict(sasl_tls, **{"bootstrap.servers": "127.0.0.1:%d" % sasl_ssl_port}), "sasl-tls")

    cases = [("PLAIN (JAAS)", "PLAIN", "alice", "alice-pw"),
             ("PLAIN (Argon2id plugin)", "PLAIN", "carol", "carol-pw"),
             ("SCRAM-SHA-256", "SCRAM-SHA-256", "dave", "dave-pw"),
             ("SCRAM-SHA-512", "SCRAM-SHA-512", "dave", "dave-pw"),
             ("OAUTHBEARER", "OAUTHBEARER", "erin", "")]
    for name, mechanism, user, password in cases:
        times = sorted(one_handshake(mechanism, user, password) for _ in range(HANDSHAKES))
        print("handshake %-24s median %6.2f ms, p95 %6.2f ms (%d)" % (
            name, times[len(times) // 2] * 1e3, times[int(len(times) * 0.95)] * 1e3, len(times)), flush=True)
finally:
    node.stop()
    shutil.rmtree(d, ignore_errors=True)  # GiBs of logs
