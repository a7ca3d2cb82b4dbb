//! Format views: a consumer reads another format of a topic's data
//! without a second topic. `orders~json` is a read-only view of `orders`
//! whose keys and values are converted to JSON by the serializer plugins
//! `orders` binds (`weir.key.serializer`, `weir.value.serializer`), with
//! the registered schema each record's framing names; offsets, timestamps
//! and headers are the topic's own. A topic that binds no serializer is
//! read as JSON with Confluent's framing taken off. A record that does not
//! decode is sent as stored.
//!
//! A view exists wherever its topic does: `~` cannot be in a topic's name,
//! so no topic can be shadowed. It has the topic's partitions, leaders and
//! offsets, a topic id derived from the topic's, and the topic's ACLs
//! (reading a view is reading the topic). Consumers commit their own
//! offsets under the view's name. Producing to a view is refused.

mod convert;

use uuid::Uuid;

use crate::metadata::image::MetadataImage;
use crate::metadata::TopicImage;

pub use convert::ToJson;

/// Between a topic's name and its view's format.
pub const SEPARATOR: char = '~';

/// The formats a view converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
}

impl Format {
    fn parse(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
        }
    }

    /// XORed into the topic's id to make the view's: distinct per format,
    /// and the topic's id comes back the same way.
    fn mask(self) -> [u8; 16] {
        match self {
            Format::Json => *b"weir~view~json!!",
        }
    }
}

/// A view, resolved against the metadata image.
pub struct View<'a> {
    pub topic: &'a TopicImage,
    pub format: Format,
}

impl View<'_> {
    /// The view's own name (`orders~json`).
    pub fn name(&self) -> String {
        format!("{}{SEPARATOR}{}", self.topic.name, self.format.name())
    }

    /// The view's topic id: the topic's, XORed with the format's mask.
    pub fn id(&self) -> Uuid {
        xor(self.topic.id, self.format.mask())
    }
}

fn xor(id: Uuid, mask: [u8; 16]) -> Uuid {
    let mut bytes = *id.as_bytes();
    for (b, m) in bytes.iter_mut().zip(mask) {
        *b ^= m;
    }
    Uuid::from_bytes(bytes)
}

/// The view `name` names, when it is `<topic>~<format>` of a topic that
/// exists.
pub fn by_name<'a>(image: &'a MetadataImage, name: &str) -> Option<View<'a>> {
    let (topic, format) = name.rsplit_once(SEPARATOR)?;
    let format = Format::parse(format)?;
    let topic = image.topics.get(topic)?;
    Some(View { topic, format })
}

/// The view whose topic id is `id`.
pub fn by_id<'a>(image: &'a MetadataImage, id: &Uuid) -> Option<View<'a>> {
    [Format::Json].into_iter().find_map(|format| {
        let topic = image.topic_by_id(&xor(*id, format.mask()))?;
        Some(View { topic, format })
    })
}

/// The topic whose records `name` reads: itself, or a view's topic.
pub fn topic_of<'a>(image: &MetadataImage, name: &'a str) -> std::borrow::Cow<'a, str> {
    if image.topics.contains_key(name) {
        return name.into();
    }
    match by_name(image, name) {
        Some(view) => view.topic.name.clone().into(),
        None => name.into(),
    }
}

/// The topic id and partition count of a topic or view, by name: what a
/// consumer group's assignor sees (a group may subscribe to a view).
pub fn topic_shape(image: &MetadataImage, name: &str) -> Option<(Uuid, i32)> {
    image.topic_shape(name).or_else(|| {
        let view = by_name(image, name)?;
        Some((view.id(), view.topic.partitions.len() as i32))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_ids_are_the_topics_masked_and_come_back() {
        let id = Uuid::from_u128(0x1234_5678_9abc_def0_0fed_cba9_8765_4321);
        let view = xor(id, Format::Json.mask());
        assert_ne!(view, id);
        assert_eq!(xor(view, Format::Json.mask()), id);
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("avro"), None);
    }
}
