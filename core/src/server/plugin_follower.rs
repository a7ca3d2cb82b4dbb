//! Plugins across a cluster. A deployment through any broker's admin
//! endpoint commits the component's bytes with its sha256 in the metadata
//! log (through the active controller); every broker then loads exactly
//! those bytes — refusing them if they do not hash to the sha256 — unloads
//! what was withdrawn, and reports which version of each plugin it runs, so
//! `weir plugin list` on any node shows every broker's.
//!
//! Only deployments committed since the broker started are loaded here:
//! the ones before were loaded at start-up (where a weir.toml file changed
//! later wins). On a single node the admin endpoint has already loaded what
//! it committed, and nothing is left to do.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::admin::plugins::{artifacts, spec_of};
use super::broker::Broker;
use crate::metadata::command::{Command, DeployedPlugin};
use crate::plugin::engine::content_hash;

/// How often a broker retries reporting its versions when the controller
/// could not take the report.
const REPORT_RETRY: Duration = Duration::from_secs(2);

/// What the follower has seen of the image.
#[derive(Default)]
struct Seen {
    /// The deployment (sha256) of each plugin name already acted on.
    deployed: BTreeMap<String, String>,
    /// Deployments that did not load: not tried again.
    failed: HashSet<String>,
}

impl Broker {
    /// Follows the image's plugin deployments for as long as the broker runs.
    pub fn spawn_plugin_follower(self: &Arc<Self>) {
        let broker = self.clone();
        let mut images = self.controller.subscribe();
        let mut seen = Seen {
            deployed: deployments(&self.image().plugins),
            failed: HashSet::new(),
        };
        tokio::spawn(async move {
            loop {
                broker.follow_plugins(&mut seen).await;
                tokio::select! {
                    changed = images.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep(REPORT_RETRY) => {}
                }
            }
        });
    }

    async fn follow_plugins(self: &Arc<Self>, seen: &mut Seen) {
        let image = self.image();
        let now = deployments(&image.plugins);
        for name in seen.deployed.keys().filter(|n| !now.contains_key(*n)) {
            if self.plugins.remove(name) {
                info!(plugin = %name, "plugin withdrawn from the cluster; unloaded");
            }
        }
        for deployed in image.plugins.values() {
            if seen.deployed.get(&deployed.name) == Some(&deployed.sha256)
                || seen.failed.contains(&deployed.sha256)
            {
                continue;
            }
            if let Err(e) = self.load_deployed(deployed).await {
                warn!(plugin = %deployed.name, sha256 = %deployed.sha256, error = format!("{e:#}"), "a deployed plugin does not load here; keeping the running version");
                seen.failed.insert(deployed.sha256.clone());
            }
        }
        seen.deployed = now;
        if self.in_cluster() && self.is_broker() {
            self.report_versions().await;
        }
    }

    /// Loads a deployment's bytes, unless this broker already runs them.
    async fn load_deployed(self: &Arc<Self>, deployed: &DeployedPlugin) -> anyhow::Result<()> {
        let running = self.plugins.get(&deployed.name);
        if running
            .as_ref()
            .is_some_and(|e| e.sha256 == deployed.sha256)
        {
            return Ok(());
        }
        let path = artifacts(&self.config).join(format!("{}.wasm", deployed.sha256));
        let bytes = verified_artifact(deployed, &path)?;
        // A replaced plugin keeps its spec (as a deployment through this
        // broker would); a new one takes the deployment's.
        let spec = match running {
            Some(entry) => entry.spec.clone(),
            None => spec_of(deployed, path),
        };
        let broker = self.clone();
        let (_, took) =
            tokio::task::spawn_blocking(move || broker.plugins.deploy(spec, &bytes)).await??;
        info!(plugin = %deployed.name, sha256 = %&deployed.sha256[..12], took_ms = took.as_millis() as u64, "loaded the version deployed in the cluster");
        Ok(())
    }

    /// Tells the controller which version of each plugin this broker runs,
    /// where the image says otherwise.
    async fn report_versions(&self) {
        let image = self.image();
        let me = self.node_id();
        let running: BTreeMap<String, String> = self
            .plugins
            .list()
            .iter()
            .map(|e| (e.spec.name.clone(), e.sha256.clone()))
            .collect();
        let reported = |name: &str| image.plugin_versions.get(name).and_then(|v| v.get(&me));
        let mut reports: Vec<Command> = running
            .iter()
            .filter(|(name, sha256)| reported(name) != Some(*sha256))
            .map(|(name, sha256)| Command::PluginRunning {
                broker: me,
                name: name.clone(),
                sha256: Some(sha256.clone()),
            })
            .collect();
        reports.extend(
            image
                .plugin_versions
                .iter()
                .filter(|(name, v)| v.contains_key(&me) && !running.contains_key(*name))
                .map(|(name, _)| Command::PluginRunning {
                    broker: me,
                    name: name.clone(),
                    sha256: None,
                }),
        );
        if reports.is_empty() {
            return;
        }
        if let Err(e) = self.submit_anywhere(reports).await {
            tracing::debug!(error = %e.message().unwrap_or_default(), "plugin versions not reported yet");
        }
    }
}

/// A deployment's component — carried in the record, else the file at
/// `path` — once its bytes hash to the sha256 the deployment names.
fn verified_artifact(deployed: &DeployedPlugin, path: &Path) -> anyhow::Result<Arc<[u8]>> {
    let bytes: Arc<[u8]> = if deployed.artifact.is_empty() {
        std::fs::read(path)?.into()
    } else {
        deployed.artifact.0.clone()
    };
    if content_hash(&bytes) != deployed.sha256 {
        anyhow::bail!("refused: its bytes do not hash to the sha256 the deployment names");
    }
    Ok(bytes)
}

fn deployments(plugins: &BTreeMap<String, DeployedPlugin>) -> BTreeMap<String, String> {
    plugins
        .iter()
        .map(|(name, d)| (name.clone(), d.sha256.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::command::Artifact;

    #[test]
    fn a_component_is_loaded_only_with_the_hash_its_deployment_names() {
        let bytes: &[u8] = b"\0asm component bytes";
        let mut deployed = DeployedPlugin {
            name: "p".into(),
            kind: "partitioner".into(),
            sha256: content_hash(bytes),
            timeout_ms: 100,
            memory_mb: 16,
            max_output_bytes: 1 << 20,
            config: Default::default(),
            deployed_at_ms: 1,
            artifact: Artifact(bytes.into()),
        };
        let nowhere = Path::new("/nonexistent/p.wasm");
        assert_eq!(&*verified_artifact(&deployed, nowhere).unwrap(), bytes);
        deployed.artifact = Artifact(b"\0asm other bytes".as_slice().into());
        let refused = verified_artifact(&deployed, nowhere)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("do not hash"), "{refused}");
        // Without an artifact (a single node), the stored file is read.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.wasm");
        std::fs::write(&file, bytes).unwrap();
        deployed.artifact = Artifact::default();
        assert_eq!(&*verified_artifact(&deployed, &file).unwrap(), bytes);
    }
}
