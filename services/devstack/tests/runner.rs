//! `cargo run -p devstack` as a developer uses it: the built binary starts, prints the demo
//! URL, runs a résumé through the upload route to completion (watched on the SSE stream and
//! read back from the jobs API), and on Ctrl-C (SIGINT to its process group, as a terminal
//! sends it) exits 0 with every port closed and every child process gone.
//!
//! devstack decides by connecting to `REDIS_URL`: when something answers it uses that Redis,
//! otherwise it starts `redis-server` on a free port. Both ways are run here. (A Redis may
//! listen on the default 6379 of the machine, so "unreachable" is a free port of ours.)
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::processes::{children_of, is_running, signal_group, wait_gone};
use common::{free_port_run, port_open};
use serde_json::Value;
use test_support::{RedisServer, SseClient, free_port};

const WAIT: Duration = Duration::from_secs(30);

struct Devstack {
    child: Child,
    lines: mpsc::Receiver<String>,
    http: u16,
    admin: u16,
}

impl Devstack {
    /// Starts the binary in a process group of its own (like a shell job) on free ports and
    /// waits for its banner. Free ports can be taken by a parallel test between choosing and
    /// binding them: a start that fails for that reason is tried again on other ports.
    fn start_ready(redis_url: &str) -> (Self, Vec<String>) {
        for _ in 0..3 {
            let mut devstack = Self::spawn(redis_url);
            match devstack.wait_for_banner() {
                Ok(banner) => return (devstack, banner),
                Err(output) if output.contains("Address already in use") => {
                    let _ = devstack.child.wait();
                }
                Err(output) => panic!("devstack did not start:\n{output}"),
            }
        }
        panic!("devstack found its ports taken three times");
    }

    fn spawn(redis_url: &str) -> Self {
        let http = free_port();
        let admin = free_port_run(3);
        let mut child = Command::new(env!("CARGO_BIN_EXE_devstack"))
            .env("REDIS_URL", redis_url)
            .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "0")
            .env_remove("WORKER_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("starting the devstack binary");
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let forward = |stream: Box<dyn std::io::Read + Send>, send: mpsc::Sender<String>| {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    println!("devstack | {line}");
                    if send.send(line).is_err() {
                        break;
                    }
                }
            });
        };
        forward(Box::new(stdout), send.clone());
        forward(Box::new(stderr), send);
        Self {
            child,
            lines,
            http,
            admin,
        }
    }

    /// Waits for the banner; returns its lines (the first is `ready: open <url> …`), or
    /// everything printed when the process ended without one.
    fn wait_for_banner(&self) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + WAIT;
        let mut output = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(output),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("devstack printed no `ready: open` line within {WAIT:?}:\n{output}")
                }
            };
            if line.starts_with("ready: open ") {
                let mut banner = vec![line];
                while banner.len() < 6 {
                    banner.push(self.lines.recv_timeout(WAIT).unwrap());
                }
                return Ok(banner);
            }
            output.push_str(&line);
            output.push('\n');
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGINT to the group, then waits for the exit.
    fn ctrl_c(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        signal_group("-INT", self.pid());
        let deadline = started + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(
                Instant::now() < deadline,
                "devstack did not exit within {WAIT:?} of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Devstack {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The port of the Redis URL on the banner's `redis` line.
fn banner_redis_port(banner: &[String]) -> u16 {
    let line = banner
        .iter()
        .find(|l| l.trim_start().starts_with("redis "))
        .unwrap();
    let url = line.split_whitespace().nth(1).unwrap();
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// One job through the upload route, watched on the stream; returns the job as the jobs API
/// gives it afterwards.
async fn run_one_job(base: &str) -> Value {
    let job_id = format!("devstack-{}", std::process::id());
    let mut stream = SseClient::connect(&format!("{base}/api/v1/sse/connect?jobs={job_id}"))
        .await
        .unwrap();
    stream
        .next_named("subscribed", WAIT)
        .await
        .expect("subscribed at connect");
    let resume = "Jane Doe\njane.doe@example.com\nSkills\nRust, Kubernetes, PostgreSQL\n";
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(resume.as_bytes().to_vec())
                .file_name("jane.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .text("jobId", job_id.clone())
        .text("requiredSkills", "Rust,Go");
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/resumes"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201, "upload accepted");
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = stream
            .next_named("job_update", left)
            .await
            .expect("job_update events until the job finishes");
        let update: Value = serde_json::from_str(&event.data).unwrap();
        match update["status"].as_str() {
            Some("completed") => break,
            Some("failed") => panic!("the job failed: {update}"),
            _ => {}
        }
    }
    reqwest::get(format!("{base}/api/v1/jobs/{job_id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Everything a developer sees and relies on, for one way of finding Redis.
async fn start_use_and_stop(redis_url: &str) -> (Vec<String>, Vec<(u32, String)>) {
    let (mut devstack, banner) = Devstack::start_ready(redis_url);
    let base = format!("http://localhost:{}", devstack.http);
    assert!(
        banner[0].starts_with(&format!("ready: open {base}/ ")),
        "the banner names the demo page: {banner:?}"
    );
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("<title>"));

    let job = run_one_job(&format!("http://127.0.0.1:{}", devstack.http)).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["result"]["profile"]["email"], "jane.doe@example.com");
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", devstack.admin + 1))
        .await
        .unwrap();
    assert!(metrics.status().is_success(), "the first worker's metrics");

    // A demo page left open: its stream is closed gracefully, and quickly (no load balancer
    // to wait for locally).
    let mut open_page = SseClient::connect(&format!(
        "http://127.0.0.1:{}/api/v1/sse/connect?queues=resume-analysis",
        devstack.http
    ))
    .await
    .unwrap();
    open_page.next_named("subscribed", WAIT).await.unwrap();

    let children = children_of(devstack.pid());
    let (status, took) = devstack.ctrl_c();
    println!("devstack exited {status} {took:?} after SIGINT");
    assert!(status.success(), "devstack exits 0 on Ctrl-C, got {status}");
    assert!(
        took < Duration::from_secs(10),
        "Ctrl-C took {took:?}: the local drain settings did not apply"
    );
    let last = open_page.until_end(WAIT).await.unwrap();
    assert!(
        last.iter().any(|e| e.event == "closing"),
        "the open stream was told it is closing: {last:?}"
    );
    for (pid, name) in &children {
        assert!(
            wait_gone(*pid, Duration::from_secs(5)),
            "child {pid} ({name}) still runs after devstack exited"
        );
    }
    for port in [
        devstack.http,
        devstack.admin,
        devstack.admin + 1,
        devstack.admin + 2,
    ] {
        assert!(!port_open(port), "port {port} still open after exit");
    }
    (banner, children)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uses_the_redis_at_redis_url_and_leaves_it_running() {
    let redis = RedisServer::start();
    let (banner, children) = start_use_and_stop(&redis.url()).await;
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&redis.url()) && l.contains("from REDIS_URL")),
        "{banner:?}"
    );
    // The workers' document readers are devstack itself, started again to read a document;
    // anything else would have been started for Redis.
    let started: Vec<_> = children
        .iter()
        .filter(|(_, name)| name != "devstack")
        .collect();
    assert!(
        started.is_empty(),
        "nothing to start when REDIS_URL answers, found {children:?}"
    );
    assert_eq!(redis.cli(&["PING"]), "PONG", "our Redis is left running");
    // The job went through our Redis.
    assert_eq!(
        redis.cli(&["HGET", "rq:{resume-analysis}:counts", "completed"]),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_its_own_redis_when_none_answers_and_stops_it() {
    let nobody = free_port();
    let (banner, children) = start_use_and_stop(&format!("redis://127.0.0.1:{nobody}")).await;
    assert!(
        banner
            .iter()
            .any(|l| l.contains("started for this session")),
        "{banner:?}"
    );
    let port = banner_redis_port(&banner);
    assert_ne!(port, nobody);
    let redis: Vec<_> = children
        .iter()
        .filter(|(_, name)| name.starts_with("redis-server"))
        .collect();
    assert_eq!(redis.len(), 1, "one redis-server child, got {children:?}");
    assert!(!is_running(redis[0].0), "its redis-server is stopped");
    assert!(!port_open(port), "its Redis port {port} is closed");
}

#[test]
fn a_taken_port_fails_at_once_with_a_hint_and_leaves_nothing_running() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = taken.local_addr().unwrap().port();
    let nobody = free_port();
    let output = Command::new(env!("CARGO_BIN_EXE_devstack"))
        .env("REDIS_URL", format!("redis://127.0.0.1:{nobody}"))
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("ADMIN_ADDR", format!("127.0.0.1:{}", free_port_run(3)))
        .env("LOG_FORMAT", "json")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a taken port is an error");
    assert!(
        stderr.contains("HTTP_ADDR") && stderr.contains("choose others"),
        "the error names the setting and the way out: {stderr}"
    );
    assert!(!stdout.contains("ready: open"), "no banner: {stdout}");
    // The Redis it had started for the session is stopped again.
    let started = stdout
        .split("redis://127.0.0.1:")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u16>()
                .ok()
        })
        .expect("the log names the Redis it started");
    assert!(
        !port_open(started),
        "its redis-server on {started} is stopped"
    );
}

/// With neither `redis-server` nor `apt-get` on its PATH, devstack has nothing to start and
/// nothing to install with: it fails at once, says why and what to do, and shows no password.
#[test]
fn without_redis_server_or_apt_get_it_fails_with_how_to_install_it() {
    let nobody = free_port();
    let output = Command::new(env!("CARGO_BIN_EXE_devstack"))
        .env("PATH", concat!(env!("CARGO_MANIFEST_DIR"), "/src"))
        .env("REDIS_URL", format!("redis://:hunter2@127.0.0.1:{nobody}"))
        .env("HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("ADMIN_ADDR", format!("127.0.0.1:{}", free_port_run(3)))
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "nothing to run Redis with is an error"
    );
    assert!(
        stderr.contains(&format!(
            "no Redis answers at redis://:***@127.0.0.1:{nobody}"
        )) && stderr.contains("redis-server is not installed")
            && stderr.contains("(there is no apt-get here)")
            && stderr.contains("REDIS_URL"),
        "the error says what is missing and the ways out: {stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password stays hidden: {stderr}"
    );
    assert!(!stdout.contains("ready: open"), "no banner: {stdout}");
}
