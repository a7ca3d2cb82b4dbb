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
        self.commit(commands).await?;
        let after = self.finish_reassignments().await?;
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        election::LEADER_ELECTIONS.fetch_add(elections, relaxed);
        election::UNCLEAN_ELECTIONS.fetch_add(unclean_elections, relaxed);
        Ok(after)
    }

    /// Completes the reassignments whose new replicas are in sync (with the
    /// write turn held); returns the image after.
    async fn finish_reassignments(&self) -> Result<std::sync::Arc<MetadataImage>, ApiError> {
        let commands = election::complete_reassignments(&self.image());
        if commands.is_empty() {
            return Ok(self.image());
        }
        tracing::info!(partitions = commands.len(), "reassignments complete");
        self.commit(commands).await
    }

    /// AlterPartitionReassignments (KIP-455): starts (target replicas) or
    /// cancels (None) each partition's reassignment.
    pub async fn alter_reassignments(
        &self,
        requests: Vec<(String, i32, Option<Vec<i32>>)>,
    ) -> Result<Vec<Result<(), (ResponseError, String)>>, ApiError> {
        let _write = self.begin_write().await?;
        let image = self.image();
        let mut commands = Vec::new();
        let outcomes = requests
            .into_iter()
            .map(|(topic, partition, target)| {
                election::check_reassignment(&image, &topic, partition, target.as_deref())?;
                commands.push(Command::Reassign {
                    topic,
                    partition,
                    target,
                });
                Ok(())
            })
            .collect();
        if !commands.is_empty() {
            self.commit(commands).await?;
            self.finish_reassignments().await?;
        }
        Ok(outcomes)
    }

    /// ElectLeaders: each partition's outcome; the elections possible are
    /// committed together.
    pub async fn elect_leaders(
        &self,
        kind: election::ElectionType,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<((String, i32), Result<(), ResponseError>)>, ApiError> {
        let _write = self.begin_write().await?;
        let image = self.image();
        let wanted = partitions.unwrap_or_else(|| {
            image
                .topics
                .values()
                .flat_map(|t| (0..t.partitions.len() as i32).map(|p| (t.name.clone(), p)))
                .collect()
        });
        let mut commands = Vec::new();
        let outcomes = wanted
            .into_iter()
            .map(|(topic, p)| {
                let outcome = election::elect(&image, &topic, p, kind).map(|c| commands.push(c));
                ((topic, p), outcome)
            })
            .collect();
        if !commands.is_empty() {
            let count = commands.len() as u64;
            self.commit(commands).await?;
            election::LEADER_ELECTIONS.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(outcomes)
    }

    /// `auto.leader.rebalance.enable`: moves leadership back to preferred
    /// replicas where a broker's imbalance is above `imbalance_percent`.
    pub async fn rebalance_leaders(&self, imbalance_percent: i64) -> Result<usize, ApiError> {
        let _write = self.begin_write().await?;
        let commands = election::rebalance(&self.image(), imbalance_percent);
        let count = commands.len();
        if count > 0 {
            self.commit(commands).await?;
            election::LEADER_ELECTIONS
                .fetch_add(count as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(count)
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
            self.commit(commands).await?;
            self.finish_reassignments().await?
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
pub fn check_isr_request(
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
