/*
 * {{name}}: a retention policy. A segment may go once every consumer group
 * reading the topic has committed past it, or once its newest record is
 * older than the config value `max-age-ms` (default 7 days), whichever
 * comes first. Change exports_retention_policy_deletable to your own rule.
 */
#include <stdlib.h>
#include <string.h>

#include "retention_policy.h"
#include "weir_plugin.h"

bool exports_retention_policy_deletable(retention_policy_partition_stats_t *stats,
                                        retention_policy_list_segment_info_t *segments, uint32_t *ret,
                                        retention_policy_string_t *err) {
    int64_t max_age = 7LL * 24 * 3600000;
    retention_policy_string_t key, value;
    retention_policy_string_set(&key, "max-age-ms");
    if (weir_plugin_host_config(&key, &value)) {
        char text[24] = {0};
        memcpy(text, value.ptr, value.len < sizeof text - 1 ? value.len : sizeof text - 1);
        max_age = strtoll(text, NULL, 10);
        retention_policy_string_free(&value);
    }
    uint32_t gone = 0;
    for (size_t i = 0; i < segments->len; i++) {
        const retention_policy_segment_info_t *s = &segments->ptr[i];
        bool read = stats->committed.is_some && s->last_offset < stats->committed.val;
        bool old = s->max_timestamp < stats->now_ms - max_age;
        if (!read && !old) break;
        gone++;
    }
    *ret = gone;
    retention_policy_partition_stats_free(stats);
    retention_policy_list_segment_info_free(segments);
    return true;
}
