//! A test fixture, not a plugin to deploy: a produce interceptor that
//! misbehaves in the way its `behaviour` config value names, so the tests
//! can prove that the broker survives it and applies the topic's on-error
//! policy (tests/e2e/test_plugin_sandbox.py).
//!
//! - `loop`: never returns; `trap`: panics;
//! - `oversized`: answers each record with a 1 MiB value (past a small
//!   `max-output-bytes`);
//! - `unordered`: answers a rewrite whose records name their sources out of
//!   order (an invalid answer).

use weir_plugin::host;
use weir_plugin::interceptor::{Batch, ProduceInterceptor, Rewrite, Verdict};

struct Hostile;

impl ProduceInterceptor for Hostile {
    fn intercept(batch: &Batch) -> Verdict {
        let behaviour = host::config("behaviour").unwrap_or_default();
        match behaviour.as_str() {
            "loop" => loop {
                core::hint::black_box(batch.len());
            },
            "trap" => panic!("a hostile interceptor panics"),
            "oversized" => {
                let big = vec![b'x'; 1 << 20];
                let mut out = Rewrite::new();
                for (i, record) in batch.records().enumerate() {
                    out.push(i, &record, record.key(), Some(&big), Vec::new());
                }
                Verdict::Rewrite(out)
            }
            "unordered" => {
                let mut out = Rewrite::new();
                let records: Vec<_> = batch.records().enumerate().collect();
                for (i, record) in records.iter().rev() {
                    out.keep(*i, record);
                }
                out.keep(0, &records[0].1);
                Verdict::Rewrite(out)
            }
            other => Verdict::Reject(format!("unknown behaviour {other:?}")),
        }
    }
}

weir_plugin::export_produce_interceptor!(Hostile);
