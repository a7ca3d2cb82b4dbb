// The `partitioner` world's exports: `weir plugin build` compiles this file
// as the module's entry; it calls `partition(batch: Batch): Partitions` of
// the project's assembly/index.ts.

import { partition as plugin } from "../../../assembly/index";
import { liftBatch } from "./lift";
import { endCall, returnList } from "./abi";
export { cabi_realloc } from "./abi";

// partition: func(batch: record-batch) -> result<list<u32>, string>
export function partition(
  topicPtr: usize, topicLen: usize, addressed: i32, partitionCount: u32,
  dataPtr: usize, dataLen: usize, recordsPtr: usize, recordsLen: usize,
  timestampsPtr: usize, timestampsLen: usize, headersPtr: usize, headersLen: usize,
): usize {
  const batch = liftBatch(topicPtr, topicLen, addressed, partitionCount, dataPtr, recordsPtr, recordsLen, timestampsPtr, headersPtr);
  const out = plugin(batch);
  return returnList(out.error, out.dataStart, out.length);
}

export function cabi_post_partition(_ret: usize): void {
  endCall();
}
