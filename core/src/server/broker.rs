//! The broker: config, controller (metadata) and replica manager wired
//! together, with the background tasks that flush and checkpoint logs. This is
//! what every request handler is given.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::config::{BrokerConfig, ConfigView, Listener};
use crate::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::log::cleaner::policy::{CompactionPolicy, KafkaCompaction};
use crate::log::retention::{KafkaRetention, RetentionPolicy};
use crate::log::LogManager;
use crate::metadata::{Controller, MetadataDelta, MetadataImage, NewTopic, TopicImage};
use crate::partition::cleaner::{self, CleanerSettings};
use crate::partition::ReplicaManager;
use crate::protocol::error::{ApiError, ResponseError};

pub struct Broker {
    pub config: Arc<BrokerConfig>,
    pub controller: Controller,
    pub replicas: Arc<ReplicaManager>,
    pub groups: GroupCoordinator,
    /// The endpoint clients are told to use.
    pub advertised: Listener,
    pub producer_ids: crate::producer::ProducerIdManager,
    pub plugins: crate::plugin::PluginRegistry,
    /// Requests to the active controller when it is another broker.
    pub channel: crate::cluster::channel::Channel,
    /// On the active controller: when each broker last heartbeated.
    pub liveness: super::heartbeats::Liveness,
    /// The image the partitions and groups have followed; held while they
    /// follow, so images are followed in order, each as a delta from it.
    followed: Mutex<Arc<MetadataImage>>,
    /// This node's place in a cluster (`None`: a single node).
    pub cluster: Option<crate::config::cluster::ClusterSettings>,
    /// Other brokers' connections to this controller, until served.
    controller_connections: std::sync::Mutex<Option<super::membership::ControllerConnections>>,
    /// In a cluster: the follower fetchers and the ISR maintenance.
    pub replication: std::sync::OnceLock<Arc<crate::replication::Replication>>,
    /// The brokers Metadata lists.
    pub offered: super::offered_brokers::OfferedBrokers,
    /// Whether this broker's metadata has caught up with the cluster's
    /// since it started (always, on a single node): until then it answers
    /// no client, so none is told a leadership it held before a restart.
    caught_up: tokio::sync::watch::Sender<bool>,
    /// What each principal may do (the metadata log's ACLs).
    pub authorizer: crate::security::acl::authorizer::Authorizer,
    /// The authorizer plugin asked before the ACLs (`weir.authorizer`).
    pub authorizer_plugin: Option<super::authorize::AuthorizerBinding>,
    /// Produce and fetch byte-rate quotas (the metadata log's).
    pub quotas: super::quotas::Quotas,
    /// The built-in schema registry, once started (it serves its REST API
    /// only with `schema.registry.listener`; validation reads it always).
    pub schema_registry: std::sync::OnceLock<Arc<crate::schema_registry::SchemaRegistry>>,
}

impl Broker {
    /// Whether requests are authorized at all: ACLs on, or an authorizer
    /// plugin bound. Otherwise every request is allowed, as in Kafka
    /// without an authorizer.
    pub fn authorization_on(&self) -> bool {
        self.authorizer.is_enabled() || self.authorizer_plugin.is_some()
    }

    /// Opens the metadata log and the data directories (recovering them if the
    /// last shutdown was not clean).
    pub async fn open(config: BrokerConfig) -> anyhow::Result<Broker> {
        let config = Arc::new(config);
        let cluster = config.cluster()?;
        let (controller, controller_connections) =
            super::membership::open_controller(&config, cluster.as_ref()).await?;
        // A controller-only node serves no clients: it is known by its
        // controller listener.
        let advertised = config
            .advertised_listeners()
            .into_iter()
            .next()
            .or_else(|| cluster.as_ref()?.controller_listener.clone())
            .ok_or_else(|| anyhow::anyhow!("no listener is configured (listeners)"))?;
        controller.set_max_partitions(config.max_partitions());
        // One image for everything opened here, and the one followed from:
        // the quorum goes on applying meanwhile, and what it applies after
        // this image must reach the partitions as a delta from it.
        let followed = controller.image();
        let logs = LogManager::new(config.log_dirs())?;
        let replicas = Arc::new(ReplicaManager::start(config.clone(), logs, &followed)?);
        let groups = GroupCoordinator::new(&config, replicas.clone());
        groups.set_group_configs(&followed.group_configs);
        let plugins =
            crate::plugin::PluginRegistry::new(&config.metadata_log_dir().join("__plugin_cache"));
        let native_dir = config
            .get("weir.plugin.native.dir")
            .filter(|d| !d.is_empty());
        plugins.enable_native(
            native_dir
                .filter(|_| config.flag("weir.plugin.native.enabled"))
                .map(Into::into),
        );
        super::admin::plugins::load_at_start(&plugins, &config, &followed)?;
        let serves_cluster_clients = cluster.as_ref().is_some_and(|c| c.roles.broker);
        let authorizer = crate::security::acl::authorizer::Authorizer::from_config(&config)
            .map_err(|e| anyhow::anyhow!(e))?;
        authorizer.set_acls(&followed.acls);
        let authorizer_plugin = super::authorize::AuthorizerBinding::from_config(&config);
        let quotas = super::quotas::Quotas::new(&config);
        quotas.set_quotas(&followed.client_quotas);
        Ok(Broker {
            config,
            controller,
            replicas,
            groups,
            plugins,
            advertised,
            producer_ids: Default::default(),
            channel: Default::default(),
            liveness: Default::default(),
            followed: Mutex::new(followed),
            controller_connections: std::sync::Mutex::new(controller_connections),
            cluster,
            replication: Default::default(),
            offered: Default::default(),
            caught_up: tokio::sync::watch::Sender::new(!serves_cluster_clients),
            authorizer,
            authorizer_plugin,
            quotas,
            schema_registry: std::sync::OnceLock::new(),
        })
    }

    /// The connections other brokers make to this node's controller
    /// listener, for the server to take once.
    pub fn take_controller_connections(&self) -> Option<super::membership::ControllerConnections> {
        self.controller_connections
            .lock()
            .expect("controller connections lock")
            .take()
    }

    /// The cluster's id: the configured one in a cluster (known before the
    /// active controller has written it into the metadata), else the one
    /// the single node's metadata holds.
    pub fn cluster_id(&self) -> String {
        match &self.cluster {
            Some(settings) => settings.cluster_id.clone(),
            None => self.image().cluster_id.clone(),
        }
    }

    /// Whether this node serves clients and hosts partitions (a single
    /// node, or a cluster member with the broker role).
    pub fn is_broker(&self) -> bool {
        self.cluster.as_ref().is_none_or(|s| s.roles.broker)
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id()
    }

    /// The active controller says this broker's metadata has caught up.
    pub fn caught_up(&self) {
        if !self.caught_up.send_replace(true) {
            info!("caught up with the cluster's metadata: serving clients");
        }
    }

    /// Waits until this broker may answer clients.
    pub async fn ready_for_clients(&self) {
        let _ = self.caught_up.subscribe().wait_for(|ready| *ready).await;
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    /// Runs a metadata change, then makes the hosted partitions follow it
    /// before answering.
    pub async fn change_metadata<T>(
        &self,
        change: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let result = change.await;
        if result.is_ok() {
            self.follow_metadata().await?;
        }
        result
    }

    /// Makes the partitions and groups follow the current image, unless
    /// they already have: only what changed since the image they followed.
    pub async fn follow_metadata(&self) -> Result<(), ApiError> {
        let mut followed = self.followed.lock().await;
        let image = self.controller.image();
        if image.applied <= followed.applied {
            return Ok(());
        }
        let delta = MetadataDelta::between(&followed, &image);
        if delta.group_configs {
            self.groups.set_group_configs(&image.group_configs);
        }
        if let Err(e) = self.replicas.apply_delta(&image, &delta) {
            warn!(error = %e, "could not apply a metadata change to the logs");
            return Err(ApiError::new(
                kafka_protocol::error::ResponseError::KafkaStorageError,
                format!("metadata changed but the logs could not follow: {e}"),
            ));
        }
        self.offered.follow(&followed, &image);
        if followed.acls != image.acls {
            self.authorizer.set_acls(&image.acls);
        }
        if followed.client_quotas != image.client_quotas {
            self.quotas.set_quotas(&image.client_quotas);
        }
        *followed = image;
        self.follow_groups();
        if let Some(replication) = self.replication.get() {
            replication.reconcile();
        }
        Ok(())
    }

    /// Groups follow the leadership of `__consumer_offsets`: loaded where
    /// it moved here (before the metadata change is answered, so a new
    /// coordinator serves at once), dropped where it moved away.
    fn follow_groups(&self) {
        for (partition, epoch) in self.groups.follow_leadership() {
            if let Err(e) = self.groups.load_partition(partition, epoch) {
                warn!(partition, error = %e, "could not load groups");
            }
        }
    }

    /// Creates a topic with broker defaults (auto-creation).
    pub async fn auto_create_topic(&self, name: &str) -> Result<TopicImage, ApiError> {
        if name == OFFSETS_TOPIC {
            self.ensure_offsets_topic().await?;
            return self.image().topics.get(name).cloned().ok_or_else(|| {
                ApiError::new(ResponseError::CoordinatorNotAvailable, "not created")
            });
        }
        let topic = NewTopic {
            name: name.to_string(),
            num_partitions: -1,
            replication_factor: -1,
            ..Default::default()
        };
        self.create_topic_anywhere(&topic).await
    }

    /// Creates `__consumer_offsets` the first time a group needs a
    /// coordinator (as Kafka does), compacted, with its own partition count.
    pub async fn ensure_offsets_topic(&self) -> Result<(), ApiError> {
        if self.image().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        let config = self.config.clone();
        // Kafka refuses to create it with fewer live brokers than its
        // replication factor; Weir takes what there is, so that a single
        // node needs no setting.
        let live = self
            .image()
            .brokers
            .values()
            .filter(|b| b.is_live())
            .count()
            .max(1);
        let wanted = config.number("offsets.topic.replication.factor");
        let replication_factor = wanted.min(live as i64) as i16;
        if (replication_factor as i64) < wanted && self.in_cluster() {
            warn!(wanted, live, "__consumer_offsets gets fewer replicas than offsets.topic.replication.factor: not enough live brokers");
        }
        let topic = NewTopic {
            name: OFFSETS_TOPIC.to_string(),
            num_partitions: self.groups.partitions(),
            replication_factor,
            configs: [
                ("cleanup.policy", "compact".to_string()),
                ("compression.type", "producer".to_string()),
                (
                    "segment.bytes",
                    config.number("offsets.topic.segment.bytes").to_string(),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Some(v)))
            .collect(),
            ..Default::default()
        };
        match self.create_topic_anywhere(&topic).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == ResponseError::TopicAlreadyExists.code() => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn config_view<'a>(&'a self, image: &'a MetadataImage) -> ConfigView<'a> {
        ConfigView {
            static_config: &self.config,
            dynamic: &image.cluster_configs,
        }
    }

    /// Starts the periodic flusher and checkpointer, and the group
    /// coordinator's loading and timers.
    pub fn spawn_background_tasks(self: &Arc<Self>) {
        self.spawn_cluster_tasks();
        self.spawn_plugin_follower();
        self.spawn_group_tasks();
        self.spawn_every("weir.plugin.watch.interval.ms", |b| {
            b.plugins.reload_changed_files()
        });
        self.spawn_every(
            "producer.id.expiration.check.interval.ms",
            Broker::expire_producers,
        );
        self.spawn_every("log.retention.check.interval.ms", Broker::enforce_retention);
        if self.config.flag("log.cleaner.enable") {
            self.start_cleaner();
        }
        let flush_every = self
            .config
            .flush_scheduler_interval_ms()
            .clamp(100, 3_600_000) as u64;
        let broker = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(flush_every));
            loop {
                tick.tick().await;
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.replicas.flush_due_logs()).await;
            }
        });
        let idle_ms = self.config.number("weir.segment.file.idle.ms").max(1);
        let broker = self.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis((idle_ms as u64 / 2).clamp(100, 30_000));
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let b = broker.clone();
                let released =
                    tokio::task::spawn_blocking(move || b.replicas.release_idle_files(idle_ms))
                        .await
                        .unwrap_or(0);
                if released > 0 {
                    tracing::debug!(released, "closed the files of idle segments");
                }
            }
        });
        let checkpoint_every = self.config.checkpoint_interval_ms().max(100) as u64;
        let broker = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(checkpoint_every));
            tick.tick().await;
            loop {
                tick.tick().await;
                let b = broker.clone();
                if let Ok(Err(e)) =
                    tokio::task::spawn_blocking(move || b.replicas.checkpoint()).await
                {
                    warn!(error = %e, "checkpoint failed");
                }
            }
        });
    }

    /// Runs `job` every `config_name` milliseconds (the first run one period
    /// after start).
    fn spawn_every(self: &Arc<Self>, config_name: &str, job: fn(&Broker)) {
        let every = self.config.number(config_name).max(1) as u64;
        let broker = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(every));
            tick.tick().await;
            loop {
                tick.tick().await;
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || job(&b)).await;
            }
        });
    }

    /// Forgets idempotent producers idle for producer.id.expiration.ms.
    fn expire_producers(&self) {
        let image = self.image();
        let expiration = self
            .config_view(&image)
            .broker_number("producer.id.expiration.ms");
        let expired = self
            .replicas
            .expire_producers(crate::log::now_ms(), expiration);
        if expired > 0 {
            tracing::info!(expired, "forgot idle idempotent producers");
        }
    }

    /// The log cleaner's threads, compacting with each topic's policy.
    fn start_cleaner(self: &Arc<Self>) {
        let number = |name: &str| self.config.number(name).max(1);
        let settings = CleanerSettings {
            threads: number("log.cleaner.threads") as usize,
            backoff: Duration::from_millis(number("log.cleaner.backoff.ms") as u64),
            io_bytes_per_second: self
                .config
                .get("log.cleaner.io.max.bytes.per.second")
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::MAX),
        };
        let broker = self.clone();
        cleaner::start(
            self.replicas.clone(),
            settings,
            Arc::new(move |topic: &str| broker.compaction_policy(topic)),
        );
    }

    /// The policy `config` names for `topic` (the plugin bound with that
    /// topic config), or None for the native one.
    fn bound_policy(&self, topic: &str, config: &str) -> Option<String> {
        let image = self.image();
        let name = image
            .topics
            .get(topic)?
            .configs
            .get(config)?
            .trim()
            .to_string();
        (!name.is_empty()).then_some(name)
    }

    /// The topic's compaction policy: its bound plugin, else Kafka's rule
    /// (also when the plugin is not loaded, which is logged).
    fn compaction_policy(&self, topic: &str) -> Arc<dyn CompactionPolicy> {
        let bound = self.bound_policy(topic, "weir.compaction.policy");
        match bound.map(|name| (self.plugins.compaction_policy(&name), name)) {
            Some((Some(plugin), _)) => plugin,
            Some((None, name)) => {
                warn!(
                    topic,
                    plugin = name,
                    "no compaction-policy plugin of that name is loaded; compacting natively"
                );
                Arc::new(KafkaCompaction)
            }
            None => Arc::new(KafkaCompaction),
        }
    }

    /// The topic's retention policy, as `compaction_policy`.
    fn retention_policy(&self, topic: &str) -> Arc<dyn RetentionPolicy> {
        let bound = self.bound_policy(topic, "weir.retention.policy");
        match bound.map(|name| (self.plugins.retention_policy(&name), name)) {
            Some((Some(plugin), _)) => plugin,
            Some((None, name)) => {
                warn!(topic, plugin = name, "no retention-policy plugin of that name is loaded; applying retention.ms and retention.bytes");
                Arc::new(KafkaRetention)
            }
            None => Arc::new(KafkaRetention),
        }
    }

    /// Deletes the segments each topic's retention policy lets go.
    fn enforce_retention(&self) {
        self.replicas.enforce_retention(
            |topic| self.retention_policy(topic),
            |tp| self.groups.lowest_committed(&tp.topic, tp.partition),
        );
    }

    fn spawn_group_tasks(self: &Arc<Self>) {
        let broker = self.clone();
        tokio::task::spawn_blocking(move || broker.follow_groups());
        let broker = self.clone();
        tokio::spawn(async move {
            // Each pass fires what is due and sleeps until the next
            // deadline (at most a second, in case a clock step hid one).
            loop {
                let next = broker.groups.tick();
                let cap = std::time::Instant::now() + Duration::from_secs(1);
                broker
                    .groups
                    .sleep_until(next.map_or(cap, |n| n.min(cap)))
                    .await;
            }
        });
        self.spawn_every("offsets.retention.check.interval.ms", |b| {
            b.groups.expire_offsets()
        });
    }

    /// Clean shutdown of storage (fetchers first: nothing appends after).
    pub fn shutdown(&self) -> std::io::Result<()> {
        if let Some(replication) = self.replication.get() {
            replication.stop();
        }
        self.replicas.shutdown()
    }
}
