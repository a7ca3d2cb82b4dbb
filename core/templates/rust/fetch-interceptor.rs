//! {{name}}: a fetch interceptor. Consumers see only the records whose
//! header `tenant` equals the config value `tenant` (default "acme"); the
//! others are skipped, offsets kept. Change `intercept` to your own rule.

use weir_plugin::fetch::{Batch, FetchInterceptor, Rewrite, Verdict};
use weir_plugin::host;

struct Plugin;

impl FetchInterceptor for Plugin {
    fn intercept(_client_id: Option<&str>, batch: &Batch) -> Verdict {
        let tenant = host::config("tenant").unwrap_or_else(|| "acme".to_string());
        let mut out = Rewrite::new();
        let mut dropped = false;
        for (i, record) in batch.records().enumerate() {
            if record.header("tenant").and_then(|h| h.value()) == Some(tenant.as_bytes()) {
                out.keep(i, &record);
            } else {
                dropped = true;
            }
        }
        if dropped {
            Verdict::Rewrite(out)
        } else {
            Verdict::Accept
        }
    }
}

weir_plugin::export_fetch_interceptor!(Plugin);
