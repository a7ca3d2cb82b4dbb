// kafkajs 2.2.4 (non-flexible protocol versions) against a real weir broker.
// Usage: node check.js BOOTSTRAP roundtrip CODEC COUNT | node check.js BOOTSTRAP admin
// Prints one JSON line with what it saw; exits non-zero on any mismatch.
// Reads use kafkajs' own broker connection (its Fetch encoder and decoders)
// so each partition is read from offset 0 without a group; kafkajs' group
// consumer is exercised by group_member.js (tests/e2e/test_groups.py).
'use strict'
const assert = require('assert')
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const lz4 = require('lz4js')
const { ZstdCodec } = require('zstd-codec')

CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async encoder => Buffer.from(lz4.compress(encoder.buffer)),
  decompress: async buffer => Buffer.from(lz4.decompress(buffer)),
})
const zstd = new Promise(resolve => ZstdCodec.run(z => resolve(new z.Simple())))
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async encoder => Buffer.from((await zstd).compress(encoder.buffer)),
  decompress: async buffer => Buffer.from((await zstd).decompress(buffer)),
})

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
}

const [bootstrap, command, ...args] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'weir-e2e', brokers: [bootstrap], logLevel: logLevel.NOTHING })

function record(i, base) {
  return {
    key: `key-${i}`,
    value: `value-${i}-`.repeat(1 + (i % 9)),
    headers: { seq: `${i}`, kind: 'kafkajs' },
    timestamp: `${base + i}`,
  }
}

// Reads a partition from offset 0 to its end with kafkajs' Fetch request.
async function readAll(topic, partitions, expected) {
  const symbol = Object.getOwnPropertySymbols(kafka).find(s => s.toString().includes('createCluster'))
  const cluster = kafka[symbol]({})
  await cluster.connect()
  await cluster.addTargetTopic(topic)
  const broker = await cluster.findBroker({ nodeId: '1' })
  const offsets = Object.fromEntries(partitions.map(p => [p, '0']))
  const messages = []
  for (let round = 0; round < 10000 && messages.length < expected; round++) {
    const responses = await broker.fetch({
      replicaId: -1,
      isolationLevel: 1,
      maxWaitTime: 200,
      topics: [{ topic, partitions: partitions.map(p => ({ partition: p, fetchOffset: offsets[p], maxBytes: 1048576 })) }],
    })
    for (const { partitions: results } of responses.responses) {
      for (const result of results) {
        assert.strictEqual(result.errorCode, 0)
        for (const m of result.messages) {
          if (BigInt(m.offset) < BigInt(offsets[result.partition])) continue
          messages.push({ partition: result.partition, ...m })
          offsets[result.partition] = (BigInt(m.offset) + 1n).toString()
        }
      }
    }
  }
  await cluster.disconnect()
  return messages
}

async function roundtrip(codec, count) {
  const topic = `kafkajs-${codec}`
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
  await admin.disconnect()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const base = Date.now() - 600000
  const where = new Map()
  for (let start = 0; start < count; start += 1000) {
    const messages = []
    for (let i = start; i < Math.min(count, start + 1000); i++) messages.push({ ...record(i, base), partition: i % 2 })
    const results = await producer.send({ topic, acks: -1, compression: CODECS[codec], messages })
    for (const r of results) assert.strictEqual(r.errorCode, 0)
  }
  await producer.disconnect()
  const got = await readAll(topic, [0, 1], count)
  assert.strictEqual(got.length, count)
  const last = {}
  for (const m of got) {
    const i = Number(m.key.toString().slice(4))
    const want = record(i, base)
    assert.strictEqual(m.value.toString(), want.value)
    assert.strictEqual(m.timestamp, want.timestamp)
    assert.strictEqual(m.headers.seq.toString(), want.headers.seq)
    assert.strictEqual(m.headers.kind.toString(), 'kafkajs')
    assert.strictEqual(m.partition, i % 2)
    assert.ok(last[m.partition] === undefined || BigInt(m.offset) === last[m.partition] + 1n)
    last[m.partition] = BigInt(m.offset)
    where.set(i, true)
  }
  assert.strictEqual(where.size, count)
  return { topic, count: got.length }
}

async function adminChecks() {
  const admin = kafka.admin()
  await admin.connect()
  const seen = {}
  assert.strictEqual(await admin.createTopics({ topics: [{ topic: 'js-admin', numPartitions: 1 }], validateOnly: true, waitForLeaders: false }), true)
  assert.ok(!(await admin.listTopics()).includes('js-admin'))
  await admin.createTopics({
    topics: [{ topic: 'js-admin', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '120000' }] }],
  })
  try {
    await admin.createTopics({ topics: [{ topic: 'bad name!', numPartitions: 1 }] })
  } catch (e) {
    seen.invalidTopic = e.errors ? e.errors[0].type : e.type
  }
  try {
    await admin.createTopics({ topics: [{ topic: 'js-rf', numPartitions: 1, replicationFactor: 3 }] })
  } catch (e) {
    seen.invalidReplicationFactor = e.errors ? e.errors[0].type : e.type
  }
  const described = await admin.describeConfigs({ resources: [{ type: 2, name: 'js-admin' }], includeSynonyms: false })
  const entries = Object.fromEntries(described.resources[0].configEntries.map(c => [c.configName, c.configValue]))
  assert.strictEqual(entries['retention.ms'], '120000')
  await admin.alterConfigs({ resources: [{ type: 2, name: 'js-admin', configEntries: [{ name: 'retention.ms', value: '240000' }] }] })
  const again = await admin.describeConfigs({ resources: [{ type: 2, name: 'js-admin', configNames: ['retention.ms'] }] })
  seen.retention = again.resources[0].configEntries[0].configValue
  await admin.createPartitions({ topicPartitions: [{ topic: 'js-admin', count: 2 }] })
  const meta = await admin.fetchTopicMetadata({ topics: ['js-admin'] })
  seen.partitions = meta.topics[0].partitions.length

  const producer = kafka.producer()
  await producer.connect()
  const base = Date.now() - 50000
  const messages = []
  for (let i = 0; i < 100; i++) messages.push({ value: `v${i}`, partition: 0, timestamp: `${base + i * 10}` })
  await producer.send({ topic: 'js-admin', messages })
  await producer.disconnect()
  const offsets = await admin.fetchTopicOffsets('js-admin')
  seen.high = offsets.find(o => o.partition === 0).high
  const byTime = await admin.fetchTopicOffsetsByTimestamp('js-admin', base + 425)
  seen.byTime = byTime.find(o => o.partition === 0).offset
  await admin.deleteTopicRecords({ topic: 'js-admin', partitions: [{ partition: 0, offset: '30' }] })
  seen.low = (await admin.fetchTopicOffsets('js-admin')).find(o => o.partition === 0).low
  const cluster = await admin.describeCluster()
  seen.brokers = cluster.brokers.length
  await admin.deleteTopics({ topics: ['js-admin'] })
  seen.deleted = !(await admin.listTopics()).includes('js-admin')
  await admin.disconnect()
  return seen
}

async function main() {
  const result = command === 'roundtrip' ? await roundtrip(args[0], Number(args[1])) : await adminChecks()
  console.log(JSON.stringify(result))
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
