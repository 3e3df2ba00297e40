//! Resuming a stream with `Last-Event-ID`, on any pod: the session's channels that the new
//! token may still watch, each replayed from where the client stands, then live, without gap
//! or duplicate; channels that `?jobs=` & co add are new subscriptions (first delivery).

use std::sync::Arc;

use progress_contract::Channel;
use progress_contract::events::{Resync, StreamEvent};
use progress_contract::history::{self, StreamId};
use progress_contract::time::now_millis;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::stream::{connected_frame, too_many_channels};
use crate::access;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::hub::connection::Cursors;
use crate::hub::{Connection, ControlOp, Hub};
use crate::resume::last_event_id::LastEventId;
use crate::resume::session::{ResumeFrom, Session, resume_points};

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

pub(super) async fn resume(
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
            ResumeFrom::After(at) => Some((Arc::from(channel.as_str()), *at)),
            ResumeFrom::Including(at) => Some((Arc::from(channel.as_str()), before(*at))),
            ResumeFrom::Live => None,
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
    use crate::resume::session::ResumeFrom;

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
            [("job:1".to_owned(), ResumeFrom::After(at(20)))],
            "the flushed session alone would send 3 and 4 again"
        );
        adopt_position(&mut session, &position);
        assert_eq!(
            resume_points(&session, 4, None),
            [("job:1".to_owned(), ResumeFrom::After(at(40)))]
        );
        assert_eq!(
            resume_points(&session, 3, None),
            [("job:1".to_owned(), ResumeFrom::After(at(30)))],
            "what the client did not read is still replayed"
        );
    }
}
