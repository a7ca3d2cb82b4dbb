//! Fetch interceptors (`weir.interceptors.fetch`): the records of a bound
//! topic are read into memory, passed through the chain batch by batch, and
//! sent re-encoded in the response instead of spliced from the files.
//! Offsets are kept; a batch whose records are all dropped is sent empty,
//! with its offset span, so every client moves past it. A view's
//! conversion (`crate::view`) runs here too, after the topic's own chain.
//! Topics without a fetch interceptor, read directly, never come here and
//! keep the zero-copy path.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use kafka_protocol::messages::FetchResponse;

use crate::config::defs::{split_list, topic_def};
use crate::log::batch::whole_batches_len;
use crate::metadata::image::MetadataImage;
use crate::partition::interceptor::{self, Interceptor, Target};
use crate::partition::partitioner::OnError;
use crate::partition::typed::Codecs;
use crate::protocol::error::ResponseError;
use crate::server::broker::Broker;
use crate::server::dispatch::RequestContext;
use crate::server::response::FetchedRange;

/// A topic's fetch chain, its on-error policy, and the names in it that
/// are not loaded.
type Chain = (Vec<Arc<dyn Interceptor>>, OnError, Vec<String>);

/// A topic's fetch chain, or None when it has none (the common case). Read
/// through a view, the view's conversion ends the chain.
fn chain(
    broker: &Broker,
    image: &MetadataImage,
    topic: &str,
    view: Option<&Arc<Codecs>>,
) -> Option<Chain> {
    let topic_image = image.topics.get(topic)?;
    let names = topic_image
        .configs
        .get("weir.interceptors.fetch")
        .map(|list| split_list(list))
        .unwrap_or_default();
    if names.is_empty() && view.is_none() {
        return None;
    }
    let config = broker.config_view(image);
    let def = topic_def("weir.plugin.on-error").expect("a defined topic config");
    // A consumer's read has nowhere to divert records to: dead-letter
    // fails the read, as reject does.
    let on_error = match OnError::from_config(&config.topic_value(def, &topic_image.configs).0) {
        OnError::DeadLetter => OnError::Reject,
        other => other,
    };
    let mut missing = Vec::new();
    let mut chain: Vec<Arc<dyn Interceptor>> = names
        .iter()
        .filter_map(|name| {
            let found = broker.plugins.interceptor(name, "fetch-interceptor");
            if found.is_none() {
                missing.push(name.clone());
            }
            found
        })
        .collect();
    if let Some(codecs) = view {
        chain.push(Arc::new(crate::view::ToJson::new(codecs.clone())));
    }
    Some((chain, on_error, missing))
}

/// The topic whose records a fetched topic of the response holds, and
/// whether it was asked for through a view.
fn resolve(image: &MetadataImage, topic: &FetchableTopicResponse) -> Option<(String, bool)> {
    if topic.topic.is_empty() {
        if let Some(name) = image.topic_names.get(&topic.topic_id) {
            return Some((name.clone(), false));
        }
        let view = crate::view::by_id(image, &topic.topic_id)?;
        return Some((view.topic.name.clone(), true));
    }
    if image.topics.contains_key(topic.topic.as_str()) {
        return Some((topic.topic.to_string(), false));
    }
    let view = crate::view::by_name(image, &topic.topic)?;
    Some((view.topic.name.clone(), true))
}

/// Runs the fetch interceptors of every bound topic over its fetched
/// ranges: those ranges leave `ranges` and their (rewritten) records go
/// into the response itself. A chain that fails under `reject` (or names a
/// plugin that is not loaded) answers POLICY_VIOLATION for that partition
/// and sends none of its records.
pub fn apply(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut FetchResponse,
    ranges: &mut Vec<FetchedRange>,
) {
    if ranges.is_empty() {
        return;
    }
    let image = broker.image();
    let mut kept = Vec::with_capacity(ranges.len());
    for (t, p, range) in ranges.drain(..) {
        let Some((name, through_view)) = resolve(&image, &response.responses[t]) else {
            kept.push((t, p, range));
            continue;
        };
        // Checked first: the common case (no chain) stays a map lookup.
        let configs = image.topics.get(&name).map(|t| &t.configs);
        let intercepted = configs
            .and_then(|c| c.get("weir.interceptors.fetch"))
            .is_some_and(|names| !names.is_empty());
        if !intercepted && !through_view {
            kept.push((t, p, range));
            continue;
        }
        let codecs = configs.and_then(|c| crate::server::plugin_bindings::codecs(broker, c));
        let view = through_view.then(|| codecs.clone().unwrap_or_default());
        let Some((chain, on_error, missing)) = chain(broker, &image, &name, view.as_ref()) else {
            kept.push((t, p, range));
            continue;
        };
        let data = &mut response.responses[t].partitions[p];
        let fail = |data: &mut kafka_protocol::messages::fetch_response::PartitionData,
                    why: &str| {
            tracing::warn!(topic = %name, partition = data.partition_index, "fetch interceptors failed: {why}");
            data.error_code = ResponseError::PolicyViolation.code();
            data.records = Some(Bytes::new());
        };
        if !missing.is_empty() && on_error == OnError::Reject {
            fail(data, &format!("{} not loaded", missing.join(", ")));
            continue;
        }
        let bytes = match range.read() {
            Ok(bytes) => bytes,
            Err(e) => {
                data.error_code = ResponseError::KafkaStorageError.code();
                tracing::warn!(error = %e, "reading fetched records");
                continue;
            }
        };
        // Only whole batches can be intercepted; the read may end part way
        // through one, which the consumer fetches again next time.
        let bytes = bytes.slice(..whole_batches_len(&bytes));
        let target = Target {
            topic: &name,
            partition: data.partition_index,
            partition_count: image
                .topics
                .get(&name)
                .map_or(0, |t| t.partitions.len() as u32),
            client_id: ctx.client_id.as_deref(),
        };
        // The interceptors see this client (`host.caller()`) and read
        // fields as the topic's serializers decode them (`host.field`).
        let intercepted = crate::plugin::caller::scope(ctx.caller(), || {
            crate::plugin::typed::scope(codecs, || {
                interceptor::intercept(&chain, on_error, &target, &bytes, &mut Vec::new())
            })
        });
        match intercepted {
            Ok(std::borrow::Cow::Borrowed(_)) => data.records = Some(bytes.clone()),
            Ok(std::borrow::Cow::Owned(rewritten)) => data.records = Some(Bytes::from(rewritten)),
            Err(e) => fail(data, &e.to_string()),
        }
    }
    *ranges = kept;
}
