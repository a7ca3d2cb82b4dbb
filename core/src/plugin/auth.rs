//! Authenticator and authorizer plugins: components exporting the
//! `authenticator` or `authorizer` world, called through the traits of
//! `security::plugin`. The call runs with its client as `host.caller()`.
//! A failure (trap, deadline, an answer of the wrong shape) is an error
//! the server answers by refusing.

use std::sync::Arc;

use super::bindings::authenticator::{self as wit_authn, Authenticator, AuthenticatorPre};
use super::bindings::authorizer::{self as wit_authz, Authorizer, AuthorizerPre};
use super::bindings::to_client;
use super::sandbox::{Instances, Loaded, Sandbox};
use super::HostState;
use crate::partition::partitioner::PluginFailure;
use crate::security::acl::{operation, resource};
use crate::security::plugin::{
    self as seam, Action, Authentication, Caller, Credentials, Decision,
};

pub struct WasmAuthenticator {
    pub sandbox: Sandbox,
    pre: AuthenticatorPre<HostState>,
    instances: Instances<Authenticator>,
}

impl WasmAuthenticator {
    pub fn new(loaded: Loaded) -> anyhow::Result<WasmAuthenticator> {
        let (sandbox, pre, instances) =
            loaded.warm(AuthenticatorPre::new, |pre, store| pre.instantiate(store))?;
        Ok(WasmAuthenticator {
            sandbox,
            pre,
            instances,
        })
    }
}

impl seam::Authenticator for WasmAuthenticator {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn authenticate(
        &self,
        caller: &Caller,
        credentials: &Credentials,
    ) -> Result<Authentication, PluginFailure> {
        let client = to_client(caller);
        let presented = wit_authn::Credentials {
            mechanism: credentials.mechanism.to_string(),
            authorization_id: credentials.authorization_id.clone(),
            username: credentials.username.clone(),
            secret: credentials.secret.clone(),
        };
        let outcome = super::caller::scope(Arc::new(caller.clone()), || {
            self.sandbox.run(
                &self.instances,
                1,
                |store| self.pre.instantiate(store),
                |instance, store| {
                    instance
                        .call_authenticate(store, &client, &presented)
                        .map(Ok)
                },
            )
        })?;
        Ok(match outcome {
            wit_authn::Outcome::Accept(a) => {
                let principal = seam::checked_principal(&a.principal).map_err(|why| {
                    self.sandbox.answered_badly(&why);
                    PluginFailure::Failed(format!("answered {why}"))
                })?;
                Authentication::Accept {
                    principal,
                    lifetime_ms: a.lifetime_ms,
                }
            }
            wit_authn::Outcome::Refuse(reason) => {
                self.sandbox.metrics.record_refusal();
                Authentication::Refuse(reason)
            }
            wit_authn::Outcome::Defer => Authentication::Defer,
        })
    }
}

pub struct WasmAuthorizer {
    pub sandbox: Sandbox,
    pre: AuthorizerPre<HostState>,
    instances: Instances<Authorizer>,
}

impl WasmAuthorizer {
    pub fn new(loaded: Loaded) -> anyhow::Result<WasmAuthorizer> {
        let (sandbox, pre, instances) =
            loaded.warm(AuthorizerPre::new, |pre, store| pre.instantiate(store))?;
        Ok(WasmAuthorizer {
            sandbox,
            pre,
            instances,
        })
    }
}

impl seam::Authorizer for WasmAuthorizer {
    fn name(&self) -> &str {
        &self.sandbox.name
    }

    fn authorize(
        &self,
        caller: &Caller,
        actions: &[Action],
    ) -> Result<Vec<Decision>, PluginFailure> {
        let client = to_client(caller);
        // An action the WIT cannot name (ANY, ALL: never asked by a
        // handler) is left to the ACLs without asking.
        let asked: Vec<(usize, wit_authz::Action)> = actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| to_wit_action(a).map(|w| (i, w)))
            .collect();
        let wit_actions: Vec<wit_authz::Action> = asked.iter().map(|(_, a)| a.clone()).collect();
        let answers = super::caller::scope(Arc::new(caller.clone()), || {
            self.sandbox.run(
                &self.instances,
                wit_actions.len(),
                |store| self.pre.instantiate(store),
                |instance, store| {
                    instance
                        .call_authorize(store, &client, &wit_actions)
                        .map(Ok)
                },
            )
        })?;
        if answers.len() != wit_actions.len() {
            let why = format!(
                "{} decisions for {} actions",
                answers.len(),
                wit_actions.len()
            );
            self.sandbox.answered_badly(&why);
            return Err(PluginFailure::Failed(format!("answered {why}")));
        }
        let mut decisions = vec![Decision::Defer; actions.len()];
        for ((index, _), answer) in asked.iter().zip(answers) {
            decisions[*index] = match answer {
                wit_authz::Decision::Allow => Decision::Allow,
                wit_authz::Decision::Deny => {
                    self.sandbox.metrics.record_refusal();
                    Decision::Deny
                }
                wit_authz::Decision::Defer => Decision::Defer,
            };
        }
        Ok(decisions)
    }
}

fn to_wit_action(action: &Action) -> Option<wit_authz::Action> {
    use wit_authz::{Operation as O, ResourceType as R};
    let op = match action.operation {
        operation::READ => O::Read,
        operation::WRITE => O::Write,
        operation::CREATE => O::Create,
        operation::DELETE => O::Delete,
        operation::ALTER => O::Alter,
        operation::DESCRIBE => O::Describe,
        operation::CLUSTER_ACTION => O::ClusterAction,
        operation::DESCRIBE_CONFIGS => O::DescribeConfigs,
        operation::ALTER_CONFIGS => O::AlterConfigs,
        operation::IDEMPOTENT_WRITE => O::IdempotentWrite,
        operation::CREATE_TOKENS => O::CreateTokens,
        operation::DESCRIBE_TOKENS => O::DescribeTokens,
        _ => return None,
    };
    let resource_type = match action.resource_type {
        resource::TOPIC => R::Topic,
        resource::GROUP => R::Group,
        resource::CLUSTER => R::Cluster,
        resource::TRANSACTIONAL_ID => R::TransactionalId,
        resource::DELEGATION_TOKEN => R::DelegationToken,
        resource::USER => R::User,
        _ => return None,
    };
    Some(wit_authz::Action {
        operation: op,
        resource_type,
        name: action.name.clone(),
    })
}
