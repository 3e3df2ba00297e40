//! Subscribe/unsubscribe, one Redis subscription per channel per process, stats, channels.

use crate::helpers::{WAIT, spawn_app};

#[tokio::test]
async fn two_streams_share_one_redis_subscription_released_by_the_last() {
    let app = spawn_app().await;
    let (mut a, id_a) = app.connect("").await;
    let (mut b, id_b) = app.connect("").await;
    app.subscribe(&mut a, &id_a, "job", "X").await;
    app.subscribe(&mut b, &id_b, "job", "X").await;
    assert_eq!(
        app.numsub("job:X"),
        1,
        "one Redis subscription for two streams"
    );

    app.cli_publish("job:X", r#"{"jobId":"X","progress":10}"#);
    assert_eq!(
        a.next_named("job_update", WAIT).await.unwrap().json()["progress"],
        10
    );
    assert_eq!(
        b.next_named("job_update", WAIT).await.unwrap().json()["progress"],
        10
    );

    let (status, body) = app
        .post(&format!("/api/v1/sse/{id_a}/unsubscribe/job/X"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["changed"], true);
    let event = a.next_named("unsubscribed", WAIT).await.unwrap();
    assert_eq!(event.json()["jobId"], "X");
    assert_eq!(app.numsub("job:X"), 1, "still wanted by the second stream");

    app.cli_publish("job:X", r#"{"jobId":"X","progress":20}"#);
    assert_eq!(
        b.next_named("job_update", WAIT).await.unwrap().json()["progress"],
        20
    );

    let (status, _) = app
        .post(&format!("/api/v1/sse/{id_b}/unsubscribe/job/X"))
        .await;
    assert_eq!(status, 200);
    app.wait_numsub("job:X", 0).await;
    let (_, channels) = app.get_json("/api/v1/sse/channels").await;
    assert_eq!(channels["totalChannels"], 0);
}

#[tokio::test]
async fn a_closed_stream_releases_its_subscriptions() {
    let app = spawn_app().await;
    let (mut a, id) = app.connect("").await;
    app.subscribe(&mut a, &id, "queue", "q1").await;
    assert_eq!(app.numsub("queue:q1"), 1);
    drop(a);
    app.wait_numsub("queue:q1", 0).await;
    // The session stays resumable: a subscribe is recorded for the resume, not applied live.
    let (status, body) = app.post(&format!("/api/v1/sse/{id}/subscribe/job/1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["forwarded"], true);
    assert_eq!(app.numsub("job:1"), 0, "no stream holds it now");
    let members = app
        .redis
        .cli(&["SMEMBERS", &format!("sse:sess:{{{id}}}:ch")]);
    assert!(
        members.contains("job:1") && members.contains("queue:q1"),
        "{members}"
    );
}

#[tokio::test]
async fn unsubscribed_stream_no_longer_gets_events() {
    let app = spawn_app().await;
    let (mut a, id) = app.connect("").await;
    app.subscribe(&mut a, &id, "job", "j1").await;
    app.subscribe(&mut a, &id, "job", "j2").await;
    app.post(&format!("/api/v1/sse/{id}/unsubscribe/job/j1"))
        .await;
    a.next_named("unsubscribed", WAIT).await.unwrap();
    app.cli_publish("job:j1", r#"{"jobId":"j1","progress":1}"#);
    app.cli_publish("job:j2", r#"{"jobId":"j2","progress":2}"#);
    let event = a.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(event.json()["jobId"], "j2", "j1's event was not delivered");
}

#[tokio::test]
async fn subscribing_twice_is_idempotent() {
    let app = spawn_app().await;
    let (mut a, id) = app.connect("").await;
    app.subscribe(&mut a, &id, "worker", "w-1").await;
    let (status, body) = app
        .post(&format!("/api/v1/sse/{id}/subscribe/worker/w-1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["changed"], false);
    a.next_named("subscribed", WAIT).await.unwrap();
    app.cli_publish("worker:w-1", r#"{"workerId":"w-1","status":"idle"}"#);
    a.next_named("worker_status", WAIT).await.unwrap();
    let (_, stats) = app.get_json("/api/v1/sse/stats").await;
    assert_eq!(
        stats["connections"][0]["workers"],
        serde_json::json!(["w-1"])
    );
}

#[tokio::test]
async fn stats_and_channels_report_the_original_fields() {
    let app = spawn_app().await;
    let (mut a, id_a) = app.connect("").await;
    let (mut b, id_b) = app.connect("").await;
    app.subscribe(&mut a, &id_a, "job", "j1").await;
    app.subscribe(&mut a, &id_a, "queue", "resume-analysis")
        .await;
    app.subscribe(&mut b, &id_b, "job", "j1").await;
    app.subscribe(&mut b, &id_b, "job", "j2").await;
    app.subscribe(&mut b, &id_b, "worker", "w-1").await;

    let (status, stats) = app.get_json("/api/v1/sse/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["totalConnections"], 2);
    assert_eq!(stats["totalJobSubscriptions"], 3);
    assert_eq!(stats["totalQueueSubscriptions"], 1);
    assert_eq!(stats["totalWorkerSubscriptions"], 1);
    let pods = stats["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["totalJobSubscriptions"], 3);
    assert_eq!(pods[0]["totalWorkerSubscriptions"], 1);
    let connections = stats["connections"].as_array().unwrap();
    let first = connections
        .iter()
        .find(|c| c["connectionId"] == id_a.as_str())
        .unwrap();
    assert_eq!(first["jobs"], serde_json::json!(["j1"]));
    assert_eq!(first["queues"], serde_json::json!(["resume-analysis"]));
    assert!(first["connectedAt"].as_u64().unwrap() > 1_700_000_000_000);

    let (status, channels) = app.get_json("/api/v1/sse/channels").await;
    assert_eq!(status, 200);
    let list = channels["channels"].as_array().unwrap();
    let j1 = list.iter().find(|c| c["channel"] == "job:j1").unwrap();
    assert_eq!(j1["subscribers"], 2);
    assert_eq!(j1["kind"], "job");
    assert_eq!(channels["totalChannels"], 4);
    let redis: Vec<&str> = channels["redisSubscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(redis.contains(&"job:j2") && redis.contains(&"sse:broadcast"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribes_racing_a_closing_stream_leave_no_route_or_redis_subscription_behind() {
    let app = spawn_app().await;
    let mut racing = Vec::new();
    for i in 0..200 {
        let (client, id) = app.connect("").await;
        let url = app.url(&format!("/api/v1/sse/{id}/subscribe/job/race-{i}"));
        let http = app.http.clone();
        let post = tokio::spawn(async move { http.post(url).send().await.map(|r| r.status()) });
        // The stream goes away while its subscribe is under way (after a varying head start).
        if i % 2 == 0 {
            tokio::task::yield_now().await;
        }
        drop(client);
        racing.push(post);
    }
    for post in racing {
        let _ = post.await;
    }
    crate::helpers::eventually("no channel is routed to a closed stream", || async {
        let (_, body) = app.get_json("/api/v1/sse/channels").await;
        body["totalChannels"] == 0
    })
    .await;
    for i in 0..200 {
        app.wait_numsub(&format!("job:race-{i}"), 0).await;
    }
}
