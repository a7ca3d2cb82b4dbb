//! The active controller's partition changes: a broker's state change with
//! the elections and ISR removals it calls for (`election`), and a
//! leader's AlterPartition (an ISR it asks for), checked against the
//! partition's current leader epoch and partition epoch so that a stale
//! leader cannot change it.

use super::Controller;
use crate::config::defs::topic_def;
use crate::config::{BrokerConfig, ConfigView};
use crate::metadata::election;
use crate::metadata::{BrokerState, Command, MetadataImage, PartitionImage, TopicImage};
use crate::protocol::error::{ApiError, ResponseError};

/// What a leader asks of one partition in AlterPartition.
#[derive(Debug, Clone)]
pub struct IsrRequest {
    pub topic_id: uuid::Uuid,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<i32>,
}

impl Controller {
    /// Sets broker `id`'s state, moving leaderships and ISRs as it calls
    /// for, in one commit.
    pub async fn change_broker_state(
        &self,
        config: &BrokerConfig,
        id: i32,
        state: BrokerState,
        also: Vec<Command>,
    ) -> Result<std::sync::Arc<MetadataImage>, ApiError> {
        let _write = self.begin_write().await?;
        let image = self.image();
        let unclean = unclean_allowed(config, &image);
        let changes = election::set_broker_state(&image, id, state, &unclean);
        let (elections, unclean_elections) = count_elections(&image, &changes);
        let mut commands = also;
        commands.extend(changes);
        let after = self.commit(commands).await?;
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        election::LEADER_ELECTIONS.fetch_add(elections, relaxed);
        election::UNCLEAN_ELECTIONS.fetch_add(unclean_elections, relaxed);
        Ok(after)
    }

    /// AlterPartition from broker `leader`: each partition's answer, the
    /// partition as it stands after (or Kafka's error).
    pub async fn alter_partitions(
        &self,
        leader: i32,
        requests: Vec<IsrRequest>,
    ) -> Result<Vec<Result<PartitionImage, ResponseError>>, ApiError> {
        let _write = self.begin_write().await?;
        let image = self.image();
        let mut commands = Vec::new();
        let checked: Vec<Result<(), ResponseError>> = requests
            .iter()
            .map(|r| {
                let command = check_isr_request(&image, leader, r)?;
                commands.push(command);
                Ok(())
            })
            .collect();
        let after = if commands.is_empty() {
            image
        } else {
            self.commit(commands).await?
        };
        Ok(requests
            .iter()
            .zip(checked)
            .map(|(r, checked)| {
                checked?;
                partition(&after, r)
                    .cloned()
                    .ok_or(ResponseError::UnknownTopicOrPartition)
            })
            .collect())
    }
}

/// How many of `changes` elect a new leader, and how many of those come
/// from outside the ISR (unclean).
fn count_elections(image: &MetadataImage, changes: &[Command]) -> (u64, u64) {
    let (mut elections, mut unclean) = (0, 0);
    for change in changes {
        let Command::ChangePartition {
            topic,
            partition,
            leader: Some(leader),
            ..
        } = change
        else {
            continue;
        };
        let before = image
            .topics
            .get(topic)
            .and_then(|t| t.partitions.get(*partition as usize));
        if let Some(before) = before.filter(|b| b.leader != *leader && *leader >= 0) {
            elections += 1;
            if !before.isr.contains(leader) {
                unclean += 1;
            }
        }
    }
    (elections, unclean)
}

fn partition<'a>(image: &'a MetadataImage, r: &IsrRequest) -> Option<&'a PartitionImage> {
    image
        .topic_by_id(&r.topic_id)?
        .partitions
        .get(usize::try_from(r.partition).ok()?)
}

/// Kafka's checks of an AlterPartition: the sender leads the partition in
/// the epochs it names, and every new ISR member is a live replica.
fn check_isr_request(
    image: &MetadataImage,
    leader: i32,
    r: &IsrRequest,
) -> Result<Command, ResponseError> {
    let topic = image
        .topic_by_id(&r.topic_id)
        .ok_or(ResponseError::UnknownTopicId)?;
    let p = partition(image, r).ok_or(ResponseError::UnknownTopicOrPartition)?;
    if p.leader != leader {
        return Err(ResponseError::NotLeaderOrFollower);
    }
    if r.leader_epoch != p.leader_epoch {
        return Err(ResponseError::FencedLeaderEpoch);
    }
    if r.partition_epoch != p.partition_epoch {
        return Err(ResponseError::InvalidUpdateVersion);
    }
    let eligible = |id: &i32| {
        p.replicas.contains(id)
            && (p.isr.contains(id) || image.brokers.get(id).is_some_and(|b| b.is_live()))
    };
    if !r.isr.contains(&leader) || !r.isr.iter().all(eligible) {
        return Err(ResponseError::IneligibleReplica);
    }
    Ok(Command::ChangePartition {
        topic: topic.name.clone(),
        partition: r.partition,
        leader: None,
        isr: Some(r.isr.clone()),
        replicas: None,
    })
}

/// Whether a topic allows unclean leader election (its config, else the
/// cluster's, else the broker's).
pub fn unclean_allowed<'a>(
    config: &'a BrokerConfig,
    image: &'a MetadataImage,
) -> impl Fn(&TopicImage) -> bool + 'a {
    let def = topic_def("unclean.leader.election.enable").expect("a defined topic config");
    move |topic: &TopicImage| {
        let view = ConfigView {
            static_config: config,
            dynamic: &image.cluster_configs,
        };
        view.topic_value(def, &topic.configs).0 == "true"
    }
}
