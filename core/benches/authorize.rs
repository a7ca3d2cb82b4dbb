//! The cost of one authorization check with 10,000 ACLs: a literal ALLOW
//! found, a prefixed ALLOW found, a DENY that wins, and a principal no ACL
//! names (denied after looking everywhere), as a produce or fetch of one
//! topic asks it.
//!   cargo bench -p weir --bench authorize

use std::hint::black_box;
use std::time::Instant;

use weir::security::acl::authorizer::Authorizer;
use weir::security::acl::{operation, pattern, permission, resource, AclBinding};

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
}
