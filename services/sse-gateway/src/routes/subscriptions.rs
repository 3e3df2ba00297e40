//! `POST /api/v1/sse/{connectionId}/(un)subscribe/{job|queue|worker}/{id}`.
//!
//! Any pod answers: when the stream is held here the change is made at once; otherwise it is
//! written to the session and forwarded to the owner pod over its control channel, which
//! applies it and sends the stream its `subscribed` event.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use progress_contract::history::StreamId;
use progress_contract::{Channel, ChannelKind};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use crate::access;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::hub::ControlOp;
use crate::metrics as m;

type SubscriptionPath = Result<Path<(String, String, String)>, PathRejection>;

/// `?replay=false`: live events only (see [`replay_wanted`]).
#[derive(Debug, Default, Deserialize)]
pub struct ReplayQuery {
    replay: Option<String>,
}

impl ReplayQuery {
    pub fn wanted(&self) -> Result<bool, ApiError> {
        replay_wanted(self.replay.as_deref())
    }
}

/// Whether a new subscription first gets what already happened (a job's events so far, a
/// queue's counts, a worker's status): yes unless `replay` says `false` (or `0`).
pub fn replay_wanted(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(ApiError::bad_request(
            "invalid_replay",
            "replay must be true or false",
        )),
    }
}

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

/// Only the stream's subject may change it; the channel must be one the caller may watch;
/// a stream holds at most `MAX_SUBSCRIPTIONS_PER_STREAM` channels.
async fn authorise(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    channel: &Channel,
    subscribe: bool,
) -> Result<(), ApiError> {
    if !principal.is_anonymous() {
        let subject = state
            .sessions
            .subject(&id)
            .await
            .map_err(|e| ApiError::redis("the session store is", e))?
            .ok_or(crate::hub::HubError::UnknownConnection)?;
        principal.check_stream_owner(subject.as_deref())?;
    }
    if subscribe {
        // Checked before the channel, whose check may claim a job id.
        check_room(state, id, &channel.redis_name()).await?;
        access::authorise_channel(state, principal, channel).await?;
    }
    Ok(())
}

/// Room for one more subscription on stream `id` (or it already has `name`).
async fn check_room(state: &AppState, id: Uuid, name: &str) -> Result<(), ApiError> {
    let max = state.limits.max_subscriptions_per_stream;
    let full = match state.hub.connection(&id) {
        Some(connection) => {
            connection.channel_count() >= max && !connection.channels().iter().any(|c| c == name)
        }
        None => match state
            .sessions
            .load(&id)
            .await
            .map_err(|e| ApiError::redis("the session store is", e))?
        {
            Some(session) => session.channels.len() >= max && !session.channels.contains(name),
            None => false,
        },
    };
    if full {
        return Err(too_many_subscriptions(max));
    }
    Ok(())
}

fn too_many_subscriptions(max: usize) -> ApiError {
    crate::limits::count_rejection("too_many_subscriptions");
    ApiError::too_many(
        "too_many_subscriptions",
        format!("a stream can hold at most {max} subscriptions; unsubscribe from some first"),
        1,
    )
}

async fn change(
    state: &AppState,
    id: Uuid,
    channel: Channel,
    subscribe: bool,
    replay: bool,
) -> Result<Value, ApiError> {
    let hub = &state.hub;
    let name = channel.redis_name();
    if hub.connection(&id).is_some() {
        let changed = if subscribe {
            hub.subscribe(&id, &channel, replay).await?
        } else {
            hub.unsubscribe(&id, &channel).await?
        };
        return Ok(json!({
            "success": true, "connectionId": id, "channel": name, "changed": changed,
            "pod": state.settings.pod,
        }));
    }
    let session = state
        .sessions
        .load(&id)
        .await
        .map_err(|e| ApiError::redis("the session store is", e))?
        .ok_or(crate::hub::HubError::UnknownConnection)?;
    let changed = session.channels.contains(&name) != subscribe;
    if subscribe {
        let multi = session.multi || session.channels.iter().any(|c| *c != name);
        // The owner pod records the channel's true start when it applies the request; until
        // then a resume elsewhere replays a job from its start, or anything else from now.
        let added = if replay && channel.kind() == ChannelKind::Job {
            state
                .sessions
                .add_channels(&id, &[(name.clone(), StreamId::ZERO)], multi)
                .await
        } else {
            state
                .sessions
                .add_channel(&id, &name, multi)
                .await
                .map(drop)
        };
        added.map_err(|e| ApiError::redis("the session store is", e))?;
    } else {
        state
            .sessions
            .remove_channel(&id, &name)
            .await
            .map_err(|e| ApiError::redis("the session store is", e))?;
    }
    let op = if subscribe {
        ControlOp::Subscribe {
            connection_id: id,
            channel: name.clone(),
            live_only: !replay,
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

/// Subscribes a stream (held by any pod) to a channel; the stream gets `subscribed`.
#[utoipa::path(
    post,
    path = "/api/v1/sse/{connectionId}/subscribe/{kind}/{id}",
    tag = "streams",
    params(
        ("connectionId" = uuid::Uuid, Path, description = "From the `connected` event"),
        ("kind" = super::schema::ChannelType, Path, description = "`job`, `queue` or `worker`"),
        ("id" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`"),
        ("replay" = Option<bool>, Query, description = "`false`: live events only. By default a new subscription first gets what already happened: a job's events so far (or a snapshot of its record), a queue's counts, a worker's status"),
    ),
    responses((status = 200, description = "Done, or forwarded to the pod holding the stream", body = super::schema::SubscriptionResult))
)]
pub async fn subscribe(
    State(state): State<AppState>,
    principal: Principal,
    path: SubscriptionPath,
    query: Result<Query<ReplayQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (connection_id, channel) = parse(path).inspect_err(|_| record("subscribe", "invalid"))?;
    let replay = query
        .map_err(ApiError::from)
        .and_then(|Query(query)| query.wanted())
        .inspect_err(|_| record("subscribe", "invalid"))?;
    authorise(&state, &principal, connection_id, &channel, true)
        .await
        .inspect_err(|_| record("subscribe", "forbidden"))?;
    let body = change(&state, connection_id, channel, true, replay)
        .await
        .inspect_err(|_| record("subscribe", "error"))?;
    record("subscribe", "ok");
    Ok(Json(body))
}

/// Unsubscribes a stream from a channel; the stream gets `unsubscribed`.
#[utoipa::path(
    post,
    path = "/api/v1/sse/{connectionId}/unsubscribe/{kind}/{id}",
    tag = "streams",
    params(
        ("connectionId" = uuid::Uuid, Path, description = "From the `connected` event"),
        ("kind" = super::schema::ChannelType, Path, description = "`job`, `queue` or `worker`"),
        ("id" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`"),
    ),
    responses((status = 200, description = "Done, or forwarded to the pod holding the stream", body = super::schema::SubscriptionResult))
)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    principal: Principal,
    path: SubscriptionPath,
) -> Result<Json<Value>, ApiError> {
    let (connection_id, channel) = parse(path).inspect_err(|_| record("unsubscribe", "invalid"))?;
    authorise(&state, &principal, connection_id, &channel, false)
        .await
        .inspect_err(|_| record("unsubscribe", "forbidden"))?;
    let body = change(&state, connection_id, channel, false, false)
        .await
        .inspect_err(|_| record("unsubscribe", "error"))?;
    record("unsubscribe", "ok");
    Ok(Json(body))
}
