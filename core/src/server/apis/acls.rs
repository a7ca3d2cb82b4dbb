//! CreateAcls, DescribeAcls and DeleteAcls: the ACLs in the metadata log,
//! checked and matched as Kafka does (`security::acl`). Without an
//! authorizer (`authorizer.class.name`) they answer SECURITY_DISABLED.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::metadata::command::Command;
use crate::protocol::error::{ApiError, ResponseError};
use crate::security::acl::{AclBinding, AclFilter};
use crate::server::broker::Broker;

const DISABLED: &str = "No Authorizer is configured on the broker";

fn text(s: &str) -> Option<StrBytes> {
    Some(StrBytes::from_string(s.to_string()))
}

pub async fn create(broker: &Broker, request: CreateAclsRequest) -> CreateAclsResponse {
    let bindings: Vec<AclBinding> = request
        .creations
        .iter()
        .map(|c| AclBinding {
            resource_type: c.resource_type,
            resource_name: c.resource_name.to_string(),
            pattern_type: c.resource_pattern_type,
            principal: c.principal.to_string(),
            host: c.host.to_string(),
            operation: c.operation,
            permission: c.permission_type,
        })
        .collect();
    let mut outcomes: Vec<Result<(), ApiError>> = bindings
        .iter()
        .map(|acl| match acl.invalid() {
            _ if !broker.authorizer.is_enabled() => {
                Err(ApiError::new(ResponseError::SecurityDisabled, DISABLED))
            }
            Some(reason) => Err(ApiError::new(ResponseError::InvalidRequest, reason)),
            None => Ok(()),
        })
        .collect();
    let valid: Vec<AclBinding> = bindings
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(acl, _)| acl.clone())
        .collect();
    let commands = if valid.is_empty() {
        Vec::new()
    } else {
        vec![Command::CreateAcls { acls: valid }]
    };
    super::commit_checked(broker, commands, &mut outcomes).await;
    CreateAclsResponse::default().with_results(
        outcomes
            .into_iter()
            .map(|o| match o {
                Ok(()) => AclCreationResult::default(),
                Err(e) => AclCreationResult::default()
                    .with_error_code(e.code())
                    .with_error_message(e.message()),
            })
            .collect(),
    )
}

pub fn describe(broker: &Broker, r: DescribeAclsRequest) -> DescribeAclsResponse {
    if !broker.authorizer.is_enabled() {
        return DescribeAclsResponse::default()
            .with_error_code(ResponseError::SecurityDisabled.code())
            .with_error_message(text(DISABLED));
    }
    let filter = AclFilter {
        resource_type: r.resource_type_filter,
        resource_name: r.resource_name_filter.map(|n| n.to_string()),
        pattern_type: r.pattern_type_filter,
        principal: r.principal_filter.map(|p| p.to_string()),
        host: r.host_filter.map(|h| h.to_string()),
        operation: r.operation,
        permission: r.permission_type,
    };
    if let Some(reason) = filter.invalid() {
        return DescribeAclsResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code())
            .with_error_message(text(&reason));
    }
    let image = broker.controller.image();
    let mut resources: BTreeMap<(i8, &str, i8), Vec<AclDescription>> = BTreeMap::new();
    for acl in image.acls.iter().filter(|acl| filter.matches(acl)) {
        resources
            .entry((acl.resource_type, &acl.resource_name, acl.pattern_type))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(StrBytes::from_string(acl.principal.clone()))
                    .with_host(StrBytes::from_string(acl.host.clone()))
                    .with_operation(acl.operation)
                    .with_permission_type(acl.permission),
            );
    }
    DescribeAclsResponse::default().with_resources(
        resources
            .into_iter()
            .map(|((resource_type, name, pattern_type), acls)| {
                DescribeAclsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(StrBytes::from_string(name.to_string()))
                    .with_pattern_type(pattern_type)
                    .with_acls(acls)
            })
            .collect(),
    )
}

pub async fn delete(broker: &Broker, request: DeleteAclsRequest) -> DeleteAclsResponse {
    let image = broker.controller.image();
    let mut doomed: Vec<AclBinding> = Vec::new();
    let mut results: Vec<Result<Vec<AclBinding>, ApiError>> = request
        .filters
        .iter()
        .map(|f| {
            if !broker.authorizer.is_enabled() {
                return Err(ApiError::new(ResponseError::SecurityDisabled, DISABLED));
            }
            let filter = AclFilter {
                resource_type: f.resource_type_filter,
                resource_name: f.resource_name_filter.as_ref().map(|n| n.to_string()),
                pattern_type: f.pattern_type_filter,
                principal: f.principal_filter.as_ref().map(|p| p.to_string()),
                host: f.host_filter.as_ref().map(|h| h.to_string()),
                operation: f.operation,
                permission: f.permission_type,
            };
            if let Some(reason) = filter.invalid() {
                return Err(ApiError::new(ResponseError::InvalidRequest, reason));
            }
            let matched: Vec<AclBinding> = image
                .acls
                .iter()
                .filter(|a| filter.matches(a))
                .cloned()
                .collect();
            doomed.extend(matched.iter().cloned());
            Ok(matched)
        })
        .collect();
    doomed.sort();
    doomed.dedup();
    let commands = if doomed.is_empty() {
        Vec::new()
    } else {
        vec![Command::DeleteAcls { acls: doomed }]
    };
    super::commit_checked(broker, commands, &mut results).await;
    DeleteAclsResponse::default().with_filter_results(
        results
            .into_iter()
            .map(|r| match r {
                Ok(matched) => DeleteAclsFilterResult::default().with_matching_acls(
                    matched
                        .into_iter()
                        .map(|acl| {
                            DeleteAclsMatchingAcl::default()
                                .with_resource_type(acl.resource_type)
                                .with_resource_name(StrBytes::from_string(acl.resource_name))
                                .with_pattern_type(acl.pattern_type)
                                .with_principal(StrBytes::from_string(acl.principal))
                                .with_host(StrBytes::from_string(acl.host))
                                .with_operation(acl.operation)
                                .with_permission_type(acl.permission)
                        })
                        .collect(),
                ),
                Err(e) => DeleteAclsFilterResult::default()
                    .with_error_code(e.code())
                    .with_error_message(e.message()),
            })
            .collect(),
    )
}
