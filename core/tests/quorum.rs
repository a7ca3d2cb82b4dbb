//! The controller quorum over real sockets and files: three members on
//! loopback elect a leader, replicate what it is given in order, elect
//! another when the leader dies, and the dead one catches up when it comes
//! back (replaying its own log from disk first); a member of another
//! cluster is refused; a broker that is not a voter observes what they
//! commit, from a snapshot and then entry by entry, through a failover.
//! (The simulation in `metadata::quorum::sim` covers
//! the faults a test on real time cannot reach.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use weir::metadata::quorum::driver::{start, Member, QuorumConfig};
use weir::metadata::quorum::{observer, QuorumHandle, StateMachine, Timing};

type Applied = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

struct Node {
    handle: QuorumHandle,
    member: Option<Member>,
    applied: Applied,
    /// Snapshot indexes this member was restored from.
    restored: Arc<Mutex<Vec<u64>>>,
}

/// The state: every applied entry, in order; a snapshot is all of it.
struct Recorder {
    applied: Applied,
    restored: Arc<Mutex<Vec<u64>>>,
}

impl StateMachine for Recorder {
    fn apply(&mut self, index: u64, data: &[u8]) {
        self.applied.lock().unwrap().push((index, data.to_vec()));
    }
    fn restore(&mut self, index: u64, data: &[u8]) {
        *self.applied.lock().unwrap() = serde_json::from_slice(data).unwrap();
        self.restored.lock().unwrap().push(index);
    }
    fn snapshot(&mut self, _index: u64, _term: u64) -> Vec<u8> {
        serde_json::to_vec(&*self.applied.lock().unwrap()).unwrap()
    }
}

/// Never snapshots.
const NO_SNAPSHOTS: u64 = u64::MAX;

async fn launch(
    id: u64,
    cluster: &str,
    voters: &HashMap<u64, SocketAddr>,
    listener: TcpListener,
    dir: &Path,
) -> Node {
    launch_with(id, cluster, voters, listener, dir, NO_SNAPSHOTS).await
}

async fn launch_with(
    id: u64,
    cluster: &str,
    voters: &HashMap<u64, SocketAddr>,
    listener: TcpListener,
    dir: &Path,
    snapshot_bytes: u64,
) -> Node {
    let applied: Applied = Arc::default();
    let restored: Arc<Mutex<Vec<u64>>> = Arc::default();
    let machine = Recorder {
        applied: applied.clone(),
        restored: restored.clone(),
    };
    let config = QuorumConfig {
        node_id: id,
        cluster_id: cluster.to_string(),
        voters: voters.clone(),
        listener,
        dir: dir.to_path_buf(),
        tick: Duration::from_millis(50),
        timing: Timing::default(),
        snapshot_bytes,
        snapshot_interval: Duration::from_secs(3600),
        kafka: None,
    };
    let (handle, member) = start(config, machine).expect("the member starts");
    Node {
        handle,
        member: Some(member),
        applied,
        restored,
    }
}

async fn listeners(n: usize) -> (Vec<TcpListener>, HashMap<u64, SocketAddr>) {
    let mut listeners = Vec::new();
    let mut voters = HashMap::new();
    for id in 1..=n as u64 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        voters.insert(id, l.local_addr().unwrap());
        listeners.push(l);
    }
    (listeners, voters)
}

/// Waits until the running members agree on a leader; returns its id.
async fn leader(nodes: &[&Node], within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let leaders: Vec<Option<u64>> = nodes.iter().map(|n| n.handle.status().leader).collect();
        if let Some(Some(l)) = leaders.first() {
            if leaders.iter().all(|x| *x == Some(*l)) {
                return *l;
            }
        }
        assert!(Instant::now() < deadline, "no agreed leader: {leaders:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn survivors_of(nodes: &[Node], dead: u64) -> Vec<&Node> {
    nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i as u64 + 1 != dead)
        .map(|(_, n)| n)
        .collect()
}

/// Stops the leader `first`; returns the leader the others elect.
async fn kill_leader(nodes: &mut [Node], first: u64) -> u64 {
    nodes[first as usize - 1].member.take();
    let survivors = survivors_of(nodes, first);
    loop {
        let l = leader(&survivors, Duration::from_secs(10)).await;
        if l != first {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn all_applied(nodes: &[&Node], count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while nodes
        .iter()
        .any(|n| n.applied.lock().unwrap().len() < count)
    {
        let have: Vec<usize> = nodes
            .iter()
            .map(|n| n.applied.lock().unwrap().len())
            .collect();
        assert!(Instant::now() < deadline, "applied {have:?}, want {count}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_fail_over_and_catch_up() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (ls, voters) = listeners(3).await;
    let mut nodes = Vec::new();
    for (i, l) in ls.into_iter().enumerate() {
        nodes.push(launch(i as u64 + 1, "c1", &voters, l, dirs[i].path()).await);
    }
    let first = leader(&nodes.iter().collect::<Vec<_>>(), Duration::from_secs(10)).await;
    let lead = &nodes[first as usize - 1];
    for n in 0..50 {
        let index = lead
            .handle
            .propose(format!("command {n}").into_bytes())
            .await
            .expect("the leader commits");
        // Answered only once applied here.
        assert!(lead
            .applied
            .lock()
            .unwrap()
            .iter()
            .any(|(i, _)| *i == index));
    }
    all_applied(
        &nodes.iter().collect::<Vec<_>>(),
        50,
        Duration::from_secs(10),
    )
    .await;

    // Kill the leader: the other two elect one of themselves and go on.
    let killed_at = Instant::now();
    let second = kill_leader(&mut nodes, first).await;
    let survivors = survivors_of(&nodes, first);
    let lead = &nodes[second as usize - 1];
    lead.handle
        .propose(b"after the failover".to_vec())
        .await
        .expect("the new leader commits");
    let failover = killed_at.elapsed();
    assert!(
        failover < Duration::from_secs(5),
        "failover took {failover:?}"
    );
    for n in 0..20 {
        lead.handle
            .propose(format!("later {n}").into_bytes())
            .await
            .unwrap();
    }
    all_applied(&survivors, 71, Duration::from_secs(10)).await;

    // The old leader comes back on its own log and port, and catches up.
    let l = TcpListener::bind(voters[&first]).await.unwrap();
    nodes[first as usize - 1] =
        launch(first, "c1", &voters, l, dirs[first as usize - 1].path()).await;
    all_applied(
        &nodes.iter().collect::<Vec<_>>(),
        71,
        Duration::from_secs(10),
    )
    .await;
    let logs: Vec<Vec<(u64, Vec<u8>)>> = nodes
        .iter()
        .map(|n| n.applied.lock().unwrap().clone())
        .collect();
    assert_eq!(logs[0], logs[1]);
    assert_eq!(logs[1], logs[2]);
    assert_eq!(logs[0][50].1, b"after the failover".to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_another_cluster_is_refused() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (ls, voters) = listeners(3).await;
    let mut nodes = Vec::new();
    for (i, l) in ls.into_iter().enumerate() {
        let cluster = if i == 2 { "another" } else { "c1" };
        nodes.push(launch(i as u64 + 1, cluster, &voters, l, dirs[i].path()).await);
    }
    // 1 and 2 are a majority of three: they elect and commit without 3.
    let lead = leader(&[&nodes[0], &nodes[1]], Duration::from_secs(10)).await;
    assert!(lead == 1 || lead == 2);
    nodes[lead as usize - 1]
        .handle
        .propose(b"ours".to_vec())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stranger = nodes[2].handle.status();
    assert_eq!(stranger.leader, None, "{stranger:?}");
    assert!(nodes[2].applied.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_behind_the_compacted_log_catches_up_from_a_snapshot() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (ls, voters) = listeners(3).await;
    let mut nodes = Vec::new();
    for (i, l) in ls.into_iter().enumerate() {
        // A snapshot every ~300 bytes of entries: the log is compacted often.
        nodes.push(launch_with(i as u64 + 1, "c1", &voters, l, dirs[i].path(), 300).await);
    }
    let lead = leader(&nodes.iter().collect::<Vec<_>>(), Duration::from_secs(10)).await;
    let behind = if lead == 3 { 2 } else { 3 };
    for n in 0..10 {
        nodes[lead as usize - 1]
            .handle
            .propose(format!("early {n:04}").into_bytes())
            .await
            .unwrap();
    }
    all_applied(
        &nodes.iter().collect::<Vec<_>>(),
        10,
        Duration::from_secs(10),
    )
    .await;
    // One member stops; the others go on far past what their logs keep.
    nodes[behind as usize - 1].member.take();
    for n in 0..200 {
        nodes[lead as usize - 1]
            .handle
            .propose(format!("while away {n:04}").into_bytes())
            .await
            .unwrap();
    }
    // Entries are stored raw in the log; the snapshot holds them as JSON
    // numbers. So compacted entries no longer appear as text.
    let log = std::fs::read(dirs[lead as usize - 1].path().join("raft.log")).unwrap();
    let holds = |text: &str| log.windows(text.len()).any(|w| w == text.as_bytes());
    assert!(!holds("early 0000"), "the leader's log was not compacted");
    assert!(
        !holds("while away 0000"),
        "the leader's log was not compacted"
    );
    // It comes back: restored from its own snapshot, then sent the leader's.
    let l = TcpListener::bind(voters[&behind]).await.unwrap();
    let dir = dirs[behind as usize - 1].path();
    nodes[behind as usize - 1] = launch_with(behind, "c1", &voters, l, dir, 300).await;
    all_applied(
        &nodes.iter().collect::<Vec<_>>(),
        210,
        Duration::from_secs(10),
    )
    .await;
    let back = &nodes[behind as usize - 1];
    let restored = back.restored.lock().unwrap().clone();
    assert!(
        restored.iter().any(|i| *i > 10),
        "caught up without the leader's snapshot: {restored:?}"
    );
    let states: Vec<Vec<(u64, Vec<u8>)>> = nodes
        .iter()
        .map(|n| n.applied.lock().unwrap().clone())
        .collect();
    assert_eq!(states[0], states[1]);
    assert_eq!(states[1], states[2]);
    // Restarting on a compacted log replays from its snapshot, not index 1.
    drop(nodes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_follows_the_commits_through_a_failover() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (ls, voters) = listeners(3).await;
    let mut nodes = Vec::new();
    for (i, l) in ls.into_iter().enumerate() {
        nodes.push(launch_with(i as u64 + 1, "c1", &voters, l, dirs[i].path(), 300).await);
    }
    let first = leader(&nodes.iter().collect::<Vec<_>>(), Duration::from_secs(10)).await;
    for n in 0..30 {
        nodes[first as usize - 1]
            .handle
            .propose(format!("before {n:04}").into_bytes())
            .await
            .unwrap();
    }
    // It joins late, after compaction: a snapshot, then entries.
    let applied: Applied = Arc::default();
    let restored: Arc<Mutex<Vec<u64>>> = Arc::default();
    let recorder = Recorder {
        applied: applied.clone(),
        restored: restored.clone(),
    };
    let bootstrap: Vec<SocketAddr> = voters.values().copied().collect();
    let observing = observer::start(9, "c1".into(), bootstrap, recorder);
    tokio::time::timeout(Duration::from_secs(10), observing.caught_up())
        .await
        .expect("the observer catches up");
    assert!(
        !restored.lock().unwrap().is_empty(),
        "it started from a snapshot"
    );
    let status = observing.status.borrow().clone();
    assert!(!status.active);
    assert_eq!(observing.leader.get().map(|(id, _)| id), Some(first));

    // The leader dies; the observer follows the next one.
    let second = kill_leader(&mut nodes, first).await;
    for n in 0..10 {
        nodes[second as usize - 1]
            .handle
            .propose(format!("after {n:04}").into_bytes())
            .await
            .unwrap();
    }
    let want = nodes[second as usize - 1].applied.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while *applied.lock().unwrap() != want {
        assert!(
            Instant::now() < deadline,
            "the observer holds {} entries, the leader {}",
            applied.lock().unwrap().len(),
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(observing.leader.get().map(|(id, _)| id), Some(second));
}
