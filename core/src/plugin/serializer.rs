//! Serializer plugins: components exporting the `serializer` world, called
//! through `schema_registry::validation::Serializer` with the payloads of
//! one schema at a time.

use super::bindings::serializer::{self as wit, Serializer, SerializerPre};
use super::sandbox::{Instances, Loaded, Sandbox};
use super::HostState;
use crate::partition::partitioner::PluginFailure;
use crate::partition::validation::{self as seam, PluginSchema};

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
        let schema = wit::Schema {
            id: schema.id,
            schema_type: schema.schema_type.clone(),
            text: schema.text.clone(),
            references: schema.references.clone(),
        };
        let answers = self.sandbox.run(
            &self.instances,
            payloads.len(),
            |store| self.pre.instantiate(store),
            |instance, store| instance.call_validate(store, &schema, &packed),
        )?;
        if answers.len() != payloads.len() {
            let why = format!(
                "answered {} verdicts for {} payloads",
                answers.len(),
                payloads.len()
            );
            self.sandbox.answered_badly(&why);
            return Err(PluginFailure::Failed(why));
        }
        Ok(answers)
    }
}
