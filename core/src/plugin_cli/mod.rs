//! `weir plugin …`: the plugin author's commands. `new`, `build` and `test`
//! work on a plugin project (a directory with a `weir-plugin.toml`);
//! `deploy`, `list` and `remove` talk to a running broker's admin endpoint.
//! The binary only; the broker library never calls this.

mod admin;
mod build;
mod new;
mod project;
mod test;
mod test_auth;
mod test_policy;

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

pub use admin::{agent, base_url, Endpoint};
pub use project::Project;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Create a plugin project NAME from a template that builds as it stands.
    New {
        name: String,
        /// The plugin's language: rust, c, zig, python, javascript or
        /// assemblyscript.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// partitioner, produce-interceptor, fetch-interceptor,
        /// retention-policy, compaction-policy, authenticator, authorizer or
        /// serializer.
        #[arg(long)]
        kind: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build the project in --dir with its language's toolchain.
    Build {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Run the built plugin on sample records, here, with the broker's own
    /// host code, and print its decisions.
    Test {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Records as JSON lines: {"key": "k", "value": "v", "headers": [["h", "v"]]}
        /// (default: a few samples).
        #[arg(long)]
        records: Option<PathBuf>,
        /// The topic's partition count (partitioners).
        #[arg(long, default_value_t = 6)]
        partitions: u32,
        /// A plugin config value, KEY=VALUE (repeatable; over the project's [config]).
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Fail unless the decision matches this JSON file, e.g.
        /// {"partitions": [0, 3]} or {"verdict": "reject", "refused": {"2": "…"}}
        /// or {"verdict": "rewrite", "sources": [0, 2]} (fields left out are
        /// not checked): for the user's CI.
        #[arg(long)]
        expect: Option<PathBuf>,
        /// A serializer's schema (the text as registered); default: the
        /// template's CSV columns.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// The schema's type: AVRO, PROTOBUF or JSON.
        #[arg(long, default_value = "JSON")]
        schema_type: String,
    },
    /// Name, kind, content hash, bindings and counters of every plugin.
    List,
    /// Load a plugin into the running broker, replacing the running version
    /// atomically: FILE as NAME, or the project in --dir as built.
    Deploy {
        name: Option<String>,
        file: Option<PathBuf>,
        /// The kind of a new plugin: partitioner, produce-interceptor,
        /// fetch-interceptor, retention-policy, compaction-policy,
        /// authenticator, authorizer or serializer.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Bind a plugin to a topic: sets the topic config of its kind
    /// (weir.partitioner, weir.retention.policy, …) or appends it to the
    /// topic's interceptor chain, checked as AlterConfigs checks it.
    Bind {
        name: String,
        #[arg(long)]
        topic: String,
        /// A partitioner's weir.partitioner.mode: route or verify.
        #[arg(long)]
        mode: Option<String>,
    },
    /// Unbind a plugin from a topic (an interceptor leaves the chain).
    Unbind {
        name: String,
        #[arg(long)]
        topic: String,
    },
    /// Unload a plugin; refused while topics are bound to it unless --force.
    Remove {
        name: String,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(admin: &Endpoint, command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New {
            name,
            lang,
            kind,
            dir,
        } => new::create(&name, &lang, &kind, dir),
        PluginCommand::Build { dir } => build::build(&Project::open(&dir)?).map(|_| ()),
        PluginCommand::Test {
            dir,
            records,
            partitions,
            config,
            expect,
            schema,
            schema_type,
        } => test::run(
            &Project::open(&dir)?,
            records.as_deref(),
            partitions,
            &config,
            expect.as_deref(),
            &test::schema(schema.as_deref(), &schema_type)?,
        ),
        PluginCommand::List => admin::run(admin, admin::Call::List),
        PluginCommand::Deploy {
            name,
            file,
            kind,
            dir,
        } => {
            let (name, file, kind) = match file {
                Some(file) => (name.context("deploy NAME FILE")?, file, kind),
                None => {
                    let project = Project::open(&dir)
                        .context("deploy without FILE deploys the plugin project in --dir")?;
                    let artifact = project.built_artifact()?;
                    (
                        name.unwrap_or_else(|| project.manifest.name.clone()),
                        artifact,
                        kind.or(Some(project.manifest.kind.clone())),
                    )
                }
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            admin::run(admin, admin::Call::Deploy { name, bytes, kind })
        }
        PluginCommand::Bind { name, topic, mode } => {
            admin::run(admin, admin::Call::Bind { name, topic, mode })
        }
        PluginCommand::Unbind { name, topic } => {
            admin::run(admin, admin::Call::Unbind { name, topic })
        }
        PluginCommand::Remove { name, force } => {
            admin::run(admin, admin::Call::Remove { name, force })
        }
    }
}
