// {{name}}: a compaction policy. It keeps the newest `n` records of each key
// (the config value `n`, default 2) instead of only the latest; a tombstone
// goes once its batch's delete horizon has passed, as in Kafka; records
// without a key stay. Change `keep` to your own rule.
import { config } from "weir:plugin/host@0.1.0";
import { Batch } from "../.weir/sdk/javascript/weir_plugin.js";

export function keep(wit) {
  const n = Number(config("n") ?? 2);
  if (!Number.isInteger(n) || n < 0) throw `n ${config("n")} is not a count`;
  // Set by the first clean that kept this batch's tombstones (a BigInt).
  const horizon = wit.deleteHorizon;
  const tombstonesExpired = horizon != null && wit.nowMs >= horizon;
  const c = wit.candidates;
  return Array.from(
    new Batch(wit).records(),
    (record, i) => c.latestOffsets[i] < 0n || (c.newer[i] < n && !(record.value === null && tombstonesExpired)),
  );
}
