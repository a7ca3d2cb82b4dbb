//! What passes between the nodes of a cluster. Today: the controller
//! quorum's Raft messages (`transport`).

pub mod transport;
