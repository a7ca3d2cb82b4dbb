//! Committed offsets: OffsetCommit, OffsetFetch and OffsetDelete, and the
//! expiry of an empty group's offsets after `offsets.retention.minutes`.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;

use super::classic::GroupState;
use super::records::{OffsetValue, RecordKey};
use super::{CommittedOffsets, Group, GroupCoordinator, ItemResult, MemberRef, OffsetCommit};
use crate::log::now_ms;
use crate::partition::PendingCommit;
use crate::protocol::error::ResponseError;

impl GroupCoordinator {
    /// OffsetCommit: one result per partition, or an error for the whole
    /// request; and what to wait for before answering (the write reaching
    /// every in-sync replica), if anything.
    pub fn commit_offsets(
        &self,
        group_id: &str,
        member: &MemberRef,
        commits: Vec<OffsetCommit>,
    ) -> Result<(Vec<ItemResult>, Option<PendingCommit>), ResponseError> {
        self.check_available(group_id)?;
        let group = if member.generation < 0 {
            self.get_or_create(group_id)
        } else {
            self.get(group_id).ok_or(ResponseError::IllegalGeneration)?
        };
        let partition = self.partition_of(group_id);
        self.with_group(&group, |g| {
            match &g.consumer {
                Some(c) => c.validate_offset_commit(&member.member_id, member.generation)?,
                None => g.classic.validate_offset_commit(
                    &member.member_id,
                    member.group_instance_id.as_deref(),
                    member.generation,
                )?,
            }
            g.classic.touch(&member.member_id, Instant::now());
            let now = now_ms();
            let mut results = Vec::with_capacity(commits.len());
            let mut records = Vec::new();
            let mut accepted = Vec::new();
            for c in commits {
                let metadata = c.metadata.unwrap_or_default();
                if metadata.len() > self.metadata_max_bytes {
                    results.push(Err(ResponseError::OffsetMetadataTooLarge));
                    continue;
                }
                let value = OffsetValue {
                    offset: c.offset,
                    leader_epoch: c.leader_epoch,
                    metadata,
                    commit_timestamp: now,
                };
                let key = RecordKey::Offset {
                    group: group_id.to_string(),
                    topic: c.topic.clone(),
                    partition: c.partition,
                };
                records.push((key.encode(), Some(value.encode())));
                accepted.push(((c.topic, c.partition), value));
                results.push(Ok(()));
            }
            match self.store.append(partition, records) {
                Ok(pending) => {
                    g.offsets.extend(accepted);
                    Ok((results, pending))
                }
                Err(e) => {
                    tracing::warn!(group = group_id, error = %e, "could not write offsets");
                    let code = ResponseError::CoordinatorNotAvailable;
                    Ok((
                        results.into_iter().map(|r| r.and(Err(code))).collect(),
                        None,
                    ))
                }
            }
        })
    }

    /// OffsetFetch: committed offsets of the named partitions, or of every
    /// partition with one when `topics` is None.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<CommittedOffsets, ResponseError> {
        self.check_available(group_id)?;
        let offsets = match self.get(group_id) {
            Some(group) => group.lock().expect("group lock").offsets.clone(),
            None => BTreeMap::new(),
        };
        Ok(match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(topic, partitions)| {
                    let found = partitions
                        .into_iter()
                        .map(|p| (p, offsets.get(&(topic.clone(), p)).cloned()))
                        .collect();
                    (topic, found)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, Vec<(i32, Option<OffsetValue>)>> =
                    BTreeMap::new();
                for ((topic, p), v) in offsets {
                    by_topic.entry(topic).or_default().push((p, Some(v)));
                }
                by_topic.into_iter().collect()
            }
        })
    }

    /// OffsetDelete: only offsets of topics the group does not subscribe to.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<(String, i32, ItemResult)>, ResponseError> {
        self.check_available(group_id)?;
        let group = self.get(group_id).ok_or(ResponseError::GroupIdNotFound)?;
        let partition = self.partition_of(group_id);
        self.with_group(&group, |g| {
            let subscribed: std::collections::HashSet<String> = match (&g.consumer, g.classic.state)
            {
                (Some(c), _) => c.subscribed_topics().into_iter().collect(),
                (None, GroupState::Dead) => return Err(ResponseError::GroupIdNotFound),
                (None, GroupState::Empty) => Default::default(),
                (None, _) => g
                    .classic
                    .subscribed_topics()
                    .ok_or(ResponseError::NonEmptyGroup)?,
            };
            let mut records = Vec::new();
            let mut results = Vec::new();
            for (topic, p) in partitions {
                if subscribed.contains(&topic) {
                    results.push((topic, p, Err(ResponseError::GroupSubscribedToTopic)));
                    continue;
                }
                if g.offsets.remove(&(topic.clone(), p)).is_some() {
                    records.push(offset_tombstone(group_id, &topic, p));
                }
                results.push((topic, p, Ok(())));
            }
            self.store
                .append(partition, records)
                .map_err(|_| ResponseError::CoordinatorNotAvailable)?;
            Ok(results)
        })
    }

    /// The lowest offset committed for `topic`-`partition` by the groups
    /// that commit offsets of `topic` (one with none for this partition
    /// counts as 0); None when no group does, or groups are still loading.
    /// Retention policies delete only what every reader is past.
    pub fn lowest_committed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.loaded_groups()?
            .iter()
            .filter_map(|group| {
                let g = group.lock().expect("group lock");
                let reads_topic = g.offsets.keys().any(|(t, _)| t == topic);
                reads_topic.then(|| {
                    g.offsets
                        .get(&(topic.to_string(), partition))
                        .map_or(0, |v| v.offset)
                })
            })
            .min()
    }

    /// offsets.retention.minutes: an empty group's offsets expire that long
    /// after it became empty (a group that never had members: after each
    /// commit); a group left with nothing is deleted.
    pub fn expire_offsets(&self) {
        let Some(groups) = self.loaded_groups() else {
            return;
        };
        let now = now_ms();
        let retention = self.retention.as_millis() as i64;
        let mut emptied = Vec::new();
        for group in groups {
            let mut g = group.lock().expect("group lock");
            if !g.is_empty() {
                continue;
            }
            let expired = g.expired_offsets(now, retention);
            let id = g.id.clone();
            let mut records: Vec<(Bytes, Option<Bytes>)> = expired
                .iter()
                .map(|(topic, partition)| offset_tombstone(&id, topic, *partition))
                .collect();
            let now_empty = g.offsets.len() == expired.len();
            if now_empty {
                records.push((RecordKey::Group(id.clone()).encode(), None));
            }
            if records.is_empty() {
                continue;
            }
            if self.store.append(self.partition_of(&id), records).is_ok() {
                for k in &expired {
                    g.offsets.remove(k);
                }
                if now_empty {
                    g.classic.make_dead();
                    emptied.push(id);
                }
            }
        }
        let mut map = self.groups.lock().expect("groups lock");
        for id in emptied {
            map.remove(&id);
        }
    }
}

impl Group {
    /// offsets.retention.minutes for an empty group, as Kafka decides it: a
    /// group that had members keeps its offsets for the retention period
    /// after it became empty; a group that never had members (offsets
    /// committed by an admin tool or a manually assigned consumer) for the
    /// retention period after each commit.
    fn expired_offsets(&self, now_ms: i64, retention_ms: i64) -> Vec<(String, i32)> {
        if !self.is_empty() {
            return Vec::new();
        }
        let empty_since = (self.consumer.is_none() && self.classic.protocol_type.is_some())
            .then_some(self.classic.state_timestamp)
            .filter(|t| *t >= 0);
        self.offsets
            .iter()
            .filter(|(_, v)| now_ms - empty_since.unwrap_or(v.commit_timestamp) >= retention_ms)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// The record that deletes one committed offset.
pub(super) fn offset_tombstone(group: &str, topic: &str, partition: i32) -> (Bytes, Option<Bytes>) {
    let key = RecordKey::Offset {
        group: group.to_string(),
        topic: topic.to_string(),
        partition,
    };
    (key.encode(), None)
}

/// Tombstones for a group's record and every offset it committed.
pub(super) fn tombstones(g: &Group) -> Vec<(Bytes, Option<Bytes>)> {
    let mut records: Vec<(Bytes, Option<Bytes>)> = g
        .offsets
        .keys()
        .map(|(topic, partition)| offset_tombstone(&g.id, topic, *partition))
        .collect();
    records.push((RecordKey::Group(g.id.clone()).encode(), None));
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(commit_timestamp: i64) -> OffsetValue {
        OffsetValue {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp,
        }
    }

    #[test]
    fn offsets_expire_by_when_the_group_emptied_or_when_committed() {
        let minute = 60_000;
        // A group without a protocol: each offset by its own commit time.
        let mut g = Group::new("simple");
        g.offsets.insert(("t".into(), 0), offset(0));
        g.offsets.insert(("t".into(), 1), offset(5 * minute));
        assert_eq!(
            g.expired_offsets(10 * minute, 10 * minute),
            vec![("t".to_string(), 0)]
        );
        // A consumer group that became empty at minute 8: all together, 10
        // minutes after that, however old the commits.
        g.classic.protocol_type = Some("consumer".into());
        g.classic.state_timestamp = 8 * minute;
        assert!(g.expired_offsets(17 * minute, 10 * minute).is_empty());
        assert_eq!(g.expired_offsets(18 * minute, 10 * minute).len(), 2);
        // A group with members keeps everything.
        g.classic.state = GroupState::Stable;
        assert!(g.expired_offsets(100 * minute, 10 * minute).is_empty());
    }
}
