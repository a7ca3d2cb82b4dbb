//! Broker liveness, as KRaft keeps it. Every broker sends BrokerHeartbeat
//! to the active controller each `broker.heartbeat.interval.ms`; the active
//! controller fences a broker it has not heard from for
//! `broker.session.timeout.ms` (Metadata stops listing it, no new replicas
//! go to it) and makes it live again at its next heartbeat. A broker told to
//! stop (SIGTERM) heartbeats `want_shut_down` first: the controller records
//! it as shutting down before it goes. Each of these state changes moves
//! the broker's leaderships to other in-sync replicas and takes it out of
//! ISRs, or gives it back the partitions left without a leader
//! (`metadata::election`), in the same commit. The last-heard times live
//! only in the active controller's memory: a new one starts every broker's
//! clock afresh.
//!
//! A crashed broker's process is gone at once, and so is the connection
//! it heartbeated on: the kernel closes it. A broker whose heartbeat
//! connection closed and that has not heartbeated again within two
//! heartbeat intervals is fenced then, without waiting out its session
//! (Kafka waits; failover after a crash is bounded by this instead). A
//! broker that is hung or cut off keeps its connection open and is fenced
//! at the session timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{BrokerHeartbeatRequest, BrokerHeartbeatResponse, BrokerId};
use tracing::{info, warn};

use super::broker::Broker;
use crate::metadata::BrokerState;
use crate::protocol::error::{ApiError, ResponseError};

/// How often the active controller looks for silent brokers.
const FENCE_CHECK: Duration = Duration::from_millis(100);

/// What the active controller has heard from each broker.
#[derive(Default)]
pub struct Liveness {
    heard: Mutex<HashMap<i32, Heard>>,
    /// The metadata offset each broker must have applied to be caught up:
    /// the active controller's at the broker's registration (or, for a
    /// controller that took over since, at its first heartbeat), as Kafka's
    /// `BrokerHeartbeatResponse.isCaughtUp` is.
    catch_up_to: Mutex<HashMap<i32, u64>>,
    /// Whether this node was the active controller at the last check.
    was_active: Mutex<bool>,
    /// The other node last seen as the active controller.
    previous_controller: Mutex<Option<i32>>,
}

#[derive(Clone, Copy)]
struct Heard {
    /// The last heartbeat.
    at: Instant,
    /// When the connection that heartbeat came on closed, if it has.
    connection_closed: Option<Instant>,
}

impl Heard {
    fn new(at: Instant) -> Heard {
        Heard {
            at,
            connection_closed: None,
        }
    }

    /// Heard from at `at`, on a connection that closed then.
    fn closed(at: Instant) -> Heard {
        Heard {
            at,
            connection_closed: Some(at),
        }
    }

    /// Why the broker counts as gone, if it does.
    fn silence(
        &self,
        now: Instant,
        session: Duration,
        after_close: Duration,
    ) -> Option<&'static str> {
        if now.duration_since(self.at) > session {
            return Some("no heartbeat within broker.session.timeout.ms");
        }
        self.connection_closed
            .filter(|closed| now.duration_since(*closed) > after_close)
            .map(|_| "its heartbeat connection closed and it has not heartbeated since")
    }
}

impl Liveness {
    /// Broker `id` registered when the metadata was at `offset`: as good
    /// as a heartbeat.
    pub fn registered(&self, id: i32, offset: u64) {
        self.catch_up_to
            .lock()
            .expect("liveness lock")
            .insert(id, offset);
        self.heard
            .lock()
            .expect("liveness lock")
            .insert(id, Heard::new(Instant::now()));
    }

    fn caught_up(&self, id: i32, applied: u64, now_at: u64) -> bool {
        let mut targets = self.catch_up_to.lock().expect("liveness lock");
        applied >= *targets.entry(id).or_insert(now_at)
    }

    /// The connection broker `id` heartbeated on has closed.
    pub fn connection_closed(&self, id: i32) {
        let mut heard = self.heard.lock().expect("liveness lock");
        if let Some(h) = heard.get_mut(&id) {
            h.connection_closed = Some(Instant::now());
        }
    }
}

impl Broker {
    /// BrokerHeartbeat, on the active controller (from a peer or this node).
    pub async fn handle_broker_heartbeat(
        &self,
        request: BrokerHeartbeatRequest,
    ) -> BrokerHeartbeatResponse {
        match self.heartbeat_from(&request).await {
            Ok(response) => response,
            Err(e) => BrokerHeartbeatResponse::default().with_error_code(e.code()),
        }
    }

    async fn heartbeat_from(
        &self,
        request: &BrokerHeartbeatRequest,
    ) -> Result<BrokerHeartbeatResponse, ApiError> {
        if !self.controller.log().is_active() {
            return Err(ApiError::new(
                ResponseError::NotController,
                "not the active controller",
            ));
        }
        let id = request.broker_id.0;
        self.liveness
            .heard
            .lock()
            .expect("liveness lock")
            .insert(id, Heard::new(Instant::now()));
        let state = self
            .image()
            .brokers
            .get(&id)
            .map(|b| b.state)
            .ok_or_else(|| ApiError::new(ResponseError::BrokerIdNotRegistered, "register first"))?;
        let wanted = if request.want_shut_down {
            BrokerState::ShuttingDown
        } else if state == BrokerState::Fenced && !request.want_fence {
            BrokerState::Running
        } else {
            state
        };
        if wanted != state {
            info!(
                broker = id,
                from = state.name(),
                to = wanted.name(),
                "broker state changes"
            );
            self.controller
                .change_broker_state(&self.config, id, wanted, Vec::new())
                .await?;
        }
        let applied = u64::try_from(request.current_metadata_offset).unwrap_or(0);
        let caught_up = self.liveness.caught_up(id, applied, self.image().applied);
        Ok(BrokerHeartbeatResponse::default()
            .with_is_caught_up(caught_up)
            .with_is_fenced(wanted == BrokerState::Fenced)
            .with_should_shut_down(wanted == BrokerState::ShuttingDown))
    }

    /// Sends one heartbeat to the active controller (itself, if it is).
    async fn heartbeat(&self, want_shut_down: bool) -> Result<BrokerHeartbeatResponse, ApiError> {
        let request = BrokerHeartbeatRequest::default()
            .with_broker_id(BrokerId(self.node_id()))
            .with_current_metadata_offset(self.image().applied as i64)
            .with_want_shut_down(want_shut_down);
        if self.controller.log().is_active() {
            return self.heartbeat_from(&request).await;
        }
        let response: BrokerHeartbeatResponse = self
            .call_controller(0, &request, ResponseError::NotController)
            .await?;
        match response.error_code {
            0 => Ok(response),
            code => Err(ApiError::new(
                ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError),
                "the controller refused the heartbeat",
            )),
        }
    }

    /// Heartbeats while the broker runs, once it is registered; on the
    /// active controller, records the cluster id and fences silent brokers.
    pub(super) fn spawn_heartbeats(self: &Arc<Self>) {
        let broker = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FENCE_CHECK);
            loop {
                tick.tick().await;
                broker.init_cluster().await;
                broker.fence_silent_brokers().await;
            }
        });
        if !self.is_broker() {
            return;
        }
        let every = self.config.number("broker.heartbeat.interval.ms").max(10) as u64;
        // A heartbeat to a controller that hangs (stopped, cut off) is given
        // up well within a session, so the next goes to the one that
        // replaced it before that one fences this broker.
        let patience =
            Duration::from_millis(self.config.number("broker.session.timeout.ms") as u64 / 2);
        let broker = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if !broker.image().brokers.contains_key(&broker.node_id()) {
                    continue;
                }
                match tokio::time::timeout(patience, broker.heartbeat(false)).await {
                    Ok(Ok(r)) if r.is_caught_up => broker.caught_up(),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e.message().unwrap_or_default(), "heartbeat not delivered")
                    }
                    Err(_) => tracing::debug!("the controller did not answer a heartbeat in time"),
                }
            }
        });
    }

    /// On the active controller: fences every live broker not heard from
    /// within the session timeout.
    async fn fence_silent_brokers(&self) {
        let active = self.controller.log().is_active();
        let newly_active = {
            let mut was = self.liveness.was_active.lock().expect("liveness lock");
            std::mem::replace(&mut *was, active) != active && active
        };
        let previous = {
            let mut previous = self
                .liveness
                .previous_controller
                .lock()
                .expect("liveness lock");
            if !active {
                let other = self
                    .controller
                    .active_controller()
                    .filter(|id| *id != self.node_id());
                *previous = other.or(*previous);
                return;
            }
            previous.take()
        };
        let now = Instant::now();
        let session = Duration::from_millis(self.config.number("broker.session.timeout.ms") as u64);
        let after_close =
            Duration::from_millis(2 * self.config.number("broker.heartbeat.interval.ms") as u64);
        let image = self.image();
        let silent: Vec<(i32, &str)> = {
            let mut heard = self.liveness.heard.lock().expect("liveness lock");
            if newly_active {
                // A new controller gives every broker a full session, but
                // the one it takes over from, which the quorum lost, only as
                // long as a broker whose connection closed: if it is alive
                // it heartbeats here within that.
                heard.clear();
                if let Some(id) = previous {
                    heard.insert(id, Heard::closed(now));
                }
            }
            image
                .brokers
                .values()
                .filter(|b| b.is_live() && b.id != self.node_id())
                .filter_map(|b| {
                    let h = heard.entry(b.id).or_insert(Heard::new(now));
                    Some((b.id, h.silence(now, session, after_close)?))
                })
                .collect()
        };
        for (id, why) in silent {
            warn!(broker = id, why, "fencing the broker");
            let fenced = self
                .controller
                .change_broker_state(&self.config, id, BrokerState::Fenced, Vec::new())
                .await;
            if let Err(e) = fenced {
                warn!(broker = id, error = %e.message().unwrap_or_default(), "could not fence the broker");
            }
        }
    }

    /// Before stopping: tells the active controller, and waits (bounded)
    /// until it has recorded the shutdown.
    pub async fn controlled_shutdown(&self) {
        if !self.in_cluster() || !self.is_broker() {
            return;
        }
        // The last live broker has nobody to hand its leaderships to, and
        // with the others gone the quorum may be too: nothing to wait for.
        let others_live = self
            .image()
            .brokers
            .values()
            .any(|b| b.is_live() && b.id != self.node_id());
        if !others_live {
            info!("no other live broker to hand leaderships to; stopping");
            return;
        }
        let limit = self.config.number("weir.controlled.shutdown.timeout.ms") as u64;
        let deadline = Instant::now() + Duration::from_millis(limit);
        loop {
            match self.heartbeat(true).await {
                Ok(r) if r.should_shut_down => {
                    info!("the controller recorded this broker's controlled shutdown");
                    return;
                }
                Ok(_) | Err(_) if Instant::now() >= deadline => {
                    warn!("controlled shutdown not acknowledged in time; stopping anyway");
                    return;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}
