//! Stateless pods: resume on any pod with Last-Event-ID, cross-pod subscribe, drain,
//! the publish API and cluster-wide stats.

use std::time::Duration;

use serde_json::json;
use test_support::SseClient;

use crate::helpers::{WAIT, eventually, publish_seq, spawn_app, spawn_app_with};

async fn next_seq(client: &mut SseClient) -> (u64, String) {
    let event = client.next_named("job_update", WAIT).await.unwrap();
    (event.json()["seq"].as_u64().unwrap(), event.id)
}

/// A stream on `job:{job}` that has received event 1; returns it and that event's SSE id.
async fn stream_after_first_event(app: &crate::helpers::TestApp, job: &str) -> (SseClient, String) {
    let (mut client, _) = app.connect(&format!("?jobs={job}")).await;
    client.next_named("subscribed", WAIT).await.unwrap();
    publish_seq(app, &format!("job:{job}"), 1).await;
    let (_, last_id) = next_seq(&mut client).await;
    (client, last_id)
}

#[tokio::test]
async fn a_stream_resumes_on_another_pod_with_every_missed_event_once() {
    let app = spawn_app().await;
    let (other, _stop) = app.second_gateway().await;
    let (mut client, id) = app.connect("?jobs=r1").await;
    client.next_named("subscribed", WAIT).await.unwrap();
    for seq in 1..=3 {
        publish_seq(&app, "job:r1", seq).await;
    }
    let mut last_id = String::new();
    for expected in 1..=3 {
        let (seq, event_id) = next_seq(&mut client).await;
        assert_eq!(seq, expected);
        assert!(
            event_id.starts_with(&format!("{id}:")),
            "SSE id names the connection: {event_id}"
        );
        last_id = event_id;
    }
    drop(client);
    app.wait_numsub("job:r1", 0).await;
    for seq in 4..=6 {
        publish_seq(&app, "job:r1", seq).await;
    }

    let url = format!("{other}/api/v1/sse/connect");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &last_id)])
        .await
        .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(connected.event, "connected");
    assert_eq!(
        connected.json()["connectionId"],
        id.as_str(),
        "same connection id"
    );
    assert_eq!(connected.json()["resumed"], true);
    assert_eq!(connected.json()["channels"], json!(["job:r1"]));
    let replayed: Vec<u64> = [
        next_seq(&mut resumed).await.0,
        next_seq(&mut resumed).await.0,
        next_seq(&mut resumed).await.0,
    ]
    .into();
    assert_eq!(replayed, [4, 5, 6], "missed events replayed in order");
    publish_seq(&app, "job:r1", 7).await;
    assert_eq!(
        next_seq(&mut resumed).await.0,
        7,
        "then live, no gap, no duplicate"
    );
    assert!(app.metric("sse_events_replayed_total").await >= 3.0);
    // Both gateways of this test share the process-wide recorder.
    assert!(app.metric(r#"sse_resumes_total{result="resumed"}"#).await >= 1.0);
}

#[tokio::test]
async fn a_channel_without_history_when_subscribed_replays_everything_it_got_since() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("?jobs=fresh-1,fresh-2").await;
    let subscribed = client.next_named("subscribed", WAIT).await.unwrap();
    client.next_named("subscribed", WAIT).await.unwrap();
    // Nothing was ever published on these channels; the stream drops before anything is.
    let last_id = if subscribed.id.is_empty() {
        format!("{id}:0")
    } else {
        subscribed.id.clone()
    };
    drop(client);
    app.wait_numsub("job:fresh-1", 0).await;
    for seq in 1..=3 {
        publish_seq(&app, "job:fresh-1", seq).await;
    }
    let url = app.url("/api/v1/sse/connect");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &last_id)])
        .await
        .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(connected.json()["resumed"], true);
    let mut replayed = Vec::new();
    for _ in 1..=3 {
        let event = resumed.next_event(WAIT).await.unwrap();
        assert_eq!(event.event, "job_update", "no resync: nothing was trimmed");
        replayed.push(event.json()["seq"].as_u64().unwrap());
    }
    assert_eq!(replayed, [1, 2, 3], "everything published while away");
    publish_seq(&app, "job:fresh-2", 1).await;
    let live = resumed.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(live.json()["jobId"], "fresh-2", "then live");
}

#[tokio::test]
async fn a_subscribe_posted_to_any_pod_reaches_the_stream() {
    let app = spawn_app().await;
    let (other, _stop) = app.second_gateway().await;
    let (mut client, id) = app.connect("").await;
    let response = app
        .http
        .post(format!("{other}/api/v1/sse/{id}/subscribe/job/cross"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["forwarded"], true);
    assert_eq!(body["delivered"], true);
    let subscribed = client.next_named("subscribed", WAIT).await.unwrap();
    assert_eq!(subscribed.json()["channel"], "job:cross");
    assert_eq!(app.numsub("job:cross"), 1, "only the owner pod subscribes");
    publish_seq(&app, "job:cross", 1).await;
    assert_eq!(next_seq(&mut client).await.0, 1);

    let response = app
        .http
        .post(format!("{other}/api/v1/sse/{id}/unsubscribe/job/cross"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    client.next_named("unsubscribed", WAIT).await.unwrap();
    app.wait_numsub("job:cross", 0).await;

    let unknown = uuid::Uuid::new_v4();
    let response = app
        .http
        .post(format!("{other}/api/v1/sse/{unknown}/subscribe/job/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_gap_older_than_history_sends_resync() {
    let app = spawn_app().await;
    let (client, last_id) = stream_after_first_event(&app, "old").await;
    drop(client);
    app.wait_numsub("job:old", 0).await;
    publish_seq(&app, "job:old", 2).await;
    // History expired while the client was away.
    app.redis.cli(&["DEL", "sse:hist:{job:old}"]);
    let mut resumed = SseClient::connect_with(
        &app.url("/api/v1/sse/connect"),
        &[("last-event-id", &last_id)],
    )
    .await
    .unwrap();
    let resync = resumed.next_named("resync", WAIT).await.unwrap();
    assert_eq!(resync.json()["channels"], json!(["job:old"]));
    assert!(app.metric("sse_resyncs_total").await >= 1.0);
}

#[tokio::test]
async fn an_unknown_last_event_id_starts_a_fresh_stream() {
    let app = spawn_app().await;
    let stale = format!("{}:9", uuid::Uuid::new_v4());
    let mut client = SseClient::connect_with(
        &app.url("/api/v1/sse/connect?jobs=a"),
        &[("last-event-id", &stale)],
    )
    .await
    .unwrap();
    let connected = client.next_event(WAIT).await.unwrap().json();
    assert_eq!(connected["resumed"], false);
    assert_ne!(connected["connectionId"], stale.split(':').next().unwrap());
}

#[tokio::test]
async fn plain_publishes_are_live_only_and_carry_no_id() {
    let app = spawn_app().await;
    let (mut client, _) = app.connect("?jobs=plain").await;
    client.next_named("subscribed", WAIT).await.unwrap();
    app.cli_publish("job:plain", r#"{"jobId":"plain","progress":1}"#);
    let event = client.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(event.id, "", "no history, no id");
}

#[tokio::test]
async fn shutdown_drains_readiness_first_then_closes_streams_gracefully() {
    let app = spawn_app_with(|c| {
        c.drain_delay = Duration::from_millis(800);
        c.drain_window = Duration::from_millis(400);
    })
    .await;
    let (mut client, id) = app.connect("?jobs=d").await;
    client.next_named("subscribed", WAIT).await.unwrap();
    app.shutdown.cancel();
    eventually("readiness fails at once", || async {
        app.ready_status().await == 503
    })
    .await;
    let refused = app
        .http
        .get(app.url("/api/v1/sse/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().get("retry-after").is_some());
    // Streams still flow during the delay.
    publish_seq(&app, "job:d", 1).await;
    assert_eq!(next_seq(&mut client).await.0, 1);
    let rest = client.until_end(Duration::from_secs(5)).await.unwrap();
    let closing = rest
        .iter()
        .find(|e| e.event == "closing")
        .expect("closing event");
    assert_eq!(closing.json()["reason"], "shutdown");
    assert!(closing.retry.is_some(), "a jittered retry comes with it");
    // The final position is in the session for a resume elsewhere.
    eventually("position written", || async {
        app.redis
            .cli(&["HGET", &format!("sse:sess:{{{id}}}"), "closedAt"])
            .parse::<u64>()
            .is_ok()
    })
    .await;
}

#[tokio::test]
async fn a_drain_tells_each_stream_to_come_back_within_half_a_retry_of_its_close() {
    let retry = Duration::from_millis(1000);
    let app = spawn_app_with(|c| {
        c.drain_delay = Duration::from_millis(100);
        c.drain_window = Duration::from_millis(300);
        c.sse_retry = retry;
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..12 {
        let (mut client, _) = app.connect(&format!("?jobs=spread-{i}")).await;
        client.next_named("subscribed", WAIT).await.unwrap();
        clients.push(client);
    }
    app.shutdown.cancel();
    let mut retries = Vec::new();
    for client in &mut clients {
        let rest = client.until_end(Duration::from_secs(5)).await.unwrap();
        let closing = rest.iter().find(|e| e.event == "closing").expect("closing");
        retries.push(closing.retry.expect("a retry with the closing event"));
    }
    // The window spreads the reconnects; the jitter stays within 1–1.5 × SSE_RETRY, so the
    // last client is back soon after the window ends.
    for got in &retries {
        assert!(
            *got >= retry && *got <= retry * 3 / 2,
            "retry {got:?} outside 1–1.5 × {retry:?}: {retries:?}"
        );
    }
    assert!(
        retries.iter().any(|r| *r != retries[0]),
        "the retries are jittered: {retries:?}"
    );
}

#[tokio::test]
async fn the_publish_api_writes_history_and_reaches_subscribers() {
    let app = spawn_app_with(|c| c.admin_token = Some("pub-token".into())).await;
    let (mut client, _) = app.connect("?jobs=api").await;
    client.next_named("subscribed", WAIT).await.unwrap();
    let (status, _) = app
        .post_json("/api/v1/publish/job/api", &json!({"progress": 1}), None)
        .await;
    assert_eq!(status, 401);
    let (status, body) = app
        .post_json(
            "/api/v1/publish/job/api",
            &json!({"type": "job_update", "jobId": "api", "progress": 10}),
            Some("pub-token"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let event_id = body["eventId"].as_str().unwrap().to_owned();
    let event = client.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(event.json()["eventId"], event_id.as_str());
    assert_eq!(event.json()["progress"], 10);
    assert!(!event.id.is_empty(), "replayable events carry an SSE id");

    let batch = json!({"events": [
        {"channel": "job:api", "data": {"type": "job_update", "jobId": "api", "progress": 20}},
        {"channel": "job:api", "data": {"type": "job_update", "jobId": "api", "progress": 30}}
    ]});
    let (status, body) = app
        .post_json("/api/v1/publish", &batch, Some("pub-token"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        client.next_named("job_update", WAIT).await.unwrap().json()["progress"],
        20
    );
    assert_eq!(
        client.next_named("job_update", WAIT).await.unwrap().json()["progress"],
        30
    );
    let bad = json!({"events": [{"channel": "job:ok", "data": {}}, {"channel": "nope", "data": {}}, {"channel": "job:x", "data": [1]}]});
    let (status, body) = app
        .post_json("/api/v1/publish", &bad, Some("pub-token"))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["fields"][0]["field"], "events[1].channel");
    assert_eq!(body["error"]["fields"][1]["field"], "events[2].data");
    assert_eq!(
        app.redis.cli(&["XLEN", "sse:hist:{job:ok}"]),
        "0",
        "nothing of a rejected batch is published"
    );
    let (status, _) = app
        .post_json("/api/v1/publish/job/api", &json!([1]), Some("pub-token"))
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn stats_sum_every_pod() {
    let app = spawn_app().await;
    let (other, _stop) = app.second_gateway().await;
    let (_a, _) = app.connect("?jobs=s1").await;
    let mut b = SseClient::connect(&format!("{other}/api/v1/sse/connect?jobs=s2,s3"))
        .await
        .unwrap();
    b.next_named("connected", WAIT).await.unwrap();
    eventually("both pods reported", || async {
        let (_, stats) = app.get_json("/api/v1/sse/stats").await;
        stats["totalConnections"] == 2 && stats["totalJobSubscriptions"] == 3
    })
    .await;
    let (_, stats) = app.get_json("/api/v1/sse/stats").await;
    assert_eq!(stats["pods"].as_array().unwrap().len(), 2);
    assert_eq!(
        stats["connections"].as_array().unwrap().len(),
        1,
        "connections list this pod's streams"
    );
}

#[tokio::test]
async fn streams_older_than_max_connection_age_are_closed_to_rebalance() {
    let app = spawn_app_with(|c| c.max_connection_age = Duration::from_millis(300)).await;
    let (mut client, _) = app.connect("").await;
    let rest = client.until_end(Duration::from_secs(5)).await.unwrap();
    let closing = rest
        .iter()
        .find(|e| e.event == "closing")
        .expect("closing event");
    assert_eq!(closing.json()["reason"], "max_age");
    assert!(closing.retry.is_some());
}

#[tokio::test]
async fn a_client_back_before_its_old_stream_was_noticed_closed_gets_what_it_missed() {
    let app = spawn_app().await;
    let (old, last_id) = stream_after_first_event(&app, "takeover-1").await;
    // The old stream is still open here (its client has not gone yet) when the event it will
    // miss is published, and when the client comes back with its Last-Event-ID.
    publish_seq(&app, "job:takeover-1", 2).await;
    let url = app.url("/api/v1/sse/connect");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &last_id)])
        .await
        .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(connected.json()["resumed"], true);
    assert_eq!(next_seq(&mut resumed).await.0, 2, "the missed event");
    publish_seq(&app, "job:takeover-1", 3).await;
    assert_eq!(next_seq(&mut resumed).await.0, 3, "then live");
    drop(old);
}

#[tokio::test]
async fn a_forged_event_id_in_last_event_id_is_no_error() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("?jobs=forged-1").await;
    client.next_named("subscribed", WAIT).await.unwrap();
    drop(client);
    app.wait_numsub("job:forged-1", 0).await;
    let url = app.url("/api/v1/sse/connect");
    // The largest history id there is: nothing can come after it, and Redis refuses a range
    // starting after it.
    let forged = format!("{id}:1:18446744073709551615-18446744073709551615");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &forged)])
        .await
        .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(connected.json()["resumed"], true);
    publish_seq(&app, "job:forged-1", 1).await;
    let live = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(live.event, "job_update", "live events follow: {live:?}");
}

#[tokio::test]
async fn a_resume_cannot_grow_a_stream_past_its_channel_limit() {
    let app = crate::helpers::spawn_app_with(|c| c.limits.max_subscriptions_per_stream = 2).await;
    // A query naming far more channels than allowed is refused (read only up to the limit).
    let many: Vec<String> = (0..1_000).map(|n| format!("j{n}")).collect();
    let response = app
        .http
        .get(app.url(&format!("/api/v1/sse/connect?jobs={}", many.join(","))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_channels");

    let (mut stream, _) = app.connect("?jobs=a,b").await;
    crate::helpers::publish_seq(&app, "job:a", 1).await;
    let last = stream.next_named("job_update", WAIT).await.unwrap().id;
    drop(stream);
    let url = app.url("/api/v1/sse/connect?jobs=a,b,c");
    let response = app
        .http
        .get(&url)
        .header("last-event-id", &last)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "a third channel on resume");
    // The session is untouched: the same stream resumes with what it had.
    let mut resumed = SseClient::connect_with(
        &app.url("/api/v1/sse/connect?jobs=a"),
        &[("last-event-id", &last)],
    )
    .await
    .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap().json();
    assert_eq!(connected["resumed"], true);
    assert_eq!(connected["channels"].as_array().map(Vec::len), Some(2));
}
