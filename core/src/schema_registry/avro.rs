//! Avro schemas, with the Apache Avro project's crate: parsing (named types
//! from references resolved by name) and its schema-resolution rules for
//! compatibility.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

pub fn parse(schema: &str, references: &[(String, String)]) -> Result<Schema, String> {
    if references.is_empty() {
        return Schema::parse_str(schema).map_err(|e| format!("Invalid schema: {e}"));
    }
    let list: Vec<&str> = references.iter().map(|(_, s)| s.as_str()).collect();
    Schema::parse_str_with_list(schema, list)
        .map(|(schema, _)| schema)
        .map_err(|e| format!("Invalid schema: {e}"))
}

pub fn can_read(reader: &Schema, writer: &Schema) -> Vec<String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(_) => Vec::new(),
        Err(e) => vec![e.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &str) -> Schema {
        parse(
            &format!(r#"{{"type":"record","name":"Order","fields":[{fields}]}}"#),
            &[],
        )
        .unwrap()
    }

    #[test]
    fn added_fields_need_defaults_to_read_old_data() {
        let v1 = record(r#"{"name":"id","type":"long"}"#);
        let with_default =
            record(r#"{"name":"id","type":"long"},{"name":"note","type":"string","default":""}"#);
        let without = record(r#"{"name":"id","type":"long"},{"name":"note","type":"string"}"#);
        assert!(can_read(&with_default, &v1).is_empty());
        assert!(!can_read(&without, &v1).is_empty());
        // The old schema reads new data either way (it ignores the field).
        assert!(can_read(&v1, &without).is_empty());
    }

    #[test]
    fn promotions_go_one_way() {
        let int = record(r#"{"name":"n","type":"int"}"#);
        let long = record(r#"{"name":"n","type":"long"}"#);
        assert!(can_read(&long, &int).is_empty());
        assert!(!can_read(&int, &long).is_empty());
    }
}
