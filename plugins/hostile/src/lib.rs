//! A test fixture, not a plugin to deploy: a partitioner that misbehaves
//! in the way its `behaviour` config value names, so the tests can prove
//! that the broker survives it (tests/e2e/test_plugin_sandbox.py).
//!
//! - `loop`: never returns; `memory`: allocates far past any cap;
//!   `trap`: panics (a trap); `out-of-range`: answers partition 1,000,000;
//!   `refuse`: answers an error.
//! - `files`, `env`, `sockets`: tries to reach the machine and reports what
//!   happened through the partition it picks: 1 if the attempt worked, 2 if
//!   it was blocked.

use weir_plugin::host;
use weir_plugin::partitioner::{Batch, Partitioner};

struct Hostile;

fn everyone(batch: &Batch, partition: u32) -> Vec<u32> {
    vec![partition; batch.len()]
}

impl Partitioner for Hostile {
    fn partition(batch: &Batch) -> Result<Vec<u32>, String> {
        let behaviour = host::config("behaviour").unwrap_or_default();
        match behaviour.as_str() {
            "loop" => loop {
                core::hint::black_box(batch.len());
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 64 << 20]);
                    core::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("a hostile plugin panics"),
            "out-of-range" => Ok(everyone(batch, 1_000_000)),
            "refuse" => Err("this plugin refuses every batch".into()),
            "files" => {
                let reached =
                    std::fs::read_dir("/").is_ok() || std::fs::read("/etc/passwd").is_ok();
                Ok(everyone(batch, if reached { 1 } else { 2 }))
            }
            "env" => {
                let reached = std::env::vars().next().is_some() || std::env::var("HOME").is_ok();
                Ok(everyone(batch, if reached { 1 } else { 2 }))
            }
            "sockets" => {
                let target = host::config("target").unwrap_or_else(|| "127.0.0.1:9092".into());
                let reached = std::net::TcpStream::connect(target.as_str()).is_ok();
                Ok(everyone(batch, if reached { 1 } else { 2 }))
            }
            other => Err(format!("unknown behaviour {other:?}")),
        }
    }
}

weir_plugin::export_partitioner!(Hostile);
