// The `retention-policy` world's exports: `weir plugin build` compiles this
// file as the module's entry; it calls `deletable(stats: PartitionStats,
// segments: Segments): Deletable` of the project's assembly/index.ts.

import { deletable as plugin } from "../../../assembly/index";
import { PartitionStats, Segments } from "./policy";
import { endCall, liftString, returnU32 } from "./abi";
export { cabi_realloc } from "./abi";

// deletable: func(stats: partition-stats, segments: list<segment-info>)
//   -> result<u32, string>
// (fourteen flat values: the option<s64> is a flag and a value; a
// segment-info is 32 bytes, four 64-bit fields).
export function deletable(
  topicPtr: usize, topicLen: usize, partition: i32,
  logStartOffset: i64, logEndOffset: i64, highWatermark: i64, size: u64,
  hasCommitted: i32, committed: i64, retentionMs: i64, retentionBytes: i64, nowMs: i64,
  segmentsPtr: usize, segmentsLen: usize,
): usize {
  const stats = new PartitionStats(
    liftString(topicPtr, topicLen), partition, logStartOffset, logEndOffset, highWatermark, size,
    hasCommitted != 0, committed, retentionMs, retentionBytes, nowMs,
  );
  const out = plugin(stats, new Segments(segmentsPtr, <i32>segmentsLen));
  return returnU32(out.error, out.count);
}

export function cabi_post_deletable(_ret: usize): void {
  endCall();
}
