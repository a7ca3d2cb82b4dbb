//! The cost of one authorization check with 10,000 ACLs: a literal ALLOW
//! found, a prefixed ALLOW found, a DENY that wins, and a principal no ACL
//! names (denied after looking everywhere), as a produce or fetch of one
//! topic asks it. Then the same through plugins (the standard tenant
//! authorizer: one action a call, as a produce asks; eight, as an
//! authorized-operations field asks), and what the standard password
//! authenticator spends on one Argon2id and one bcrypt check, the cost a
//! SASL/PLAIN handshake through it pays. Needs the standard plugins built
//! (tests/run.sh builds them):
//!   cargo bench -p weir --bench authorize

use std::hint::black_box;
use std::time::Instant;

use weir::config::plugins::PluginSpec;
use weir::plugin::PluginRegistry;
use weir::security::acl::authorizer::Authorizer;
use weir::security::acl::{operation, pattern, permission, resource, AclBinding};
use weir::security::plugin::{Action, Authentication, Caller, Credentials, Decision};

const CHECKS: u32 = 2_000_000;

fn acl(name: String, pattern_type: i8, principal: String, op: i8, perm: i8) -> AclBinding {
    AclBinding {
        resource_type: resource::TOPIC,
        resource_name: name,
        pattern_type,
        principal,
        host: "*".into(),
        operation: op,
        permission: perm,
    }
}

fn main() {
    let mut acls = std::collections::BTreeSet::new();
    for i in 0..6_000 {
        let op = [operation::READ, operation::WRITE, operation::DESCRIBE][i % 3];
        acls.insert(acl(
            format!("topic-{i}"),
            pattern::LITERAL,
            format!("User:user-{}", i % 500),
            op,
            permission::ALLOW,
        ));
    }
    for i in 0..3_000 {
        acls.insert(acl(
            format!("tenant-{i}."),
            pattern::PREFIXED,
            format!("User:tenant-{i}"),
            operation::ALL,
            permission::ALLOW,
        ));
    }
    for i in 0..1_000 {
        acls.insert(acl(
            format!("tenant-{i}.secret"),
            pattern::LITERAL,
            format!("User:tenant-{i}"),
            operation::READ,
            permission::DENY,
        ));
    }
    assert_eq!(acls.len(), 10_000);
    let authorizer = Authorizer::enabled(&["User:admin"], false);
    let started = Instant::now();
    authorizer.set_acls(&acls);
    println!(
        "index of {} ACLs built in {:.1} ms",
        acls.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let cases: [(&str, &str, i8, &str, bool); 4] = [
        (
            "literal ALLOW",
            "User:user-7",
            operation::WRITE,
            "topic-1507",
            true,
        ),
        (
            "prefixed ALLOW",
            "User:tenant-42",
            operation::WRITE,
            "tenant-42.orders.eu",
            true,
        ),
        (
            "DENY wins",
            "User:tenant-42",
            operation::READ,
            "tenant-42.secret",
            false,
        ),
        (
            "no ACL names it",
            "User:stranger",
            operation::READ,
            "unnamed-topic",
            false,
        ),
    ];
    for (name, principal, op, topic, expected) in cases {
        assert_eq!(
            authorizer.authorize(principal, "10.1.2.3", op, resource::TOPIC, topic),
            expected,
            "{name}"
        );
        let started = Instant::now();
        for _ in 0..CHECKS {
            black_box(authorizer.authorize(
                black_box(principal),
                "10.1.2.3",
                op,
                resource::TOPIC,
                black_box(topic),
            ));
        }
        let ns = started.elapsed().as_nanos() as f64 / CHECKS as f64;
        println!("{name:>16}: {ns:6.0} ns per check");
    }
    plugins();
}

/// The password hashes the authenticator checks: OWASP's Argon2id
/// parameters (19 MiB, two passes) and bcrypt's usual cost of 10.
const ARGON2ID: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$3Xh4ieL4C0ZKXo9HqylRAA$4APE1+BUJ0aRzzlIb6F6xrpbS8TdQwwwTawXd2PNxk8";
const BCRYPT: &str = "$2b$10$q7yqBz15EgY70sXpdvK2x.TX/mxP3FiU13mq/wyvyMdyIU./4Obhu";

fn plugins() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/release");
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e} (build the plugins first: tests/run.sh)"))
    };
    let cache = tempfile::tempdir().unwrap();
    let registry = PluginRegistry::new(cache.path());
    registry
        .deploy(
            PluginSpec::deployed("tenants", "authorizer"),
            &read("tenant_authorizer.wasm"),
        )
        .unwrap();
    let mut spec = PluginSpec::deployed("passwords", "authenticator");
    spec.timeout_ms = 5_000;
    spec.config = [
        (
            "user.argon".to_string(),
            toml::Value::String(ARGON2ID.into()),
        ),
        (
            "user.bcrypt".to_string(),
            toml::Value::String(BCRYPT.into()),
        ),
    ]
    .into_iter()
    .collect();
    registry
        .deploy(spec, &read("password_authenticator.wasm"))
        .unwrap();

    let caller = Caller {
        principal: "User:acme.alice".into(),
        address: "10.1.2.3".into(),
        client_id: Some("bench".into()),
        listener: "SASL_SSL".into(),
    };
    let tenants = registry.authorizer("tenants").unwrap();
    let action = |op: i8| Action {
        operation: op,
        resource_type: resource::TOPIC,
        name: "acme.orders".into(),
    };
    let one = [action(operation::WRITE)];
    let eight: Vec<Action> = [3, 4, 5, 6, 7, 8, 10, 11].into_iter().map(action).collect();
    assert_eq!(tenants.authorize(&caller, &one).unwrap(), [Decision::Allow]);
    for (name, actions) in [("1 action", &one[..]), ("8 actions", &eight[..])] {
        const CALLS: u32 = 100_000;
        let started = Instant::now();
        for _ in 0..CALLS {
            black_box(tenants.authorize(&caller, black_box(actions)).unwrap());
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
        println!("tenant authorizer plugin, {name} a call: {us:6.2} µs per call");
    }

    let passwords = registry.authenticator("passwords").unwrap();
    for user in ["argon", "bcrypt"] {
        let credentials = Credentials {
            mechanism: "PLAIN",
            authorization_id: String::new(),
            username: user.into(),
            secret: b"alice-secret".to_vec(),
        };
        let check = || passwords.authenticate(&caller, &credentials).unwrap();
        assert!(matches!(check(), Authentication::Accept { .. }), "{user}");
        let times: Vec<f64> = (0..10)
            .map(|_| {
                let started = Instant::now();
                black_box(check());
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "password authenticator plugin, {user:>6}: {:6.1} ms per check (median of 10)",
            sorted[5]
        );
    }
}
