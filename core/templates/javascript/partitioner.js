// {{name}}: a partitioner. Keyed records go where the Java client would put
// them (murmur2 of the key); records without a key stay in the partition the
// producer chose. Change `partition` to your own rule.
import { Batch, murmur2 } from "../.weir/sdk/javascript/weir_plugin.js";

export function partition(wit) {
  const batch = new Batch(wit);
  const count = batch.partitionCount;
  if (count === 0) throw "the topic has no partitions";
  const addressed = Math.max(batch.partition, 0) % count;
  return Uint32Array.from(batch.keys(), (key) => (key === null ? addressed : (murmur2(key) & 0x7fffffff) % count));
}
