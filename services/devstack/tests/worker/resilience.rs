//! A worker killed mid-job, and a worker shut down gracefully: no job is lost, none is
//! stored twice.

use std::process::{Command, Stdio};
use std::time::Duration;

use resume_analysis::fixtures;
use serde_json::json;

use crate::helpers::{WAIT, stack};

#[tokio::test]
async fn a_worker_killed_mid_job_is_replaced_and_the_result_stored_once() {
    let stack = stack().await;
    stack.files.put(
        "cv.txt",
        fixtures::sample_resume_lines().join("\n").into_bytes(),
        "text/plain",
    );
    // The first download hangs, so the first worker is mid-job when it dies.
    stack.files.make_slow(1, Duration::from_secs(60));

    let mut doomed = Command::new(crate::common::service_binary("resume-worker"))
        .env("REDIS_URL", stack.redis.url())
        .env("ADMIN_ADDR", "127.0.0.1:0")
        .env("WORKER_ID", "doomed")
        .env("FETCH_ALLOW_HOSTS", "127.0.0.1")
        .env("FETCH_TIMEOUT", "120s")
        .env("VISIBILITY_TIMEOUT", "1s")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the worker binary");

    let (status, _) = stack
        .add(
            "orphan",
            &stack.files.url("/slow/cv.txt"),
            json!({}),
            json!({}),
        )
        .await;
    assert_eq!(status, 201);
    let job = stack.wait_state("orphan", "active").await;
    assert_eq!(job["worker"], "doomed");
    let deadline = tokio::time::Instant::now() + WAIT;
    while stack.files.hits("/slow/cv.txt") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the doomed worker never fetched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.kill().expect("SIGKILL");
    doomed.wait().unwrap();

    let rescuer = stack.start_worker(stack.worker_config()).await;
    let job = stack.wait_state("orphan", "completed").await;
    assert_eq!(job["attempts"], 2, "the takeover is the second attempt");
    assert_eq!(job["result"]["profile"]["email"], "jane.doe@example.com");
    assert_eq!(stack.files.hits("/slow/cv.txt"), 2);
    let counts = stack.counts().await;
    assert_eq!(
        (counts["completed"].as_u64(), counts["active"].as_u64()),
        (Some(1), Some(0)),
        "{counts}"
    );
    rescuer.stop.cancel();
    rescuer.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn graceful_shutdown_finishes_running_jobs_and_loses_none() {
    let stack = stack().await;
    stack.files.put(
        "cv.txt",
        fixtures::sample_resume_lines().join("\n").into_bytes(),
        "text/plain",
    );
    stack.files.make_slow(2, Duration::from_millis(1500));
    let mut config = stack.worker_config();
    config.concurrency = 2;
    let first = stack.start_worker(config).await;
    for i in 0..5 {
        stack
            .add(
                &format!("batch-{i}"),
                &stack.files.url("/slow/cv.txt"),
                json!({}),
                json!({}),
            )
            .await;
    }
    // Two jobs are running (slow downloads) when SIGTERM arrives.
    let deadline = tokio::time::Instant::now() + WAIT;
    while stack.counts().await["active"] != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "two jobs never became active"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.stop.cancel();
    tokio::time::timeout(WAIT, first.handle)
        .await
        .expect("stops in time")
        .unwrap()
        .unwrap();
    let counts = stack.counts().await;
    assert_eq!(
        counts["active"], 0,
        "running jobs finished before exit: {counts}"
    );
    let finished = counts["completed"].as_u64().unwrap();
    assert!(finished >= 2, "{counts}");
    assert_eq!(
        counts["waiting"].as_u64().unwrap() + finished,
        5,
        "nothing lost: {counts}"
    );

    let second = stack.start_worker(stack.worker_config()).await;
    for i in 0..5 {
        stack.wait_state(&format!("batch-{i}"), "completed").await;
    }
    let counts = stack.counts().await;
    assert_eq!(counts["completed"], 5, "{counts}");
    second.stop.cancel();
    second.handle.await.unwrap().unwrap();
}
