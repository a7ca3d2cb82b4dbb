//! A test fixture, not a plugin to deploy: a fetch interceptor that
//! misbehaves in the way its `behaviour` config value names, so the tests
//! can prove that a consumer gets a clear error and the broker keeps
//! serving (tests/e2e/test_plugin_sandbox.py).
//!
//! - `loop`: never returns; `trap`: panics;
//! - `oversized`: answers each record with a 1 MiB value (past a small
//!   `max-output-bytes`).

use weir_plugin::fetch::{Batch, FetchInterceptor, Rewrite, Verdict};
use weir_plugin::host;

struct Hostile;

impl FetchInterceptor for Hostile {
    fn intercept(_client_id: Option<&str>, batch: &Batch) -> Verdict {
        let behaviour = host::config("behaviour").unwrap_or_default();
        match behaviour.as_str() {
            "loop" => loop {
                core::hint::black_box(batch.len());
            },
            "oversized" => {
                let big = vec![b'x'; 1 << 20];
                let mut out = Rewrite::new();
                for (i, record) in batch.records().enumerate() {
                    out.push(i, &record, record.key(), Some(&big), Vec::new());
                }
                Verdict::Rewrite(out)
            }
            _ => panic!("a hostile fetch interceptor panics"),
        }
    }
}

weir_plugin::export_fetch_interceptor!(Hostile);
