//! `json-field`: places a record by one field of its value (config
//! `field`, a dotted path such as `customer.id`), hashed as the Java client
//! hashes keys: a string field by its UTF-8 bytes, any other value by its
//! JSON text. So `{"customer":{"id":"c7"}}` lands where a Java producer
//! would put the key `c7`. The field is read with typed access
//! (`host::field`): on a topic that binds a serializer the value is decoded
//! by it, so Avro, Protobuf and JSON records with the same field land
//! alike; otherwise the value is read as JSON. A record whose value lacks
//! the field, or does not decode, stays in the partition its producer chose.

use weir_plugin::hash::murmur2;
use weir_plugin::host::{self, Part};
use weir_plugin::partitioner::{Batch, Partitioner};

struct JsonField;

/// The bytes a field is hashed by.
fn field_bytes(field: &serde_json::Value) -> Vec<u8> {
    match field {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// `path`'s field of `json`, as `host::field` reads paths.
fn lookup<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(json, |v, part| match v {
        serde_json::Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        other => other.get(part),
    })
}

/// The key a record is placed by: a value stored as plain JSON is read
/// here (the cheapest way); others (Avro, Protobuf, framed JSON) through
/// typed access.
fn key_of(record: &weir_plugin::Record<'_>, path: &str) -> Option<Vec<u8>> {
    if let Some(json) = record
        .value()
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
    {
        return lookup(&json, path).map(field_bytes);
    }
    let text = record.field(Part::Value, path)?;
    Some(field_bytes(&serde_json::from_str(&text).ok()?))
}

impl Partitioner for JsonField {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let path = host::config("field").ok_or("json-field needs a `field` in its config")?;
        let count = batch.partition_count();
        let addressed = batch.partition().max(0) as u32;
        Ok(batch
            .records()
            .map(|r| key_of(&r, &path).map_or(addressed, |k| (murmur2(&k) & 0x7fff_ffff) % count))
            .collect())
    }
}

weir_plugin::export_partitioner!(JsonField);
