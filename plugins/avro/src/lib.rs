//! `avro`: the standard Avro serializer. Checks that each payload is one
//! Avro datum of its registered schema (named types from the schema's
//! references resolved by name) with nothing after it, decoding it with
//! the Apache Avro project's crate; converts data to JSON and back for
//! typed access. Schemas are parsed once per id and kept
//! (an id always names the same schema).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use weir_plugin::serializer::{Payloads, Schema as Registered, Serializer};

/// A parsed schema and the named types it references.
struct Parsed {
    schema: Schema,
    references: Vec<Schema>,
}

thread_local! {
    static PARSED: RefCell<HashMap<i32, Rc<Parsed>>> = RefCell::new(HashMap::new());
}

/// Most schemas kept parsed; past it the cache starts again.
const KEPT: usize = 256;

fn parsed(registered: &Registered) -> Result<Rc<Parsed>, String> {
    if let Some(found) = PARSED.with(|p| p.borrow().get(&registered.id).cloned()) {
        return Ok(found);
    }
    if registered.schema_type != "AVRO" {
        return Err(format!(
            "schema {} is {}, not AVRO: bind a serializer for that format",
            registered.id, registered.schema_type
        ));
    }
    let texts: Vec<&str> = registered
        .references
        .iter()
        .map(|(_, t)| t.as_str())
        .collect();
    let (schema, references) = if texts.is_empty() {
        (
            Schema::parse_str(&registered.text).map_err(|e| e.to_string())?,
            Vec::new(),
        )
    } else {
        Schema::parse_str_with_list(&registered.text, texts).map_err(|e| e.to_string())?
    };
    let found = Rc::new(Parsed { schema, references });
    PARSED.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() >= KEPT {
            p.clear();
        }
        p.insert(registered.id, found.clone());
    });
    Ok(found)
}

/// Reads each payload as one datum of `parsed`'s schema, nothing after it.
fn read_all(parsed: &Parsed, payloads: &Payloads) -> Result<Vec<Result<Value, String>>, String> {
    // Built once per call: the names resolved once for all payloads.
    let reader = GenericDatumReader::builder(&parsed.schema)
        .writer_schemata(parsed.references.iter().collect())
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    Ok(payloads
        .iter()
        .map(|payload| {
            let mut rest = payload;
            match reader.read_value(&mut rest) {
                Err(e) => Err(format!("not an Avro datum of its schema: {e}")),
                Ok(_) if !rest.is_empty() => {
                    Err(format!("{} bytes after the Avro datum", rest.len()))
                }
                Ok(value) => Ok(value),
            }
        })
        .collect())
}

struct Avro;

impl Serializer for Avro {
    fn validate(schema: &Registered, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let parsed = parsed(schema)?;
        Ok(read_all(&parsed, payloads)?
            .into_iter()
            .map(|r| r.err())
            .collect())
    }

    /// Records and maps become objects, unions their branch's value,
    /// enums their symbol, bytes and fixed arrays of numbers.
    fn decode(schema: &Registered, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let parsed = parsed(schema)?;
        Ok(read_all(&parsed, payloads)?
            .into_iter()
            .map(|r| {
                let json = serde_json::Value::try_from(r.ok()?).ok()?;
                Some(json.to_string())
            })
            .collect())
    }

    fn encode(
        schema: &Registered,
        _like: &Payloads,
        json: &Payloads,
    ) -> Result<Vec<Result<Vec<u8>, String>>, String> {
        let parsed = parsed(schema)?;
        let references: Vec<&Schema> = parsed.references.iter().collect();
        let writer = GenericDatumWriter::builder(&parsed.schema)
            .schemata(references.clone())
            .map_err(|e| e.to_string())?
            .build()
            .map_err(|e| e.to_string())?;
        Ok(json
            .iter()
            .map(|text| {
                let json: serde_json::Value =
                    serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
                let value = Value::try_from(json).map_err(|e| e.to_string())?;
                let value = value
                    .resolve_schemata(&parsed.schema, references.clone())
                    .map_err(|e| format!("does not fit the Avro schema: {e}"))?;
                writer
                    .write_value_to_vec(value)
                    .map_err(|e| format!("does not fit the Avro schema: {e}"))
            })
            .collect())
    }
}

weir_plugin::export_serializer!(Avro);
