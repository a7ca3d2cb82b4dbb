//! The `serializer` world: implement `Serializer`, then
//! `weir_plugin::export_serializer!(YourType);`. The broker hands the
//! payloads of one registered schema at a time; answer one verdict per
//! payload.

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

/// Checks payloads against their registered schema.
pub trait Serializer {
    /// One verdict per payload, in order: `None` when it is a valid
    /// instance of `schema`, else why not. An error refuses the whole call
    /// (a schema this plugin cannot read), which the broker treats as the
    /// plugin failing.
    fn validate(schema: &Schema, payloads: &Payloads) -> Result<Vec<Option<String>>, String>;
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
}

/// Exports `$t` (a `Serializer`) as the component's world.
#[macro_export]
macro_rules! export_serializer {
    ($t:ty) => {
        type __WeirSerializerExport = $crate::serializer::SerializerAdapter<$t>;
        $crate::serializer::bindings::export_serializer_bindings!(__WeirSerializerExport);
    };
}
