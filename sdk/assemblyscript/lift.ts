// Lifting the WIT `record-batch` (flattened to twelve parameters by the
// canonical ABI) into a Batch; shared by the world files.

import { Batch } from "./weir";
import { liftString } from "./abi";

export function liftBatch(
  topicPtr: usize, topicLen: usize, addressed: i32, partitionCount: u32,
  dataPtr: usize, recordsPtr: usize, recordsLen: usize, timestampsPtr: usize, headersPtr: usize,
): Batch {
  return new Batch(
    liftString(topicPtr, topicLen), addressed, partitionCount, <i32>(recordsLen / 6),
    dataPtr, recordsPtr, timestampsPtr, headersPtr,
  );
}
