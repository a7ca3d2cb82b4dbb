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
        let mut invalid = Vec::new();
        for (i, record) in batch.records().enumerate() {
            let parsed = record
                .value()
                .map(serde_json::from_slice::<serde_json::Value>);
            match parsed {
                None | Some(Ok(_)) => out.keep(i, &record),
                Some(Err(_)) if drop => dropped = true,
                Some(Err(e)) => invalid.push((i, format!("not JSON: {e}"))),
            }
        }
        if !invalid.is_empty() {
            let first = invalid[0].0;
            let message = format!("record {first} of the batch is not JSON");
            return Verdict::RejectRecords(message, invalid);
        }
        if dropped {
            Verdict::Rewrite(out)
        } else {
            Verdict::Accept
        }
    }
}

weir_plugin::export_produce_interceptor!(JsonValidate);
