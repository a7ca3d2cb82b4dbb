//! Cluster metadata: a deterministic state machine (`image`) fed by an ordered,
//! persisted log of commands (`journal`), written only by the `controller`.
//! On one node the log is a local file; the controller quorum will replicate
//! the same commands over Raft.

pub mod command;
pub mod controller;
pub mod image;
pub mod journal;
pub mod quorum;
pub mod snapshot;

pub use command::{Command, ConfigScope};
pub use controller::{Controller, NewTopic};
pub use image::{MetadataImage, PartitionImage, TopicImage};
