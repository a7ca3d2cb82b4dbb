//! `redact`: masks the fields named in config (`fields = "ssn,email"`) in
//! every record's value, at any depth, with `mask` (default "***"). The
//! value is read and written back with typed access (`host::field`,
//! `host::encode`): on a topic that binds a serializer it is decoded and
//! re-encoded by it with the record's schema, so Avro and Protobuf records
//! are masked as JSON ones are; otherwise it is read as JSON. A record
//! whose value does not decode passes unchanged; one whose masked value no
//! longer fits its schema (a number field cannot hold "***") is refused,
//! rather than stored unmasked.

use weir_plugin::host::{self, Part};
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
        // The masked values, as JSON, of the records that had a field to mask.
        let masked: Vec<(usize, String)> = batch
            .records()
            .filter_map(|record| {
                let text = record.field(Part::Value, "")?;
                let mut json: serde_json::Value = serde_json::from_str(&text).ok()?;
                mask_fields(&mut json, &fields, &mask).then(|| (record.index(), json.to_string()))
            })
            .collect();
        if masked.is_empty() {
            return Verdict::Accept;
        }
        let encoded = host::encode(Part::Value, &masked);
        let refused: Vec<(usize, String)> = masked
            .iter()
            .zip(&encoded)
            .filter_map(|((i, _), e)| {
                e.as_ref()
                    .err()
                    .map(|why| (*i, format!("cannot mask: {why}")))
            })
            .collect();
        if !refused.is_empty() {
            let message = format!("redact: {} records cannot be masked", refused.len());
            return Verdict::RejectRecords(message, refused);
        }
        let mut values = masked.iter().map(|(i, _)| *i).zip(encoded).peekable();
        let mut out = Rewrite::new();
        for (i, record) in batch.records().enumerate() {
            match values.next_if(|(j, _)| *j == i) {
                Some((_, Ok(value))) => {
                    let headers: Vec<_> = record.headers().map(|h| (h.name(), h.value())).collect();
                    out.push(i, &record, record.key(), Some(&value), headers);
                }
                _ => out.keep(i, &record),
            }
        }
        Verdict::Rewrite(out)
    }
}

weir_plugin::export_produce_interceptor!(Redact);
