//! This broker as a member of a cluster: it opens its metadata log (the
//! local journal on a single node, the controller quorum in a cluster),
//! registers its endpoint and rack with the active controller, forwards
//! what only the active controller may do, and makes its partitions and
//! groups follow every committed change, whoever made it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::broker_registration_request::Listener as RegisteredListener;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{
    AllocateProducerIdsRequest, AllocateProducerIdsResponse, ApiKey, BrokerId,
    BrokerRegistrationRequest, BrokerRegistrationResponse, CreateTopicsRequest,
    CreateTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tracing::{info, warn};

use super::broker::Broker;
use crate::cluster::channel;
use crate::config::cluster::ClusterSettings;
use crate::config::BrokerConfig;
use crate::metadata::log::{not_controller, Images, MetadataLog};
use crate::metadata::{Command, Controller, MetadataImage, NewTopic, TopicImage};
use crate::protocol::error::{ApiError, ResponseError};

/// The requests only the active controller can carry out; another broker
/// forwards them.
const FORWARDED: &[ApiKey] = &[
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::CreatePartitions,
    ApiKey::AlterConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeQuorum,
];

/// How long a forwarded request waits for an active controller.
const FORWARD_PATIENCE: Duration = Duration::from_secs(10);

/// How often a broker retries registering (or forwarding) while no
/// controller is active.
const REGISTRATION_RETRY: Duration = Duration::from_millis(200);

/// Opens the metadata log: the journal on a single node; in a cluster,
/// the quorum member, replayed up to what it had committed before a
/// restart, so the broker starts from the image it left.
pub async fn open_controller(config: &BrokerConfig) -> anyhow::Result<Controller> {
    let dir = config.metadata_log_dir().join(crate::log::METADATA_LOG_DIR);
    let advertised = config.advertised_listeners().remove(0);
    let Some(settings) = config.cluster()? else {
        let dir = config.metadata_log_dir().join("__cluster_metadata");
        return Ok(Controller::open(
            &dir,
            config.node_id(),
            &advertised.host,
            advertised.port,
        )?);
    };
    check_meta_properties(&config.metadata_log_dir(), &settings)?;
    let address = format!(
        "{}:{}",
        settings.controller_listener.host, settings.controller_listener.port
    );
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {address} (the controller listener): {e}")
    })?;
    let images = Arc::new(Images::new(MetadataImage::default()));
    let log = MetadataLog::start_quorum(&settings, &dir, listener, images.clone())?;
    if let Some(quorum) = log.quorum() {
        let replayed = quorum.replayed().await;
        info!(
            applied = replayed.applied,
            voters = settings.voters.len(),
            "joined the controller quorum"
        );
    }
    Ok(Controller::with_log(settings.node_id, log, images))
}

/// Kafka's `meta.properties`: the cluster and node a data directory belongs
/// to. A directory of another cluster, or another node, is refused.
fn check_meta_properties(dir: &std::path::Path, settings: &ClusterSettings) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("meta.properties");
    let wanted = format!(
        "version=1\ncluster.id={}\nnode.id={}\n",
        settings.cluster_id, settings.node_id
    );
    match std::fs::read_to_string(&path) {
        Ok(found) => {
            let value = |key: &str| {
                found
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                    .map(str::trim)
                    .map(str::to_string)
            };
            let cluster = value("cluster.id");
            let node = value("node.id");
            if cluster.as_deref() != Some(settings.cluster_id.as_str()) {
                anyhow::bail!(
                    "{} belongs to cluster {}, but this node is configured for cluster {} (weir.cluster.id / controller.quorum.voters)",
                    dir.display(),
                    cluster.unwrap_or_default(),
                    settings.cluster_id
                );
            }
            if node.as_deref() != Some(settings.node_id.to_string().as_str()) {
                anyhow::bail!(
                    "{} belongs to node {}, but node.id is {}",
                    dir.display(),
                    node.unwrap_or_default(),
                    settings.node_id
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, wanted)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

impl Broker {
    /// Whether this broker is one member of a cluster.
    pub fn in_cluster(&self) -> bool {
        self.controller.log().quorum().is_some()
    }

    /// The controller clients are told of: the active one, else this
    /// broker (which forwards what it cannot do itself).
    pub fn controller_id(&self) -> i32 {
        self.controller
            .active_controller()
            .filter(|id| self.image().brokers.contains_key(id))
            .unwrap_or(self.node_id())
    }

    /// The controller Metadata names. In a cluster, as in KRaft, any live
    /// broker will do, since each forwards admin requests to the active
    /// controller: this one, which is certainly alive. A client that cached
    /// the active controller would wait on it after it died.
    pub fn metadata_controller_id(&self) -> i32 {
        if self.in_cluster() {
            self.node_id()
        } else {
            self.controller_id()
        }
    }

    /// Where the active controller serves Kafka requests, unless it is
    /// this broker or unknown.
    pub(super) fn remote_controller(&self) -> Option<(i32, String, u16)> {
        let id = self.controller.active_controller()?;
        if id == self.node_id() {
            return None;
        }
        let image = self.image();
        let b = image.brokers.get(&id)?;
        Some((id, b.host.clone(), b.port))
    }

    /// Sends a client's admin request to the active controller when this
    /// broker is not it. While no controller answers (an election after
    /// the active one died), it retries for up to `FORWARD_PATIENCE`, so
    /// the client sees a late answer rather than an error. `None`: handle
    /// it here (a single node, the active controller, a request a peer
    /// already forwarded, or no controller in time: NOT_CONTROLLER).
    pub async fn forward(&self, api: ApiKey, frame: &Bytes) -> Option<Bytes> {
        if !FORWARDED.contains(&api) || !self.in_cluster() || channel::is_peer(frame) {
            return None;
        }
        let deadline = tokio::time::Instant::now() + FORWARD_PATIENCE;
        loop {
            if self.controller.log().is_active() {
                return None;
            }
            if let Some((id, host, port)) = self.remote_controller() {
                match self.channel.forward((&host, port), frame).await {
                    Ok(response) => return Some(response),
                    Err(e) => {
                        tracing::debug!(controller = id, error = %e, ?api, "could not forward to the active controller")
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(
                    ?api,
                    "no active controller answered; answering NOT_CONTROLLER"
                );
                return None;
            }
            tokio::time::sleep(REGISTRATION_RETRY).await;
        }
    }

    /// Creates a topic the broker itself needs (auto-creation,
    /// `__consumer_offsets`): here when this broker is the active controller,
    /// else with CreateTopics to the active one; answers once this broker's
    /// image holds the topic.
    pub async fn create_topic_anywhere(&self, topic: &NewTopic) -> Result<TopicImage, ApiError> {
        if !self.in_cluster() || self.controller.log().is_active() {
            let config = self.config.clone();
            return self
                .change_metadata(self.controller.create_topic(&config, topic, false))
                .await;
        }
        let (_, host, port) = self
            .remote_controller()
            .ok_or_else(|| not_controller("no controller is active to create the topic"))?;
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.name.clone())))
                .with_num_partitions(topic.num_partitions)
                .with_replication_factor(topic.replication_factor)
                .with_configs(
                    topic
                        .configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.clone()))
                                .with_value(v.clone().map(StrBytes::from_string))
                        })
                        .collect(),
                )]);
        let response: CreateTopicsResponse = self
            .channel
            .call((&host, port), self.node_id(), 5, &request)
            .await
            .map_err(|e| not_controller(&e.to_string()))?;
        let result = response.topics.first().ok_or_else(|| {
            ApiError::new(
                ResponseError::UnknownServerError,
                "an empty CreateTopics answer",
            )
        })?;
        if result.error_code != 0 && result.error_code != ResponseError::TopicAlreadyExists.code() {
            return Err(ApiError::new(
                ResponseError::try_from_code(result.error_code)
                    .unwrap_or(ResponseError::UnknownServerError),
                result
                    .error_message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            ));
        }
        // Wait for the committed topic to reach this broker's image.
        let mut images = self.controller.subscribe();
        let arrived = tokio::time::timeout(FORWARD_PATIENCE, async {
            images
                .wait_for(|image| image.topics.contains_key(&topic.name))
                .await
                .map(|image| image.topics[&topic.name].clone())
        })
        .await;
        match arrived {
            Ok(Ok(found)) => {
                self.follow_metadata().await?;
                if result.error_code != 0 {
                    return Err(ApiError::new(ResponseError::TopicAlreadyExists, "exists"));
                }
                Ok(found)
            }
            _ => Err(ApiError::new(
                ResponseError::RequestTimedOut,
                "the topic was created but has not reached this broker yet",
            )),
        }
    }

    /// Reserves `count` producer ids: from the local controller when it is
    /// active, else from the active controller (AllocateProducerIds).
    pub async fn allocate_producer_ids(&self, count: i64) -> Result<i64, ApiError> {
        if !self.in_cluster() || self.controller.log().is_active() {
            return self.controller.allocate_producer_ids(count).await;
        }
        let (_, host, port) = self.remote_controller().ok_or_else(|| {
            ApiError::new(
                ResponseError::CoordinatorNotAvailable,
                "no controller is active to hand out producer ids",
            )
        })?;
        let request =
            AllocateProducerIdsRequest::default().with_broker_id(BrokerId(self.node_id()));
        let response: AllocateProducerIdsResponse = self
            .channel
            .call((&host, port), self.node_id(), 0, &request)
            .await
            .map_err(|e| ApiError::new(ResponseError::CoordinatorNotAvailable, e.to_string()))?;
        if response.error_code != 0 {
            return Err(ApiError::new(
                ResponseError::try_from_code(response.error_code)
                    .unwrap_or(ResponseError::UnknownServerError),
                "the controller did not hand out producer ids",
            ));
        }
        Ok(response.producer_id_start.0)
    }

    /// AllocateProducerIds from another broker, on the active controller.
    pub async fn handle_allocate_producer_ids(
        &self,
        request: AllocateProducerIdsRequest,
    ) -> AllocateProducerIdsResponse {
        let _ = request;
        let count = crate::producer::ids::BLOCK;
        match self.controller.allocate_producer_ids(count).await {
            Ok(first) => AllocateProducerIdsResponse::default()
                .with_producer_id_start(kafka_protocol::messages::ProducerId(first))
                .with_producer_id_len(count as i32),
            Err(e) => AllocateProducerIdsResponse::default().with_error_code(e.code()),
        }
    }

    /// BrokerRegistration from another broker, on the active controller.
    pub async fn handle_broker_registration(
        &self,
        request: BrokerRegistrationRequest,
    ) -> BrokerRegistrationResponse {
        let image = self.image();
        if request.cluster_id.as_str() != image.cluster_id {
            return BrokerRegistrationResponse::default()
                .with_error_code(ResponseError::InconsistentClusterId.code());
        }
        let Some(listener) = request.listeners.first() else {
            return BrokerRegistrationResponse::default()
                .with_error_code(ResponseError::InvalidRequest.code());
        };
        let registration = self.controller.registration(
            request.broker_id.0,
            listener.host.as_str(),
            listener.port,
            request.rack.as_ref().map(|r| r.to_string()),
        );
        let outcome = match registration {
            Some(command) => self.controller.submit(vec![command]).await.map(|_| ()),
            None => Ok(()),
        };
        match outcome {
            Ok(()) => {
                BrokerRegistrationResponse::default().with_broker_epoch(self.image().applied as i64)
            }
            Err(e) => BrokerRegistrationResponse::default().with_error_code(e.code()),
        }
    }

    /// Registers this broker with the active controller, retrying until
    /// one answers; the active controller also writes the cluster's id.
    async fn register(&self, settings: Option<ClusterSettings>) {
        let rack = self.config.get("broker.rack").filter(|r| !r.is_empty());
        let (host, port) = (self.advertised.host.clone(), self.advertised.port);
        loop {
            let done = if self.controller.log().is_active() {
                let mut commands = Vec::new();
                if self.image().cluster_id.is_empty() {
                    let cluster_id = settings.as_ref().map(|s| s.cluster_id.clone());
                    commands.push(Command::InitCluster {
                        cluster_id: cluster_id.unwrap_or_default(),
                    });
                }
                commands.extend(self.controller.registration(
                    self.node_id(),
                    &host,
                    port,
                    rack.clone(),
                ));
                commands.is_empty() || self.controller.submit(commands).await.is_ok()
            } else if let Some((_, chost, cport)) = self.remote_controller() {
                let request = BrokerRegistrationRequest::default()
                    .with_broker_id(BrokerId(self.node_id()))
                    .with_cluster_id(StrBytes::from_string(self.image().cluster_id.clone()))
                    .with_rack(rack.clone().map(StrBytes::from_string))
                    .with_listeners(vec![RegisteredListener::default()
                        .with_name(StrBytes::from_static_str("PLAINTEXT"))
                        .with_host(StrBytes::from_string(host.clone()))
                        .with_port(port)]);
                let answer: std::io::Result<BrokerRegistrationResponse> = self
                    .channel
                    .call((&chost, cport), self.node_id(), 0, &request)
                    .await;
                matches!(answer, Ok(r) if r.error_code == 0)
            } else {
                false
            };
            if done && self.image().brokers.contains_key(&self.node_id()) {
                info!(
                    node = self.node_id(),
                    "registered with the active controller"
                );
                return;
            }
            tokio::time::sleep(REGISTRATION_RETRY).await;
        }
    }

    /// In a cluster: registers this broker, and makes the local partitions
    /// and groups follow each image the quorum commits.
    pub fn spawn_cluster_tasks(self: &Arc<Self>) {
        if !self.in_cluster() {
            return;
        }
        let settings = self.config.cluster().ok().flatten();
        let broker = self.clone();
        tokio::spawn(async move { broker.register(settings).await });
        self.spawn_heartbeats();
        let broker = self.clone();
        let mut images = self.controller.subscribe();
        tokio::spawn(async move {
            while images.changed().await.is_ok() {
                if let Err(e) = broker.follow_metadata().await {
                    warn!(error = %e.message().unwrap_or_default(), "the partitions could not follow a metadata change");
                }
            }
        });
    }
}
