//! Catching streams up after the Redis subscriber reconnected or fell behind: each local
//! stream's channels are held from before their subscriptions are restored, then replayed
//! from where each stream stands (see [`super::replay`]).

use std::sync::Arc;

use progress_contract::history::StreamId;

use super::replay::Backlog;
use super::{Connection, Hub};
use crate::resume::points::ResumeFrom;

/// One stream's position on one channel, to catch up from; the channel's live events are
/// held back for the stream until this is dropped.
pub struct CatchUp {
    pub connection: Arc<Connection>,
    pub channel: Arc<str>,
    pub after: StreamId,
}

impl Drop for CatchUp {
    fn drop(&mut self) {
        self.connection.release_channel(&self.channel);
    }
}

impl Hub {
    /// Starts a catch-up of every local stream on every channel it is subscribed to: from
    /// now on their live events are held back (see [`Connection::hold_channel`]), and each
    /// entry remembers where its stream stands. Call it *before* the subscriptions are
    /// restored: an event that arrives live once they are is held until the replay before it
    /// is queued, instead of overtaking it (the replay would then be dropped as older than
    /// what the stream already has, leaving a hole). Dropping an entry ends its hold.
    pub fn begin_catch_up(&self) -> Vec<CatchUp> {
        let mut entries = Vec::new();
        for connection in self.connections() {
            for channel in connection.channels() {
                let channel = self.channel_name(&channel);
                if let Some(after) = connection.hold_channel(&channel) {
                    entries.push(CatchUp {
                        connection: connection.clone(),
                        channel,
                        after,
                    });
                }
            }
        }
        entries
    }

    /// Replays what history holds beyond each position of `pending`, then lets the stream's
    /// held live events follow; entries that could not be read (Redis still reconnecting) stay
    /// in `pending`, still held, for another attempt. Streams with events no longer in history
    /// get `resync`. Returns how many events were replayed.
    pub async fn catch_up_from(self: &Arc<Self>, pending: &mut Vec<CatchUp>) -> usize {
        let mut replayed = 0;
        let mut failed = Vec::new();
        for entry in pending.drain(..) {
            if entry.connection.is_closed() {
                continue;
            }
            let start = [(entry.channel.clone(), ResumeFrom::After(entry.after))];
            match self.replay_from(&entry.connection, &start).await {
                Ok(queued) => replayed += queued,
                Err(error) => {
                    tracing::debug!(%error, channel = %entry.channel, "catch-up replay failed; will retry");
                    failed.push(entry);
                }
            }
            // Dropping the entry releases the channel's held live events, after the replay.
        }
        *pending = failed;
        replayed
    }

    /// Gives up on `pending` catch-ups (history stayed unreadable): their streams get
    /// `resync` (they may have missed events), and their held live events flow again.
    pub fn abandon_catch_up(&self, pending: Vec<CatchUp>) {
        for entry in pending {
            if entry.connection.is_closed() {
                continue;
            }
            self.deliver_backlogs(
                &entry.connection,
                vec![Backlog::lost(entry.channel.clone())],
            );
        }
    }
}
