/*
 * A native partitioner in C: the Java client's murmur2 placement, as the
 * WASM standard plugin `murmur2`, loaded with dlopen (see
 * sdk/c/weir_native.h; the broker needs weir.plugin.native.enabled=true).
 *
 *   cc -O2 -shared -fPIC -I sdk/c examples/native/c/murmur2_native.c -o murmur2_native.so
 */
#include <stdio.h>
#include <string.h>

#include "weir_hash.h"
#include "weir_native.h"

uint32_t weir_native_abi(void) { return WEIR_NATIVE_ABI; }

const char *weir_native_kind(void) { return "partitioner"; }

int32_t weir_native_partition(const weir_native_batch_t *batch, uint32_t *partitions, char *error,
                              size_t error_cap) {
    if (batch->partition_count == 0) {
        snprintf(error, error_cap, "the topic has no partitions");
        return 1;
    }
    const weir_native_records_t *r = &batch->records;
    for (size_t i = 0; i < r->count; i++) {
        uint32_t key_offset = r->records[i * 6], key_len = r->records[i * 6 + 1];
        partitions[i] = key_len == 0xffffffffu
                            ? (uint32_t)(batch->partition < 0 ? 0 : batch->partition) % batch->partition_count
                            : (weir_murmur2(r->data + key_offset, key_len) & 0x7fffffff) % batch->partition_count;
    }
    return 0;
}
