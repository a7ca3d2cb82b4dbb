// kafkajs across a leader kill: an idempotent acks=all producer writes
// numbered values for SECONDS while a consumer group reads the topic; then
// prints one JSON line: the values acknowledged, the producer's errors, and
// the values the group saw.
// Usage: node ride_through.js BOOTSTRAP TOPIC GROUP SECONDS
'use strict'
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, topic, group, seconds] = process.argv.slice(2)
const kafka = new Kafka({
  clientId: 'weir-e2e-ride-through',
  brokers: bootstrap.split(','),
  logLevel: logLevel.NOTHING,
  retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
})

async function main() {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000 })
  await producer.connect()
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = new Set()
  await consumer.run({ eachMessage: async ({ message }) => { seen.add(message.value.toString()) } })
  const acked = []
  let errors = 0
  const until = Date.now() + Number(seconds) * 1000
  for (let n = 0; Date.now() < until; n++) {
    const value = String(n).padStart(8, '0')
    try {
      await producer.send({ topic, acks: -1, messages: [{ key: String(n % 8), value }] })
      acked.push(value)
    } catch (e) {
      errors++
    }
  }
  const deadline = Date.now() + 60000
  while (acked.some(v => !seen.has(v)) && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 200))
  }
  await producer.disconnect()
  await consumer.disconnect()
  console.log(JSON.stringify({ acked, errors, seen: [...seen] }))
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
