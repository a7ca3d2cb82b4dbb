//! `json-schema`: the standard JSON Schema serializer. Checks that each
//! payload is a JSON document valid under its registered schema (with the
//! `jsonschema` crate; the schemas it references are registered as
//! resources under their reference names, so `$ref`s to them resolve
//! without any network). Validators are built once per schema id.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use jsonschema::{Retrieve, Uri, Validator};
use weir_plugin::serializer::{Payloads, Schema, Serializer};

thread_local! {
    static VALIDATORS: RefCell<HashMap<i32, Rc<Validator>>> = RefCell::new(HashMap::new());
}

const KEPT: usize = 256;

fn validator(schema: &Schema) -> Result<Rc<Validator>, String> {
    if let Some(found) = VALIDATORS.with(|v| v.borrow().get(&schema.id).cloned()) {
        return Ok(found);
    }
    if schema.schema_type != "JSON" {
        return Err(format!(
            "schema {} is {}, not JSON: bind a serializer for that format",
            schema.id, schema.schema_type
        ));
    }
    let root: serde_json::Value =
        serde_json::from_str(&schema.text).map_err(|e| format!("schema {}: {e}", schema.id))?;
    let mut referenced = HashMap::new();
    for (name, text) in &schema.references {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("reference {name}: {e}"))?;
        referenced.insert(name.clone(), value);
    }
    let built = Rc::new(
        jsonschema::options()
            .with_retriever(References(referenced))
            .build(&root)
            .map_err(|e| format!("schema {}: {e}", schema.id))?,
    );
    VALIDATORS.with(|v| {
        let mut v = v.borrow_mut();
        if v.len() >= KEPT {
            v.clear();
        }
        v.insert(schema.id, built.clone());
    });
    Ok(built)
}

/// `$ref`s resolve to the referenced schemas, by the names they were
/// registered with; nothing is fetched.
struct References(HashMap<String, serde_json::Value>);

impl Retrieve for References {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let uri = uri.as_str();
        self.0
            .iter()
            .find(|(name, _)| uri == name.as_str() || uri.ends_with(&format!("/{name}")))
            .map(|(_, schema)| schema.clone())
            .ok_or_else(|| format!("{uri} is not among the schema's references").into())
    }
}

struct JsonSchema;

impl Serializer for JsonSchema {
    fn validate(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let validator = validator(schema)?;
        Ok(payloads
            .iter()
            .map(
                |payload| match serde_json::from_slice::<serde_json::Value>(payload) {
                    Err(e) => Some(format!("not JSON: {e}")),
                    Ok(document) => validator
                        .iter_errors(&document)
                        .next()
                        .map(|e| format!("{} (at {})", e, e.instance_path())),
                },
            )
            .collect())
    }

    /// JSON is its own JSON: each valid document, as it is.
    fn decode(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let verdicts = Self::validate(schema, payloads)?;
        Ok(payloads
            .iter()
            .zip(verdicts)
            .map(|(payload, verdict)| match verdict {
                None => Some(String::from_utf8_lossy(payload).into_owned()),
                Some(_) => None,
            })
            .collect())
    }

    /// Each document as it is, if valid under the schema.
    fn encode(
        schema: &Schema,
        _like: &Payloads,
        json: &Payloads,
    ) -> Result<Vec<Result<Vec<u8>, String>>, String> {
        let verdicts = Self::validate(schema, json)?;
        Ok(json
            .iter()
            .zip(verdicts)
            .map(|(text, verdict)| match verdict {
                None => Ok(text.to_vec()),
                Some(why) => Err(why),
            })
            .collect())
    }
}

weir_plugin::export_serializer!(JsonSchema);
