//! {{name}}: a produce interceptor. It stamps every record with the header
//! `stamped-by: {{name}}` (the value can be changed with the config key
//! `stamp`) and refuses batches holding an empty value. Change the
//! function to your own rule.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const std = @import("std");
const weir = @import("weir");

export fn exports_produce_interceptor_intercept(
    batch: *weir.produce_interceptor_record_batch_t,
    ret: *weir.produce_interceptor_verdict_t,
) void {
    defer weir.produce_interceptor_record_batch_free(batch);
    var key: weir.produce_interceptor_string_t = undefined;
    var stamp: weir.produce_interceptor_string_t = undefined;
    weir.produce_interceptor_string_set(&key, "stamp");
    const configured = weir.weir_plugin_host_config(&key, &stamp);
    defer if (configured) weir.produce_interceptor_string_free(&stamp);
    const stamp_value = if (configured)
        weir.weir_bytes_t{ .ptr = stamp.ptr, .len = stamp.len, .is_null = false }
    else
        weir.weir_cstr("{{name}}");
    const records = &batch.records;
    var rewrite = std.mem.zeroes(weir.weir_rewrite_t);
    var empty: usize = 0;
    for (0..weir.weir_record_count(records)) |i| {
        const value = weir.weir_record_value(records, i);
        if (!value.is_null and value.len == 0) {
            // Named, so the producer sees which records were refused, and why.
            var reason: weir.produce_interceptor_string_t = undefined;
            weir.produce_interceptor_string_set(&reason, "empty value");
            weir.weir_plugin_host_reject_record(@intCast(i), &reason);
            empty += 1;
            continue;
        }
        weir.weir_rewrite_keep(&rewrite, records, i);
        weir.weir_rewrite_header(&rewrite, weir.weir_cstr("stamped-by"), stamp_value);
    }
    if (empty > 0) {
        weir.weir_rewrite_discard(&rewrite);
        ret.tag = weir.PRODUCE_INTERCEPTOR_VERDICT_REJECT;
        weir.produce_interceptor_string_dup(&ret.val.reject, "records with an empty value");
        return;
    }
    ret.tag = weir.PRODUCE_INTERCEPTOR_VERDICT_REWRITE;
    weir.weir_rewrite_finish(&rewrite, &ret.val.rewrite);
}
