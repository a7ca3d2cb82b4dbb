//! Cluster metadata: a deterministic state machine (`image`) fed by an ordered,
//! persisted log of commands, written only by the `controller`. On one node
//! the log is a local file (`journal`); in a cluster it is the controller
//! quorum's Raft log (`quorum`). `log` hides which.

pub mod command;
pub mod controller;
pub mod delta;
pub mod election;
pub mod image;
pub mod journal;
pub mod log;
pub mod placement;
pub mod quorum;
pub mod snapshot;

pub use command::{BrokerState, Command, ConfigScope};
pub use controller::{check_isr_request, Controller, IsrRequest, NewTopic};
pub use delta::MetadataDelta;
pub use image::{MetadataImage, PartitionImage, TopicImage};
