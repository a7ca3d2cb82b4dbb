//! Producer ids for InitProducerId. Ids come from the active controller in
//! blocks (a metadata command, so they are unique across restarts and
//! across brokers), and are handed out from the block without a round trip.

use std::future::Future;
use std::ops::Range;

use tokio::sync::Mutex;

use crate::protocol::error::ApiError;

/// Ids reserved per metadata command (Kafka's block size).
pub const BLOCK: i64 = 1000;

#[derive(Debug, Default)]
pub struct ProducerIdManager {
    block: Mutex<Range<i64>>,
}

impl ProducerIdManager {
    /// The next id; when the block is spent, `allocate` reserves `BLOCK`
    /// more and returns the first.
    pub async fn next_id<F, Fut>(&self, allocate: F) -> Result<i64, ApiError>
    where
        F: FnOnce(i64) -> Fut,
        Fut: Future<Output = Result<i64, ApiError>>,
    {
        let mut block = self.block.lock().await;
        if block.is_empty() {
            let first = allocate(BLOCK).await?;
            *block = first..first + BLOCK;
        }
        let id = block.start;
        block.start += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::command::Endpoint;
    use crate::metadata::Controller;

    fn open(dir: &std::path::Path) -> Controller {
        Controller::open(dir, 1, &[Endpoint::plaintext("127.0.0.1", 9092)]).unwrap()
    }

    #[tokio::test]
    async fn ids_are_unique_across_blocks_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let controller = open(dir.path());
        let ids = ProducerIdManager::default();
        let mut first = Vec::new();
        for _ in 0..1500 {
            first.push(
                ids.next_id(|n| controller.allocate_producer_ids(n))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(first, (0..1500).collect::<Vec<_>>());
        drop(controller);
        let controller = open(dir.path());
        let after_restart = ProducerIdManager::default()
            .next_id(|n| controller.allocate_producer_ids(n))
            .await
            .unwrap();
        assert_eq!(
            after_restart, 2000,
            "a restarted broker never reuses a reserved id"
        );
    }
}
