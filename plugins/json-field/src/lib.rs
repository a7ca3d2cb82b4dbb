//! `json-field`: places a record by one field of its JSON value (config
//! `field`, a dotted path such as `customer.id`), hashed as the Java client
//! hashes keys: a string field by its UTF-8 bytes, any other JSON value by
//! its JSON text. So `{"customer":{"id":"c7"}}` lands where a Java producer
//! would put the key `c7`. A record whose value is not JSON or lacks the
//! field stays in the partition its producer chose.

use weir_plugin::hash::murmur2;
use weir_plugin::host;
use weir_plugin::partitioner::{Batch, Partitioner};

struct JsonField;

fn field_bytes(value: &[u8], path: &str) -> Option<Vec<u8>> {
    let json: serde_json::Value = serde_json::from_slice(value).ok()?;
    let field = path.split('.').try_fold(&json, |v, part| v.get(part))?;
    Some(match field {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    })
}

impl Partitioner for JsonField {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let path = host::config("field").ok_or("json-field needs a `field` in its config")?;
        let count = batch.partition_count();
        let addressed = batch.partition().max(0) as u32;
        Ok(batch
            .records()
            .map(|r| {
                r.value()
                    .and_then(|v| field_bytes(v, &path))
                    .map_or(addressed, |k| (murmur2(&k) & 0x7fff_ffff) % count)
            })
            .collect())
    }
}

weir_plugin::export_partitioner!(JsonField);
