//! Kafka's connection quotas: `max.connections` for the whole broker (the
//! acceptor waits for a free slot, as Kafka's does, so the kernel's backlog
//! holds the rest), and `max.connections.per.ip` with
//! `max.connections.per.ip.overrides` (a connection over its IP's limit is
//! closed at once). A slot is held by a guard and returned when it drops.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::config::BrokerConfig;

pub struct ConnectionQuotas {
    max: usize,
    per_ip: usize,
    overrides: HashMap<IpAddr, usize>,
    counts: Mutex<Counts>,
    freed: Notify,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One accepted connection's place in the quotas.
pub struct Slot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
}

impl ConnectionQuotas {
    pub fn new(config: &BrokerConfig) -> Arc<ConnectionQuotas> {
        let overrides = config
            .max_connections_per_ip_overrides()
            .into_iter()
            .filter_map(|(host, count)| Some((host.parse().ok()?, count)))
            .collect();
        Arc::new(ConnectionQuotas {
            max: config.max_connections(),
            per_ip: config.max_connections_per_ip(),
            overrides,
            counts: Mutex::new(Counts::default()),
            freed: Notify::new(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts().total
    }

    /// Waits until the broker is below `max.connections`.
    pub async fn wait_for_slot(&self) {
        loop {
            let freed = self.freed.notified();
            if self.counts().total < self.max {
                return;
            }
            freed.await;
        }
    }

    /// Takes a slot for a connection from `ip`, or says which limit it is over.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, String> {
        let limit = self.overrides.get(&ip).copied().unwrap_or(self.per_ip);
        let mut counts = self.counts();
        if counts.total >= self.max {
            return Err(format!("max.connections ({}) reached", self.max));
        }
        let of_ip = counts.per_ip.entry(ip).or_default();
        if *of_ip >= limit {
            return Err(format!("max.connections.per.ip ({limit}) reached for {ip}"));
        }
        *of_ip += 1;
        counts.total += 1;
        Ok(Slot {
            quotas: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.quotas.counts();
        counts.total -= 1;
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
        drop(counts);
        self.quotas.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(settings: &[(&str, &str)]) -> Arc<ConnectionQuotas> {
        let mut config = BrokerConfig::default();
        for (k, v) in settings {
            config.set(k, v).unwrap();
        }
        ConnectionQuotas::new(&config)
    }

    #[test]
    fn per_ip_limits_and_overrides() {
        let q = quotas(&[
            ("max.connections.per.ip", "2"),
            (
                "max.connections.per.ip.overrides",
                "127.0.0.2:0,127.0.0.3:5",
            ),
        ]);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let s1 = q.acquire(a).unwrap();
        let _s2 = q.acquire(a).unwrap();
        assert!(q
            .acquire(a)
            .err()
            .unwrap()
            .contains("max.connections.per.ip (2)"));
        drop(s1);
        let _s3 = q.acquire(a).unwrap();
        assert!(q.acquire("127.0.0.2".parse().unwrap()).is_err());
        let three: Vec<_> = (0..5)
            .map(|_| q.acquire("127.0.0.3".parse().unwrap()))
            .collect();
        assert!(three.iter().all(|s| s.is_ok()));
        assert_eq!(q.open(), 7);
    }

    #[tokio::test]
    async fn the_acceptor_waits_for_a_slot_under_max_connections() {
        let q = quotas(&[("max.connections", "1")]);
        let slot = q.acquire("127.0.0.1".parse().unwrap()).unwrap();
        let waiter = {
            let q = q.clone();
            tokio::spawn(async move { q.wait_for_slot().await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(slot);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
