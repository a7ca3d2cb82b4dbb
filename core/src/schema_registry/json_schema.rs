//! JSON Schemas: parsed as JSON (an object or a boolean, with known `type`
//! names), and compatible when every document the writer's schema accepts
//! the reader's accepts too. The rules are Confluent's, for the keywords
//! that decide them: types (an integer is a number), properties in open
//! and closed content models (`additionalProperties`), `required`, `enum`,
//! `items` and the length, size and range bounds. Other keywords (`$ref`
//! across schemas, `oneOf`, patterns) are not compared.

use serde_json::{Map, Value};

const TYPE_NAMES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

pub fn parse(schema: &str) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(schema).map_err(|e| format!("Invalid schema: not JSON: {e}"))?;
    check_types(&value)?;
    Ok(value)
}

fn check_types(schema: &Value) -> Result<(), String> {
    match schema {
        Value::Bool(_) => Ok(()),
        Value::Object(map) => {
            for name in types_named(map) {
                if !TYPE_NAMES.contains(&name.as_str()) {
                    return Err(format!("Invalid schema: unknown type {name:?}"));
                }
            }
            for child in ["properties", "definitions", "$defs"] {
                if let Some(Value::Object(props)) = map.get(child) {
                    props.values().try_for_each(check_types)?;
                }
            }
            if let Some(items) = map.get("items") {
                check_types(items)?;
            }
            Ok(())
        }
        _ => Err("Invalid schema: a JSON Schema is an object or a boolean".into()),
    }
}

fn types_named(map: &Map<String, Value>) -> Vec<String> {
    match map.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

pub fn can_read(reader: &Value, writer: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    compare("#", reader, writer, &mut problems);
    problems
}

/// Whether a schema accepts anything (`true`, `{}`).
fn accepts_all(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(map) => map.keys().all(|k| {
            matches!(
                k.as_str(),
                "$schema" | "$id" | "title" | "description" | "default" | "examples"
            )
        }),
        _ => false,
    }
}

fn compare(at: &str, reader: &Value, writer: &Value, out: &mut Vec<String>) {
    if accepts_all(reader) || writer == &Value::Bool(false) {
        return;
    }
    let (Value::Object(r), Value::Object(w)) = (reader, writer) else {
        if reader == &Value::Bool(false) {
            out.push(format!("{at}: the reader accepts nothing"));
        }
        return;
    };
    let (rt, wt) = (types_named(r), types_named(w));
    if !rt.is_empty() {
        let widened =
            |t: &String| rt.contains(t) || (t == "integer" && rt.iter().any(|r| r == "number"));
        if wt.is_empty() {
            out.push(format!(
                "{at}: TYPE_NARROWED (the writer's type was unconstrained)"
            ));
        } else if let Some(t) = wt.iter().find(|t| !widened(t)) {
            out.push(format!("{at}: TYPE_CHANGED ({t} is not one of {rt:?})"));
        }
    }
    compare_enum(at, r, w, out);
    compare_bounds(at, r, w, out);
    compare_object(at, r, w, out);
    if let Some(ri) = r.get("items") {
        let any = Value::Bool(true);
        compare(
            &format!("{at}/items"),
            ri,
            w.get("items").unwrap_or(&any),
            out,
        );
    }
}

fn compare_enum(at: &str, r: &Map<String, Value>, w: &Map<String, Value>, out: &mut Vec<String>) {
    if let Some(Value::Array(re)) = r.get("enum") {
        match w.get("enum") {
            Some(Value::Array(we)) => {
                if let Some(v) = we.iter().find(|v| !re.contains(v)) {
                    out.push(format!(
                        "{at}: ENUM_ARRAY_NARROWED ({v} is no longer allowed)"
                    ));
                }
            }
            _ => out.push(format!("{at}: ENUM_ARRAY_NARROWED (an enum was added)")),
        }
    }
}

/// Upper bounds may not shrink, lower bounds may not grow.
fn compare_bounds(at: &str, r: &Map<String, Value>, w: &Map<String, Value>, out: &mut Vec<String>) {
    for (key, upper) in [
        ("maxLength", true),
        ("maxItems", true),
        ("maxProperties", true),
        ("maximum", true),
        ("minLength", false),
        ("minItems", false),
        ("minProperties", false),
        ("minimum", false),
    ] {
        let Some(rv) = r.get(key).and_then(Value::as_f64) else {
            continue;
        };
        let stricter = match w.get(key).and_then(Value::as_f64) {
            None => true,
            Some(wv) if upper => rv < wv,
            Some(wv) => rv > wv,
        };
        if stricter {
            out.push(format!("{at}: {key} is stricter ({rv})"));
        }
    }
}

fn compare_object(at: &str, r: &Map<String, Value>, w: &Map<String, Value>, out: &mut Vec<String>) {
    let empty = Map::new();
    let props = |m: &Map<String, Value>| match m.get("properties") {
        Some(Value::Object(p)) => p.clone(),
        _ => empty.clone(),
    };
    let (rp, wp) = (props(r), props(w));
    let reader_closed = r.get("additionalProperties") == Some(&Value::Bool(false));
    let writer_closed = w.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, ws) in &wp {
        match rp.get(name) {
            Some(rs) => compare(&format!("{at}/properties/{name}"), rs, ws, out),
            None if reader_closed => out.push(format!(
                "{at}: PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL ({name})"
            )),
            None => {
                if let Some(extra) = r.get("additionalProperties").filter(|v| v.is_object()) {
                    compare(&format!("{at}/properties/{name}"), extra, ws, out);
                }
            }
        }
    }
    for (name, rs) in &rp {
        if !wp.contains_key(name) && !writer_closed && !accepts_all(rs) {
            out.push(format!(
                "{at}: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL ({name}: the writer's documents may hold any value there)"
            ));
        }
    }
    let required = |m: &Map<String, Value>| -> Vec<String> {
        match m.get("required") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    };
    let wr = required(w);
    for name in required(r) {
        if !wr.contains(&name) {
            out.push(format!(
                "{at}: REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL ({name})"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        parse(text).unwrap()
    }

    #[test]
    fn closed_models_may_gain_optional_properties() {
        let v1 = s(
            r#"{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":false}"#,
        );
        let v2 = s(
            r#"{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}},"additionalProperties":false}"#,
        );
        assert!(can_read(&v2, &v1).is_empty(), "{:?}", can_read(&v2, &v1));
        // The old closed schema refuses documents with the new property.
        assert!(!can_read(&v1, &v2).is_empty());
    }

    #[test]
    fn required_types_and_enums() {
        let v1 = s(r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#);
        let wider = s(r#"{"type":"object","properties":{"n":{"type":"number"}}}"#);
        let required =
            s(r#"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"#);
        let string = s(r#"{"type":"object","properties":{"n":{"type":"string"}}}"#);
        assert!(can_read(&wider, &v1).is_empty());
        assert!(!can_read(&v1, &wider).is_empty());
        assert!(!can_read(&required, &v1).is_empty());
        assert!(!can_read(&string, &v1).is_empty());
        let colors = s(r#"{"enum":["red","green"]}"#);
        let fewer = s(r#"{"enum":["red"]}"#);
        assert!(can_read(&colors, &fewer).is_empty());
        assert!(!can_read(&fewer, &colors).is_empty());
        assert!(parse(r#"{"type":"strin"}"#).is_err());
        assert!(parse("[1]").is_err());
    }
}
