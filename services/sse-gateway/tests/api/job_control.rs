//! Job control over HTTP: cancel in each state, retry, dead letters, listing, pause; bad input
//! on every endpoint answering a clear 4xx and changing nothing. A `Consumer` on the same
//! redis-server plays the worker where a job must run.

use std::time::Duration;

use job_queue::consumer::Delivery;
use job_queue::{Claimed, Consumer, ConsumerOptions, Finish, Queue};
use reqwest::Method;
use serde_json::{Value, json};
use service_runtime::redis::RedisOptions;

use crate::helpers::{TestApp, WAIT, spawn_app};
use crate::tokens::{spawn_jwt_app, token};

const QUEUE: &str = "resume-analysis";

fn add_body(job_id: &str, organisation: &str, opts: Value) -> Value {
    let mut opts = opts;
    opts["jobId"] = json!(job_id);
    json!({
        "queueName": QUEUE,
        "jobName": "analyze-resume",
        "data": {"resumeId": job_id, "organisationId": organisation,
                 "fileUrl": "https://example.com/resume.pdf"},
        "opts": opts,
    })
}

async fn add(app: &TestApp, job_id: &str, organisation: &str) {
    add_with(app, job_id, organisation, json!({})).await;
}

async fn add_with(app: &TestApp, job_id: &str, organisation: &str, opts: Value) {
    let (status, body) = app
        .post_json(
            "/api/v1/queue/add",
            &add_body(job_id, organisation, opts),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn consumer(app: &TestApp, name: &str) -> Consumer {
    let client = RedisOptions::new(app.redis.url())
        .connect_client()
        .await
        .unwrap();
    let reader = RedisOptions::new(app.redis.url())
        .connect_client()
        .await
        .unwrap();
    let options = ConsumerOptions {
        consumer: name.into(),
        visibility_timeout: Duration::from_secs(60),
        job_ttl: Duration::from_secs(3600),
        max_reclaims: 3,
        organisation_concurrency: None,
    };
    Consumer::new(Queue::new(client, QUEUE), reader, options)
        .await
        .unwrap()
}

/// Takes the next job as a worker would.
async fn take(consumer: &Consumer) -> Claimed {
    for _ in 0..50 {
        for delivery in consumer
            .read_new(1, Duration::from_millis(200))
            .await
            .unwrap()
        {
            if let Delivery::Run(claimed) = delivery {
                return claimed;
            }
        }
    }
    panic!("no job to take");
}

async fn send(app: &TestApp, method: Method, path: &str) -> (u16, Value) {
    app.send(method, path, None, None).await
}

async fn job(app: &TestApp, job_id: &str) -> Value {
    let (status, job) = app.get_json(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(status, 200, "{job}");
    job
}

async fn counts(app: &TestApp) -> Value {
    app.get_json(&format!("/api/v1/queues/{QUEUE}")).await.1
}

/// The data of the stream's next event named `name` (skipping others, e.g. `subscribed`).
async fn next_named(client: &mut test_support::SseClient, name: &str) -> Value {
    loop {
        let event = client.next_event(WAIT).await.expect("an event");
        if event.event == name {
            return event.json();
        }
    }
}

/// Every `job_update` status the stream gets until (and including) a final one.
async fn statuses_until_final(client: &mut test_support::SseClient) -> Vec<String> {
    let mut statuses = Vec::new();
    loop {
        let event = client.next_event(WAIT).await.expect("an event");
        if event.event != "job_update" {
            continue;
        }
        let status = event.json()["status"].as_str().unwrap().to_owned();
        let last = matches!(status.as_str(), "completed" | "failed" | "cancelled");
        statuses.push(status);
        if last {
            return statuses;
        }
    }
}

#[tokio::test]
async fn a_waiting_job_is_cancelled_at_once_and_its_story_ends_cancelled() {
    let app = spawn_app().await;
    add(&app, "w-1", "org-1").await;
    let (mut client, _) = app.connect("?jobs=w-1").await;

    let (status, body) = send(&app, Method::DELETE, "/api/v1/jobs/w-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["cancelRequested"], false);
    assert_eq!(
        statuses_until_final(&mut client).await,
        ["waiting", "cancelled"]
    );
    assert_eq!(job(&app, "w-1").await["state"], "cancelled");
    let now = counts(&app).await;
    assert_eq!(
        (now["waiting"].as_u64(), now["cancelled"].as_u64()),
        (Some(0), Some(1))
    );

    // Again: the same answer, nothing more happens.
    let (status, body) = send(&app, Method::DELETE, "/api/v1/jobs/w-1").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(counts(&app).await["cancelled"], 1);

    // A worker never runs it.
    let worker = consumer(&app, "c1").await;
    let deliveries = worker
        .read_new(5, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(
        deliveries.iter().all(|d| !matches!(d, Delivery::Run(_))),
        "a cancelled job was handed to a worker"
    );

    // A late subscriber gets the whole story, ending cancelled.
    let (mut late, _) = app.connect("?jobs=w-1").await;
    assert_eq!(
        statuses_until_final(&mut late).await,
        ["waiting", "cancelled"]
    );
}

#[tokio::test]
async fn a_delayed_job_is_cancelled_at_once() {
    let app = spawn_app().await;
    add_with(&app, "d-1", "org-1", json!({"delay": 60_000})).await;
    assert_eq!(job(&app, "d-1").await["state"], "delayed");
    let (status, body) = send(&app, Method::DELETE, "/api/v1/jobs/d-1").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );
    let now = counts(&app).await;
    assert_eq!(now["delayed"], 0);
    assert_eq!(now["cancelled"], 1);
}

#[tokio::test]
async fn a_running_job_is_asked_to_stop_and_its_worker_ends_it_cancelled() {
    let app = spawn_app().await;
    add(&app, "a-1", "org-1").await;
    let worker = consumer(&app, "c1").await;
    let claimed = take(&worker).await;

    let (status, body) = send(&app, Method::DELETE, "/api/v1/jobs/a-1").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["cancelRequested"], true);
    assert_eq!(job(&app, "a-1").await["cancelRequested"], true);
    // Idempotent while it stops.
    assert_eq!(send(&app, Method::DELETE, "/api/v1/jobs/a-1").await.0, 202);

    // The worker's result comes too late: the cancel was recorded first.
    let outcome = worker
        .finish(&claimed, &json!({"ok": true}), None)
        .await
        .unwrap();
    assert!(matches!(outcome, Finish::Cancelled), "{outcome:?}");
    assert_eq!(job(&app, "a-1").await["state"], "cancelled");
    let now = counts(&app).await;
    assert_eq!(
        (now["active"].as_u64(), now["completed"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(now["cancelled"], 1);
    assert_eq!(send(&app, Method::DELETE, "/api/v1/jobs/a-1").await.0, 200);
}

#[tokio::test]
async fn finished_jobs_cannot_be_cancelled_and_bad_ids_change_nothing() {
    let app = spawn_app().await;
    add(&app, "f-1", "org-1").await;
    let worker = consumer(&app, "c1").await;
    let claimed = take(&worker).await;
    assert!(matches!(
        worker
            .finish(&claimed, &json!({"ok": true}), None)
            .await
            .unwrap(),
        Finish::Completed
    ));

    let (status, body) = send(&app, Method::DELETE, "/api/v1/jobs/f-1").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("job_finished")),
        "{body}"
    );
    assert_eq!(job(&app, "f-1").await["state"], "completed");

    let (status, body) = send(&app, Method::DELETE, "/api/v1/jobs/nobody").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("job_not_found"))
    );
    let (status, body) = send(&app, Method::DELETE, "/api/v1/jobs/bad%20id").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_name"))
    );
    let (status, body) = send(&app, Method::POST, "/api/v1/jobs/nobody/retry").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("job_not_found"))
    );
    let (status, body) = send(&app, Method::POST, "/api/v1/jobs/f-1/retry").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("job_not_retryable"))
    );
    assert_eq!(job(&app, "f-1").await["state"], "completed");
    assert_eq!(counts(&app).await["completed"], 1);
}

/// Makes `job_id` a dead letter: one attempt, failed for good.
async fn dead(app: &TestApp, worker: &Consumer, job_id: &str) {
    add_with(app, job_id, "org-1", json!({"attempts": 1})).await;
    let claimed = take(worker).await;
    assert_eq!(claimed.job.job_id, job_id);
    worker
        .fail(&claimed, "broken", "corrupt", true)
        .await
        .unwrap();
}

#[tokio::test]
async fn dead_letters_are_listed_newest_first_retried_and_deleted_with_exact_counts() {
    let app = spawn_app().await;
    let worker = consumer(&app, "c1").await;
    for n in 1..=5 {
        dead(&app, &worker, &format!("x-{n}")).await;
    }
    assert_eq!(counts(&app).await["failed"], 5);

    // Paged, newest first, no gap and no repeat.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/queues/{QUEUE}/dead?limit=2&cursor={c}"),
            None => format!("/api/v1/queues/{QUEUE}/dead?limit=2"),
        };
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        for dead in page["jobs"].as_array().unwrap() {
            assert_eq!(dead["code"], "corrupt");
            assert_eq!(dead["error"], "broken");
            assert_eq!(dead["attempts"], 1);
            seen.push(dead["jobId"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["x-5", "x-4", "x-3", "x-2", "x-1"]);

    // Bad paging input.
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=not-a-cursor", "invalid_cursor"),
    ] {
        let (status, body) = app
            .get_json(&format!("/api/v1/queues/{QUEUE}/dead?{query}"))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
    let (status, body) = app.get_json("/api/v1/queues/nope/dead").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("queue_not_found"))
    );

    // Retry some: the unknown and the not-dead are skipped, not changed.
    add(&app, "alive", "org-1").await;
    let (status, body) = app
        .post_json(
            &format!("/api/v1/queues/{QUEUE}/dead/retry"),
            &json!({"jobIds": ["x-1", "unknown", "alive"]}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["retried"], json!(["x-1"]));
    assert_eq!(body["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(job(&app, "x-1").await["state"], "waiting");
    assert_eq!(job(&app, "x-1").await["attempts"], 0);
    assert_eq!(job(&app, "alive").await["state"], "waiting");
    let now = counts(&app).await;
    assert_eq!(
        (now["failed"].as_u64(), now["waiting"].as_u64()),
        (Some(4), Some(2))
    );

    // Bad bodies.
    for body in [
        json!({}),
        json!({"all": true, "jobIds": ["x-2"]}),
        json!({"jobIds": []}),
        json!({"jobIds": ["bad id"]}),
        json!({"jobIds": "x-2"}),
        json!({"every": true}),
    ] {
        let (status, answer) = app
            .post_json(&format!("/api/v1/queues/{QUEUE}/dead/retry"), &body, None)
            .await;
        assert!(
            (400..500).contains(&status),
            "{body} answered {status} {answer}"
        );
        assert!(answer["error"]["code"].is_string(), "{answer}");
    }
    assert_eq!(counts(&app).await["failed"], 4);

    // Delete one; again is 404.
    let path = format!("/api/v1/queues/{QUEUE}/dead/x-2");
    let (status, body) = send(&app, Method::DELETE, &path).await;
    assert_eq!(
        (status, body["deleted"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (status, body) = send(&app, Method::DELETE, &path).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("dead_letter_not_found"))
    );
    assert_eq!(app.get_json("/api/v1/jobs/x-2").await.0, 404);
    // It did fail: `failed` counts jobs whose last outcome that was.
    assert_eq!(counts(&app).await["failed"], 4);

    // All the rest.
    let (status, body) = app
        .post_json(
            &format!("/api/v1/queues/{QUEUE}/dead/retry"),
            &json!({"all": true}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["retried"].as_array().unwrap().len(), 3);
    let now = counts(&app).await;
    assert_eq!(
        (now["failed"].as_u64(), now["waiting"].as_u64()),
        (Some(1), Some(5))
    );
    let (_, page) = app.get_json(&format!("/api/v1/queues/{QUEUE}/dead")).await;
    assert_eq!(page["jobs"], json!([]));
}

#[tokio::test]
async fn a_retried_job_runs_again_and_its_subscribers_see_it_queued_again() {
    let app = spawn_app().await;
    let worker = consumer(&app, "c1").await;
    dead(&app, &worker, "r-1").await;
    let (mut client, _) = app.connect("?jobs=r-1&replay=false").await;
    let (status, body) = send(&app, Method::POST, "/api/v1/jobs/r-1/retry").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("waiting")),
        "{body}"
    );
    assert_eq!(
        next_named(&mut client, "job_update").await["status"],
        "waiting"
    );
    let claimed = take(&worker).await;
    assert_eq!(claimed.job.job_id, "r-1");
    assert_eq!(claimed.attempt, 1);
    // A cancelled job may be retried too.
    add(&app, "r-2", "org-1").await;
    assert_eq!(send(&app, Method::DELETE, "/api/v1/jobs/r-2").await.0, 200);
    let (status, body) = send(&app, Method::POST, "/api/v1/jobs/r-2/retry").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("waiting")),
        "{body}"
    );
}

#[tokio::test]
async fn jobs_are_listed_newest_first_by_state_and_organisation() {
    let app = spawn_app().await;
    for (n, org) in [
        (1, "org-a"),
        (2, "org-b"),
        (3, "org-a"),
        (4, "org-b"),
        (5, "org-a"),
    ] {
        add(&app, &format!("l-{n}"), org).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(send(&app, Method::DELETE, "/api/v1/jobs/l-3").await.0, 200);

    let ids = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobId"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app.get_json(&format!("/api/v1/jobs?limit=2{cursor}")).await;
        assert_eq!(status, 200, "{page}");
        all.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(all, ["l-5", "l-4", "l-3", "l-2", "l-1"]);

    let (_, page) = app.get_json("/api/v1/jobs?organisationId=org-a").await;
    assert_eq!(ids(&page), ["l-5", "l-3", "l-1"]);
    let (_, page) = app.get_json("/api/v1/jobs?state=cancelled").await;
    assert_eq!(ids(&page), ["l-3"]);
    let (_, page) = app
        .get_json("/api/v1/jobs?state=waiting&organisationId=org-a&queue=resume-analysis")
        .await;
    assert_eq!(ids(&page), ["l-5", "l-1"]);

    for (query, status, code) in [
        ("state=sleeping", 400, "invalid_state"),
        ("limit=1000", 400, "invalid_limit"),
        ("cursor=%00", 400, "invalid_cursor"),
        ("organisationId=bad%20org", 400, "invalid_name"),
        ("queue=nope", 404, "queue_not_found"),
    ] {
        let (got, body) = app.get_json(&format!("/api/v1/jobs?{query}")).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn a_paused_queue_says_so_and_hands_out_no_job_until_resumed() {
    let app = spawn_app().await;
    let (mut client, _) = app.connect(&format!("?queues={QUEUE}")).await;
    assert_eq!(
        next_named(&mut client, "queue_update").await["paused"],
        Value::Null
    );

    let (status, body) = send(&app, Method::POST, &format!("/api/v1/queues/{QUEUE}/pause")).await;
    assert_eq!(
        (status, body["paused"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(counts(&app).await["paused"], true);
    loop {
        let event = client.next_event(WAIT).await.unwrap();
        if event.event == "queue_update" && event.json()["paused"] == true {
            break;
        }
    }
    add(&app, "p-1", "org-1").await;
    let worker = consumer(&app, "c1").await;
    let deliveries = worker
        .read_new(1, Duration::from_millis(500))
        .await
        .unwrap();
    assert!(
        deliveries.iter().all(|d| !matches!(d, Delivery::Run(_))),
        "a paused queue handed out a job"
    );
    assert_eq!(job(&app, "p-1").await["state"], "waiting");

    let (status, body) = send(
        &app,
        Method::POST,
        &format!("/api/v1/queues/{QUEUE}/resume"),
    )
    .await;
    assert_eq!(
        (status, body["paused"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    assert_eq!(take(&worker).await.job.job_id, "p-1");

    let (status, body) = send(&app, Method::POST, "/api/v1/queues/nope/pause").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("queue_not_found"))
    );
}

#[tokio::test]
async fn only_the_jobs_organisation_or_the_publish_role_may_change_a_job() {
    let app = spawn_jwt_app().await;
    let alice = token("alice", Some("org-1"), &[]);
    let mallory = token("mallory", Some("org-2"), &[]);
    let operator = token("ops", Some("org-ops"), &["publisher"]);
    let monitor = token("grafana", Some("org-ops"), &["monitor"]);
    let body = add_body("own-1", "org-1", json!({}));
    let (status, added) = app
        .post_json("/api/v1/queue/add", &body, Some(&alice))
        .await;
    assert_eq!(status, 201, "{added}");
    let body = add_body("own-2", "org-1", json!({}));
    assert_eq!(
        app.post_json("/api/v1/queue/add", &body, Some(&alice))
            .await
            .0,
        201
    );

    // Another organisation: refused, nothing changed.
    let (status, body) = app
        .send(Method::DELETE, "/api/v1/jobs/own-1", Some(&mallory), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_mismatch"))
    );
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/jobs/own-1/retry",
            Some(&mallory),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_mismatch"))
    );
    assert_eq!(
        app.get_as("/api/v1/jobs/own-1", &alice).await.1["state"],
        "waiting"
    );

    // Listing: an organisation sees its own jobs only.
    let (status, page) = app.get_as("/api/v1/jobs", &mallory).await;
    assert_eq!(
        (status, page["jobs"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{page}"
    );
    let (status, page) = app.get_as("/api/v1/jobs", &alice).await;
    assert_eq!(
        (status, page["jobs"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{page}"
    );
    let (status, body) = app
        .get_as("/api/v1/jobs?organisationId=org-1", &mallory)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("organisation_mismatch"))
    );
    let (status, page) = app
        .get_as("/api/v1/jobs?organisationId=org-1", &monitor)
        .await;
    assert_eq!(
        (status, page["jobs"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{page}"
    );

    // Queue-wide changes need the publish role; reading dead letters the monitor role.
    let pause = format!("/api/v1/queues/{QUEUE}/pause");
    let (status, body) = app.post_as(&pause, &alice).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("role_required"))
    );
    let dead = format!("/api/v1/queues/{QUEUE}/dead");
    assert_eq!(app.get_as(&dead, &alice).await.0, 403);
    assert_eq!(app.get_as(&dead, &monitor).await.0, 200);
    let retry_all = format!("/api/v1/queues/{QUEUE}/dead/retry");
    let all = json!({"all": true});
    assert_eq!(app.post_json(&retry_all, &all, Some(&monitor)).await.0, 403);
    assert_eq!(
        app.post_json(&retry_all, &all, Some(&operator)).await.0,
        200
    );
    assert_eq!(app.post_as(&pause, &operator).await.0, 200);

    // The owner cancels its own job; the operator any job.
    let (status, _) = app
        .send(Method::DELETE, "/api/v1/jobs/own-1", Some(&alice), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .send(Method::DELETE, "/api/v1/jobs/own-2", Some(&operator), None)
        .await;
    assert_eq!(status, 200);
    // Without a token: 401.
    assert_eq!(
        app.send(Method::DELETE, "/api/v1/jobs/own-1", None, None)
            .await
            .0,
        401
    );
}
