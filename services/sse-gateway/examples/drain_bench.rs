//! How long it takes for the streams of a draining gateway to be re-established on the other
//! pods, and the reconnect curve. Three gateway processes on 127.0.0.1, N EventSource-like
//! clients spread over them (client-side round robin: a reconnect goes to the next pod).
//!
//! `cargo build -p sse-gateway && cargo run -p sse-gateway --example drain_bench [clients]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::resuming::ResumingClient;
use test_support::{RedisServer, free_port};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let clients: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("sse-gateway");
    assert!(
        binary.exists(),
        "build the gateway first: cargo build -p sse-gateway"
    );
    let redis = RedisServer::start();
    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let mut children: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, (http, admin))| {
            Command::new(&binary)
                .env("REDIS_URL", redis.url())
                .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
                .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
                .env("POD_NAME", format!("bench-{i}"))
                .env("DRAIN_DELAY", "1s")
                .env("DRAIN_WINDOW", "5s")
                .env("SHUTDOWN_TIMEOUT", "20s")
                .env("SSE_RETRY", "500ms")
                // Thousands of clients from one loopback address.
                .env("CONNECT_RATE_PER_ADDRESS", "0")
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let http = reqwest::Client::new();
    for (_, admin) in &ports {
        while !http
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let bases: Vec<String> = ports
        .iter()
        .map(|(http, _)| format!("http://127.0.0.1:{http}"))
        .collect();
    let stop = CancellationToken::new();
    let mut all = Vec::with_capacity(clients);
    let started = Instant::now();
    for i in 0..clients {
        let mut order = bases.clone();
        order.rotate_left(i % 3);
        all.push(ResumingClient::spawn_over(
            order,
            format!("c{}", i % 10),
            stop.clone(),
        ));
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    while all.iter().any(|c| !c.snapshot().subscribed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "{clients} streams open and subscribed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let drained = &bases[0];
    let moving: Vec<usize> = (0..clients)
        .filter(|i| all[*i].snapshot().connected_to.as_ref() == Some(drained))
        .collect();
    let _ = Command::new("kill")
        .args(["-TERM", &children[0].id().to_string()])
        .status();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(60);
    let mut done: Vec<Duration>;
    loop {
        done = moving
            .iter()
            .filter_map(|i| {
                all[*i]
                    .snapshot()
                    .connected_at
                    .iter()
                    .rev()
                    .find(|t| **t > t0)
                    .map(|t| t.duration_since(t0))
            })
            .collect();
        if done.len() == moving.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    done.sort();
    let pct = |p: f64| {
        done.get(((done.len() as f64 * p) as usize).min(done.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "drained pod held {} streams; {} re-established on the other pods; first {:.2} s, p50 {:.2} s, p99 {:.2} s, last {:.2} s after SIGTERM (DRAIN_DELAY 1 s, DRAIN_WINDOW 5 s)",
        moving.len(),
        done.len(),
        pct(0.0).as_secs_f64(),
        pct(0.5).as_secs_f64(),
        pct(0.99).as_secs_f64(),
        done.last().copied().unwrap_or_default().as_secs_f64()
    );
    println!("| seconds after SIGTERM | streams re-established in that second |");
    println!("|---|---|");
    let last = done.last().map_or(0, |d| d.as_secs());
    for second in 0..=last {
        let n = done.iter().filter(|d| d.as_secs() == second).count();
        println!("| {second}–{} | {n} |", second + 1);
    }
    stop.cancel();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
}
