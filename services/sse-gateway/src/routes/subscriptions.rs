//! `POST /api/v1/sse/{connectionId}/(un)subscribe/{job|queue|worker}/{id}`.
//!
//! Any pod answers: when the stream is held here the change is made at once; otherwise it is
//! written to the session and forwarded to the owner pod over its control channel, which
//! applies it and sends the stream its `subscribed` event.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use progress_contract::{Channel, ChannelKind};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use crate::error::ApiError;
use crate::hub::ControlOp;
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

async fn change(
    state: &AppState,
    id: Uuid,
    channel: Channel,
    subscribe: bool,
) -> Result<Value, ApiError> {
    let hub = &state.hub;
    let name = channel.redis_name();
    if hub.connection(&id).is_some() {
        let changed = if subscribe {
            hub.subscribe(&id, &channel).await?
        } else {
            hub.unsubscribe(&id, &channel).await?
        };
        return Ok(json!({
            "success": true, "connectionId": id, "channel": name, "changed": changed,
            "pod": state.settings.pod,
        }));
    }
    let session = hub
        .sessions()
        .load(&id)
        .await
        .map_err(|e| ApiError::redis("the session store is", e))?
        .ok_or(crate::hub::HubError::UnknownConnection)?;
    let changed = session.channels.contains(&name) != subscribe;
    if subscribe {
        hub.sessions()
            .add_channel(&id, &name)
            .await
            .map_err(|e| ApiError::redis("the session store is", e))?;
    } else {
        hub.sessions()
            .remove_channel(&id, &name)
            .await
            .map_err(|e| ApiError::redis("the session store is", e))?;
    }
    let op = if subscribe {
        ControlOp::Subscribe {
            connection_id: id,
            channel: name.clone(),
        }
    } else {
        ControlOp::Unsubscribe {
            connection_id: id,
            channel: name.clone(),
        }
    };
    // When the owner is gone the change still stands in the session: the stream gets it
    // when it resumes.
    let delivered = hub
        .send_control(&session.owner, &op)
        .await
        .map_err(|e| ApiError::redis("the session store is", e))?
        > 0;
    Ok(json!({
        "success": true, "connectionId": id, "channel": name, "changed": changed,
        "pod": session.owner, "forwarded": true, "delivered": delivered,
    }))
}

pub async fn subscribe(
    State(state): State<AppState>,
    path: SubscriptionPath,
) -> Result<Json<Value>, ApiError> {
    let (connection_id, channel) = parse(path).inspect_err(|_| record("subscribe", "invalid"))?;
    let body = change(&state, connection_id, channel, true)
        .await
        .inspect_err(|_| record("subscribe", "error"))?;
    record("subscribe", "ok");
    Ok(Json(body))
}

pub async fn unsubscribe(
    State(state): State<AppState>,
    path: SubscriptionPath,
) -> Result<Json<Value>, ApiError> {
    let (connection_id, channel) = parse(path).inspect_err(|_| record("unsubscribe", "invalid"))?;
    let body = change(&state, connection_id, channel, false)
        .await
        .inspect_err(|_| record("unsubscribe", "error"))?;
    record("unsubscribe", "ok");
    Ok(Json(body))
}
