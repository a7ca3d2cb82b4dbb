//! The `authenticator` and `authorizer` worlds: implement `Authenticator`
//! or `Authorizer`, then `weir_plugin::export_authenticator!(YourType);`
//! or `weir_plugin::export_authorizer!(YourType);`.
//!
//! ```ignore
//! use weir_plugin::auth::{Action, Authorizer, Client, Decision, ResourceType};
//!
//! /// Each `User:<tenant>.<name>` may touch only topics and groups named
//! /// `<tenant>.…`; the ACLs decide the rest.
//! struct Tenants;
//!
//! impl Authorizer for Tenants {
//!     fn authorize(client: &Client, action: &Action) -> Decision {
//!         let Some((tenant, _)) = client.principal.strip_prefix("User:").and_then(|n| n.split_once('.')) else {
//!             return Decision::Defer;
//!         };
//!         match action.resource_type {
//!             ResourceType::Topic | ResourceType::Group if action.name.starts_with(&format!("{tenant}.")) => Decision::Allow,
//!             ResourceType::Topic | ResourceType::Group => Decision::Deny,
//!             _ => Decision::Defer,
//!         }
//!     }
//! }
//!
//! weir_plugin::export_authorizer!(Tenants);
//! ```

#[doc(hidden)]
pub mod authenticator_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "authenticator",
        with: {
            "weir:plugin/types@0.1.0": crate::partitioner::bindings::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::partitioner::bindings::weir::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_authenticator_bindings",
        default_bindings_module: "weir_plugin::auth::authenticator_bindings",
    });
}

#[doc(hidden)]
pub mod authorizer_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "authorizer",
        with: {
            "weir:plugin/types@0.1.0": crate::partitioner::bindings::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::partitioner::bindings::weir::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_authorizer_bindings",
        default_bindings_module: "weir_plugin::auth::authorizer_bindings",
    });
}

pub use crate::partitioner::bindings::weir::plugin::types::Client;
pub use authenticator_bindings::{Authenticated, Credentials, Outcome};
pub use authorizer_bindings::{Action, Decision, Operation, ResourceType};

/// Checks the credentials a client presents through SASL (PLAIN's user
/// and password, or an OAUTHBEARER token).
pub trait Authenticator {
    /// `Outcome::Accept` names the principal (`User:alice`, or just
    /// `alice`), `Outcome::Refuse` says why not, `Outcome::Defer` leaves
    /// the credentials to the broker's own check.
    fn authenticate(client: &Client, credentials: &Credentials) -> Outcome;
}

/// Decides what a principal may do, before the ACLs.
pub trait Authorizer {
    /// Allow, deny, or defer (to the ACLs) one action.
    fn authorize(client: &Client, action: &Action) -> Decision;

    /// One decision per action; by default `authorize` for each.
    fn authorize_all(client: &Client, actions: &[Action]) -> Vec<Decision> {
        actions.iter().map(|a| Self::authorize(client, a)).collect()
    }
}

#[doc(hidden)]
pub struct AuthenticatorAdapter<T>(core::marker::PhantomData<T>);

impl<T: Authenticator> authenticator_bindings::Guest for AuthenticatorAdapter<T> {
    fn authenticate(client: Client, credentials: Credentials) -> Outcome {
        T::authenticate(&client, &credentials)
    }
}

#[doc(hidden)]
pub struct AuthorizerAdapter<T>(core::marker::PhantomData<T>);

impl<T: Authorizer> authorizer_bindings::Guest for AuthorizerAdapter<T> {
    fn authorize(client: Client, actions: Vec<Action>) -> Vec<Decision> {
        T::authorize_all(&client, &actions)
    }
}

/// Exports `$t` (an `Authenticator`) as the component's `authenticator` world.
#[macro_export]
macro_rules! export_authenticator {
    ($t:ty) => {
        type __WeirAuthenticatorExport = $crate::auth::AuthenticatorAdapter<$t>;
        $crate::auth::authenticator_bindings::export_authenticator_bindings!(
            __WeirAuthenticatorExport
        );
    };
}

/// Exports `$t` (an `Authorizer`) as the component's `authorizer` world.
#[macro_export]
macro_rules! export_authorizer {
    ($t:ty) => {
        type __WeirAuthorizerExport = $crate::auth::AuthorizerAdapter<$t>;
        $crate::auth::authorizer_bindings::export_authorizer_bindings!(__WeirAuthorizerExport);
    };
}
