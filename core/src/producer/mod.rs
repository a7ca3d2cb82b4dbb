//! Idempotent producers: producer ids handed out by InitProducerId, and the
//! per-partition state that makes a producer's retries safe (Kafka's
//! ProducerStateManager). Transactions will live here too.

pub mod ids;
pub mod snapshot;
pub mod state;

pub use ids::ProducerIdManager;
pub use state::{BatchCheck, ProducerStateManager};
