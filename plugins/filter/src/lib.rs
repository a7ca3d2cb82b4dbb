//! `filter`: a fetch interceptor that lets a consumer see only the records
//! that match, by header or by JSON field of the value:
//!
//! - `header = "tenant"`, `equals = "acme"`: keep records with a header
//!   `tenant` whose value is `acme`;
//! - `field = "order.region"`, `equals = "eu"`: keep records whose value
//!   has that (dotted) field equal to `eu` (a string, or the JSON text of a
//!   number or boolean). The field is read with typed access: decoded by
//!   the topic's serializer when it binds one (Avro, Protobuf, JSON
//!   Schema), else read as JSON.
//!
//! Everything else is dropped from what the consumer receives; offsets are
//! kept, and the stored log is untouched.

use weir_plugin::fetch::{Batch, FetchInterceptor, Record, Rewrite, Verdict};
use weir_plugin::host::{self, Part};

struct Filter;

/// `path`'s field of `json`, as `host::field` reads paths.
fn lookup<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(json, |v, part| match v {
        serde_json::Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        other => other.get(part),
    })
}

fn matches(record: &Record<'_>, header: Option<&str>, field: Option<&str>, equals: &str) -> bool {
    if let Some(name) = header {
        return record
            .headers()
            .any(|h| h.name() == name.as_bytes() && h.value() == Some(equals.as_bytes()));
    }
    let Some(path) = field else {
        return true;
    };
    // A value stored as plain JSON is read here (the cheapest way);
    // others (Avro, Protobuf, framed JSON) through typed access.
    let found = match record
        .value()
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
    {
        Some(json) => lookup(&json, path).cloned(),
        None => record
            .field(Part::Value, path)
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok()),
    };
    let Some(found) = found else {
        return false;
    };
    match found {
        serde_json::Value::String(s) => s == equals,
        other => serde_json::from_str::<serde_json::Value>(equals).ok() == Some(other),
    }
}

impl FetchInterceptor for Filter {
    fn intercept(_client_id: Option<&str>, batch: &Batch) -> Verdict {
        let header = host::config("header");
        let field = host::config("field");
        let equals = host::config("equals").unwrap_or_default();
        let mut out = Rewrite::new();
        let mut dropped = false;
        for (i, record) in batch.records().enumerate() {
            if matches(&record, header.as_deref(), field.as_deref(), &equals) {
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

weir_plugin::export_fetch_interceptor!(Filter);
