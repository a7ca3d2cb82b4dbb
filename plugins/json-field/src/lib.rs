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

/// The bytes a field's JSON text is hashed by.
fn field_bytes(json: String) -> Vec<u8> {
    match serde_json::from_str::<String>(&json) {
        Ok(s) => s.into_bytes(),
        Err(_) => json.into_bytes(),
    }
}

impl Partitioner for JsonField {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let path = host::config("field").ok_or("json-field needs a `field` in its config")?;
        let count = batch.partition_count();
        let addressed = batch.partition().max(0) as u32;
        Ok(batch
            .records()
            .map(|r| {
                r.field(Part::Value, &path)
                    .map(field_bytes)
                    .map_or(addressed, |k| (murmur2(&k) & 0x7fff_ffff) % count)
            })
            .collect())
    }
}

weir_plugin::export_partitioner!(JsonField);
