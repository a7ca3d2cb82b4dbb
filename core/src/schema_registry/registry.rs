//! The registry's operations: each read catches up with the `_schemas`
//! replica here, each change is checked against the state, written to the
//! topic by its leader, and answered once committed and applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use kafka_protocol::records::Compression;

use super::compatibility::{self, Parsed, Resolved, LEVELS, TYPES};
use super::records::{ConfigValue, Key, ModeValue, Reference, SchemaValue, TOPIC};
use super::state::{record, State, Stored};
use crate::log::batch::{self, Batches};
use crate::metadata::NewTopic;
use crate::partition::{AppendOrigin, PendingCommit};
use crate::server::Broker;

/// An answer in Confluent's error format: `error_code` (its first three
/// digits are the HTTP status) and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryError {
    pub code: u32,
    pub message: String,
}

impl RegistryError {
    pub fn new(code: u32, message: impl Into<String>) -> RegistryError {
        RegistryError {
            code,
            message: message.into(),
        }
    }

    pub fn subject_not_found(subject: &str) -> RegistryError {
        RegistryError::new(40401, format!("Subject '{subject}' not found."))
    }

    pub fn version_not_found(version: &str) -> RegistryError {
        RegistryError::new(40402, format!("Version {version} not found."))
    }

    pub fn schema_not_found() -> RegistryError {
        RegistryError::new(40403, "Schema not found")
    }

    /// The HTTP status: the code's first three digits (409 is itself).
    pub fn status(&self) -> u16 {
        match self.code {
            c if c < 1000 => c as u16,
            // Not the leader: a status clients retry elsewhere.
            50003 => 503,
            c => (c / 100) as u16,
        }
    }
}

type Result<T> = std::result::Result<T, RegistryError>;

/// A schema as a client registers or looks it up.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRequest {
    pub schema: String,
    #[serde(default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Vec<Reference>,
    /// IMPORT mode only: the id and version to register it under.
    #[serde(default)]
    pub id: Option<i32>,
    #[serde(default)]
    pub version: Option<i32>,
}

impl SchemaRequest {
    fn stored(&self) -> Result<Stored> {
        let schema_type = self
            .schema_type
            .clone()
            .unwrap_or_else(|| "AVRO".into())
            .to_uppercase();
        if !TYPES.contains(&schema_type.as_str()) {
            return Err(RegistryError::new(
                42201,
                format!("Invalid schema type {schema_type}: one of {TYPES:?}"),
            ));
        }
        if schema_type != "PROTOBUF" {
            serde_json::from_str::<serde_json::Value>(&self.schema)
                .map_err(|e| RegistryError::new(42201, format!("Invalid schema: not JSON: {e}")))?;
        }
        Ok(Stored::new(
            schema_type,
            self.schema.clone(),
            self.references.clone(),
        ))
    }
}

/// A subject version, answered whole.
#[derive(Debug, Clone)]
pub struct Found {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub stored: Stored,
}

/// What the produce path needs of a schema to validate records with it,
/// kept per id until the registry changes.
#[derive(Debug)]
pub struct SchemaInfo {
    pub schema: crate::partition::validation::PluginSchema,
    /// The subjects whose live or soft-deleted versions registered it.
    pub subjects: Vec<String>,
    /// Its record name (an Avro record's full name, a Protobuf file's
    /// first message, a JSON Schema's title): the RecordNameStrategy's
    /// subject.
    pub record_name: Option<String>,
}

pub struct SchemaRegistry {
    /// Weak: the broker owns the registry.
    broker: Weak<Broker>,
    state: RwLock<State>,
    /// The next `_schemas` offset to apply.
    pub(super) applied_to: Mutex<i64>,
    /// When validation last read `_schemas` from its leader (remote.rs).
    pub(super) last_remote: Mutex<HashMap<i32, std::time::Instant>>,
    /// Changes are checked and written one at a time.
    writing: tokio::sync::Mutex<()>,
    /// `SchemaInfo` by id, as of the `applied_to` offset it was made at.
    infos: Mutex<(i64, HashMap<i32, Arc<SchemaInfo>>)>,
}

/// How long a change waits for its record to be committed.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

impl SchemaRegistry {
    pub fn new(broker: Weak<Broker>) -> SchemaRegistry {
        SchemaRegistry {
            broker,
            state: RwLock::new(State::default()),
            applied_to: Mutex::new(0),
            last_remote: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
            infos: Mutex::new((-1, HashMap::new())),
        }
    }

    /// A registry with no broker holding version 1 of each (subject, id,
    /// schema type, schema) given (tests and benchmarks).
    pub fn with_schemas(schemas: &[(&str, i32, &str, &str)]) -> SchemaRegistry {
        use super::records::{Key, SchemaValue};
        let mut state = State::default();
        for (subject, id, schema_type, schema) in schemas {
            let value = SchemaValue {
                subject: subject.to_string(),
                version: 1,
                id: *id,
                schema_type: Some(schema_type.to_string()),
                schema: schema.to_string(),
                references: Vec::new(),
                deleted: false,
            };
            let (k, v) = super::state::record(&Key::schema(subject, 1), Some(&value));
            state.apply(&k, v.as_deref());
        }
        let registry = SchemaRegistry::new(Weak::new());
        *registry.state.write().unwrap() = state;
        registry
    }

    pub(super) fn broker(&self) -> Result<Arc<Broker>> {
        self.broker
            .upgrade()
            .ok_or_else(|| RegistryError::new(50001, "the broker is shutting down"))
    }

    /// Schema `id` as validation needs it, or None when it is not
    /// registered (a hard-deleted schema included).
    pub fn schema_info(&self, id: i32) -> Option<Arc<SchemaInfo>> {
        self.catch_up();
        let applied = *self.applied_to.lock().expect("applied_to");
        let mut infos = self.infos.lock().expect("schema infos");
        if infos.0 != applied {
            *infos = (applied, HashMap::new());
        }
        if let Some(info) = infos.1.get(&id) {
            return Some(info.clone());
        }
        let state = self.state.read().expect("registry state");
        let stored = state.schemas.get(&id)?;
        let references = Self::resolve(&state, &stored.references).unwrap_or_default();
        let mut subjects: Vec<String> = state
            .versions_of(id, true)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        subjects.dedup();
        let record_name = record_name(&state, stored);
        let info = Arc::new(SchemaInfo {
            schema: crate::partition::validation::PluginSchema {
                id,
                schema_type: stored.schema_type.clone(),
                text: stored.schema.clone(),
                references,
            },
            subjects,
            record_name,
        });
        infos.1.insert(id, info.clone());
        Some(info)
    }

    /// The state, caught up with this broker's replica of `_schemas`.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.catch_up();
        self.state.read().expect("registry state")
    }

    /// Applies the committed records not applied yet.
    fn catch_up(&self) {
        let Some(broker) = self.broker.upgrade() else {
            return;
        };
        let Some(partition) = broker.replicas.get_by_name(TOPIC, 0) else {
            return;
        };
        let mut next = self.applied_to.lock().expect("applied_to");
        *next = (*next).max(partition.log_start_offset());
        while *next < partition.high_watermark() {
            let data = match partition.read_as(*next, 1 << 20, true, true) {
                Ok(data) => data,
                Err(e) => {
                    tracing::warn!(error = %e, "schema registry: could not read _schemas");
                    return;
                }
            };
            let bytes = match data.records.read() {
                Ok(bytes) if !bytes.is_empty() => bytes,
                _ => return,
            };
            self.apply(&bytes, &mut next);
        }
    }

    /// Applies the whole batches of `bytes` (committed `_schemas` records),
    /// moving `next` past each.
    pub(super) fn apply(&self, bytes: &bytes::Bytes, next: &mut i64) {
        let mut state = self.state.write().expect("registry state");
        for item in Batches::new(bytes) {
            let Ok((position, header)) = item else { break };
            *next = header.next_offset();
            if header.is_control() {
                continue;
            }
            let mut slice = bytes.slice(position..position + header.size);
            let Ok(set) = kafka_protocol::records::RecordBatchDecoder::decode(&mut slice) else {
                tracing::warn!(
                    offset = header.base_offset,
                    "_schemas: skipping a batch that does not decode"
                );
                continue;
            };
            for r in set.records {
                if let Some(key) = r.key {
                    state.apply(&key, r.value.as_deref());
                }
            }
        }
    }

    /// Appends `records` to `_schemas` (creating it the first time), waits
    /// for them to be committed, and applies them.
    async fn write(&self, records: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
        let store =
            |e: String| RegistryError::new(50001, format!("Error while storing the change: {e}"));
        let broker = self.broker()?;
        if broker.replicas.get_by_name(TOPIC, 0).is_none()
            && !broker.image().topics.contains_key(TOPIC)
        {
            Self::create_topic(&broker).await.map_err(store)?;
        }
        let Some(partition) = broker.replicas.get_by_name(TOPIC, 0) else {
            return Err(RegistryError::new(
                50003,
                format!("{TOPIC} is not hosted on this broker: ask the broker that leads it"),
            ));
        };
        if !partition.is_leader() {
            return Err(RegistryError::new(
                50003,
                format!("This broker does not lead {TOPIC}-0: ask the broker that leads it"),
            ));
        }
        let batch = batch::encode(
            records
                .into_iter()
                .map(|(k, v)| (Some(k.into()), v.map(Into::into))),
            crate::log::now_ms(),
            Compression::None,
        );
        let (info, _) = partition
            .append_records(&batch, AppendOrigin::Coordinator, -1)
            .map_err(|e| store(e.to_string()))?;
        if let Some(pending) = PendingCommit::of(&partition, &info) {
            pending.wait(COMMIT_TIMEOUT).await.map_err(|e| {
                RegistryError::new(50002, format!("The change was not committed: {e}"))
            })?;
        }
        self.catch_up();
        Ok(())
    }

    async fn create_topic(broker: &Broker) -> std::result::Result<(), String> {
        let live = broker
            .image()
            .brokers
            .values()
            .filter(|b| b.is_live())
            .count();
        let topic = NewTopic {
            name: TOPIC.to_string(),
            num_partitions: 1,
            replication_factor: (live.max(1) as i64).min(
                broker
                    .config
                    .number("schema.registry.topic.replication.factor"),
            ) as i16,
            configs: vec![("cleanup.policy".to_string(), Some("compact".to_string()))],
            ..Default::default()
        };
        match broker.create_topic_anywhere(&topic).await {
            Ok(_) => Ok(()),
            Err(e)
                if e.code() == crate::protocol::error::ResponseError::TopicAlreadyExists.code() =>
            {
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The schema texts a schema's references name, transitively.
    fn resolve(state: &State, references: &[Reference]) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut todo: Vec<Reference> = references.to_vec();
        while let Some(r) = todo.pop() {
            if out.iter().any(|(name, _)| *name == r.name) {
                continue;
            }
            let stored = state
                .subjects
                .get(&r.subject)
                .and_then(|s| s.versions.get(&r.version))
                .and_then(|v| state.schemas.get(&v.id))
                .ok_or_else(|| {
                    RegistryError::new(
                        42201,
                        format!(
                            "Invalid schema: reference {} names subject {} version {}, which is not registered",
                            r.name, r.subject, r.version
                        ),
                    )
                })?;
            todo.extend(stored.references.iter().cloned());
            out.push((r.name.clone(), stored.schema.clone()));
        }
        // Referenced schemas first: the deepest were found last.
        out.reverse();
        Ok(out)
    }

    pub fn parse(state: &State, stored: &Stored) -> Result<Parsed> {
        let references = Self::resolve(state, &stored.references)?;
        compatibility::parse(&Resolved {
            schema_type: &stored.schema_type,
            schema: &stored.schema,
            references,
        })
        .map_err(|e| RegistryError::new(42201, e))
    }

    /// POST /subjects/{subject}/versions.
    pub async fn register(&self, subject: &str, request: SchemaRequest) -> Result<Found> {
        let stored = request.stored()?;
        let _one = self.writing.lock().await;
        let (value, found) = {
            let state = self.read();
            let mode = state.mode_of(Some(subject));
            let import = mode == "IMPORT";
            if mode.starts_with("READONLY") {
                return Err(RegistryError::new(
                    42205,
                    format!("Subject {subject} is in read-only mode"),
                ));
            }
            if (request.id.is_some() || request.version.is_some()) && !import {
                return Err(RegistryError::new(
                    42205,
                    "A schema is registered with an id or version only in IMPORT mode",
                ));
            }
            let parsed = Self::parse(&state, &stored)?;
            let versions = state.subjects.get(subject);
            // Already registered (and live) under this subject: its answer.
            if let Some(s) = versions {
                for (n, v) in s.live() {
                    if state.schemas.get(&v.id) == Some(&stored) {
                        return Ok(Found {
                            subject: subject.into(),
                            version: n,
                            id: v.id,
                            stored,
                        });
                    }
                }
            }
            if !import {
                let level = state.compatibility_of(subject);
                let mut olds = Vec::new();
                for (_, v) in versions.into_iter().flat_map(|s| s.live()) {
                    if let Some(old) = state.schemas.get(&v.id) {
                        olds.push(Self::parse(&state, old)?);
                    }
                }
                let problems = compatibility::check(&level, &parsed, &olds);
                if !problems.is_empty() {
                    return Err(RegistryError::new(
                        409,
                        format!(
                            "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                            problems.join(", ")
                        ),
                    ));
                }
            }
            let id = match request.id {
                Some(id) => {
                    if state.schemas.get(&id).is_some_and(|s| *s != stored) {
                        return Err(RegistryError::new(
                            42207,
                            format!("Schema id {id} is already registered with a different schema"),
                        ));
                    }
                    id
                }
                None => state.id_of(&stored).unwrap_or(state.max_id + 1),
            };
            let version = request.version.unwrap_or_else(|| {
                versions
                    .and_then(|s| s.versions.keys().next_back().copied())
                    .unwrap_or(0)
                    + 1
            });
            let value = SchemaValue {
                subject: subject.into(),
                version,
                id,
                schema_type: (stored.schema_type != "AVRO").then(|| stored.schema_type.clone()),
                schema: stored.schema.clone(),
                references: stored.references.clone(),
                deleted: false,
            };
            let found = Found {
                subject: subject.into(),
                version,
                id,
                stored,
            };
            (value, found)
        };
        self.write(vec![record(
            &Key::schema(subject, found.version),
            Some(&value),
        )])
        .await?;
        Ok(found)
    }

    /// POST /subjects/{subject}: the version of `subject` holding this
    /// schema.
    pub fn lookup(&self, subject: &str, request: &SchemaRequest, deleted: bool) -> Result<Found> {
        let stored = request.stored()?;
        let state = self.read();
        let s = state
            .subjects
            .get(subject)
            .filter(|s| deleted || s.latest_live().is_some())
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        s.versions
            .iter()
            .filter(|(_, v)| deleted || !v.deleted)
            .find(|(_, v)| state.schemas.get(&v.id) == Some(&stored))
            .map(|(n, v)| Found {
                subject: subject.into(),
                version: *n,
                id: v.id,
                stored: stored.clone(),
            })
            .ok_or_else(RegistryError::schema_not_found)
    }

    /// A subject's version: a number, or `latest` / -1.
    pub fn version(&self, subject: &str, version: &str, deleted: bool) -> Result<Found> {
        let state = self.read();
        let s = state
            .subjects
            .get(subject)
            .filter(|s| deleted || s.latest_live().is_some())
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        let (n, v) = s
            .pick(parse_version(version)?, deleted)
            .ok_or_else(|| RegistryError::version_not_found(version))?;
        let stored = state
            .schemas
            .get(&v.id)
            .cloned()
            .ok_or_else(RegistryError::schema_not_found)?;
        Ok(Found {
            subject: subject.into(),
            version: n,
            id: v.id,
            stored,
        })
    }

    /// DELETE /subjects/{subject}: soft-deletes every live version, or with
    /// `permanent` removes the soft-deleted ones (all must be soft-deleted
    /// first, as in Confluent's registry).
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>> {
        let _one = self.writing.lock().await;
        let (records, versions) = {
            let state = self.read();
            self.check_writable(&state, subject)?;
            let s = state
                .subjects
                .get(subject)
                .filter(|s| !s.versions.is_empty())
                .ok_or_else(|| RegistryError::subject_not_found(subject))?;
            if permanent && s.latest_live().is_some() {
                return Err(RegistryError::new(
                    40405,
                    format!("Subject '{subject}' was not deleted first before being permanently deleted"),
                ));
            }
            if !permanent && s.latest_live().is_none() {
                return Err(RegistryError::new(40404, format!("Subject '{subject}' was soft deleted.Set permanent=true to delete permanently")));
            }
            let mut records = Vec::new();
            let mut versions = Vec::new();
            for (n, v) in &s.versions {
                if !permanent && v.deleted {
                    continue;
                }
                self.check_unreferenced(&state, subject, *n)?;
                records.push(self.deletion(&state, subject, *n, v.id, permanent));
                versions.push(*n);
            }
            if permanent {
                // Its compatibility level and mode go with it.
                if s.compatibility.is_some() {
                    records.push(record::<ConfigValue>(&Key::config(Some(subject)), None));
                }
                if s.mode.is_some() {
                    records.push(record::<ModeValue>(&Key::mode(Some(subject)), None));
                }
            }
            (records, versions)
        };
        self.write(records).await?;
        Ok(versions)
    }

    /// DELETE /subjects/{subject}/versions/{version}.
    pub async fn delete_version(
        &self,
        subject: &str,
        version: &str,
        permanent: bool,
    ) -> Result<i32> {
        let _one = self.writing.lock().await;
        let (records, n) = {
            let state = self.read();
            self.check_writable(&state, subject)?;
            let s = state
                .subjects
                .get(subject)
                .ok_or_else(|| RegistryError::subject_not_found(subject))?;
            let (n, v) = s
                .pick(parse_version(version)?, true)
                .ok_or_else(|| RegistryError::version_not_found(version))?;
            if permanent && !v.deleted {
                return Err(RegistryError::new(40407, format!("Subject '{subject}' Version {n} was not deleted first before being permanently deleted")));
            }
            if !permanent && v.deleted {
                return Err(RegistryError::new(40406, format!("Subject '{subject}' Version {n} was soft deleted.Set permanent=true to delete permanently")));
            }
            self.check_unreferenced(&state, subject, n)?;
            (vec![self.deletion(&state, subject, n, v.id, permanent)], n)
        };
        self.write(records).await?;
        Ok(n)
    }

    fn deletion(
        &self,
        state: &State,
        subject: &str,
        version: i32,
        id: i32,
        permanent: bool,
    ) -> (Vec<u8>, Option<Vec<u8>>) {
        let key = Key::schema(subject, version);
        if permanent {
            return record::<SchemaValue>(&key, None);
        }
        let stored = &state.schemas[&id];
        let value = SchemaValue {
            subject: subject.into(),
            version,
            id,
            schema_type: (stored.schema_type != "AVRO").then(|| stored.schema_type.clone()),
            schema: stored.schema.clone(),
            references: stored.references.clone(),
            deleted: true,
        };
        record(&key, Some(&value))
    }

    fn check_writable(&self, state: &State, subject: &str) -> Result<()> {
        if state.mode_of(Some(subject)).starts_with("READONLY") {
            return Err(RegistryError::new(
                42205,
                format!("Subject {subject} is in read-only mode"),
            ));
        }
        Ok(())
    }

    fn check_unreferenced(&self, state: &State, subject: &str, version: i32) -> Result<()> {
        let by = state.referenced_by(subject, version);
        if by.is_empty() {
            return Ok(());
        }
        Err(RegistryError::new(
            42206,
            format!("One or more references exist to the schema {{subject={subject},version={version}}}: schema ids {by:?}"),
        ))
    }

    /// PUT /config[/{subject}]; None deletes a subject's level.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Option<&str>,
    ) -> Result<()> {
        if let Some(level) = level {
            if !LEVELS.contains(&level) {
                return Err(RegistryError::new(
                    42203,
                    "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive",
                ));
            }
        }
        let value = level.map(|l| ConfigValue {
            compatibility_level: l.to_string(),
        });
        let _one = self.writing.lock().await;
        self.write(vec![record(&Key::config(subject), value.as_ref())])
            .await
    }

    /// PUT /mode[/{subject}]; None deletes a subject's mode.
    pub async fn set_mode(&self, subject: Option<&str>, mode: Option<&str>) -> Result<()> {
        if let Some(mode) = mode {
            if !["READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT"].contains(&mode) {
                return Err(RegistryError::new(
                    42204,
                    "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT",
                ));
            }
        }
        let value = mode.map(|m| ModeValue {
            mode: m.to_string(),
        });
        let _one = self.writing.lock().await;
        self.write(vec![record(&Key::mode(subject), value.as_ref())])
            .await
    }

    /// POST /compatibility/subjects/{subject}/versions[/{version}]: the
    /// problems (empty: compatible) of `request` against one version, or
    /// (None) against what the subject's level checks.
    pub fn test_compatibility(
        &self,
        subject: &str,
        version: Option<&str>,
        request: &SchemaRequest,
    ) -> Result<Vec<String>> {
        let stored = request.stored()?;
        let state = self.read();
        let parsed = Self::parse(&state, &stored)?;
        let level = state.compatibility_of(subject);
        let Some(s) = state.subjects.get(subject) else {
            return match version {
                Some(_) => Err(RegistryError::subject_not_found(subject)),
                None => Ok(Vec::new()),
            };
        };
        let mut olds = Vec::new();
        match version.map(parse_version).transpose()? {
            None => {
                for (_, v) in s.live() {
                    olds.push(Self::parse(&state, &state.schemas[&v.id])?);
                }
                Ok(compatibility::check(&level, &parsed, &olds))
            }
            Some(n) => {
                let (_, v) = s
                    .pick(n, false)
                    .ok_or_else(|| RegistryError::version_not_found(version.unwrap_or_default()))?;
                olds.push(Self::parse(&state, &state.schemas[&v.id])?);
                let level = level.trim_end_matches("_TRANSITIVE").to_string();
                Ok(compatibility::check(&level, &parsed, &olds))
            }
        }
    }
}

/// A schema's record name, for the record name strategies: an Avro
/// record's full name, a JSON Schema's `title`, a Protobuf file's first
/// message.
fn record_name(state: &State, stored: &Stored) -> Option<String> {
    match stored.schema_type.as_str() {
        "PROTOBUF" => match SchemaRegistry::parse(state, stored).ok()? {
            Parsed::Protobuf(compiled) => compiled
                .file
                .messages()
                .next()
                .map(|m| m.full_name().to_string()),
            _ => None,
        },
        _ => {
            let json: serde_json::Value = serde_json::from_str(&stored.schema).ok()?;
            if stored.schema_type == "JSON" {
                return json.get("title")?.as_str().map(String::from);
            }
            let name = json.get("name")?.as_str()?;
            match json.get("namespace").and_then(|n| n.as_str()) {
                Some(ns) if !ns.is_empty() && !name.contains('.') => Some(format!("{ns}.{name}")),
                _ => Some(name.to_string()),
            }
        }
    }
}

/// A version in a path: None for `latest` (or -1), else a positive number.
fn parse_version(version: &str) -> Result<Option<i32>> {
    if version == "latest" || version == "-1" {
        return Ok(None);
    }
    match version.parse::<i32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(RegistryError::new(
            42202,
            format!("The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
        )),
    }
}
