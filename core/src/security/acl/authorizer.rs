//! Authorization decisions with Kafka's rules (StandardAuthorizer): a super
//! user may do anything; otherwise a DENY binding that matches wins, then an
//! ALLOW one (READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS
//! implies DESCRIBE_CONFIGS; ALL is every operation); with no ALLOW the
//! answer is no — unless no binding names the resource at all and
//! `allow.everyone.if.no.acl.found` is set.
//!
//! On only when `authorizer.class.name` names Kafka's ACL authorizer, as in
//! Kafka: without one every request is allowed. The bindings are indexed by
//! resource type and name (literal names hashed, prefixes looked up by the
//! lengths present), so a check costs a few hash lookups however many ACLs
//! there are; the index is rebuilt when the metadata log's ACLs change.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use super::{operation, pattern, permission, AclBinding, WILDCARD};
use crate::config::BrokerConfig;

/// The class names Kafka users set to turn ACLs on.
const KAFKA_AUTHORIZERS: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
];

pub struct Authorizer {
    enabled: bool,
    super_users: HashSet<String>,
    allow_if_no_acl: bool,
    index: RwLock<Arc<Index>>,
}

/// The bindings of one resource type, by what they name.
#[derive(Default)]
struct TypeIndex {
    literal: HashMap<String, Vec<Entry>>,
    prefixed: HashMap<String, Vec<Entry>>,
    /// The lengths of the prefixes in `prefixed`, ascending.
    prefix_lengths: Vec<usize>,
}

#[derive(Default)]
struct Index {
    by_type: HashMap<i8, TypeIndex>,
}

struct Entry {
    principal: String,
    host: String,
    operation: i8,
    permission: i8,
}

impl Authorizer {
    pub fn from_config(config: &BrokerConfig) -> Result<Authorizer, String> {
        let class = config.get("authorizer.class.name").unwrap_or_default();
        let enabled = match class.trim() {
            "" => false,
            c if KAFKA_AUTHORIZERS.contains(&c) => true,
            c => {
                return Err(format!(
                    "authorizer.class.name {c} is not known: set {} for ACLs (the weir.authorizer plugin binding adds to them)",
                    KAFKA_AUTHORIZERS[0]
                ))
            }
        };
        let super_users = config
            .get("super.users")
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Authorizer {
            enabled,
            super_users,
            allow_if_no_acl: config.flag("allow.everyone.if.no.acl.found"),
            index: RwLock::new(Arc::new(Index::default())),
        })
    }

    /// An ACL authorizer with these super users (benchmarks and tests).
    pub fn enabled(super_users: &[&str], allow_if_no_acl: bool) -> Authorizer {
        Authorizer {
            enabled: true,
            super_users: super_users.iter().map(|u| u.to_string()).collect(),
            allow_if_no_acl,
            index: RwLock::new(Arc::new(Index::default())),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether `principal` is one of `super.users`.
    pub fn is_super_user(&self, principal: &str) -> bool {
        self.super_users.contains(principal)
    }

    /// Takes the metadata log's bindings.
    pub fn set_acls(&self, acls: &BTreeSet<AclBinding>) {
        let mut index = Index::default();
        for acl in acls {
            let of_type = index.by_type.entry(acl.resource_type).or_default();
            let names = if acl.pattern_type == pattern::PREFIXED {
                &mut of_type.prefixed
            } else {
                &mut of_type.literal
            };
            names
                .entry(acl.resource_name.clone())
                .or_default()
                .push(Entry {
                    principal: acl.principal.clone(),
                    host: acl.host.clone(),
                    operation: acl.operation,
                    permission: acl.permission,
                });
        }
        for of_type in index.by_type.values_mut() {
            let lengths: BTreeSet<usize> = of_type.prefixed.keys().map(String::len).collect();
            of_type.prefix_lengths = lengths.into_iter().collect();
        }
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
    }

    /// Whether `principal`, connected from `host` (an address, without
    /// Kafka's leading '/'), may perform `op` on the resource.
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        op: i8,
        resource_type: i8,
        name: &str,
    ) -> bool {
        if !self.enabled || self.super_users.contains(principal) {
            return true;
        }
        let index = self.index.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(of_type) = index.by_type.get(&resource_type) else {
            return self.allow_if_no_acl;
        };
        let mut named = false;
        let mut allowed = false;
        for entries in of_type.matching(name) {
            named = true;
            for e in entries {
                let principal_matches = e.principal == principal || e.principal == "User:*";
                if !principal_matches || !(e.host == WILDCARD || e.host == host) {
                    continue;
                }
                if e.permission == permission::DENY
                    && (e.operation == op || e.operation == operation::ALL)
                {
                    return false;
                }
                allowed |= e.permission == permission::ALLOW && implies(e.operation, op);
            }
        }
        allowed || (!named && self.allow_if_no_acl)
    }

    /// Whether the principal may perform `op` on some resource of the type
    /// (Kafka's `authorizeByResourceType`, which InitProducerId asks for
    /// WRITE on any topic): an ALLOW binding for it, unless a DENY on every
    /// name (the wildcard) takes it away.
    pub fn allows_any(&self, principal: &str, host: &str, op: i8, resource_type: i8) -> bool {
        if !self.enabled || self.super_users.contains(principal) {
            return true;
        }
        let index = self.index.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(of_type) = index.by_type.get(&resource_type) else {
            return self.allow_if_no_acl;
        };
        let applies = |e: &Entry| {
            (e.principal == principal || e.principal == "User:*")
                && (e.host == WILDCARD || e.host == host)
        };
        let denied_everywhere = of_type.literal.get(WILDCARD).is_some_and(|entries| {
            entries.iter().any(|e| {
                applies(e)
                    && e.permission == permission::DENY
                    && (e.operation == op || e.operation == operation::ALL)
            })
        });
        !denied_everywhere
            && of_type
                .literal
                .values()
                .chain(of_type.prefixed.values())
                .flatten()
                .any(|e| {
                    applies(e) && e.permission == permission::ALLOW && implies(e.operation, op)
                })
    }

    /// The authorized-operations bit set (bit n: operation n) over `ops`,
    /// as Metadata, DescribeCluster and DescribeGroups report it.
    pub fn authorized_operations(
        &self,
        principal: &str,
        host: &str,
        resource_type: i8,
        name: &str,
        ops: &[i8],
    ) -> i32 {
        ops.iter()
            .filter(|op| self.authorize(principal, host, **op, resource_type, name))
            .fold(0, |bits, op| bits | (1 << op))
    }
}

impl TypeIndex {
    /// The entry lists that apply to a resource named `name`: its literal
    /// name, the wildcard, and every prefix of it that is bound.
    fn matching<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Vec<Entry>> + 'a {
        let literal = self.literal.get(name);
        let wildcard = self.literal.get(WILDCARD);
        let prefixes = self
            .prefix_lengths
            .iter()
            .take_while(move |len| **len <= name.len())
            .filter_map(move |len| name.get(..*len))
            .filter_map(move |prefix| self.prefixed.get(prefix));
        literal.into_iter().chain(wildcard).chain(prefixes)
    }
}

/// Whether an ACL on `granted` covers `wanted`.
fn implies(granted: i8, wanted: i8) -> bool {
    use operation::*;
    granted == wanted
        || granted == ALL
        || (wanted == DESCRIBE && matches!(granted, READ | WRITE | DELETE | ALTER))
        || (wanted == DESCRIBE_CONFIGS && granted == ALTER_CONFIGS)
}

#[cfg(test)]
mod tests {
    use super::super::resource;
    use super::*;

    fn acl(name: &str, pattern_type: i8, principal: &str, op: i8, perm: i8) -> AclBinding {
        AclBinding {
            resource_type: resource::TOPIC,
            resource_name: name.into(),
            pattern_type,
            principal: principal.into(),
            host: "*".into(),
            operation: op,
            permission: perm,
        }
    }

    fn authorizer(acls: &[AclBinding], allow_if_no_acl: bool) -> Authorizer {
        let a = Authorizer::enabled(&["User:admin"], allow_if_no_acl);
        a.set_acls(&acls.iter().cloned().collect());
        a
    }

    #[test]
    fn kafka_rules() {
        use operation::*;
        let a = authorizer(
            &[
                acl(
                    "orders",
                    pattern::LITERAL,
                    "User:alice",
                    READ,
                    permission::ALLOW,
                ),
                acl(
                    "tenant-a.",
                    pattern::PREFIXED,
                    "User:bob",
                    ALL,
                    permission::ALLOW,
                ),
                acl(
                    "tenant-a.secret",
                    pattern::LITERAL,
                    "User:bob",
                    READ,
                    permission::DENY,
                ),
                acl("*", pattern::LITERAL, "User:*", DESCRIBE, permission::ALLOW),
            ],
            false,
        );
        let check =
            |who: &str, op: i8, name: &str| a.authorize(who, "10.0.0.1", op, resource::TOPIC, name);
        assert!(check("User:alice", READ, "orders"));
        assert!(
            check("User:alice", DESCRIBE, "orders"),
            "READ implies DESCRIBE"
        );
        assert!(!check("User:alice", WRITE, "orders"));
        assert!(check("User:bob", WRITE, "tenant-a.x"), "prefixed ALL");
        assert!(!check("User:bob", READ, "tenant-a.secret"), "DENY wins");
        assert!(
            check("User:bob", WRITE, "tenant-a.secret"),
            "the DENY is for READ only"
        );
        assert!(!check("User:bob", WRITE, "tenant-b.x"));
        assert!(
            check("User:carol", DESCRIBE, "anything"),
            "wildcard name and principal"
        );
        assert!(check("User:admin", DELETE, "orders"), "super user");
        assert!(
            !a.authorize("User:alice", "h", READ, resource::GROUP, "g"),
            "no ACL: denied"
        );
        let open = authorizer(
            &[acl(
                "orders",
                pattern::LITERAL,
                "User:alice",
                READ,
                permission::ALLOW,
            )],
            true,
        );
        assert!(
            open.authorize("User:carol", "h", READ, resource::GROUP, "g"),
            "no ACL names it"
        );
        assert!(
            !open.authorize("User:carol", "h", READ, resource::TOPIC, "orders"),
            "an ACL names it"
        );
    }

    #[test]
    fn hosts_must_match() {
        let mut only_here = acl(
            "t",
            pattern::LITERAL,
            "User:alice",
            operation::READ,
            permission::ALLOW,
        );
        only_here.host = "10.0.0.1".into();
        let a = authorizer(&[only_here], false);
        assert!(a.authorize(
            "User:alice",
            "10.0.0.1",
            operation::READ,
            resource::TOPIC,
            "t"
        ));
        assert!(!a.authorize(
            "User:alice",
            "10.0.0.2",
            operation::READ,
            resource::TOPIC,
            "t"
        ));
    }

    #[test]
    fn authorized_operations_are_a_bit_set() {
        let a = authorizer(
            &[acl(
                "t",
                pattern::LITERAL,
                "User:alice",
                operation::WRITE,
                permission::ALLOW,
            )],
            false,
        );
        let ops = [operation::READ, operation::WRITE, operation::DESCRIBE];
        let bits = a.authorized_operations("User:alice", "h", resource::TOPIC, "t", &ops);
        assert_eq!(bits, (1 << operation::WRITE) | (1 << operation::DESCRIBE));
    }
}
