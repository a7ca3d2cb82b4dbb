//! `weir plugin list|deploy|remove`: the admin endpoint's plugin API from
//! the command line (the binary only; the broker library never calls it).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Name, kind, content hash, bindings and counters of every plugin.
    List,
    /// Load FILE as plugin NAME into the running broker (replacing the
    /// running version atomically; a new name needs --kind).
    Deploy {
        name: String,
        file: PathBuf,
        /// partitioner, produce-interceptor or fetch-interceptor (for a new plugin).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Unload a plugin; refused while topics are bound to it unless --force.
    Remove {
        name: String,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(admin: &str, command: PluginCommand) -> anyhow::Result<()> {
    let base = admin.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let (url, response) = match command {
        PluginCommand::List => {
            let url = format!("{base}/v1/plugins");
            (url.clone(), agent.get(&url).call())
        }
        PluginCommand::Deploy { name, file, kind } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut url = format!("{base}/v1/plugins/{name}");
            if let Some(kind) = kind {
                url.push_str(&format!("?kind={kind}"));
            }
            (url.clone(), agent.put(&url).send(&bytes[..]))
        }
        PluginCommand::Remove { name, force } => {
            let url = format!("{base}/v1/plugins/{name}?force={force}");
            (url.clone(), agent.delete(&url).call())
        }
    };
    let mut response = response.with_context(|| format!("cannot reach {url} (--admin)"))?;
    let status = response.status();
    let body = response.body_mut().read_to_string()?;
    if !status.is_success() {
        anyhow::bail!("{status}: {body}");
    }
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        Err(_) => println!("{body}"),
    }
    Ok(())
}
