//! Faults: Redis restarts, bad messages, slow clients.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{WAIT, collect, eventually, spawn_app, spawn_app_with};

#[tokio::test]
async fn delivery_resumes_after_redis_is_killed_and_restarted() {
    let mut app = spawn_app().await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "job", "survivor").await;

    app.redis.kill();
    eventually("readiness reports Redis down", || async {
        app.ready_status().await == 503
    })
    .await;
    app.redis.restart();
    // The gateway re-subscribes on its own; nothing restarts it.
    app.wait_numsub("job:survivor", 1).await;
    eventually("readiness recovers", || async {
        app.ready_status().await == 200
    })
    .await;

    app.cli_publish("job:survivor", r#"{"jobId":"survivor","progress":99}"#);
    let event = client
        .next_named("job_update", WAIT)
        .await
        .expect("delivery resumed");
    assert_eq!(event.json()["progress"], 99);

    // New subscriptions work too.
    app.subscribe(&mut client, &id, "job", "after").await;
    assert_eq!(app.numsub("job:after"), 1);
    assert!(app.metric("sse_redis_reconnects_total").await >= 1.0);
}

#[tokio::test]
async fn delivery_resumes_after_the_pubsub_connection_is_killed() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "queue", "q").await;
    let killed = app.redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_ne!(killed, "0", "a pub/sub connection was killed");
    app.wait_numsub("queue:q", 1).await;
    app.cli_publish("queue:q", r#"{"queueName":"q","waiting":3}"#);
    let event = client.next_named("queue_update", WAIT).await.unwrap();
    assert_eq!(event.json()["waiting"], 3);
}

#[tokio::test]
async fn malformed_and_oversized_messages_are_dropped_and_counted() {
    let app = spawn_app_with(|c| c.max_event_bytes = 1024).await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "job", "j").await;
    let malformed = app
        .metric(r#"sse_events_dropped_total{reason="malformed"}"#)
        .await;
    let oversize = app
        .metric(r#"sse_events_dropped_total{reason="oversize"}"#)
        .await;

    app.cli_publish("job:j", "not json at all");
    app.cli_publish("job:j", r#"{"truncated":"#);
    app.cli_publish("job:j", "[1,2,3]");
    app.cli_publish("job:j", &format!(r#"{{"pad":"{}"}}"#, "x".repeat(2000)));
    app.cli_publish("job:j", r#"{"jobId":"j","progress":3}"#);

    let event = client.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(event.json()["progress"], 3, "only the valid event arrives");
    assert_eq!(
        app.metric(r#"sse_events_dropped_total{reason="malformed"}"#)
            .await
            - malformed,
        3.0
    );
    assert_eq!(
        app.metric(r#"sse_events_dropped_total{reason="oversize"}"#)
            .await
            - oversize,
        1.0
    );
}

#[tokio::test]
async fn a_stalled_reader_does_not_delay_a_fast_one_and_is_closed() {
    let app = spawn_app_with(|c| {
        c.client_buffer_events = 8;
        c.slow_client_grace = Duration::from_millis(300);
    })
    .await;
    // A client that sends its request and then never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = app.base.trim_start_matches("http://").parse().unwrap();
    let mut stalled = socket.connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /api/v1/sse/connect?jobs=hot HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let (mut fast, _) = app.connect("?jobs=hot").await;
    fast.next_named("subscribed", WAIT).await.unwrap();
    app.wait_numsub("job:hot", 1).await;
    eventually("both streams open", || async {
        app.get_json("/api/v1/sse/stats").await.1["totalConnections"] == 2
    })
    .await;

    let events = 300;
    let padding = "p".repeat(50_000);
    let publisher = async {
        for seq in 0..events {
            app.publish_raw(
                "job:hot",
                format!(r#"{{"jobId":"hot","seq":{seq},"pad":"{padding}"}}"#),
            )
            .await;
        }
    };
    let reader = collect(&mut fast, "job_update", events);
    let ((), received) = tokio::join!(publisher, reader);
    let order: Vec<u64> = received
        .iter()
        .map(|e| e.json()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        order,
        (0..events as u64).collect::<Vec<_>>(),
        "the fast reader got every event in order"
    );

    eventually("the stalled client is evicted", || async {
        app.metric(r#"sse_connections_closed_total{reason="slow_consumer"}"#)
            .await
            >= 1.0
    })
    .await;
    eventually("and its connection is gone", || async {
        app.get_json("/api/v1/sse/stats").await.1["totalConnections"] == 1
    })
    .await;
    assert!(
        app.metric(r#"sse_events_dropped_total{reason="slow_consumer"}"#)
            .await
            >= 1.0
    );
    // Its socket was cut: reading drains what the kernel held, then hits the end.
    let mut sink = vec![0u8; 1 << 16];
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match stalled.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stalled socket was closed by the server");
}
