// One kafkajs 2.2.4 consumer-group member, run as its own process so tests
// can kill it. Same contract as tests/e2e/group_member.py:
//   node group_member.js '<json options>'   (bootstrap, group, topic, session_ms, heartbeat_ms, assignor)
// prints {"event":"assignment","partitions":[...]} after each join,
// {"event":"records","records":[[partition, offset, value], ...]} once the
// records are processed and their offsets committed, {"event":"closed"} after
// a graceful close on SIGTERM. kafkajs has no static membership and no
// cooperative rebalancing.
'use strict'
const { Kafka, logLevel, PartitionAssigners } = require('kafkajs')

const opts = JSON.parse(process.argv[2])
const emit = event => process.stdout.write(JSON.stringify(event) + '\n')
const kafka = new Kafka({ clientId: 'weir-e2e', brokers: [opts.bootstrap], logLevel: logLevel.NOTHING })
const assigners = { range: PartitionAssigners.roundRobin, roundrobin: PartitionAssigners.roundRobin }
const consumer = kafka.consumer({
  groupId: opts.group,
  sessionTimeout: opts.session_ms || 6000,
  heartbeatInterval: opts.heartbeat_ms || 500,
  partitionAssigners: [assigners[opts.assignor || 'roundrobin']],
  retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 },
})

consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  const partitions = (payload.memberAssignment[opts.topic] || []).slice().sort((a, b) => a - b)
  emit({ event: 'assignment', partitions })
})

async function main() {
  await consumer.connect()
  await consumer.subscribe({ topic: opts.topic, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (batch.messages.length === 0) return
      const records = batch.messages.map(m => [batch.partition, Number(m.offset), m.value.toString()])
      const next = (BigInt(batch.messages[batch.messages.length - 1].offset) + 1n).toString()
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
      for (const m of batch.messages) resolveOffset(m.offset)
      emit({ event: 'records', records })
      await heartbeat()
    },
  })
}

process.on('SIGTERM', async () => {
  await consumer.disconnect()
  emit({ event: 'closed' })
  process.exit(0)
})

main().catch(e => {
  emit({ event: 'error', error: String(e) })
  process.exit(1)
})
