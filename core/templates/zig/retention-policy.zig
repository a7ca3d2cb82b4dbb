//! {{name}}: a retention policy. A segment may go once every consumer group
//! reading the topic has committed past it, or once its newest record is
//! older than the config value `max-age-ms` (default 7 days), whichever
//! comes first. Change the function to your own rule.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const std = @import("std");
const weir = @import("weir");

export fn exports_retention_policy_deletable(
    stats: *weir.retention_policy_partition_stats_t,
    segments: *weir.retention_policy_list_segment_info_t,
    ret: *u32,
    err: *weir.retention_policy_string_t,
) bool {
    _ = err;
    defer weir.retention_policy_partition_stats_free(stats);
    defer weir.retention_policy_list_segment_info_free(segments);
    var max_age: i64 = 7 * 24 * 3600000;
    var key: weir.retention_policy_string_t = undefined;
    var value: weir.retention_policy_string_t = undefined;
    weir.retention_policy_string_set(&key, "max-age-ms");
    if (weir.weir_plugin_host_config(&key, &value)) {
        defer weir.retention_policy_string_free(&value);
        const text = std.mem.trim(u8, value.ptr[0..value.len], " ");
        max_age = std.fmt.parseInt(i64, text, 10) catch max_age;
    }
    var gone: u32 = 0;
    for (segments.ptr[0..segments.len]) |s| {
        const read = stats.committed.is_some and s.last_offset < stats.committed.val;
        const old = s.max_timestamp < stats.now_ms - max_age;
        if (!read and !old) break;
        gone += 1;
    }
    ret.* = gone;
    return true;
}
