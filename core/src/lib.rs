//! Weir: a streaming broker that speaks the Apache Kafka wire protocol.
//!
//! Layers, top to bottom: `server` (sockets, framing, API handlers) →
//! `partition` (replicas: leader epoch, high watermark) and `metadata`
//! (the controller and its command log) → `log` (segments and indexes on
//! disk). `group` is the group coordinator (membership and committed
//! offsets, stored in `__consumer_offsets`). `config` holds every setting under Kafka's names; `protocol` is the
//! glue over the `kafka-protocol` crate.

pub mod config;
pub mod group;
pub mod log;
pub mod metadata;
pub mod partition;
pub mod plugin;
pub mod producer;
pub mod protocol;
pub mod server;
