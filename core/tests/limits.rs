//! A broker's limits against real sockets: running out of file descriptors
//! does not make the acceptor spin, a request that stops halfway is dropped,
//! announced frame sizes cost nothing until their bytes arrive and are
//! bounded by `queued.max.request.bytes`, and `max.connections.per.ip`
//! closes connections over it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{api_versions_ok, Weir};

/// True once the broker has closed `stream` (a read sees EOF or a reset).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// True once the broker's log contains `text`, polling up to `limit`.
fn logs_within(weir: &Weir, text: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if weir.log().contains(text) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn out_of_file_descriptors_the_acceptor_backs_off_and_serves_existing_connections() {
    let weir = Weir::start_limited(&[], Some(128));
    let mut first = weir.connect();
    let mut extra = Vec::new();
    // More than 128: the kernel queues what the broker cannot accept
    // (accept fails with EMFILE) until its backlog is full.
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], weir.port));
    for _ in 0..200 {
        match TcpStream::connect_timeout(&address, Duration::from_millis(500)) {
            Ok(s) => extra.push(s),
            Err(_) => break,
        }
    }
    let before = weir.log().matches("accept failed").count();
    std::thread::sleep(Duration::from_secs(2));
    api_versions_ok(&mut first);
    let failures = weir.log().matches("accept failed").count() - before;
    assert!(
        failures <= 1 && before + failures >= 1,
        "accept failures logged {failures} times in 2 s"
    );
    assert!(weir.log().contains("Too many open files"));
    drop(extra);
    std::thread::sleep(Duration::from_millis(600));
    api_versions_ok(&mut weir.connect());
}

#[test]
fn a_request_that_stops_halfway_is_dropped_after_the_read_timeout() {
    let weir = Weir::start(&["weir.request.read.timeout.ms=500"]);
    let mut stalled = TcpStream::connect(("127.0.0.1", weir.port)).unwrap();
    stalled.write_all(&1000i32.to_be_bytes()).unwrap();
    stalled.write_all(&[0u8; 10]).unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut stalled, Duration::from_secs(5)));
    assert!(started.elapsed() >= Duration::from_millis(400));
    // The socket closes just before the reason is logged.
    assert!(
        logs_within(
            &weir,
            "weir.request.read.timeout.ms",
            Duration::from_secs(5)
        ),
        "the broker did not log why it closed the connection"
    );
    api_versions_ok(&mut weir.connect());
}

#[test]
fn announced_frames_cost_memory_only_as_bytes_arrive_within_the_queue_bound() {
    let weir = Weir::start(&[
        "queued.max.request.bytes=67108864",
        "weir.request.read.timeout.ms=3000",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let base = weir.rss_kib();
    let chunk = vec![0u8; 1 << 20];
    let mut conns = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(("127.0.0.1", weir.port)).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.write_all(&(100i32 << 20).to_be_bytes());
        conns.push(s);
    }
    // Up to 5 MiB each, as far as the broker reads (it stops reading
    // connections that wait for the queue bound; the kernel buffers a little).
    for _ in 0..5 {
        for s in conns.iter_mut() {
            let _ = s.write(&chunk);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let loaded = weir.rss_kib();
    assert!(
        loaded < base + 100 * 1024,
        "RSS went from {base} KiB to {loaded} KiB for 40 half-sent 100 MiB frames"
    );
    drop(conns);
    std::thread::sleep(Duration::from_secs(2));
    let after = weir.rss_kib();
    assert!(
        after < base + 40 * 1024,
        "RSS stayed at {after} KiB (from {base} KiB) after the connections closed"
    );
    api_versions_ok(&mut weir.connect());
}

#[test]
fn connections_over_max_connections_per_ip_are_closed() {
    let weir = Weir::start(&["max.connections.per.ip=3"]);
    let mut kept: Vec<_> = (0..3).map(|_| weir.connect()).collect();
    for client in kept.iter_mut() {
        api_versions_ok(client);
    }
    let mut over = TcpStream::connect(("127.0.0.1", weir.port)).unwrap();
    assert!(closed_within(&mut over, Duration::from_secs(5)));
    assert!(logs_within(
        &weir,
        "max.connections.per.ip (3) reached",
        Duration::from_secs(5)
    ));
    drop(kept.pop());
    std::thread::sleep(Duration::from_millis(200));
    api_versions_ok(&mut weir.connect());
}

#[test]
fn max_connections_makes_new_connections_wait_for_a_free_slot() {
    let weir = Weir::start(&["max.connections=2"]);
    let mut a = weir.connect();
    let mut b = weir.connect();
    api_versions_ok(&mut a);
    api_versions_ok(&mut b);
    // The third connects (the kernel's backlog) but is not served yet.
    let mut c = weir.connect();
    c.stream
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let frame = c.encode(&kafka_protocol::messages::ApiVersionsRequest::default(), 3);
    c.send_raw(&frame);
    assert!(c.read_frame().is_none(), "served over max.connections");
    drop(a);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(c.read_frame().is_some(), "served once a slot was free");
}
