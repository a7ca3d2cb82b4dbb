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
    CreateTopicsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tracing::{info, warn};

use super::broker::Broker;
use crate::cluster::channel;
use crate::config::cluster::ClusterSettings;
use crate::config::BrokerConfig;
use crate::metadata::command::Endpoint;
use crate::metadata::log::{not_controller, Images, MetadataLog};
use crate::metadata::{BrokerState, Command, Controller, MetadataImage, NewTopic, TopicImage};
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
    ApiKey::ElectLeaders,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
    ApiKey::AlterUserScramCredentials,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
    ApiKey::AlterClientQuotas,
];

/// How long a forwarded request waits for an active controller.
const FORWARD_PATIENCE: Duration = Duration::from_secs(10);

/// How often a broker retries registering (or forwarding) while no
/// controller is active.
const REGISTRATION_RETRY: Duration = Duration::from_millis(200);

/// Kafka requests other brokers sent to this node's controller listener.
pub type ControllerConnections = tokio::sync::mpsc::Receiver<tokio::net::TcpStream>;

/// Opens the metadata log: the journal on a single node; in a cluster, the
/// quorum member on a controller (replayed up to what it had committed
/// before a restart, so it starts from the image it left), or the observer
/// on a broker that is not a voter (caught up with the voters). Either way
/// the image is current before the partitions open against it.
pub async fn open_controller(
    config: &BrokerConfig,
    cluster: Option<&ClusterSettings>,
) -> anyhow::Result<(Controller, Option<ControllerConnections>)> {
    let dir = config.metadata_log_dir().join(crate::log::METADATA_LOG_DIR);
    let Some(settings) = cluster else {
        let dir = config.metadata_log_dir().join("__cluster_metadata");
        let controller = Controller::open(&dir, config.node_id(), &advertised_endpoints(config))?;
        return Ok((controller, None));
    };
    check_meta_properties(&config.metadata_log_dir(), settings)?;
    let images = Arc::new(Images::new(MetadataImage::default()));
    let (log, connections) = match &settings.controller_listener {
        Some(listener) => {
            let address = format!("{}:{}", listener.host, listener.port);
            let socket = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {address} (the controller listener): {e}")
            })?;
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            let log = MetadataLog::start_quorum(settings, &dir, socket, images.clone(), tx)?;
            (log, Some(rx))
        }
        None => (MetadataLog::start_observer(settings, images.clone()), None),
    };
    let status = {
        let waiting = log.caught_up();
        tokio::pin!(waiting);
        loop {
            tokio::select! {
                status = &mut waiting => break status,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {
                    info!(bootstrap = ?settings.bootstrap, "waiting for the controller quorum's metadata");
                }
            }
        }
    };
    if let Some(status) = status {
        info!(
            applied = status.applied,
            voters = settings.voters.len(),
            controller = settings.roles.controller,
            "joined the cluster's metadata"
        );
    }
    Ok((
        Controller::with_log(settings.node_id, log, images),
        connections,
    ))
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
        self.controller.log().in_cluster()
    }

    /// The controller clients are told of: the active one, else this
    /// broker (which forwards what it cannot do itself).
    pub fn controller_id(&self) -> i32 {
        self.controller
            .active_controller()
            .filter(|id| self.image().brokers.contains_key(id))
            .unwrap_or(self.node_id())
    }

    /// Where the active controller takes other brokers' Kafka requests
    /// (its controller listener), unless it is this node or unknown.
    pub(crate) fn remote_controller(&self) -> Option<(i32, String, u16)> {
        let (id, address) = self.controller.log().controller_address()?;
        if id == self.node_id() {
            return None;
        }
        Some((id, address.ip().to_string(), address.port()))
    }

    /// Sends `request` (of an API at `version`) to the active controller's
    /// controller listener and returns its answer; `unreachable` is the
    /// error when no controller is known or it does not answer.
    pub(crate) async fn call_controller<R>(
        &self,
        version: i16,
        request: &R,
        unreachable: ResponseError,
    ) -> Result<R::Response, ApiError>
    where
        R: kafka_protocol::protocol::Request + kafka_protocol::protocol::Encodable,
        R::Response: kafka_protocol::protocol::Decodable,
    {
        let (id, host, port) = self
            .remote_controller()
            .ok_or_else(|| ApiError::new(unreachable, "no active controller is known"))?;
        self.channel
            .call((&host, port), self.node_id(), version, request)
            .await
            .map_err(|e| ApiError::new(unreachable, format!("controller {id}: {e}")))
    }

    /// Sends a client's admin request to the active controller when this
    /// broker is not it. While no controller answers (an election after
    /// the active one died), it retries for up to `FORWARD_PATIENCE`, so
    /// the client sees a late answer rather than an error. `None`: handle
    /// it here (a single node, the active controller, a request a peer
    /// already forwarded, or no controller in time: NOT_CONTROLLER).
    pub async fn forward(
        &self,
        api: ApiKey,
        frame: &Bytes,
        client: &super::dispatch::Session,
    ) -> Option<Bytes> {
        if !FORWARDED.contains(&api) || !self.in_cluster() || channel::is_peer(frame) {
            return None;
        }
        let deadline = tokio::time::Instant::now() + FORWARD_PATIENCE;
        loop {
            if self.controller.log().is_active() {
                return None;
            }
            if let Some((id, host, port)) = self.remote_controller() {
                let on_behalf = (client.principal.as_str(), client.host());
                match self.channel.forward((&host, port), frame, on_behalf).await {
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

    /// Commits `commands` (plugin changes, which any broker may make) here
    /// when this node is the active controller or a single node, else
    /// through the active controller (Weir's submit request).
    pub async fn submit_anywhere(&self, commands: Vec<Command>) -> Result<(), ApiError> {
        if !self.in_cluster() || self.controller.log().is_active() {
            return self.controller.submit(commands).await.map(|_| ());
        }
        let json = serde_json::to_vec(&commands)
            .map_err(|e| ApiError::new(ResponseError::UnknownServerError, e.to_string()))?;
        let (id, host, port) = self
            .remote_controller()
            .ok_or_else(|| not_controller("no active controller is known"))?;
        let (code, message) = self
            .channel
            .submit((&host, port), self.node_id(), &json)
            .await
            .map_err(|e| not_controller(&format!("controller {id}: {e}")))?;
        match code {
            0 => Ok(()),
            code => Err(ApiError::new(
                ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError),
                message,
            )),
        }
    }

    /// Weir's submit request from another broker, on the active controller:
    /// only plugin changes are taken, and a deployment only with the
    /// artifact its hash names.
    pub async fn handle_submitted(&self, json: &[u8]) -> (i16, String) {
        let commands: Vec<Command> = match serde_json::from_slice(json) {
            Ok(commands) => commands,
            Err(e) => return (ResponseError::InvalidRequest.code(), e.to_string()),
        };
        for command in &commands {
            if !command.is_plugin_change() {
                return (
                    ResponseError::InvalidRequest.code(),
                    "only plugin changes are submitted by brokers".into(),
                );
            }
            if let Command::DeployPlugin(plugin) = command {
                if crate::plugin::engine::content_hash(&plugin.artifact.0) != plugin.sha256 {
                    return (
                        ResponseError::InvalidRequest.code(),
                        format!(
                            "plugin {}: the artifact's sha256 is not {}",
                            plugin.name, plugin.sha256
                        ),
                    );
                }
            }
        }
        match self.controller.submit(commands).await {
            Ok(_) => (0, String::new()),
            Err(e) => (e.code(), e.message().unwrap_or_default().to_string()),
        }
    }

    /// Sets (`Some`) or removes (`None`) topic configs: here when this
    /// broker is the active controller or a single node, else with
    /// IncrementalAlterConfigs to the active one (the admin endpoint's
    /// plugin bindings); answers once this broker's image has the change.
    pub async fn alter_topic_configs_anywhere(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<(), ApiError> {
        if !self.in_cluster() || self.controller.log().is_active() {
            return self
                .change_metadata(
                    self.controller
                        .alter_topic_configs(topic, changes, false, false),
                )
                .await;
        }
        use kafka_protocol::messages::incremental_alter_configs_request::{
            AlterConfigsResource, AlterableConfig,
        };
        let configs = changes
            .iter()
            .map(|(key, value)| {
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.clone()))
                    .with_config_operation(if value.is_some() { 0 } else { 1 })
                    .with_value(value.clone().map(StrBytes::from_string))
            })
            .collect();
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_string(topic.to_string()))
                .with_configs(configs),
        ]);
        let response: IncrementalAlterConfigsResponse = self
            .call_controller(1, &request, ResponseError::NotController)
            .await?;
        if let Some(failed) = response.responses.iter().find(|r| r.error_code != 0) {
            return Err(answered(failed.error_code, &failed.error_message));
        }
        // The change is committed; wait until this broker's image has it.
        let wanted: Vec<(String, Option<String>)> = changes.to_vec();
        let mut images = self.controller.subscribe();
        let arrived = tokio::time::timeout(FORWARD_PATIENCE, async {
            images
                .wait_for(|image| {
                    image
                        .topics
                        .get(topic)
                        .is_some_and(|t| wanted.iter().all(|(k, v)| t.configs.get(k) == v.as_ref()))
                })
                .await
                .map(|_| ())
        })
        .await;
        match arrived {
            Ok(Ok(())) => self.follow_metadata().await,
            _ => Err(ApiError::new(
                ResponseError::RequestTimedOut,
                "the change was committed but has not reached this broker yet",
            )),
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
            .call_controller(5, &request, ResponseError::NotController)
            .await?;
        let result = response.topics.first().ok_or_else(|| {
            ApiError::new(
                ResponseError::UnknownServerError,
                "an empty CreateTopics answer",
            )
        })?;
        if result.error_code != 0 && result.error_code != ResponseError::TopicAlreadyExists.code() {
            return Err(answered(result.error_code, &result.error_message));
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
        let request =
            AllocateProducerIdsRequest::default().with_broker_id(BrokerId(self.node_id()));
        let response: AllocateProducerIdsResponse = self
            .call_controller(0, &request, ResponseError::CoordinatorNotAvailable)
            .await?;
        if response.error_code != 0 {
            // Retriable for the client (InitProducerId): this broker may
            // not be registered yet, or the controller may be moving.
            let why = ResponseError::try_from_code(response.error_code)
                .map(|e| format!("{e:?}"))
                .unwrap_or_else(|| response.error_code.to_string());
            return Err(ApiError::new(
                ResponseError::CoordinatorNotAvailable,
                format!("the controller did not hand out producer ids: {why}"),
            ));
        }
        Ok(response.producer_id_start.0)
    }

    /// AllocateProducerIds from another broker, on the active controller.
    pub async fn handle_allocate_producer_ids(
        &self,
        request: AllocateProducerIdsRequest,
    ) -> AllocateProducerIdsResponse {
        // Kafka hands blocks only to registered brokers.
        if !self.image().brokers.contains_key(&request.broker_id.0) {
            return AllocateProducerIdsResponse::default()
                .with_error_code(ResponseError::BrokerIdNotRegistered.code());
        }
        let count = crate::producer::ids::BLOCK;
        match self.controller.allocate_producer_ids(count).await {
            Ok(first) => AllocateProducerIdsResponse::default()
                .with_producer_id_start(kafka_protocol::messages::ProducerId(first))
                .with_producer_id_len(count as i32),
            Err(e) => AllocateProducerIdsResponse::default().with_error_code(e.code()),
        }
    }

    /// Commits a broker's registration, giving it the leaderless
    /// partitions whose ISR it is in.
    async fn register_command(&self, id: i32, command: Command) -> Result<(), ApiError> {
        self.controller
            .change_broker_state(&self.config, id, BrokerState::Running, vec![command])
            .await
            .map(|_| ())
    }

    /// `auto.leader.rebalance.enable`: on the active controller, every
    /// `leader.imbalance.check.interval.seconds`, leadership goes back to
    /// preferred replicas where a broker's imbalance is above
    /// `leader.imbalance.per.broker.percentage`.
    fn spawn_leader_rebalance(self: &Arc<Self>) {
        if !self.config.flag("auto.leader.rebalance.enable") {
            return;
        }
        let every = Duration::from_secs(
            self.config
                .number("leader.imbalance.check.interval.seconds")
                .max(1) as u64,
        );
        let percent = self.config.number("leader.imbalance.per.broker.percentage");
        let broker = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(broker) = broker.upgrade() else {
                    return;
                };
                if !broker.controller.log().is_active() {
                    continue;
                }
                match broker.controller.rebalance_leaders(percent).await {
                    Ok(0) | Err(_) => {}
                    Ok(moved) => info!(moved, "moved leadership back to preferred replicas"),
                }
            }
        });
    }

    /// BrokerRegistration from another broker, on the active controller.
    pub async fn handle_broker_registration(
        &self,
        request: BrokerRegistrationRequest,
    ) -> BrokerRegistrationResponse {
        let ours = self.cluster.as_ref().map(|s| s.cluster_id.as_str());
        if Some(request.cluster_id.as_str()) != ours {
            return BrokerRegistrationResponse::default()
                .with_error_code(ResponseError::InconsistentClusterId.code());
        }
        if request.listeners.is_empty() {
            return BrokerRegistrationResponse::default()
                .with_error_code(ResponseError::InvalidRequest.code());
        }
        let listeners: Vec<Endpoint> = request
            .listeners
            .iter()
            .map(|l| Endpoint {
                name: l.name.to_string(),
                host: l.host.to_string(),
                port: l.port,
            })
            .collect();
        let registration = self.controller.registration(
            request.broker_id.0,
            &listeners,
            request.rack.as_ref().map(|r| r.to_string()),
        );
        let outcome = match registration {
            Some(command) => self.register_command(request.broker_id.0, command).await,
            None => Ok(()),
        };
        match outcome {
            Ok(()) => {
                self.liveness
                    .registered(request.broker_id.0, self.image().applied);
                BrokerRegistrationResponse::default().with_broker_epoch(self.image().applied as i64)
            }
            Err(e) => BrokerRegistrationResponse::default().with_error_code(e.code()),
        }
    }

    /// On the active controller: writes the cluster's id into the metadata
    /// the first time a controller is active.
    pub(super) async fn init_cluster(&self) {
        let Some(settings) = &self.cluster else {
            return;
        };
        if !self.controller.log().is_active() || !self.image().cluster_id.is_empty() {
            return;
        }
        let init = Command::InitCluster {
            cluster_id: settings.cluster_id.clone(),
        };
        if let Err(e) = self.controller.submit(vec![init]).await {
            warn!(error = %e.message().unwrap_or_default(), "could not record the cluster id");
        }
    }

    /// Registers this broker with the active controller, retrying until
    /// one answers.
    async fn register(&self, cluster_id: String) {
        let rack = self.config.get("broker.rack").filter(|r| !r.is_empty());
        let listeners = advertised_endpoints(&self.config);
        loop {
            let done = if self.controller.log().is_active() {
                match self
                    .controller
                    .registration(self.node_id(), &listeners, rack.clone())
                {
                    Some(command) => self.register_command(self.node_id(), command).await.is_ok(),
                    None => true,
                }
            } else if let Some((_, chost, cport)) = self.remote_controller() {
                let request = BrokerRegistrationRequest::default()
                    .with_broker_id(BrokerId(self.node_id()))
                    .with_cluster_id(StrBytes::from_string(cluster_id.clone()))
                    .with_rack(rack.clone().map(StrBytes::from_string))
                    .with_listeners(
                        listeners
                            .iter()
                            .map(|l| {
                                RegisteredListener::default()
                                    .with_name(StrBytes::from_string(l.name.clone()))
                                    .with_host(StrBytes::from_string(l.host.clone()))
                                    .with_port(l.port)
                                    .with_security_protocol(protocol_id(&self.config, &l.name))
                            })
                            .collect(),
                    );
                let answer: std::io::Result<BrokerRegistrationResponse> = self
                    .channel
                    .call((&chost, cport), self.node_id(), 0, &request)
                    .await;
                match answer {
                    Ok(r) if r.error_code == ResponseError::InconsistentClusterId.code() => {
                        warn!(
                            cluster_id,
                            "the active controller belongs to another cluster"
                        );
                        false
                    }
                    Ok(r) => r.error_code == 0,
                    Err(_) => false,
                }
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
        let Some(settings) = self.cluster.clone() else {
            return;
        };
        if settings.roles.broker {
            let broker = self.clone();
            tokio::spawn(async move { broker.register(settings.cluster_id).await });
            let link = super::alter_partition::ControllerLink(Arc::downgrade(self));
            let replication = crate::replication::Replication::start(
                &self.config,
                self.replicas.clone(),
                self.controller.subscribe(),
                Arc::new(link),
            );
            let _ = self.replication.set(replication);
        }
        self.spawn_leader_rebalance();
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

/// This broker's advertised listeners, as registered: other brokers use
/// the first.
fn advertised_endpoints(config: &BrokerConfig) -> Vec<Endpoint> {
    config
        .advertised_listeners()
        .into_iter()
        .map(|l| Endpoint {
            name: l.name,
            host: l.host,
            port: l.port,
        })
        .collect()
}

/// Kafka's id of a listener's security protocol (BrokerRegistration).
fn protocol_id(config: &BrokerConfig, listener: &str) -> i16 {
    match config.listener_protocol(listener).as_deref() {
        Some("SSL") => 1,
        Some("SASL_PLAINTEXT") => 2,
        Some("SASL_SSL") => 3,
        _ => 0,
    }
}

/// The error another node answered with, as this node answers it.
fn answered(code: i16, message: &Option<StrBytes>) -> ApiError {
    ApiError::new(
        ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError),
        message.as_ref().map(|m| m.to_string()).unwrap_or_default(),
    )
}
