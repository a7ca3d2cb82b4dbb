//! Which groups this broker coordinates: those whose `__consumer_offsets`
//! partition it leads (Kafka's `GroupMetadataManager` loading and
//! unloading). When it becomes a partition's leader it reads that
//! partition back, to its log end (a new leader's high watermark may still
//! lag what its predecessor committed), and serves the partition's groups
//! once done (COORDINATOR_LOAD_IN_PROGRESS until then); when it stops
//! leading one, the partition's groups leave memory (NOT_COORDINATOR).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::classic::ClassicGroup;
use super::{Group, GroupCoordinator};
use crate::protocol::error::ResponseError;

/// A `__consumer_offsets` partition this broker leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Being read back, as of this leader epoch.
    Loading(i32),
    Loaded(i32),
}

impl GroupCoordinator {
    /// Whether this broker can serve `group` now.
    pub fn check_available(&self, group: &str) -> Result<(), ResponseError> {
        if !self.started.load(Ordering::Acquire) {
            return Err(ResponseError::CoordinatorLoadInProgress);
        }
        let owned = self.owned.lock().expect("owned lock");
        match owned.get(&self.partition_of(group)) {
            Some(Ownership::Loaded(_)) => Ok(()),
            Some(Ownership::Loading(_)) => Err(ResponseError::CoordinatorLoadInProgress),
            None => Err(ResponseError::NotCoordinator),
        }
    }

    /// Follows the leadership of `__consumer_offsets`: returns the
    /// partitions (and leader epochs) that need loading, marked as loading;
    /// unloads the partitions no longer led here.
    pub fn follow_leadership(&self) -> Vec<(i32, i32)> {
        let mut to_load = Vec::new();
        let mut lost = Vec::new();
        {
            let mut owned = self.owned.lock().expect("owned lock");
            for partition in 0..self.partitions {
                let led = self.store.leader_epoch_if_led(partition);
                let current = owned.get(&partition).copied();
                match (led, current) {
                    (Some(epoch), Some(Ownership::Loading(e) | Ownership::Loaded(e)))
                        if e == epoch => {}
                    (Some(epoch), _) => {
                        owned.insert(partition, Ownership::Loading(epoch));
                        to_load.push((partition, epoch));
                    }
                    (None, Some(_)) => {
                        owned.remove(&partition);
                        lost.push(partition);
                    }
                    (None, None) => {}
                }
            }
        }
        for partition in lost {
            self.unload(partition);
        }
        self.started.store(true, Ordering::Release);
        to_load
    }

    /// Reads partition `partition` of `__consumer_offsets` back into memory
    /// (led here in `epoch`); its groups are served once it is done.
    pub fn load_partition(&self, partition: i32, epoch: i32) -> std::io::Result<()> {
        let loaded = self.store.load_partition(partition)?;
        let now = Instant::now();
        let mut owned = self.owned.lock().expect("owned lock");
        if owned.get(&partition) != Some(&Ownership::Loading(epoch)) {
            return Ok(()); // Leadership moved on while loading.
        }
        let mut groups = self.groups.lock().expect("groups lock");
        let mut count = 0;
        for (id, found) in loaded {
            if found.metadata.is_none() && found.offsets.is_empty() {
                continue;
            }
            let classic = match &found.metadata {
                Some(value) => ClassicGroup::restore(value, now),
                None => ClassicGroup::new(),
            };
            let group = Group {
                classic,
                offsets: found.offsets,
                ..Group::new(&id)
            };
            groups.insert(id, Arc::new(Mutex::new(group)));
            count += 1;
        }
        owned.insert(partition, Ownership::Loaded(epoch));
        tracing::debug!(partition, groups = count, "loaded groups");
        Ok(())
    }

    /// Forgets the groups of a partition no longer led here.
    fn unload(&self, partition: i32) {
        let mut groups = self.groups.lock().expect("groups lock");
        let before = groups.len();
        groups.retain(|id, _| self.partition_of(id) != partition);
        tracing::info!(
            partition,
            groups = before - groups.len(),
            "no longer the coordinator of this __consumer_offsets partition's groups"
        );
    }

    /// The partitions loaded, for tests and status.
    pub fn owned_partitions(&self) -> HashMap<i32, Ownership> {
        self.owned.lock().expect("owned lock").clone()
    }
}
