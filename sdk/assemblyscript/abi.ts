// The canonical ABI of `weir:plugin@0.1.0` for AssemblyScript, written by
// hand: there is no bindings generator for AssemblyScript, and the packed
// types (flat lists of bytes and words) keep the glue to a few loads and
// stores. The world files (partitioner.ts, produce-interceptor.ts,
// fetch-interceptor.ts) export the functions the broker calls; weir.ts is
// what plugins use.
//
// Memory: the module is built with asc's `minimal` runtime, whose garbage
// collector runs only when asked. Everything the broker lowers into the
// guest (`cabi_realloc`) and everything a plugin builds during a call is a
// managed object that nothing references once the call has returned; the
// post-return function of each export collects it. So a call never frees
// memory part way through, and nothing outlives a call except what the
// plugin keeps in globals.

@external("weir:plugin/host@0.1.0", "log")
declare function hostLog(level: i32, ptr: usize, len: usize): void;

@external("weir:plugin/host@0.1.0", "config")
declare function hostConfig(ptr: usize, len: usize, ret: usize): void;

@external("weir:plugin/host@0.1.0", "now-ms")
declare function hostNowMs(): i64;

@external("weir:plugin/host@0.1.0", "reject-record")
declare function hostRejectRecord(index: u32, ptr: usize, len: usize): void;

/// Where an export's result goes (a variant of at most 11 words) and where
/// `config` writes its option<string>; 8-byte aligned.
export const RETURN_AREA: usize = memory.data(48, 8);

/// The broker allocates the lists and strings it passes in guest memory
/// through this export. Each block is a managed ArrayBuffer that nothing
/// references, freed by the next collection (after the call).
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  if (newSize == 0) return align;
  if (oldPtr != 0 && oldSize != 0) return __renew(oldPtr, newSize);
  return __new(newSize, idof<ArrayBuffer>());
}

/// Frees what the call allocated; every export's post-return calls it.
export function endCall(): void {
  __collect();
}

/// A string the broker passed (UTF-8 in guest memory).
export function liftString(ptr: usize, len: usize): string {
  return String.UTF8.decodeUnsafe(ptr, len);
}

/// Writes a string result as (pointer, length) at `at`.
export function lowerString(text: string, at: usize): void {
  const bytes = String.UTF8.encode(text);
  store<u32>(at, <u32>changetype<usize>(bytes));
  store<u32>(at, <u32>bytes.byteLength, 4);
}

/// Returns `result<u32, string>`: the error when there is one, else `value`.
export function returnU32(error: string | null, value: u32): usize {
  if (error !== null) return returnError(error);
  store<u8>(RETURN_AREA, 0);
  store<u32>(RETURN_AREA, value, 4);
  return RETURN_AREA;
}

/// Returns `result<list<T>, string>`: the error when there is one, else the
/// list at `start` of `length` items.
export function returnList(error: string | null, start: usize, length: i32): usize {
  if (error !== null) return returnError(error);
  store<u8>(RETURN_AREA, 0);
  store<u32>(RETURN_AREA, <u32>start, 4);
  store<u32>(RETURN_AREA, <u32>length, 8);
  return RETURN_AREA;
}

function returnError(error: string): usize {
  store<u8>(RETURN_AREA, 1);
  lowerString(error, RETURN_AREA + 4);
  return RETURN_AREA;
}

export function log(level: i32, message: string): void {
  const bytes = String.UTF8.encode(message);
  hostLog(level, changetype<usize>(bytes), <usize>bytes.byteLength);
}

export function config(key: string): string | null {
  const bytes = String.UTF8.encode(key);
  // Its own area: an export's result may already be in RETURN_AREA.
  const ret = memory.data(12, 4);
  hostConfig(changetype<usize>(bytes), <usize>bytes.byteLength, ret);
  if (load<u8>(ret) == 0) return null;
  return liftString(load<u32>(ret, 4), load<u32>(ret, 8));
}

export function nowMs(): i64 {
  return hostNowMs();
}

export function rejectRecord(index: u32, reason: string): void {
  const bytes = String.UTF8.encode(reason);
  hostRejectRecord(index, changetype<usize>(bytes), <usize>bytes.byteLength);
}

/// asc's `abort` (a failed assertion, an index out of range, `throw`)
/// logs its message through the broker, then traps: the broker counts a
/// failure and applies the topic's on-error policy.
export function abort(message: string | null, file: string | null, line: u32, column: u32): void {
  const where = file === null ? "" : ` (${file}:${line}:${column})`;
  log(4, (message === null ? "abort" : message) + where);
  unreachable();
}

/// Math.random's seed: the broker's clock (plugins get no entropy source).
export function seed(): f64 {
  return <f64>hostNowMs();
}
