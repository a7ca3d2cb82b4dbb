//! Where committed metadata comes from, and how the image is published. On
//! a single node the log is the local journal: a command is committed once
//! it is fsynced. In a cluster it is the controller quorum's Raft log: a
//! command is committed once a majority holds it, and every member applies
//! it in the same order; a broker that is not a voter observes, applying
//! what the voters committed in the same order. Either way the image is
//! built only from committed commands, and readers take it from a watch
//! without blocking writers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::command::Command;
use super::image::MetadataImage;
use super::journal::Journal;
use super::quorum::{self, Member, ObserverHandle, QuorumError, QuorumHandle, Status};
use super::snapshot::Snapshot;
use crate::config::cluster::ClusterSettings;
use crate::protocol::error::{ApiError, ResponseError};

/// How long a proposal may wait to be committed before the request that
/// made it is answered REQUEST_TIMED_OUT (a leader cut off from its quorum).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(15);

/// The current image, published after each committed command.
pub struct Images(watch::Sender<Arc<MetadataImage>>);

impl Images {
    pub fn new(image: MetadataImage) -> Images {
        Images(watch::Sender::new(Arc::new(image)))
    }

    pub fn current(&self) -> Arc<MetadataImage> {
        self.0.borrow().clone()
    }

    /// Applies committed commands and publishes the image they lead to.
    pub fn apply(&self, commands: &[Command]) -> Arc<MetadataImage> {
        let mut image = MetadataImage::clone(&self.current());
        commands.iter().for_each(|c| image.apply(c));
        let image = Arc::new(image);
        self.0.send_replace(image.clone());
        image
    }

    /// Replaces the image with a snapshot's.
    pub fn replace(&self, image: MetadataImage) {
        self.0.send_replace(Arc::new(image));
    }

    /// A receiver that wakes on every newly published image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.0.subscribe()
    }
}

/// The quorum's state machine: committed entries (each a list of commands)
/// applied to the published image; snapshots are the image, in
/// `metadata::snapshot`'s checksummed format.
struct ImageMachine {
    images: Arc<Images>,
}

impl quorum::StateMachine for ImageMachine {
    fn apply(&mut self, index: u64, data: &[u8]) {
        match serde_json::from_slice::<Vec<Command>>(data) {
            Ok(commands) => {
                self.images.apply(&commands);
            }
            // Every member skips the same entry, so images still agree.
            Err(e) => {
                tracing::error!(index, error = %e, "a committed metadata entry is unreadable; skipping it")
            }
        }
    }

    fn restore(&mut self, index: u64, data: &[u8]) {
        match Snapshot::decode(data) {
            Ok(snapshot) => self.images.replace(snapshot.image),
            // It passed the log's CRC, so it is a newer version: keeping
            // the old image would diverge from the quorum.
            Err(e) => panic!("the metadata snapshot at index {index} cannot be read: {e}"),
        }
    }

    fn snapshot(&mut self, index: u64, term: u64) -> Vec<u8> {
        let image = MetadataImage::clone(&self.images.current());
        Snapshot { index, term, image }.encode()
    }
}

pub enum MetadataLog {
    Local(Mutex<Journal>),
    Quorum {
        handle: QuorumHandle,
        _member: Member,
        /// Each voter's controller listener.
        voters: BTreeMap<i32, SocketAddr>,
    },
    Observer(ObserverHandle),
}

impl MetadataLog {
    /// Joins the controller quorum: opens the Raft log in `dir` and starts
    /// the member; committed entries are applied to `images` as they come,
    /// from the first (a restart replays them).
    pub fn start_quorum(
        settings: &ClusterSettings,
        dir: &std::path::Path,
        listener: tokio::net::TcpListener,
        images: Arc<Images>,
        kafka: mpsc::Sender<tokio::net::TcpStream>,
    ) -> std::io::Result<MetadataLog> {
        let tick_ms = (settings.election_timeout_ms / 10).clamp(10, 100);
        let election_ticks = (settings.election_timeout_ms / tick_ms).max(3) as usize;
        let config = quorum::QuorumConfig {
            node_id: settings.node_id as u64,
            cluster_id: settings.cluster_id.clone(),
            voters: settings
                .voters
                .iter()
                .map(|(id, address)| (*id as u64, *address))
                .collect(),
            listener,
            dir: dir.to_path_buf(),
            tick: Duration::from_millis(tick_ms),
            timing: quorum::Timing {
                election_ticks,
                election_ticks_max: election_ticks * 2,
                heartbeat_ticks: (election_ticks / 5).max(1),
            },
            snapshot_bytes: settings.snapshot_bytes,
            snapshot_interval: Duration::from_millis(settings.snapshot_interval_ms),
            kafka: Some(kafka),
        };
        let (handle, member) = quorum::driver::start(config, ImageMachine { images })?;
        Ok(MetadataLog::Quorum {
            handle,
            _member: member,
            voters: settings.voters.clone(),
        })
    }

    /// Follows the quorum as a broker that is not a voter, from the voters'
    /// (or `controller.quorum.bootstrap.servers`') controller listeners.
    pub fn start_observer(settings: &ClusterSettings, images: Arc<Images>) -> MetadataLog {
        MetadataLog::Observer(quorum::observer::start(
            settings.node_id as u64,
            settings.cluster_id.clone(),
            settings.bootstrap.clone(),
            ImageMachine { images },
        ))
    }

    /// Waits until this node holds the metadata it had before a restart (a
    /// voter's local replay), or what the voters had committed when asked
    /// (an observer's first catch-up).
    pub async fn caught_up(&self) -> Option<Status> {
        match self {
            MetadataLog::Local(_) => None,
            MetadataLog::Quorum { handle, .. } => Some(handle.replayed().await),
            MetadataLog::Observer(observer) => Some(observer.caught_up().await),
        }
    }

    /// What this member knows of the quorum (`None` on a single node).
    pub fn quorum_status(&self) -> Option<Status> {
        match self {
            MetadataLog::Local(_) => None,
            MetadataLog::Quorum { handle, .. } => Some(handle.status()),
            MetadataLog::Observer(observer) => Some(observer.status.borrow().clone()),
        }
    }

    /// Whether this node is one of a cluster (a voter or an observer).
    pub fn in_cluster(&self) -> bool {
        !matches!(self, MetadataLog::Local(_))
    }

    /// The active controller and its controller listener, when it is known.
    pub fn controller_address(&self) -> Option<(i32, SocketAddr)> {
        match self {
            MetadataLog::Local(_) => None,
            MetadataLog::Quorum { handle, voters, .. } => {
                let id = handle.status().leader? as i32;
                Some((id, *voters.get(&id)?))
            }
            MetadataLog::Observer(observer) => {
                let (id, address) = observer.leader.get()?;
                Some((id as i32, address))
            }
        }
    }

    /// Whether this node may validate and commit changes now.
    pub fn is_active(&self) -> bool {
        match self {
            MetadataLog::Local(_) => true,
            MetadataLog::Quorum { handle, .. } => handle.status().active,
            MetadataLog::Observer(_) => false,
        }
    }

    /// Commits `commands` as one entry and returns the image once they
    /// are applied.
    pub async fn commit(
        &self,
        images: &Images,
        commands: Vec<Command>,
    ) -> Result<Arc<MetadataImage>, ApiError> {
        match self {
            MetadataLog::Local(journal) => {
                let mut journal = journal.lock().expect("journal lock");
                journal.append(&commands).map_err(|e| {
                    ApiError::new(
                        ResponseError::KafkaStorageError,
                        format!("metadata log write failed: {e}"),
                    )
                })?;
                Ok(images.apply(&commands))
            }
            MetadataLog::Quorum { handle, .. } => {
                let data = serde_json::to_vec(&commands)
                    .map_err(|e| ApiError::new(ResponseError::UnknownServerError, e.to_string()))?;
                match tokio::time::timeout(COMMIT_TIMEOUT, handle.propose(data)).await {
                    Ok(Ok(_)) => Ok(images.current()),
                    Ok(Err(QuorumError::Stopped)) => Err(ApiError::new(
                        ResponseError::KafkaStorageError,
                        "this controller's metadata log has stopped",
                    )),
                    Ok(Err(e)) => Err(not_controller(&e.to_string())),
                    Err(_) => Err(ApiError::new(
                        ResponseError::RequestTimedOut,
                        "the change was not committed by the controller quorum in time",
                    )),
                }
            }
            MetadataLog::Observer(_) => Err(not_controller("this broker is not a controller")),
        }
    }
}

pub fn not_controller(why: &str) -> ApiError {
    ApiError::new(
        ResponseError::NotController,
        format!("This is not the correct controller for this cluster: {why}"),
    )
}
