//! What the demo page relies on when its gateway crashes right after it subscribed to a job:
//! the stream's positions are written to Redis only every `CURSOR_FLUSH_INTERVAL`, so a
//! SIGKILL can leave a session whose new channel has no position yet. The reconnect must
//! still replay what that channel got while the stream was away (it resumes from where the
//! channel's history stood when it was subscribed), not start it live and lose it.
//!
//! Deterministic: positions are never flushed here (`CURSOR_FLUSH_INTERVAL=1h`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::gateway::Gateway;
use serde_json::{Value, json};
use test_support::{RedisServer, SseClient};

const WAIT: Duration = Duration::from_secs(10);

async fn publish(base: &str, job: &str, progress: u32) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/publish/job/{job}"))
        .json(&json!({"type": "job_update", "jobId": job, "status": "in_progress", "progress": progress}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_subscribed_just_before_a_crash_is_replayed_after_it() {
    let redis = RedisServer::start();
    let mut gateway = Gateway::start(&redis.url(), &[("CURSOR_FLUSH_INTERVAL", "1h")]).await;
    let base = gateway.base();

    let mut stream = SseClient::connect(&format!("{base}/api/v1/sse/connect"))
        .await
        .unwrap();
    let connected = stream.next_named("connected", WAIT).await.unwrap().json();
    let id = connected["connectionId"].as_str().unwrap().to_owned();
    let subscribed = reqwest::Client::new()
        .post(format!("{base}/api/v1/sse/{id}/subscribe/job/crash-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status().as_u16(), 200);
    publish(&base, "crash-1", 10).await;
    let first = stream.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(first.json()["progress"], 10);

    gateway.kill();
    drop(stream);
    gateway.spawn().await;
    // Published while the browser is away.
    publish(&base, "crash-1", 20).await;

    let mut resumed = SseClient::connect_with(
        &format!("{base}/api/v1/sse/connect"),
        &[("Last-Event-ID", first.id.as_str())],
    )
    .await
    .unwrap();
    let connected = resumed.next_named("connected", WAIT).await.unwrap().json();
    assert_eq!(connected["resumed"], true, "{connected}");
    assert_eq!(connected["connectionId"], id.as_str());
    let mut progress = Vec::new();
    while !progress.contains(&20) {
        let event = resumed
            .next_named("job_update", WAIT)
            .await
            .expect("the update published while away is replayed");
        let update: Value = event.json();
        progress.push(update["progress"].as_u64().unwrap());
    }
    // The first update may come again (it was never flushed as read): at most once more.
    assert!(progress == [20] || progress == [10, 20], "{progress:?}");
}
