/*
 * {{name}}: a partitioner. Keyed records go where the Java client would put
 * them (murmur2 of the key); records without a key stay in the partition the
 * producer chose. Change exports_partitioner_partition to your own rule.
 */
#include "partitioner.h"
#include "weir_plugin.h"

bool exports_partitioner_partition(partitioner_record_batch_t *batch, partitioner_list_u32_t *ret,
                                   partitioner_string_t *err) {
    uint32_t count = batch->partition_count;
    if (count == 0) {
        partitioner_string_dup(err, "the topic has no partitions");
        partitioner_record_batch_free(batch);
        return false;
    }
    const weir_records_t *records = &batch->records;
    size_t n = weir_record_count(records);
    uint32_t *partitions = malloc(n * sizeof(uint32_t) + 1);
    for (size_t i = 0; i < n; i++) {
        weir_bytes_t key = weir_record_key(records, i);
        partitions[i] = key.is_null ? (uint32_t)(batch->partition < 0 ? 0 : batch->partition) % count
                                    : (weir_murmur2(key.ptr, key.len) & 0x7fffffff) % count;
    }
    ret->ptr = partitions;
    ret->len = n;
    partitioner_record_batch_free(batch);
    return true;
}
