//! The `weir` command: `weir serve [--config weir.toml]`; `weir plugin
//! new|build|test` for plugin authors, and `weir plugin list|deploy|remove`
//! against a running broker; `weir cluster status`.

mod cluster_cli;
mod plugin_cli;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing::info;
use weir::config::BrokerConfig;
use weir::server::{self, Broker};

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "A streaming broker that speaks the Apache Kafka protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker (127.0.0.1:9092, data in ./weir-data unless configured).
    Serve {
        /// A TOML file with Kafka-named broker configs.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Override one config: `--set log.dirs=/tmp/x` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Make, build and test plugins; manage a running broker's plugins
    /// through its admin endpoint.
    Plugin {
        #[command(flatten)]
        admin: Admin,
        #[command(subcommand)]
        command: plugin_cli::PluginCommand,
    },
    /// Look at a running cluster through any node's admin endpoint.
    Cluster {
        #[command(flatten)]
        admin: Admin,
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Check stored data without a running broker.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
}

/// Where a running broker's admin endpoint is.
#[derive(clap::Args)]
struct Admin {
    /// The broker's admin endpoint (weir.admin.listener): host:port, http://host:port or
    /// https://host:port (checked against WEIR_ADMIN_CA; WEIR_ADMIN_CERT is the client certificate).
    #[arg(
        long,
        global = true,
        env = "WEIR_ADMIN",
        default_value = "http://127.0.0.1:9644"
    )]
    admin: String,
    /// A file whose first `PRINCIPAL TOKEN` line holds the admin token
    /// (WEIR_ADMIN_TOKEN, when set, comes first; default:
    /// ./weir-data/admin.tokens when it exists).
    #[arg(long, global = true, env = "WEIR_ADMIN_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Brokers (id, address, rack, state), the active controller and its
    /// term, and each voter's log end and lag.
    Status {
        /// Print the admin endpoint's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LogCommand {
    /// Check every batch (header, length, offset order, CRC) of every
    /// segment under a data directory or one partition directory, and
    /// report the damage found. Read-only; exits 1 when anything is damaged.
    Verify {
        /// A `log.dirs` directory, or one `topic-N` partition directory.
        dir: PathBuf,
        /// The largest batch accepted as sound (2 × max.message.bytes).
        #[arg(long, default_value_t = 2 * 1024 * 1024)]
        max_batch_bytes: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The broker logs what it does; a `weir plugin` command prints its
    // answer and logs only what went wrong.
    let default_level = match cli.command {
        Command::Serve { .. } => "info",
        Command::Plugin { .. } | Command::Cluster { .. } | Command::Log { .. } => "warn",
    };
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    match cli.command {
        Command::Serve { config, overrides } => serve(config, overrides),
        Command::Plugin { admin, command } => plugin_cli::run(
            &plugin_cli::Endpoint::resolve(&admin.admin, admin.token_file.as_deref())?,
            command,
        ),
        Command::Cluster {
            admin,
            command: ClusterCommand::Status { json },
        } => cluster_cli::status(&plugin_cli::base_url(&admin.admin), json),
        Command::Log {
            command:
                LogCommand::Verify {
                    dir,
                    max_batch_bytes,
                },
        } => verify_logs(&dir, max_batch_bytes),
    }
}

/// `weir log verify`: one line per damaged segment, then a summary.
fn verify_logs(dir: &std::path::Path, max_batch_bytes: usize) -> anyhow::Result<()> {
    let reports = weir::log::verify::verify_dir(dir, max_batch_bytes)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    let mut damaged = 0;
    for report in &reports {
        if let Some(damage) = &report.damage {
            damaged += 1;
            let offset = damage
                .expected_offset
                .map(|o| format!(" (offset {o})"))
                .unwrap_or_default();
            println!(
                "DAMAGED {} at byte {} of {}{offset}: {}",
                report.path.display(),
                damage.position,
                report.size,
                damage.reason
            );
        }
    }
    let batches: u64 = reports.iter().map(|r| r.batches).sum();
    println!(
        "{} segments, {batches} sound batches, {damaged} damaged segments",
        reports.len()
    );
    if damaged > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn serve(path: Option<PathBuf>, overrides: Vec<String>) -> anyhow::Result<()> {
    let mut config = match &path {
        Some(path) => BrokerConfig::load(path)?,
        None => BrokerConfig::default(),
    };
    for item in overrides {
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("--set {item}: expected KEY=VALUE"))?;
        config.set(key.trim(), value)?;
    }
    config.check()?;
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(weir::on_thread_idle)
        .build()?;
    runtime.block_on(async move {
        // Before anything else: a signal that comes while the broker opens
        // its logs or binds is not lost (nor kills it uncleanly); serve
        // then stops at once.
        let shutdown = shutdown_signal()?;
        let broker = Arc::new(Broker::open(config).await?);
        // The registry listens before the Kafka listeners: a client that
        // finds the broker up finds its registry too.
        weir::schema_registry::start(&broker).await?;
        let listeners = server::bind(&broker).await?;
        if let Some(admin) = server::admin::bind(&broker).await? {
            server::admin::spawn(broker.clone(), admin);
        }
        broker.spawn_background_tasks();
        server::serve(broker.clone(), listeners, shutdown).await;
        broker.controlled_shutdown().await;
        broker.shutdown().context("clean shutdown failed")?;
        info!("shut down cleanly");
        Ok(())
    })
}

/// Raises the soft limit on open files to the hard limit, as Kafka's
/// packaging advises: every partition holds a few descriptors and every
/// connection one.
fn raise_open_files_limit() {
    let Some((soft, hard)) = weir::open_files_limit().filter(|(soft, hard)| soft < hard) else {
        return;
    };
    let limit = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: a plain syscall reading a struct this function owns.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == 0 {
        info!(from = soft, to = hard, "raised the open files limit");
    }
}

/// Installs the SIGINT and SIGTERM handlers now; the future ends on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => info!("SIGINT received, shutting down"),
            _ = terminate.recv() => info!("SIGTERM received, shutting down"),
        }
    })
}
