/*
 * {{name}}: a produce interceptor. It stamps every record with the header
 * `stamped-by: {{name}}` (the value can be changed with the config key
 * `stamp`) and refuses batches holding an empty value. Change
 * exports_produce_interceptor_intercept to your own rule.
 */
#include <stdio.h>

#include "produce_interceptor.h"
#include "weir_plugin.h"

void exports_produce_interceptor_intercept(produce_interceptor_record_batch_t *batch,
                                           produce_interceptor_verdict_t *ret) {
    produce_interceptor_string_t key, stamp;
    produce_interceptor_string_set(&key, "stamp");
    bool configured = weir_plugin_host_config(&key, &stamp);
    weir_bytes_t stamp_value = configured ? (weir_bytes_t){stamp.ptr, stamp.len, false} : weir_cstr("{{name}}");
    const weir_records_t *records = &batch->records;
    weir_rewrite_t rewrite = {0};
    size_t empty = 0;
    for (size_t i = 0; i < weir_record_count(records); i++) {
        weir_bytes_t value = weir_record_value(records, i);
        if (!value.is_null && value.len == 0) {
            /* Named, so the producer sees which records were refused, and why. */
            produce_interceptor_string_t reason;
            produce_interceptor_string_set(&reason, "empty value");
            weir_plugin_host_reject_record((uint32_t)i, &reason);
            empty++;
            continue;
        }
        weir_rewrite_keep(&rewrite, records, i);
        weir_rewrite_header(&rewrite, weir_cstr("stamped-by"), stamp_value);
    }
    if (empty > 0) {
        char message[64];
        snprintf(message, sizeof message, "%zu record(s) have an empty value", empty);
        ret->tag = PRODUCE_INTERCEPTOR_VERDICT_REJECT;
        produce_interceptor_string_dup(&ret->val.reject, message);
        weir_rewrite_discard(&rewrite);
    } else {
        ret->tag = PRODUCE_INTERCEPTOR_VERDICT_REWRITE;
        weir_rewrite_finish(&rewrite, &ret->val.rewrite);
    }
    if (configured) produce_interceptor_string_free(&stamp);
    produce_interceptor_record_batch_free(batch);
}
