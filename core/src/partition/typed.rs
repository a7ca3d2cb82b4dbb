//! Typed access to records for plugins (`host.field`, `host.encode`): a
//! field of a record's key or value by dotted path, whatever the topic's
//! format. A topic that binds a serializer plugin (`weir.value.serializer`,
//! `weir.key.serializer`) has its records decoded to JSON by that plugin,
//! with the registered schema each record's framing names; a topic without
//! one is read as JSON (after Confluent's 5-byte framing when the payload
//! has it). A batch is decoded lazily, at the first field asked of it, with
//! one serializer call per schema, and kept for the rest of the call.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::validation::{framed, Field, Serializer};
use crate::log::records::PackedRecords;
use crate::schema_registry::SchemaRegistry;

/// How a topic's keys and values are decoded.
#[derive(Default)]
pub struct Codecs {
    pub registry: Option<Arc<SchemaRegistry>>,
    pub key: Option<Arc<dyn Serializer>>,
    pub value: Option<Arc<dyn Serializer>>,
}

impl Codecs {
    pub fn serializer(&self, field: Field) -> Option<&Arc<dyn Serializer>> {
        match field {
            Field::Key => self.key.as_ref(),
            Field::Value => self.value.as_ref(),
        }
    }
}

/// The records a plugin call was given.
pub trait Source {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Record `index`'s key or value (None when null or out of range).
    fn payload(&self, index: usize, field: Field) -> Option<&[u8]>;
}

impl Source for PackedRecords {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn payload(&self, index: usize, field: Field) -> Option<&[u8]> {
        let r = self.records.get(index)?;
        let (offset, len) = match field {
            Field::Key => (r.key_offset, r.key_len),
            Field::Value => (r.value_offset, r.value_len),
        };
        let len = usize::try_from(len).ok()?;
        self.data.get(offset as usize..)?.get(..len)
    }
}

/// One plugin call's batch, with what has been decoded of it.
pub struct TypedBatch<S> {
    codecs: Arc<Codecs>,
    records: S,
    keys: Option<Vec<Option<Value>>>,
    values: Option<Vec<Option<Value>>>,
}

impl<S: Source> TypedBatch<S> {
    pub fn new(codecs: Arc<Codecs>, records: S) -> TypedBatch<S> {
        TypedBatch {
            codecs,
            records,
            keys: None,
            values: None,
        }
    }

    /// The JSON text of the field at `path` of record `index`'s key or value.
    pub fn field(&mut self, index: usize, field: Field, path: &str) -> Option<String> {
        // The whole of a JSON value is its own text: checked, not parsed
        // into a tree and printed again.
        if path.is_empty() && self.codecs.serializer(field).is_none() {
            let (text, _) = json_text(self.records.payload(index, field)?)?;
            return std::str::from_utf8(text).ok().map(str::to_string);
        }
        let decoded = match field {
            Field::Key => &mut self.keys,
            Field::Value => &mut self.values,
        };
        if decoded.is_none() {
            *decoded = Some(decode_all(&self.codecs, &self.records, field));
        }
        let root = decoded.as_ref()?.get(index)?.as_ref()?;
        let found = lookup(root, path)?;
        serde_json::to_string(found).ok()
    }

    /// Each (index, JSON text) encoded as that record's key or value is.
    pub fn encode(&self, field: Field, items: &[(usize, String)]) -> Vec<Result<Vec<u8>, String>> {
        match (self.codecs.serializer(field), &self.codecs.registry) {
            (Some(serializer), Some(registry)) => {
                encode_with(&**serializer, registry, &self.records, field, items)
            }
            _ => items
                .iter()
                .map(|(i, json)| encode_json(self.records.payload(*i, field), json))
                .collect(),
        }
    }
}

/// `path`'s value in `root`: object members by name, array elements by
/// number; the empty path is `root`.
pub fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(root);
    }
    path.split('.').try_fold(root, |v, part| match v {
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        other => other.get(part),
    })
}

/// Whether `bytes` are one JSON document (checked without building it).
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// A JSON payload's text without its framing (if it has one), and the
/// framing.
fn json_text(payload: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if is_json(payload) {
        return Some((payload, None));
    }
    if payload.len() >= 5 && payload[0] == 0 && is_json(&payload[5..]) {
        return Some((&payload[5..], Some(&payload[..5])));
    }
    None
}

/// A JSON payload without its framing (if it has one), and the framing.
fn json_payload(payload: &[u8]) -> Option<(Value, Option<&[u8]>)> {
    if let Ok(value) = serde_json::from_slice(payload) {
        return Some((value, None));
    }
    if payload.len() >= 5 && payload[0] == 0 {
        let value = serde_json::from_slice(&payload[5..]).ok()?;
        return Some((value, Some(&payload[..5])));
    }
    None
}

fn decode_all(codecs: &Codecs, records: &impl Source, field: Field) -> Vec<Option<Value>> {
    match (codecs.serializer(field), &codecs.registry) {
        (Some(serializer), Some(registry)) => {
            serializer_texts(&**serializer, registry, records, field)
                .into_iter()
                .map(|text| text.and_then(|t| serde_json::from_str(&t).ok()))
                .collect()
        }
        _ => (0..records.len())
            .map(|i| {
                records
                    .payload(i, field)
                    .and_then(json_payload)
                    .map(|(v, _)| v)
            })
            .collect(),
    }
}

/// Each record's key or value as JSON text, for a view: Some(text) where
/// it decodes to something other than what is stored, None to send it as
/// stored (it does not decode, or is plain JSON already).
pub fn to_json(codecs: &Codecs, records: &impl Source, field: Field) -> Vec<Option<Vec<u8>>> {
    match (codecs.serializer(field), &codecs.registry) {
        (Some(serializer), Some(registry)) => {
            serializer_texts(&**serializer, registry, records, field)
                .into_iter()
                .map(|text| text.map(String::into_bytes))
                .collect()
        }
        // Framed JSON loses its framing; anything else is sent as stored.
        _ => (0..records.len())
            .map(|i| match json_text(records.payload(i, field)?)? {
                (body, Some(_)) => Some(body.to_vec()),
                (_, None) => None,
            })
            .collect(),
    }
}

/// Each record's key or value decoded to JSON text by `serializer`, with
/// one call per schema the batch's framing names.
fn serializer_texts(
    serializer: &dyn Serializer,
    registry: &SchemaRegistry,
    records: &impl Source,
    field: Field,
) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = vec![None; records.len()];
    for (id, payloads) in by_schema(records, field) {
        let Some(info) = registry.schema_info(id) else {
            continue;
        };
        let slices: Vec<&[u8]> = payloads.iter().map(|(_, p)| *p).collect();
        let Ok(texts) = serializer.decode(&info.schema, &slices) else {
            continue;
        };
        for ((i, _), text) in payloads.iter().zip(texts) {
            out[*i] = text;
        }
    }
    out
}

/// The unframed payloads of `indexes`, by the schema id their framing
/// names (records without framing are left out).
fn by_schema(records: &impl Source, field: Field) -> BTreeMap<i32, Vec<(usize, &[u8])>> {
    let mut grouped: BTreeMap<i32, Vec<(usize, &[u8])>> = BTreeMap::new();
    for i in 0..records.len() {
        if let Some(payload) = records.payload(i, field) {
            if let Ok(id) = framed(field, payload) {
                grouped.entry(id).or_default().push((i, &payload[5..]));
            }
        }
    }
    grouped
}

fn encode_with(
    serializer: &dyn Serializer,
    registry: &SchemaRegistry,
    records: &impl Source,
    field: Field,
    items: &[(usize, String)],
) -> Vec<Result<Vec<u8>, String>> {
    let mut out: Vec<Result<Vec<u8>, String>> = items
        .iter()
        .map(|(i, _)| {
            Err(format!(
                "record {i}'s {} has no schema registry framing",
                field.name()
            ))
        })
        .collect();
    // Items (their places in `items`) by the schema of the record each
    // replaces, with that record's unframed payload.
    let mut groups: BTreeMap<i32, Vec<(usize, &[u8])>> = BTreeMap::new();
    for (k, (i, _)) in items.iter().enumerate() {
        if let Some(payload) = records.payload(*i, field) {
            if let Ok(id) = framed(field, payload) {
                groups.entry(id).or_default().push((k, &payload[5..]));
            }
        }
    }
    for (id, group) in groups {
        let Some(info) = registry.schema_info(id) else {
            for (k, _) in group {
                out[k] = Err(format!("schema {id} is not registered"));
            }
            continue;
        };
        let like: Vec<&[u8]> = group.iter().map(|(_, p)| *p).collect();
        let json: Vec<&[u8]> = group.iter().map(|(k, _)| items[*k].1.as_bytes()).collect();
        let answers = match serializer.encode(&info.schema, &like, &json) {
            Ok(answers) => answers,
            Err(failure) => {
                for (k, _) in group {
                    out[k] = Err(format!("serializer {} {failure}", serializer.name()));
                }
                continue;
            }
        };
        for ((k, _), answer) in group.into_iter().zip(answers) {
            out[k] = answer.map(|payload| {
                let mut framed = Vec::with_capacity(5 + payload.len());
                framed.push(0);
                framed.extend_from_slice(&id.to_be_bytes());
                framed.extend_from_slice(&payload);
                framed
            });
        }
    }
    out
}

/// JSON text as the bytes of a topic without a serializer: framed as the
/// record it replaces was, when that was framed JSON.
fn encode_json(original: Option<&[u8]>, json: &str) -> Result<Vec<u8>, String> {
    serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(|e| format!("not JSON: {e}"))?;
    let frame = original.and_then(json_text).and_then(|(_, frame)| frame);
    let mut bytes = frame.map(<[u8]>::to_vec).unwrap_or_default();
    bytes.extend_from_slice(json.as_bytes());
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::partitioner::PluginFailure;
    use crate::partition::validation::PluginSchema;

    struct Records(Vec<Option<Vec<u8>>>);

    impl Source for Records {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn payload(&self, index: usize, field: Field) -> Option<&[u8]> {
            match field {
                Field::Key => None,
                Field::Value => self.0.get(index)?.as_deref(),
            }
        }
    }

    /// "Decodes" `a=b` payloads to {"a":"b"}; encodes back.
    struct Pairs;

    impl Serializer for Pairs {
        fn name(&self) -> &str {
            "pairs"
        }
        fn validate(
            &self,
            _: &PluginSchema,
            p: &[&[u8]],
        ) -> Result<Vec<Option<String>>, PluginFailure> {
            Ok(vec![None; p.len()])
        }
        fn decode(
            &self,
            _: &PluginSchema,
            p: &[&[u8]],
        ) -> Result<Vec<Option<String>>, PluginFailure> {
            Ok(p.iter()
                .map(|p| {
                    let text = std::str::from_utf8(p).ok()?;
                    let (k, v) = text.split_once('=')?;
                    Some(serde_json::json!({ k: v }).to_string())
                })
                .collect())
        }
        fn encode(
            &self,
            _: &PluginSchema,
            _: &[&[u8]],
            json: &[&[u8]],
        ) -> Result<Vec<Result<Vec<u8>, String>>, PluginFailure> {
            Ok(json
                .iter()
                .map(|j| {
                    let v: serde_json::Map<String, Value> =
                        serde_json::from_slice(j).map_err(|e| e.to_string())?;
                    let (k, v) = v.into_iter().next().ok_or("empty")?;
                    Ok(format!("{k}={}", v.as_str().ok_or("not a string")?).into_bytes())
                })
                .collect())
        }
    }

    fn framed(id: i32, payload: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0];
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(payload);
        Some(out)
    }

    #[test]
    fn reads_json_topics_with_and_without_framing() {
        let records = Records(vec![
            Some(br#"{"customer":{"id":"c7"},"items":[1,2]}"#.to_vec()),
            framed(3, br#"{"customer":{"id":7}}"#),
            Some(b"not json".to_vec()),
            None,
        ]);
        let mut batch = TypedBatch::new(Arc::new(Codecs::default()), records);
        assert_eq!(
            batch.field(0, Field::Value, "customer.id").as_deref(),
            Some("\"c7\"")
        );
        assert_eq!(
            batch.field(0, Field::Value, "items.1").as_deref(),
            Some("2")
        );
        assert_eq!(
            batch.field(1, Field::Value, "customer.id").as_deref(),
            Some("7")
        );
        assert_eq!(batch.field(1, Field::Value, "customer.name"), None);
        assert_eq!(batch.field(2, Field::Value, ""), None);
        assert_eq!(batch.field(3, Field::Value, ""), None);
        assert_eq!(batch.field(9, Field::Value, ""), None);
        assert_eq!(batch.field(0, Field::Key, ""), None);
        // Encoding keeps the framing of the record replaced.
        let encoded = batch.encode(
            Field::Value,
            &[(1, "{}".into()), (0, "[]".into()), (2, "{".into())],
        );
        assert_eq!(
            encoded[0].as_deref().unwrap(),
            &framed(3, b"{}").unwrap()[..]
        );
        assert_eq!(encoded[1].as_deref().unwrap(), b"[]");
        assert!(encoded[2].as_ref().unwrap_err().starts_with("not JSON"));
    }

    fn registry() -> Arc<SchemaRegistry> {
        Arc::new(SchemaRegistry::with_schemas(&[(
            "t-value",
            1,
            "AVRO",
            "\"string\"",
        )]))
    }

    #[test]
    fn decodes_and_encodes_through_the_serializer() {
        let records = Records(vec![
            framed(1, b"a=b"),
            framed(1, b"junk"),
            Some(b"a=c".to_vec()),
            framed(2, b"a=d"),
        ]);
        let codecs = Codecs {
            registry: Some(registry()),
            key: None,
            value: Some(Arc::new(Pairs)),
        };
        let mut batch = TypedBatch::new(Arc::new(codecs), records);
        assert_eq!(batch.field(0, Field::Value, "a").as_deref(), Some("\"b\""));
        assert_eq!(batch.field(1, Field::Value, "a"), None);
        // Unframed, and framed with an unknown id: nothing to decode with.
        assert_eq!(batch.field(2, Field::Value, "a"), None);
        assert_eq!(batch.field(3, Field::Value, "a"), None);
        let encoded = batch.encode(
            Field::Value,
            &[
                (0, r#"{"a":"z"}"#.into()),
                (0, r#"{"a":1}"#.into()),
                (2, "{}".into()),
                (3, "{}".into()),
            ],
        );
        assert_eq!(
            encoded[0].as_deref().unwrap(),
            &framed(1, b"a=z").unwrap()[..]
        );
        assert_eq!(encoded[1].as_ref().unwrap_err(), "not a string");
        assert!(encoded[2]
            .as_ref()
            .unwrap_err()
            .contains("no schema registry framing"));
        assert_eq!(
            encoded[3].as_ref().unwrap_err(),
            "schema 2 is not registered"
        );
    }
}
