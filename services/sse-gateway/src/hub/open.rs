//! Opening a stream, new or resumed: the hub registers it, subscribes its channels and queues
//! what it missed, so the routes only check the request and build the response.

use std::sync::Arc;

use bytes::Bytes;
use progress_contract::Channel;
use progress_contract::time::now_millis;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::replay::StreamHold;
use super::subscriptions::Opening;
use super::{Connection, ConnectionStream, ControlOp, Hub, HubError, Item, closing_frame};
use crate::resume::last_event_id::LastEventId;
use crate::resume::points::{adopt_position, cursors_of, resume_points};
use crate::resume::session::Session;

/// A new stream's id: random (version 4), from the thread's cryptographic generator, which
/// the OS seeds, rather than one system call per stream. Ids must not be guessable: they name
/// a stream in the subscription API.
fn new_stream_id() -> Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

impl Hub {
    /// Opens a new stream for `subject`: its session, then `connected` (made from its id),
    /// then `channels` announced and subscribed, each with its first delivery (`replay`).
    pub async fn open_new(
        self: &Arc<Self>,
        socket: CancellationToken,
        channels: &[Channel],
        subject: Option<&str>,
        replay: bool,
        connected: impl FnOnce(Uuid) -> Bytes,
    ) -> Result<(ConnectionStream, Arc<Connection>), HubError> {
        let id = new_stream_id();
        // The session is written with the channels below, in one command, once their first
        // deliveries are read (where each history stands): nothing outside this pod knows the
        // stream's id before `connected` is sent, which is after that write.
        let connection = Arc::new(Connection::new(id, now_millis(), socket));
        // On failure `stream` is dropped on return, which unregisters the connection.
        let stream = self.open(connection.clone());
        connection.push(Item::plain(connected(id)), self.settings.capacity);
        self.subscribe_channels(
            &connection,
            channels,
            replay,
            true,
            Some(Opening { subject }),
        )
        .await?;
        Ok((stream, connection))
    }

    /// Continues the stream of `session` from `point` on this pod: the stale stream (here or
    /// on another pod) stops, and the new one gets `connected` (made from the channels it
    /// lists), every missed event with history in order, then live events, without gap or
    /// duplicate; `extra` channels the session lacks are new subscriptions after that.
    pub async fn resume_stream(
        self: &Arc<Self>,
        socket: CancellationToken,
        point: LastEventId,
        mut session: Session,
        extra: &[Channel],
        replay: bool,
        connected: impl FnOnce(Vec<String>) -> Bytes,
    ) -> Result<(ConnectionStream, Arc<Connection>), HubError> {
        let (id, seen) = (point.connection, point.seen);
        // A stale stream of the same session, here or on another pod, must stop writing it.
        if let Some(old) = self.connection(&id) {
            self.detach(&old);
            old.close_with(closing_frame(
                "superseded",
                "this stream continues on another connection",
                self.settings.retry,
            ));
            // Held here, its position is newer than the one last flushed to the session:
            // resume from it, so a client back before its old connection was noticed closed is
            // not sent again what it already had.
            if let Some(position) = old.position_if_changed(true) {
                adopt_position(&mut session, &position);
            }
        }
        // An event id from the future is not one this stream was sent (history ids are Redis'
        // clock in ms; a minute of skew is allowed): resume from what the session knows.
        let event = point
            .event
            .filter(|event| event.ms <= now_millis().saturating_add(60_000));
        let points = resume_points(&session, seen, event);
        let connection = Arc::new(Connection::resumed(
            id,
            now_millis(),
            socket,
            seen,
            cursors_of(&points),
            session.multi,
        ));
        let hold = StreamHold::new(&connection);
        let stream = self.open(connection.clone());
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
        connection.push_replay(Item::plain(connected(listed)));
        let starts: Vec<(Arc<str>, _)> = points
            .iter()
            .map(|(channel, from)| (Arc::from(channel.as_str()), *from))
            .collect();
        // Once the session is this pod's, the previous pod, if its stream may still be open,
        // is told to stop writing it.
        let tell = async {
            if session.owner != self.sessions.pod() && !session.closed {
                let op = ControlOp::Superseded { connection_id: id };
                if let Err(error) = self.send_control(&session.owner, &op).await {
                    tracing::debug!(%error, "telling the previous pod failed");
                }
            }
        };
        // Subscribe first, then replay, then release live events that the replay did not
        // cover. On one Redis node the take-over goes with the replay, in one command;
        // elsewhere both are in flight at once, and the stream goes on when both are done.
        for name in &names {
            self.subscribe_quietly(&connection, name).await?;
        }
        let replayed = if self.settings.one_node {
            let replays = self
                .sessions
                .take_over_and_replay(&id, &starts)
                .await
                .map_err(HubError::SessionStore)?;
            let replayed = self.deliver_replays(&connection, &starts, replays);
            tell.await;
            replayed
        } else {
            // Boxed: the Redis client's futures, on this way only (a cluster), are kilobytes that
            // every resume's future would otherwise carry.
            Box::pin(self.take_over_elsewhere(&id, &connection, &starts, tell)).await?
        };
        drop(hold);
        self.subscribe_channels(&connection, &extra, replay, false, None)
            .await?;
        tracing::debug!(connection.id = %id, replayed, "stream resumed");
        Ok((stream, connection))
    }

    /// A resume's take-over and replays on a cluster: both in flight at once; `tell` is run
    /// once the session is this pod's. Returns how many events were replayed.
    async fn take_over_elsewhere(
        self: &Arc<Self>,
        id: &Uuid,
        connection: &Arc<Connection>,
        starts: &[(Arc<str>, crate::resume::points::ResumeFrom)],
        tell: impl std::future::Future<Output = ()>,
    ) -> Result<usize, HubError> {
        let take_over = async {
            self.sessions
                .take_over(id)
                .await
                .map_err(HubError::SessionStore)?;
            tell.await;
            Ok::<_, HubError>(())
        };
        let replay = async {
            self.replay_from(connection, starts)
                .await
                .map_err(HubError::SessionStore)
        };
        let (taken, replayed) = tokio::join!(take_over, replay);
        taken?;
        replayed
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stream_ids_are_random_version_4_uuids() {
        let (a, b) = (super::new_stream_id(), super::new_stream_id());
        assert_ne!(a, b);
        assert_eq!(a.get_version(), Some(uuid::Version::Random));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }
}
