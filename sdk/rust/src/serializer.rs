//! The `serializer` world: implement `Serializer`, then
//! `weir_plugin::export_serializer!(YourType);`. The broker hands the
//! payloads of one registered schema at a time: to validate (one verdict
//! per payload), and to decode to JSON and encode back (typed access).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "serializer",
        with: {
            "weir:plugin/types@0.1.0": crate::partitioner::bindings::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::partitioner::bindings::weir::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_serializer_bindings",
        default_bindings_module: "weir_plugin::serializer::bindings",
    });
}

pub use bindings::Schema;

/// The payloads of a call: keys or values without their 5-byte framing.
pub struct Payloads {
    inner: bindings::Payloads,
}

impl Payloads {
    pub fn len(&self) -> usize {
        self.inner.bounds.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Payload `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = self.inner.bounds[2 * i] as usize;
        let len = self.inner.bounds[2 * i + 1] as usize;
        &self.inner.data[start..start + len]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Checks payloads against their registered schema, and converts them to
/// and from JSON.
pub trait Serializer {
    /// One verdict per payload, in order: `None` when it is a valid
    /// instance of `schema`, else why not. An error refuses the whole call
    /// (a schema this plugin cannot read), which the broker treats as the
    /// plugin failing.
    fn validate(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String>;

    /// Each payload as JSON text, in order (`None` where it does not
    /// decode): what other plugins' `host::field` reads.
    fn decode(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String>;

    /// Each JSON text of `json` as a payload of `schema` (unframed), or why
    /// it does not fit; `like` holds the payloads they were decoded from.
    fn encode(
        schema: &Schema,
        like: &Payloads,
        json: &Payloads,
    ) -> Result<Vec<Result<Vec<u8>, String>>, String>;
}

#[doc(hidden)]
pub struct SerializerAdapter<T>(core::marker::PhantomData<T>);

impl<T: Serializer> bindings::Guest for SerializerAdapter<T> {
    fn validate(
        schema: Schema,
        payloads: bindings::Payloads,
    ) -> Result<Vec<Option<String>>, String> {
        T::validate(&schema, &Payloads { inner: payloads })
    }

    fn decode(schema: Schema, payloads: bindings::Payloads) -> Result<bindings::Payloads, String> {
        let texts = T::decode(&schema, &Payloads { inner: payloads })?;
        let mut out = bindings::Payloads {
            data: Vec::new(),
            bounds: Vec::with_capacity(texts.len() * 2),
        };
        for text in texts {
            out.bounds.push(out.data.len() as u32);
            match text {
                Some(text) => {
                    out.bounds.push(text.len() as u32);
                    out.data.extend_from_slice(text.as_bytes());
                }
                None => out.bounds.push(u32::MAX),
            }
        }
        Ok(out)
    }

    fn encode(
        schema: Schema,
        like: bindings::Payloads,
        json: bindings::Payloads,
    ) -> Result<Vec<Result<Vec<u8>, String>>, String> {
        T::encode(
            &schema,
            &Payloads { inner: like },
            &Payloads { inner: json },
        )
    }
}

/// Exports `$t` (a `Serializer`) as the component's world.
#[macro_export]
macro_rules! export_serializer {
    ($t:ty) => {
        type __WeirSerializerExport = $crate::serializer::SerializerAdapter<$t>;
        $crate::serializer::bindings::export_serializer_bindings!(__WeirSerializerExport);
    };
}
