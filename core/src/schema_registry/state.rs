//! The registry's state, rebuilt from the `_schemas` records in order:
//! schemas by id, each subject's versions, and the compatibility levels and
//! modes set globally and per subject. Only `apply` changes it, so what a
//! broker serves is exactly what its copy of the topic says.

use std::collections::BTreeMap;

use super::records::{ConfigValue, DeleteSubjectValue, Key, ModeValue, Reference, SchemaValue};

/// One version of a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub id: i32,
    pub deleted: bool,
}

/// A registered schema, shared by every subject version that registered
/// the same schema: the same type and references, and the same text up to
/// layout (Avro and JSON Schema texts compare as parsed JSON, as
/// Confluent compares canonical strings).
#[derive(Debug, Clone)]
pub struct Stored {
    pub schema_type: String,
    /// As registered.
    pub schema: String,
    pub references: Vec<Reference>,
    canonical: String,
}

impl Stored {
    pub fn new(schema_type: String, schema: String, references: Vec<Reference>) -> Stored {
        let canonical = match schema_type.as_str() {
            "PROTOBUF" => schema.trim().to_string(),
            _ => serde_json::from_str::<serde_json::Value>(&schema)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| schema.clone()),
        };
        Stored {
            schema_type,
            schema,
            references,
            canonical,
        }
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Stored) -> bool {
        self.schema_type == other.schema_type
            && self.references == other.references
            && self.canonical == other.canonical
    }
}

#[derive(Debug, Default, Clone)]
pub struct Subject {
    pub versions: BTreeMap<i32, Version>,
    pub compatibility: Option<String>,
    pub mode: Option<String>,
}

impl Subject {
    /// The versions not soft-deleted.
    pub fn live(&self) -> impl DoubleEndedIterator<Item = (i32, &Version)> {
        self.versions
            .iter()
            .filter(|(_, v)| !v.deleted)
            .map(|(n, v)| (*n, v))
    }

    pub fn latest_live(&self) -> Option<(i32, &Version)> {
        self.live().next_back()
    }

    /// Version `n`, or the latest live one for None; a soft-deleted
    /// version only when `deleted`.
    pub fn pick(&self, n: Option<i32>, deleted: bool) -> Option<(i32, Version)> {
        match n {
            None => self.latest_live().map(|(n, v)| (n, v.clone())),
            Some(n) => self
                .versions
                .get(&n)
                .filter(|v| deleted || !v.deleted)
                .map(|v| (n, v.clone())),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct State {
    pub schemas: BTreeMap<i32, Stored>,
    pub subjects: BTreeMap<String, Subject>,
    pub compatibility: Option<String>,
    pub mode: Option<String>,
    /// The highest id ever seen: new schemas take the next.
    pub max_id: i32,
}

impl State {
    /// Applies one `_schemas` record; a record it cannot read is skipped
    /// (and logged), as a registry must still start.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        let key: Key = match serde_json::from_slice(key) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(error = %e, "_schemas: skipping a record whose key is not a registry key");
                return;
            }
        };
        let parsed = |what: &str| -> Option<serde_json::Value> {
            let value = value?;
            serde_json::from_slice(value)
                .inspect_err(|e| tracing::warn!(error = %e, what, "_schemas: skipping a record"))
                .ok()
        };
        match key {
            Key::Schema {
                subject, version, ..
            } => match parsed("schema").map(serde_json::from_value::<SchemaValue>) {
                Some(Ok(v)) => self.put_version(v),
                Some(Err(e)) => tracing::warn!(error = %e, "_schemas: skipping a schema"),
                None if value.is_none() => self.remove_version(&subject, version),
                None => {}
            },
            Key::Config { subject, .. } => {
                let level = parsed("config")
                    .and_then(|v| serde_json::from_value::<ConfigValue>(v).ok())
                    .map(|c| c.compatibility_level);
                match subject {
                    Some(s) => self.subjects.entry(s).or_default().compatibility = level,
                    None => self.compatibility = level,
                }
            }
            Key::Mode { subject, .. } => {
                let mode = parsed("mode")
                    .and_then(|v| serde_json::from_value::<ModeValue>(v).ok())
                    .map(|m| m.mode);
                match subject {
                    Some(s) => self.subjects.entry(s).or_default().mode = mode,
                    None => self.mode = mode,
                }
            }
            Key::DeleteSubject { subject, .. } => {
                if let Some(Ok(d)) =
                    parsed("delete").map(serde_json::from_value::<DeleteSubjectValue>)
                {
                    if let Some(s) = self.subjects.get_mut(&subject) {
                        for (_, v) in s.versions.range_mut(..=d.version) {
                            v.deleted = true;
                        }
                    }
                }
            }
            Key::Other => {}
        }
    }

    fn put_version(&mut self, v: SchemaValue) {
        self.max_id = self.max_id.max(v.id);
        self.schemas.entry(v.id).or_insert_with(|| {
            Stored::new(
                v.schema_type.unwrap_or_else(|| "AVRO".into()),
                v.schema,
                v.references,
            )
        });
        let replaced = self.subjects.entry(v.subject).or_default().versions.insert(
            v.version,
            Version {
                id: v.id,
                deleted: v.deleted,
            },
        );
        // A version rewritten with another schema (IMPORT mode) may leave
        // its old one unnamed: compaction would have dropped it.
        if let Some(old) = replaced.filter(|old| old.id != v.id) {
            self.forget_if_unnamed(old.id);
        }
    }

    /// Drops schema `id` when no version names it any more.
    fn forget_if_unnamed(&mut self, id: i32) {
        let named = self
            .subjects
            .values()
            .any(|s| s.versions.values().any(|v| v.id == id));
        if !named {
            self.schemas.remove(&id);
        }
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(s) = self.subjects.get_mut(subject) else {
            return;
        };
        let Some(gone) = s.versions.remove(&version) else {
            return;
        };
        if s.versions.is_empty() && s.compatibility.is_none() && s.mode.is_none() {
            self.subjects.remove(subject);
        }
        // A schema no version names any more is gone with it.
        self.forget_if_unnamed(gone.id);
    }

    /// The id of a schema equal to `stored` (same type, text and
    /// references), if one is registered.
    pub fn id_of(&self, stored: &Stored) -> Option<i32> {
        self.schemas
            .iter()
            .find(|(_, s)| *s == stored)
            .map(|(id, _)| *id)
    }

    /// The subject versions that register schema `id`.
    pub fn versions_of(&self, id: i32, deleted: bool) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for (name, s) in &self.subjects {
            for (n, v) in &s.versions {
                if v.id == id && (deleted || !v.deleted) {
                    out.push((name.clone(), *n));
                }
            }
        }
        out
    }

    /// The ids of the schemas that reference `subject` version `version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        self.schemas
            .iter()
            .filter(|(_, s)| {
                s.references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// The compatibility level of `subject`: its own, else the global one,
    /// else BACKWARD (Confluent's default).
    pub fn compatibility_of(&self, subject: &str) -> String {
        self.subjects
            .get(subject)
            .and_then(|s| s.compatibility.clone())
            .or_else(|| self.compatibility.clone())
            .unwrap_or_else(|| "BACKWARD".into())
    }

    /// The mode of `subject`: its own, else the global one, else READWRITE.
    pub fn mode_of(&self, subject: Option<&str>) -> String {
        subject
            .and_then(|s| self.subjects.get(s))
            .and_then(|s| s.mode.clone())
            .or_else(|| self.mode.clone())
            .unwrap_or_else(|| "READWRITE".into())
    }
}

/// A `_schemas` record to write: its key and value (None: a tombstone).
pub fn record<V: serde::Serialize>(key: &Key, value: Option<&V>) -> (Vec<u8>, Option<Vec<u8>>) {
    (
        serde_json::to_vec(key).expect("a key serializes"),
        value.map(|v| serde_json::to_vec(v).expect("a value serializes")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn version(subject: &str, version: i32, id: i32, deleted: bool) -> (Vec<u8>, Option<Vec<u8>>) {
        let value = SchemaValue {
            subject: subject.into(),
            version,
            id,
            schema_type: None,
            schema: format!("\"schema-{id}\""),
            references: Vec::new(),
            deleted,
        };
        record(&Key::schema(subject, version), Some(&value))
    }

    #[test]
    fn soft_and_hard_deletes() {
        let mut state = State::default();
        for (k, v) in [version("a", 1, 1, false), version("a", 2, 2, false)] {
            state.apply(&k, v.as_deref());
        }
        assert_eq!(state.subjects["a"].latest_live().unwrap().0, 2);
        let (k, v) = version("a", 2, 2, true);
        state.apply(&k, v.as_deref());
        assert_eq!(state.subjects["a"].latest_live().unwrap().0, 1);
        assert!(
            state.schemas.contains_key(&2),
            "a soft-deleted version keeps its schema"
        );
        let (k, _) = version("a", 2, 2, true);
        state.apply(&k, None);
        assert!(!state.schemas.contains_key(&2));
        assert_eq!(state.max_id, 2, "ids are not reused");
    }

    proptest! {
        /// The state after a sequence of records equals the state after
        /// only the last record of each key (what compaction leaves).
        #[test]
        fn compaction_keeps_the_state(ops in proptest::collection::vec((0..3usize, 1..4i32, 1..5i32, any::<bool>(), any::<bool>()), 1..40)) {
            let subjects = ["a", "b", "c"];
            let mut records = Vec::new();
            for (s, ver, id, deleted, tombstone) in ops {
                let (k, v) = version(subjects[s], ver, id + 10 * s as i32, deleted);
                records.push((k, if tombstone { None } else { v }));
            }
            let mut full = State::default();
            for (k, v) in &records {
                full.apply(k, v.as_deref());
            }
            let mut last: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
            for (k, v) in &records {
                last.retain(|(lk, _)| lk != k);
                last.push((k.clone(), v.clone()));
            }
            let mut compacted = State::default();
            for (k, v) in &last {
                compacted.apply(k, v.as_deref());
            }
            let view = |s: &State| (s.schemas.clone(), s.subjects.iter().map(|(k, v)| (k.clone(), v.versions.clone())).collect::<Vec<_>>());
            prop_assert_eq!(view(&full), view(&compacted));
        }
    }
}
