//! Tokens never reach logs or traces: the gateway binary runs with debug logs and an OTLP
//! exporter, is sent tokens in every place a token can come from (valid, expired, forged),
//! and neither its output nor any exported span holds a byte of them.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::json;
use test_support::{RedisServer, free_port};

use crate::helpers::eventually;
use crate::tokens::{AUDIENCE, ISSUER, SECRET, claims, sign, token};

type Exports = Arc<Mutex<Vec<u8>>>;

async fn collect(State(exports): State<Exports>, body: Bytes) -> &'static str {
    exports.lock().unwrap().extend_from_slice(&body);
    ""
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_reach_logs_or_spans() {
    let exports = Exports::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/v1/traces", post(collect))
        .with_state(exports.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let redis = RedisServer::start();
    let (http, admin) = (free_port(), free_port());
    let out = std::env::temp_dir().join(format!("gateway-secrets-{http}.log"));
    let log = std::fs::File::create(&out).unwrap();
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_sse-gateway"))
        .env("REDIS_URL", redis.url())
        .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("AUTH_MODE", "jwt")
        .env("JWT_SECRET", SECRET)
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .env("DRAIN_DELAY", "0s")
        .env("DRAIN_WINDOW", "100ms")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    eventually("the gateway is ready", || async {
        client
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;

    let mut expired = claims("alice", Some("org-1"), &[]);
    expired["exp"] = json!(crate::tokens::now() - 3600);
    let tokens = [
        token("alice", Some("org-1"), &["monitor"]),
        token("bob", Some("org-1"), &[]),
        token("carol", Some("org-2"), &[]),
        sign(&expired),
        format!("{}x", token("mallory", Some("org-1"), &[])),
    ];
    let base = format!("http://127.0.0.1:{http}/api/v1");
    for (n, secret) in tokens.iter().enumerate() {
        let traceparent = format!("00-{:032x}-{:016x}-01", n + 1, n + 1);
        let requests = [
            client.get(format!("{base}/sse/stats")).bearer_auth(secret),
            client.get(format!("{base}/jobs/j-{n}?access_token={secret}")),
            client
                .post(format!("{base}/sse/broadcast?access_token={secret}"))
                .json(&json!({"event": "x", "data": {}})),
            client
                .get(format!("{base}/workers"))
                .header("cookie", format!("access_token={secret}")),
            client.get(format!("{base}/nope?access_token={secret}")),
        ];
        for request in requests {
            let response = request
                .header("traceparent", &traceparent)
                .send()
                .await
                .unwrap();
            let body = response.text().await.unwrap();
            assert!(
                !body.contains(secret.as_str()),
                "an answer echoed a token: {body}"
            );
        }
        // A stream opened with the token in its URL, then closed.
        let stream = client
            .get(format!(
                "{base}/sse/connect?jobs=j-{n}&access_token={secret}"
            ))
            .send()
            .await
            .unwrap();
        drop(stream);
    }
    eventually("spans are exported", || async {
        exports.lock().unwrap().len() > 1000
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Command::new("kill")
        .args(["-TERM", &gateway.id().to_string()])
        .status()
        .unwrap();
    let _ = gateway.wait();

    let logs = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let spans = exports.lock().unwrap().clone();
    assert!(logs.len() > 1000, "debug logs were written");
    for secret in &tokens {
        // The signature alone is enough to replay nothing, but no part may leak: check each.
        for part in secret.split('.') {
            let part = part.as_bytes();
            assert!(!contains(&logs, part), "a token part is in the logs");
            assert!(
                !contains(&spans, part),
                "a token part is in an exported span"
            );
        }
    }
    assert!(
        !contains(&logs, b"access_token"),
        "a query string is in the logs"
    );
    assert!(
        !contains(&spans, b"access_token"),
        "a query string is in a span"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
