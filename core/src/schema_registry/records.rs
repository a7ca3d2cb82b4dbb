//! The records of the `_schemas` topic, in Confluent Schema Registry's own
//! JSON format, so the topic reads the same to Kafka tools: the key names
//! what a record is about (a subject's version, a subject's or the global
//! compatibility level or mode), the value its state, a null value that it
//! is gone (compaction keeps the last record per key).

use serde::{Deserialize, Serialize};

/// The topic the registry keeps its state in (Confluent's default name).
pub const TOPIC: &str = "_schemas";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keytype", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Key {
    Schema {
        subject: String,
        version: i32,
        magic: i32,
    },
    Config {
        subject: Option<String>,
        magic: i32,
    },
    Mode {
        subject: Option<String>,
        magic: i32,
    },
    /// Written by Confluent's registry; read (all versions up to `version`
    /// deleted) so a topic it wrote loads here.
    DeleteSubject {
        subject: String,
        magic: i32,
    },
    /// Another Confluent record kind (NOOP, CLEAR_SUBJECT, …): skipped.
    #[serde(other)]
    Other,
}

impl Key {
    pub fn schema(subject: &str, version: i32) -> Key {
        Key::Schema {
            subject: subject.to_string(),
            version,
            magic: 1,
        }
    }

    pub fn config(subject: Option<&str>) -> Key {
        Key::Config {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }

    pub fn mode(subject: Option<&str>) -> Key {
        Key::Mode {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }
}

/// A reference from one schema to another registered one, by the name the
/// referring schema uses (an Avro full name, a `.proto` import path, a
/// JSON Schema `$ref` URL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    /// AVRO (the default, left out as Confluent leaves it), PROTOBUF, JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValue {
    pub compatibility_level: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_confluents() {
        let key = serde_json::to_string(&Key::schema("orders-value", 3)).unwrap();
        assert_eq!(
            key,
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}"#
        );
        let key = serde_json::to_string(&Key::config(None)).unwrap();
        assert_eq!(key, r#"{"keytype":"CONFIG","subject":null,"magic":0}"#);
        let other: Key = serde_json::from_str(r#"{"keytype":"NOOP","magic":0}"#).unwrap();
        assert_eq!(other, Key::Other);
    }
}
