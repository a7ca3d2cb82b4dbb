//! Checks the topic configs that bind plugins (`weir.partitioner`,
//! `weir.interceptors.*`, `weir.*.policy`) before CreateTopics or
//! AlterConfigs commits them: each name must be a plugin this broker knows
//! (loaded, or deployed to the cluster), of the kind the config binds.
//! Without this a topic bound to a typo is created and only its first
//! produce fails. A controller-only node (which loads no weir.toml
//! plugins) knows only the deployed ones: it refuses a wrong kind, but lets
//! an unknown name through to the brokers, which say at produce time.

use crate::config::defs::split_list;
use crate::config::plugins::kind_bound_by;
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::Broker;

/// INVALID_CONFIG naming the first binding that names no plugin, or one of
/// another kind. Removing a binding (no value, or empty) is always allowed.
pub fn check(broker: &Broker, changes: &[(String, Option<String>)]) -> Result<(), ApiError> {
    let image = broker.image();
    for (config, value) in changes {
        let (Some(wanted), Some(value)) = (kind_bound_by(config), value) else {
            continue;
        };
        for name in split_list(value) {
            let kind = broker
                .plugins
                .get(&name)
                .map(|entry| entry.spec.kind.clone())
                .or_else(|| image.plugins.get(&name).map(|d| d.kind.clone()));
            let problem = match kind {
                None if !broker.is_broker() => continue,
                None => format!(
                    "{config}={value}: no plugin named {name} is loaded (see `weir plugin list`)"
                ),
                Some(kind) if kind != wanted => format!(
                    "{config}={value}: plugin {name} is a {kind}, and {config} binds a {wanted}"
                ),
                Some(_) => continue,
            };
            return Err(ApiError::new(ResponseError::InvalidConfig, problem));
        }
    }
    Ok(())
}

/// How plugins called for `topic` decode its records (`host.field`): the
/// registry and the serializers its `weir.key.serializer` and
/// `weir.value.serializer` name. None when it binds neither (records are
/// then read as JSON).
pub fn codecs(
    broker: &Broker,
    configs: &std::collections::BTreeMap<String, String>,
) -> Option<std::sync::Arc<crate::partition::typed::Codecs>> {
    let serializer = |config: &str| {
        let name = configs.get(config).filter(|n| !n.is_empty())?;
        broker.plugins.serializer(name)
    };
    let (key, value) = (
        serializer("weir.key.serializer"),
        serializer("weir.value.serializer"),
    );
    if key.is_none() && value.is_none() {
        return None;
    }
    Some(std::sync::Arc::new(crate::partition::typed::Codecs {
        registry: broker.schema_registry.get().cloned(),
        key,
        value,
    }))
}
