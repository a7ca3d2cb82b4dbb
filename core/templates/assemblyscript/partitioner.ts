// {{name}}: a partitioner. Keyed records go where the Java client would put
// them (murmur2 of the key); records without a key stay in the partition the
// producer chose. Change `partition` to your own rule.
import { Batch, Partitions } from "../.weir/sdk/assemblyscript/weir";

export function partition(batch: Batch): Partitions {
  const count = batch.partitionCount;
  if (count == 0) return Partitions.fail("the topic has no partitions");
  const addressed = <u32>max(batch.partition, 0) % count;
  const out = new Partitions(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const record = batch.record(i);
    out[i] = record.hasKey ? (record.keyMurmur2() & 0x7fffffff) % count : addressed;
  }
  return out;
}
