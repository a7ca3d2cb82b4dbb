//! `protobuf`: the standard Protobuf serializer. Each payload starts with
//! Confluent's message indexes (which message of the schema's file it is:
//! a zigzag varint count, then that many zigzag varint indexes, or a
//! single 0 for the first message), then the message, which must decode as
//! that message type. Schemas (`.proto` source or a base64
//! `FileDescriptorProto`, imports from the references and Google's
//! well-known types) are compiled with protox once per id, as the
//! broker's registry compiles them (core/src/schema_registry/protobuf.rs:
//! the same steps, built for the broker rather than the sandbox).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use base64::Engine;
use prost::Message;
use prost_reflect::{DynamicMessage, FileDescriptor, MessageDescriptor};
use protox::file::{File, FileResolver, GoogleFileResolver};
use weir_plugin::serializer::{Payloads, Schema, Serializer};

thread_local! {
    static FILES: RefCell<HashMap<i32, Rc<FileDescriptor>>> = RefCell::new(HashMap::new());
}

const KEPT: usize = 256;
const ROOT: &str = "__schema__.proto";

struct Resolver {
    files: HashMap<String, File>,
    google: GoogleFileResolver,
}

impl FileResolver for Resolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.files.get(name) {
            Some(file) => Ok(file.clone()),
            None => self.google.open_file(name),
        }
    }
}

fn open(name: &str, text: &str) -> Result<File, String> {
    let trimmed = text.trim();
    if !trimmed.contains(char::is_whitespace) {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(trimmed) {
            return File::decode_file_descriptor_proto(&bytes[..]).map_err(|e| e.to_string());
        }
    }
    File::from_source(name, text).map_err(|e| e.to_string())
}

fn compile(schema: &Schema) -> Result<Rc<FileDescriptor>, String> {
    if let Some(found) = FILES.with(|f| f.borrow().get(&schema.id).cloned()) {
        return Ok(found);
    }
    if schema.schema_type != "PROTOBUF" {
        return Err(format!(
            "schema {} is {}, not PROTOBUF: bind a serializer for that format",
            schema.id, schema.schema_type
        ));
    }
    let root = open(ROOT, &schema.text)?;
    let root_name = match root.name() {
        "" => ROOT.to_string(),
        name => name.to_string(),
    };
    let mut files = HashMap::new();
    for (name, text) in &schema.references {
        files.insert(name.clone(), open(name, text)?);
    }
    files.insert(root_name.clone(), root);
    let mut compiler = protox::Compiler::with_file_resolver(Resolver {
        files,
        google: GoogleFileResolver::new(),
    });
    compiler
        .include_imports(true)
        .open_file(&root_name)
        .map_err(|e| e.to_string())?;
    let file = compiler
        .descriptor_pool()
        .get_file_by_name(&root_name)
        .ok_or("the schema compiled to nothing")?;
    let file = Rc::new(file);
    FILES.with(|f| {
        let mut f = f.borrow_mut();
        if f.len() >= KEPT {
            f.clear();
        }
        f.insert(schema.id, file.clone());
    });
    Ok(file)
}

fn varint(bytes: &mut &[u8]) -> Option<i64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    None
}

/// The message type the indexes name, and the message's bytes.
fn message<'a>(
    file: &FileDescriptor,
    mut payload: &'a [u8],
) -> Result<(MessageDescriptor, &'a [u8]), String> {
    let count = varint(&mut payload).ok_or("no message indexes")?;
    let indexes: Vec<i64> = if count == 0 {
        vec![0]
    } else {
        (0..count)
            .map(|_| varint(&mut payload).ok_or("truncated message indexes"))
            .collect::<Result<_, _>>()?
    };
    let mut found = file
        .messages()
        .nth(indexes[0].max(0) as usize)
        .ok_or_else(|| format!("no message {} in the schema", indexes[0]))?;
    for i in &indexes[1..] {
        let nested = found.child_messages().nth((*i).max(0) as usize);
        found = nested.ok_or_else(|| format!("no nested message {i} in {}", found.full_name()))?;
    }
    Ok((found, payload))
}

struct Protobuf;

impl Serializer for Protobuf {
    fn validate(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let file = compile(schema)?;
        Ok(payloads
            .iter()
            .map(|payload| match message(&file, payload) {
                Err(why) => Some(why),
                Ok((descriptor, bytes)) => DynamicMessage::decode(descriptor.clone(), bytes)
                    .err()
                    .map(|e| format!("not a {}: {e}", descriptor.full_name())),
            })
            .collect())
    }

    /// Protobuf's canonical JSON mapping (field names in lowerCamelCase
    /// as `json_name` says; 64-bit integers as strings).
    fn decode(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String> {
        let file = compile(schema)?;
        Ok(payloads
            .iter()
            .map(|payload| {
                let (descriptor, bytes) = message(&file, payload).ok()?;
                let decoded = DynamicMessage::decode(descriptor, bytes).ok()?;
                serde_json::to_string(&decoded).ok()
            })
            .collect())
    }

    fn encode(
        schema: &Schema,
        like: &Payloads,
        json: &Payloads,
    ) -> Result<Vec<Result<Vec<u8>, String>>, String> {
        let file = compile(schema)?;
        Ok(like
            .iter()
            .zip(json.iter())
            .map(|(like, text)| {
                // The message type and its indexes, as in the record replaced.
                let (descriptor, body) = message(&file, like)?;
                let indexes = &like[..like.len() - body.len()];
                let mut reader = serde_json::Deserializer::from_slice(text);
                let decoded = DynamicMessage::deserialize(descriptor.clone(), &mut reader)
                    .map_err(|e| format!("does not fit {}: {e}", descriptor.full_name()))?;
                let mut out = indexes.to_vec();
                out.extend_from_slice(&decoded.encode_to_vec());
                Ok(out)
            })
            .collect())
    }
}

weir_plugin::export_serializer!(Protobuf);
