//! Kafka's ACL operations (`AclOperation` codes) and the authorized-operations
//! bit sets that Metadata, DescribeCluster and DescribeGroups report. Until
//! ACLs exist every client is treated as a superuser, so these are what Kafka
//! reports for a superuser: each resource type's applicable operations.

/// Bit of one operation code in an authorized-operations field.
const fn bit(code: u8) -> i32 {
    1 << code
}

pub const READ: i32 = bit(3);
pub const WRITE: i32 = bit(4);
pub const CREATE: i32 = bit(5);
pub const DELETE: i32 = bit(6);
pub const ALTER: i32 = bit(7);
pub const DESCRIBE: i32 = bit(8);
pub const CLUSTER_ACTION: i32 = bit(9);
pub const DESCRIBE_CONFIGS: i32 = bit(10);
pub const ALTER_CONFIGS: i32 = bit(11);
pub const IDEMPOTENT_WRITE: i32 = bit(12);

/// A topic's operations (Kafka: 0xDF8).
pub const TOPIC: i32 =
    READ | WRITE | CREATE | DELETE | ALTER | DESCRIBE | DESCRIBE_CONFIGS | ALTER_CONFIGS;
/// The cluster's operations (Kafka: 0x1FA0).
pub const CLUSTER: i32 = CREATE
    | ALTER
    | DESCRIBE
    | CLUSTER_ACTION
    | DESCRIBE_CONFIGS
    | ALTER_CONFIGS
    | IDEMPOTENT_WRITE;
/// A group's operations (Kafka 4: READ, DELETE, DESCRIBE and the configs pair).
pub const GROUP: i32 = READ | DELETE | DESCRIBE | DESCRIBE_CONFIGS | ALTER_CONFIGS;

#[cfg(test)]
mod tests {
    #[test]
    fn match_what_kafka_reports_for_a_superuser() {
        assert_eq!(super::TOPIC, 0xDF8);
        assert_eq!(super::CLUSTER, 0x1FA0);
    }
}
