//! Beyond one Redis, on real redis-server processes started here: a 3-primary/3-replica
//! Redis Cluster with sharded pub/sub, and a Sentinel-managed primary with a replica. The
//! services are configured by nothing but `REDIS_URL`.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fred::prelude::ClientLike;
use progress_contract::{Channel, Publisher};
use resume_worker::{Application as Worker, WorkerConfig};
use serde_json::{Value, json};
use service_runtime::redis::RedisOptions;
use sse_gateway::{Application as Gateway, GatewayConfig};
use test_support::{RedisCluster, RedisSentinel, SseClient};
use tokio_util::sync::{CancellationToken, DropGuard};

const WAIT: Duration = Duration::from_secs(30);

struct Running {
    base: String,
    _stop: DropGuard,
}

async fn gateway(url: &str) -> Running {
    let mut config = GatewayConfig::local(url);
    config.queue_update_interval = Duration::from_millis(100);
    let gateway = Gateway::build(config).await.expect("gateway builds");
    let base = format!("http://127.0.0.1:{}", gateway.port());
    let stop = CancellationToken::new();
    tokio::spawn(gateway.run_until_stopped(stop.clone()));
    Running {
        base,
        _stop: stop.drop_guard(),
    }
}

async fn worker(url: &str) -> DropGuard {
    let mut config = WorkerConfig::local(url);
    config.parse_program = crate::common::service_binary("resume-worker")
        .to_string_lossy()
        .into_owned();
    config.heartbeat = Duration::from_millis(500);
    config.visibility_timeout = Duration::from_secs(2);
    let worker = Worker::build(config).await.expect("worker builds");
    let stop = CancellationToken::new();
    tokio::spawn(worker.run_until_stopped(stop.clone()));
    stop.drop_guard()
}

/// Uploads a text résumé as job `job_id` through `base`.
async fn upload(base: &str, job_id: &str) {
    let form = reqwest::multipart::Form::new()
        .text("resumeId", format!("r-{job_id}"))
        .text("jobId", job_id.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(
                b"Grace Hopper\ngrace@example.com\nSkills: Rust, Redis, Kubernetes\n".to_vec(),
            )
            .file_name("resume.txt")
            .mime_str("text/plain")
            .unwrap(),
        );
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/resumes"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

/// Reads `job_update`s until `completed` or `failed`.
async fn until_finished(stream: &mut SseClient) -> Vec<Value> {
    let mut updates = Vec::new();
    loop {
        let update = stream.next_named("job_update", WAIT).await.unwrap().json();
        let done = matches!(update["status"].as_str(), Some("completed" | "failed"));
        updates.push(update);
        if done {
            return updates;
        }
    }
}

/// Publishes `seq` 1, 2, … on `channel` every 50 ms until stopped, retrying each event until
/// Redis takes it (an outage delays events, never skips one). Returns the last seq sent.
fn publish_sequence(
    publisher: Publisher,
    channel: Channel,
    stop: CancellationToken,
) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    publish_sequence_from(0, publisher, channel, stop)
}

/// As [`publish_sequence`], continuing after `last`.
fn publish_sequence_from(
    last: u64,
    publisher: Publisher,
    channel: Channel,
    stop: CancellationToken,
) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let sent = Arc::new(AtomicU64::new(last));
    let counter = sent.clone();
    let handle = tokio::spawn(async move {
        let mut seq = last;
        while !stop.is_cancelled() {
            seq += 1;
            let payload = json!({"type": "job_update", "jobId": channel.redis_name()
                .trim_start_matches("job:"), "status": "in_progress", "progress": 50,
                "timestamp": 0, "seq": seq})
            .to_string();
            while publisher.publish_event(&channel, &payload).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            counter.store(seq, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    (sent, handle)
}

/// Reads events from `stream` until `last` is seen; returns the seqs in arrival order.
/// A stream on `job` through `gateway`, once it is subscribed.
async fn subscribed_stream(gateway: &Running, job: &str) -> SseClient {
    let url = format!("{}/api/v1/sse/connect?jobs={job}", gateway.base);
    let mut stream = SseClient::connect(&url).await.unwrap();
    stream.next_named("subscribed", WAIT).await.unwrap();
    stream
}

/// A publisher on the cluster at `url`, with sharded pub/sub as the services use it there.
async fn sharded_publisher(url: &str) -> Publisher {
    let client = RedisOptions::new(url).connect_client().await.unwrap();
    Publisher::new(client).sharded(true)
}

async fn read_sequence(stream: &mut SseClient, last: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + WAIT;
    while seen.last() != Some(&last) {
        assert!(Instant::now() < deadline, "stopped at {:?}", seen.last());
        let event = stream.next_event(WAIT).await.unwrap();
        if event.event == "job_update" {
            seen.push(event.json()["seq"].as_u64().unwrap());
        }
    }
    seen
}

fn assert_complete(seen: &[u64], last: u64) {
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(seen, expected.as_slice(), "every event once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_jobs_flow_over_sharded_pubsub_spread_over_every_shard() {
    let cluster = RedisCluster::start(3, 1);
    let url = cluster.url();
    let a = gateway(&url).await;
    let b = gateway(&url).await;
    let _worker = worker(&url).await;

    // Many job channels, subscribed at connect on gateway A.
    let ids: Vec<String> = (0..24).map(|n| format!("spread-{n}")).collect();
    let mut many = SseClient::connect(&format!(
        "{}/api/v1/sse/connect?jobs={}",
        a.base,
        ids.join(",")
    ))
    .await
    .unwrap();
    for _ in &ids {
        many.next_named("subscribed", WAIT).await.unwrap();
    }
    // Each channel is a sharded subscription on the primary owning its slot, and none is a
    // classic one; every shard carries some.
    let mut shards = BTreeSet::new();
    for id in &ids {
        let channel = format!("job:{id}");
        let owner = cluster.primary_of(&channel);
        let sharded = cluster
            .node(owner)
            .cli(&["PUBSUB", "SHARDNUMSUB", &channel]);
        assert_eq!(
            sharded.lines().nth(1),
            Some("1"),
            "{channel} on {owner}: {sharded}"
        );
        for node in cluster.nodes() {
            let classic = node.cli(&["PUBSUB", "NUMSUB", &channel]);
            assert_eq!(classic.lines().nth(1), Some("0"), "{channel} classic");
        }
        shards.insert(owner);
    }
    assert_eq!(shards.len(), 3, "channels on every shard");

    // A stream on A, subscribed to a job through B (cross-pod), sees the job run end to end.
    let mut stream = SseClient::connect(&format!("{}/api/v1/sse/connect", a.base))
        .await
        .unwrap();
    let connected = stream.next_named("connected", WAIT).await.unwrap().json();
    let connection = connected["connectionId"].as_str().unwrap().to_owned();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/sse/{connection}/subscribe/job/cluster-job-1",
            b.base
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    stream.next_named("subscribed", WAIT).await.unwrap();
    upload(&b.base, "cluster-job-1").await;
    let updates = until_finished(&mut stream).await;
    let last = updates.last().unwrap();
    assert_eq!(last["status"], "completed", "{last}");
    assert!(
        last["result"].to_string().contains("grace@example.com"),
        "{last}"
    );
    // The worker's own updates are monotonic. (The gateway's `waiting` update is published
    // from another connection after the add and can arrive after the worker's first ones.)
    let progress: Vec<u64> = updates
        .iter()
        .filter(|u| u["status"] != "waiting")
        .map(|u| u["progress"].as_u64().unwrap())
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");

    // The job's state is readable through either gateway.
    let job: Value = reqwest::get(format!("{}/api/v1/jobs/cluster-job-1", a.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["state"], "completed", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_primary_killed_mid_stream_replica_takes_over_and_replay_fills_the_gap() {
    let mut cluster = RedisCluster::start(3, 1);
    let url = cluster.url();
    let a = gateway(&url).await;
    let job = "failover-1";
    let channel = Channel::job(job).unwrap();
    let mut stream = subscribed_stream(&a, job).await;

    let publisher = sharded_publisher(&url).await;
    let stop = CancellationToken::new();
    let (sent, publishing) = publish_sequence(publisher, channel.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(800)).await;

    // SIGKILL the primary that owns the job's channel; its replica is promoted.
    let owner = cluster.primary_of(&channel.redis_name());
    cluster.kill(owner);
    cluster.wait_failed_over(owner, 3, WAIT);
    // Keep publishing until ten more events went through the promoted replica.
    let at_failover = sent.load(Ordering::SeqCst);
    let deadline = Instant::now() + WAIT;
    while sent.load(Ordering::SeqCst) < at_failover + 10 {
        assert!(Instant::now() < deadline, "publishing did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    publishing.await.unwrap();
    let last = sent.load(Ordering::SeqCst);

    let seen = read_sequence(&mut stream, last).await;
    assert_complete(&seen, last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_slot_migrated_mid_stream_delivery_follows_the_channel() {
    let cluster = RedisCluster::start(3, 0);
    let url = cluster.url();
    let a = gateway(&url).await;
    let job = "migrating-1";
    let channel = Channel::job(job).unwrap();
    let mut stream = subscribed_stream(&a, job).await;

    let publisher = sharded_publisher(&url).await;
    let stop = CancellationToken::new();
    let (sent, publishing) = publish_sequence(publisher.clone(), channel.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The publisher pauses while the slot moves (a script sent mid-migration can bounce
    // between the two nodes); the stream stays open throughout.
    stop.cancel();
    publishing.await.unwrap();
    let before_move = sent.load(Ordering::SeqCst);

    // Move the channel's slot (with its history key) to another primary.
    let name = channel.redis_name();
    let from = cluster.primary_of(&name);
    let to = *cluster.primaries().iter().find(|p| **p != from).unwrap();
    let slot: u16 = cluster.nodes()[0]
        .cli(&["CLUSTER", "KEYSLOT", &name])
        .parse()
        .unwrap();
    cluster.migrate_slot(slot, from, to);
    assert_eq!(cluster.primary_of(&name), to);

    let stop = CancellationToken::new();
    let (sent, publishing) =
        publish_sequence_from(before_move, publisher, channel.clone(), stop.clone());
    let deadline = Instant::now() + WAIT;
    while sent.load(Ordering::SeqCst) < before_move + 20 {
        assert!(Instant::now() < deadline, "publishing did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    publishing.await.unwrap();
    let last = sent.load(Ordering::SeqCst);
    let seen = read_sequence(&mut stream, last).await;
    assert_complete(&seen, last);
    // The gateway now listens on the new owner.
    let sharded = cluster.node(to).cli(&["PUBSUB", "SHARDNUMSUB", &name]);
    assert_eq!(sharded.lines().nth(1), Some("1"), "{sharded}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_mid_stream_loses_nothing_and_both_services_follow_the_new_primary() {
    let sentinel = RedisSentinel::start();
    let url = sentinel.url();
    let a = gateway(&url).await;
    let _worker = worker(&url).await;
    let job = "sentinel-seq";
    let channel = Channel::job(job).unwrap();
    let mut stream = subscribed_stream(&a, job).await;

    // A publisher that follows failovers like the services do.
    let client = RedisOptions::new(&url).connect_client().await.unwrap();
    let watching = CancellationToken::new();
    service_runtime::sentinel::watch(&url, vec![client.clone()], watching.clone());
    let publisher = Publisher::new(client.clone());
    let publish = |seq: u64| {
        let publisher = publisher.clone();
        let channel = channel.clone();
        async move {
            let payload = json!({"type": "job_update", "jobId": "sentinel-seq",
                "status": "in_progress", "progress": 50, "timestamp": 0, "seq": seq})
            .to_string();
            while publisher.publish_event(&channel, &payload).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    for seq in 1..=20 {
        publish(seq).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Redis accepts writes on the old primary until Sentinel demotes it (asynchronous
    // replication: they are lost, whoever writes them). Publishing resumes once the
    // publisher has followed the failover; the stream stays open throughout.
    let before = sentinel.current_primary();
    sentinel.failover(WAIT);
    let primary = sentinel.current_primary();
    assert_ne!(primary, before);
    assert_eq!(primary, sentinel.replica.port());
    let deadline = Instant::now() + WAIT;
    while !client
        .active_connections()
        .iter()
        .all(|s| s.port == primary)
    {
        assert!(Instant::now() < deadline, "the publisher did not follow");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for seq in 21..=40 {
        publish(seq).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = read_sequence(&mut stream, 40).await;
    assert_complete(&seen, 40);
    watching.cancel();

    // A job added after the failover runs: the gateway writes it to the new primary and the
    // worker takes it from there.
    let mut job_stream = SseClient::connect(&format!(
        "{}/api/v1/sse/connect?jobs=after-failover",
        a.base
    ))
    .await
    .unwrap();
    job_stream.next_named("subscribed", WAIT).await.unwrap();
    upload(&a.base, "after-failover").await;
    let updates = until_finished(&mut job_stream).await;
    assert_eq!(updates.last().unwrap()["status"], "completed");
    // It is on the new primary (the old one is a replica of it now).
    let key = "rq:{resume-analysis}:job:after-failover";
    let state = sentinel.replica.cli(&["HGET", key, "status"]);
    assert_eq!(
        state,
        "completed",
        "new primary role {:?}, old primary role {:?} has {:?}, keys {:?}",
        sentinel.replica.cli(&["ROLE"]),
        sentinel.primary.cli(&["ROLE"]),
        sentinel.primary.cli(&["HGET", key, "status"]),
        sentinel.replica.cli(&["KEYS", "*after*"]),
    );
}
