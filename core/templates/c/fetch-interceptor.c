/*
 * {{name}}: a fetch interceptor. Consumers see only the records whose header
 * `tenant` equals the config value `tenant` (default "acme"); the others are
 * skipped, offsets kept. Change exports_fetch_interceptor_intercept to your
 * own rule.
 */
#include "fetch_interceptor.h"
#include "weir_plugin.h"

void exports_fetch_interceptor_intercept(fetch_interceptor_string_t *maybe_client_id,
                                         fetch_interceptor_record_batch_t *batch,
                                         fetch_interceptor_verdict_t *ret) {
    fetch_interceptor_string_t key, tenant;
    fetch_interceptor_string_set(&key, "tenant");
    bool configured = weir_plugin_host_config(&key, &tenant);
    weir_bytes_t wanted = configured ? (weir_bytes_t){tenant.ptr, tenant.len, false} : weir_cstr("acme");
    const weir_records_t *records = &batch->records;
    weir_rewrite_t rewrite = {0};
    bool dropped = false;
    for (size_t i = 0; i < weir_record_count(records); i++) {
        weir_bytes_t value;
        if (weir_record_header(records, i, "tenant", &value) && !value.is_null && value.len == wanted.len &&
            memcmp(value.ptr, wanted.ptr, wanted.len) == 0) {
            weir_rewrite_keep(&rewrite, records, i);
        } else {
            dropped = true;
        }
    }
    if (dropped) {
        ret->tag = FETCH_INTERCEPTOR_VERDICT_REWRITE;
        weir_rewrite_finish(&rewrite, &ret->val.rewrite);
    } else {
        ret->tag = FETCH_INTERCEPTOR_VERDICT_ACCEPT;
        weir_rewrite_discard(&rewrite);
    }
    if (configured) fetch_interceptor_string_free(&tenant);
    if (maybe_client_id) fetch_interceptor_string_free(maybe_client_id);
    fetch_interceptor_record_batch_free(batch);
}
