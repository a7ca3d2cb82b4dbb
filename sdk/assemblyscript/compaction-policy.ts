// The `compaction-policy` world's exports: `weir plugin build` compiles
// this file as the module's entry; it calls `keep(batch: CompactionBatch):
// Keep` of the project's assembly/index.ts.

import { keep as plugin } from "../../../assembly/index";
import { CompactionBatch } from "./policy";
import { liftBatch } from "./lift";
import { endCall, returnList } from "./abi";
export { cabi_realloc } from "./abi";

// keep: func(batch: compaction-batch) -> result<list<bool>, string>.
// The record flattens to 23 values, more than the canonical ABI's 16, so
// the broker passes a pointer to it in memory, laid out with each field at
// its alignment: topic 0, partition 8, now-ms 16, delete-retention-ms 24,
// delete-horizon 32 (flag; value at 40), records 48 (data, records,
// timestamps, headers: a pointer and a length each), candidates 80
// (offsets, latest-offsets, latest-timestamps, newer).
export function keep(at: usize): usize {
  const records = at + 48;
  const candidates = at + 80;
  const batch = liftBatch(
    load<u32>(at), load<u32>(at, 4), load<i32>(at, 8), 0,
    load<u32>(records), load<u32>(records, 8), load<u32>(records, 12),
    load<u32>(records, 16), load<u32>(records, 24),
  );
  const compaction = new CompactionBatch(
    batch, load<i64>(at, 16), load<i64>(at, 24), load<u8>(at, 32) != 0, load<i64>(at, 40),
    load<u32>(candidates), load<u32>(candidates, 8), load<u32>(candidates, 16), load<u32>(candidates, 24),
  );
  const out = plugin(compaction);
  return returnList(out.error, out.dataStart, out.length);
}

export function cabi_post_keep(_ret: usize): void {
  endCall();
}
