//! `redact`: masks the JSON fields named in config (`fields = "ssn,email"`)
//! in every record's value, at any depth, with `mask` (default "***").
//! Values that are not JSON objects pass unchanged.

use weir_plugin::host;
use weir_plugin::interceptor::{Batch, ProduceInterceptor, Rewrite, Verdict};

struct Redact;

fn mask_fields(value: &mut serde_json::Value, fields: &[String], mask: &str) -> bool {
    let mut changed = false;
    match value {
        serde_json::Value::Object(map) => {
            for (name, inner) in map.iter_mut() {
                if fields.iter().any(|f| f == name) {
                    *inner = serde_json::Value::String(mask.to_string());
                    changed = true;
                } else {
                    changed |= mask_fields(inner, fields, mask);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for inner in items {
                changed |= mask_fields(inner, fields, mask);
            }
        }
        _ => {}
    }
    changed
}

impl ProduceInterceptor for Redact {
    fn intercept(batch: &Batch) -> Verdict {
        let fields: Vec<String> = host::config("fields")
            .unwrap_or_default()
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        let mask = host::config("mask").unwrap_or_else(|| "***".into());
        let mut out = Rewrite::new();
        let mut changed = false;
        for (i, record) in batch.records().enumerate() {
            let mut parsed = record
                .value()
                .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok());
            let masked = parsed
                .as_mut()
                .is_some_and(|json| mask_fields(json, &fields, &mask));
            match parsed {
                Some(json) if masked => {
                    let value = serde_json::to_vec(&json).expect("JSON encodes");
                    let headers: Vec<_> = record.headers().map(|h| (h.name(), h.value())).collect();
                    out.push(i, &record, record.key(), Some(&value), headers);
                    changed = true;
                }
                _ => out.keep(i, &record),
            }
        }
        if changed {
            Verdict::Rewrite(out)
        } else {
            Verdict::Accept
        }
    }
}

weir_plugin::export_produce_interceptor!(Redact);
