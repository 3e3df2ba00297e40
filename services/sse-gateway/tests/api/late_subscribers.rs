//! A late subscriber misses nothing: a new subscription to a job first gets the job's events
//! so far from its history (or one snapshot of its record when the history no longer reaches
//! its start), a queue's subscriber its counts, a worker's subscriber its latest status; then
//! live events, with no gap and no duplicate at the seam. `replay=false` opts out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use job_queue::WorkerRegistry;
use progress_contract::events::{WorkerState, WorkerStatus};
use serde_json::{Value, json};
use test_support::{SseClient, SseEvent};

use crate::helpers::{TestApp, WAIT, collect, publish_seq, spawn_app};
use crate::tokens::{spawn_jwt_app, token};

fn seq(event: &SseEvent) -> u64 {
    event.json()["seq"].as_u64().expect("a numbered update")
}

/// Publishes `job_update`s numbered `from..=to` on `job:{job}`.
async fn publish_range(app: &TestApp, job: &str, from: u64, to: u64) {
    for n in from..=to {
        publish_seq(app, &format!("job:{job}"), n).await;
    }
}

/// Reads `n` job updates and returns their numbers, checking each carries an SSE id.
async fn job_seqs(client: &mut SseClient, n: usize) -> Vec<u64> {
    collect(client, "job_update", n)
        .await
        .iter()
        .map(|event| {
            assert!(!event.id.is_empty(), "every replayed event has an SSE id");
            seq(event)
        })
        .collect()
}

/// The next job update within a short time, if any (for "nothing else came").
async fn quiet(client: &mut SseClient) -> Option<SseEvent> {
    client
        .next_named("job_update", Duration::from_millis(300))
        .await
        .ok()
}

#[tokio::test]
async fn a_job_that_already_happened_is_replayed_whole_then_live_events_follow() {
    let app = spawn_app().await;
    publish_range(&app, "done", 1, 8).await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "job", "done").await;
    assert_eq!(job_seqs(&mut client, 8).await, (1..=8).collect::<Vec<_>>());
    publish_seq(&app, "job:done", 9).await;
    assert_eq!(job_seqs(&mut client, 1).await, [9]);
    assert!(quiet(&mut client).await.is_none(), "nothing twice");
    assert_eq!(
        app.metric(r#"sse_first_deliveries_total{kind="job",source="history"}"#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn subscribing_at_connect_a_second_tab_and_another_pod_all_get_the_story() {
    let app = spawn_app().await;
    publish_range(&app, "running", 1, 3).await;
    let (mut first, _) = app.connect("?jobs=running").await;
    let (mut second, _) = app.connect("?jobs=running").await;
    assert_eq!(job_seqs(&mut first, 3).await, [1, 2, 3]);
    assert_eq!(job_seqs(&mut second, 3).await, [1, 2, 3]);

    // A subscribe sent to another pod takes effect on the pod holding the stream, with the
    // story first.
    let (other, _stop) = app.second_gateway().await;
    let (mut third, id) = app.connect("").await;
    let response = reqwest::Client::new()
        .post(format!("{other}/api/v1/sse/{id}/subscribe/job/running"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    third.next_named("subscribed", WAIT).await.unwrap();
    assert_eq!(job_seqs(&mut third, 3).await, [1, 2, 3]);

    publish_seq(&app, "job:running", 4).await;
    for client in [&mut first, &mut second, &mut third] {
        assert_eq!(job_seqs(client, 1).await, [4]);
    }
}

#[tokio::test]
async fn events_published_while_the_history_is_read_arrive_once_and_in_order() {
    let app = spawn_app().await;
    const TOTAL: u64 = 1_500;
    let published = Arc::new(AtomicU64::new(0));
    let publisher = {
        let publisher = app.publisher();
        let published = published.clone();
        tokio::spawn(async move {
            let channel = progress_contract::Channel::parse("job:race").unwrap();
            for n in 1..=TOTAL {
                let event = json!({"type": "job_update", "jobId": "race", "seq": n});
                publisher
                    .publish_event(&channel, &event.to_string())
                    .await
                    .unwrap();
                published.store(n, Ordering::SeqCst);
                if n % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    // Streams subscribe at moments spread over the publishing, each while events arrive; each
    // reads everything in a task of its own.
    let mut readers = Vec::new();
    while published.load(Ordering::SeqCst) < TOTAL - 100 && readers.len() < 24 {
        let query = if readers.len() % 2 == 0 {
            "?jobs=race"
        } else {
            ""
        };
        let (mut client, id) = app.connect(query).await;
        if query.is_empty() {
            app.subscribe(&mut client, &id, "job", "race").await;
        }
        readers.push(tokio::spawn(async move {
            let seqs = job_seqs(&mut client, TOTAL as usize).await;
            let after = quiet(&mut client).await.map(|e| seq(&e));
            (seqs, after)
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    publisher.await.unwrap();
    assert!(
        readers.len() >= 4,
        "streams subscribed during the publishing"
    );
    for reader in readers {
        let (seqs, after) = reader.await.unwrap();
        assert!(
            seqs.iter().copied().eq(1..=TOTAL),
            "every event once, in order (first differences: {:?})",
            seqs.iter()
                .zip(1..)
                .filter(|(got, want)| **got != *want)
                .take(5)
                .collect::<Vec<_>>()
        );
        assert_eq!(after, None, "nothing after the last");
    }
}

#[tokio::test]
async fn a_resume_after_a_replay_sends_nothing_twice() {
    let app = spawn_app().await;
    publish_range(&app, "one", 1, 5).await;
    publish_range(&app, "two", 1, 3).await;
    // One stream on one channel, one on two (its position then lives in its session).
    let (mut single, _) = app.connect("?jobs=one").await;
    let (mut multi, multi_id) = app.connect("?jobs=one").await;
    assert_eq!(job_seqs(&mut multi, 5).await, [1, 2, 3, 4, 5]);
    app.subscribe(&mut multi, &multi_id, "job", "two").await;
    assert_eq!(job_seqs(&mut single, 5).await, [1, 2, 3, 4, 5]);
    assert_eq!(job_seqs(&mut multi, 3).await, [1, 2, 3]);
    let last_single = {
        publish_seq(&app, "job:one", 6).await;
        let event = collect(&mut single, "job_update", 1).await.remove(0);
        assert_eq!(seq(&event), 6);
        event.id
    };
    let six = collect(&mut multi, "job_update", 1).await.remove(0);
    assert_eq!(seq(&six), 6);
    let last_multi = six.id.clone();
    drop(single);
    drop(multi);
    app.wait_session_closed(&multi_id).await;

    // Missed while away: 7 on job one, 4 on job two.
    publish_seq(&app, "job:one", 7).await;
    publish_seq(&app, "job:two", 4).await;
    let url = app.url("/api/v1/sse/connect?jobs=one");
    let mut single = SseClient::connect_with(&url, &[("last-event-id", &last_single)])
        .await
        .unwrap();
    assert_eq!(
        single.next_event(WAIT).await.unwrap().json()["resumed"],
        true
    );
    assert_eq!(job_seqs(&mut single, 1).await, [7]);
    assert!(
        quiet(&mut single).await.is_none(),
        "the history is not sent again"
    );

    let mut multi = SseClient::connect_with(&url, &[("last-event-id", &last_multi)])
        .await
        .unwrap();
    assert_eq!(
        multi.next_event(WAIT).await.unwrap().json()["resumed"],
        true
    );
    let missed: Vec<(String, u64)> = collect(&mut multi, "job_update", 2)
        .await
        .iter()
        .map(|e| (e.json()["jobId"].as_str().unwrap().to_owned(), seq(e)))
        .collect();
    assert!(
        missed.contains(&("one".into(), 7)) && missed.contains(&("two".into(), 4)),
        "{missed:?}"
    );
    assert!(quiet(&mut multi).await.is_none(), "nothing twice");
}

#[tokio::test]
async fn replay_false_gives_live_events_only() {
    let app = spawn_app().await;
    publish_range(&app, "live", 1, 3).await;
    let (mut at_connect, _) = app.connect("?jobs=live&replay=false").await;
    let (mut by_post, id) = app.connect("").await;
    let (status, body) = app
        .post(&format!("/api/v1/sse/{id}/subscribe/job/live?replay=false"))
        .await;
    assert_eq!(status, 200, "{body}");
    by_post.next_named("subscribed", WAIT).await.unwrap();
    at_connect.next_named("subscribed", WAIT).await.unwrap();
    publish_seq(&app, "job:live", 4).await;
    assert_eq!(job_seqs(&mut at_connect, 1).await, [4]);
    assert_eq!(job_seqs(&mut by_post, 1).await, [4]);

    // A queue's subscriber that opts out gets no counts until they change.
    let (mut queue, _) = app.connect("?queues=resume-analysis&replay=false").await;
    queue.next_named("subscribed", WAIT).await.unwrap();
    assert!(
        queue
            .next_named("queue_update", Duration::from_millis(300))
            .await
            .is_err()
    );

    for bad in ["maybe", "", "TRUE"] {
        let (status, body) = app
            .post(&format!("/api/v1/sse/{id}/subscribe/job/x?replay={bad}"))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_replay")),
            "replay={bad}"
        );
        let response = app
            .http
            .get(app.url(&format!("/api/v1/sse/connect?jobs=x&replay={bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "connect with replay={bad}");
    }
}

#[tokio::test]
async fn a_job_without_history_left_gets_one_snapshot_of_its_record() {
    let app = spawn_app().await;
    let body = json!({
        "queueName": "resume-analysis", "jobName": "analyze-resume",
        "data": {"resumeId": "r-9", "candidateId": "c-9", "fileUrl": "https://example.com/cv.pdf"},
        "opts": {"jobId": "expired"},
    });
    let (status, _) = app.post_json("/api/v1/queue/add", &body, None).await;
    assert_eq!(status, 201);
    // Its history expired (HISTORY_TTL): the record is all that is left.
    app.redis.cli(&["DEL", "sse:hist:{job:expired}"]);
    let (mut client, _) = app.connect("?jobs=expired").await;
    let snapshot = collect(&mut client, "job_update", 1).await.remove(0);
    let data = snapshot.json();
    assert_eq!(data["snapshot"], true);
    assert_eq!(data["status"], "waiting");
    assert_eq!(data["resumeId"], "r-9");
    assert_eq!(data["candidateId"], "c-9");
    assert!(snapshot.id.is_empty(), "no history id stands behind it");
    publish_seq(&app, "job:expired", 1).await;
    assert_eq!(job_seqs(&mut client, 1).await, [1]);

    // A job nobody added yet: accepted, nothing sent until its first event.
    let (mut early, _) = app.connect("?jobs=not-yet").await;
    early.next_named("subscribed", WAIT).await.unwrap();
    assert!(quiet(&mut early).await.is_none());
    publish_seq(&app, "job:not-yet", 1).await;
    assert_eq!(job_seqs(&mut early, 1).await, [1]);
    assert_eq!(
        app.metric(r#"sse_first_deliveries_total{kind="job",source="snapshot"}"#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_queue_subscriber_gets_the_counts_and_a_worker_subscriber_its_status_at_once() {
    let app = spawn_app().await;
    for job in ["q1", "q2"] {
        let body = json!({
            "queueName": "resume-analysis", "jobName": "analyze-resume",
            "data": {"resumeId": job, "fileUrl": "https://example.com/cv.pdf"},
            "opts": {"jobId": job},
        });
        assert_eq!(app.post_json("/api/v1/queue/add", &body, None).await.0, 201);
    }
    let (mut dashboard, id) = app.connect("").await;
    app.subscribe(&mut dashboard, &id, "queue", "resume-analysis")
        .await;
    let counts = dashboard
        .next_named("queue_update", WAIT)
        .await
        .unwrap()
        .json();
    assert_eq!(
        (counts["queueName"].as_str(), counts["waiting"].as_u64()),
        (Some("resume-analysis"), Some(2))
    );

    let client = service_runtime::redis::RedisOptions::new(app.redis.url())
        .connect_client()
        .await
        .unwrap();
    let status = WorkerStatus {
        worker_id: "w-7".into(),
        timestamp: 1,
        status: WorkerState::Active,
        current_job: Some("q1".into()),
        concurrency: 4,
        active_jobs: Some(1),
    };
    WorkerRegistry::new(client)
        .heartbeat(&status, Duration::from_secs(30))
        .await
        .unwrap();
    app.subscribe(&mut dashboard, &id, "worker", "w-7").await;
    let got: Value = dashboard
        .next_named("worker_status", WAIT)
        .await
        .unwrap()
        .json();
    assert_eq!(
        (
            got["workerId"].as_str(),
            got["status"].as_str(),
            got["currentJob"].as_str()
        ),
        (Some("w-7"), Some("active"), Some("q1"))
    );
    // A worker with no live entry: nothing to report until it publishes.
    app.subscribe(&mut dashboard, &id, "worker", "gone").await;
    assert!(
        dashboard
            .next_named("worker_status", Duration::from_millis(300))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn another_organisations_stream_gets_nothing_of_a_job() {
    let app = spawn_jwt_app().await;
    let one = token("alice", Some("org-1"), &[]);
    let two = token("mallory", Some("org-2"), &[]);
    let add = |job: &str| {
        json!({
            "queueName": "resume-analysis", "jobName": "analyze-resume",
            "data": {"resumeId": job, "fileUrl": "https://example.com/cv.pdf"},
            "opts": {"jobId": job},
        })
    };
    assert_eq!(
        app.post_json("/api/v1/queue/add", &add("secret"), Some(&one))
            .await
            .0,
        201
    );
    assert_eq!(
        app.post_json("/api/v1/queue/add", &add("own"), Some(&two))
            .await
            .0,
        201
    );
    publish_seq(&app, "job:secret", 1).await;
    // Its owner sees the story.
    let (mut owner, _) = app.connect_as("?jobs=secret", &one).await;
    let story = collect(&mut owner, "job_update", 2).await;
    assert_eq!(story[0].json()["status"], "waiting");
    assert_eq!(seq(&story[1]), 1);

    // The other organisation is refused, and its stream never sees the job's history: the
    // first update it gets is its own job's.
    let (mut other, id) = app.connect_as("", &two).await;
    let (status, body) = app
        .post_as(&format!("/api/v1/sse/{id}/subscribe/job/secret"), &two)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_mismatch"))
    );
    let (status, _) = app
        .post_as(&format!("/api/v1/sse/{id}/subscribe/job/own"), &two)
        .await;
    assert_eq!(status, 200);
    let first = other.next_named("job_update", WAIT).await.unwrap().json();
    assert_eq!(first["jobId"], "own");
    assert!(
        other
            .next_named("job_update", Duration::from_millis(300))
            .await
            .is_err(),
        "nothing of job secret"
    );
}

#[tokio::test]
async fn a_resume_from_the_start_of_a_trimmed_history_says_resync() {
    let app = spawn_app().await;
    // Subscribed before the job had any event: the stream stands at the history's start.
    let (client, id) = app.connect("?jobs=gap").await;
    drop(client);
    app.wait_numsub("job:gap", 0).await;
    publish_range(&app, "gap", 1, 3).await;
    app.redis
        .cli(&["XTRIM", "sse:hist:{job:gap}", "MAXLEN", "1"]);
    let url = app.url("/api/v1/sse/connect");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &format!("{id}:0"))])
        .await
        .unwrap();
    assert_eq!(
        resumed.next_event(WAIT).await.unwrap().json()["resumed"],
        true
    );
    assert_eq!(
        job_seqs(&mut resumed, 1).await,
        [3],
        "what history still has"
    );
    let resync = resumed.next_named("resync", WAIT).await.unwrap();
    assert_eq!(
        resync.json()["channels"],
        json!(["job:gap"]),
        "and that 1 and 2 are gone"
    );
}
