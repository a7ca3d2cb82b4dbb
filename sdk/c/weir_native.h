/*
 * weir_native.h: the C ABI of native plugins — shared libraries (a C .so,
 * a Rust cdylib) the broker loads with dlopen, for trusted hot code.
 *
 * A native plugin runs inside the broker's process, with no sandbox: it can
 * crash the broker, read its memory and reach the machine. The broker
 * therefore loads one only when `weir.plugin.native.enabled=true`. What
 * still applies: the time of every call is measured and a call that ran
 * past its `timeout-ms` counts as a failure (its answer is discarded, the
 * topic's on-error policy applies), answers are checked as WASM plugins'
 * are, and the same metrics are kept.
 *
 * The records are the WIT's packed-records (wit/weir-plugin.wit): one byte
 * buffer, six words per record (key offset, key length, value offset,
 * value length, first header, header count; a length of 0xffffffff is
 * null), one timestamp per record, four words per header. Everything the
 * broker passes is borrowed for the call only.
 *
 * Every native plugin exports:
 *   uint32_t weir_native_abi(void);          returns WEIR_NATIVE_ABI
 *   const char *weir_native_kind(void);      "partitioner", "produce-interceptor" or "fetch-interceptor"
 *   void weir_native_configure(const char *const *keys, const char *const *values, size_t count);
 *                                            (optional) its [[plugins]] config, once, at load
 * A partitioner exports:
 *   int32_t weir_native_partition(const weir_native_batch_t *batch, uint32_t *partitions,
 *                                 char *error, size_t error_cap);
 *       fills one partition per record; 0 on success, else a message in `error`.
 * An interceptor exports:
 *   int32_t weir_native_intercept(const weir_native_batch_t *batch, weir_native_rewrite_t *rewrite,
 *                                 char *error, size_t error_cap);
 *       WEIR_NATIVE_ACCEPT, WEIR_NATIVE_REWRITE (fills `rewrite`, whose buffers the plugin owns
 *       until the broker calls weir_native_free_rewrite), WEIR_NATIVE_REJECT (the message in
 *       `error` goes to the producer) or a negative value (a failure, explained in `error`).
 *   void weir_native_free_rewrite(weir_native_rewrite_t *rewrite);
 */
#ifndef WEIR_NATIVE_H
#define WEIR_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define WEIR_NATIVE_ABI 1

#define WEIR_NATIVE_ACCEPT 0
#define WEIR_NATIVE_REWRITE 1
#define WEIR_NATIVE_REJECT 2

typedef struct {
    const uint8_t *data;
    size_t data_len;
    const uint32_t *records; /* 6 words per record */
    size_t records_len;
    const int64_t *timestamps; /* one per record */
    size_t count;
    const uint32_t *headers; /* 4 words per header */
    size_t headers_len;
} weir_native_records_t;

typedef struct {
    const char *topic; /* not NUL-terminated */
    size_t topic_len;
    int32_t partition;
    uint32_t partition_count;
    const char *client_id; /* fetch interceptors; NULL when the client sent none */
    size_t client_id_len;
    weir_native_records_t records;
} weir_native_batch_t;

typedef struct {
    uint8_t *data;
    size_t data_len;
    uint32_t *records;
    size_t records_len;
    int64_t *timestamps;
    size_t count;
    uint32_t *headers;
    size_t headers_len;
    uint32_t *sources; /* count entries: the input record each replaces, increasing */
} weir_native_rewrite_t;

#endif
