// Produces records with kafkajs 2.2.4 and prints their offsets as one JSON line.
//   node produce.js BOOTSTRAP TOPIC JSON_ARRAY_OF_VALUES [gzip]
'use strict'
const tls = require('./tls')
const sasl = require('./sasl')
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const [bootstrap, topic, values, codec] = process.argv.slice(2)
const kafka = new Kafka({ ssl: tls(), sasl: sasl(), clientId: 'weir-e2e', brokers: [bootstrap], logLevel: logLevel.NOTHING })

async function main() {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const result = await producer.send({
    topic,
    compression: codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
    messages: JSON.parse(values).map((value, i) => ({ key: `k${i}`, value })),
  })
  await producer.disconnect()
  process.stdout.write(JSON.stringify(result.map(r => Number(r.baseOffset))) + '\n')
}

main().catch(e => {
  process.stdout.write(JSON.stringify({ error: String(e) }) + '\n')
  process.exit(1)
})
