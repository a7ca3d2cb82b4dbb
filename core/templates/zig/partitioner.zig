//! {{name}}: a partitioner. Keyed records go where the Java client would
//! put them (murmur2 of the key); records without a key stay in the
//! partition the producer chose. Change the function to your own rule.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const weir = @import("weir");

export fn exports_partitioner_partition(
    batch: *weir.partitioner_record_batch_t,
    ret: *weir.partitioner_list_u32_t,
    err: *weir.partitioner_string_t,
) bool {
    defer weir.partitioner_record_batch_free(batch);
    const count = batch.partition_count;
    if (count == 0) {
        weir.partitioner_string_dup(err, "the topic has no partitions");
        return false;
    }
    const records = &batch.records;
    const n = weir.weir_record_count(records);
    const partitions: [*]u32 = @ptrCast(@alignCast(weir.malloc(n * @sizeOf(u32) + 1)));
    const addressed: u32 = if (batch.partition < 0) 0 else @intCast(batch.partition);
    for (0..n) |i| {
        const key = weir.weir_record_key(records, i);
        partitions[i] = if (key.is_null)
            addressed % count
        else
            (weir.weir_murmur2(key.ptr, key.len) & 0x7fffffff) % count;
    }
    ret.ptr = partitions;
    ret.len = n;
    return true;
}
