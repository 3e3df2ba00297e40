//! Fan-out on a 3-shard Redis Cluster, sharded versus classic pub/sub, same load, same run.
//! One gateway process holds C streams over K job channels; events are published at R per
//! second for D seconds through the history script (`SPUBLISH` or `PUBLISH`). Prints
//! deliveries per second, lost events, and CPU seconds of every Redis node and of the
//! gateway, per million deliveries.
//!
//! `cargo build --release -p sse-gateway --examples &&
//!  target/release/examples/sharded_fanout [clients] [channels] [rate] [seconds]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use progress_contract::{Channel, Publisher};
use service_runtime::redis::RedisOptions;
use test_support::{RedisCluster, SseClient, free_port};

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

/// Pub/sub messages sent over the cluster bus so far, summed over every node.
fn bus_messages(cluster: &RedisCluster) -> u64 {
    cluster
        .nodes()
        .iter()
        .flat_map(|node| {
            node.cli(&["CLUSTER", "INFO"])
                .lines()
                .filter(|l| {
                    l.starts_with("cluster_stats_messages_publish_sent:")
                        || l.starts_with("cluster_stats_messages_publishshard_sent:")
                })
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

struct Outcome {
    bus: u64,
    delivered: u64,
    expected: u64,
    seconds: f64,
    redis_cpu: Vec<f64>,
    gateway_cpu: f64,
}

async fn run(
    cluster: &RedisCluster,
    mode: &str,
    clients: usize,
    channels: usize,
    rate: u64,
    seconds: u64,
) -> Outcome {
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("sse-gateway");
    assert!(binary.exists(), "build the gateway first");
    let (http, admin) = (free_port(), free_port());
    let mut gateway = Command::new(&binary)
        .env("REDIS_URL", cluster.url())
        .env("PUBSUB_MODE", mode)
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("CLIENT_BUFFER_EVENTS", "4096")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let web = reqwest::Client::new();
    while !web
        .get(format!("http://127.0.0.1:{admin}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for n in 0..clients {
        let url = format!(
            "http://127.0.0.1:{http}/api/v1/sse/connect?jobs=bench-{mode}-{}",
            n % channels
        );
        let mut client = SseClient::connect(&url).await.unwrap();
        client
            .next_named("subscribed", Duration::from_secs(10))
            .await
            .unwrap();
        let delivered = delivered.clone();
        readers.push(tokio::spawn(async move {
            while let Ok(event) = client.next_event(Duration::from_secs(30)).await {
                if event.event == "job_update" {
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let client = RedisOptions::new(cluster.url())
        .connect_client()
        .await
        .unwrap();
    let publisher = Publisher::new(client).sharded(mode == "sharded");
    let channel_objects: Vec<Channel> = (0..channels)
        .map(|c| Channel::job(&format!("bench-{mode}-{c}")).unwrap())
        .collect();
    let pids: Vec<u32> = cluster.nodes().iter().filter_map(|n| n.pid()).collect();
    let redis_before: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
    let gateway_before = cpu_seconds(gateway.id());
    let bus_before = bus_messages(cluster);
    let started = Instant::now();
    let total = rate * seconds;
    let per_channel = clients as u64 / channels as u64;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut next = Instant::now();
    for n in 0..total {
        let channel = &channel_objects[(n as usize) % channels];
        let payload = format!(
            r#"{{"type":"job_update","jobId":"{}","status":"in_progress","progress":50,"timestamp":0,"seq":{n}}}"#,
            channel.redis_name().trim_start_matches("job:")
        );
        publisher.publish_event(channel, &payload).await.unwrap();
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    let expected = total * per_channel;
    let deadline = Instant::now() + Duration::from_secs(20);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let redis_cpu = pids
        .iter()
        .zip(&redis_before)
        .map(|(p, before)| cpu_seconds(*p) - before)
        .collect();
    let gateway_cpu = cpu_seconds(gateway.id()) - gateway_before;
    let _ = gateway.kill();
    let _ = gateway.wait();
    for reader in readers {
        reader.abort();
    }
    Outcome {
        bus: bus_messages(cluster) - bus_before,
        delivered: delivered.load(Ordering::Relaxed),
        expected,
        seconds,
        redis_cpu,
        gateway_cpu,
    }
}

#[tokio::main]
async fn main() {
    let arg = |n: usize, default: u64| -> u64 {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (clients, channels, rate, seconds) = (arg(1, 300), arg(2, 60), arg(3, 1000), arg(4, 10));
    let cluster = RedisCluster::start(3, 0);
    println!(
        "3-shard cluster, one gateway, {clients} streams over {channels} channels, {rate} events/s for {seconds} s"
    );
    println!(
        "{:<8} {:>12} {:>8} {:>14} {:>26} {:>14} {:>22} {:>16}",
        "pubsub",
        "deliveries/s",
        "lost",
        "bus messages",
        "Redis CPU s per node",
        "Redis CPU s",
        "Redis CPU s / M deliv.",
        "gateway CPU s"
    );
    for mode in ["classic", "sharded", "classic", "sharded"] {
        let outcome = run(
            &cluster,
            mode,
            clients as usize,
            channels as usize,
            rate,
            seconds,
        )
        .await;
        let redis_total: f64 = outcome.redis_cpu.iter().sum();
        let per_node: Vec<String> = outcome
            .redis_cpu
            .iter()
            .map(|c| format!("{c:.2}"))
            .collect();
        println!(
            "{:<8} {:>12.0} {:>8} {:>14} {:>26} {:>14.2} {:>22.2} {:>16.2}",
            mode,
            outcome.delivered as f64 / outcome.seconds,
            outcome.expected.saturating_sub(outcome.delivered),
            outcome.bus,
            per_node.join(" / "),
            redis_total,
            redis_total / (outcome.delivered.max(1) as f64 / 1e6),
            outcome.gateway_cpu,
        );
    }
}
