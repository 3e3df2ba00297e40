//! The stream itself: headers, first events, forwarding, heartbeat, shutdown.

use std::time::Duration;

use progress_contract::events::{
    JobStatus, JobUpdate, QueueUpdate, Stage, WorkerState, WorkerStatus,
};
use test_support::SseClient;

use crate::helpers::{WAIT, collect, publish_seq, spawn_app, spawn_app_with};

#[tokio::test]
async fn stream_has_sse_headers_retry_and_connected_first() {
    let app = spawn_app().await;
    let mut client = SseClient::connect(&app.url("/api/v1/sse/connect"))
        .await
        .expect("connect");
    let headers = &client.response_headers;
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let first = client.next_event(WAIT).await.expect("first event");
    assert_eq!(first.event, "connected");
    assert_eq!(
        first.retry,
        Some(Duration::from_secs(3)),
        "retry hint before the first event"
    );
    let data = first.json();
    assert_eq!(data["type"], "connected");
    assert!(uuid::Uuid::parse_str(data["connectionId"].as_str().unwrap()).is_ok());
    assert_eq!(data["heartbeatInterval"], 30_000);
}

#[tokio::test]
async fn job_queue_and_worker_events_are_forwarded_as_published() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "job", "resume-1-1700000000000")
        .await;
    app.subscribe(&mut client, &id, "queue", "resume-analysis")
        .await;
    app.subscribe(&mut client, &id, "worker", "worker-1").await;
    let publisher = app.publisher();

    let update = JobUpdate::new("resume-1-1700000000000", JobStatus::InProgress, 40)
        .stage(Stage::Parsing)
        .message("Parsing resume content");
    assert_eq!(publisher.publish_job_update(&update).await.unwrap(), 1);
    let event = client.next_named("job_update", WAIT).await.unwrap();
    let data = event.json();
    assert_eq!(data["type"], "job_update");
    assert_eq!(data["jobId"], "resume-1-1700000000000");
    assert_eq!(data["progress"], 40);
    assert_eq!(data["stage"], "parsing");
    assert_eq!(data["status"], "in_progress");
    assert_eq!(data["message"], "Parsing resume content");
    assert_eq!(data["timestamp"], update.timestamp);

    let queue = QueueUpdate {
        queue_name: "resume-analysis".into(),
        timestamp: 1,
        waiting: 5,
        active: 2,
        completed: 100,
        failed: 3,
        delayed: 1,
        ..Default::default()
    };
    publisher.publish_queue_update(&queue).await.unwrap();
    let data = client
        .next_named("queue_update", WAIT)
        .await
        .unwrap()
        .json();
    assert_eq!(data["waiting"], 5);
    assert_eq!(data["completed"], 100);
    assert_eq!(data["queueName"], "resume-analysis");

    let worker = WorkerStatus {
        worker_id: "worker-1".into(),
        timestamp: 2,
        status: WorkerState::Active,
        current_job: Some("job-123".into()),
        concurrency: 5,
        active_jobs: None,
    };
    publisher.publish_worker_status(&worker).await.unwrap();
    let data = client
        .next_named("worker_status", WAIT)
        .await
        .unwrap()
        .json();
    assert_eq!(data["status"], "active");
    assert_eq!(data["currentJob"], "job-123");
    assert_eq!(data["concurrency"], 5);
}

#[tokio::test]
async fn deliveries_are_counted_per_kind_of_event() {
    let app = spawn_app().await;
    let job = "resume-7-1700000000000";
    let (mut first, first_id) = app.connect("").await;
    let (mut second, second_id) = app.connect("").await;
    app.subscribe(&mut first, &first_id, "job", job).await;
    app.subscribe(&mut second, &second_id, "job", job).await;
    app.subscribe(&mut second, &second_id, "worker", "worker-7")
        .await;
    for seq in 1..=3 {
        publish_seq(&app, &format!("job:{job}"), seq).await;
    }
    let worker = WorkerStatus {
        worker_id: "worker-7".into(),
        timestamp: 2,
        status: WorkerState::Idle,
        current_job: None,
        concurrency: 1,
        active_jobs: None,
    };
    app.publisher()
        .publish_worker_status(&worker)
        .await
        .unwrap();
    collect(&mut first, "job_update", 3).await;
    collect(&mut second, "job_update", 3).await;
    collect(&mut second, "worker_status", 1).await;

    let delivered = |event: &str| format!(r#"sse_events_delivered_total{{event="{event}"}}"#);
    assert_eq!(app.metric(&delivered("job_update")).await, 6.0);
    assert_eq!(app.metric(&delivered("worker_status")).await, 1.0);
    assert_eq!(app.metric(&delivered("queue_update")).await, 0.0);
    assert_eq!(
        app.metric(r#"sse_delivery_latency_seconds_count{event="job_update"}"#)
            .await,
        3.0,
        "one latency sample per event, not per stream"
    );
}

#[tokio::test]
async fn a_plain_redis_publish_reaches_the_stream() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "job", "123").await;
    // Exactly what the original Node worker does: PUBLISH job:123 '{…}'.
    let receivers = app.cli_publish(
        "job:123",
        r#"{"type":"job_update","jobId":"123","timestamp":1699267200000,"status":"completed","progress":100,"result":{"score":87}}"#,
    );
    assert_eq!(receivers, "1");
    let data = client.next_named("job_update", WAIT).await.unwrap().json();
    assert_eq!(data["status"], "completed");
    assert_eq!(data["result"]["score"], 87);
}

#[tokio::test]
async fn pretty_printed_json_is_compacted_into_one_data_line() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "job", "multi").await;
    app.cli_publish(
        "job:multi",
        "{\n  \"jobId\": \"multi\",\n  \"progress\": 7\n}",
    );
    let data = client.next_named("job_update", WAIT).await.unwrap().json();
    assert_eq!(data["progress"], 7);
}

#[tokio::test]
async fn every_stream_gets_one_heartbeat_per_interval() {
    let interval = Duration::from_millis(400);
    let app = spawn_app_with(|c| c.heartbeat_interval = interval).await;
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(app.connect("").await.0);
    }
    for client in &mut clients {
        let mut stamps = Vec::new();
        for _ in 0..2 {
            let event = client
                .next_named("heartbeat", Duration::from_secs(5))
                .await
                .expect("a heartbeat");
            stamps.push(event.json()["timestamp"].as_u64().unwrap());
        }
        // Heartbeats are spread over the interval, each stream in one slice of it: a
        // stream gets the next one a whole interval later, not at the next slice's turn.
        let gap = stamps[1] - stamps[0];
        assert!(
            gap + 20 >= duration_millis(interval),
            "heartbeats {gap} ms apart, interval {interval:?}"
        );
    }
}

fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap()
}

#[tokio::test]
async fn subscribe_at_connect_delivers_from_the_first_publish() {
    let app = spawn_app().await;
    let (mut client, _) = app
        .connect("?jobs=a1,a2&queues=resume-analysis&workers=w1")
        .await;
    let mut confirmed = Vec::new();
    for _ in 0..4 {
        confirmed.push(
            client.next_named("subscribed", WAIT).await.unwrap().json()["channel"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        confirmed,
        ["job:a1", "job:a2", "queue:resume-analysis", "worker:w1"]
    );
    assert_eq!(app.numsub("job:a2"), 1);
    app.cli_publish("job:a2", r#"{"jobId":"a2","progress":1}"#);
    assert_eq!(
        client.next_named("job_update", WAIT).await.unwrap().json()["jobId"],
        "a2"
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_with_a_closing_event() {
    let app = spawn_app().await;
    let (mut first, _) = app.connect("").await;
    let (mut second, _) = app.connect("?jobs=j").await;
    app.shutdown.cancel();
    for client in [&mut first, &mut second] {
        let rest = client
            .until_end(Duration::from_secs(5))
            .await
            .expect("stream ends");
        let closing = rest
            .iter()
            .find(|e| e.event == "closing")
            .expect("closing event");
        assert_eq!(closing.json()["reason"], "shutdown");
    }
    tokio::time::timeout(Duration::from_secs(5), app.handle)
        .await
        .expect("process stops promptly")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = spawn_app_with(|c| c.cors_allowed_origins = "https://app.example.com".into()).await;
    let allowed = app
        .http
        .get(app.url("/api/v1/sse/stats"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = app
        .http
        .get(app.url("/api/v1/sse/stats"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let open = spawn_app().await;
    let any = open
        .http
        .get(open.url("/api/v1/sse/stats"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(any.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn the_demo_page_is_served_at_the_root() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("new EventSource(API + '/sse/connect"));
    assert!(page.contains("/resumes"));
}

/// A connection that opens with a stream request is served without the router (the
/// transport's lean path); it must answer as the router would: CORS, metrics, errors.
#[tokio::test]
async fn a_stream_request_on_a_fresh_connection_gets_cors_metrics_and_errors_as_any_request() {
    let app = spawn_app_with(|c| c.cors_allowed_origins = "https://app.example.com".into()).await;
    let url = app.url("/api/v1/sse/connect");
    // A client of its own: a fresh connection whose first request is the stream.
    let open = |origin: &'static str| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .header("origin", origin)
                .send()
                .await
                .unwrap()
        }
    };
    let allowed = open("https://app.example.com").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let other = open("https://evil.example.com").await;
    assert_eq!(other.status(), 200);
    assert!(other.headers().get("access-control-allow-origin").is_none());
    drop((allowed, other));

    let refused = reqwest::Client::new()
        .get(app.url("/api/v1/sse/connect?jobs=bad%20name"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_name");

    let series = |status: &str| {
        format!(
            r#"http_requests_total{{route="/api/v1/sse/connect",method="GET",status="{status}"}}"#
        )
    };
    assert_eq!(app.metric(&series("200")).await, 2.0);
    assert_eq!(app.metric(&series("400")).await, 1.0);
}
