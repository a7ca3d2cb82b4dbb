//! The REST API, with Confluent Schema Registry's paths, JSON and error
//! codes. Request bodies are read whatever their content type
//! (`application/vnd.schemaregistry.v1+json`, `application/json`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::compatibility::TYPES;
use super::registry::{Found, RegistryError, SchemaRegistry, SchemaRequest};

type Registry = State<Arc<SchemaRegistry>>;
type Params = Query<HashMap<String, String>>;
type Answer = Result<Response, RegistryError>;

pub fn routes() -> Router<Arc<SchemaRegistry>> {
    Router::new()
        .route("/", get(|| async { ok(json!({})) }))
        .route("/schemas/types", get(|| async { ok(json!(TYPES)) }))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_of_id))
        .route("/schemas/ids/{id}/versions", get(versions_of_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(raw_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatible_with_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatible_with_one),
        )
        .route("/config", get(global_config).put(put_global_config))
        .route(
            "/config/{subject}",
            get(subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .route("/mode", get(global_mode).put(put_global_mode))
        .route(
            "/mode/{subject}",
            get(subject_mode)
                .put(put_subject_mode)
                .delete(delete_subject_mode),
        )
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error_code": self.code, "message": self.message});
        (
            status,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            body.to_string(),
        )
            .into_response()
    }
}

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn ok(value: Value) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], value.to_string()).into_response()
}

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::new(42201, format!("Invalid request body: {e}")))
}

/// A schema's fields as Confluent answers them: `schemaType` only when
/// not AVRO, `references` only when there are some; a Protobuf schema as a
/// base64 descriptor with `?format=serialized`.
fn schema_fields(
    registry: &SchemaRegistry,
    found: &super::state::Stored,
    params: &HashMap<String, String>,
) -> Result<serde_json::Map<String, Value>, RegistryError> {
    let mut out = serde_json::Map::new();
    let mut schema = found.schema.clone();
    if found.schema_type == "PROTOBUF"
        && params.get("format").map(String::as_str) == Some("serialized")
    {
        let state = registry.read();
        if let super::compatibility::Parsed::Protobuf(compiled) =
            SchemaRegistry::parse(&state, found)?
        {
            schema = compiled.serialized();
        }
    }
    if found.schema_type != "AVRO" {
        out.insert("schemaType".into(), json!(found.schema_type));
    }
    out.insert("schema".into(), json!(schema));
    if !found.references.is_empty() {
        out.insert("references".into(), json!(found.references));
    }
    Ok(out)
}

fn version_json(
    registry: &SchemaRegistry,
    found: &Found,
    params: &HashMap<String, String>,
) -> Result<Value, RegistryError> {
    let mut out = serde_json::Map::new();
    out.insert("subject".into(), json!(found.subject));
    out.insert("version".into(), json!(found.version));
    out.insert("id".into(), json!(found.id));
    out.extend(schema_fields(registry, &found.stored, params)?);
    Ok(Value::Object(out))
}

fn schema_id(id: &str) -> Result<i32, RegistryError> {
    id.parse().map_err(|_| RegistryError::schema_not_found())
}

async fn schema_by_id(State(r): Registry, Path(id): Path<String>, Query(p): Params) -> Answer {
    let id = schema_id(&id)?;
    let stored = r
        .read()
        .schemas
        .get(&id)
        .cloned()
        .ok_or_else(RegistryError::schema_not_found)?;
    Ok(ok(Value::Object(schema_fields(&r, &stored, &p)?)))
}

async fn raw_schema_by_id(State(r): Registry, Path(id): Path<String>) -> Answer {
    let id = schema_id(&id)?;
    let stored = r
        .read()
        .schemas
        .get(&id)
        .cloned()
        .ok_or_else(RegistryError::schema_not_found)?;
    Ok(ok_raw(stored.schema))
}

fn ok_raw(schema: String) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], schema).into_response()
}

async fn subjects_of_id(State(r): Registry, Path(id): Path<String>, Query(p): Params) -> Answer {
    let id = schema_id(&id)?;
    let state = r.read();
    if !state.schemas.contains_key(&id) {
        return Err(RegistryError::schema_not_found());
    }
    let mut subjects: Vec<String> = state
        .versions_of(id, flag(&p, "deleted"))
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    Ok(ok(json!(subjects)))
}

async fn versions_of_id(State(r): Registry, Path(id): Path<String>, Query(p): Params) -> Answer {
    let id = schema_id(&id)?;
    let state = r.read();
    if !state.schemas.contains_key(&id) {
        return Err(RegistryError::schema_not_found());
    }
    let versions: Vec<Value> = state
        .versions_of(id, flag(&p, "deleted"))
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    Ok(ok(json!(versions)))
}

async fn subjects(State(r): Registry, Query(p): Params) -> Answer {
    let deleted = flag(&p, "deleted");
    let prefix = p.get("subjectPrefix").map(String::as_str).unwrap_or("");
    let state = r.read();
    let names: Vec<&String> = state
        .subjects
        .iter()
        .filter(|(name, s)| {
            name.starts_with(prefix)
                && (if deleted {
                    !s.versions.is_empty()
                } else {
                    s.latest_live().is_some()
                })
        })
        .map(|(name, _)| name)
        .collect();
    Ok(ok(json!(names)))
}

async fn versions(State(r): Registry, Path(subject): Path<String>, Query(p): Params) -> Answer {
    let deleted = flag(&p, "deleted");
    let state = r.read();
    let s = state
        .subjects
        .get(&subject)
        .filter(|s| {
            if deleted {
                !s.versions.is_empty()
            } else {
                s.latest_live().is_some()
            }
        })
        .ok_or_else(|| RegistryError::subject_not_found(&subject))?;
    let versions: Vec<i32> = s
        .versions
        .iter()
        .filter(|(_, v)| deleted || !v.deleted)
        .map(|(n, _)| *n)
        .collect();
    Ok(ok(json!(versions)))
}

async fn register(State(r): Registry, Path(subject): Path<String>, bytes: Bytes) -> Answer {
    let request: SchemaRequest = body(&bytes)?;
    let found = r.register(&subject, request).await?;
    Ok(ok(json!({"id": found.id})))
}

async fn lookup(
    State(r): Registry,
    Path(subject): Path<String>,
    Query(p): Params,
    bytes: Bytes,
) -> Answer {
    let request: SchemaRequest = body(&bytes)?;
    let found = r.lookup(&subject, &request, flag(&p, "deleted"))?;
    Ok(ok(version_json(&r, &found, &p)?))
}

async fn version(
    State(r): Registry,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
) -> Answer {
    let found = r.version(&subject, &version, flag(&p, "deleted"))?;
    Ok(ok(version_json(&r, &found, &p)?))
}

async fn raw_version(
    State(r): Registry,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
) -> Answer {
    let found = r.version(&subject, &version, flag(&p, "deleted"))?;
    Ok(ok_raw(found.stored.schema))
}

async fn referenced_by(
    State(r): Registry,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let found = r.version(&subject, &version, false)?;
    Ok(ok(json!(r.read().referenced_by(&subject, found.version))))
}

async fn delete_subject(
    State(r): Registry,
    Path(subject): Path<String>,
    Query(p): Params,
) -> Answer {
    Ok(ok(json!(
        r.delete_subject(&subject, flag(&p, "permanent")).await?
    )))
}

async fn delete_version(
    State(r): Registry,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
) -> Answer {
    Ok(ok(json!(
        r.delete_version(&subject, &version, flag(&p, "permanent"))
            .await?
    )))
}

fn compatibility_answer(problems: Vec<String>, p: &HashMap<String, String>) -> Response {
    let mut out = json!({"is_compatible": problems.is_empty()});
    if flag(p, "verbose") {
        out["messages"] = json!(problems);
    }
    ok(out)
}

async fn compatible_with_all(
    State(r): Registry,
    Path(subject): Path<String>,
    Query(p): Params,
    bytes: Bytes,
) -> Answer {
    let request: SchemaRequest = body(&bytes)?;
    Ok(compatibility_answer(
        r.test_compatibility(&subject, None, &request)?,
        &p,
    ))
}

async fn compatible_with_one(
    State(r): Registry,
    Path((subject, version)): Path<(String, String)>,
    Query(p): Params,
    bytes: Bytes,
) -> Answer {
    let request: SchemaRequest = body(&bytes)?;
    Ok(compatibility_answer(
        r.test_compatibility(&subject, Some(&version), &request)?,
        &p,
    ))
}

#[derive(serde::Deserialize)]
struct ConfigBody {
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

fn level_of(bytes: &Bytes) -> Result<String, RegistryError> {
    let config: ConfigBody = body(bytes)?;
    config
        .compatibility
        .or(config.compatibility_level)
        .map(|l| l.to_uppercase())
        .ok_or_else(|| RegistryError::new(42203, "Invalid compatibility level: none given"))
}

async fn global_config(State(r): Registry) -> Answer {
    let level = r
        .read()
        .compatibility
        .clone()
        .unwrap_or_else(|| "BACKWARD".into());
    Ok(ok(json!({"compatibilityLevel": level})))
}

async fn put_global_config(State(r): Registry, bytes: Bytes) -> Answer {
    let level = level_of(&bytes)?;
    r.set_compatibility(None, Some(&level)).await?;
    Ok(ok(json!({"compatibility": level})))
}

async fn subject_config(
    State(r): Registry,
    Path(subject): Path<String>,
    Query(p): Params,
) -> Answer {
    let state = r.read();
    let own = state
        .subjects
        .get(&subject)
        .and_then(|s| s.compatibility.clone());
    match own {
        Some(level) => Ok(ok(json!({"compatibilityLevel": level}))),
        None if flag(&p, "defaultToGlobal") => Ok(ok(
            json!({"compatibilityLevel": state.compatibility_of(&subject)}),
        )),
        None => Err(RegistryError::new(
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        )),
    }
}

async fn put_subject_config(
    State(r): Registry,
    Path(subject): Path<String>,
    bytes: Bytes,
) -> Answer {
    let level = level_of(&bytes)?;
    r.set_compatibility(Some(&subject), Some(&level)).await?;
    Ok(ok(json!({"compatibility": level})))
}

async fn delete_subject_config(State(r): Registry, Path(subject): Path<String>) -> Answer {
    let old = r
        .read()
        .subjects
        .get(&subject)
        .and_then(|s| s.compatibility.clone());
    let old = old.ok_or_else(|| RegistryError::subject_not_found(&subject))?;
    r.set_compatibility(Some(&subject), None).await?;
    Ok(ok(json!({"compatibilityLevel": old})))
}

#[derive(serde::Deserialize)]
struct ModeBody {
    mode: String,
}

async fn global_mode(State(r): Registry) -> Answer {
    Ok(ok(json!({"mode": r.read().mode_of(None)})))
}

async fn put_global_mode(State(r): Registry, bytes: Bytes) -> Answer {
    let mode = body::<ModeBody>(&bytes)?.mode.to_uppercase();
    r.set_mode(None, Some(&mode)).await?;
    Ok(ok(json!({"mode": mode})))
}

async fn subject_mode(State(r): Registry, Path(subject): Path<String>, Query(p): Params) -> Answer {
    let state = r.read();
    match state.subjects.get(&subject).and_then(|s| s.mode.clone()) {
        Some(mode) => Ok(ok(json!({"mode": mode}))),
        None if flag(&p, "defaultToGlobal") => Ok(ok(json!({"mode": state.mode_of(None)}))),
        None => Err(RegistryError::new(
            40409,
            format!("Subject '{subject}' does not have subject-level mode configured"),
        )),
    }
}

async fn put_subject_mode(State(r): Registry, Path(subject): Path<String>, bytes: Bytes) -> Answer {
    let mode = body::<ModeBody>(&bytes)?.mode.to_uppercase();
    r.set_mode(Some(&subject), Some(&mode)).await?;
    Ok(ok(json!({"mode": mode})))
}

async fn delete_subject_mode(State(r): Registry, Path(subject): Path<String>) -> Answer {
    let old = r.read().subjects.get(&subject).and_then(|s| s.mode.clone());
    let old = old.ok_or_else(|| RegistryError::subject_not_found(&subject))?;
    r.set_mode(Some(&subject), None).await?;
    Ok(ok(json!({"mode": old})))
}
