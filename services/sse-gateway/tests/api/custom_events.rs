//! Broadcasts and per-connection custom events, through Redis, across gateway pods.

use serde_json::json;
use test_support::SseClient;

use crate::helpers::{WAIT, spawn_app, spawn_app_with};

#[tokio::test]
async fn broadcast_reaches_every_stream_on_every_gateway() {
    let app = spawn_app().await;
    let (second, _stop) = app.second_gateway().await;
    let (mut a, _) = app.connect("").await;
    let mut b = SseClient::connect(&format!("{second}/api/v1/sse/connect"))
        .await
        .unwrap();
    b.next_named("connected", WAIT).await.unwrap();

    let (status, body) = app
        .post_json(
            "/api/v1/sse/broadcast",
            &json!({"event": "announcement", "data": {"message": "System update"}}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["pods"], 2,
        "both gateways are subscribed to the broadcast channel"
    );
    for client in [&mut a, &mut b] {
        let event = client.next_named("announcement", WAIT).await.unwrap();
        assert_eq!(event.json(), json!({"message": "System update"}));
    }
}

#[tokio::test]
async fn a_custom_event_reaches_only_its_connection_on_another_gateway() {
    let app = spawn_app().await;
    let (second, _stop) = app.second_gateway().await;
    let mut target = SseClient::connect(&format!("{second}/api/v1/sse/connect"))
        .await
        .unwrap();
    let target_id = target.next_named("connected", WAIT).await.unwrap().json()["connectionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut bystander, _) = app.connect("").await;

    // Posted to the first gateway; the stream lives on the second.
    let (status, _) = app
        .post_json(
            &format!("/api/v1/sse/{target_id}/events"),
            &json!({"event": "custom_event", "data": {"value": 42}}),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let event = target.next_named("custom_event", WAIT).await.unwrap();
    assert_eq!(event.json()["value"], 42);

    // The bystander sees the next broadcast but never the custom event before it.
    app.post_json(
        "/api/v1/sse/broadcast",
        &json!({"event": "marker", "data": {}}),
        None,
    )
    .await;
    let next = bystander.next_event(WAIT).await.unwrap();
    assert_eq!(next.event, "marker");
}

#[tokio::test]
async fn admin_token_protects_publishing_endpoints() {
    let app = spawn_app_with(|c| c.admin_token = Some("s3cret".into())).await;
    let (mut client, id) = app.connect("").await;
    let body = json!({"event": "note", "data": {"n": 1}});
    for token in [None, Some("wrong")] {
        let (status, error) = app.post_json("/api/v1/sse/broadcast", &body, token).await;
        assert_eq!(status, 401);
        assert_eq!(error["error"]["code"], "unauthorized");
        let (status, _) = app
            .post_json(&format!("/api/v1/sse/{id}/events"), &body, token)
            .await;
        assert_eq!(status, 401);
    }
    let (status, _) = app
        .post_json(&format!("/api/v1/sse/{id}/events"), &body, Some("s3cret"))
        .await;
    assert_eq!(status, 202);
    let event = client.next_named("note", WAIT).await.unwrap();
    assert_eq!(event.json()["n"], 1);
}
