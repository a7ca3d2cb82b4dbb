// Write Weir plugins in AssemblyScript.
//
// The broker passes a batch of records packed as one byte buffer plus flat
// index words (`packed-records` in wit/weir-plugin.wit, which documents every
// type and function). `Batch` and `Record` read it in place; `Partitions`,
// `Rewrite` and `Verdict` are a plugin's answers:
//
//   import { Batch, Partitions } from "../.weir/sdk/assemblyscript/weir";
//   export function partition(batch: Batch): Partitions {
//     const out = new Partitions(batch.length);
//     for (let i = 0; i < batch.length; i++) {
//       out[i] = (batch.record(i).keyMurmur2() & 0x7fffffff) % batch.partitionCount;
//     }
//     return out;
//   }
//
// A Batch and its Records read memory that is freed when the call returns:
// keep what you need past a call as copies (`key()`, `value()`, strings).

import * as abi from "./abi";

const RECORD_WORDS: usize = 6;
const HEADER_WORDS: usize = 4;
const NULL: u32 = 0xffffffff;

export enum Level {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
}

/// Writes to the broker's log, tagged with the plugin's name.
export function log(level: Level, message: string): void {
  abi.log(level, message);
}

/// The plugin's config value for `key` (its `[[plugins]]` entry).
export function config(key: string): string | null {
  return abi.config(key);
}

/// The broker's clock, in milliseconds since the Unix epoch.
export function nowMs(): i64 {
  return abi.nowMs();
}

/// Names a record (its index in the batch) a produce interceptor is about
/// to refuse, and why; return `Verdict.reject(...)` after. The producer
/// gets an error for each record named (KIP-467).
export function rejectRecord(index: i32, reason: string): void {
  abi.rejectRecord(<u32>index, reason);
}

// The batch of the call in progress (an instance serves one call at a
// time): where its lists are, for Record's methods.
let data: usize = 0;
let recordWords: usize = 0;
let timestamps: usize = 0;
let headerWords: usize = 0;

@inline function at(offset: u32): usize {
  return data + <usize>offset;
}

@inline function headerWord(i: usize): u32 {
  return load<u32>(headerWords + (i << 2));
}

/// A batch of records, as the broker passed it.
export class Batch {
  constructor(
    readonly topic: string,
    /** The partition the producer addressed (-1 when it left it to us). */
    readonly partition: i32,
    readonly partitionCount: u32,
    /** How many records. */
    readonly length: i32,
    dataPtr: usize,
    recordsPtr: usize,
    timestampsPtr: usize,
    headersPtr: usize,
  ) {
    data = dataPtr;
    recordWords = recordsPtr;
    timestamps = timestampsPtr;
    headerWords = headersPtr;
  }

  /** Record `i` (0 ≤ i < length): a view of the broker's index words, made
   * without allocating. */
  record(i: i32): Record {
    if (<u32>i >= <u32>this.length) throw new RangeError("record index out of range");
    return changetype<Record>(recordWords + <usize>i * RECORD_WORDS * 4);
  }
}

/// One record of the batch, read where the broker put it (its six index
/// words: key offset and length, value offset and length, first header and
/// header count); the methods returning Uint8Array or string copy.
@final @unmanaged
export class Record {
  private keyAt: u32;
  private keyLen: u32;
  private valueAt: u32;
  private valueLen: u32;
  private firstHeader: u32;
  private headers: u32;

  /** Its position in the batch. */
  get index(): i32 {
    return <i32>((changetype<usize>(this) - recordWords) / (RECORD_WORDS * 4));
  }

  get timestamp(): i64 {
    return load<i64>(timestamps + (<usize>this.index << 3));
  }

  get hasKey(): bool {
    return this.keyLen != NULL;
  }

  /** The key's length in bytes; -1 for a null key. */
  get keyLength(): i32 {
    return this.hasKey ? <i32>this.keyLen : -1;
  }

  key(): Uint8Array | null {
    return this.hasKey ? copy(at(this.keyAt), this.keyLen) : null;
  }

  keyString(): string | null {
    return this.hasKey ? String.UTF8.decodeUnsafe(at(this.keyAt), this.keyLen) : null;
  }

  /** The Java client's murmur2 of the key, read in place (0 for a null key). */
  keyMurmur2(): u32 {
    return this.hasKey ? murmur2Raw(at(this.keyAt), this.keyLen) : 0;
  }

  get hasValue(): bool {
    return this.valueLen != NULL;
  }

  /** The value's length in bytes; -1 for a null value (a tombstone). */
  get valueLength(): i32 {
    return this.hasValue ? <i32>this.valueLen : -1;
  }

  value(): Uint8Array | null {
    return this.hasValue ? copy(at(this.valueAt), this.valueLen) : null;
  }

  valueString(): string | null {
    return this.hasValue ? String.UTF8.decodeUnsafe(at(this.valueAt), this.valueLen) : null;
  }

  get headerCount(): i32 {
    return <i32>this.headers;
  }

  headerName(h: i32): string {
    const w = this.headerWords(h);
    return String.UTF8.decodeUnsafe(at(headerWord(w)), headerWord(w + 1));
  }

  headerValue(h: i32): Uint8Array | null {
    const w = this.headerWords(h);
    const len = headerWord(w + 3);
    return len == NULL ? null : copy(at(headerWord(w + 2)), len);
  }

  /** The value of the first header called `name`; null when there is none
   * or its value is null (`findHeader` tells them apart). */
  header(name: string): Uint8Array | null {
    const h = this.findHeader(name);
    return h < 0 ? null : this.headerValue(h);
  }

  headerString(name: string): string | null {
    const value = this.header(name);
    return value === null ? null : String.UTF8.decode(value.buffer);
  }

  /** The index of the first header called `name`, or -1. */
  findHeader(name: string): i32 {
    const wanted = String.UTF8.encode(name);
    const len = <u32>wanted.byteLength;
    for (let h = 0; h < this.headerCount; h++) {
      const w = this.headerWords(h);
      if (headerWord(w + 1) != len) continue;
      if (memory.compare(at(headerWord(w)), changetype<usize>(wanted), len) == 0) return h;
    }
    return -1;
  }

  private headerWords(h: i32): usize {
    if (<u32>h >= this.headers) throw new RangeError("header index out of range");
    return (<usize>this.firstHeader + <usize>h) * HEADER_WORDS;
  }
}

/// A partitioner's answer: a partition for each record, or an error (the
/// broker refuses the batch with the message).
export class Partitions {
  readonly length: i32;
  /** Set by `fail`: the batch is refused with this message. */
  error: string | null = null;
  private words: ArrayBuffer;

  constructor(length: i32) {
    this.length = length;
    this.words = new ArrayBuffer(length << 2);
  }

  static fail(message: string): Partitions {
    const out = new Partitions(0);
    out.error = message;
    return out;
  }

  @operator("[]=") set(i: i32, partition: u32): void {
    if (<u32>i >= <u32>this.length) throw new RangeError("partition index out of range");
    store<u32>(changetype<usize>(this.words) + (<usize>i << 2), partition);
  }

  @operator("[]") get(i: i32): u32 {
    if (<u32>i >= <u32>this.length) throw new RangeError("partition index out of range");
    return load<u32>(changetype<usize>(this.words) + (<usize>i << 2));
  }

  /** The list's address, for the glue. */
  get dataStart(): usize {
    return changetype<usize>(this.words);
  }
}

/// An interceptor's answer when it changes the batch: the records to keep,
/// each naming the input record it replaces (its index, increasing). The
/// set… and addHeader… methods change the record added last.
export class Rewrite {
  private data: Buffer = new Buffer(256);
  private records: Buffer = new Buffer(24 * 16);
  private timestamps: Buffer = new Buffer(8 * 16);
  private headers: Buffer = new Buffer(16 * 16);
  private sources: Buffer = new Buffer(4 * 16);

  /** How many records it holds. */
  get length(): i32 {
    return <i32>(this.sources.size >> 2);
  }

  /** Keeps `record` (of the input batch) as it is. */
  keep(record: Record): Rewrite {
    const words = changetype<usize>(record);
    const key = this.putRaw(load<u32>(words), load<u32>(words, 4));
    const value = this.putRaw(load<u32>(words, 8), load<u32>(words, 12));
    const first = <u32>(this.headers.size >> 4);
    const count = load<u32>(words, 20);
    for (let h: usize = 0; h < <usize>count; h++) {
      const w = (<usize>load<u32>(words, 16) + h) * HEADER_WORDS;
      this.headers.pushU64(this.putRaw(headerWord(w), headerWord(w + 1)));
      this.headers.pushU64(this.putRaw(headerWord(w + 2), headerWord(w + 3)));
    }
    this.records.pushU64(key);
    this.records.pushU64(value);
    this.records.pushU32(first);
    this.records.pushU32(count);
    this.timestamps.pushI64(record.timestamp);
    this.sources.pushU32(<u32>record.index);
    return this;
  }

  /** Adds a new record in place of input record `source`. */
  add(source: i32, key: Uint8Array | null, value: Uint8Array | null, timestamp: i64): Rewrite {
    this.records.pushU64(this.putBytes(key));
    this.records.pushU64(this.putBytes(value));
    this.records.pushU32(<u32>(this.headers.size >> 4));
    this.records.pushU32(0);
    this.timestamps.pushI64(timestamp);
    this.sources.pushU32(<u32>source);
    return this;
  }

  setKey(key: Uint8Array | null): Rewrite {
    store<u64>(this.last(), this.putBytes(key));
    return this;
  }

  setValue(value: Uint8Array | null): Rewrite {
    store<u64>(this.last(), this.putBytes(value), 8);
    return this;
  }

  setValueString(value: string): Rewrite {
    return this.setValue(Uint8Array.wrap(String.UTF8.encode(value)));
  }

  setTimestamp(timestamp: i64): Rewrite {
    store<i64>(this.timestamps.start + this.timestamps.size - 8, timestamp);
    return this;
  }

  /** Adds a header to the last record (after its own). A record's headers
   * must be the last ones written: add them before the next record. */
  addHeader(name: string, value: Uint8Array | null): Rewrite {
    const last = this.last();
    const first = load<u32>(last, 16);
    const count = load<u32>(last, 20);
    if (<usize>(first + count) != this.headers.size >> 4) {
      throw new Error("addHeader: add headers to the last record only");
    }
    this.headers.pushU64(this.putBytes(Uint8Array.wrap(String.UTF8.encode(name))));
    this.headers.pushU64(this.putBytes(value));
    store<u32>(last, count + 1, 20);
    return this;
  }

  addHeaderString(name: string, value: string): Rewrite {
    return this.addHeader(name, Uint8Array.wrap(String.UTF8.encode(value)));
  }

  /** Writes the WIT `rewritten` record (five lists) at `at`, for the glue. */
  lower(at: usize): void {
    this.data.lower(at, 1);
    this.records.lower(at + 8, 4);
    this.timestamps.lower(at + 16, 8);
    this.headers.lower(at + 24, 4);
    this.sources.lower(at + 32, 4);
  }

  private last(): usize {
    if (this.sources.size == 0) throw new Error("no record to change: keep or add one first");
    return this.records.start + this.records.size - 24;
  }

  // (offset, length) of bytes copied into data, as one u64 of two words.
  private putRaw(offset: u32, len: u32): u64 {
    if (len == NULL) return (<u64>NULL << 32) | <u64>this.data.size;
    const start = this.data.size;
    this.data.append(at(offset), len);
    return (<u64>len << 32) | <u64>start;
  }

  private putBytes(bytes: Uint8Array | null): u64 {
    if (bytes === null) return (<u64>NULL << 32) | <u64>this.data.size;
    const start = this.data.size;
    this.data.append(bytes.dataStart, <u32>bytes.byteLength);
    return (<u64>bytes.byteLength << 32) | <u64>start;
  }
}

/// A produce interceptor's answer.
export class Verdict {
  private constructor(
    readonly tag: u8,
    readonly rewrite: Rewrite | null,
    readonly message: string | null,
  ) {}

  /** The batch is written as it came. */
  static accept(): Verdict {
    return new Verdict(0, null, null);
  }

  /** The batch is written as `records` instead. */
  static rewrite(records: Rewrite): Verdict {
    return new Verdict(1, records, null);
  }

  /** The producer gets POLICY_VIOLATION with `message`. */
  static reject(message: string): Verdict {
    return new Verdict(2, null, message);
  }
}

/// The Java client's murmur2: its partition for a keyed record is
/// (murmur2(key) & 0x7fffffff) % partitions.
export function murmur2(bytes: Uint8Array): u32 {
  return murmur2Raw(bytes.dataStart, <u32>bytes.byteLength);
}

function murmur2Raw(ptr: usize, len: u32): u32 {
  const m: u32 = 0x5bd1e995;
  let h: u32 = 0x9747b28c ^ len;
  const n = len & ~3;
  for (let i: u32 = 0; i < n; i += 4) {
    let k = load<u32>(ptr + <usize>i);
    k *= m;
    k ^= k >>> 24;
    k *= m;
    h = (h * m) ^ k;
  }
  const rest = len - n;
  const tail = ptr + <usize>n;
  if (rest == 3) h ^= <u32>load<u8>(tail, 2) << 16;
  if (rest >= 2) h ^= <u32>load<u8>(tail, 1) << 8;
  if (rest >= 1) {
    h ^= <u32>load<u8>(tail);
    h *= m;
  }
  h ^= h >>> 13;
  h *= m;
  return h ^ (h >>> 15);
}

function copy(ptr: usize, len: u32): Uint8Array {
  const out = new Uint8Array(<i32>len);
  memory.copy(out.dataStart, ptr, len);
  return out;
}

/// A growable run of bytes in one managed buffer (freed after the call).
class Buffer {
  size: usize = 0;
  private capacity: usize;
  private bytes: ArrayBuffer;

  constructor(capacity: usize) {
    this.capacity = capacity;
    this.bytes = new ArrayBuffer(<i32>capacity);
  }

  get start(): usize {
    return changetype<usize>(this.bytes);
  }

  reserve(more: usize): usize {
    const needed = this.size + more;
    if (needed > this.capacity) {
      let capacity = this.capacity << 1;
      while (capacity < needed) capacity <<= 1;
      const grown = new ArrayBuffer(<i32>capacity);
      memory.copy(changetype<usize>(grown), this.start, this.size);
      this.bytes = grown;
      this.capacity = capacity;
    }
    const at = this.start + this.size;
    this.size = needed;
    return at;
  }

  append(ptr: usize, len: u32): void {
    memory.copy(this.reserve(<usize>len), ptr, <usize>len);
  }

  pushU32(v: u32): void {
    store<u32>(this.reserve(4), v);
  }

  pushU64(v: u64): void {
    store<u64>(this.reserve(8), v);
  }

  pushI64(v: i64): void {
    store<i64>(this.reserve(8), v);
  }

  /** (pointer, element count) at `at`. */
  lower(at: usize, elementSize: usize): void {
    store<u32>(at, <u32>this.start);
    store<u32>(at, <u32>(this.size / elementSize), 4);
  }
}
