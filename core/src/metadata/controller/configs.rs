//! The active controller's config changes: a topic's, a group's (KIP-848's
//! group resource) and the cluster-wide dynamic broker configs, each
//! checked as Kafka checks it before it is committed.

use std::collections::BTreeMap;

use super::{existing_topic, Controller};
use crate::config::{defs, group, validate_topic_config, ConfigView};
use crate::metadata::command::{Command, ConfigScope};
use crate::protocol::error::{ApiError, ResponseError};

impl Controller {
    /// Applies topic config changes: `Some` sets, `None` removes. `replace`
    /// (legacy AlterConfigs) first removes every override not named.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        changes: &[(String, Option<String>)],
        replace: bool,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let _write = self.begin_write().await?;
        let image = self.image();
        let topic = existing_topic(&image, name)?;
        let mut commands = Vec::new();
        let scope = ConfigScope::Topic(name.to_string());
        if replace {
            for key in topic
                .configs
                .keys()
                .filter(|k| !changes.iter().any(|(c, _)| c == *k))
            {
                commands.push(Command::SetConfig {
                    scope: scope.clone(),
                    key: key.clone(),
                    value: None,
                });
            }
        }
        for (key, value) in changes {
            let value = match value {
                Some(v) => Some(
                    validate_topic_config(key, v)
                        .map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?,
                ),
                None if defs::topic_def(key).is_none() => {
                    return Err(ApiError::new(
                        ResponseError::InvalidConfig,
                        format!("Unknown topic config name: {key}"),
                    ))
                }
                None => None,
            };
            commands.push(Command::SetConfig {
                scope: scope.clone(),
                key: key.clone(),
                value,
            });
        }
        if !validate_only && !commands.is_empty() {
            self.commit(commands).await?;
        }
        Ok(())
    }

    /// Applies changes to a group's configs (KIP-848's group resource),
    /// with Kafka's checks: known names, values in range, and a session
    /// timeout above the heartbeat interval once both are resolved.
    pub async fn alter_group_configs(
        &self,
        group: &str,
        changes: &[(String, Option<String>)],
        replace: bool,
        validate_only: bool,
        view: &ConfigView<'_>,
    ) -> Result<(), ApiError> {
        let invalid = |m: String| ApiError::new(ResponseError::InvalidConfig, m);
        if group.is_empty() {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "A group config resource needs a group id.",
            ));
        }
        let _write = self.begin_write().await?;
        let image = self.image();
        let current = image.group_configs.get(group).cloned().unwrap_or_default();
        let mut next = if replace {
            BTreeMap::new()
        } else {
            current.clone()
        };
        for (key, value) in changes {
            let def = group::group_def(key)
                .ok_or_else(|| invalid(format!("Unknown group config name: {key}")))?;
            match value {
                Some(v) => {
                    let v = def.kind.validate(v).map_err(|reason| {
                        invalid(format!(
                            "Invalid value {v} for configuration {key}: {reason}"
                        ))
                    })?;
                    next.insert(key.clone(), v);
                }
                None => {
                    next.remove(key);
                }
            }
        }
        let effective = |name: &str| -> i64 {
            let def = group::group_def(name).expect("a group config");
            view.group_value(def, Some(&next)).0.parse().unwrap_or(0)
        };
        for kind in ["consumer", "share"] {
            let session = format!("{kind}.session.timeout.ms");
            let heartbeat = format!("{kind}.heartbeat.interval.ms");
            if effective(&session) <= effective(&heartbeat) {
                return Err(invalid(format!(
                    "{session} must be greater than {heartbeat}"
                )));
            }
        }
        if validate_only {
            return Ok(());
        }
        let keys: std::collections::BTreeSet<&String> = current.keys().chain(next.keys()).collect();
        let commands: Vec<Command> = keys
            .into_iter()
            .filter(|k| current.get(*k) != next.get(*k))
            .map(|k| Command::SetConfig {
                scope: ConfigScope::Group(group.to_string()),
                key: k.clone(),
                value: next.get(k).cloned(),
            })
            .collect();
        if !commands.is_empty() {
            self.commit(commands).await?;
        }
        Ok(())
    }

    /// Applies cluster-wide dynamic broker config changes.
    pub async fn alter_cluster_configs(
        &self,
        changes: &[(String, Option<String>)],
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let _write = self.begin_write().await?;
        let mut commands = Vec::new();
        for (key, value) in changes {
            let def = defs::broker_def(key).ok_or_else(|| {
                ApiError::new(
                    ResponseError::InvalidConfig,
                    format!("Unknown broker config name: {key}"),
                )
            })?;
            if !def.dynamic {
                return Err(ApiError::new(
                    ResponseError::InvalidConfig,
                    format!("Cannot update these configs dynamically: Set({key})"),
                ));
            }
            let value = match value {
                Some(v) => Some(def.kind.validate(v).map_err(|reason| {
                    ApiError::new(
                        ResponseError::InvalidConfig,
                        format!("Invalid value {v} for configuration {key}: {reason}"),
                    )
                })?),
                None => None,
            };
            commands.push(Command::SetConfig {
                scope: ConfigScope::ClusterDefault,
                key: key.clone(),
                value,
            });
        }
        if !validate_only && !commands.is_empty() {
            self.commit(commands).await?;
        }
        Ok(())
    }
}
