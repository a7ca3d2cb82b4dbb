//! The standard tenant authorizer: a principal named `User:<tenant>.<name>`
//! may use the topics, groups and transactional ids whose names start with
//! `<tenant>.`, and nothing of another tenant's; it may describe the
//! cluster and write idempotently. Everything else (the cluster's admin
//! operations, principals without a tenant) is left to the ACLs.
//!
//! Config: `separator` (default `.`) splits tenant from name, in
//! principals and resources alike; `shared` lists topics every tenant may
//! read (comma-separated, e.g. `announcements`).

use weir_plugin::auth::{Action, Authorizer, Client, Decision, Operation, ResourceType};
use weir_plugin::host;

struct Tenants;

impl Authorizer for Tenants {
    fn authorize(client: &Client, action: &Action) -> Decision {
        let separator = host::config("separator").unwrap_or_else(|| ".".into());
        let Some(tenant) = tenant_of(&client.principal, &separator) else {
            return Decision::Defer;
        };
        match action.resource_type {
            ResourceType::Topic | ResourceType::Group | ResourceType::TransactionalId => {
                let own = action
                    .name
                    .strip_prefix(tenant)
                    .is_some_and(|rest| rest.starts_with(&separator));
                if own || (is_shared(&action.name) && reads(action.operation)) {
                    Decision::Allow
                } else {
                    Decision::Deny
                }
            }
            ResourceType::Cluster => match action.operation {
                Operation::Describe | Operation::IdempotentWrite => Decision::Allow,
                _ => Decision::Defer,
            },
            _ => Decision::Defer,
        }
    }
}

/// `User:acme.alice` → `acme`.
fn tenant_of<'a>(principal: &'a str, separator: &str) -> Option<&'a str> {
    let name = principal.strip_prefix("User:")?;
    let (tenant, user) = name.split_once(separator)?;
    (!tenant.is_empty() && !user.is_empty()).then_some(tenant)
}

fn is_shared(name: &str) -> bool {
    host::config("shared").is_some_and(|shared| shared.split(',').any(|s| s.trim() == name))
}

fn reads(op: Operation) -> bool {
    matches!(op, Operation::Read | Operation::Describe)
}

weir_plugin::export_authorizer!(Tenants);
