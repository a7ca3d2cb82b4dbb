// Reads a topic from the beginning with a kafkajs 2.2.4 group consumer and
// prints [[offset, value], ...] as one JSON line once COUNT records arrived
// (or after 30 s with what it has).
//   node consume.js BOOTSTRAP TOPIC GROUP COUNT
'use strict'
const tls = require('./tls')
const sasl = require('./sasl')
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, topic, group, count] = process.argv.slice(2)
const kafka = new Kafka({ ssl: tls(), sasl: sasl(), clientId: 'weir-e2e-reader', brokers: [bootstrap], logLevel: logLevel.NOTHING })

async function main() {
  const consumer = kafka.consumer({ groupId: group, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = []
  let done
  const finished = new Promise(resolve => { done = resolve })
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push([Number(message.offset), message.value.toString()])
      if (seen.length >= Number(count)) done()
    },
  })
  await Promise.race([finished, new Promise(resolve => setTimeout(resolve, 30000))])
  await consumer.disconnect()
  process.stdout.write(JSON.stringify(seen) + '\n')
}

main().catch(e => {
  process.stdout.write(JSON.stringify({ error: String(e) }) + '\n')
  process.exit(1)
})
