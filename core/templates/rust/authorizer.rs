//! {{name}}: an authorizer. A principal named `User:<tenant>.<name>` may use
//! the topics and groups whose names start with `<tenant>.`, and none of
//! another tenant's; everything else (the cluster, principals without a
//! tenant) is left to the ACLs. Change `authorize` to your own rule.

use weir_plugin::auth::{Action, Authorizer, Client, Decision, ResourceType};

struct Plugin;

impl Authorizer for Plugin {
    fn authorize(client: &Client, action: &Action) -> Decision {
        let tenant = client
            .principal
            .strip_prefix("User:")
            .and_then(|name| name.split_once('.'))
            .map(|(tenant, _)| tenant);
        let Some(tenant) = tenant else {
            return Decision::Defer;
        };
        match action.resource_type {
            ResourceType::Topic | ResourceType::Group => {
                if action.name.starts_with(&format!("{tenant}.")) {
                    Decision::Allow
                } else {
                    Decision::Deny
                }
            }
            _ => Decision::Defer,
        }
    }
}

weir_plugin::export_authorizer!(Plugin);
