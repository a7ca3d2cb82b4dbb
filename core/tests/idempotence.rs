//! Idempotent produce against a real `weir` process: InitProducerId, retries
//! answered with their original offsets, gaps and old epochs refused, and the
//! producer state rebuilt from the log after a restart.

mod common;

use bytes::Bytes;
use common::{Client, Weir};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;

fn init_producer_id(client: &mut Client) -> i64 {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None) // an idempotent, not transactional, producer
        .with_transaction_timeout_ms(60_000);
    let response = client.call(&request, 4).unwrap();
    assert_eq!(response.error_code, 0);
    assert_eq!(response.producer_epoch, 0);
    response.producer_id.0
}

fn batch(pid: i64, epoch: i16, sequence: i32, count: usize) -> Bytes {
    batch_at(pid, epoch, sequence, count, 1_700_000_000_000)
}

fn batch_at(pid: i64, epoch: i16, sequence: i32, count: usize, timestamp: i64) -> Bytes {
    let records = (0..count).map(|i| {
        (
            None,
            Some(Bytes::from(format!("seq {}", sequence + i as i32))),
        )
    });
    weir::log::batch::encode_idempotent(
        records,
        timestamp,
        Compression::Lz4,
        (pid, epoch, sequence),
    )
    .into()
}

/// (error code, base offset) of a produce of `records` to partition 0.
fn send(client: &mut Client, records: Bytes) -> (i16, i64) {
    let response = common::produce(client, "t", -1, records, 9).unwrap();
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn retries_are_deduplicated_and_gaps_and_old_epochs_refused() {
    let mut weir = Weir::start(&[]);
    let mut client = weir.connect();
    common::create_topic(&mut client, "t", &[]);
    let pid = init_producer_id(&mut client);
    assert_ne!(
        init_producer_id(&mut client),
        pid,
        "every InitProducerId gets a new id"
    );

    assert_eq!(send(&mut client, batch(pid, 0, 0, 3)), (0, 0));
    assert_eq!(send(&mut client, batch(pid, 0, 3, 2)), (0, 3));
    // A retry (the response was lost): the original offsets, nothing appended.
    assert_eq!(send(&mut client, batch(pid, 0, 0, 3)), (0, 0));
    assert_eq!(send(&mut client, batch(pid, 0, 3, 2)), (0, 3));
    assert_eq!(common::log_end_offset(&mut client, "t"), 5);
    // A gap.
    assert_eq!(
        send(&mut client, batch(pid, 0, 9, 1)).0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    // A new epoch restarts sequences; the old epoch is fenced.
    assert_eq!(send(&mut client, batch(pid, 1, 0, 1)), (0, 5));
    assert_eq!(
        send(&mut client, batch(pid, 0, 5, 1)).0,
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    // A producer id the partition never saw (or has forgotten) must start
    // at sequence 0: UNKNOWN_PRODUCER_ID, as in Kafka.
    assert_eq!(send(&mut client, batch(pid + 500, 0, 7, 1)).0, 59);
    assert_eq!(common::log_end_offset(&mut client, "t"), 6);

    // After a crash and restart the state comes back from the log.
    weir.restart_after_kill();
    let mut client = weir.connect();
    assert_eq!(
        send(&mut client, batch(pid, 1, 0, 1)),
        (0, 5),
        "still a duplicate"
    );
    assert_eq!(
        send(&mut client, batch(pid, 1, 1, 4)),
        (0, 6),
        "and the sequence continues"
    );
    assert_eq!(send(&mut client, batch(pid, 1, 9, 1)).0, 45);
    let next = init_producer_id(&mut client);
    assert!(
        next > pid + 1,
        "producer ids are not reused after a restart"
    );
    assert_eq!(common::log_end_offset(&mut client, "t"), 10);
}

#[test]
fn idle_producers_expire_and_are_then_unknown() {
    let weir = common::Weir::start(&[
        "producer.id.expiration.ms=1000",
        "producer.id.expiration.check.interval.ms=200",
    ]);
    let mut client = weir.connect();
    common::create_topic(&mut client, "t", &[]);
    let pid = init_producer_id(&mut client);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    assert_eq!(send(&mut client, batch_at(pid, 0, 0, 2, now())), (0, 0));
    assert_eq!(send(&mut client, batch_at(pid, 0, 2, 1, now())), (0, 2));
    // Expiry counts from the batches' timestamps, as in Kafka: a little
    // over a second later the producer is forgotten.
    std::thread::sleep(std::time::Duration::from_millis(1800));
    assert_eq!(
        send(&mut client, batch_at(pid, 0, 3, 1, now())).0,
        59,
        "UNKNOWN_PRODUCER_ID"
    );
    assert_eq!(send(&mut client, batch_at(pid, 0, 0, 1, now())), (0, 3));
}
