//! One SSE stream as the fan-out core sees it: its outbox, its position, its channels.
//!
//! Lock order: `outbox` before `position` (a frame is numbered while the outbox is locked),
//! `channels` before `position` (a second channel moves the position to the session); `outbox`
//! and `channels` are never held together. [`Connection::hold_channel`] reads the position,
//! lets it go, then takes the outbox: never both the other way round.
//!
//! A queue past its high-water mark coalesces intermediate job updates (see
//! `fanout/coalesce.rs`). Positions and the log only ever record events written, so an update
//! that was superseded before it was written is never claimed as delivered; a resume replays
//! from the last event the client received, which brings back anything it did not get.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use progress_contract::history::StreamId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::outbox::Outbox;
pub use super::outbox::{Item, Push};
use super::position::last_for;
pub use super::position::{Cursors, LOG_LEN, Position, Tagged};

/// The server side of one SSE stream.
pub struct Connection {
    id: Uuid,
    connected_at: u64,
    pub(super) outbox: Mutex<Outbox>,
    pub(super) position: Mutex<Position>,
    /// Redis channel names this stream is subscribed to.
    channels: Mutex<Vec<String>>,
    /// Cancelling it drops the TCP connection carrying the stream.
    socket: CancellationToken,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these short critical sections leaves the data consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connection {
    pub fn new(id: Uuid, connected_at: u64, socket: CancellationToken) -> Self {
        Self {
            id,
            connected_at,
            outbox: Mutex::new(Outbox::default()),
            position: Mutex::new(Position::default()),
            channels: Mutex::new(Vec::new()),
            socket,
        }
    }

    /// A resumed stream: numbering continues after `seq`, positions start at `cursors`;
    /// `multi` when its session has had several channels.
    pub fn resumed(
        id: Uuid,
        connected_at: u64,
        socket: CancellationToken,
        seq: u64,
        cursors: Cursors,
        multi: bool,
    ) -> Self {
        let connection = Self::new(id, connected_at, socket);
        lock(&connection.outbox).queued = cursors.clone();
        *lock(&connection.position) = Position {
            seq,
            cursors,
            log: std::collections::VecDeque::new(),
            dirty: multi,
            multi,
        };
        connection
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn connected_at(&self) -> u64 {
        self.connected_at
    }

    /// Queues `item` unless `capacity` frames are already waiting (coalescing intermediate
    /// job updates past the high-water mark).
    pub fn push(&self, item: Item, capacity: usize) -> Push {
        let mut outbox = lock(&self.outbox);
        if outbox.closed {
            return Push::Closed;
        }
        if outbox.is_held(&item) {
            return outbox.hold_back(item, capacity);
        }
        if outbox.frames.is_empty() && outbox.sink.as_ref().is_some_and(|sink| sink.is_ready()) {
            return self.write_now(&mut outbox, item);
        }
        let push = outbox.offer(item, capacity);
        if matches!(push, Push::Queued | Push::Coalesced(_)) {
            self.kick(&mut outbox);
        }
        push
    }

    /// Holds every live event back until [`Connection::release`], so a replay can be queued
    /// first. Holds nest: events flow again when every hold is released.
    pub fn hold(&self) {
        lock(&self.outbox).holds += 1;
    }

    /// Queues a replayed event (not limited by capacity: replays are bounded by history).
    pub fn push_replay(&self, item: Item) -> Push {
        let mut outbox = lock(&self.outbox);
        if outbox.closed {
            return Push::Closed;
        }
        outbox.admit(item)
    }

    /// Ends one [`Connection::hold`]: once none is left, queues the held live events after
    /// the replay, skipping what the replay already sent. Returns how many were duplicates.
    pub fn release(&self) -> usize {
        let mut outbox = lock(&self.outbox);
        outbox.holds = outbox.holds.saturating_sub(1);
        self.admit_released(&mut outbox)
    }

    /// Holds `channel`'s live events back until [`Connection::release_channel`], and returns
    /// where the stream stands on it: the newest event id queued or written, the point a
    /// catch-up replays after. `None` (and no hold) when the stream has no position there.
    ///
    /// Both happen under one lock, so every event of the channel is either covered by the
    /// position or held: none can be queued between the two, ahead of a replay that would
    /// then be dropped as older than it.
    pub fn hold_channel(&self, channel: &Arc<str>) -> Option<StreamId> {
        let cursor = last_for(&lock(&self.position).cursors, channel).copied();
        let mut outbox = lock(&self.outbox);
        let queued = last_for(&outbox.queued, channel).copied();
        let point = cursor.max(queued)?;
        outbox.hold_channel(channel);
        Some(point)
    }

    /// Holds `channel`'s live events back until [`Connection::release_channel`], whatever the
    /// stream's position: taken before a new subscription reaches Redis, so its first delivery
    /// (history, snapshot or state) is queued ahead of every live event.
    pub fn hold_new_channel(&self, channel: &Arc<str>) {
        lock(&self.outbox).hold_channel(channel);
    }

    /// Ends one [`Connection::hold_channel`] on `channel`: once none is left, its held live
    /// events are queued after the replay. Returns how many were duplicates.
    pub fn release_channel(&self, channel: &str) -> usize {
        let mut outbox = lock(&self.outbox);
        outbox.release_channel(channel);
        self.admit_released(&mut outbox)
    }

    /// Queues what no hold covers any more, and writes or wakes the stream (for its replay
    /// too).
    fn admit_released(&self, outbox: &mut Outbox) -> usize {
        let duplicates = outbox.admit_released();
        self.kick(outbox);
        duplicates
    }

    /// Drops everything queued, queues `last` as the final frame and ends the stream after
    /// it. Returns false if the stream was already closing.
    pub fn close_with(&self, last: Bytes) -> bool {
        let mut outbox = lock(&self.outbox);
        let closed = outbox.close_with(last);
        if closed {
            self.kick(&mut outbox);
        }
        closed
    }

    /// Ends the stream after what is already queued (a graceful close: nothing is dropped).
    pub fn finish_with(&self, last: Bytes) -> bool {
        let mut outbox = lock(&self.outbox);
        let finished = outbox.finish_with(last);
        if finished {
            self.kick(&mut outbox);
        }
        finished
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.outbox).closed
    }

    /// Frames waiting to be written.
    pub fn queued(&self) -> usize {
        lock(&self.outbox).frames.len()
    }

    /// Cuts the TCP connection now (for a client that does not read its final event).
    pub fn cut_socket(&self) {
        self.socket.cancel();
    }

    /// Records a channel; false if it was already there. The second channel a stream ever
    /// has ends its one-channel mode (see [`Position::multi`]).
    pub fn add_channel(&self, channel: &str) -> bool {
        let mut channels = lock(&self.channels);
        if channels.iter().any(|c| c == channel) {
            return false;
        }
        channels.push(channel.to_owned());
        if channels.len() > 1 {
            lock(&self.position).become_multi();
        }
        true
    }

    /// Whether the stream has had more than one channel.
    pub fn is_multi(&self) -> bool {
        lock(&self.position).multi
    }

    /// Forgets a channel; false if it was not there.
    pub fn remove_channel(&self, channel: &str) -> bool {
        let mut channels = lock(&self.channels);
        let before = channels.len();
        channels.retain(|c| c != channel);
        channels.len() != before
    }

    pub fn channels(&self) -> Vec<String> {
        lock(&self.channels).clone()
    }

    /// Calls `f` with each channel name, without copying them.
    pub fn each_channel(&self, mut f: impl FnMut(&str)) {
        for name in lock(&self.channels).iter() {
            f(name);
        }
    }

    pub fn channel_count(&self) -> usize {
        lock(&self.channels).len()
    }

    pub fn take_channels(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.channels))
    }

    /// The position, if it changed since the last call (`force` returns it regardless).
    pub fn position_if_changed(&self, force: bool) -> Option<Position> {
        let mut position = lock(&self.position);
        if !position.dirty && !force {
            return None;
        }
        position.dirty = false;
        Some(position.clone())
    }

    /// Sets where a newly subscribed channel's history stands, unless already known.
    pub fn start_cursor(&self, channel: &str, id: StreamId) {
        lock(&self.position).start_cursor(channel, id);
    }
}

type OnDrop = Box<dyn FnOnce(&Arc<Connection>) + Send + Sync>;

/// The response body of a stream. Dropping it (client gone, or stream ended) runs `on_drop`,
/// which removes the connection from the hub.
pub struct ConnectionStream {
    connection: Arc<Connection>,
    on_drop: Option<OnDrop>,
}

impl ConnectionStream {
    pub fn new(
        connection: Arc<Connection>,
        on_drop: impl FnOnce(&Arc<Connection>) + Send + Sync + 'static,
    ) -> Self {
        Self {
            connection,
            on_drop: Some(Box::new(on_drop)),
        }
    }
}

impl Stream for ConnectionStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connection.poll_frame(cx).map(|frame| frame.map(Ok))
    }
}

impl Drop for ConnectionStream {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop(&self.connection);
        }
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
