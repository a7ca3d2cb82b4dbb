//! The controller quorum (KRaft's model over TiKV's raft-rs): the members
//! elect a leader, which is the active controller, and replicate the
//! metadata log; an entry is applied only once a majority holds it.
//!
//! - `log`: the Raft log on disk (raft-rs's `Storage`).
//! - `node`: one member, driven by ticks and messages, giving back what to
//!   send and what was committed.
//! - `driver`: the task that runs a member in a process, over the TCP
//!   transport of `cluster::transport`; proposals answer once applied.
//! - `observer`: brokers that are not voters follow what the voters have
//!   committed, fetched from their controller listeners.
//! - `sim` (tests): members under a simulated network and clock with
//!   loss, delay, reordering, duplication, partitions and restarts, over
//!   many seeds, checking that committed entries never diverge or go back
//!   and that a healed quorum makes progress.

pub mod driver;
pub mod log;
pub mod node;
pub mod observer;
#[cfg(test)]
pub(crate) mod sim;

pub use driver::{Member, QuorumConfig, QuorumError, QuorumHandle, StateMachine, Status};
pub use log::{Disk, RaftLog};
pub use node::{Output, ProposeError, QuorumNode, Timing};
pub use observer::{LeaderAddress, ObserverHandle};
