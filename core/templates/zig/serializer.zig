//! {{name}}: a serializer for a custom format, CSV lines. A schema is a
//! JSON document registered with schemaType JSON that names the columns,
//! {"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
//! valid when it is one line with exactly that many comma-separated fields,
//! and decodes to a JSON object of those columns ({"id":"7","customer":"c7",
//! "total":"10"}, every field a string), which is what other plugins' typed
//! access (weir_plugin_host_field) reads. Change `check`, `decodeLine` and
//! `encodeLine` to your own format's.
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

/// A growing byte buffer in the C heap (the bindings free what they get).
const Buffer = struct {
    ptr: ?[*]u8 = null,
    len: usize = 0,
    cap: usize = 0,

    fn put(b: *Buffer, bytes: []const u8) void {
        if (b.len + bytes.len > b.cap) {
            b.cap = (b.len + bytes.len) * 2 + 64;
            b.ptr = @ptrCast(weir.realloc(b.ptr, b.cap));
        }
        @memcpy(b.ptr.?[b.len .. b.len + bytes.len], bytes);
        b.len += bytes.len;
    }

    /// `bytes` as a JSON string literal.
    fn putQuoted(b: *Buffer, bytes: []const u8) void {
        b.put("\"");
        for (bytes) |c| {
            if (c == '"' or c == '\\') {
                b.put(&[_]u8{ '\\', c });
            } else if (c < 0x20) {
                var buf: [6]u8 = undefined;
                b.put(std.fmt.bufPrint(&buf, "\\u{x:0>4}", .{c}) catch unreachable);
            } else {
                b.put(&[_]u8{c});
            }
        }
        b.put("\"");
    }

    /// What the bindings take: never a null pointer.
    fn owned(b: *Buffer) [*]u8 {
        return b.ptr orelse @ptrCast(weir.malloc(1));
    }
};

/// The column names the schema lists (a plain scan, as `columns`).
fn columnName(text: []const u8, n: usize) ?[]const u8 {
    const at = std.mem.indexOf(u8, text, "\"columns\"") orelse return null;
    const open = std.mem.indexOfScalarPos(u8, text, at, '[') orelse return null;
    const close = std.mem.indexOfScalarPos(u8, text, open, ']') orelse return null;
    var names = std.mem.splitScalar(u8, text[open + 1 .. close], '"');
    var i: usize = 0;
    _ = names.next(); // before the first quote
    while (names.next()) |name| : (i += 1) {
        if (i == n) return name;
        _ = names.next(); // between two names
    }
    return null;
}

/// A valid line as a JSON object of its columns.
fn decodeLine(text: []const u8, wanted: usize, line: []const u8, out: *Buffer) void {
    out.put("{");
    var fields = std.mem.splitScalar(u8, line, ',');
    for (0..wanted) |c| {
        if (c > 0) out.put(",");
        out.putQuoted(columnName(text, c) orelse "");
        out.put(":");
        out.putQuoted(fields.next() orelse "");
    }
    out.put("}");
}

export fn exports_serializer_decode(
    schema: *weir.serializer_schema_t,
    payloads: *weir.serializer_payloads_t,
    ret: *weir.serializer_payloads_t,
    err: *weir.serializer_string_t,
) bool {
    defer weir.serializer_schema_free(schema);
    defer weir.serializer_payloads_free(payloads);
    const text = schema.text.ptr[0..schema.text.len];
    const wanted = columns(text) orelse {
        set(err, "the schema names no \"columns\"");
        return false;
    };
    const count = payloads.bounds.len / 2;
    const bounds = payloads.bounds.ptr[0..payloads.bounds.len];
    const data = payloads.data.ptr[0..payloads.data.len];
    const answer: [*]u32 = @ptrCast(@alignCast(weir.malloc(@max(2 * count, 1) * @sizeOf(u32))));
    var out = Buffer{};
    for (0..count) |i| {
        const line = data[bounds[2 * i] .. bounds[2 * i] + bounds[2 * i + 1]];
        var buf: [96]u8 = undefined;
        answer[2 * i] = @intCast(out.len);
        if (check(wanted, line, &buf) != null) {
            answer[2 * i + 1] = 0xffffffff; // does not decode
            continue;
        }
        decodeLine(text, wanted, line, &out);
        answer[2 * i + 1] = @intCast(out.len - answer[2 * i]);
    }
    ret.bounds.ptr = answer;
    ret.bounds.len = 2 * count;
    ret.data.ptr = out.owned();
    ret.data.len = out.len;
    return true;
}

/// Member `name` of a flat JSON object, put in `out`: a string's contents
/// (an escaped character taken as written), or a number's text. A plain
/// scan, as `columns`; null when found, else why not.
fn member(json: []const u8, name: []const u8, out: *Buffer) ?[]const u8 {
    var at: usize = 0;
    const found = while (std.mem.indexOfScalarPos(u8, json, at, '"')) |quote| {
        const end = quote + 1 + name.len;
        if (end < json.len and std.mem.eql(u8, json[quote + 1 .. end], name) and json[end] == '"') break end + 1;
        at = quote + 1;
    } else return "a column is missing";
    var i = found;
    while (i < json.len and (json[i] == ' ' or json[i] == ':')) i += 1;
    if (i < json.len and json[i] == '"') {
        i += 1;
        while (i < json.len and json[i] != '"') : (i += 1) {
            if (json[i] == '\\' and i + 1 < json.len) i += 1;
            if (json[i] == ',' or json[i] == '\n') return "a column holds a comma or a newline";
            out.put(json[i .. i + 1]);
        }
        return if (i < json.len) null else "an unterminated string";
    }
    const start = i;
    while (i < json.len and json[i] != ',' and json[i] != '}' and json[i] != ' ') i += 1;
    out.put(json[start..i]);
    return null;
}

/// A JSON object of the columns as a line in `out`; null, or why not.
fn encodeLine(text: []const u8, wanted: usize, json: []const u8, out: *Buffer) ?[]const u8 {
    for (0..wanted) |c| {
        const name = columnName(text, c) orelse return "the schema's columns do not scan";
        if (c > 0) out.put(",");
        if (member(json, name, out)) |why| return why;
    }
    return null;
}

export fn exports_serializer_encode(
    schema: *weir.serializer_schema_t,
    like: *weir.serializer_payloads_t,
    json: *weir.serializer_payloads_t,
    ret: *weir.weir_plugin_host_list_result_list_u8_string_t,
    err: *weir.serializer_string_t,
) bool {
    defer weir.serializer_schema_free(schema);
    defer weir.serializer_payloads_free(like);
    defer weir.serializer_payloads_free(json);
    const text = schema.text.ptr[0..schema.text.len];
    const wanted = columns(text) orelse {
        set(err, "the schema names no \"columns\"");
        return false;
    };
    const count = json.bounds.len / 2;
    const bounds = json.bounds.ptr[0..json.bounds.len];
    const data = json.data.ptr[0..json.data.len];
    const answers: [*]weir.weir_plugin_host_result_list_u8_string_t = @ptrCast(@alignCast(weir.calloc(@max(count, 1), @sizeOf(weir.weir_plugin_host_result_list_u8_string_t))));
    for (0..count) |i| {
        var line = Buffer{};
        if (encodeLine(text, wanted, data[bounds[2 * i] .. bounds[2 * i] + bounds[2 * i + 1]], &line)) |why| {
            weir.free(line.ptr);
            answers[i].is_err = true;
            set(&answers[i].val.err, why);
            continue;
        }
        answers[i].val.ok.ptr = line.owned();
        answers[i].val.ok.len = line.len;
    }
    ret.ptr = answers;
    ret.len = count;
    return true;
}
