//! DescribeClientQuotas and AlterClientQuotas: the user / client-id quotas
//! (`server::quotas`) kept in the metadata log, with Kafka's entity types,
//! filters and errors. Weir enforces `producer_byte_rate` and
//! `consumer_byte_rate`; other keys (request_percentage,
//! controller_mutation_rate) and `ip` entities are refused with
//! INVALID_REQUEST rather than stored and ignored.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::metadata::command::{Command, QuotaEntity, QuotaName};
use crate::protocol::error::{ApiError, ResponseError};
use crate::server::broker::Broker;
use crate::server::quotas::KEYS;

const USER: &str = "user";
const CLIENT_ID: &str = "client-id";

/// An entry's commands, or why it is refused.
type Outcome = Result<Vec<Command>, ApiError>;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ResponseError::InvalidRequest, message)
}

/// The (type, name) pairs of an entity, as the responses list them.
fn parts(entity: &QuotaEntity) -> Vec<(&'static str, Option<String>)> {
    let name = |n: &QuotaName| match n {
        QuotaName::Default => None,
        QuotaName::Name(n) => Some(n.clone()),
    };
    let mut parts = Vec::new();
    if let Some(user) = &entity.user {
        parts.push((USER, name(user)));
    }
    if let Some(client) = &entity.client_id {
        parts.push((CLIENT_ID, name(client)));
    }
    parts
}

pub fn describe(broker: &Broker, r: DescribeClientQuotasRequest) -> DescribeClientQuotasResponse {
    let fail = |e: ApiError| {
        DescribeClientQuotasResponse::default()
            .with_error_code(e.code())
            .with_error_message(e.message())
    };
    for c in &r.components {
        if c.entity_type.as_str() != USER && c.entity_type.as_str() != CLIENT_ID {
            return fail(invalid(format!(
                "entity type {} is not supported (user, client-id)",
                c.entity_type.as_str()
            )));
        }
        if !(0..=2).contains(&c.match_type) {
            return fail(invalid(format!("invalid match type {}", c.match_type)));
        }
    }
    let image = broker.controller.image();
    let entries = image
        .client_quotas
        .iter()
        .filter(|q| matches(&q.entity, &r.components, r.strict))
        .map(|q| {
            use describe_client_quotas_response::{EntityData, EntryData, ValueData};
            EntryData::default()
                .with_entity(
                    parts(&q.entity)
                        .into_iter()
                        .map(|(kind, name)| {
                            EntityData::default()
                                .with_entity_type(StrBytes::from_static_str(kind))
                                .with_entity_name(name.map(StrBytes::from_string))
                        })
                        .collect(),
                )
                .with_values(
                    q.values
                        .iter()
                        .map(|(k, v)| {
                            ValueData::default()
                                .with_key(StrBytes::from_string(k.clone()))
                                .with_value(*v)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}

/// Whether an entity passes a DescribeClientQuotas filter.
fn matches(
    entity: &QuotaEntity,
    components: &[describe_client_quotas_request::ComponentData],
    strict: bool,
) -> bool {
    let part = |kind: &str| match kind {
        USER => entity.user.as_ref(),
        _ => entity.client_id.as_ref(),
    };
    let each = components
        .iter()
        .all(|c| match (part(&c.entity_type), c.match_type) {
            (None, _) => false,
            (Some(QuotaName::Name(n)), 0) => c._match.as_deref() == Some(n.as_str()),
            (Some(QuotaName::Default), 1) => true,
            (Some(_), 2) => true,
            _ => false,
        });
    let named = entity.user.is_some() as usize + entity.client_id.is_some() as usize;
    each && (!strict || named == components.len())
}

pub async fn alter(broker: &Broker, r: AlterClientQuotasRequest) -> AlterClientQuotasResponse {
    use alter_client_quotas_response::{EntityData, EntryData};
    let mut outcomes: Vec<(Vec<EntityData>, Outcome)> = r
        .entries
        .iter()
        .map(|entry| {
            let echoed = entry
                .entity
                .iter()
                .map(|e| {
                    EntityData::default()
                        .with_entity_type(e.entity_type.clone())
                        .with_entity_name(e.entity_name.clone())
                })
                .collect();
            (echoed, commands(entry))
        })
        .collect();
    let all: Vec<Command> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    if !r.validate_only {
        super::commit_checked(broker, all, outcomes.iter_mut().map(|(_, o)| o)).await;
    }
    AlterClientQuotasResponse::default().with_entries(
        outcomes
            .into_iter()
            .map(|(entity, outcome)| {
                let entry = EntryData::default().with_entity(entity);
                match outcome {
                    Ok(_) => entry.with_error_message(None),
                    Err(e) => entry
                        .with_error_code(e.code())
                        .with_error_message(e.message()),
                }
            })
            .collect(),
    )
}

/// The commands for one entry, or why Kafka (or Weir) refuses it.
fn commands(entry: &alter_client_quotas_request::EntryData) -> Outcome {
    let mut entity = QuotaEntity {
        user: None,
        client_id: None,
    };
    for part in &entry.entity {
        let name = match &part.entity_name {
            None => QuotaName::Default,
            Some(n) => QuotaName::Name(n.to_string()),
        };
        let slot = match part.entity_type.as_str() {
            USER => &mut entity.user,
            CLIENT_ID => &mut entity.client_id,
            "ip" => return Err(invalid("ip quotas (connection rates) are not supported")),
            other => return Err(invalid(format!("entity type {other} is not supported"))),
        };
        if slot.replace(name).is_some() {
            return Err(invalid(format!(
                "duplicate {} in the entity",
                part.entity_type.as_str()
            )));
        }
    }
    if entity.user.is_none() && entity.client_id.is_none() {
        return Err(invalid("the entity is empty"));
    }
    entry
        .ops
        .iter()
        .map(|op| {
            let key = op.key.to_string();
            if !KEYS.contains(&key.as_str()) {
                return Err(invalid(format!(
                    "quota {key} is not supported: Weir enforces {}",
                    KEYS.join(", ")
                )));
            }
            let positive = op.value.is_finite() && op.value > 0.0;
            if !op.remove && !positive {
                let unit = if key == "request_percentage" {
                    "percentage of one thread's time"
                } else {
                    "number of bytes per second"
                };
                return Err(invalid(format!("{key} must be a positive {unit}")));
            }
            Ok(Command::SetClientQuota {
                entity: entity.clone(),
                key,
                value: (!op.remove).then_some(op.value),
            })
        })
        .collect()
}
