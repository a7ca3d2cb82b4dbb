// kafkajs 2.2.4 admin calls on a consumer group, for tests/e2e/test_groups.py.
//   node group_admin.js BOOTSTRAP GROUP TOPIC busy   list, describe, fetch offsets, try to delete
//   node group_admin.js BOOTSTRAP GROUP TOPIC idle   delete, then list
// Prints one JSON line with what it saw.
'use strict'
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, group, topic, phase] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'weir-e2e', brokers: [bootstrap], logLevel: logLevel.NOTHING })

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  const out = {}
  if (phase === 'busy') {
    out.listed = (await admin.listGroups()).groups.filter(g => g.groupId === group)
    const { groups } = await admin.describeGroups([group])
    out.state = groups[0].state
    out.protocol = groups[0].protocol
    out.members = groups[0].members.length
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] })
    out.committed = offsets[0].partitions.filter(p => Number(p.offset) > 0).length
    try {
      await admin.deleteGroups([group])
      out.delete = 'ok'
    } catch (e) {
      out.delete = e.groups ? e.groups.map(g => g.error && g.error.type).join(',') : String(e)
    }
  } else {
    await admin.deleteGroups([group])
    out.listed = (await admin.listGroups()).groups.filter(g => g.groupId === group)
  }
  await admin.disconnect()
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(e => {
  process.stdout.write(JSON.stringify({ error: String(e) }) + '\n')
  process.exit(1)
})
