//! Broadcasts (`POST /api/v1/sse/broadcast`) and custom events for one connection
//! (`POST /api/v1/sse/{connectionId}/events`). Both go through Redis so they reach the
//! stream whichever pod holds it. They need the publish role (`AUTH_MODE=jwt`), or, without
//! authentication, `ADMIN_TOKEN` as a bearer token when it is set.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use progress_contract::CustomEvent;
use progress_contract::events::{RESERVED_EVENT_NAMES, is_valid_custom_event_name};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::subscriptions::parse_connection_id;
use crate::auth::Principal;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    event: String,
    #[serde(default)]
    data: Value,
}

/// With `AUTH_MODE=jwt` the token must hold the publish role; without authentication,
/// `ADMIN_TOKEN` (when set) is the bearer token these endpoints need.
fn authorise(state: &AppState, principal: &Principal, headers: &HeaderMap) -> Result<(), ApiError> {
    if !principal.is_anonymous() {
        return principal.require_publish();
    }
    let Some(expected) = state.settings.admin_token.as_deref() else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs `Authorization: Bearer <ADMIN_TOKEN>`",
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn validate(body: Result<Json<EventBody>, JsonRejection>) -> Result<EventBody, ApiError> {
    let Json(body) = body?;
    if !is_valid_custom_event_name(&body.event) {
        return Err(ApiError::unprocessable(
            "invalid_event_name",
            format!(
                "event must be 1 to 64 characters from A-Z a-z 0-9 _ . : - and not one of {}",
                RESERVED_EVENT_NAMES.join(", ")
            ),
        ));
    }
    Ok(body)
}

async fn publish(state: &AppState, event: CustomEvent, broadcast: bool) -> Result<u64, ApiError> {
    let result = if broadcast {
        state.publisher.broadcast(&event).await
    } else {
        state.publisher.send_to_connection(&event).await
    };
    result.map_err(|e| ApiError::unavailable("redis_unavailable", e.to_string(), 1))
}

/// Sends a custom event to every stream on every pod (publish role).
#[utoipa::path(post, path = "/api/v1/sse/broadcast", tag = "publishing",
    request_body = super::schema::CustomEventBody,
    responses((status = 202, description = "Published", body = super::schema::Accepted)))]
pub async fn broadcast(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Json<EventBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorise(&state, &principal, &headers)?;
    let body = validate(body)?;
    let event = CustomEvent {
        event: body.event,
        data: body.data,
        connection_id: None,
    };
    let pods = publish(&state, event, true).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": true, "pods": pods })),
    ))
}

/// Sends a custom event to one stream, whichever pod holds it (publish role).
#[utoipa::path(post, path = "/api/v1/sse/{connectionId}/events", tag = "publishing",
    params(("connectionId" = uuid::Uuid, Path, description = "From the `connected` event")),
    request_body = super::schema::CustomEventBody,
    responses((status = 202, description = "Published", body = super::schema::Accepted)))]
pub async fn send_to_connection(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<EventBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorise(&state, &principal, &headers)?;
    let Path(connection_id) = path?;
    let connection_id = parse_connection_id(&connection_id)?;
    let body = validate(body)?;
    let event = CustomEvent {
        event: body.event,
        data: body.data,
        connection_id: Some(connection_id.to_string()),
    };
    let pods = publish(&state, event, false).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": true, "connectionId": connection_id, "pods": pods })),
    ))
}

/// `POST /api/v1/publish/{channelType}/{id}`: publishes the body (a JSON object) on
/// `{channelType}:{id}` with history, as a worker would. For backends without a Redis client.
#[utoipa::path(post, path = "/api/v1/publish/{kind}/{id}", tag = "publishing",
    params(
        ("kind" = super::schema::ChannelType, Path, description = "`job`, `queue` or `worker`"),
        ("id" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`"),
    ),
    request_body(content = Object, description = "The event, a JSON object of at most MAX_EVENT_BYTES"),
    responses((status = 201, description = "Written to history and published", body = super::schema::Published)))]
pub async fn publish_one(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorise(&state, &principal, &headers)?;
    let Path((kind, id)) = path?;
    let kind =
        progress_contract::ChannelKind::from_word(&kind).ok_or_else(ApiError::route_not_found)?;
    let channel = progress_contract::Channel::new(kind, &id)
        .map_err(|e| ApiError::bad_request("invalid_name", e.to_string()))?;
    let Json(body) = body?;
    let payload = event_payload(&body, state.hub.settings().max_event_bytes)
        .map_err(|message| ApiError::unprocessable("invalid_event", message))?;
    let published = state
        .publisher
        .publish_event(&channel, &payload)
        .await
        .map_err(|e| ApiError::unavailable("redis_unavailable", e.to_string(), 1))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "channel": channel.redis_name(),
            "eventId": published.event_id.to_string(),
            "pods": published.receivers,
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    events: Vec<BatchEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEvent {
    channel: String,
    data: Value,
}

/// Most events in one batch.
const MAX_BATCH: usize = 100;

/// `POST /api/v1/publish`: `{"events":[{"channel":"job:1","data":{…}}, …]}`, published in
/// order. All are checked first; if any is invalid, none is published.
#[utoipa::path(post, path = "/api/v1/publish", tag = "publishing",
    request_body = super::schema::PublishBatch,
    responses((status = 201, description = "All published, in order", body = super::schema::PublishedBatch)))]
pub async fn publish_batch(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Json<BatchBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorise(&state, &principal, &headers)?;
    let Json(body) = body?;
    if body.events.is_empty() || body.events.len() > MAX_BATCH {
        return Err(ApiError::unprocessable(
            "invalid_fields",
            format!("events must hold 1 to {MAX_BATCH} events"),
        ));
    }
    let mut checked = Vec::with_capacity(body.events.len());
    let mut errors = Vec::new();
    for (i, event) in body.events.iter().enumerate() {
        match progress_contract::Channel::parse(&event.channel) {
            Some(channel) => match event_payload(&event.data, state.hub.settings().max_event_bytes)
            {
                Ok(payload) => checked.push((channel, payload)),
                Err(message) => errors.push(crate::error::FieldError::new(
                    format!("events[{i}].data"),
                    message,
                )),
            },
            None => errors.push(crate::error::FieldError::new(
                format!("events[{i}].channel"),
                "must be job:{id}, queue:{name} or worker:{id} with a valid name",
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let mut results = Vec::with_capacity(checked.len());
    for (channel, payload) in checked {
        let published = state
            .publisher
            .publish_event(&channel, &payload)
            .await
            .map_err(|e| ApiError::unavailable("redis_unavailable", e.to_string(), 1))?;
        results.push(
            json!({"channel": channel.redis_name(), "eventId": published.event_id.to_string()}),
        );
    }
    Ok((StatusCode::CREATED, Json(json!({ "published": results }))))
}

/// The event as compact JSON: an object of at most `max` bytes.
fn event_payload(value: &Value, max: usize) -> Result<String, String> {
    if !value.is_object() {
        return Err("the event must be a JSON object".into());
    }
    let payload = serde_json::to_string(value).map_err(|e| e.to_string())?;
    if payload.len() > max {
        return Err(format!("the event is larger than {max} bytes"));
    }
    Ok(payload)
}
