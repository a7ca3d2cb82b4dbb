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
        // Values stored as plain JSON are masked here, as they are (the
        // common case, and the cheapest); others (Avro, Protobuf, framed
        // JSON) through typed access, and encoded back by the topic's
        // serializer.
        let mut plain: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut typed: Vec<(usize, String)> = Vec::new();
        for record in batch.records() {
            let i = record.index();
            if let Some(mut json) = record
                .value()
                .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
            {
                if mask_fields(&mut json, &fields, &mask) {
                    plain.push((i, serde_json::to_vec(&json).expect("JSON encodes")));
                }
                continue;
            }
            let Some(text) = record.field(Part::Value, "") else {
                continue;
            };
            let Ok(mut json) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if mask_fields(&mut json, &fields, &mask) {
                typed.push((i, json.to_string()));
            }
        }
        if plain.is_empty() && typed.is_empty() {
            return Verdict::Accept;
        }
        let encoded = if typed.is_empty() {
            Vec::new()
        } else {
            host::encode(Part::Value, &typed)
        };
        let refused: Vec<(usize, String)> = typed
            .iter()
            .zip(&encoded)
            .filter_map(|((i, _), e)| {
                e.as_ref()
                    .err()
                    .map(|why| (*i, format!("cannot mask: {why}")))
            })
            .collect();
        if encoded.len() != typed.len() {
            // Never store a value unmasked.
            return Verdict::Reject("redact: the host encoded the wrong number of values".into());
        }
        if !refused.is_empty() {
            let message = format!("redact: {} records cannot be masked", refused.len());
            return Verdict::RejectRecords(message, refused);
        }
        let mut values: Vec<(usize, Vec<u8>)> = plain;
        for ((i, _), bytes) in typed.iter().zip(encoded) {
            values.push((*i, bytes.expect("refused above")));
        }
        values.sort_by_key(|(i, _)| *i);
        let mut values = values.into_iter().peekable();
        let mut out = Rewrite::new();
        for (i, record) in batch.records().enumerate() {
            match values.next_if(|(j, _)| *j == i) {
                Some((_, value)) => {
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
