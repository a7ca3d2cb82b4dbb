//! Property test of a consumer group with classic and KIP-848 members side
//! by side: whatever order they join, heartbeat, rejoin and leave in, no
//! partition is ever held by two clients at once, and once everyone keeps
//! heartbeating the group settles with every partition held exactly once.
//!
//! Clients are modelled as the real ones behave: a KIP-848 member holds
//! what its last heartbeat answer gave it; a classic (eager) member drops
//! everything when told to rejoin and holds what its SyncGroup returned.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::{Encodable, StrBytes};
use proptest::prelude::*;
use uuid::Uuid;

use super::tests::limits;
use super::{ConsumerGroup, Heartbeat};
use crate::group::assignor::TopicIdPartition;
use crate::group::consumer_protocol;
use crate::group::member::JoinRequest;
use crate::group::MemberRef;
use crate::protocol::error::ResponseError;

const PARTITIONS: i32 = 6;
const TOPIC: Uuid = Uuid::from_u128(7);

#[derive(Debug, Clone, Copy)]
enum Op {
    Join(usize),
    Beat(usize),
    Leave(usize),
}

struct Client {
    classic: bool,
    id: String,
    joined: bool,
    epoch: i32,
    owned: BTreeSet<TopicIdPartition>,
}

fn lookup(name: &str) -> Option<(Uuid, i32)> {
    (name == "t").then_some((TOPIC, PARTITIONS))
}

fn subscription() -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    ConsumerProtocolSubscription::default()
        .with_topics(vec![StrBytes::from_static_str("t")])
        .encode(&mut buf, 1)
        .unwrap();
    buf.freeze()
}

fn classic_join(g: &mut ConsumerGroup, c: &mut Client, now: Instant) {
    // Eager: everything is given up before rejoining.
    c.owned.clear();
    let request = JoinRequest {
        member_id: c.id.clone(),
        group_instance_id: None,
        client_id: "classic".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: Duration::from_secs(30),
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), subscription())],
        require_known_member_id: false,
        supports_skip_assignment: false,
    };
    let joined = g.classic_join(&request, &lookup, &limits(), now);
    assert!(joined.error.is_none(), "join: {:?}", joined.error);
    c.joined = true;
    c.epoch = joined.generation;
    let who = MemberRef {
        member_id: c.id.clone(),
        group_instance_id: None,
        generation: c.epoch,
    };
    let synced = g.classic_sync(&who, Some("consumer"), Some("range"), now);
    if synced.error.is_none() {
        c.owned = consumer_protocol::decode_assignment(&synced.assignment)
            .unwrap()
            .into_iter()
            .map(|(_, p)| (TOPIC, p))
            .collect();
    }
}

fn classic_beat(g: &mut ConsumerGroup, c: &mut Client, now: Instant) {
    let who = MemberRef {
        member_id: c.id.clone(),
        group_instance_id: None,
        generation: c.epoch,
    };
    match g.classic_heartbeat(&who, now) {
        Ok(()) => {}
        Err(ResponseError::RebalanceInProgress) => classic_join(g, c, now),
        Err(_) => {
            c.owned.clear();
            c.joined = false;
        }
    }
}

fn consumer_beat(g: &mut ConsumerGroup, c: &mut Client, epoch: i32, now: Instant) {
    let hb = Heartbeat {
        member_id: c.id.clone(),
        member_epoch: epoch,
        rebalance_timeout_ms: 30_000,
        subscribed_topics: (epoch == 0).then(|| vec!["t".to_string()]),
        owned: Some(c.owned.clone()),
        version: 1,
        ..Default::default()
    };
    match g.heartbeat(hb, &lookup, &limits(), now) {
        Ok(answer) => {
            c.joined = epoch >= 0;
            c.epoch = answer.member_epoch;
            if let Some(assigned) = answer.assignment {
                c.owned = assigned;
            }
            if epoch < 0 {
                c.owned.clear();
            }
        }
        Err(_) => {
            c.owned.clear();
            c.joined = false;
        }
    }
}

fn apply(g: &mut ConsumerGroup, clients: &mut [Client], op: Op, now: Instant) {
    match op {
        Op::Join(i) | Op::Beat(i) if !clients[i].joined => {
            let c = &mut clients[i];
            if c.classic {
                classic_join(g, c, now)
            } else {
                consumer_beat(g, c, 0, now)
            }
        }
        Op::Join(i) | Op::Beat(i) => {
            let c = &mut clients[i];
            if c.classic {
                classic_beat(g, c, now)
            } else {
                let epoch = c.epoch;
                consumer_beat(g, c, epoch, now)
            }
        }
        Op::Leave(i) if clients[i].joined => {
            let c = &mut clients[i];
            if c.classic {
                g.classic_leave(&c.id, None).unwrap();
                c.owned.clear();
                c.joined = false;
            } else {
                consumer_beat(g, c, -1, now)
            }
        }
        Op::Leave(_) => {}
    }
}

fn no_partition_held_twice(clients: &[Client]) -> Result<(), TestCaseError> {
    let mut seen = BTreeSet::new();
    for c in clients {
        for tp in &c.owned {
            prop_assert!(seen.insert(*tp), "partition {:?} held twice", tp);
        }
    }
    Ok(())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize).prop_map(Op::Join),
        6 => (0..4usize).prop_map(Op::Beat),
        1 => (0..4usize).prop_map(Op::Leave),
    ]
}

proptest! {
    #[test]
    fn classic_and_new_members_never_hold_a_partition_twice(
        kinds in proptest::collection::vec(any::<bool>(), 4),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let now = Instant::now();
        let mut g = ConsumerGroup::new("uniform");
        let mut clients: Vec<Client> = kinds
            .iter()
            .enumerate()
            .map(|(i, classic)| Client {
                classic: *classic,
                id: format!("m{i}"),
                joined: false,
                epoch: 0,
                owned: BTreeSet::new(),
            })
            .collect();
        for op in ops {
            apply(&mut g, &mut clients, op, now);
            no_partition_held_twice(&clients)?;
        }
        // Everyone still in the group keeps heartbeating: it settles.
        for _ in 0..12 {
            for i in 0..clients.len() {
                if clients[i].joined {
                    apply(&mut g, &mut clients, Op::Beat(i), now);
                    no_partition_held_twice(&clients)?;
                }
            }
        }
        if clients.iter().any(|c| c.joined) {
            let held: usize = clients.iter().map(|c| c.owned.len()).sum();
            prop_assert_eq!(held, PARTITIONS as usize);
            prop_assert_eq!(g.state(), "Stable");
        }
    }
}
