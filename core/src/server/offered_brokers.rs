//! Which brokers Metadata offers clients: the live ones, and for a few
//! seconds also those that just stopped being live (fenced or shutting
//! down).
//!
//! Why the grace: a broker's fencing and the move of its leaderships are
//! one metadata change, so a client's next Metadata shows both at once.
//! librdkafka, seeing a broker vanish from the list, decommissions it and
//! sends its partitions through its internal broker, which re-queries the
//! leader only after its metadata backoff (a second by default), even
//! though the same answer named the new leader. Listing the departed
//! broker a little longer lets the partitions move first; the broker
//! leaves the list once nothing points at it. Kafka drops a fenced broker
//! at once, and librdkafka users pay that second on every failover.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::metadata::image::{BrokerImage, MetadataImage};

/// How long a departed broker stays listed: several of the clients'
/// metadata refresh backoffs (at most 1 s in librdkafka and Java).
const GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct OfferedBrokers {
    /// When each broker stopped being live, as this node saw it.
    departed: Mutex<HashMap<i32, Instant>>,
}

impl OfferedBrokers {
    /// Notes the brokers that stopped (or started again) being live
    /// between two images.
    pub fn follow(&self, before: &MetadataImage, after: &MetadataImage) {
        let now = Instant::now();
        let mut departed = self.departed.lock().expect("offered brokers lock");
        departed.retain(|id, _| after.brokers.get(id).is_some_and(|b| !b.is_live()));
        for b in after.brokers.values().filter(|b| !b.is_live()) {
            if before.brokers.get(&b.id).is_some_and(|was| was.is_live()) {
                departed.insert(b.id, now);
            }
        }
    }

    /// Whether Metadata lists `broker` now.
    pub fn offered(&self, broker: &BrokerImage) -> bool {
        broker.is_live()
            || self
                .departed
                .lock()
                .expect("offered brokers lock")
                .get(&broker.id)
                .is_some_and(|since| since.elapsed() < GRACE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::command::BrokerState;

    fn image(states: &[(i32, BrokerState)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for (id, state) in states {
            let broker = BrokerImage {
                id: *id,
                host: "127.0.0.1".into(),
                port: 9092,
                rack: None,
                state: *state,
                listeners: Vec::new(),
            };
            image.brokers.insert(*id, broker);
        }
        image
    }

    #[test]
    fn a_broker_that_just_left_stays_listed_and_one_never_live_does_not() {
        let offered = OfferedBrokers::default();
        let before = image(&[(1, BrokerState::Running), (2, BrokerState::Fenced)]);
        let after = image(&[(1, BrokerState::Fenced), (2, BrokerState::Fenced)]);
        offered.follow(&before, &after);
        assert!(offered.offered(&after.brokers[&1]));
        assert!(!offered.offered(&after.brokers[&2]));
        offered
            .departed
            .lock()
            .unwrap()
            .insert(1, Instant::now() - GRACE);
        assert!(!offered.offered(&after.brokers[&1]));
    }

    #[test]
    fn a_broker_live_again_is_forgotten() {
        let offered = OfferedBrokers::default();
        let live = image(&[(1, BrokerState::Running)]);
        let fenced = image(&[(1, BrokerState::Fenced)]);
        offered.follow(&live, &fenced);
        offered.follow(&fenced, &live);
        assert!(offered.departed.lock().unwrap().is_empty());
    }
}
