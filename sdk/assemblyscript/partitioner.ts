// The `partitioner` world's exports: `weir plugin build` compiles this file
// as the module's entry; it calls `partition(batch: Batch): Partitions` of
// the project's assembly/index.ts.

import { partition as plugin } from "../../../assembly/index";
import { liftBatch } from "./lift";
import { RETURN_AREA, endCall, lowerString } from "./abi";
export { cabi_realloc } from "./abi";

// partition: func(batch: record-batch) -> result<list<u32>, string>
export function partition(
  topicPtr: usize, topicLen: usize, addressed: i32, partitionCount: u32,
  dataPtr: usize, dataLen: usize, recordsPtr: usize, recordsLen: usize,
  timestampsPtr: usize, timestampsLen: usize, headersPtr: usize, headersLen: usize,
): usize {
  const batch = liftBatch(topicPtr, topicLen, addressed, partitionCount, dataPtr, recordsPtr, recordsLen, timestampsPtr, headersPtr);
  const out = plugin(batch);
  const error = out.error;
  if (error !== null) {
    store<u8>(RETURN_AREA, 1);
    lowerString(error, RETURN_AREA + 4);
  } else {
    store<u8>(RETURN_AREA, 0);
    store<u32>(RETURN_AREA, <u32>out.dataStart, 4);
    store<u32>(RETURN_AREA, <u32>out.length, 8);
  }
  return RETURN_AREA;
}

export function cabi_post_partition(_ret: usize): void {
  endCall();
}
