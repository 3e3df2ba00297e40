//! Resuming a stream with `Last-Event-ID`, on any pod: the session's channels that the new
//! token may still watch, each replayed from where the client stands, then live, without gap
//! or duplicate; channels that `?jobs=` & co add are new subscriptions (first delivery).

use std::sync::Arc;

use progress_contract::Channel;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::stream::{connected_frame, too_many_channels};
use crate::access;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::hub::{Connection, ConnectionStream};
use crate::resume::last_event_id::LastEventId;
use crate::resume::session::Session;

/// A resumed session keeps only the channels the new token may still watch (a user moved
/// out of an organisation stops receiving its jobs); the others leave the session.
pub(super) async fn reauthorise(
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
            // Boxed: seldom taken, and the Redis client's future is kilobytes.
            Box::pin(state.sessions.remove_channel(&point.connection, &name))
                .await
                .map_err(|e| ApiError::redis("the session store is", e))?;
            session.channels.remove(&name);
            tracing::debug!(connection.id = %point.connection, channel = %name, "channel no longer allowed on resume");
        }
    }
    Ok(session)
}

/// Resumes the stream of `session` here (see [`crate::hub::Hub::resume_stream`]), once what
/// `extra` adds fits the stream's limit.
pub(super) async fn resume(
    state: &AppState,
    socket: CancellationToken,
    point: LastEventId,
    session: Session,
    extra: &[Channel],
    replay: bool,
) -> Result<(ConnectionStream, Arc<Connection>), ApiError> {
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
    let id = point.connection;
    let opened = state
        .hub
        .resume_stream(socket, point, session, extra, replay, |listed| {
            connected_frame(state, id, listed, true)
        })
        .await?;
    Ok(opened)
}
