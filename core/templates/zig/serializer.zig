//! {{name}}: a serializer for a custom format, CSV lines. A schema is a
//! JSON document registered with schemaType JSON that names the columns,
//! {"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
//! valid when it is one line with exactly that many comma-separated fields.
//! Change `check` to your own format's rules.
//!
//! `weir` is the C SDK (.weir/sdk/c) translated to Zig by `weir plugin build`.
const std = @import("std");
const weir = @import("weir");

/// The number of columns the schema names (a plain scan: a real plugin
/// would parse the JSON).
fn columns(text: []const u8) ?usize {
    const at = std.mem.indexOf(u8, text, "\"columns\"") orelse return null;
    const open = std.mem.indexOfScalarPos(u8, text, at, '[') orelse return null;
    const close = std.mem.indexOfScalarPos(u8, text, open, ']') orelse return null;
    return std.mem.count(u8, text[open..close], "\"") / 2;
}

fn set(out: *weir.serializer_string_t, message: []const u8) void {
    const bytes: [*]u8 = @ptrCast(weir.malloc(@max(message.len, 1)));
    @memcpy(bytes[0..message.len], message);
    out.ptr = bytes;
    out.len = message.len;
}

/// Null when the line is valid, else why not (written into `buf`).
fn check(wanted: usize, line: []const u8, buf: []u8) ?[]const u8 {
    if (std.mem.indexOfScalar(u8, line, '\n') != null) return "more than one line";
    const fields = std.mem.count(u8, line, ",") + 1;
    if (fields == wanted) return null;
    return std.fmt.bufPrint(buf, "{d} fields, the schema has {d} columns", .{ fields, wanted }) catch "wrong field count";
}

export fn exports_serializer_validate(
    schema: *weir.serializer_schema_t,
    payloads: *weir.serializer_payloads_t,
    ret: *weir.serializer_list_option_string_t,
    err: *weir.serializer_string_t,
) bool {
    defer weir.serializer_schema_free(schema);
    defer weir.serializer_payloads_free(payloads);
    const wanted = columns(schema.text.ptr[0..schema.text.len]) orelse {
        set(err, "the schema names no \"columns\"");
        return false;
    };
    const count = payloads.bounds.len / 2;
    const answers: [*]weir.serializer_option_string_t = @ptrCast(@alignCast(weir.calloc(@max(count, 1), @sizeOf(weir.serializer_option_string_t))));
    const bounds = payloads.bounds.ptr[0..payloads.bounds.len];
    const data = payloads.data.ptr[0..payloads.data.len];
    for (0..count) |i| {
        const line = data[bounds[2 * i] .. bounds[2 * i] + bounds[2 * i + 1]];
        var buf: [96]u8 = undefined;
        if (check(wanted, line, &buf)) |why| {
            answers[i].is_some = true;
            set(&answers[i].val, why);
        }
    }
    ret.ptr = answers;
    ret.len = count;
    return true;
}
