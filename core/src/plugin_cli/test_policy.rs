//! `weir plugin test` for the policy kinds: a retention policy is asked
//! about five sample segments, a compaction policy about a batch of
//! records with what the cleaner would know of each key, twice (as at
//! their first clean, with no delete horizon yet, so tombstones stay; and
//! at a later one, past the horizon) — and the native rule's answer is
//! printed beside the plugin's.

use anyhow::Context;

use weir::log::cleaner::policy::{Candidate, CompactionInput, CompactionPolicy, KafkaCompaction};
use weir::log::now_ms;
use weir::log::records::PackedRecords;
use weir::log::retention::{KafkaRetention, RetentionInput, RetentionPolicy, SegmentInfo};
use weir::plugin::PluginRegistry;

const HOUR: i64 = 3_600_000;

/// Five closed 1 MiB segments whose newest records are 5 to 1 hours old; a
/// group committed half way; retention.ms three hours.
pub fn retention(registry: &PluginRegistry, name: &str) -> anyhow::Result<()> {
    let plugin = registry.retention_policy(name).context("loaded")?;
    let now = now_ms();
    let segments: Vec<SegmentInfo> = (0..5)
        .map(|i| SegmentInfo {
            base_offset: i * 1000,
            last_offset: i * 1000 + 999,
            size: 1 << 20,
            max_timestamp: now - (5 - i) * HOUR,
        })
        .collect();
    let input = RetentionInput {
        topic: "test-topic",
        partition: 0,
        log_start_offset: 0,
        log_end_offset: 5500,
        high_watermark: 5500,
        size: 5 << 20 | 1 << 19,
        segments: &segments,
        committed: Some(2500),
        now_ms: now,
        retention_ms: 3 * HOUR,
        retention_bytes: -1,
    };
    for s in &segments {
        println!(
            "segment {}..{}  {} bytes  newest record {} h old",
            s.base_offset,
            s.last_offset,
            s.size,
            (now - s.max_timestamp) / HOUR
        );
    }
    println!("groups committed up to 2500; retention.ms 3 h");
    let native = KafkaRetention.deletable(&input).unwrap_or(0);
    match plugin.deletable(&input) {
        Ok(n) => println!("deletable: the {n} oldest of 5 (Kafka's rule: {native})"),
        Err(e) => println!("the plugin failed: {e}; Kafka's rule would delete {native}"),
    }
    Ok(())
}

/// The samples as one batch at offsets 0.., each with its key's latest
/// record among them.
pub fn compaction(
    registry: &PluginRegistry,
    name: &str,
    packed: &PackedRecords,
    describe: impl Fn(usize) -> serde_json::Value,
) -> anyhow::Result<()> {
    let plugin = registry.compaction_policy(name).context("loaded")?;
    let key = |i: usize| {
        let r = &packed.records[i];
        (r.key_len >= 0).then(|| &packed.data[r.key_offset as usize..][..r.key_len as usize])
    };
    let count = packed.records.len();
    let candidates: Vec<Candidate> = (0..count)
        .map(|i| {
            let same: Vec<usize> = (0..count)
                .filter(|j| key(i).is_some() && key(*j) == key(i))
                .collect();
            let latest = same.last().copied();
            Candidate {
                offset: i as i64,
                latest_offset: latest.map_or(-1, |l| l as i64),
                latest_timestamp: latest.map_or(-1, |l| packed.records[l].timestamp),
                newer: same.iter().filter(|j| **j > i).count() as u32,
            }
        })
        .collect();
    let input = CompactionInput {
        topic: "test-topic",
        partition: 0,
        now_ms: now_ms(),
        delete_retention_ms: 24 * HOUR,
        // As at the first clean of these records: tombstones stay.
        delete_horizon: None,
        records: packed,
        candidates: &candidates,
    };
    // The plugin's answers and Kafka's rule's, after a summary line.
    let ask = |input: &CompactionInput, when: &str| -> anyhow::Result<(Vec<bool>, Vec<bool>)> {
        let native = KafkaCompaction
            .keep(input)
            .expect("the native rule answers");
        let keep = plugin
            .keep(input)
            .map_err(|e| anyhow::anyhow!("{when}the plugin failed: {e}"))?;
        let kept = |answers: &[bool]| answers.iter().filter(|k| **k).count();
        println!(
            "{when}keeps {} of {count} records (Kafka's rule: {})",
            kept(&keep),
            kept(&native)
        );
        Ok((keep, native))
    };
    let (keep, native) = ask(&input, "")?;
    for (i, (keep, native)) in keep.iter().zip(&native).enumerate() {
        let c = &candidates[i];
        println!(
            "record {i} → {}{}   latest of its key at {}, {} newer   {}",
            if *keep { "keep" } else { "drop" },
            if keep == native {
                ""
            } else {
                " (Kafka: other)"
            },
            c.latest_offset,
            c.newer,
            describe(i)
        );
    }
    // A later clean of the same batch, its delete horizon passed.
    let later = CompactionInput {
        delete_horizon: Some(input.now_ms - HOUR),
        ..input
    };
    let (keep_later, _) = ask(&later, "past the delete horizon: ")?;
    for (i, (now, before)) in keep_later.iter().zip(&keep).enumerate() {
        if now != before {
            let verdict = if *now { "keep" } else { "drop" };
            println!("record {i} → {verdict} (the other at the first clean)");
        }
    }
    Ok(())
}
