/*
 * {{name}}: a serializer for a custom format, CSV lines. A schema is a JSON
 * document registered with schemaType JSON that names the columns,
 * {"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
 * valid when it is one line with exactly that many comma-separated fields,
 * and decodes to a JSON object of those columns ({"id":"7","customer":"c7",
 * "total":"10"}, every field a string), which is what other plugins' typed
 * access (weir_plugin_host_field) reads. Change check(), decode_line() and
 * encode_line() to your own format's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serializer.h"
#include "weir_plugin.h"

/* The number of columns the schema names, or -1. A plain scan keeps the
 * plugin small; a real one would parse the JSON. */
static long columns(const serializer_string_t *text) {
    const char *s = (const char *)text->ptr;
    size_t len = text->len;
    const char *key = "\"columns\"";
    size_t key_len = strlen(key);
    for (size_t i = 0; i + key_len <= len; i++) {
        if (memcmp(s + i, key, key_len) != 0) continue;
        const char *open = memchr(s + i, '[', len - i);
        if (open == NULL) return -1;
        const char *close = memchr(open, ']', len - (size_t)(open - s));
        if (close == NULL) return -1;
        long quotes = 0;
        for (const char *c = open; c < close; c++) quotes += *c == '"';
        return quotes / 2;
    }
    return -1;
}

static void set(serializer_string_t *out, const char *message) {
    out->len = strlen(message);
    out->ptr = malloc(out->len ? out->len : 1);
    memcpy(out->ptr, message, out->len);
}

/* NULL when the line is valid, else why not (written to `why`). */
static const char *check(long columns, const uint8_t *payload, size_t len, char *why, size_t why_len) {
    if (memchr(payload, '\n', len) != NULL) return "more than one line";
    long fields = 1;
    for (size_t i = 0; i < len; i++) fields += payload[i] == ',';
    if (fields == columns) return NULL;
    snprintf(why, why_len, "%ld fields, the schema has %ld columns", fields, columns);
    return why;
}

bool exports_serializer_validate(serializer_schema_t *schema, serializer_payloads_t *payloads,
                                 serializer_list_option_string_t *ret, serializer_string_t *err) {
    long wanted = columns(&schema->text);
    if (wanted < 0) {
        set(err, "the schema names no \"columns\"");
        serializer_schema_free(schema);
        serializer_payloads_free(payloads);
        return false;
    }
    size_t count = payloads->bounds.len / 2;
    ret->len = count;
    ret->ptr = calloc(count ? count : 1, sizeof(serializer_option_string_t));
    for (size_t i = 0; i < count; i++) {
        uint32_t start = payloads->bounds.ptr[2 * i], len = payloads->bounds.ptr[2 * i + 1];
        char why[96];
        const char *invalid = check(wanted, payloads->data.ptr + start, len, why, sizeof why);
        if (invalid != NULL) {
            ret->ptr[i].is_some = true;
            set(&ret->ptr[i].val, invalid);
        }
    }
    serializer_schema_free(schema);
    serializer_payloads_free(payloads);
    return true;
}

/* A growing byte buffer. */
typedef struct {
    uint8_t *ptr;
    size_t len, cap;
} buffer_t;

static void put(buffer_t *b, const void *bytes, size_t len) {
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 64;
        b->ptr = realloc(b->ptr, b->cap);
    }
    memcpy(b->ptr + b->len, bytes, len);
    b->len += len;
}

/* `bytes` as a JSON string literal. */
static void put_quoted(buffer_t *b, const uint8_t *bytes, size_t len) {
    put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        char escaped[8];
        if (bytes[i] == '"' || bytes[i] == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)bytes[i];
            put(b, escaped, 2);
        } else if (bytes[i] < 0x20) {
            snprintf(escaped, sizeof escaped, "\\u%04x", bytes[i]);
            put(b, escaped, 6);
        } else {
            put(b, bytes + i, 1);
        }
    }
    put(b, "\"", 1);
}

/* Column `n`'s name in the schema (a plain scan, as columns()). */
static bool column_name(const serializer_string_t *text, long n, const uint8_t **name, size_t *len) {
    const uint8_t *s = text->ptr, *end = text->ptr + text->len;
    const char *key = "\"columns\"";
    const uint8_t *at = NULL;
    for (const uint8_t *p = s; p + strlen(key) <= end; p++) {
        if (memcmp(p, key, strlen(key)) == 0) { at = p + strlen(key); break; }
    }
    if (at == NULL || (at = memchr(at, '[', (size_t)(end - at))) == NULL) return false;
    for (long i = 0; at < end && *at != ']'; at++) {
        if (*at != '"') continue;
        const uint8_t *close = memchr(at + 1, '"', (size_t)(end - at - 1));
        if (close == NULL) return false;
        if (i++ == n) { *name = at + 1; *len = (size_t)(close - at - 1); return true; }
        at = close;
    }
    return false;
}

/* A valid line as a JSON object of its columns, appended to `out`. */
static void decode_line(const serializer_string_t *schema, long columns, const uint8_t *line, size_t len, buffer_t *out) {
    put(out, "{", 1);
    size_t start = 0;
    for (long c = 0; c < columns; c++) {
        size_t end = start;
        while (end < len && line[end] != ',') end++;
        const uint8_t *name;
        size_t name_len;
        if (!column_name(schema, c, &name, &name_len)) name_len = 0;
        if (c > 0) put(out, ",", 1);
        put_quoted(out, name, name_len);
        put(out, ":", 1);
        put_quoted(out, line + start, end - start);
        start = end + 1;
    }
    put(out, "}", 1);
}

bool exports_serializer_decode(serializer_schema_t *schema, serializer_payloads_t *payloads,
                               serializer_payloads_t *ret, serializer_string_t *err) {
    long wanted = columns(&schema->text);
    if (wanted < 0) {
        set(err, "the schema names no \"columns\"");
        serializer_schema_free(schema);
        serializer_payloads_free(payloads);
        return false;
    }
    size_t count = payloads->bounds.len / 2;
    buffer_t out = {0};
    ret->bounds.len = 2 * count;
    ret->bounds.ptr = malloc(count ? 2 * count * sizeof(uint32_t) : 1);
    for (size_t i = 0; i < count; i++) {
        uint32_t start = payloads->bounds.ptr[2 * i], len = payloads->bounds.ptr[2 * i + 1];
        const uint8_t *line = payloads->data.ptr + start;
        char why[96];
        ret->bounds.ptr[2 * i] = (uint32_t)out.len;
        if (check(wanted, line, len, why, sizeof why) != NULL) {
            ret->bounds.ptr[2 * i + 1] = 0xffffffffu; /* does not decode */
            continue;
        }
        decode_line(&schema->text, wanted, line, len, &out);
        ret->bounds.ptr[2 * i + 1] = (uint32_t)(out.len - ret->bounds.ptr[2 * i]);
    }
    ret->data.ptr = out.ptr ? out.ptr : malloc(1);
    ret->data.len = out.len;
    serializer_schema_free(schema);
    serializer_payloads_free(payloads);
    return true;
}

/* Member `name` of a flat JSON object, appended to `out`: a string's
 * contents (an escaped character taken as written), or a number's text. A
 * plain scan, as columns(); NULL when found, else why not. */
static const char *member(const uint8_t *json, size_t len, const uint8_t *name, size_t name_len, buffer_t *out) {
    const uint8_t *end = json + len, *at = NULL;
    for (const uint8_t *p = json; p + name_len + 2 <= end; p++) {
        if (p[0] == '"' && memcmp(p + 1, name, name_len) == 0 && p[name_len + 1] == '"') {
            at = p + name_len + 2;
            break;
        }
    }
    if (at == NULL) return "a column is missing";
    while (at < end && (*at == ' ' || *at == ':')) at++;
    if (at < end && *at == '"') {
        for (at++; at < end && *at != '"'; at++) {
            if (*at == '\\' && at + 1 < end) at++;
            if (*at == ',' || *at == '\n') return "a column holds a comma or a newline";
            put(out, at, 1);
        }
        return at < end ? NULL : "an unterminated string";
    }
    const uint8_t *start = at;
    while (at < end && *at != ',' && *at != '}' && *at != ' ') at++;
    put(out, start, (size_t)(at - start));
    return NULL;
}

/* A JSON object of the columns as a line in `out`; NULL, or why not. */
static const char *encode_line(const serializer_string_t *schema, long columns, const uint8_t *json, size_t len, buffer_t *out) {
    for (long c = 0; c < columns; c++) {
        const uint8_t *name;
        size_t name_len;
        if (!column_name(schema, c, &name, &name_len)) return "the schema's columns do not scan";
        if (c > 0) put(out, ",", 1);
        const char *why = member(json, len, name, name_len, out);
        if (why != NULL) return why;
    }
    return NULL;
}

bool exports_serializer_encode(serializer_schema_t *schema, serializer_payloads_t *like, serializer_payloads_t *json,
                               weir_plugin_host_list_result_list_u8_string_t *ret, serializer_string_t *err) {
    long wanted = columns(&schema->text);
    if (wanted < 0) {
        set(err, "the schema names no \"columns\"");
        serializer_schema_free(schema);
        serializer_payloads_free(like);
        serializer_payloads_free(json);
        return false;
    }
    size_t count = json->bounds.len / 2;
    ret->len = count;
    ret->ptr = calloc(count ? count : 1, sizeof(weir_plugin_host_result_list_u8_string_t));
    for (size_t i = 0; i < count; i++) {
        uint32_t start = json->bounds.ptr[2 * i], len = json->bounds.ptr[2 * i + 1];
        buffer_t line = {0};
        const char *why = encode_line(&schema->text, wanted, json->data.ptr + start, len, &line);
        if (why != NULL) {
            free(line.ptr);
            ret->ptr[i].is_err = true;
            set(&ret->ptr[i].val.err, why);
            continue;
        }
        ret->ptr[i].val.ok.ptr = line.ptr ? line.ptr : malloc(1);
        ret->ptr[i].val.ok.len = line.len;
    }
    serializer_schema_free(schema);
    serializer_payloads_free(like);
    serializer_payloads_free(json);
    return true;
}
