/*
 * weir_plugin.h: write Weir plugins in C (or Zig, through @cImport).
 *
 * Include the bindings of your plugin's world first (bindings/partitioner.h,
 * bindings/produce_interceptor.h or bindings/fetch_interceptor.h, generated
 * from wit/weir-plugin.wit, which documents every type and function), then
 * this header. It reads the packed records the broker passes
 * (`weir_plugin_types_packed_records_t`: one byte buffer plus flat index
 * words) without copies, builds an interceptor's rewrite, and has the key
 * hashes of the Java client (murmur2) and librdkafka (crc32).
 *
 *   size_t n = weir_record_count(&batch->records);
 *   weir_bytes_t key = weir_record_key(&batch->records, i);
 *   if (!key.is_null) ... key.ptr, key.len ...
 *
 * Memory: an export owns its arguments (free them with the bindings'
 * `*_free` functions when done), and lists it returns must come from
 * malloc: the bindings free them after the broker has read them.
 */
#ifndef WEIR_PLUGIN_H
#define WEIR_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir_hash.h"

/* Words per record and per header in packed-records (see the WIT). */
#define WEIR_RECORD_WORDS 6
#define WEIR_HEADER_WORDS 4
#define WEIR_NULL_LEN 0xffffffffu

/* A slice of the batch's data; is_null for a null key or value. */
typedef struct {
    const uint8_t *ptr;
    size_t len;
    bool is_null;
} weir_bytes_t;

typedef weir_plugin_types_packed_records_t weir_records_t;

static inline weir_bytes_t weir__slice(const weir_records_t *p, uint32_t offset, uint32_t len) {
    weir_bytes_t b = {NULL, 0, len == WEIR_NULL_LEN};
    if (!b.is_null) {
        b.ptr = p->data.ptr + offset;
        b.len = len;
    }
    return b;
}

static inline size_t weir_record_count(const weir_records_t *p) { return p->timestamps.len; }

static inline const uint32_t *weir__record(const weir_records_t *p, size_t i) {
    return p->records.ptr + i * WEIR_RECORD_WORDS;
}

static inline weir_bytes_t weir_record_key(const weir_records_t *p, size_t i) {
    return weir__slice(p, weir__record(p, i)[0], weir__record(p, i)[1]);
}

static inline weir_bytes_t weir_record_value(const weir_records_t *p, size_t i) {
    return weir__slice(p, weir__record(p, i)[2], weir__record(p, i)[3]);
}

/* Milliseconds since the Unix epoch. */
static inline int64_t weir_record_timestamp(const weir_records_t *p, size_t i) {
    return p->timestamps.ptr[i];
}

static inline size_t weir_record_header_count(const weir_records_t *p, size_t i) {
    return weir__record(p, i)[5];
}

static inline const uint32_t *weir__header(const weir_records_t *p, size_t i, size_t h) {
    return p->headers.ptr + (weir__record(p, i)[4] + h) * WEIR_HEADER_WORDS;
}

static inline weir_bytes_t weir_record_header_name(const weir_records_t *p, size_t i, size_t h) {
    return weir__slice(p, weir__header(p, i, h)[0], weir__header(p, i, h)[1]);
}

static inline weir_bytes_t weir_record_header_value(const weir_records_t *p, size_t i, size_t h) {
    return weir__slice(p, weir__header(p, i, h)[2], weir__header(p, i, h)[3]);
}

/* The value of record i's first header called `name`; false if it has none. */
static inline bool weir_record_header(const weir_records_t *p, size_t i, const char *name, weir_bytes_t *value) {
    size_t len = strlen(name);
    for (size_t h = 0; h < weir_record_header_count(p, i); h++) {
        weir_bytes_t n = weir_record_header_name(p, i, h);
        if (n.len == len && memcmp(n.ptr, name, len) == 0) {
            *value = weir_record_header_value(p, i, h);
            return true;
        }
    }
    return false;
}

static inline bool weir_bytes_eq(weir_bytes_t b, const char *s) {
    size_t len = strlen(s);
    return !b.is_null && b.len == len && memcmp(b.ptr, s, len) == 0;
}

/* An interceptor's answer, built record by record: each kept record names
 * the input record it replaces (its index, increasing). */
typedef struct {
    uint8_t *data;
    size_t data_len, data_cap;
    uint32_t *records;
    size_t records_len, records_cap;
    int64_t *timestamps;
    uint32_t *headers;
    size_t headers_len, headers_cap;
    uint32_t *sources;
} weir_rewrite_t;

static inline void *weir__grow(void *ptr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return ptr;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need) cap2 *= 2;
    *cap = cap2;
    void *grown = realloc(ptr, cap2 * size);
    if (!grown) abort();
    return grown;
}

static inline uint32_t weir__put(weir_rewrite_t *rw, weir_bytes_t b, uint32_t *len) {
    uint32_t offset = (uint32_t)rw->data_len;
    *len = b.is_null ? WEIR_NULL_LEN : (uint32_t)b.len;
    if (!b.is_null && b.len) {
        rw->data = weir__grow(rw->data, &rw->data_cap, rw->data_len + b.len, 1);
        memcpy(rw->data + rw->data_len, b.ptr, b.len);
        rw->data_len += b.len;
    }
    return offset;
}

/* Starts a record replacing input `source` with this key and value; add its
 * headers with weir_rewrite_header, then start the next record. */
static inline void weir_rewrite_record(weir_rewrite_t *rw, size_t source, int64_t timestamp, weir_bytes_t key,
                                       weir_bytes_t value) {
    size_t n = rw->records_len / WEIR_RECORD_WORDS;
    size_t cap = rw->records_cap;
    rw->records = weir__grow(rw->records, &rw->records_cap, rw->records_len + WEIR_RECORD_WORDS, sizeof(uint32_t));
    if (rw->records_cap != cap) {
        size_t slots = rw->records_cap / WEIR_RECORD_WORDS + 1;
        rw->timestamps = realloc(rw->timestamps, slots * sizeof(int64_t));
        rw->sources = realloc(rw->sources, slots * sizeof(uint32_t));
        if (!rw->timestamps || !rw->sources) abort();
    }
    uint32_t *w = rw->records + rw->records_len;
    w[0] = weir__put(rw, key, &w[1]);
    w[2] = weir__put(rw, value, &w[3]);
    w[4] = (uint32_t)(rw->headers_len / WEIR_HEADER_WORDS);
    w[5] = 0;
    rw->records_len += WEIR_RECORD_WORDS;
    rw->timestamps[n] = timestamp;
    rw->sources[n] = (uint32_t)source;
}

/* Adds a header to the record started last. */
static inline void weir_rewrite_header(weir_rewrite_t *rw, weir_bytes_t name, weir_bytes_t value) {
    rw->headers = weir__grow(rw->headers, &rw->headers_cap, rw->headers_len + WEIR_HEADER_WORDS, sizeof(uint32_t));
    uint32_t *h = rw->headers + rw->headers_len;
    h[0] = weir__put(rw, name, &h[1]);
    h[2] = weir__put(rw, value, &h[3]);
    rw->headers_len += WEIR_HEADER_WORDS;
    rw->records[rw->records_len - WEIR_RECORD_WORDS + 5] += 1;
}

/* Keeps input record i of `p` as it is. */
static inline void weir_rewrite_keep(weir_rewrite_t *rw, const weir_records_t *p, size_t i) {
    weir_rewrite_record(rw, i, weir_record_timestamp(p, i), weir_record_key(p, i), weir_record_value(p, i));
    for (size_t h = 0; h < weir_record_header_count(p, i); h++)
        weir_rewrite_header(rw, weir_record_header_name(p, i, h), weir_record_header_value(p, i, h));
}

static inline weir_bytes_t weir_cstr(const char *s) {
    weir_bytes_t b = {(const uint8_t *)s, strlen(s), false};
    return b;
}

/* Hands the rewrite to the bindings' `rewritten` (which then owns it). */
static inline void weir_rewrite_finish(weir_rewrite_t *rw, weir_plugin_types_rewritten_t *out) {
    size_t n = rw->records_len / WEIR_RECORD_WORDS;
    out->records.data.ptr = rw->data;
    out->records.data.len = rw->data_len;
    out->records.records.ptr = rw->records;
    out->records.records.len = rw->records_len;
    out->records.timestamps.ptr = rw->timestamps;
    out->records.timestamps.len = n;
    out->records.headers.ptr = rw->headers;
    out->records.headers.len = rw->headers_len;
    out->sources.ptr = rw->sources;
    out->sources.len = n;
    memset(rw, 0, sizeof *rw);
}

/* Frees a rewrite that is not handed over. */
static inline void weir_rewrite_discard(weir_rewrite_t *rw) {
    free(rw->data);
    free(rw->records);
    free(rw->timestamps);
    free(rw->headers);
    free(rw->sources);
    memset(rw, 0, sizeof *rw);
}

#endif
