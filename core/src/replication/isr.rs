//! A leader's ISR maintenance (Kafka's `maybeShrinkIsr` / `maybeExpandIsr`):
//! every `ISR_CHECK`, each partition led here proposes the ISR its
//! followers' progress calls for, and the proposals go to the active
//! controller in one AlterPartition. Until the controller's decision comes
//! back in the metadata, the partition counts the larger of the two ISRs
//! towards its high watermark. A change refused as not committed is
//! forgotten; one refused for a stale epoch (an earlier copy may have been
//! committed) waits for the metadata; one not answered is sent again.

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info};

use super::Replication;
use crate::log::now_ms;
use crate::metadata::IsrRequest;

const ISR_CHECK: Duration = Duration::from_millis(200);

/// ISR changes the controller accepted from this broker (`/metrics`).
pub static ISR_SHRINKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static ISR_EXPANDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) async fn run(replication: Arc<Replication>) {
    let mut tick = tokio::time::interval(ISR_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !replication.stopped() {
        tick.tick().await;
        let now = now_ms();
        let proposals: Vec<_> = replication
            .replicas
            .all()
            .into_iter()
            .filter_map(|p| {
                let change = p.propose_isr_change(now, replication.lag_ms)?;
                Some((p, change))
            })
            .collect();
        if proposals.is_empty() {
            continue;
        }
        let requests = proposals
            .iter()
            .map(|(p, change)| IsrRequest {
                topic_id: p.topic_id,
                partition: p.tp.partition,
                leader_epoch: change.leader_epoch,
                partition_epoch: change.partition_epoch,
                isr: change.isr.clone(),
            })
            .collect();
        match replication.controller.alter_partition(requests).await {
            Ok(answers) => {
                for ((partition, change), answer) in proposals.iter().zip(answers) {
                    match answer {
                        Ok(()) => {
                            let counter = if change.shrinks {
                                &ISR_SHRINKS
                            } else {
                                &ISR_EXPANDS
                            };
                            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            info!(partition = %partition.tp, isr = ?change.isr, "ISR changed")
                        }
                        Err(error) => {
                            debug!(partition = %partition.tp, ?error, "the controller refused an ISR change");
                            partition.isr_change_refused(error);
                        }
                    }
                }
            }
            Err(e) => {
                debug!(error = %e, "AlterPartition did not reach the controller");
                proposals
                    .iter()
                    .for_each(|(p, _)| p.isr_change_unanswered());
            }
        }
    }
}
