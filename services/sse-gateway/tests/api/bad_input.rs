//! Bad input gets a JSON error with the right status and changes nothing.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

fn assert_error(status: u16, body: &serde_json::Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error has a message: {body}"
    );
}

async fn snapshot(app: &TestApp) -> (serde_json::Value, i64) {
    let (_, stats) = app.get_json("/api/v1/sse/stats").await;
    (stats["connections"].clone(), app.numsub("job:ok"))
}

#[tokio::test]
async fn malformed_subscription_requests_are_rejected_without_effect() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("").await;
    app.subscribe(&mut client, &id, "job", "ok").await;
    let before = snapshot(&app).await;

    let (status, body) = app.post("/api/v1/sse/not-a-uuid/subscribe/job/1").await;
    assert_error(status, &body, 400, "invalid_connection_id");

    let unknown = uuid::Uuid::new_v4();
    let (status, body) = app
        .post(&format!("/api/v1/sse/{unknown}/subscribe/job/1"))
        .await;
    assert_error(status, &body, 404, "connection_not_found");
    let (status, body) = app
        .post(&format!("/api/v1/sse/{unknown}/unsubscribe/queue/q"))
        .await;
    assert_error(status, &body, 404, "connection_not_found");

    for bad in ["has%20space", "semi;colon", "%C3%A9", &"x".repeat(257)] {
        let (status, body) = app
            .post(&format!("/api/v1/sse/{id}/subscribe/job/{bad}"))
            .await;
        assert_error(status, &body, 400, "invalid_name");
    }
    let (status, body) = app
        .post(&format!("/api/v1/sse/{id}/subscribe/queue/a%2Fb"))
        .await;
    assert_error(status, &body, 400, "invalid_name");

    let (status, body) = app
        .post(&format!("/api/v1/sse/{id}/subscribe/planet/mars"))
        .await;
    assert_error(status, &body, 404, "route_not_found");

    assert_eq!(
        snapshot(&app).await,
        before,
        "no request above changed any state"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/nope").await;
    assert_error(status, &body, 404, "route_not_found");
    let (status, body) = app.get_json("/api/v1/sse/unknown/thing").await;
    assert_error(status, &body, 404, "route_not_found");
    let (status, body) = app.post("/api/v1/sse/stats").await;
    assert_error(status, &body, 405, "method_not_allowed");
}

#[tokio::test]
async fn connect_with_invalid_channel_list_is_rejected() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/v1/sse/connect?jobs=ok,bad%20id"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_name");
    let (_, stats) = app.get_json("/api/v1/sse/stats").await;
    assert_eq!(stats["totalConnections"], 0);
    assert_eq!(app.numsub("job:ok"), 0);
}

#[tokio::test]
async fn malformed_event_bodies_are_rejected() {
    let app = spawn_app().await;
    let raw = app
        .http
        .post(app.url("/api/v1/sse/broadcast"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    let (status, body) = app
        .post_json("/api/v1/sse/broadcast", &json!({"data": 1}), None)
        .await;
    assert_error(status, &body, 422, "invalid_fields");
    let (status, body) = app
        .post_json(
            "/api/v1/sse/broadcast",
            &json!({"event": "job_update", "data": {}}),
            None,
        )
        .await;
    assert_error(status, &body, 422, "invalid_event_name");
    let (status, body) = app
        .post_json(
            "/api/v1/sse/broadcast",
            &json!({"event": "ok", "data": {}, "extra": 1}),
            None,
        )
        .await;
    assert_error(status, &body, 422, "invalid_fields");
    let huge = json!({"event": "big", "data": "x".repeat(70_000)});
    let (status, body) = app.post_json("/api/v1/sse/broadcast", &huge, None).await;
    assert_error(status, &body, 413, "body_too_large");
    let (status, body) = app
        .post_json("/api/v1/sse/nope/events", &json!({"event": "ok"}), None)
        .await;
    assert_error(status, &body, 400, "invalid_connection_id");
}
