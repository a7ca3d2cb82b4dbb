//! What passes between the nodes of a cluster: the controller quorum's Raft
//! messages (`transport`), and brokers' requests to the active controller
//! (`channel`): forwarded admin requests, registration, producer ids.

pub mod channel;
pub mod transport;
