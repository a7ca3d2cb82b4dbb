// The `fetch-interceptor` world's exports: `weir plugin build` compiles
// this file as the module's entry; it calls `intercept(clientId: string |
// null, batch: Batch): Rewrite | null` of the project's assembly/index.ts
// (null: the consumer gets the batch as it is).

import { intercept as plugin } from "../../../assembly/index";
import { liftBatch } from "./lift";
import { RETURN_AREA, endCall, liftString } from "./abi";
export { cabi_realloc } from "./abi";

// intercept: func(client-id: option<string>, batch: record-batch) -> verdict,
// where variant verdict { accept, rewrite(rewritten) }
export function intercept(
  hasClientId: i32, clientIdPtr: usize, clientIdLen: usize,
  topicPtr: usize, topicLen: usize, addressed: i32, partitionCount: u32,
  dataPtr: usize, dataLen: usize, recordsPtr: usize, recordsLen: usize,
  timestampsPtr: usize, timestampsLen: usize, headersPtr: usize, headersLen: usize,
): usize {
  const clientId = hasClientId != 0 ? liftString(clientIdPtr, clientIdLen) : null;
  const batch = liftBatch(topicPtr, topicLen, addressed, partitionCount, dataPtr, recordsPtr, recordsLen, timestampsPtr, headersPtr);
  const rewrite = plugin(clientId, batch);
  if (rewrite === null) {
    store<u8>(RETURN_AREA, 0);
  } else {
    store<u8>(RETURN_AREA, 1);
    rewrite.lower(RETURN_AREA + 4);
  }
  return RETURN_AREA;
}

export function cabi_post_intercept(_ret: usize): void {
  endCall();
}
