//! `json-validate`: values must be JSON. With `invalid = "reject"` (the
//! default) a batch holding a value that is not JSON is refused, naming the
//! record; with `invalid = "drop"` such records are dropped and the rest
//! appended. Null values (tombstones) are let through.

use weir_plugin::host;
use weir_plugin::interceptor::{Batch, ProduceInterceptor, Rewrite, Verdict};

struct JsonValidate;

impl ProduceInterceptor for JsonValidate {
    fn intercept(batch: &Batch) -> Verdict {
        let drop = host::config("invalid").as_deref() == Some("drop");
        let mut out = Rewrite::new();
        let mut dropped = false;
        for (i, record) in batch.records().enumerate() {
            let valid = record
                .value()
                .is_none_or(|v| serde_json::from_slice::<serde_json::Value>(v).is_ok());
            if valid {
                out.keep(i, &record);
            } else if drop {
                dropped = true;
            } else {
                return Verdict::Reject(format!("record {i} of the batch is not JSON"));
            }
        }
        if dropped {
            Verdict::Rewrite(out)
        } else {
            Verdict::Accept
        }
    }
}

weir_plugin::export_produce_interceptor!(JsonValidate);
