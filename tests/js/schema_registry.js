// Registers Avro, JSON Schema and Protobuf schemas with
// @kafkajs/confluent-schema-registry against Weir's built-in registry,
// produces Avro records through kafkajs, reads them back and decodes them;
// prints what it saw as one JSON line.
//   node schema_registry.js BOOTSTRAP REGISTRY_URL TOPIC
'use strict'
const { Kafka, logLevel } = require('kafkajs')
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry')

const [bootstrap, url, topic] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'weir-e2e', brokers: [bootstrap], logLevel: logLevel.NOTHING })
const registry = new SchemaRegistry({ host: url })

const avro = {
  type: 'record', name: 'Order', namespace: 'shop',
  fields: [{ name: 'id', type: 'long' }, { name: 'customer', type: 'string' }],
}

async function main() {
  const { id } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(avro) }, { subject: `${topic}-value` })
  const json = await registry.register({
    type: SchemaType.JSON,
    schema: JSON.stringify({ type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] }),
  }, { subject: 'js-json-value' })
  const proto = await registry.register({
    type: SchemaType.PROTOBUF,
    schema: 'syntax = "proto3";\npackage shop;\nmessage Order { int64 id = 1; string customer = 2; }',
  }, { subject: 'js-proto-value' })
  const latest = await registry.getLatestSchemaId(`${topic}-value`)
  const encodedJson = await registry.encode(json.id, { id: 7 })
  const encodedProto = await registry.encode(proto.id, { id: 8, customer: 'c8' })

  const producer = kafka.producer()
  await producer.connect()
  const orders = [{ id: 1, customer: 'c1' }, { id: 2, customer: 'c2' }]
  await producer.send({
    topic,
    messages: await Promise.all(orders.map(async o => ({ value: await registry.encode(id, o) }))),
  })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: 'js-registry' })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = []
  await new Promise((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        try {
          const decoded = await registry.decode(message.value)
          seen.push({ id: Number(decoded.id), customer: decoded.customer })
          if (seen.length === orders.length) resolve()
        } catch (e) { reject(e) }
      },
    })
  })
  await consumer.disconnect()
  const fromJson = await registry.decode(encodedJson)
  const fromProto = await registry.decode(encodedProto)
  process.stdout.write(JSON.stringify({
    id, latest, seen, json: fromJson, proto: { id: Number(fromProto.id), customer: fromProto.customer },
  }) + '\n')
}

main().catch(e => {
  process.stdout.write(JSON.stringify({ error: String(e && e.stack || e) }) + '\n')
  process.exit(1)
})
