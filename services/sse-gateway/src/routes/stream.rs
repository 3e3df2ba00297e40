//! `GET /api/v1/sse/connect`: opens a stream. Optional `?jobs=a,b&queues=q&workers=w`
//! subscribes before the first event, so nothing published after the response starts is
//! missed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use progress_contract::events::{Connected, StreamEvent};
use progress_contract::time::now_millis;
use progress_contract::{Channel, ChannelKind};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::AppState;
use crate::error::ApiError;
use crate::frame;
use crate::hub::{Connection, duration_millis};

/// Cancelling it closes the TCP connection a request arrived on (set by the server).
#[derive(Clone, Debug)]
pub struct SocketHandle(pub CancellationToken);

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    jobs: Option<String>,
    queues: Option<String>,
    workers: Option<String>,
}

impl ConnectQuery {
    fn channels(&self) -> Result<Vec<Channel>, ApiError> {
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
                    channels.push(channel);
                }
            }
        }
        if channels.len() > 128 {
            return Err(ApiError::bad_request(
                "too_many_channels",
                "at most 128 channels can be subscribed at connect",
            ));
        }
        Ok(channels)
    }
}

pub async fn connect(
    State(state): State<AppState>,
    query: Result<Query<ConnectQuery>, axum::extract::rejection::QueryRejection>,
    socket: Option<axum::Extension<SocketHandle>>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let channels = query.channels()?;
    let socket = socket.map_or_else(CancellationToken::new, |s| s.0.0.clone());
    let id = Uuid::new_v4();
    let connection = Arc::new(Connection::new(id, now_millis(), socket));
    let hub = &state.hub;
    let stream = hub.open(connection.clone());
    let connected = frame::stream_event(&StreamEvent::Connected(Connected {
        connection_id: id.to_string(),
        timestamp: now_millis(),
        heartbeat_interval: duration_millis(state.settings.heartbeat_interval),
        channels: channels.iter().map(Channel::redis_name).collect(),
    }));
    // The reconnect hint rides in the first frame, so every SSE parser applies it.
    connection.push(
        frame::with_retry(duration_millis(state.settings.retry), &connected),
        hub.settings().capacity,
    );
    for channel in &channels {
        // On failure `stream` is dropped on return, which unregisters the connection.
        hub.subscribe(&id, channel).await?;
    }
    tracing::debug!(connection.id = %id, channels = channels.len(), "stream opened");
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
