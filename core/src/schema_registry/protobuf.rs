//! Protobuf schemas, compiled with protox: a schema is `.proto` source or,
//! as confluent-kafka's serializers send it, a base64 `FileDescriptorProto`;
//! its imports are the references' schemas, by import path, and Google's
//! well-known types. Compatibility follows the wire format, as Confluent's
//! rules do: a reader can read a writer's messages unless a message or the
//! package is gone, a field number changed to a kind it cannot decode,
//! between singular and repeated, or a required field was added.

use std::collections::HashMap;

use base64::Engine;
use prost::Message;
use prost_reflect::{Cardinality, DescriptorPool, FileDescriptor, Kind, MessageDescriptor};
use protox::file::{File, FileResolver, GoogleFileResolver};

/// A compiled schema: its file among the files it imports.
pub struct Compiled {
    pub file: FileDescriptor,
}

impl Compiled {
    /// The schema as a base64 `FileDescriptorProto` (`?format=serialized`).
    pub fn serialized(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(self.file.file_descriptor_proto().encode_to_vec())
    }
}

/// The name a schema given as source is compiled under.
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

fn open(name: &str, schema: &str) -> Result<File, String> {
    let trimmed = schema.trim();
    let looks_encoded = !trimmed.contains(' ') && !trimmed.contains('\n');
    if looks_encoded {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(trimmed) {
            return File::decode_file_descriptor_proto(&bytes[..])
                .map_err(|e| format!("Invalid schema: not a FileDescriptorProto: {e}"));
        }
    }
    File::from_source(name, schema).map_err(|e| format!("Invalid schema: {e}"))
}

pub fn compile(schema: &str, references: &[(String, String)]) -> Result<Compiled, String> {
    let root = open(ROOT, schema)?;
    let root_name = match root.name() {
        "" => ROOT.to_string(),
        name => name.to_string(),
    };
    let mut files = HashMap::new();
    for (name, text) in references {
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
        .map_err(|e| format!("Invalid schema: {e}"))?;
    let pool: DescriptorPool = compiler.descriptor_pool();
    let file = pool
        .get_file_by_name(&root_name)
        .ok_or_else(|| "Invalid schema: it compiled to nothing".to_string())?;
    Ok(Compiled { file })
}

pub fn can_read(reader: &Compiled, writer: &Compiled) -> Vec<String> {
    let mut out = Vec::new();
    if reader.file.package_name() != writer.file.package_name() {
        out.push(format!(
            "PACKAGE_CHANGED ({} to {})",
            writer.file.package_name(),
            reader.file.package_name()
        ));
    }
    let mut stack: Vec<MessageDescriptor> = writer.file.messages().collect();
    while let Some(written) = stack.pop() {
        stack.extend(written.child_messages().filter(|m| !m.is_map_entry()));
        let Some(read) = reader
            .file
            .parent_pool()
            .get_message_by_name(written.full_name())
        else {
            out.push(format!("MESSAGE_REMOVED ({})", written.full_name()));
            continue;
        };
        for field in written.fields() {
            let Some(other) = read.get_field(field.number()) else {
                continue;
            };
            let at = format!(
                "{}.{} (field {})",
                read.full_name(),
                other.name(),
                field.number()
            );
            if field.is_list() != other.is_list() || field.is_map() != other.is_map() {
                out.push(format!("FIELD_KIND_CHANGED {at}: singular and repeated"));
            } else if let Some(why) = kind_change(&field.kind(), &other.kind()) {
                out.push(format!("{why} {at}"));
            }
        }
        for field in read.fields() {
            if field.cardinality() == Cardinality::Required
                && written.get_field(field.number()).is_none()
            {
                out.push(format!(
                    "REQUIRED_FIELD_ADDED {}.{}",
                    read.full_name(),
                    field.name()
                ));
            }
        }
    }
    out
}

/// Scalars that share a wire encoding read each other (as protobuf
/// documents); anything else changed is a problem.
fn kind_change(written: &Kind, read: &Kind) -> Option<&'static str> {
    fn group(kind: &Kind) -> u8 {
        match kind {
            Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool => 1,
            Kind::Sint32 | Kind::Sint64 => 2,
            Kind::Fixed32 | Kind::Sfixed32 => 3,
            Kind::Fixed64 | Kind::Sfixed64 => 4,
            Kind::String | Kind::Bytes => 5,
            Kind::Float => 6,
            Kind::Double => 7,
            Kind::Enum(_) => 1,
            Kind::Message(_) => 8,
        }
    }
    match (written, read) {
        (Kind::Message(w), Kind::Message(r)) if w.full_name() != r.full_name() => {
            Some("FIELD_NAMED_TYPE_CHANGED")
        }
        (Kind::Enum(w), Kind::Enum(r)) if w.full_name() != r.full_name() => {
            Some("FIELD_NAMED_TYPE_CHANGED")
        }
        (w, r) if group(w) != group(r) => Some("FIELD_SCALAR_KIND_CHANGED"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(body: &str) -> Compiled {
        compile(&format!("syntax = \"proto3\";\npackage shop;\n{body}"), &[]).unwrap()
    }

    #[test]
    fn wire_compatible_changes_pass() {
        let v1 = proto("message Order { int64 id = 1; string note = 2; }");
        let v2 = proto("message Order { int64 id = 1; bytes note = 2; double total = 3; }");
        assert!(can_read(&v2, &v1).is_empty(), "{:?}", can_read(&v2, &v1));
        let changed = proto("message Order { string id = 1; }");
        assert!(can_read(&changed, &v1)[0].starts_with("FIELD_SCALAR_KIND_CHANGED"));
        let renamed = proto("message Purchase { int64 id = 1; }");
        assert!(can_read(&renamed, &v1)[0].starts_with("MESSAGE_REMOVED"));
    }

    #[test]
    fn descriptors_imports_and_errors() {
        let v1 = proto("import \"google/protobuf/timestamp.proto\";\nmessage Order { google.protobuf.Timestamp at = 1; }");
        let encoded = v1.serialized();
        let again = compile(&encoded, &[]).unwrap();
        assert!(can_read(&again, &v1).is_empty());
        let common = (
            "common.proto".to_string(),
            "syntax = \"proto3\";\npackage shop;\nmessage Money { int64 cents = 1; }".to_string(),
        );
        let with_ref = compile("syntax = \"proto3\";\npackage shop;\nimport \"common.proto\";\nmessage Order { Money total = 1; }", &[common]);
        assert!(with_ref.is_ok(), "{:?}", with_ref.err());
        assert!(compile("message {", &[]).is_err());
        assert!(compile("syntax = \"proto3\";\nimport \"missing.proto\";", &[]).is_err());
    }
}
