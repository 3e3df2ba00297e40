//! Stream opens are rate limited per client address (the TCP peer, or the client named by
//! `X-Forwarded-For` when the peer is a trusted proxy) and per subject: past the burst, 429
//! `connect_rate_limited` with `Retry-After`.

use sse_gateway::auth::AuthMode;

use crate::helpers::{TestApp, spawn_app_with};
use crate::tokens::{jwt, token};

/// Opens a stream with `headers`; returns the status and, for a refusal, the error code and
/// `Retry-After`.
async fn open(app: &TestApp, headers: &[(&str, &str)]) -> (u16, Option<String>, Option<u64>) {
    let mut request = app.http.get(app.url("/api/v1/sse/connect"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        return (status, None, None);
    }
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["error"]["code"].as_str().map(str::to_owned);
    (status, code, retry)
}

/// A refusal: 429 `connect_rate_limited`, retry within the two seconds a stream's allowance
/// takes to come back at 0.5 per second.
fn assert_refused((status, code, retry): (u16, Option<String>, Option<u64>)) {
    assert_eq!(
        (status, code.as_deref()),
        (429, Some("connect_rate_limited"))
    );
    assert!(
        retry.is_some_and(|r| (1..=2).contains(&r)),
        "Retry-After {retry:?}"
    );
}

#[tokio::test]
async fn an_address_opening_streams_too_fast_gets_429_and_only_trusted_proxies_name_clients() {
    let app = spawn_app_with(|c| {
        c.limits.connect_rate_per_address = 0.5;
        c.limits.connect_burst_per_address = 3;
        c.limits.trusted_proxies = "127.0.0.0/8".into();
    })
    .await;
    let behind = |client: &'static str| [("x-forwarded-for", client)];
    for _ in 0..3 {
        assert_eq!(open(&app, &behind("203.0.113.1")).await.0, 200);
    }
    let (status, code, retry) = open(&app, &behind("203.0.113.1")).await;
    assert_eq!(
        (status, code.as_deref()),
        (429, Some("connect_rate_limited"))
    );
    assert!(
        retry.is_some_and(|r| (1..=2).contains(&r)),
        "Retry-After {retry:?}"
    );
    // Another client behind the same proxy has its own allowance; what a client wrote in
    // front of the proxy's entry is not believed.
    assert_eq!(open(&app, &behind("203.0.113.2")).await.0, 200);
    assert_eq!(
        open(&app, &behind("198.51.100.7, 203.0.113.1")).await.0,
        429
    );
    assert!(
        app.metric(r#"sse_limit_rejections_total{reason="connect_rate_limited"}"#)
            .await
            >= 2.0
    );

    // Without trusted proxies the header means nothing: every stream is the peer's.
    let direct = spawn_app_with(|c| {
        c.limits.connect_rate_per_address = 0.5;
        c.limits.connect_burst_per_address = 2;
    })
    .await;
    assert_eq!(open(&direct, &behind("203.0.113.10")).await.0, 200);
    assert_eq!(open(&direct, &behind("203.0.113.11")).await.0, 200);
    assert_refused(open(&direct, &behind("203.0.113.12")).await);
}

#[tokio::test]
async fn a_subject_opening_streams_too_fast_gets_429_on_its_own() {
    let app = spawn_app_with(|c| {
        jwt(c);
        assert_eq!(c.auth.auth_mode, AuthMode::Jwt);
        c.limits.connect_rate_per_address = 0.0;
        c.limits.connect_rate_per_subject = 0.5;
        c.limits.connect_burst_per_subject = 2;
    })
    .await;
    let alice = format!("Bearer {}", token("alice", Some("org-1"), &[]));
    let bob = format!("Bearer {}", token("bob", Some("org-1"), &[]));
    let as_alice = [("authorization", alice.as_str())];
    for _ in 0..2 {
        assert_eq!(open(&app, &as_alice).await.0, 200);
    }
    assert_refused(open(&app, &as_alice).await);
    assert_eq!(open(&app, &[("authorization", bob.as_str())]).await.0, 200);
}

/// Sends a stream request on a raw socket (no client library: hundreds of them at once).
async fn raw_stream_request(app: &TestApp, job: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = app.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET /api/v1/sse/connect?jobs={job} HTTP/1.1\r\nHost: x\r\n\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
}

/// Reads until the stream's `connected` event has arrived; returns what was read.
async fn until_connected(socket: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    while !String::from_utf8_lossy(&seen).contains("event: connected") {
        let read = tokio::time::timeout(crate::helpers::WAIT, socket.read(&mut buf))
            .await
            .expect("the stream opens")
            .unwrap();
        assert!(read > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..read]);
    }
    String::from_utf8(seen).unwrap()
}

#[tokio::test]
async fn a_burst_of_streams_is_opened_a_few_hundred_at_a_time_and_every_one_opens() {
    let app = spawn_app_with(|c| {
        c.limits.connect_rate_per_address = 0.0;
        // Redis is stopped for a moment below: its commands wait rather than fail.
        c.redis.redis_command_timeout = std::time::Duration::from_secs(20);
    })
    .await;
    let at_once = sse_gateway::limits::turns::OPENING_AT_ONCE;
    // Redis stops answering (SIGSTOP): every stream being opened waits on it.
    app.redis.pause();
    let mut sockets = Vec::new();
    for i in 0..at_once + 8 {
        sockets.push(raw_stream_request(&app, &format!("burst-{i}")).await);
    }
    crate::helpers::eventually("the streams beyond the turns wait for one", || async {
        app.metric("sse_stream_opens_waiting").await == 8.0
    })
    .await;
    app.redis.unpause();
    for socket in &mut sockets {
        let answer = until_connected(socket).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    }
    assert_eq!(app.metric("sse_stream_opens_waiting").await, 0.0);
}
