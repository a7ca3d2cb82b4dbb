// {{name}}: a compaction policy. It keeps the newest `n` records of each key
// (the config value `n`, default 2) instead of only the latest; a tombstone
// goes once its batch's delete horizon has passed, as in Kafka; records
// without a key stay. Change `keep` to your own rule.
import { config } from "../.weir/sdk/assemblyscript/weir";
import { CompactionBatch, Keep } from "../.weir/sdk/assemblyscript/policy";

export function keep(batch: CompactionBatch): Keep {
  const configured = config("n");
  const n: u32 = configured === null ? 2 : U32.parseInt(configured);
  const out = new Keep(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const tombstone = !batch.batch.record(i).hasValue;
    out[i] = batch.latestOffset(i) < 0 || (batch.newer(i) < n && !(tombstone && batch.tombstonesExpired));
  }
  return out;
}
