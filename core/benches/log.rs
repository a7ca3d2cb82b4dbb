//! The storage hot paths without the network: validating and appending
//! produced batches (CRC32C, offset assignment, one write) and reading them
//! back by offset. Prints numbers; run with `cargo bench -p weir --bench log`.

use std::time::Instant;

use kafka_protocol::records::Compression;
use weir::log::{LogConfig, PartitionLog};

/// One producer batch: `count` records of `size` bytes.
fn batch(count: usize, size: usize) -> Vec<u8> {
    let records = (0..count).map(|i| {
        (
            Some(format!("key-{i}").into()),
            Some(vec![b'v'; size].into()),
        )
    });
    weir::log::batch::encode(records, 1_700_000_000_000, Compression::None)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        timestamp_after_max_ms: i64::MAX,
        ..LogConfig::default()
    };
    let mut log =
        PartitionLog::open(&dir.path().join("bench-0"), config, 0, 0, true).expect("open");
    for (records_per_batch, size) in [(1, 1024), (16, 1024), (64, 1024), (512, 100)] {
        let bytes = batch(records_per_batch, size);
        let total_bytes: usize = std::env::var("WEIR_BENCH_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256usize)
            << 20;
        let batches = total_bytes / bytes.len();
        let start_offset = log.log_end_offset();
        let start = Instant::now();
        for _ in 0..batches {
            log.append(&bytes, 0).expect("append");
        }
        let append = start.elapsed();
        let start = Instant::now();
        let mut offset = start_offset;
        let mut read = 0usize;
        while offset < log.log_end_offset() {
            let result = log.read(offset, 1 << 20, i64::MAX, true).expect("read");
            let records = result.records.read().expect("pread");
            read += records.len();
            let last = weir::log::batch::Batches::new(&records)
                .filter_map(Result::ok)
                .last()
                .expect("a whole batch");
            offset = last.1.next_offset();
        }
        let fetch = start.elapsed();
        let records = batches * records_per_batch;
        println!(
            "append {records_per_batch:>3} x {size:>4} B batches: {:>7.0} ns/batch {:>6.0} ns/record {:>7.0} MB/s | read 1 MiB chunks: {:>7.0} MB/s",
            append.as_nanos() as f64 / batches as f64,
            append.as_nanos() as f64 / records as f64,
            (batches * bytes.len()) as f64 / append.as_secs_f64() / 1e6,
            read as f64 / fetch.as_secs_f64() / 1e6,
        );
    }
}
