//! Sockets that never become requests: silent ones, request heads that trickle and never end,
//! bodies that stall, keep-alive connections left idle. Each is closed by its deadline
//! (`HEADER_READ_TIMEOUT` from accept for a request head, `REQUEST_TIMEOUT` for a request),
//! counted, and the live streams meanwhile lose nothing; beyond `MAX_PENDING_CONNECTIONS`
//! new sockets are closed at once.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, collect, eventually, publish_seq, spawn_app_with};

const DEADLINE: Duration = Duration::from_secs(1);

fn port(app: &TestApp) -> u16 {
    app.base.rsplit(':').next().unwrap().parse().unwrap()
}

/// Established TCP connections whose local port is `port` (the server's side of each).
fn established(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1].ends_with(&wanted) && fields[3] == "01"
        })
        .count()
}

/// Waits until the server closes `socket` (reading whatever it answers first); returns when.
async fn closed_by_server(mut socket: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            socket.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn silent_trickling_and_idle_sockets_are_closed_by_their_deadlines() {
    let app = spawn_app_with(|c| {
        c.limits.header_read_timeout = DEADLINE;
        c.request_timeout = DEADLINE;
    })
    .await;
    let addr = format!("127.0.0.1:{}", port(&app));
    let (mut live, _) = app.connect("?jobs=live").await;
    let baseline = established(port(&app));

    let mut attackers: Vec<(&str, TcpStream)> = Vec::new();
    for _ in 0..10 {
        attackers.push(("silent", TcpStream::connect(&addr).await.unwrap()));
    }
    let heads: [(&str, &[u8]); 4] = [
        ("first byte only", b"G"),
        (
            "stream head without its end",
            b"GET /api/v1/sse/connect HTTP/1.1\r\nHost: x\r\n",
        ),
        (
            "other head without its end",
            b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n",
        ),
        (
            "stalled body",
            b"POST /api/v1/queue/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        ),
    ];
    for (name, bytes) in heads {
        for _ in 0..5 {
            let mut socket = TcpStream::connect(&addr).await.unwrap();
            socket.write_all(bytes).await.unwrap();
            attackers.push((name, socket));
        }
    }
    // A keep-alive connection that made one request and then says nothing more.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    attackers.push(("idle keep-alive", idle));
    assert_eq!(
        established(port(&app)),
        baseline + attackers.len(),
        "every socket is open at first"
    );

    // Trickling heads keep sending a byte every 200 ms: the deadline runs from accept, not
    // from the last byte.
    let trickle = tokio::spawn({
        let addr = addr.clone();
        async move {
            let mut socket = TcpStream::connect(&addr).await.unwrap();
            socket.write_all(b"GET /api/v1/sse/connect").await.unwrap();
            let started = Instant::now();
            while socket.write_all(b"a").await.is_ok() && started.elapsed() < DEADLINE * 6 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            started.elapsed()
        }
    });
    let events = tokio::spawn({
        let publisher = app.publisher();
        async move {
            let channel = progress_contract::Channel::parse("job:live").unwrap();
            for n in 1..=20u64 {
                let event = serde_json::json!({"type": "job_update", "jobId": "live", "seq": n});
                publisher
                    .publish_event(&channel, &event.to_string())
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });

    let limit = DEADLINE + Duration::from_secs(2);
    let mut closings = Vec::new();
    for (name, socket) in attackers {
        closings.push(tokio::spawn(async move {
            (name, closed_by_server(socket, limit).await)
        }));
    }
    for closing in closings {
        let (name, after) = closing.await.unwrap();
        assert!(
            after.is_some(),
            "a {name} socket was still open after {limit:?}"
        );
    }
    let trickled = trickle.await.unwrap();
    assert!(
        trickled < limit,
        "a head trickling a byte at a time was cut after {trickled:?}"
    );
    events.await.unwrap();
    let seqs: Vec<u64> = collect(&mut live, "job_update", 20)
        .await
        .iter()
        .map(|e| e.json()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=20).collect::<Vec<_>>(),
        "the live stream lost nothing"
    );
    assert!(
        app.metric(r#"http_sockets_closed_total{reason="header_timeout"}"#)
            .await
            >= 27.0,
        "silent, trickling and idle sockets are counted"
    );
    eventually(
        "the server's sockets are back to the live stream's",
        || async { established(port(&app)) == baseline },
    )
    .await;
}

#[tokio::test]
async fn beyond_the_pending_limit_new_sockets_are_closed_at_once() {
    let app = spawn_app_with(|c| {
        c.limits.max_pending_connections = 5;
        c.limits.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let addr = format!("127.0.0.1:{}", port(&app));
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    eventually("five sockets wait for their heads", || async {
        established(port(&app)) == 5
    })
    .await;
    let extra = TcpStream::connect(&addr).await.unwrap();
    let after = closed_by_server(extra, Duration::from_secs(5)).await;
    assert!(
        after.is_some_and(|a| a < Duration::from_secs(2)),
        "closed at once: {after:?}"
    );
    assert_eq!(
        app.metric(r#"http_sockets_closed_total{reason="pending_limit"}"#)
            .await,
        1.0
    );
    // Once they leave, streams open again, and an open stream holds no place.
    drop(silent);
    eventually("the places are given back", || async {
        established(port(&app)) == 0
    })
    .await;
    let mut streams = Vec::new();
    for _ in 0..8 {
        streams.push(app.connect("?jobs=after").await.0);
    }
    publish_seq(&app, "job:after", 1).await;
    for stream in &mut streams {
        assert_eq!(collect(stream, "job_update", 1).await.len(), 1);
    }
}
