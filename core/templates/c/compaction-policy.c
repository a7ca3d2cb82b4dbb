/*
 * {{name}}: a compaction policy. It keeps the newest `n` records of each key
 * (the config value `n`, default 2) instead of only the latest; a tombstone
 * goes once its batch's delete horizon has passed, as in Kafka; records without a key
 * stay. Change exports_compaction_policy_keep to your own rule.
 */
#include <stdlib.h>
#include <string.h>

#include "compaction_policy.h"
#include "weir_plugin.h"

bool exports_compaction_policy_keep(compaction_policy_compaction_batch_t *batch, compaction_policy_list_bool_t *ret,
                                    compaction_policy_string_t *err) {
    uint32_t n = 2;
    compaction_policy_string_t key, value;
    compaction_policy_string_set(&key, "n");
    if (weir_plugin_host_config(&key, &value)) {
        char text[16] = {0};
        memcpy(text, value.ptr, value.len < sizeof text - 1 ? value.len : sizeof text - 1);
        n = (uint32_t)strtoul(text, NULL, 10);
        compaction_policy_string_free(&value);
    }
    const weir_records_t *records = &batch->records;
    const weir_plugin_types_candidates_t *c = &batch->candidates;
    size_t count = weir_record_count(records);
    /* Set by the first clean that kept this batch's tombstones. */
    bool tombstones_expired = batch->delete_horizon.is_some && batch->now_ms >= batch->delete_horizon.val;
    ret->ptr = malloc(count ? count : 1);
    ret->len = count;
    for (size_t i = 0; i < count; i++) {
        bool expired_tombstone = weir_record_value(records, i).is_null && tombstones_expired;
        ret->ptr[i] = c->latest_offsets.ptr[i] < 0 || (c->newer.ptr[i] < n && !expired_tombstone);
    }
    compaction_policy_compaction_batch_free(batch);
    return true;
}
