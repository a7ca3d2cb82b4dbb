/*
 * {{name}}: a serializer for a custom format, CSV lines. A schema is a JSON
 * document registered with schemaType JSON that names the columns,
 * {"title": "orders", "columns": ["id", "customer", "total"]}; a payload is
 * valid when it is one line with exactly that many comma-separated fields.
 * Change check() to your own format's rules.
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
