//! `[[plugins]]` entries of weir.toml: the WebAssembly components a broker
//! loads at start-up, each with its kind, its limits and its own config
//! table (which the plugin reads through the `host.config` import).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The plugin kinds the broker can call.
pub const KINDS: &[&str] = &[
    "partitioner",
    "produce-interceptor",
    "fetch-interceptor",
    "retention-policy",
    "compaction-policy",
    "authenticator",
    "authorizer",
    "serializer",
];

/// The configs that bind a plugin, and the kind each one binds: the topic
/// configs first (each a name, or for interceptors a comma-separated
/// chain), then the broker's.
pub const BINDINGS: &[(&str, &str)] = &[
    ("weir.partitioner", "partitioner"),
    ("weir.interceptors.produce", "produce-interceptor"),
    ("weir.interceptors.fetch", "fetch-interceptor"),
    ("weir.retention.policy", "retention-policy"),
    ("weir.compaction.policy", "compaction-policy"),
    ("weir.value.serializer", "serializer"),
    ("weir.key.serializer", "serializer"),
    ("weir.authenticator", "authenticator"),
    ("weir.authorizer", "authorizer"),
];

/// How many of `BINDINGS` are topic configs.
pub const TOPIC_BINDINGS: usize = 7;

/// The config that binds a plugin of `kind`.
pub fn binding_of(kind: &str) -> Option<&'static str> {
    BINDINGS.iter().find(|(_, k)| *k == kind).map(|(c, _)| *c)
}

/// The kind of plugin a config binds, if it binds one.
pub fn kind_bound_by(config: &str) -> Option<&'static str> {
    BINDINGS.iter().find(|(c, _)| *c == config).map(|(_, k)| *k)
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginSpec {
    /// The name topic configs bind to (e.g. `weir.partitioner = "murmur2"`).
    pub name: String,
    /// The component's `.wasm` file; relative paths are relative to weir.toml.
    pub path: PathBuf,
    /// One of `KINDS`.
    pub kind: String,
    /// CPU time one call may take before it is interrupted.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The most linear memory the plugin may grow to.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// The most bytes of records an interceptor may answer with per batch.
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: u64,
    /// The plugin's own settings, as strings.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

fn default_timeout_ms() -> u64 {
    100
}

fn default_memory_mb() -> u64 {
    64
}

fn default_max_output_bytes() -> u64 {
    16 << 20
}

impl PluginSpec {
    /// Reads the `plugins` array of a weir.toml, resolving paths against `base`.
    pub fn parse_all(value: &toml::Value, base: &Path) -> Result<Vec<PluginSpec>, String> {
        let specs: Vec<PluginSpec> = value
            .clone()
            .try_into()
            .map_err(|e| format!("[[plugins]]: {e}"))?;
        let mut names = std::collections::HashSet::new();
        specs
            .into_iter()
            .map(|mut spec| {
                if !KINDS.contains(&spec.kind.as_str()) {
                    return Err(format!(
                        "plugin {}: kind {:?} is not one of {}",
                        spec.name,
                        spec.kind,
                        KINDS.join(", ")
                    ));
                }
                crate::plugin::name::check(&spec.name)
                    .map_err(|why| format!("[[plugins]]: {why}"))?;
                if !names.insert(spec.name.clone()) {
                    return Err(format!("plugin name {:?} is used twice", spec.name));
                }
                if spec.timeout_ms == 0 || spec.memory_mb == 0 || spec.max_output_bytes == 0 {
                    return Err(format!("plugin {}: limits must be positive", spec.name));
                }
                if spec.path.is_relative() {
                    spec.path = base.join(&spec.path);
                }
                Ok(spec)
            })
            .collect()
    }

    /// A spec for a plugin first deployed at run time (no weir.toml entry):
    /// the default limits and an empty config.
    pub fn deployed(name: &str, kind: &str) -> PluginSpec {
        PluginSpec {
            name: name.to_string(),
            path: PathBuf::new(),
            kind: kind.to_string(),
            timeout_ms: default_timeout_ms(),
            memory_mb: default_memory_mb(),
            max_output_bytes: default_max_output_bytes(),
            config: BTreeMap::new(),
        }
    }

    /// The config table as strings (what `host.config` returns).
    pub fn config_strings(&self) -> BTreeMap<String, String> {
        let mut strings = BTreeMap::new();
        flatten("", &self.config, &mut strings);
        strings
    }
}

/// A config table as plugins read it: nested tables become dotted keys (a
/// TOML `user.alice = "…"` is the key `user.alice`), values their text.
fn flatten<'a>(
    prefix: &str,
    table: impl IntoIterator<Item = (&'a String, &'a toml::Value)>,
    out: &mut BTreeMap<String, String>,
) {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner.iter(), out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_parse_with_defaults_and_are_checked() {
        let table: toml::Table = toml::from_str(
            r#"
            [[plugins]]
            name = "m"
            path = "p/m.wasm"
            kind = "partitioner"
            config = { field = "tenant", n = 3 }
            "#,
        )
        .unwrap();
        let specs = PluginSpec::parse_all(&table["plugins"], Path::new("/etc/weir")).unwrap();
        assert_eq!(specs[0].path, PathBuf::from("/etc/weir/p/m.wasm"));
        assert_eq!(specs[0].timeout_ms, 100);
        assert_eq!(specs[0].config_strings()["n"], "3");
        let bad: toml::Table =
            toml::from_str("[[plugins]]\nname='x'\npath='x'\nkind='shredder'").unwrap();
        let err = PluginSpec::parse_all(&bad["plugins"], Path::new("/")).unwrap_err();
        assert!(err.contains("shredder"), "{err}");
    }
}
