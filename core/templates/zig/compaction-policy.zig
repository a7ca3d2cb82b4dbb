//! {{name}}: a compaction policy. It keeps the newest `n` records of each
//! key (the config value `n`, default 2) instead of only the latest; a
//! tombstone goes once its batch's delete horizon has passed, as in Kafka;
//! records without a key stay. Change the function to your own rule.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const std = @import("std");
const weir = @import("weir");

export fn exports_compaction_policy_keep(
    batch: *weir.compaction_policy_compaction_batch_t,
    ret: *weir.compaction_policy_list_bool_t,
    err: *weir.compaction_policy_string_t,
) bool {
    defer weir.compaction_policy_compaction_batch_free(batch);
    var n: u32 = 2;
    var key: weir.compaction_policy_string_t = undefined;
    var value: weir.compaction_policy_string_t = undefined;
    weir.compaction_policy_string_set(&key, "n");
    if (weir.weir_plugin_host_config(&key, &value)) {
        defer weir.compaction_policy_string_free(&value);
        const text = std.mem.trim(u8, value.ptr[0..value.len], " ");
        n = std.fmt.parseInt(u32, text, 10) catch {
            weir.compaction_policy_string_dup(err, "the config value n is not a count");
            return false;
        };
    }
    const records = &batch.records;
    const c = &batch.candidates;
    const count = weir.weir_record_count(records);
    // Set by the first clean that kept this batch's tombstones.
    const horizon = batch.delete_horizon;
    const tombstones_expired = horizon.is_some and batch.now_ms >= horizon.val;
    const keep: [*]bool = @ptrCast(weir.malloc(count + 1));
    for (0..count) |i| {
        const tombstone = weir.weir_record_value(records, i).is_null;
        keep[i] = c.latest_offsets.ptr[i] < 0 or
            (c.newer.ptr[i] < n and !(tombstone and tombstones_expired));
    }
    ret.ptr = keep;
    ret.len = count;
    return true;
}
