// What retention and compaction policies get and answer (the
// `retention-policy` and `compaction-policy` worlds of wit/weir-plugin.wit):
//
//   import { PartitionStats, Segments, Deletable } from "../.weir/sdk/assemblyscript/policy";
//   export function deletable(stats: PartitionStats, segments: Segments): Deletable {
//     return Deletable.oldest(segments.length > 3 ? <u32>(segments.length - 3) : 0);
//   }
//
// Like a Batch, what the broker passed is read in place and freed when the
// call returns.

import { Batch } from "./weir";

/// A partition as a retention policy sees it.
export class PartitionStats {
  constructor(
    readonly topic: string,
    readonly partition: i32,
    readonly logStartOffset: i64,
    readonly logEndOffset: i64,
    readonly highWatermark: i64,
    /** Bytes in all its segments, the active one included. */
    readonly size: u64,
    /** Whether any consumer group commits offsets of the topic. */
    readonly hasCommitted: bool,
    /** The lowest offset those groups committed for this partition. */
    readonly committed: i64,
    /** retention.ms and retention.bytes (-1: no limit). */
    readonly retentionMs: i64,
    readonly retentionBytes: i64,
    readonly nowMs: i64,
  ) {}
}

/// One closed segment, read where the broker put it.
@final @unmanaged
export class SegmentInfo {
  baseOffset: i64;
  /** The last offset it spans. */
  lastOffset: i64;
  /** Bytes on disk. */
  size: u64;
  /** Its newest record's timestamp. */
  maxTimestamp: i64;
}

/// The closed segments below the high watermark, oldest first.
export class Segments {
  constructor(
    private start: usize,
    readonly length: i32,
  ) {}

  @operator("[]") get(i: i32): SegmentInfo {
    if (<u32>i >= <u32>this.length) throw new RangeError("segment index out of range");
    return changetype<SegmentInfo>(this.start + (<usize>i << 5));
  }
}

/// A retention policy's answer.
export class Deletable {
  constructor(
    readonly count: u32,
    readonly error: string | null,
  ) {}

  /** The `count` oldest segments may go. */
  static oldest(count: u32): Deletable {
    return new Deletable(count, null);
  }

  /** The broker applies retention.ms and retention.bytes instead (logged
   * and counted). */
  static fail(message: string): Deletable {
    return new Deletable(0, message);
  }
}

/// A batch the log cleaner is compacting, with what it knows of each
/// record's key.
export class CompactionBatch {
  constructor(
    readonly batch: Batch,
    readonly nowMs: i64,
    /** The topic's delete.retention.ms. */
    readonly deleteRetentionMs: i64,
    /** Whether a clean has kept this batch's tombstones before. */
    readonly hasDeleteHorizon: bool,
    /** When they may go (Kafka's delete horizon), if hasDeleteHorizon. */
    readonly deleteHorizon: i64,
    private offsets: usize,
    private latestOffsets: usize,
    private latestTimestamps: usize,
    private newerCounts: usize,
  ) {}

  get length(): i32 {
    return this.batch.length;
  }

  /** Record `i`'s offset. */
  offset(i: i32): i64 {
    return load<i64>(this.offsets + this.word(i, 3));
  }

  /** The offset of the latest record with the same key (its own when it is
   * the latest; -1 when it has no key). */
  latestOffset(i: i32): i64 {
    return load<i64>(this.latestOffsets + this.word(i, 3));
  }

  latestTimestamp(i: i32): i64 {
    return load<i64>(this.latestTimestamps + this.word(i, 3));
  }

  /** How many records with the same key follow it. */
  newer(i: i32): u32 {
    return load<u32>(this.newerCounts + this.word(i, 2));
  }

  /** The batch's delete horizon has passed: its tombstones may go. */
  get tombstonesExpired(): bool {
    return this.hasDeleteHorizon && this.nowMs >= this.deleteHorizon;
  }

  /** Kafka's rule for record `i`: a keyed record stays when it is its
   * key's latest, unless it is a tombstone past the delete horizon. */
  kafkaKeeps(i: i32): bool {
    const latest = this.latestOffset(i);
    if (latest < 0) return true;
    const expired = !this.batch.record(i).hasValue && this.tombstonesExpired;
    return this.offset(i) >= latest && !expired;
  }

  private word(i: i32, shift: usize): usize {
    if (<u32>i >= <u32>this.length) throw new RangeError("record index out of range");
    return <usize>i << shift;
  }
}

/// A compaction policy's answer: keep (true) or drop each record.
export class Keep {
  readonly length: i32;
  /** Set by `fail`: the cleaner decides the batch with Kafka's rule. */
  error: string | null = null;
  private flags: ArrayBuffer;

  constructor(length: i32) {
    this.length = length;
    this.flags = new ArrayBuffer(length);
  }

  static fail(message: string): Keep {
    const out = new Keep(0);
    out.error = message;
    return out;
  }

  @operator("[]=") set(i: i32, keep: bool): void {
    if (<u32>i >= <u32>this.length) throw new RangeError("record index out of range");
    store<u8>(changetype<usize>(this.flags) + <usize>i, keep ? 1 : 0);
  }

  @operator("[]") get(i: i32): bool {
    if (<u32>i >= <u32>this.length) throw new RangeError("record index out of range");
    return load<u8>(changetype<usize>(this.flags) + <usize>i) != 0;
  }

  /** The list's address, for the glue. */
  get dataStart(): usize {
    return changetype<usize>(this.flags);
  }
}
