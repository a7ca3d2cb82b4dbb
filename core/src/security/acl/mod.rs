//! Kafka's ACL model: a binding says that a principal, from a host, may
//! (ALLOW) or may not (DENY) perform an operation on resources of one type
//! named literally or by prefix. Bindings live in the metadata log (so every
//! broker of a cluster enforces the same ones); filters select them for
//! DescribeAcls and DeleteAcls. Codes are Kafka's wire codes. Decisions are
//! `authorizer`'s.

pub mod authorizer;

use serde::{Deserialize, Serialize};

/// Resource types (Kafka's `ResourceType` codes).
pub mod resource {
    pub const ANY: i8 = 1;
    pub const TOPIC: i8 = 2;
    pub const GROUP: i8 = 3;
    pub const CLUSTER: i8 = 4;
    pub const TRANSACTIONAL_ID: i8 = 5;
    pub const DELEGATION_TOKEN: i8 = 6;
    pub const USER: i8 = 7;
}

/// Pattern types (`PatternType`).
pub mod pattern {
    pub const ANY: i8 = 1;
    pub const MATCH: i8 = 2;
    pub const LITERAL: i8 = 3;
    pub const PREFIXED: i8 = 4;
}

/// Operations (`AclOperation`).
pub mod operation {
    pub const ANY: i8 = 1;
    pub const ALL: i8 = 2;
    pub const READ: i8 = 3;
    pub const WRITE: i8 = 4;
    pub const CREATE: i8 = 5;
    pub const DELETE: i8 = 6;
    pub const ALTER: i8 = 7;
    pub const DESCRIBE: i8 = 8;
    pub const CLUSTER_ACTION: i8 = 9;
    pub const DESCRIBE_CONFIGS: i8 = 10;
    pub const ALTER_CONFIGS: i8 = 11;
    pub const IDEMPOTENT_WRITE: i8 = 12;
    pub const CREATE_TOKENS: i8 = 13;
    pub const DESCRIBE_TOKENS: i8 = 14;
}

/// Permission types (`AclPermissionType`).
pub mod permission {
    pub const ANY: i8 = 1;
    pub const DENY: i8 = 2;
    pub const ALLOW: i8 = 3;
}

/// The cluster resource's one name.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// A literal name or principal or host matching every one.
pub const WILDCARD: &str = "*";

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

impl AclBinding {
    /// Why Kafka would refuse to create this binding (INVALID_REQUEST), if
    /// it would.
    pub fn invalid(&self) -> Option<String> {
        if !(resource::TOPIC..=resource::USER).contains(&self.resource_type) {
            return Some(format!("invalid resource type {}", self.resource_type));
        }
        if !matches!(self.pattern_type, pattern::LITERAL | pattern::PREFIXED) {
            return Some(format!(
                "invalid pattern type {}: LITERAL or PREFIXED",
                self.pattern_type
            ));
        }
        if !(operation::ALL..=operation::DESCRIBE_TOKENS).contains(&self.operation) {
            return Some(format!("invalid operation {}", self.operation));
        }
        if !matches!(self.permission, permission::ALLOW | permission::DENY) {
            return Some(format!(
                "invalid permission type {}: ALLOW or DENY",
                self.permission
            ));
        }
        if self.resource_name.is_empty() {
            return Some("the resource name must not be empty".into());
        }
        if self.resource_type == resource::CLUSTER && self.resource_name != CLUSTER_NAME {
            return Some(format!(
                "the cluster resource is named {CLUSTER_NAME}, not {}",
                self.resource_name
            ));
        }
        if self.pattern_type == pattern::PREFIXED && self.resource_name == WILDCARD {
            return Some("a prefixed pattern may not be the wildcard *".into());
        }
        match self.principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
            _ => {
                return Some(format!(
                    "invalid principal {:?}: expected Type:name, e.g. User:alice",
                    self.principal
                ))
            }
        }
        if self.host.is_empty() {
            return Some("the host must not be empty (* for any)".into());
        }
        None
    }
}

/// A DescribeAcls or DeleteAcls filter: each `None` or ANY matches all.
#[derive(Debug, Clone)]
pub struct AclFilter {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

impl AclFilter {
    pub fn matches(&self, acl: &AclBinding) -> bool {
        let any_or = |filter: i8, any: i8, value: i8| filter == any || filter == value;
        any_or(self.resource_type, resource::ANY, acl.resource_type)
            && self.matches_pattern(acl)
            && self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && any_or(self.operation, operation::ANY, acl.operation)
            && any_or(self.permission, permission::ANY, acl.permission)
    }

    fn matches_pattern(&self, acl: &AclBinding) -> bool {
        let name = self.resource_name.as_deref();
        match self.pattern_type {
            pattern::ANY => name.is_none_or(|n| n == acl.resource_name),
            // The ACLs that apply to a resource of this name.
            pattern::MATCH => name.is_none_or(|n| match acl.pattern_type {
                pattern::LITERAL => acl.resource_name == n || acl.resource_name == WILDCARD,
                pattern::PREFIXED => n.starts_with(&acl.resource_name),
                _ => false,
            }),
            exact => exact == acl.pattern_type && name.is_none_or(|n| n == acl.resource_name),
        }
    }

    /// Why Kafka would refuse this filter, if it would.
    pub fn invalid(&self) -> Option<String> {
        if !(resource::ANY..=resource::USER).contains(&self.resource_type) {
            return Some(format!("invalid resource type {}", self.resource_type));
        }
        if !(pattern::ANY..=pattern::PREFIXED).contains(&self.pattern_type) {
            return Some(format!("invalid pattern type {}", self.pattern_type));
        }
        if !(operation::ANY..=operation::DESCRIBE_TOKENS).contains(&self.operation) {
            return Some(format!("invalid operation {}", self.operation));
        }
        if !(permission::ANY..=permission::ALLOW).contains(&self.permission) {
            return Some(format!("invalid permission type {}", self.permission));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(name: &str, pattern_type: i8) -> AclBinding {
        AclBinding {
            resource_type: resource::TOPIC,
            resource_name: name.into(),
            pattern_type,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: operation::READ,
            permission: permission::ALLOW,
        }
    }

    fn filter(name: Option<&str>, pattern_type: i8) -> AclFilter {
        AclFilter {
            resource_type: resource::ANY,
            resource_name: name.map(str::to_string),
            pattern_type,
            principal: None,
            host: None,
            operation: operation::ANY,
            permission: permission::ANY,
        }
    }

    #[test]
    fn filters_select_as_kafka_does() {
        let literal = acl("orders", pattern::LITERAL);
        let prefixed = acl("ord", pattern::PREFIXED);
        let wildcard = acl("*", pattern::LITERAL);
        let m = filter(Some("orders"), pattern::MATCH);
        assert!(m.matches(&literal) && m.matches(&prefixed) && m.matches(&wildcard));
        let exact = filter(Some("orders"), pattern::LITERAL);
        assert!(exact.matches(&literal) && !exact.matches(&prefixed) && !exact.matches(&wildcard));
        let any = filter(Some("ord"), pattern::ANY);
        assert!(any.matches(&prefixed) && !any.matches(&literal));
        assert!(filter(None, pattern::ANY).matches(&wildcard));
    }

    #[test]
    fn invalid_bindings_are_named() {
        assert!(acl("orders", pattern::LITERAL).invalid().is_none());
        let mut cluster = acl("orders", pattern::LITERAL);
        cluster.resource_type = resource::CLUSTER;
        assert!(cluster.invalid().unwrap().contains("kafka-cluster"));
        let mut principal = acl("orders", pattern::LITERAL);
        principal.principal = "alice".into();
        assert!(principal.invalid().unwrap().contains("Type:name"));
        assert!(acl("orders", pattern::MATCH).invalid().is_some());
        assert!(acl("*", pattern::PREFIXED).invalid().is_some());
    }
}
