//! A stream lives no longer than its token: at `exp` (plus `JWT_LEEWAY`) it gets `closing`
//! with reason `token_expired` and ends; reconnecting with a fresh token resumes it without
//! loss, and a resume re-authorises every channel of the session against the new token.

use std::time::{Duration, Instant};

use serde_json::json;
use test_support::SseClient;

use crate::helpers::{TestApp, WAIT, collect, publish_seq, spawn_app_with};
use crate::tokens::{claims, jwt, now, sign, token};

/// `AUTH_MODE=jwt` without leeway, so tokens expire exactly at `exp`.
async fn strict_app(close_expired: bool) -> TestApp {
    spawn_app_with(|config| {
        jwt(config);
        config.auth.jwt_leeway = Duration::ZERO;
        config.auth.jwt_close_expired_streams = close_expired;
    })
    .await
}

fn expiring_in(seconds: i64, org: &str) -> String {
    let mut claims = claims("alice", Some(org), &[]);
    claims["exp"] = json!(now() + seconds);
    sign(&claims)
}

async fn resume_with(app: &TestApp, token: &str, last_id: &str) -> SseClient {
    let bearer = format!("Bearer {token}");
    SseClient::connect_with(
        &app.url("/api/v1/sse/connect"),
        &[("authorization", &bearer), ("last-event-id", last_id)],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires_and_resumes_with_a_fresh_one() {
    let app = strict_app(true).await;
    let short = expiring_in(2, "org-1");
    let opened = Instant::now();
    let (mut stream, id) = app.connect_as("?jobs=lifetime", &short).await;
    publish_seq(&app, "job:lifetime", 1).await;
    let first = collect(&mut stream, "job_update", 1).await.remove(0);
    let closing = stream.next_named("closing", WAIT).await.unwrap();
    let elapsed = opened.elapsed();
    assert_eq!(closing.json()["reason"], "token_expired");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "closed at the token's expiry, after {elapsed:?}"
    );
    assert!(
        stream.until_end(WAIT).await.is_ok(),
        "the stream ends after `closing`"
    );

    // Missed while away, then resumed with a fresh token: nothing lost, nothing twice.
    publish_seq(&app, "job:lifetime", 2).await;
    let fresh = token("alice", Some("org-1"), &[]);
    let mut resumed = resume_with(&app, &fresh, &first.id).await;
    let connected = resumed.next_event(WAIT).await.unwrap().json();
    assert_eq!(
        (
            connected["connectionId"].as_str(),
            connected["resumed"].as_bool()
        ),
        (Some(id.as_str()), Some(true))
    );
    let next = collect(&mut resumed, "job_update", 1).await.remove(0);
    assert_eq!(next.json()["seq"], 2);
}

#[tokio::test]
async fn with_expiry_closing_off_a_stream_outlives_its_token() {
    let app = strict_app(false).await;
    let short = expiring_in(1, "org-1");
    let (mut stream, _) = app.connect_as("?jobs=outlives", &short).await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    publish_seq(&app, "job:outlives", 1).await;
    let update = stream.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(update.json()["seq"], 1, "still open after exp");
}

#[tokio::test]
async fn a_resume_keeps_only_the_channels_the_new_token_may_watch() {
    let app = strict_app(true).await;
    let before = token("alice", Some("org-1"), &["monitor"]);
    let body = json!({
        "queueName": "resume-analysis", "jobName": "analyze-resume",
        "data": {"resumeId": "r", "fileUrl": "https://example.com/cv.pdf"},
        "opts": {"jobId": "org1-job"},
    });
    assert_eq!(
        app.post_json("/api/v1/queue/add", &body, Some(&before))
            .await
            .0,
        201
    );
    let (mut stream, id) = app
        .connect_as("?jobs=org1-job&queues=resume-analysis", &before)
        .await;
    let waiting = collect(&mut stream, "job_update", 1).await.remove(0);
    assert_eq!(waiting.json()["jobId"], "org1-job");
    drop(stream);
    app.wait_session_closed(&id).await;

    // Alice has moved to org-2: her new token no longer sees org-1's job.
    let after = token("alice", Some("org-2"), &["monitor"]);
    let mut resumed = resume_with(&app, &after, &waiting.id).await;
    let connected = resumed.next_event(WAIT).await.unwrap().json();
    assert_eq!(connected["resumed"], true);
    assert_eq!(connected["channels"], json!(["queue:resume-analysis"]));
    let members = app
        .redis
        .cli(&["SMEMBERS", &format!("sse:sess:{{{id}}}:ch")]);
    assert!(!members.contains("org1-job"), "left the session: {members}");
    publish_seq(&app, "job:org1-job", 1).await;
    publish_seq(&app, "queue:resume-analysis", 1).await;
    loop {
        let event = resumed.next_event(WAIT).await.unwrap();
        assert_ne!(
            event.event, "job_update",
            "nothing of org-1's job: {}",
            event.data
        );
        if event.event == "queue_update" && event.json()["seq"] == 1 {
            break;
        }
    }
}
