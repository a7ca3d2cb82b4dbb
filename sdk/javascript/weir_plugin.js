// Write Weir plugins in JavaScript (built into components by componentize-js).
//
// The broker passes a batch of records packed as one byte buffer plus flat
// index words (`packed-records` in wit/weir-plugin.wit, which documents every
// type and function). This module reads it as records and builds an
// interceptor's answer:
//
//   import { Batch, murmur2 } from "../.weir/sdk/javascript/weir_plugin.js";
//   export function partition(wit) {
//     const batch = new Batch(wit);
//     return [...batch.keys()].map((key) => (murmur2(key) & 0x7fffffff) % batch.partitionCount);
//   }
//
// Keys, values and header values are Uint8Arrays (views, not copies), or null.
// The broker's `log`, `config` and `nowMs` are imported from "weir:plugin/host@0.1.0".

const RECORD_WORDS = 6;
const HEADER_WORDS = 4;
const NULL = 0xffffffff;
const utf8 = new TextDecoder();

export class Record {
  constructor(key, value, timestamp, headers) {
    this.key = key;
    this.value = value;
    /** Milliseconds since the Unix epoch (a BigInt, as the WIT's s64). */
    this.timestamp = timestamp;
    /** [name (string), value (Uint8Array or null)] pairs, in order. */
    this.headers = headers;
  }

  /** The value of the first header called `name` (undefined if absent). */
  header(name) {
    const found = this.headers.find(([n]) => n === name);
    return found ? found[1] : undefined;
  }
}

export class Batch {
  constructor(batch) {
    this.topic = batch.topic;
    this.partition = batch.partition;
    this.partitionCount = batch.partitionCount;
    this.packed = batch.records;
  }

  get length() {
    return this.packed.timestamps.length;
  }

  slice(offset, length) {
    return length === NULL ? null : this.packed.data.subarray(offset, offset + length);
  }

  record(i) {
    const p = this.packed;
    const w = i * RECORD_WORDS;
    const headers = [];
    for (let h = p.records[w + 4]; h < p.records[w + 4] + p.records[w + 5]; h++) {
      const hw = h * HEADER_WORDS;
      const name = this.slice(p.headers[hw], p.headers[hw + 1]);
      headers.push([name ? utf8.decode(name) : "", this.slice(p.headers[hw + 2], p.headers[hw + 3])]);
    }
    return new Record(
      this.slice(p.records[w], p.records[w + 1]),
      this.slice(p.records[w + 2], p.records[w + 3]),
      p.timestamps[i],
      headers,
    );
  }

  *records() {
    for (let i = 0; i < this.length; i++) yield this.record(i);
  }

  /** Just the keys (cheaper than whole records, for partitioners). */
  *keys() {
    const r = this.packed.records;
    for (let i = 0; i < this.length; i++) yield this.slice(r[i * RECORD_WORDS], r[i * RECORD_WORDS + 1]);
  }
}

const utf8out = new TextEncoder();

/** An interceptor's answer: the records to keep, each naming the input
 * record it replaces (its index, increasing). */
export class Rewrite {
  constructor() {
    this.chunks = [];
    this.size = 0;
    this.records = [];
    this.timestamps = [];
    this.headers = [];
    this.sources = [];
  }

  put(bytes) {
    if (bytes === null || bytes === undefined) return [this.size, NULL];
    const b = typeof bytes === "string" ? utf8out.encode(bytes) : bytes;
    this.chunks.push(b);
    this.size += b.length;
    return [this.size - b.length, b.length];
  }

  /** Keeps input record `source`, with what `change` gives instead of the
   * record's own key, value, headers or timestamp. */
  push(source, record, change = {}) {
    const headers = change.headers ?? record.headers;
    const start = this.headers.length / HEADER_WORDS;
    for (const [name, value] of headers) this.headers.push(...this.put(name), ...this.put(value));
    const key = "key" in change ? change.key : record.key;
    const value = "value" in change ? change.value : record.value;
    this.records.push(...this.put(key), ...this.put(value), start, headers.length);
    this.timestamps.push(change.timestamp ?? record.timestamp);
    this.sources.push(source);
  }

  /** Keeps input record `source` as it is. */
  keep(source, record) {
    this.push(source, record);
  }

  /** The WIT `rewritten` value. */
  toWit() {
    const data = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      data.set(c, at);
      at += c.length;
    }
    return {
      records: {
        data,
        records: Uint32Array.from(this.records),
        timestamps: BigInt64Array.from(this.timestamps, BigInt),
        headers: Uint32Array.from(this.headers),
      },
      sources: Uint32Array.from(this.sources),
    };
  }
}

/** The Java client's murmur2: its partition for a keyed record is
 * (murmur2(key) & 0x7fffffff) % partitions. */
export function murmur2(data) {
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ data.length) >>> 0;
  const n = data.length & ~3;
  for (let i = 0; i < n; i += 4) {
    let k = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0;
    k = Math.imul(k, m) >>> 0;
    k = (k ^ (k >>> 24)) >>> 0;
    k = Math.imul(k, m) >>> 0;
    h = (Math.imul(h, m) ^ k) >>> 0;
  }
  const rest = data.length - n;
  if (rest === 3) h = (h ^ (data[n + 2] << 16)) >>> 0;
  if (rest >= 2) h = (h ^ (data[n + 1] << 8)) >>> 0;
  if (rest >= 1) {
    h = (h ^ data[n]) >>> 0;
    h = Math.imul(h, m) >>> 0;
  }
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, m) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}
