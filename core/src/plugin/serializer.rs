//! Serializer plugins: components exporting the `serializer` world, called
//! through `partition::validation::Serializer` with the payloads of one
//! schema at a time: to validate them, and to convert them to and from
//! JSON for typed access (`partition::typed`).

use super::bindings::serializer::{self as wit, Serializer, SerializerPre};
use super::sandbox::{Instances, Loaded, Sandbox};
use super::HostState;
use crate::partition::partitioner::PluginFailure;
use crate::partition::validation::{self as seam, PluginSchema};

/// A `bounds` length saying "this payload did not decode".
const NONE: u32 = u32::MAX;

pub struct WasmSerializer {
    pub sandbox: Sandbox,
    pre: SerializerPre<HostState>,
    instances: Instances<Serializer>,
}

impl WasmSerializer {
    pub fn new(loaded: Loaded) -> anyhow::Result<WasmSerializer> {
        let (sandbox, pre, instances) =
            loaded.warm(SerializerPre::new, |pre, store| pre.instantiate(store))?;
        Ok(WasmSerializer {
            sandbox,
            pre,
            instances,
        })
    }

    fn call<T>(
        &self,
        count: usize,
        call: impl FnOnce(
            &Serializer,
            &mut wasmtime::Store<HostState>,
        ) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, PluginFailure> {
        self.sandbox.run(
            &self.instances,
            count,
            |store| self.pre.instantiate(store),
            call,
        )
    }

    /// An answer of the wrong length is the plugin failing.
    fn check_len<T>(&self, answers: Vec<T>, asked: usize) -> Result<Vec<T>, PluginFailure> {
        if answers.len() == asked {
            return Ok(answers);
        }
        let why = format!("answered {} results for {asked} payloads", answers.len());
        self.sandbox.answered_badly(&why);
        Err(PluginFailure::Failed(why))
    }
}

fn pack(payloads: &[&[u8]]) -> wit::Payloads {
    let size: usize = payloads.iter().map(|p| p.len()).sum();
    let mut packed = wit::Payloads {
        data: Vec::with_capacity(size),
        bounds: Vec::with_capacity(payloads.len() * 2),
    };
    for payload in payloads {
        packed.bounds.push(packed.data.len() as u32);
        packed.bounds.push(payload.len() as u32);
        packed.data.extend_from_slice(payload);
    }
    packed
}

fn to_wit(schema: &PluginSchema) -> wit::Schema {
    wit::Schema {
        id: schema.id,
        schema_type: schema.schema_type.clone(),
        text: schema.text.clone(),
        references: schema.references.clone(),
    }
}

/// The texts of a `decode` answer, or None when its bounds are malformed.
fn unpack(packed: &wit::Payloads) -> Option<Vec<Option<String>>> {
    if !packed.bounds.len().is_multiple_of(2) {
        return None;
    }
    packed
        .bounds
        .chunks_exact(2)
        .map(|b| {
            if b[1] == NONE {
                return Some(None);
            }
            let bytes = packed.data.get(b[0] as usize..)?.get(..b[1] as usize)?;
            Some(Some(String::from_utf8_lossy(bytes).into_owned()))
        })
        .collect()
}

impl seam::Serializer for WasmSerializer {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn validate(
        &self,
        schema: &PluginSchema,
        payloads: &[&[u8]],
    ) -> Result<Vec<Option<String>>, PluginFailure> {
        let (schema, packed) = (to_wit(schema), pack(payloads));
        let answers = self.call(payloads.len(), |instance, store| {
            instance.call_validate(store, &schema, &packed)
        })?;
        self.check_len(answers, payloads.len())
    }

    fn decode(
        &self,
        schema: &PluginSchema,
        payloads: &[&[u8]],
    ) -> Result<Vec<Option<String>>, PluginFailure> {
        let (schema, packed) = (to_wit(schema), pack(payloads));
        let answer = self.call(payloads.len(), |instance, store| {
            instance.call_decode(store, &schema, &packed)
        })?;
        let Some(texts) = unpack(&answer) else {
            let why = "answered bounds outside its data".to_string();
            self.sandbox.answered_badly(&why);
            return Err(PluginFailure::Failed(why));
        };
        self.check_len(texts, payloads.len())
    }

    fn encode(
        &self,
        schema: &PluginSchema,
        like: &[&[u8]],
        json: &[&[u8]],
    ) -> Result<Vec<Result<Vec<u8>, String>>, PluginFailure> {
        let schema = to_wit(schema);
        let (like, json_packed) = (pack(like), pack(json));
        let answers = self.call(json.len(), |instance, store| {
            instance.call_encode(store, &schema, &like, &json_packed)
        })?;
        self.check_len(answers, json.len())
    }

    fn refused(&self) {
        self.sandbox.metrics.count_refusal();
    }
}
