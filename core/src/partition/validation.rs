//! Broker-side schema validation of produced records: for a topic with
//! `weir.value.schema.validation` (or `weir.key.schema.validation`) on, each
//! record's value (or key) must carry Confluent's framing (magic byte 0 and
//! a 4-byte schema id), the id must be registered in the built-in registry
//! under the subject the topic's subject name strategy names, and, with a
//! serializer plugin bound (`weir.value.serializer`), the payload must be a
//! valid instance of that schema. A batch with an invalid record is refused
//! whole with INVALID_RECORD and one KIP-467 error per invalid record; null
//! keys and values (tombstones) are not checked.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::dead_letter::DeadLetter;
use super::interceptor::{codec, rewrite_batches};
use super::partitioner::{decode, keep_identity_only, pack, OnError, PluginFailure};
use crate::log::records::PackedRecords;
use crate::protocol::error::{ApiError, ResponseError};
use crate::schema_registry::{SchemaInfo, SchemaRegistry};

static REFUSALS_LOGGED: crate::log::metrics::LogLimiter = crate::log::metrics::LogLimiter::new();

/// A schema as a serializer plugin is given it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSchema {
    pub id: i32,
    pub schema_type: String,
    pub text: String,
    /// (name, text) of what it references, transitively.
    pub references: Vec<(String, String)>,
}

/// A serializer plugin, as validation calls it.
pub trait Serializer: Send + Sync {
    fn name(&self) -> &str;
    /// One answer per payload: None when valid, else why not.
    fn validate(
        &self,
        schema: &PluginSchema,
        payloads: &[&[u8]],
    ) -> Result<Vec<Option<String>>, PluginFailure>;
    /// Each payload as JSON text, None where it does not decode.
    fn decode(
        &self,
        schema: &PluginSchema,
        payloads: &[&[u8]],
    ) -> Result<Vec<Option<String>>, PluginFailure>;
    /// Each JSON text as a payload of `schema` (unframed), or why not;
    /// `like[i]` is the payload `json[i]` was decoded from.
    fn encode(
        &self,
        schema: &PluginSchema,
        like: &[&[u8]],
        json: &[&[u8]],
    ) -> Result<Vec<Result<Vec<u8>, String>>, PluginFailure>;
    /// Told when its verdicts refused a batch (counted in its metrics).
    fn refused(&self) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Key,
    Value,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Key => "key",
            Field::Value => "value",
        }
    }
}

/// How a record's subject is named (Confluent's subject name strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `<topic>-key` / `<topic>-value`.
    TopicName,
    /// The schema's record name.
    RecordName,
    /// `<topic>-<record name>`.
    TopicRecordName,
}

impl Strategy {
    /// From a topic config: the short name or Confluent's Java class name.
    pub fn from_config(value: &str) -> Strategy {
        match value.rsplit('.').next().unwrap_or(value) {
            "RecordNameStrategy" => Strategy::RecordName,
            "TopicRecordNameStrategy" => Strategy::TopicRecordName,
            _ => Strategy::TopicName,
        }
    }
}

/// One field of a topic's records to check.
pub struct Check {
    pub field: Field,
    pub strategy: Strategy,
    /// The serializer checking payloads, when the topic binds one: its
    /// name, and the plugin when loaded.
    pub serializer: Option<(String, Option<Arc<dyn Serializer>>)>,
}

/// Checks every batch of `bytes`; batches a serializer failed on go to
/// `dead` when `on_error` says so (and are kept with their identity only).
pub fn validate<'a>(
    checks: &[Check],
    registry: &SchemaRegistry,
    on_error: OnError,
    topic: &str,
    bytes: &'a [u8],
    dead: &mut Vec<DeadLetter>,
) -> Result<Cow<'a, [u8]>, ApiError> {
    rewrite_batches(bytes, |header, raw| {
        let (records, _) = pack(raw, header)?;
        match check_batch(checks, registry, on_error, topic, &records)? {
            Ok(()) => Ok(None),
            Err((plugin, error)) => {
                dead.push(DeadLetter {
                    plugin,
                    error,
                    records: decode(raw)?,
                });
                keep_identity_only(raw, codec(header)?).map(Some)
            }
        }
    })
}

/// A schema and the payloads (with their records' indexes) that name it.
type SchemaPayloads<'a> = (Arc<SchemaInfo>, Vec<(usize, &'a [u8])>);

/// Ok(Ok(())) when every record is valid; Ok(Err((plugin, error))) when a
/// serializer failed and the batch is to be dead-lettered; Err to refuse.
fn check_batch(
    checks: &[Check],
    registry: &SchemaRegistry,
    on_error: OnError,
    topic: &str,
    records: &PackedRecords,
) -> Result<Result<(), (String, String)>, ApiError> {
    let mut errors: BTreeMap<i32, String> = BTreeMap::new();
    for check in checks {
        // Payloads by schema id, so a plugin is called once per schema;
        // each id is looked up once (records of a batch mostly share one).
        let mut by_schema: BTreeMap<i32, SchemaPayloads> = BTreeMap::new();
        let mut refused: HashMap<i32, String> = HashMap::new();
        for (i, r) in records.records.iter().enumerate() {
            let (offset, len) = match check.field {
                Field::Key => (r.key_offset, r.key_len),
                Field::Value => (r.value_offset, r.value_len),
            };
            if len < 0 {
                continue;
            }
            let payload = &records.data[offset as usize..][..len as usize];
            let known = framed(check.field, payload).and_then(|id| {
                if by_schema.contains_key(&id) {
                    return Ok(id);
                }
                if let Some(why) = refused.get(&id) {
                    return Err(why.clone());
                }
                match schema_for(check, registry, topic, id) {
                    Ok(info) => {
                        by_schema.insert(id, (info, Vec::new()));
                        Ok(id)
                    }
                    Err(why) => Err(refused.entry(id).or_insert(why).clone()),
                }
            });
            match known {
                Ok(id) => by_schema
                    .get_mut(&id)
                    .expect("looked up")
                    .1
                    .push((i, &payload[5..])),
                Err(why) => {
                    errors.entry(i as i32).or_insert(why);
                }
            }
        }
        let Some((name, plugin)) = &check.serializer else {
            continue;
        };
        for (info, payloads) in by_schema.values() {
            let slices: Vec<&[u8]> = payloads.iter().map(|(_, p)| *p).collect();
            let answers = match plugin {
                Some(plugin) => plugin.validate(&info.schema, &slices),
                None => Err(PluginFailure::Failed(format!(
                    "is not loaded (weir.{}.serializer of {topic})",
                    check.field.name()
                ))),
            };
            match (answers, on_error) {
                (Ok(answers), _) => {
                    if answers.iter().any(Option::is_some) {
                        if let Some(plugin) = plugin {
                            plugin.refused();
                        }
                    }
                    for ((i, _), answer) in payloads.iter().zip(answers) {
                        if let Some(why) = answer {
                            errors.entry(*i as i32).or_insert_with(|| {
                                format!(
                                    "{} does not match schema {}: {why}",
                                    check.field.name(),
                                    info.schema.id
                                )
                            });
                        }
                    }
                }
                (Err(_), OnError::Skip) => {}
                (Err(failure), OnError::Reject) => {
                    return Err(ApiError::new(
                        ResponseError::PolicyViolation,
                        format!("serializer plugin {name} {failure}"),
                    ))
                }
                (Err(failure), OnError::DeadLetter) => {
                    return Ok(Err((name.clone(), failure.to_string())));
                }
            }
        }
    }
    if errors.is_empty() {
        return Ok(Ok(()));
    }
    let (first, why) = errors.iter().next().expect("an error");
    let message = format!(
        "{} of {} records fail schema validation; record {first}: {why}",
        errors.len(),
        records.records.len()
    );
    // What librdkafka users see is "Broker failed to validate record":
    // the reason is in the broker's log.
    REFUSALS_LOGGED.log(|suppressed| {
        tracing::warn!(%topic, %message, suppressed, "schema validation refused a batch");
    });
    Err(ApiError::new(ResponseError::InvalidRecord, message)
        .with_record_errors(errors.into_iter().collect()))
}

/// The schema id a payload's framing names, or why it has none.
pub fn framed(field: Field, payload: &[u8]) -> Result<i32, String> {
    if payload.len() < 5 || payload[0] != 0 {
        return Err(format!(
            "{} is not framed for a schema registry (magic byte 0 and a 4-byte schema id)",
            field.name()
        ));
    }
    Ok(i32::from_be_bytes([
        payload[1], payload[2], payload[3], payload[4],
    ]))
}

/// Schema `id`, checked against the subject the strategy names; or why
/// not. Asked once per id per batch. A broker that holds no replica of
/// `_schemas` asks its leader for what it may not have seen yet first.
fn schema_for(
    check: &Check,
    registry: &SchemaRegistry,
    topic: &str,
    id: i32,
) -> Result<Arc<SchemaInfo>, String> {
    match registered(check, registry, topic, id) {
        Err(_) if registry.catch_up_remote_blocking(id) => registered(check, registry, topic, id),
        found => found,
    }
}

fn registered(
    check: &Check,
    registry: &SchemaRegistry,
    topic: &str,
    id: i32,
) -> Result<Arc<SchemaInfo>, String> {
    let field = check.field.name();
    let info = registry
        .schema_info(id)
        .ok_or_else(|| format!("{field} names schema id {id}, which is not registered"))?;
    let subject = match check.strategy {
        Strategy::TopicName => format!("{topic}-{field}"),
        Strategy::RecordName => info.record_name.clone().unwrap_or_default(),
        Strategy::TopicRecordName => {
            format!(
                "{topic}-{}",
                info.record_name.as_deref().unwrap_or_default()
            )
        }
    };
    if !info.subjects.contains(&subject) {
        return Err(format!(
            "{field} names schema id {id}, which is not registered under subject {subject}"
        ));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts payloads whose first byte is 1.
    struct FirstByteOne;

    impl Serializer for FirstByteOne {
        fn name(&self) -> &str {
            "first-byte-one"
        }

        fn validate(
            &self,
            _: &PluginSchema,
            payloads: &[&[u8]],
        ) -> Result<Vec<Option<String>>, PluginFailure> {
            Ok(payloads
                .iter()
                .map(|p| (p.first() != Some(&1)).then(|| "first byte is not 1".to_string()))
                .collect())
        }

        fn decode(
            &self,
            _: &PluginSchema,
            payloads: &[&[u8]],
        ) -> Result<Vec<Option<String>>, PluginFailure> {
            Ok(vec![None; payloads.len()])
        }

        fn encode(
            &self,
            _: &PluginSchema,
            _: &[&[u8]],
            json: &[&[u8]],
        ) -> Result<Vec<Result<Vec<u8>, String>>, PluginFailure> {
            Ok(vec![Err("cannot encode".into()); json.len()])
        }
    }

    fn registry() -> SchemaRegistry {
        let order = r#"{"type":"record","name":"Order","fields":[]}"#;
        SchemaRegistry::with_schemas(&[
            ("orders-value", 1, "AVRO", order),
            ("other-value", 2, "AVRO", order),
        ])
    }

    fn framed(id: i32, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn each_invalid_record_is_named_with_its_reason() {
        let values: Vec<Option<Vec<u8>>> = vec![
            Some(framed(1, &[1])),
            Some(b"plain".to_vec()),
            Some(framed(7, &[1])),
            Some(framed(2, &[1])),
            Some(framed(1, &[0])),
            None,
        ];
        let mut packed = PackedRecords::default();
        for v in &values {
            packed.push_record(None, v.as_deref(), std::iter::empty(), 0);
        }
        let check = Check {
            field: Field::Value,
            strategy: Strategy::TopicName,
            serializer: Some(("first-byte-one".into(), Some(Arc::new(FirstByteOne)))),
        };
        let error =
            check_batch(&[check], &registry(), OnError::Reject, "orders", &packed).unwrap_err();
        assert_eq!(error.error, ResponseError::InvalidRecord);
        let reasons: Vec<(i32, &str)> = error
            .record_errors
            .iter()
            .map(|(i, r)| (*i, r.as_str()))
            .collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].1.contains("not framed"), "{reasons:?}");
        assert!(reasons[1]
            .1
            .contains("schema id 7, which is not registered"));
        assert!(reasons[2]
            .1
            .contains("not registered under subject orders-value"));
        assert_eq!(
            reasons[3],
            (4, "value does not match schema 1: first byte is not 1")
        );
        assert_eq!(
            reasons.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn a_failing_serializer_follows_on_error() {
        struct Broken;
        impl Serializer for Broken {
            fn name(&self) -> &str {
                "broken"
            }
            fn validate(
                &self,
                _: &PluginSchema,
                _: &[&[u8]],
            ) -> Result<Vec<Option<String>>, PluginFailure> {
                Err(PluginFailure::Failed("trapped".into()))
            }
            fn decode(
                &self,
                _: &PluginSchema,
                _: &[&[u8]],
            ) -> Result<Vec<Option<String>>, PluginFailure> {
                Err(PluginFailure::Failed("trapped".into()))
            }
            fn encode(
                &self,
                _: &PluginSchema,
                _: &[&[u8]],
                _: &[&[u8]],
            ) -> Result<Vec<Result<Vec<u8>, String>>, PluginFailure> {
                Err(PluginFailure::Failed("trapped".into()))
            }
        }
        let mut packed = PackedRecords::default();
        let value = framed(1, &[1]);
        packed.push_record(None, Some(&value), std::iter::empty(), 0);
        let check = || Check {
            field: Field::Value,
            strategy: Strategy::TopicName,
            serializer: Some((
                "broken".into(),
                Some(Arc::new(Broken) as Arc<dyn Serializer>),
            )),
        };
        let registry = registry();
        let refused =
            check_batch(&[check()], &registry, OnError::Reject, "orders", &packed).unwrap_err();
        assert_eq!(refused.error, ResponseError::PolicyViolation);
        assert!(
            check_batch(&[check()], &registry, OnError::Skip, "orders", &packed)
                .unwrap()
                .is_ok()
        );
        let dead = check_batch(
            &[check()],
            &registry,
            OnError::DeadLetter,
            "orders",
            &packed,
        )
        .unwrap();
        assert_eq!(
            dead,
            Err(("broken".to_string(), "failed: trapped".to_string()))
        );
    }

    #[test]
    fn strategies_name_subjects() {
        assert_eq!(
            Strategy::from_config("io.confluent.kafka.serializers.subject.RecordNameStrategy"),
            Strategy::RecordName
        );
        assert_eq!(
            Strategy::from_config("TopicRecordNameStrategy"),
            Strategy::TopicRecordName
        );
        assert_eq!(Strategy::from_config(""), Strategy::TopicName);
    }
}
