//! The broker's replication and topic metrics on `/metrics`, under the
//! names Kafka's JMX metrics get from the Prometheus JMX exporter:
//! under-replicated and offline partitions, ISR shrinks and expands, leader
//! elections, the active controller count, the followers' maximum lag, and
//! bytes and messages in and bytes out per topic.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::broker::Broker;
use crate::metadata::election::{LEADER_ELECTIONS, UNCLEAN_ELECTIONS};
use crate::replication::{ISR_EXPANDS, ISR_SHRINKS};

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

pub fn write_prometheus(broker: &Broker, out: &mut String) {
    let partitions = broker.replicas.all();
    let mut under_replicated = 0;
    let mut max_lag = 0;
    // topic → (bytes in, messages in, bytes out)
    let mut topics: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for p in &partitions {
        let leadership = p.leadership();
        if p.is_leader() && leadership.isr.len() < leadership.replicas.len() {
            under_replicated += 1;
        }
        if !p.is_leader() {
            max_lag = max_lag.max(p.counters.follower_lag.load(Ordering::Relaxed));
        }
        let t = topics.entry(p.tp.topic.clone()).or_default();
        t.0 += p.counters.bytes_in.load(Ordering::Relaxed);
        t.1 += p.counters.messages_in.load(Ordering::Relaxed);
        t.2 += p.counters.bytes_out.load(Ordering::Relaxed);
    }
    let active = broker.controller.log().is_active();
    let image = broker.image();
    let offline = if active {
        image
            .topics
            .values()
            .flat_map(|t| &t.partitions)
            .filter(|p| p.leader < 0 || !image.brokers.get(&p.leader).is_some_and(|b| b.is_live()))
            .count()
    } else {
        0
    };
    metric(
        out,
        "kafka_server_replicamanager_underreplicatedpartitions",
        "gauge",
        "Partitions led here whose ISR is smaller than their replica set.",
        under_replicated,
    );
    metric(
        out,
        "kafka_server_replicamanager_isrshrinks_total",
        "counter",
        "ISR shrinks this broker made as leader.",
        ISR_SHRINKS.load(Ordering::Relaxed),
    );
    metric(
        out,
        "kafka_server_replicamanager_isrexpands_total",
        "counter",
        "ISR expansions this broker made as leader.",
        ISR_EXPANDS.load(Ordering::Relaxed),
    );
    metric(
        out,
        "kafka_server_replicafetchermanager_maxlag",
        "gauge",
        "The largest lag (leader high watermark minus log end) of a partition this broker follows.",
        max_lag,
    );
    metric(
        out,
        "kafka_controller_kafkacontroller_activecontrollercount",
        "gauge",
        "1 on the active controller, else 0.",
        u8::from(active),
    );
    metric(
        out,
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "gauge",
        "Partitions without a live leader (reported by the active controller).",
        offline,
    );
    metric(
        out,
        "kafka_controller_controllerstats_leaderelections_total",
        "counter",
        "Leaders this node elected as active controller.",
        LEADER_ELECTIONS.load(Ordering::Relaxed),
    );
    metric(
        out,
        "kafka_controller_controllerstats_uncleanleaderelections_total",
        "counter",
        "Leaders elected from outside the ISR (unclean.leader.election.enable).",
        UNCLEAN_ELECTIONS.load(Ordering::Relaxed),
    );
    for (name, help, index) in [
        (
            "kafka_server_brokertopicmetrics_bytesin_total",
            "Bytes producers appended, by topic.",
            0,
        ),
        (
            "kafka_server_brokertopicmetrics_messagesin_total",
            "Records producers appended, by topic.",
            1,
        ),
        (
            "kafka_server_brokertopicmetrics_bytesout_total",
            "Bytes consumers fetched, by topic.",
            2,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (topic, counts) in &topics {
            let value = [counts.0, counts.1, counts.2][index];
            let _ = writeln!(out, "{name}{{topic=\"{topic}\"}} {value}");
        }
    }
}
