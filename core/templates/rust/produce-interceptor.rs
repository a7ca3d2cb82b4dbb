//! {{name}}: a produce interceptor. It stamps every record with the header
//! `stamped-by: {{name}}` (the value can be changed with the config key
//! `stamp`) and refuses batches holding an empty value. Change `intercept`
//! to your own rule.

use weir_plugin::host;
use weir_plugin::interceptor::{Batch, ProduceInterceptor, Rewrite, Verdict};

struct Plugin;

impl ProduceInterceptor for Plugin {
    fn intercept(batch: &Batch) -> Verdict {
        let stamp = host::config("stamp").unwrap_or_else(|| "{{name}}".to_string());
        let mut out = Rewrite::new();
        let mut empty = Vec::new();
        for (i, record) in batch.records().enumerate() {
            if record.value().is_some_and(|v| v.is_empty()) {
                empty.push((i, "empty value".to_string()));
                continue;
            }
            let mut headers: Vec<(&[u8], Option<&[u8]>)> =
                record.headers().map(|h| (h.name(), h.value())).collect();
            headers.push((b"stamped-by", Some(stamp.as_bytes())));
            out.push(i, &record, record.key(), record.value(), headers);
        }
        if !empty.is_empty() {
            // The producer sees which records were refused, and why.
            let message = format!("{} record(s) have an empty value", empty.len());
            return Verdict::RejectRecords(message, empty);
        }
        Verdict::Rewrite(out)
    }
}

weir_plugin::export_produce_interceptor!(Plugin);
