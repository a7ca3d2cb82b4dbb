//! {{name}}: a fetch interceptor. Consumers see only the records whose
//! header `tenant` equals the config value `tenant` (default "acme"); the
//! others are skipped, offsets kept. Change the function to your own rule.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const std = @import("std");
const weir = @import("weir");

export fn exports_fetch_interceptor_intercept(
    maybe_client_id: ?*weir.fetch_interceptor_string_t,
    batch: *weir.fetch_interceptor_record_batch_t,
    ret: *weir.fetch_interceptor_verdict_t,
) void {
    defer weir.fetch_interceptor_record_batch_free(batch);
    if (maybe_client_id) |client_id| weir.fetch_interceptor_string_free(client_id);
    var key: weir.fetch_interceptor_string_t = undefined;
    var tenant: weir.fetch_interceptor_string_t = undefined;
    weir.fetch_interceptor_string_set(&key, "tenant");
    const configured = weir.weir_plugin_host_config(&key, &tenant);
    defer if (configured) weir.fetch_interceptor_string_free(&tenant);
    const wanted: []const u8 = if (configured) tenant.ptr[0..tenant.len] else "acme";
    const records = &batch.records;
    var rewrite = std.mem.zeroes(weir.weir_rewrite_t);
    var dropped = false;
    for (0..weir.weir_record_count(records)) |i| {
        var value: weir.weir_bytes_t = undefined;
        const found = weir.weir_record_header(records, i, "tenant", &value);
        if (found and !value.is_null and std.mem.eql(u8, value.ptr[0..value.len], wanted)) {
            weir.weir_rewrite_keep(&rewrite, records, i);
        } else {
            dropped = true;
        }
    }
    if (dropped) {
        ret.tag = weir.FETCH_INTERCEPTOR_VERDICT_REWRITE;
        weir.weir_rewrite_finish(&rewrite, &ret.val.rewrite);
    } else {
        weir.weir_rewrite_discard(&rewrite);
        ret.tag = weir.FETCH_INTERCEPTOR_VERDICT_ACCEPT;
    }
}
