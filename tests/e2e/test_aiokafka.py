"""aiokafka 0.14 (asyncio, non-flexible protocol versions only, ApiVersions
v0): produce with every codec and consume back byte for byte, offsets by
timestamp, admin calls."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic

from conftest import records

CODECS = [None, "gzip", "snappy", "lz4", "zstd"]
COUNT = 100_000


async def produce(broker, topic, recs, **conf):
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5, **conf)
    await producer.start()
    try:
        batch_futures = []
        for key, value, headers, ts in recs:
            batch_futures.append(await producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=ts))
        return [await f for f in batch_futures]
    finally:
        await producer.stop()


async def consume(broker, topic, partitions, count, timeout=60):
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        got = []
        deadline = time.time() + timeout
        while len(got) < count and time.time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=50_000)).values():
                got.extend(batch)
        return got
    finally:
        await consumer.stop()


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_byte_for_byte(broker, codec):
    async def run():
        topic = "aio-%s" % codec
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, 2, 1)])
        await admin.close()
        recs = records(COUNT, seed=4)
        metas = await produce(broker, topic, recs, compression_type=codec)
        where = {(m.partition, m.offset) for m in metas}
        got = await consume(broker, topic, 2, COUNT)
        assert len(got) == COUNT
        expected = {key: (value, headers, ts) for key, value, headers, ts in recs}
        for msg in got:
            value, headers, ts = expected[msg.key]
            assert msg.value == value
            assert list(msg.headers) == headers
            assert msg.timestamp == ts
            assert (msg.partition, msg.offset) in where

    asyncio.run(run())


def test_offsets_and_admin(broker):
    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("aio-admin", 1, 1)])
        await admin.create_partitions({"aio-admin": NewPartitions(2)})
        assert "aio-admin" in await admin.list_topics()
        base = int(time.time() * 1000) - 10_000
        await produce(broker, "aio-admin", [(b"k%d" % i, b"v", [], base + i) for i in range(50)])
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        tps = [TopicPartition("aio-admin", p) for p in range(2)]
        ends = await consumer.end_offsets(tps)
        assert sum(ends.values()) == 50
        found = await consumer.offsets_for_times({tp: base + 10**9 for tp in tps})
        assert all(v is None for v in found.values()), "no record that late"
        await consumer.stop()
        await admin.delete_topics(["aio-admin"])
        assert "aio-admin" not in await admin.list_topics()
        await admin.close()

    asyncio.run(run())
