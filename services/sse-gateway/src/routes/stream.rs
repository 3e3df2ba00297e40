//! `GET /api/v1/sse/connect`: opens a stream, or resumes one.
//!
//! Optional `?jobs=a,b&queues=q&workers=w` subscribes before the first event, so nothing
//! published after the response starts is missed. A `Last-Event-ID` header (sent by
//! EventSource when it reconnects; `?lastEventId=` for clients that cannot set headers)
//! naming a session still in its resume window continues that stream on this pod: same
//! connectionId, same subscriptions, every missed event with history replayed in order, then
//! live, without gaps or duplicates.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use progress_contract::events::{Connected, Resync, StreamEvent};
use progress_contract::history::{self, StreamId};
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
use crate::hub::connection::Cursors;
use crate::hub::{Connection, ControlOp, Hub, duration_millis};
use crate::last_event_id::LastEventId;
use crate::session::{From, Session, resume_points};

/// Cancelling it closes the TCP connection a request arrived on (set by the server).
#[derive(Clone, Debug)]
pub struct SocketHandle(pub CancellationToken);

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

fn too_many_channels(max: usize) -> ApiError {
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
    let resumable = match last_event_id
        .as_deref()
        .and_then(crate::last_event_id::parse)
    {
        Some(point) => hub
            .sessions()
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
    let (stream, connection) = match resumable {
        Some((point, session)) => {
            let session = reauthorise(&state, &principal, &point, session).await?;
            resume(&state, socket, point, session, &channels, replay).await?
        }
        None => {
            fresh(
                &state,
                socket,
                &channels,
                principal.subject.as_deref(),
                replay,
            )
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

/// A resumed session keeps only the channels the new token may still watch (a user moved
/// out of an organisation stops receiving its jobs); the others leave the session.
async fn reauthorise(
    state: &AppState,
    principal: &Principal,
    point: &LastEventId,
    mut session: Session,
) -> Result<Session, ApiError> {
    if principal.is_anonymous() {
        return Ok(session);
    }
    let mut names: Vec<String> = session.channels.iter().cloned().collect();
    names.sort();
    for name in names {
        let allowed = match Channel::parse(&name) {
            Some(channel) => match access::authorise_channel(state, principal, &channel).await {
                Ok(()) => true,
                Err(error) if error.status == axum::http::StatusCode::FORBIDDEN => false,
                Err(error) => return Err(error),
            },
            None => false,
        };
        if !allowed {
            state
                .hub
                .sessions()
                .remove_channel(&point.connection, &name)
                .await
                .map_err(|e| ApiError::redis("the session store is", e))?;
            session.channels.remove(&name);
            tracing::debug!(connection.id = %point.connection, channel = %name, "channel no longer allowed on resume");
        }
    }
    Ok(session)
}

fn connected_frame(
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
    let hub = &state.hub;
    let id = Uuid::new_v4();
    let names: Vec<String> = channels.iter().map(Channel::redis_name).collect();
    // The channels reach the session as each is subscribed below (with where its history
    // stands), so the session starts without them: two Redis round trips less per stream.
    hub.sessions()
        .create(&id, &[], subject)
        .await
        .map_err(|e| ApiError::redis("the session store is", e))?;
    let connection = Arc::new(Connection::new(id, now_millis(), socket));
    // On failure `stream` is dropped on return, which unregisters the connection.
    let stream = hub.open(connection.clone());
    connection.push(
        crate::hub::Item::plain(connected_frame(state, id, names, false)),
        hub.settings().capacity,
    );
    hub.subscribe_channels(&connection, channels, replay, true)
        .await?;
    Ok((stream, connection))
}

/// The id just before `id` (so a replay from it includes `id`).
fn before(id: StreamId) -> StreamId {
    match id.seq {
        0 => StreamId {
            ms: id.ms.saturating_sub(1),
            seq: u64::MAX,
        },
        seq => StreamId {
            ms: id.ms,
            seq: seq - 1,
        },
    }
}

/// Replaces the session's flushed position by `position` (the stream's, in memory).
fn adopt_position(session: &mut Session, position: &crate::hub::connection::Position) {
    session.seq = position.seq;
    for (channel, at) in &position.cursors {
        session.cursors.insert(channel.to_string(), *at);
    }
    session.log = position
        .log
        .iter()
        .map(|(n, channel, at)| (*n, channel.to_string(), *at))
        .collect();
    session.multi |= position.multi;
}

async fn resume(
    state: &AppState,
    socket: CancellationToken,
    point: LastEventId,
    session: Session,
    extra: &[Channel],
    replay: bool,
) -> Result<(crate::hub::ConnectionStream, Arc<Connection>), ApiError> {
    let hub: &Arc<Hub> = &state.hub;
    let (id, seen) = (point.connection, point.seen);
    // What `?jobs=` & co add to a resumed session counts against the same limit (checked
    // before anything of the old stream changes).
    let max = state.limits.max_subscriptions_per_stream;
    let added = extra
        .iter()
        .filter(|channel| !session.channels.contains(&channel.redis_name()))
        .count();
    if session.channels.len() + added > max {
        return Err(too_many_channels(max));
    }
    // A stale stream of the same session, here or on another pod, must stop writing it.
    let mut session = session;
    if let Some(old) = hub.connection(&id) {
        hub.detach(&old);
        old.close_with(crate::hub::closing_frame(
            "superseded",
            "this stream continues on another connection",
            state.settings.retry,
        ));
        // Held here, its position is newer than the one last flushed to the session: resume
        // from it, so a client back before its old connection was noticed closed is not sent
        // again what it already had.
        if let Some(position) = old.position_if_changed(true) {
            adopt_position(&mut session, &position);
        }
    }
    hub.sessions()
        .take_over(&id)
        .await
        .map_err(|e| ApiError::redis("the session store is", e))?;
    if session.owner != hub.sessions().pod() && !session.closed {
        let op = ControlOp::Superseded { connection_id: id };
        if let Err(error) = hub.send_control(&session.owner, &op).await {
            tracing::debug!(%error, "telling the previous pod failed");
        }
    }
    // An event id from the future is not one this stream was sent (history ids are Redis'
    // clock in ms; a minute of skew is allowed): resume from what the session knows instead.
    let event = point
        .event
        .filter(|event| event.ms <= now_millis().saturating_add(60_000));
    let points = resume_points(&session, seen, event);
    let cursors: Cursors = points
        .iter()
        .filter_map(|(channel, from)| match from {
            From::After(at) => Some((Arc::from(channel.as_str()), *at)),
            From::Including(at) => Some((Arc::from(channel.as_str()), before(*at))),
            From::Live => None,
        })
        .collect();
    let connection = Arc::new(Connection::resumed(
        id,
        now_millis(),
        socket,
        seen,
        cursors,
        session.multi,
    ));
    connection.hold();
    let stream = hub.open(connection.clone());
    let names: Vec<String> = points.iter().map(|(c, _)| c.clone()).collect();
    // Channels named at connect that the session does not have are new subscriptions: they
    // get their first delivery after the session's own channels have caught up.
    let extra: Vec<Channel> = extra
        .iter()
        .filter(|channel| !names.contains(&channel.redis_name()))
        .cloned()
        .collect();
    let mut listed = names.clone();
    listed.extend(extra.iter().map(Channel::redis_name));
    connection.push_replay(crate::hub::Item::plain(connected_frame(
        state, id, listed, true,
    )));
    // Subscribe first, then replay, then release live events that the replay did not cover.
    for name in &names {
        hub.subscribe_quietly(&connection, name).await?;
    }
    let mut resync = Vec::new();
    let mut replayed = 0usize;
    for (channel, from) in &points {
        let replay = hub
            .history()
            .replay(channel, *from)
            .await
            .map_err(|e| ApiError::redis("the session store is", e))?;
        if replay.gap {
            resync.push(channel.clone());
        }
        let name = hub.channel_name(channel);
        for (event_id, payload) in replay.events {
            let Some(tagged) = history::tag(&payload, event_id) else {
                continue;
            };
            if let Ok(item) = hub.progress_item(&name, tagged.as_bytes()) {
                connection.push_replay(item);
                replayed += 1;
            }
        }
    }
    let duplicates = connection.release();
    metrics::counter!(crate::metrics::EVENTS_REPLAYED).increment(replayed as u64);
    if !resync.is_empty() {
        metrics::counter!(crate::metrics::RESYNCS).increment(1);
        hub.send(
            &connection,
            &StreamEvent::Resync(Resync {
                channels: resync,
                timestamp: now_millis(),
            }),
        );
    }
    hub.subscribe_channels(&connection, &extra, replay, false)
        .await?;
    tracing::debug!(connection.id = %id, replayed, duplicates, "stream resumed");
    Ok((stream, connection))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::hub::connection::Position;
    use crate::session::From;

    fn at(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    #[test]
    fn a_stream_still_held_here_resumes_from_its_position_in_memory() {
        let job: Arc<str> = Arc::from("job:1");
        // Flushed a while ago: events 1 and 2.
        let mut session = Session {
            owner: "pod".into(),
            channels: ["job:1".to_owned()].into(),
            seq: 2,
            cursors: [("job:1".to_owned(), at(20))].into(),
            log: vec![(1, "job:1".into(), at(10)), (2, "job:1".into(), at(20))],
            multi: true,
            ..Default::default()
        };
        // Written since, not flushed yet: events 3 and 4; the client read up to 4.
        let position = Position {
            seq: 4,
            cursors: [(job.clone(), at(40))].into_iter().collect(),
            log: VecDeque::from([
                (1, job.clone(), at(10)),
                (2, job.clone(), at(20)),
                (3, job.clone(), at(30)),
                (4, job.clone(), at(40)),
            ]),
            dirty: true,
            multi: true,
        };
        assert_eq!(
            resume_points(&session, 4, None),
            [("job:1".to_owned(), From::After(at(20)))],
            "the flushed session alone would send 3 and 4 again"
        );
        adopt_position(&mut session, &position);
        assert_eq!(
            resume_points(&session, 4, None),
            [("job:1".to_owned(), From::After(at(40)))]
        );
        assert_eq!(
            resume_points(&session, 3, None),
            [("job:1".to_owned(), From::After(at(30)))],
            "what the client did not read is still replayed"
        );
    }
}
