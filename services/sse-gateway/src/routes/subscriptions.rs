//! `POST /api/v1/sse/{connectionId}/(un)subscribe/{job|queue|worker}/{id}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use progress_contract::{Channel, ChannelKind};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use crate::error::ApiError;
use crate::metrics as m;

type SubscriptionPath = Result<Path<(String, String, String)>, PathRejection>;

/// Validates the path in the order a client would fix it; no state changes on error.
fn parse(path: SubscriptionPath) -> Result<(Uuid, Channel), ApiError> {
    let Path((connection_id, kind, id)) = path?;
    let connection_id = parse_connection_id(&connection_id)?;
    let kind = ChannelKind::from_word(&kind).ok_or_else(ApiError::route_not_found)?;
    let channel = Channel::new(kind, &id)
        .map_err(|e| ApiError::bad_request("invalid_name", e.to_string()))?;
    Ok((connection_id, channel))
}

pub fn parse_connection_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::bad_request("invalid_connection_id", "connectionId must be a UUID"))
}

fn record(action: &'static str, result: &'static str) {
    metrics::counter!(m::SUBSCRIBE_REQUESTS, "action" => action, "result" => result).increment(1);
}

pub async fn subscribe(
    State(state): State<AppState>,
    path: SubscriptionPath,
) -> Result<Json<Value>, ApiError> {
    let (connection_id, channel) = parse(path).inspect_err(|_| record("subscribe", "invalid"))?;
    let added = state
        .hub
        .subscribe(&connection_id, &channel)
        .await
        .inspect_err(|_| record("subscribe", "error"))?;
    record("subscribe", "ok");
    Ok(Json(json!({
        "success": true,
        "connectionId": connection_id,
        "channel": channel.redis_name(),
        "changed": added,
    })))
}

pub async fn unsubscribe(
    State(state): State<AppState>,
    path: SubscriptionPath,
) -> Result<Json<Value>, ApiError> {
    let (connection_id, channel) = parse(path).inspect_err(|_| record("unsubscribe", "invalid"))?;
    let removed = state
        .hub
        .unsubscribe(&connection_id, &channel)
        .await
        .inspect_err(|_| record("unsubscribe", "error"))?;
    record("unsubscribe", "ok");
    Ok(Json(json!({
        "success": true,
        "connectionId": connection_id,
        "channel": channel.redis_name(),
        "changed": removed,
    })))
}
