//! Group administration: ListGroups, DescribeGroups and DeleteGroups.

use bytes::Bytes;

use super::classic::GroupState;
use super::offsets::tombstones;
use super::{GroupCoordinator, GroupDescription, GroupSummary, MemberDescription};
use crate::protocol::error::ResponseError;

impl GroupCoordinator {
    pub fn list(&self) -> Result<Vec<GroupSummary>, ResponseError> {
        let groups = self
            .loaded_groups()
            .ok_or(ResponseError::CoordinatorLoadInProgress)?;
        Ok(groups
            .iter()
            .filter_map(|g| g.lock().expect("group lock").summary())
            .collect())
    }

    pub fn describe(&self, group_id: &str) -> Result<GroupDescription, ResponseError> {
        self.check_available(group_id)?;
        let Some(group) = self.get(group_id) else {
            return Ok(GroupDescription {
                state: GroupState::Dead.name().into(),
                ..Default::default()
            });
        };
        let g = group.lock().expect("group lock");
        if g.consumer.is_some() {
            return Err(ResponseError::GroupIdNotFound);
        }
        let c = &g.classic;
        let stable = c.is(GroupState::Stable);
        let protocol = c.protocol.clone().unwrap_or_default();
        Ok(GroupDescription {
            state: c.state.name().into(),
            protocol_type: c.protocol_type.clone().unwrap_or_default(),
            protocol: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: c
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    // Kafka shows metadata and assignment only once stable.
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// DeleteGroups: removes empty groups and their offsets.
    pub fn delete_group(&self, group_id: &str) -> Result<(), ResponseError> {
        self.check_available(group_id)?;
        let group = self.get(group_id).ok_or(ResponseError::GroupIdNotFound)?;
        let partition = self.partition_of(group_id);
        self.with_group(&group, |g| {
            if g.consumer.is_none() && g.classic.is(GroupState::Dead) {
                return Err(ResponseError::GroupIdNotFound);
            }
            if !g.is_empty() {
                return Err(ResponseError::NonEmptyGroup);
            }
            let records = tombstones(g);
            self.store
                .append(partition, records)
                .map_err(|_| ResponseError::CoordinatorNotAvailable)?;
            g.offsets.clear();
            g.classic.make_dead();
            Ok(())
        })?;
        self.groups.lock().expect("groups lock").remove(group_id);
        Ok(())
    }
}
