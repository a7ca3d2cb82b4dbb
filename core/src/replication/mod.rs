//! Replication between brokers (Kafka's ISR model): follower fetchers that
//! copy each followed partition from its leader (`fetcher`), and the
//! leader's ISR maintenance, which asks the active controller to take
//! laggards out of the ISR and caught-up followers back in (`isr`). What a
//! leader knows of its followers, and how the high watermark follows them,
//! lives with the partition (`partition::replicas`).

mod fetcher;
mod isr;
#[cfg(test)]
mod sim;

pub use isr::{ISR_EXPANDS, ISR_SHRINKS};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use fetcher::FetchSettings;

use crate::config::BrokerConfig;
use crate::metadata::{IsrRequest, MetadataImage};
use crate::partition::{FetchPosition, Partition, ReplicaManager};
use crate::protocol::error::{ApiError, ResponseError};

/// Each partition's answer to an AlterPartition.
pub type IsrAnswers = Result<Vec<Result<(), ResponseError>>, ApiError>;

/// How a leader reaches the active controller with AlterPartition.
pub trait IsrChannel: Send + Sync {
    fn alter_partition(
        &self,
        requests: Vec<IsrRequest>,
    ) -> Pin<Box<dyn Future<Output = IsrAnswers> + Send + '_>>;
}

pub struct Replication {
    node_id: i32,
    replicas: Arc<ReplicaManager>,
    images: watch::Receiver<Arc<MetadataImage>>,
    settings: FetchSettings,
    /// `replica.lag.time.max.ms`.
    lag_ms: i64,
    controller: Arc<dyn IsrChannel>,
    /// The fetcher task of each source broker.
    fetchers: Mutex<HashMap<i32, JoinHandle<()>>>,
    stopped: AtomicBool,
}

impl Replication {
    /// Starts the ISR maintenance and the fetchers this broker needs now;
    /// `reconcile` starts others as leadership moves.
    pub fn start(
        config: &BrokerConfig,
        replicas: Arc<ReplicaManager>,
        images: watch::Receiver<Arc<MetadataImage>>,
        controller: Arc<dyn IsrChannel>,
    ) -> Arc<Replication> {
        let ms = |name: &str| Duration::from_millis(config.number(name).max(0) as u64);
        let settings = FetchSettings {
            wait_max_ms: config.number("replica.fetch.wait.max.ms") as i32,
            min_bytes: config.number("replica.fetch.min.bytes") as i32,
            max_bytes: config.number("replica.fetch.max.bytes") as i32,
            response_max_bytes: config.number("replica.fetch.response.max.bytes") as i32,
            backoff: ms("replica.fetch.backoff.ms"),
            socket_timeout: ms("replica.socket.timeout.ms"),
        };
        let replication = Arc::new(Replication {
            node_id: config.node_id(),
            replicas,
            images,
            settings,
            lag_ms: config.number("replica.lag.time.max.ms"),
            controller,
            fetchers: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
        });
        tokio::spawn(isr::run(replication.clone()));
        let r = replication.clone();
        tokio::spawn(async move {
            // A safety net: fetchers that ended as a partition moved to
            // them are started again here at the latest.
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while !r.stopped() {
                tick.tick().await;
                r.reconcile();
            }
        });
        replication
    }

    /// Starts a fetcher for every broker this one follows a partition on
    /// and has none for (after each metadata change).
    pub fn reconcile(self: &Arc<Self>) {
        if self.stopped() {
            return;
        }
        let mut leaders: Vec<i32> = self
            .replicas
            .all()
            .iter()
            .filter_map(|p| p.fetch_position().map(|f| f.leader))
            .collect();
        leaders.sort_unstable();
        leaders.dedup();
        let mut fetchers = self.fetchers.lock().expect("fetchers lock");
        fetchers.retain(|_, task| !task.is_finished());
        for leader in leaders {
            fetchers
                .entry(leader)
                .or_insert_with(|| tokio::spawn(fetcher::run(self.clone(), leader)));
        }
    }

    /// Stops fetching (the broker is shutting down).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for (_, task) in self.fetchers.lock().expect("fetchers lock").drain() {
            task.abort();
        }
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The partitions this broker follows on `leader`, with where to fetch.
    fn followed_from(&self, leader: i32) -> Vec<(Arc<Partition>, FetchPosition)> {
        self.replicas
            .all()
            .into_iter()
            .filter_map(|p| {
                let position = p.fetch_position().filter(|f| f.leader == leader)?;
                Some((p, position))
            })
            .collect()
    }

    /// Broker `id`'s client listener, from the metadata.
    fn broker_address(&self, id: i32) -> Option<(String, u16)> {
        let image = self.images.borrow();
        let broker = image.brokers.get(&id)?;
        Some((broker.host.clone(), broker.port))
    }
}
