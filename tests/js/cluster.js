// kafkajs against one broker of a weir cluster.
// Usage: node cluster.js BOOTSTRAP create TOPIC PARTITIONS RF
// Creates the topic through that broker, then prints one JSON line with the
// cluster's brokers and the topic's partitions as that broker describes them.
'use strict'
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, command, topic, partitions, rf] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'weir-e2e-cluster', brokers: [bootstrap], logLevel: logLevel.NOTHING })

async function main() {
  if (command !== 'create') throw new Error(`unknown command ${command}`)
  const admin = kafka.admin()
  await admin.connect()
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: Number(partitions), replicationFactor: Number(rf) }],
  })
  const cluster = await admin.describeCluster()
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  await admin.disconnect()
  const brokers = cluster.brokers.map(b => b.nodeId).sort()
  const parts = topics[0].partitions
    .map(p => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas }))
    .sort((a, b) => a.partition - b.partition)
  console.log(JSON.stringify({ created, brokers, controller: cluster.controller, partitions: parts }))
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
