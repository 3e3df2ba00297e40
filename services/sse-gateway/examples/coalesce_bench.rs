//! Cost of a stream's queue with coalescing, in process (no Redis, no sockets): nanoseconds
//! per queued event for a reader that keeps up, for a lagging reader whose updates replace
//! the queued one (best and worst place in the queue), and for the one-off compaction of a
//! full queue.
//!
//! `cargo build --release -p sse-gateway --examples &&
//!  target/release/examples/coalesce_bench [capacity]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use progress_contract::history::StreamId;
use sse_gateway::fanout::connection::Tagged;
use sse_gateway::fanout::{Connection, ConnectionStream, Item, Push};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const ROUNDS: usize = 5;

fn connection() -> Arc<Connection> {
    Arc::new(Connection::new(Uuid::new_v4(), 0, CancellationToken::new()))
}

/// An update of `channel` with history id `n`, sharing `body` like a fanned-out frame.
fn update(body: &Bytes, channel: &Arc<str>, n: u64, coalescable: bool) -> Item {
    Item {
        body: body.clone(),
        history: Some(Tagged {
            channel: channel.clone(),
            id: StreamId { ms: n, seq: 0 },
        }),
        channel: Some(channel.clone()),
        coalescable,
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// ns per event queued then written, for a reader that keeps up.
async fn keeping_up(capacity: usize, coalescable: bool, events: u64) -> f64 {
    let body = Bytes::from(vec![b'x'; 300]);
    let job: Arc<str> = Arc::from("job:bench");
    let conn = connection();
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    let start = Instant::now();
    for n in 1..=events {
        assert_eq!(
            conn.push(update(&body, &job, n, coalescable), capacity),
            Push::Queued
        );
        stream.next().await.unwrap().unwrap();
        stream.next().await.unwrap().unwrap();
    }
    start.elapsed().as_nanos() as f64 / events as f64
}

/// ns per update pushed on a queue at its high-water mark: `front` puts the job's queued
/// update at the front behind `capacity` events of other channels (the longest scan).
fn lagging(capacity: usize, front: bool, events: u64) -> f64 {
    let body = Bytes::from(vec![b'x'; 300]);
    let job: Arc<str> = Arc::from("job:busy");
    let conn = connection();
    let high_water = capacity - capacity / 4;
    let mut n = 1;
    let others: Vec<Arc<str>> = (0..high_water)
        .map(|i| Arc::from(format!("job:other-{i}")))
        .collect();
    if front {
        conn.push(update(&body, &job, n, true), capacity);
        n += 1;
        for other in others.iter().skip(1) {
            conn.push(update(&body, other, n, false), capacity);
            n += 1;
        }
    } else {
        for _ in 0..high_water {
            conn.push(update(&body, &job, n, true), capacity);
            n += 1;
        }
    }
    assert_eq!(conn.queued(), high_water);
    let start = Instant::now();
    for _ in 0..events {
        assert_eq!(
            conn.push(update(&body, &job, n, true), capacity),
            Push::Coalesced(1)
        );
        n += 1;
    }
    start.elapsed().as_nanos() as f64 / events as f64
}

/// ns for the push that finds the queue full and drops every superseded update.
fn compaction(capacity: usize) -> (f64, usize) {
    let body = Bytes::from(vec![b'x'; 300]);
    let jobs: Vec<Arc<str>> = (0..4).map(|i| Arc::from(format!("job:{i}"))).collect();
    let conn = connection();
    let high_water = capacity - capacity / 4;
    let mut n = 1;
    // Below the mark nothing coalesces: four jobs interleave their updates.
    while conn.queued() < high_water {
        conn.push(update(&body, &jobs[n as usize % 4], n, true), capacity);
        n += 1;
    }
    while conn.queued() < capacity {
        conn.push(Item::plain(body.clone()), capacity);
    }
    let start = Instant::now();
    let push = conn.push(Item::plain(body.clone()), capacity);
    let elapsed = start.elapsed().as_nanos() as f64;
    let Push::Coalesced(dropped) = push else {
        panic!("expected a compaction, got {push:?}");
    };
    (elapsed, dropped)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let capacity: usize = std::env::args()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    let events = 200_000;
    let mut plain = Vec::new();
    let mut progress = Vec::new();
    let mut back = Vec::new();
    let mut front = Vec::new();
    let mut compact = Vec::new();
    let mut dropped = 0;
    for _ in 0..ROUNDS {
        plain.push(keeping_up(capacity, false, events).await);
        progress.push(keeping_up(capacity, true, events).await);
        back.push(lagging(capacity, false, events));
        front.push(lagging(capacity, true, events));
        let (ns, d) = compaction(capacity);
        compact.push(ns);
        dropped = d;
    }
    println!(
        "queue capacity {capacity}, coalescing from {}",
        capacity - capacity / 4
    );
    println!("median of {ROUNDS} rounds, {events} events each:");
    println!(
        "  reader keeping up, event that cannot coalesce: {:>7.1} ns/event (queued and written)",
        median(plain)
    );
    println!(
        "  reader keeping up, intermediate update:        {:>7.1} ns/event (queued and written)",
        median(progress)
    );
    println!(
        "  lagging, job's update at the back:             {:>7.1} ns/update (replaced in place)",
        median(back)
    );
    println!(
        "  lagging, job's update at the front:            {:>7.1} ns/update (scan of the whole queue)",
        median(front)
    );
    println!(
        "  full queue, compaction:                        {:>7.1} ns once, {dropped} superseded updates dropped",
        median(compact)
    );
}
