//! DescribeUserScramCredentials and AlterUserScramCredentials: the SCRAM
//! credentials SASL listeners check, kept in the metadata log (so every
//! broker of a cluster knows them), with Kafka's checks and error codes.
//! The client salts the password; the broker keeps only the salt, the
//! iteration count and the keys RFC 5802 derives (`sasl::scram`).

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::command::Command;
use crate::protocol::error::{ApiError, ResponseError};
use crate::security::sasl::scram::{Hash, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::server::broker::Broker;

pub fn describe(
    broker: &Broker,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let image = broker.controller.image();
    let users: Vec<String> = match request.users {
        Some(users) if !users.is_empty() => users.iter().map(|u| u.name.to_string()).collect(),
        _ => image.scram.keys().cloned().collect(),
    };
    let results = users
        .iter()
        .map(|user| {
            let result = DescribeUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(user.clone()));
            if users.iter().filter(|u| *u == user).count() > 1 {
                return error(result, ResponseError::DuplicateResource, format!(
                    "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                ));
            }
            match image.scram.get(user) {
                None => error(result, ResponseError::ResourceNotFound, format!(
                    "Attempt to describe a user credential that does not exist: {user}"
                )),
                Some(credentials) => result.with_credential_infos(
                    credentials
                        .iter()
                        .filter_map(|(mechanism, c)| {
                            let hash = [Hash::Sha256, Hash::Sha512]
                                .into_iter()
                                .find(|h| h.mechanism() == mechanism)?;
                            Some(
                                CredentialInfo::default()
                                    .with_mechanism(hash.type_id())
                                    .with_iterations(c.iterations),
                            )
                        })
                        .collect(),
                ),
            }
        })
        .collect();
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

fn error(
    result: DescribeUserScramCredentialsResult,
    code: ResponseError,
    message: String,
) -> DescribeUserScramCredentialsResult {
    result
        .with_error_code(code.code())
        .with_error_message(Some(StrBytes::from_string(message)))
}

/// One requested change, before checks.
struct Change {
    user: String,
    mechanism: i8,
    /// None: delete; else (iterations, salt, salted password).
    set: Option<(i32, Vec<u8>, Vec<u8>)>,
}

pub async fn alter(
    broker: &Broker,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let mut changes: Vec<Change> = request
        .deletions
        .iter()
        .map(|d| Change {
            user: d.name.to_string(),
            mechanism: d.mechanism,
            set: None,
        })
        .collect();
    changes.extend(request.upsertions.iter().map(|u| Change {
        user: u.name.to_string(),
        mechanism: u.mechanism,
        set: Some((u.iterations, u.salt.to_vec(), u.salted_password.to_vec())),
    }));
    // One answer per user, in the order users first appear.
    let mut by_user: BTreeMap<String, Vec<&Change>> = BTreeMap::new();
    let mut order = Vec::new();
    for change in &changes {
        if !by_user.contains_key(&change.user) {
            order.push(change.user.clone());
        }
        by_user.entry(change.user.clone()).or_default().push(change);
    }
    let image = broker.controller.image();
    let mut outcomes: Vec<(String, Result<Vec<Command>, ApiError>)> = order
        .into_iter()
        .map(|user| {
            let checked = check_user(&image, &user, &by_user[&user]);
            (user, checked)
        })
        .collect();
    let commands: Vec<Command> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    super::commit_checked(broker, commands, outcomes.iter_mut().map(|(_, o)| o)).await;
    let results = outcomes
        .into_iter()
        .map(|(user, outcome)| {
            let result =
                AlterUserScramCredentialsResult::default().with_user(StrBytes::from_string(user));
            match outcome {
                Ok(_) => result,
                Err(e) => result
                    .with_error_code(e.code())
                    .with_error_message(e.message()),
            }
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// The commands for one user's changes, or the first reason they are refused.
fn check_user(
    image: &crate::metadata::image::MetadataImage,
    user: &str,
    changes: &[&Change],
) -> Result<Vec<Command>, ApiError> {
    let refuse = |code: ResponseError, message: &str| Err(ApiError::new(code, message.to_string()));
    if user.is_empty() {
        return refuse(
            ResponseError::UnacceptableCredential,
            "Username must not be empty",
        );
    }
    let mut mechanisms = HashSet::new();
    let mut commands = Vec::new();
    for change in changes {
        let Some(hash) = Hash::from_type(change.mechanism) else {
            return refuse(
                ResponseError::UnsupportedSaslMechanism,
                "Unknown SCRAM mechanism",
            );
        };
        if !mechanisms.insert(change.mechanism) {
            return refuse(
                ResponseError::DuplicateResource,
                "A user credential cannot be altered twice in the same request",
            );
        }
        let mechanism = hash.mechanism().to_string();
        let credential = match &change.set {
            None => {
                let exists = image
                    .scram
                    .get(user)
                    .is_some_and(|c| c.contains_key(&mechanism));
                if !exists {
                    return refuse(
                        ResponseError::ResourceNotFound,
                        "Attempt to delete a user credential that does not exist",
                    );
                }
                None
            }
            Some((iterations, salt, salted_password)) => {
                if *iterations < MIN_ITERATIONS {
                    return refuse(ResponseError::UnacceptableCredential, "Too few iterations");
                }
                if *iterations > MAX_ITERATIONS {
                    return refuse(ResponseError::UnacceptableCredential, "Too many iterations");
                }
                if salt.is_empty() || salted_password.is_empty() {
                    return refuse(
                        ResponseError::UnacceptableCredential,
                        "Credential must have a salt and a salted password",
                    );
                }
                Some(hash.credential(salt, salted_password, *iterations))
            }
        };
        commands.push(Command::SetScramCredential {
            user: user.to_string(),
            mechanism,
            credential,
        });
    }
    Ok(commands)
}
