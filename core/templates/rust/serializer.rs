//! {{name}}: a serializer for a custom format, CSV lines. A schema is a
//! JSON document registered with schemaType JSON that names the columns,
//! `{"title": "orders", "columns": ["id", "customer", "total"]}`; a payload
//! is valid when it is one UTF-8 line with exactly that many
//! comma-separated fields, and decodes to a JSON object of those columns
//! (`{"id":"7","customer":"c7","total":"10"}`, every field a string),
//! which is what other plugins' typed access (`host::field`) reads.
//! Change `check`, `decode_line` and `encode_line` to your own format's.

use weir_plugin::serializer::{Payloads, Schema, Serializer};

/// The column names a schema lists.
fn columns(schema: &Schema) -> Result<Vec<String>, String> {
    // A plain scan keeps the plugin small; a real one would parse JSON.
    let start = schema
        .text
        .find("\"columns\"")
        .and_then(|at| schema.text[at..].find('[').map(|open| at + open))
        .ok_or_else(|| format!("schema {} names no \"columns\"", schema.id))?;
    let end = schema.text[start..]
        .find(']')
        .ok_or_else(|| format!("schema {}: unterminated \"columns\"", schema.id))?;
    let list = &schema.text[start + 1..start + end];
    Ok(list.split('"').skip(1).step_by(2).map(str::to_string).collect())
}

/// A JSON string literal.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A valid line as a JSON object of its columns.
fn decode_line(columns: &[String], payload: &[u8]) -> Option<String> {
    if check(columns.len(), payload).is_some() {
        return None;
    }
    let line = std::str::from_utf8(payload).ok()?;
    let members: Vec<String> = columns
        .iter()
        .zip(line.split(','))
        .map(|(name, field)| format!("{}:{}", quoted(name), quoted(field)))
        .collect();
    Some(format!("{{{}}}", members.join(",")))
}

/// The value of member `name` of a flat JSON object: a string's contents
/// (escapes other than \" and \\ are left as written), or a number's or
/// boolean's text. A plain scan, as `columns`.
fn member(json: &str, name: &str) -> Option<String> {
    let key = quoted(name);
    let at = json.find(&key)? + key.len();
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(body) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(chars.next()?),
                c => out.push(c),
            }
        }
        return None;
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_string())
}

/// A JSON object of the columns as a line, or why it cannot be one.
fn encode_line(columns: &[String], json: &[u8]) -> Result<Vec<u8>, String> {
    let json = std::str::from_utf8(json).map_err(|_| "not UTF-8".to_string())?;
    let mut fields = Vec::with_capacity(columns.len());
    for name in columns {
        let field = member(json, name).ok_or_else(|| format!("no column {name}"))?;
        if field.contains([',', '\n']) {
            return Err(format!("column {name} holds a comma or a newline"));
        }
        fields.push(field);
    }
    Ok(fields.join(",").into_bytes())
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
        let columns = columns(schema)?.len();
        Ok(payloads.iter().map(|p| check(columns, p)).collect())
    }

    fn decode(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let columns = columns(schema)?;
        Ok(payloads.iter().map(|p| decode_line(&columns, p)).collect())
    }

    fn encode(
        schema: &Schema,
        _like: &Payloads,
        json: &Payloads,
    ) -> Result<Vec<Result<Vec<u8>, String>>, String> {
        let columns = columns(schema)?;
        Ok(json.iter().map(|j| encode_line(&columns, j)).collect())
    }
}

weir_plugin::export_serializer!(Plugin);
