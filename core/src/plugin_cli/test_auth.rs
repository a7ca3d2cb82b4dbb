//! `weir plugin test` for the auth kinds: an authenticator is shown sample
//! credentials (PLAIN users and passwords, an OAUTHBEARER token), an
//! authorizer sample principals asking for sample actions; each answer is
//! printed as the broker would act on it.

use anyhow::Context;

use weir::plugin::PluginRegistry;
use weir::security::acl::{operation, resource, CLUSTER_NAME};
use weir::security::plugin::{Action, Authentication, Caller, Credentials, Decision};

fn caller(principal: &str) -> Caller {
    Caller {
        principal: principal.to_string(),
        address: "127.0.0.1".into(),
        client_id: Some("weir-plugin-test".into()),
        listener: "SASL_PLAINTEXT".into(),
    }
}

/// PLAIN alice with the password in the plugin's config (`user.alice`,
/// set with `--config user.alice=…`) and a wrong one, an unknown user, and
/// an OAUTHBEARER token.
pub fn authenticator(registry: &PluginRegistry, name: &str) -> anyhow::Result<()> {
    let plugin = registry.authenticator(name).context("loaded")?;
    let plain = |user: &str, password: &str| Credentials {
        mechanism: "PLAIN",
        authorization_id: String::new(),
        username: user.to_string(),
        secret: password.as_bytes().to_vec(),
    };
    let samples = [
        plain("alice", "alice-secret"),
        plain("alice", "wrong"),
        plain("mallory", "guess"),
        Credentials {
            mechanism: "OAUTHBEARER",
            authorization_id: String::new(),
            username: String::new(),
            secret: b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.".to_vec(),
        },
    ];
    for c in &samples {
        let started = std::time::Instant::now();
        let answer = plugin.authenticate(&caller("User:ANONYMOUS"), c);
        let took = started.elapsed().as_secs_f64() * 1e6;
        let shown = match answer {
            Ok(Authentication::Accept {
                principal,
                lifetime_ms,
            }) => match lifetime_ms {
                Some(ms) => format!("accept as {principal} for {ms} ms"),
                None => format!("accept as {principal}"),
            },
            Ok(Authentication::Refuse(why)) => format!("refuse: {why}"),
            Ok(Authentication::Defer) => "defer (the broker checks them itself)".into(),
            Err(e) => format!("the plugin {e} (the broker refuses the client)"),
        };
        let who = if c.mechanism == "PLAIN" {
            format!(
                "PLAIN {} / {:?}",
                c.username,
                String::from_utf8_lossy(&c.secret)
            )
        } else {
            "OAUTHBEARER token".into()
        };
        println!("{who} → {shown}   ({took:.1} µs)");
    }
    Ok(())
}

/// A tenant's user, another tenant's and an untenanted one, each asking to
/// write and read topics, join groups and alter the cluster.
pub fn authorizer(registry: &PluginRegistry, name: &str) -> anyhow::Result<()> {
    let plugin = registry.authorizer(name).context("loaded")?;
    let action = |op: i8, resource_type: i8, name: &str| Action {
        operation: op,
        resource_type,
        name: name.to_string(),
    };
    let actions = [
        action(operation::WRITE, resource::TOPIC, "acme.orders"),
        action(operation::READ, resource::TOPIC, "globex.orders"),
        action(operation::READ, resource::GROUP, "acme.billing"),
        action(operation::ALTER, resource::CLUSTER, CLUSTER_NAME),
    ];
    for principal in ["User:acme.alice", "User:globex.bob", "User:carol"] {
        let started = std::time::Instant::now();
        let answers = plugin.authorize(&caller(principal), &actions);
        let took = started.elapsed().as_secs_f64() * 1e6;
        let decisions = match answers {
            Ok(d) => d,
            Err(e) => {
                println!("{principal}: the plugin {e} (the broker denies every action)");
                continue;
            }
        };
        println!(
            "{principal} ({} actions, one call, {took:.1} µs)",
            actions.len()
        );
        for (a, d) in actions.iter().zip(decisions) {
            let shown = match d {
                Decision::Allow => "allow",
                Decision::Deny => "deny",
                Decision::Defer => "defer (to the ACLs)",
            };
            println!(
                "  {} {} {} → {shown}",
                operation_name(a.operation),
                resource_name(a.resource_type),
                a.name
            );
        }
    }
    Ok(())
}

fn operation_name(op: i8) -> &'static str {
    match op {
        operation::READ => "READ",
        operation::WRITE => "WRITE",
        operation::ALTER => "ALTER",
        _ => "?",
    }
}

fn resource_name(resource_type: i8) -> &'static str {
    match resource_type {
        resource::TOPIC => "topic",
        resource::GROUP => "group",
        resource::CLUSTER => "cluster",
        _ => "?",
    }
}
