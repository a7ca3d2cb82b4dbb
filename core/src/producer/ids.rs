//! Producer ids for InitProducerId. Ids come from the controller in blocks
//! (a metadata command, so they are unique across restarts and, later,
//! across brokers), and are handed out from the block without a round trip.

use std::ops::Range;
use std::sync::Mutex;

use crate::metadata::Controller;
use crate::protocol::error::ApiError;

/// Ids reserved per metadata command (Kafka's block size).
const BLOCK: i64 = 1000;

#[derive(Debug, Default)]
pub struct ProducerIdManager {
    block: Mutex<Range<i64>>,
}

impl ProducerIdManager {
    pub fn next_id(&self, controller: &Controller) -> Result<i64, ApiError> {
        let mut block = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if block.is_empty() {
            let first = controller.allocate_producer_ids(BLOCK)?;
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

    #[test]
    fn ids_are_unique_across_blocks_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let controller = Controller::open(dir.path(), 1, "127.0.0.1", 9092).unwrap();
        let ids = ProducerIdManager::default();
        let first: Vec<i64> = (0..1500)
            .map(|_| ids.next_id(&controller).unwrap())
            .collect();
        assert_eq!(first, (0..1500).collect::<Vec<_>>());
        drop(controller);
        let controller = Controller::open(dir.path(), 1, "127.0.0.1", 9092).unwrap();
        let after_restart = ProducerIdManager::default().next_id(&controller).unwrap();
        assert_eq!(
            after_restart, 2000,
            "a restarted broker never reuses a reserved id"
        );
    }
}
