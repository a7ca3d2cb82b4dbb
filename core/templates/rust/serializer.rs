//! {{name}}: a serializer for a custom format, CSV lines. A schema is a
//! JSON document registered with schemaType JSON that names the columns,
//! `{"title": "orders", "columns": ["id", "customer", "total"]}`; a payload
//! is valid when it is one UTF-8 line with exactly that many
//! comma-separated fields. Change `check` to your own format's rules.

use weir_plugin::serializer::{Payloads, Schema, Serializer};

/// The columns a schema names.
fn columns(schema: &Schema) -> Result<usize, String> {
    // A plain scan keeps the plugin small; a real one would parse JSON.
    let start = schema
        .text
        .find("\"columns\"")
        .and_then(|at| schema.text[at..].find('[').map(|open| at + open))
        .ok_or_else(|| format!("schema {} names no \"columns\"", schema.id))?;
    let end = schema.text[start..]
        .find(']')
        .ok_or_else(|| format!("schema {}: unterminated \"columns\"", schema.id))?;
    Ok(schema.text[start + 1..start + end].matches('"').count() / 2)
}

fn check(columns: usize, payload: &[u8]) -> Option<String> {
    let Ok(line) = std::str::from_utf8(payload) else {
        return Some("not UTF-8".into());
    };
    if line.contains('\n') {
        return Some("more than one line".into());
    }
    let fields = line.split(',').count();
    (fields != columns).then(|| format!("{fields} fields, the schema has {columns} columns"))
}

struct Plugin;

impl Serializer for Plugin {
    fn validate(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let columns = columns(schema)?;
        Ok(payloads.iter().map(|p| check(columns, p)).collect())
    }
}

weir_plugin::export_serializer!(Plugin);
