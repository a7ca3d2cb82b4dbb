//! `avro`: the standard Avro serializer. Checks that each payload is one
//! Avro datum of its registered schema (named types from the schema's
//! references resolved by name) with nothing after it, decoding it with
//! the Apache Avro project's crate. Schemas are parsed once per id and kept
//! (an id always names the same schema).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use apache_avro::reader::datum::GenericDatumReader;
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
    let texts: Vec<&str> = registered.references.iter().map(|(_, t)| t.as_str()).collect();
    let (schema, references) = if texts.is_empty() {
        (Schema::parse_str(&registered.text).map_err(|e| e.to_string())?, Vec::new())
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

struct Avro;

impl Serializer for Avro {
    fn validate(schema: &Registered, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let parsed = parsed(schema)?;
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
                    Err(e) => Some(format!("not an Avro datum of its schema: {e}")),
                    Ok(_) if !rest.is_empty() => {
                        Some(format!("{} bytes after the Avro datum", rest.len()))
                    }
                    Ok(_) => None,
                }
            })
            .collect())
    }
}

weir_plugin::export_serializer!(Avro);
