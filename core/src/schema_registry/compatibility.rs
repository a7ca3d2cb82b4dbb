//! Parsing a schema of any of the three formats, and the compatibility
//! levels: each level is "can the new schema read data written with the old
//! one" (BACKWARD), the reverse (FORWARD) or both (FULL), against the
//! latest version or, for the `_TRANSITIVE` levels, every live one.

use super::{avro, json_schema, protobuf};

pub const LEVELS: &[&str] = &[
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
];

pub const TYPES: &[&str] = &["AVRO", "PROTOBUF", "JSON"];

/// A schema and, by name, every schema it references (transitively), as
/// texts: what parsing needs.
pub struct Resolved<'a> {
    pub schema_type: &'a str,
    pub schema: &'a str,
    pub references: Vec<(String, String)>,
}

/// A schema parsed into its format's model.
pub enum Parsed {
    Avro(apache_avro::Schema),
    Json(serde_json::Value),
    Protobuf(protobuf::Compiled),
}

/// Parses a schema, or says why it is not one (Confluent's 42201).
pub fn parse(resolved: &Resolved) -> Result<Parsed, String> {
    match resolved.schema_type {
        "AVRO" => avro::parse(resolved.schema, &resolved.references).map(Parsed::Avro),
        "JSON" => json_schema::parse(resolved.schema).map(Parsed::Json),
        "PROTOBUF" => {
            protobuf::compile(resolved.schema, &resolved.references).map(Parsed::Protobuf)
        }
        other => Err(format!("unknown schema type {other}")),
    }
}

/// Why `reader` cannot read what `writer` wrote (empty: it can).
pub fn can_read(reader: &Parsed, writer: &Parsed) -> Vec<String> {
    match (reader, writer) {
        (Parsed::Avro(r), Parsed::Avro(w)) => avro::can_read(r, w),
        (Parsed::Json(r), Parsed::Json(w)) => json_schema::can_read(r, w),
        (Parsed::Protobuf(r), Parsed::Protobuf(w)) => protobuf::can_read(r, w),
        _ => vec!["the schema type changed".into()],
    }
}

/// The problems `new` has under `level` against `olds` (the subject's live
/// versions, oldest first).
pub fn check(level: &str, new: &Parsed, olds: &[Parsed]) -> Vec<String> {
    let against: &[Parsed] = if level.ends_with("_TRANSITIVE") {
        olds
    } else {
        olds.last().map(std::slice::from_ref).unwrap_or(&[])
    };
    let backward = level.starts_with("BACKWARD") || level.starts_with("FULL");
    let forward = level.starts_with("FORWARD") || level.starts_with("FULL");
    let mut problems = Vec::new();
    for old in against {
        if backward {
            problems.extend(can_read(new, old).into_iter().map(|p| {
                format!(
                    "{p} (the new schema cannot read data written with an earlier one: {level})"
                )
            }));
        }
        if forward {
            problems.extend(can_read(old, new).into_iter().map(|p| {
                format!(
                    "{p} (an earlier schema cannot read data written with the new one: {level})"
                )
            }));
        }
    }
    problems
}
