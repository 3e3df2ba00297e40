//! The demo page in a real headless browser (Debian's Chromium, driven by playwright-core from
//! `tests/browser/demo.mjs`), against real processes: a redis-server, an sse-gateway and a
//! resume-worker, each started here on free ports.
//!
//! - upload: a PDF résumé is chosen in the page and analysed; the progress bar reaches
//!   100 %, the result card shows the email, skills by category, experience, seniority and
//!   the match; at phone width (390 px) nothing overflows; a broken PDF shows the error.
//! - restart: a job waits in `fetching` (its file server holds the answer) while the
//!   gateway is killed; the job completes while no gateway runs; the gateway is started
//!   again on the same port, and the page resumes its stream (same connection id, missed
//!   events replayed) and shows the completed job. Twice: the second time every reconnect
//!   meets a `503` (as from a load balancer with no ready gateway), so the browser's
//!   EventSource gives up and the page's own backoff reopens the stream with
//!   `?lastEventId=`, which resumes it all the same.
//!
//! - cancel: a job waits in `fetching`; its Cancel button is pressed, the file is let through,
//!   and the page shows the job cancelled (by its worker's final update), with no button left.
//!
//! - seed client: the original design's Vanilla JavaScript example
//!   (`tests/browser/seed-vanilla.js`, its code unchanged apart from the base URL), opened
//!   after its job finished, shows the job completed with its whole story.
//!
//! Screenshots land in `target/browser-artifacts/`. Needs `chromium` and the npm packages of
//! `tests/browser` (`bash scripts/test.sh` installs the latter; see [`prerequisites`]).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::gated_file::GatedFile;
use common::gateway::Gateway;
use common::target_dir;
use common::worker::Worker;
use test_support::RedisServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT_TIME_LIMIT: Duration = Duration::from_secs(120);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn artifacts() -> PathBuf {
    let dir = target_dir().join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fails with the exact commands to run when something the browser test needs is missing.
fn prerequisites() {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!(
            "Chromium is not at {CHROMIUM}: sudo apt-get install -y chromium"
        ));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        missing.push("Node.js is not installed: sudo apt-get install -y nodejs npm".into());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        missing.push(format!(
            "playwright-core is not installed: (cd {} && npm ci) — bash scripts/test.sh does this",
            browser_dir().display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the browser test cannot run:\n  {}",
        missing.join("\n  ")
    );
}

/// The job's state as stored in Redis (read directly: no gateway may be running).
fn stored_state(redis: &RedisServer, job_id: &str) -> String {
    let key = job_queue::keys::Keys::new("resume-analysis").job(job_id);
    redis.cli(&["HGET", &key, "status"])
}

/// Answers the page scripts' requests: `restart-gateway <job>` kills the gateway while a job
/// waits in `fetching`, lets the job finish with no gateway running and starts the gateway
/// again; `open-file` lets the held file through.
struct Restart<'a> {
    redis: &'a RedisServer,
    gateway: &'a mut Gateway,
    file: &'a GatedFile,
    restarts: usize,
}

impl Restart<'_> {
    async fn handle(&mut self, request: &str) {
        if request == "open-file" {
            self.file.open();
            return;
        }
        let job_id = request
            .strip_prefix("restart-gateway ")
            .unwrap_or_else(|| panic!("unexpected request {request}"));
        assert_eq!(
            self.file.requests(),
            self.restarts + 1,
            "the worker is fetching the job's file"
        );
        assert_eq!(stored_state(self.redis, job_id), "active");
        self.gateway.kill();
        // Everything after `fetching` is published while no gateway runs: it reaches the
        // page only by replay.
        self.file.open();
        let deadline = Instant::now() + Duration::from_secs(20);
        while stored_state(self.redis, job_id) != "completed" {
            assert!(Instant::now() < deadline, "the job did not complete");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.file.close();
        self.gateway.spawn().await;
        self.restarts += 1;
    }
}

/// Runs `demo.mjs <scenario>`, answering its `@@` requests with `restart`; fails the test
/// when the script fails or runs too long.
async fn run_page_script(
    scenario: &str,
    env: &[(&str, String)],
    restart: Option<&mut Restart<'_>>,
) {
    run_script("demo.mjs", scenario, env, restart).await;
}

/// Runs `node <script> <scenario>` in `tests/browser` (see [`run_page_script`]).
async fn run_script(
    script: &str,
    scenario: &str,
    env: &[(&str, String)],
    mut restart: Option<&mut Restart<'_>>,
) {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(script)
        .arg(scenario)
        .current_dir(browser_dir())
        .env("ARTIFACTS", artifacts())
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("starting node");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            println!("page | {line}");
            if let Some(request) = line.strip_prefix("@@ ") {
                match restart.as_deref_mut() {
                    Some(restart) => restart.handle(request).await,
                    None => panic!("unexpected request from the page script: {request}"),
                }
                stdin.write_all(b"ok\n").await.unwrap();
                stdin.flush().await.unwrap();
            }
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(SCRIPT_TIME_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("the {scenario} page script ran over {SCRIPT_TIME_LIMIT:?}"));
    assert!(
        status.success(),
        "the {scenario} page checks failed ({status}); see the output above and {}",
        artifacts().display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_shows_an_uploaded_resume_analysed_live() {
    prerequisites();
    let redis = RedisServer::start();
    let gateway = Gateway::start(&redis.url(), &[]).await;
    let _worker = Worker::start(&redis.url(), "browser-test-worker").await;

    let lines = resume_analysis::fixtures::sample_resume_lines();
    let fixture = artifacts().join("jane-doe.pdf");
    std::fs::write(
        &fixture,
        resume_analysis::fixtures::pdf_from_lines(&[lines[..8].to_vec(), lines[8..].to_vec()]),
    )
    .unwrap();

    run_page_script(
        "upload",
        &[
            ("BASE_URL", gateway.base()),
            ("FIXTURE", fixture.display().to_string()),
        ],
        None,
    )
    .await;
    assert_eq!(
        redis.cli(&["HGET", "rq:{resume-analysis}:counts", "completed"]),
        "1",
        "the page's upload ran as a job"
    );
    for name in [
        "upload-desktop.png",
        "upload-phone.png",
        "upload-failed.png",
    ] {
        assert!(artifacts().join(name).exists(), "{name} saved");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_resumes_after_the_gateway_restarts_mid_job() {
    prerequisites();
    let redis = RedisServer::start();
    let mut gateway = Gateway::start(&redis.url(), &[]).await;
    let _worker = Worker::start(&redis.url(), "browser-test-worker").await;
    let resume = resume_analysis::fixtures::sample_resume_lines().join("\n");
    let file = GatedFile::start(resume.into_bytes()).await;

    let mut restart = Restart {
        redis: &redis,
        gateway: &mut gateway,
        file: &file,
        restarts: 0,
    };
    run_page_script(
        "restart",
        &[
            ("BASE_URL", restart.gateway.base()),
            ("FILE_URL", file.url("jane-doe.txt")),
        ],
        Some(&mut restart),
    )
    .await;
    assert_eq!(restart.restarts, 2, "the page asked for both restarts");
    for name in [
        "restart-1-fetching.png",
        "restart-2-resumed.png",
        "restart-3-offline.png",
        "restart-4-resumed-again.png",
    ] {
        assert!(artifacts().join(name).exists(), "{name} saved");
    }
}

/// The demo page's cancel button on a job held in `fetching`: the page shows the job
/// cancelled by its worker's final update, and the job ends cancelled in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_cancels_a_running_job() {
    prerequisites();
    let redis = RedisServer::start();
    let mut gateway = Gateway::start(&redis.url(), &[]).await;
    let _worker = Worker::start(&redis.url(), "cancel-test-worker").await;
    let resume = resume_analysis::fixtures::sample_resume_lines().join("\n");
    let file = GatedFile::start(resume.into_bytes()).await;
    let mut requests = Restart {
        redis: &redis,
        gateway: &mut gateway,
        file: &file,
        restarts: 0,
    };
    run_page_script(
        "cancel",
        &[
            ("BASE_URL", requests.gateway.base()),
            ("FILE_URL", file.url("jane-doe.txt")),
        ],
        Some(&mut requests),
    )
    .await;
    let key = job_queue::keys::Keys::new("resume-analysis");
    let jobs = redis.cli(&["KEYS", &format!("{}*", key.job_prefix())]);
    let job_id = jobs
        .lines()
        .next()
        .and_then(|key| key.rsplit(':').next())
        .expect("the page's job")
        .to_owned();
    assert_eq!(stored_state(&redis, &job_id), "cancelled");
    assert!(artifacts().join("cancel-2-cancelled.png").exists());
}

/// The original design's Vanilla JavaScript client, as its README tells a frontend developer
/// to write it: connect, then subscribe to `job-123` once `connected` arrives. The job
/// finished before the page opened; the page still shows it completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_vanilla_client_shows_a_job_that_finished_before_it_subscribed() {
    prerequisites();
    seed_client_is_the_original();
    let redis = RedisServer::start();
    let gateway = Gateway::start(&redis.url(), &[]).await;
    let _worker = Worker::start(&redis.url(), "seed-client-worker").await;
    let resume = resume_analysis::fixtures::sample_resume_lines().join("\n");
    let file = GatedFile::start(resume.into_bytes()).await;
    file.open();
    let body = serde_json::json!({
        "queueName": "resume-analysis",
        "jobName": "analyze-resume",
        "data": {
            "resumeId": "test-123", "candidateId": "candidate-456", "organisationId": "org-789",
            "fileUrl": file.url("resume.txt"), "fileName": "resume.txt", "mimeType": "text/plain",
        },
        "opts": {"jobId": "job-123"},
    });
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/queue/add", gateway.base()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored_state(&redis, "job-123") != "completed" {
        assert!(Instant::now() < deadline, "job-123 did not complete");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    run_script("seed.mjs", "vanilla", &[("BASE_URL", gateway.base())], None).await;
    assert!(artifacts().join("seed-vanilla-completed.png").exists());
}

/// `tests/browser/seed-vanilla.js` is the design document's example, byte for byte, when the
/// document is at hand (`../shared/seed/` beside the repository).
fn seed_client_is_the_original() {
    let document =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/REDIS_PUBSUB_SSE.md");
    let Ok(document) = std::fs::read_to_string(&document) else {
        return;
    };
    let example = document
        .split("### Vanilla JavaScript Example")
        .nth(1)
        .and_then(|rest| rest.split("```javascript\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the document has the Vanilla JavaScript example");
    let ours = std::fs::read_to_string(browser_dir().join("seed-vanilla.js")).unwrap();
    assert_eq!(ours, example, "seed-vanilla.js is the original example");
}
