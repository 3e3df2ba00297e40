//! Smoke test of the load generator against the real gateway binary and a real redis-server:
//! every mode runs with a handful of streams and must account for every event.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use test_support::{RedisServer, free_port};

/// The gateway binary of this build (the workspace test run builds every binary).
fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/smoke-… → target/<profile>/sse-gateway
    let binary = exe.parent().unwrap().parent().unwrap().join("sse-gateway");
    if !binary.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "sse-gateway",
                "--bin",
                "sse-gateway",
                "--all-features",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "building the gateway for the smoke test");
    }
    binary
}

struct Gateway {
    child: Child,
    port: u16,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ready(admin_port: u16) -> bool {
    let Ok(mut socket) = TcpStream::connect(("127.0.0.1", admin_port)) else {
        return false;
    };
    let _ = socket.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn start_gateway(redis: &RedisServer) -> Gateway {
    let (port, admin) = (free_port(), free_port());
    let child = Command::new(gateway_binary())
        .env("REDIS_URL", redis.url())
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("RUST_LOG", "error")
        .env("DRAIN_DELAY", "0s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let gateway = Gateway { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(admin) {
        assert!(
            Instant::now() < deadline,
            "the gateway did not become ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    gateway
}

fn loadgen(gateway: &Gateway, redis: &RedisServer, mode: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--url",
            &format!("http://127.0.0.1:{}", gateway.port),
            "--redis-url",
            &redis.url(),
            "--server-pid",
            &gateway.child.id().to_string(),
            "--redis-pid",
            &redis.pid().unwrap().to_string(),
        ])
        .args(mode)
        .output()
        .unwrap()
}

/// The run's JSON line.
fn report(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "loadgen failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with(r#"{"loadgen":"#))
        .unwrap_or_else(|| panic!("no JSON line in: {stdout}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn every_mode_runs_against_the_real_gateway_and_accounts_for_every_event() {
    let redis = RedisServer::start();
    let gateway = start_gateway(&redis);

    let fanout = report(&loadgen(
        &gateway,
        &redis,
        &[
            "fanout",
            "--clients",
            "20",
            "--channels",
            "4",
            "--events",
            "200",
            "--rate",
            "400",
        ],
    ));
    // 200 events over 4 channels, 5 streams per channel: 1,000 deliveries.
    assert_eq!(fanout["streams_open"], 20);
    assert_eq!(fanout["totals"]["expected"], 1000);
    assert_eq!(fanout["totals"]["received"], 1000);
    assert_eq!(fanout["totals"]["lost"], 0);
    assert_eq!(fanout["totals"]["duplicated"], 0);
    assert_eq!(fanout["totals"]["reordered"], 0);
    assert!(fanout["latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(fanout["server"]["cpu_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(fanout["server_pids"][0], gateway.child.id());

    let idle = report(&loadgen(
        &gateway,
        &redis,
        &["idle", "--clients", "20", "--hold", "0.5"],
    ));
    assert_eq!(idle["streams_open"], 20);
    assert_eq!(idle["ended_early"], 0);
    assert!(idle["server_before"]["rss_kib"].as_u64().unwrap() > 0);

    let connect = report(&loadgen(
        &gateway,
        &redis,
        &[
            "connect",
            "--clients",
            "20",
            "--channels",
            "4",
            "--timeout",
            "20",
        ],
    ));
    assert_eq!(connect["connect"]["streams"], 20);
    assert_eq!(connect["primed"], 20);
    assert_eq!(connect["storm"]["streams"], 20, "every stream resumed");
    assert_eq!(
        connect["lost"], 0,
        "the event published while away was replayed"
    );
}

#[test]
fn refuses_targets_off_this_machine() {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--url",
            "http://192.0.2.10:8000",
            "fanout",
            "--clients",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}
