// The `produce-interceptor` world's exports: `weir plugin build` compiles
// this file as the module's entry; it calls `intercept(batch: Batch):
// Verdict` of the project's assembly/index.ts.

import { intercept as plugin } from "../../../assembly/index";
import { liftBatch } from "./lift";
import { RETURN_AREA, endCall, lowerString } from "./abi";
export { cabi_realloc } from "./abi";

// intercept: func(batch: record-batch) -> verdict, where
// variant verdict { accept, rewrite(rewritten), reject(string) }
export function intercept(
  topicPtr: usize, topicLen: usize, addressed: i32, partitionCount: u32,
  dataPtr: usize, dataLen: usize, recordsPtr: usize, recordsLen: usize,
  timestampsPtr: usize, timestampsLen: usize, headersPtr: usize, headersLen: usize,
): usize {
  const batch = liftBatch(topicPtr, topicLen, addressed, partitionCount, dataPtr, recordsPtr, recordsLen, timestampsPtr, headersPtr);
  const verdict = plugin(batch);
  store<u8>(RETURN_AREA, verdict.tag);
  const rewrite = verdict.rewrite;
  const message = verdict.message;
  if (rewrite !== null) rewrite.lower(RETURN_AREA + 4);
  if (message !== null) lowerString(message, RETURN_AREA + 4);
  return RETURN_AREA;
}

export function cabi_post_intercept(_ret: usize): void {
  endCall();
}
