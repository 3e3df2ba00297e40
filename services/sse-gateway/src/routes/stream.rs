//! `GET /api/v1/sse/connect`: opens a stream, or resumes one.
//!
//! Optional `?jobs=a,b&queues=q&workers=w` subscribes before the first event, so nothing
//! published after the response starts is missed. A `Last-Event-ID` header (sent by
//! EventSource when it reconnects; `?lastEventId=` for clients that cannot set headers)
//! naming a session still in its resume window continues that stream on this pod: same
//! connectionId, same subscriptions, every missed event with history replayed in order, then
//! live, without gaps or duplicates (see [`super::resume`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use progress_contract::events::{Connected, StreamEvent};
use progress_contract::time::now_millis;
use progress_contract::{Channel, ChannelKind};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::AppState;
use crate::access;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::frame;
use crate::hub::{Connection, duration_millis};
use crate::transport::SocketHandle;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectQuery {
    jobs: Option<String>,
    queues: Option<String>,
    workers: Option<String>,
    last_event_id: Option<String>,
    replay: Option<String>,
}

impl ConnectQuery {
    /// The channels to subscribe at connect, at most `max`.
    pub fn channels(&self, max: usize) -> Result<Vec<Channel>, ApiError> {
        let lists = [
            (ChannelKind::Job, &self.jobs),
            (ChannelKind::Queue, &self.queues),
            (ChannelKind::Worker, &self.workers),
        ];
        let mut channels = Vec::new();
        for (kind, list) in lists {
            for id in list.iter().flat_map(|l| l.split(',')).map(str::trim) {
                if id.is_empty() {
                    continue;
                }
                let channel = Channel::new(kind, id)
                    .map_err(|e| ApiError::bad_request("invalid_name", e.to_string()))?;
                if !channels.contains(&channel) {
                    // Stops at the first channel past the limit: a query naming thousands is
                    // not read (nor de-duplicated) to the end.
                    if channels.len() == max {
                        return Err(too_many_channels(max));
                    }
                    channels.push(channel);
                }
            }
        }
        Ok(channels)
    }
}

pub(super) fn too_many_channels(max: usize) -> ApiError {
    ApiError::bad_request(
        "too_many_channels",
        format!("a stream can hold at most {max} channels (MAX_SUBSCRIPTIONS_PER_STREAM)"),
    )
}

/// Opens a stream (or resumes one with `Last-Event-ID`).
#[utoipa::path(
    get,
    path = "/api/v1/sse/connect",
    tag = "streams",
    params(
        ("jobs" = Option<String>, Query, description = "Comma-separated job ids to subscribe at connect"),
        ("queues" = Option<String>, Query, description = "Comma-separated queue names (monitor role)"),
        ("workers" = Option<String>, Query, description = "Comma-separated worker ids (monitor role)"),
        ("lastEventId" = Option<String>, Query, description = "Resume point, for clients that cannot set Last-Event-ID"),
        ("replay" = Option<bool>, Query, description = "`false`: the channels named here get live events only. By default each first gets what already happened: a job's events so far (or a snapshot of its record), a queue's counts, a worker's status"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume point, sent by EventSource when it reconnects"),
    ),
    responses((status = 200, description = "An endless `text/event-stream`: `connected`, then events", content_type = "text/event-stream", body = String))
)]
pub async fn connect(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    query: Result<Query<ConnectQuery>, axum::extract::rejection::QueryRejection>,
    socket: Option<axum::Extension<SocketHandle>>,
    peer: Option<axum::Extension<crate::limits::client::PeerAddr>>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let channels = query.channels(state.limits.max_subscriptions_per_stream)?;
    let replay = super::subscriptions::replay_wanted(query.replay.as_deref())?;
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::unavailable(
            "draining",
            "this gateway is shutting down; connect again to reach another one",
            1,
        ));
    }
    let client =
        peer.map(|axum::Extension(peer)| state.limits.trusted_proxies.client(peer.0, &headers));
    state
        .limits
        .check_connect(principal.subject.as_deref(), client)?;
    let permit = state.limits.streams.acquire(principal.subject.as_deref())?;
    let socket = socket.map_or_else(CancellationToken::new, |s| s.0.0.clone());
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id.clone());
    let hub = &state.hub;
    // What follows reads and writes Redis: a few hundred streams at a time (see
    // `limits/turns.rs`), until the response starts.
    let _turn = state.limits.opening.take().await;
    let resumable = match last_event_id
        .as_deref()
        .and_then(crate::resume::last_event_id::parse)
    {
        Some(point) => state
            .sessions
            .load(&point.connection)
            .await
            .map_err(|e| ApiError::redis("the session store is", e))?
            .map(|s| (point, s)),
        None => None,
    };
    if let Some((_, session)) = &resumable {
        principal.check_stream_owner(session.subject.as_deref())?;
    }
    for channel in &channels {
        access::authorise_channel(&state, &principal, channel).await?;
    }
    let result = if resumable.is_some() {
        "resumed"
    } else if last_event_id.is_some() {
        "expired"
    } else {
        "new"
    };
    // Each way is boxed: a request holds the memory of the way it takes only (a resume's is
    // twice a new stream's), not the largest of them, while it waits for Redis.
    let (stream, connection) = match resumable {
        Some((point, session)) => {
            let session = boxed(super::resume::reauthorise(
                &state, &principal, &point, session,
            ))
            .await?;
            boxed(super::resume::resume(
                &state, socket, point, session, &channels, replay,
            ))
            .await?
        }
        None => {
            boxed(fresh(
                &state,
                socket,
                &channels,
                principal.subject.as_deref(),
                replay,
            ))
            .await?
        }
    };
    if result != "new" {
        metrics::counter!(crate::metrics::RESUMES, "result" => result).increment(1);
    }
    if let (true, Some(expires_at)) = (state.settings.close_expired_streams, principal.expires_at) {
        hub.end_at_expiry(&connection, expires_at);
    }
    tracing::debug!(connection.id = %connection.id(), "stream opened");
    // The permit lives as long as the body: the place is given back when the stream ends.
    let stream = futures::StreamExt::map(stream, move |frame| {
        let _held = &permit;
        frame
    });
    let mut response = Response::new(Body::from_stream(stream));
    // Lets the gateway's own HTTP/1 writer write the stream straight from its queue.
    response.extensions_mut().insert(connection);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The most a way of opening a stream may hold while it waits for Redis. The Redis client's
/// futures are kilobytes each: on the ways a stream's open takes only now and then (a channel
/// new to this pod, a cluster, the pipe down, a resume from another pod), they are boxed
/// where they are awaited, so an open or a resume does not carry and move that room (a
/// resume's was 22 KiB before, docs/benchmarks.md).
const MAX_OPENING_STATE: usize = 4096;

/// `way` in a box of its own (a request holds the memory of the way it takes only), checked,
/// in test builds, against [`MAX_OPENING_STATE`].
fn boxed<F: std::future::Future>(way: F) -> std::pin::Pin<Box<F>> {
    debug_assert!(
        std::mem::size_of::<F>() <= MAX_OPENING_STATE,
        "a way of opening a stream holds {} bytes",
        std::mem::size_of::<F>()
    );
    Box::pin(way)
}

pub(super) fn connected_frame(
    state: &AppState,
    id: Uuid,
    channels: Vec<String>,
    resumed: bool,
) -> bytes::Bytes {
    let connected = frame::stream_event(&StreamEvent::Connected(Connected {
        connection_id: id.to_string(),
        timestamp: now_millis(),
        heartbeat_interval: duration_millis(state.settings.heartbeat_interval),
        channels,
        resumed,
    }));
    // The reconnect hint rides in the first frame, so every SSE parser applies it.
    frame::with_retry(duration_millis(state.settings.retry), &connected)
}

async fn fresh(
    state: &AppState,
    socket: CancellationToken,
    channels: &[Channel],
    subject: Option<&str>,
    replay: bool,
) -> Result<(crate::hub::ConnectionStream, Arc<Connection>), ApiError> {
    let names: Vec<String> = channels.iter().map(Channel::redis_name).collect();
    let opened = state
        .hub
        .open_new(socket, channels, subject, replay, |id| {
            connected_frame(state, id, names, false)
        })
        .await?;
    Ok(opened)
}
