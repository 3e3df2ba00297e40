//! One SSE stream: a bounded queue of ready-made frames, the body stream that drains it, and
//! the stream's position in every channel's history.
//!
//! Kept small on purpose: an idle connection is this struct, an empty `VecDeque` and a
//! waker. Event bodies are shared `Bytes`, so an event fanned out to many streams is one
//! allocation; only the short `id:` line is per stream, made when the event is written.
//!
//! Positions: every event with history is numbered per stream when written, and the stream
//! remembers, per channel, the last event id written. A stream on one channel (a browser
//! watching its job: the common case) writes that event id into the SSE id itself
//! (`id: {connectionId}:{n}:{eventId}`), so its `Last-Event-ID` alone says exactly where to
//! resume and its position never needs writing to Redis while it is open. A stream that has
//! had several channels writes `id: {connectionId}:{n}` and keeps a short log of recent
//! (n, channel, event id), flushed to its session, which maps `n` back to a position on
//! every channel.
//!
//! A queue past its high-water mark coalesces intermediate job updates (see
//! [`super::coalesce`]). Positions and the log only ever record events written, so an update
//! that was superseded before it was written is never claimed as delivered; a resume replays
//! from the last event the client received, which brings back anything it did not get.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::Stream;
use progress_contract::history::StreamId;
use smallvec::SmallVec;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::wire::{self, Flushed, MAX_BATCH, Wire};
use super::{coalesce, id_line};

/// Entries of the recent-delivery log kept per stream.
pub const LOG_LEN: usize = 64;

/// The newest event id per channel. A stream's first channel is kept in place, not in a
/// separate allocation: a stream on one channel (the common case) reads and moves its
/// position without reaching for more memory.
pub type Cursors = SmallVec<[(Arc<str>, StreamId); 1]>;

/// An event's place in a channel's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    pub channel: Arc<str>,
    pub id: StreamId,
}

/// One queued frame.
#[derive(Clone, Debug)]
pub struct Item {
    pub body: Bytes,
    pub history: Option<Tagged>,
    /// The channel of a job update or of an event with history (shares the history's
    /// `Arc`): what coalescing matches on.
    pub channel: Option<Arc<str>>,
    /// An intermediate job update: a newer update of the same job may replace it.
    pub coalescable: bool,
}

impl Item {
    pub fn plain(body: Bytes) -> Self {
        Self {
            body,
            history: None,
            channel: None,
            coalescable: false,
        }
    }
}

/// Outcome of queueing a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// Queued; this many older intermediate updates queued before it were dropped, each
    /// superseded by a newer update of the same job (the queue was past its high-water mark).
    Coalesced(usize),
    /// Already queued or written (same channel, same or older event id): skipped.
    Duplicate,
    /// The queue was full: the frame was not queued.
    Full,
    /// The stream is closing: the frame was not queued.
    Closed,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Item>,
    /// Live events held back while a replay is queued, in arrival order.
    held: Vec<Item>,
    /// Holds on every live event (a resume replaying its channels); they nest.
    holds: usize,
    /// Holds on one channel's live events (a catch-up after a reconnect); they nest.
    held_channels: Vec<(Arc<str>, usize)>,
    /// Newest event id queued per channel (for de-duplication).
    queued: Cursors,
    /// Body to write after its `id:` line.
    pending_body: Option<Bytes>,
    waker: Option<Waker>,
    closed: bool,
    /// The socket, for a stream written directly (see [`super::wire`]); `None` while the
    /// response has not started, and for streams whose body is polled by hyper.
    wire: Option<Wire>,
}

/// What has been written to the client, per channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Number of the last numbered event written.
    pub seq: u64,
    /// Last event id written, per channel.
    pub cursors: Cursors,
    /// Recent (n, channel, event id), oldest first (kept once the stream has had several
    /// channels).
    pub log: VecDeque<(u64, Arc<str>, StreamId)>,
    /// Changed since the last snapshot, in a way only the session can carry (a stream on one
    /// channel carries its position in its SSE ids).
    pub dirty: bool,
    /// The stream has had more than one channel: SSE ids no longer name a channel's event
    /// id, and the position is flushed to the session.
    pub multi: bool,
}

/// The server side of one SSE stream.
pub struct Connection {
    id: Uuid,
    connected_at: u64,
    queue: Mutex<Queue>,
    position: Mutex<Position>,
    /// Redis channel names this stream is subscribed to.
    channels: Mutex<Vec<String>>,
    /// Cancelling it drops the TCP connection carrying the stream.
    socket: CancellationToken,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these short critical sections leaves the data consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn last_for<'a>(list: &'a [(Arc<str>, StreamId)], channel: &str) -> Option<&'a StreamId> {
    list.iter()
        .find(|(c, _)| same_name(c, channel))
        .map(|(_, id)| id)
}

/// Channel names of live events share one allocation (see `Hub::channel_name`): the same
/// pointer settles it without comparing the bytes.
fn same_name(name: &Arc<str>, other: &str) -> bool {
    std::ptr::eq(name.as_ptr(), other.as_ptr()) && name.len() == other.len() || **name == *other
}

/// Sets `channel`'s id. An entry found by its bytes takes `channel`'s allocation, so that the
/// next event of the channel finds it by pointer.
fn set_for(list: &mut Cursors, channel: &Arc<str>, id: StreamId) {
    if let Some(entry) = list.iter_mut().find(|(c, _)| Arc::ptr_eq(c, channel)) {
        entry.1 = id;
    } else if let Some(entry) = list.iter_mut().find(|(c, _)| c == channel) {
        *entry = (channel.clone(), id);
    } else {
        list.push((channel.clone(), id));
    }
}

impl Queue {
    /// Whether a live `item` must wait for a replay to be queued first.
    fn is_held(&self, item: &Item) -> bool {
        self.holds > 0
            || item
                .channel
                .as_ref()
                .is_some_and(|channel| self.held_channels.iter().any(|(held, _)| held == channel))
    }

    /// Queues, in their order, the held events no hold covers any more, skipping what a
    /// replay already queued; returns how many were duplicates.
    fn admit_released(&mut self) -> usize {
        let mut duplicates = 0;
        for item in std::mem::take(&mut self.held) {
            if self.is_held(&item) {
                self.held.push(item);
            } else if self.admit(item) == Push::Duplicate {
                duplicates += 1;
            }
        }
        duplicates
    }

    /// The channel already had this id or a newer one queued or written.
    fn is_duplicate(&self, item: &Item) -> bool {
        item.history.as_ref().is_some_and(|tagged| {
            last_for(&self.queued, &tagged.channel).is_some_and(|last| *last >= tagged.id)
        })
    }

    fn note(&mut self, item: &Item) {
        if let Some(tagged) = &item.history {
            set_for(&mut self.queued, &tagged.channel, tagged.id);
        }
    }

    /// De-duplicates and queues, whatever the length; `Duplicate` when the channel already
    /// had this id or newer.
    fn admit(&mut self, item: Item) -> Push {
        if self.is_duplicate(&item) {
            return Push::Duplicate;
        }
        self.note(&item);
        self.frames.push_back(item);
        Push::Queued
    }

    /// De-duplicates and queues within `capacity`: past the high-water mark an intermediate
    /// update replaces its job's newest queued one; a full queue first drops superseded
    /// updates, and is `Full` only if none was.
    fn offer(&mut self, item: Item, capacity: usize) -> Push {
        if self.is_duplicate(&item) {
            return Push::Duplicate;
        }
        if item.coalescable && self.frames.len() >= coalesce::high_water(capacity) {
            let slot = item
                .channel
                .as_deref()
                .and_then(|channel| coalesce::newest_intermediate(&self.frames, channel));
            if let Some(index) = slot {
                self.note(&item);
                self.frames[index] = item;
                return Push::Coalesced(1);
            }
        }
        let mut dropped = 0;
        if self.frames.len() >= capacity {
            dropped = coalesce::compact(&mut self.frames);
            if self.frames.len() >= capacity {
                return Push::Full;
            }
        }
        self.note(&item);
        self.frames.push_back(item);
        if dropped > 0 {
            Push::Coalesced(dropped)
        } else {
            Push::Queued
        }
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Connection {
    pub fn new(id: Uuid, connected_at: u64, socket: CancellationToken) -> Self {
        Self {
            id,
            connected_at,
            queue: Mutex::new(Queue::default()),
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
        {
            let mut queue = lock(&connection.queue);
            queue.queued = cursors.clone();
        }
        *lock(&connection.position) = Position {
            seq,
            cursors,
            log: VecDeque::new(),
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
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Push::Closed;
        }
        if queue.is_held(&item) {
            if queue.held.len() >= capacity.saturating_mul(4) {
                return Push::Full;
            }
            queue.held.push(item);
            return Push::Queued;
        }
        if queue.frames.is_empty() && queue.wire.as_ref().is_some_and(Wire::is_ready) {
            return self.write_now(&mut queue, item);
        }
        let push = queue.offer(item, capacity);
        if matches!(push, Push::Queued | Push::Coalesced(_)) {
            self.kick(&mut queue);
        }
        push
    }

    /// A direct stream with nothing queued or waiting: `item` goes to the socket at once,
    /// without passing through the queue.
    fn write_now(&self, queue: &mut Queue, item: Item) -> Push {
        if queue.is_duplicate(&item) {
            return Push::Duplicate;
        }
        queue.note(&item);
        let Some(wire) = queue.wire.as_mut() else {
            // Not a direct stream after all: its task writes it.
            queue.frames.push_back(item);
            queue.wake();
            return Push::Queued;
        };
        match self.write_one(&item, wire, false) {
            Ok(Flushed::Idle) => {}
            // The task waits for the socket, or ends the stream.
            Ok(Flushed::Blocked | Flushed::Ended) | Err(_) => queue.wake(),
        }
        Push::Queued
    }

    /// Something was queued: written at once on a direct stream, else its task is woken.
    fn kick(&self, queue: &mut Queue) {
        if queue.wire.is_none() {
            return queue.wake();
        }
        match self.flush_wire(queue) {
            Ok(Flushed::Idle) => {}
            // The task waits for the socket, or ends the stream.
            Ok(Flushed::Blocked | Flushed::Ended) | Err(_) => queue.wake(),
        }
    }

    /// Starts writing this stream straight to `socket` (see [`super::wire`]): `head` first,
    /// then every queued frame. From now on the stream's task polls [`Connection::poll_wire`].
    pub fn attach_wire(&self, socket: tokio::net::TcpStream, head: &[u8], chunked: bool) {
        let mut queue = lock(&self.queue);
        queue.wire = Some(Wire::new(socket, head, chunked));
        self.kick(&mut queue);
    }

    /// Gives the socket back (the stream's task ends): the connection no longer keeps it open.
    pub fn detach_wire(&self) -> Option<tokio::net::TcpStream> {
        lock(&self.queue).wire.take().map(Wire::into_socket)
    }

    /// Writes the backlog, then the queued frames in batches, then the body's end once the
    /// stream is closed and drained, until done or the socket is full.
    fn flush_wire(&self, queue: &mut Queue) -> std::io::Result<Flushed> {
        let Queue {
            frames,
            wire,
            closed,
            ..
        } = queue;
        let Some(wire) = wire.as_mut() else {
            return Ok(Flushed::Idle);
        };
        if !wire.write_backlog()? {
            return Ok(Flushed::Blocked);
        }
        loop {
            if wire.is_finished() {
                return Ok(Flushed::Ended);
            }
            let count = frames.len().min(MAX_BATCH);
            let last = *closed && count == frames.len();
            if count == 0 && !last {
                return Ok(Flushed::Idle);
            }
            // One frame (a fan-out's usual case) without a batch's stack arrays.
            let written = if count == 1
                && let Some(item) = frames.pop_front()
            {
                self.write_one(&item, wire, last)?
            } else {
                self.write_batch(frames, wire, last)?
            };
            match written {
                Flushed::Idle => {}
                other => return Ok(other),
            }
        }
    }

    /// Numbers one frame and writes it as one chunk (then the body's end when `last`).
    fn write_one(&self, item: &Item, wire: &mut Wire, last: bool) -> std::io::Result<Flushed> {
        let mut id = [0u8; id_line::MAX];
        let length = match &item.history {
            Some(tagged) => self.record(tagged, &mut id),
            None => 0,
        };
        wire.write_chunk(&[&id[..length], &item.body[..]], last)
    }

    /// Takes up to [`MAX_BATCH`] frames off the queue, numbers them, and writes them as one
    /// chunk.
    fn write_batch(
        &self,
        frames: &mut VecDeque<Item>,
        wire: &mut Wire,
        last: bool,
    ) -> std::io::Result<Flushed> {
        const N: usize = MAX_BATCH;
        let count = frames.len().min(N);
        let last = last && count == frames.len();
        let mut batch: [Option<Item>; N] = std::array::from_fn(|_| None);
        let mut ids = [[0u8; id_line::MAX]; N];
        let mut id_lengths = [0usize; N];
        for n in 0..count {
            let item = frames.pop_front();
            if let Some(tagged) = item.as_ref().and_then(|item| item.history.as_ref()) {
                id_lengths[n] = self.record(tagged, &mut ids[n]);
            }
            batch[n] = item;
        }
        let mut parts = [[&[][..]; 2]; N];
        for (n, item) in batch.iter().enumerate().take(count) {
            parts[n] = [
                &ids[n][..id_lengths[n]],
                item.as_ref().map_or(&[][..], |item| &item.body[..]),
            ];
        }
        wire.write_chunk(parts[..count].as_flattened(), last)
    }

    /// The task of a direct stream: ready when the stream has ended (`Ok`) or the client is
    /// gone (`Err`); otherwise waits to be woken by a frame the socket refused, by a close,
    /// or by the socket.
    pub fn poll_wire(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut queue = lock(&self.queue);
        loop {
            match self.flush_wire(&mut queue)? {
                Flushed::Ended => return Poll::Ready(Ok(())),
                Flushed::Blocked => {
                    let Some(wire) = &queue.wire else {
                        return Poll::Ready(Ok(()));
                    };
                    match wire.socket().poll_write_ready(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Flushed::Idle => {
                    match &queue.waker {
                        Some(waker) if waker.will_wake(cx.waker()) => {}
                        _ => queue.waker = Some(cx.waker().clone()),
                    }
                    let Some(wire) = &queue.wire else {
                        return Poll::Ready(Ok(()));
                    };
                    return match wire::client_left(cx, wire.socket()) {
                        Poll::Ready(()) => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }

    /// Holds every live event back until [`Connection::release`], so a replay can be queued
    /// first. Holds nest: events flow again when every hold is released.
    pub fn hold(&self) {
        lock(&self.queue).holds += 1;
    }

    /// Queues a replayed event (not limited by capacity: replays are bounded by history).
    pub fn push_replay(&self, item: Item) -> Push {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Push::Closed;
        }
        queue.admit(item)
    }

    /// Ends one [`Connection::hold`]: once none is left, queues the held live events after
    /// the replay, skipping what the replay already sent. Returns how many were duplicates.
    pub fn release(&self) -> usize {
        let mut queue = lock(&self.queue);
        queue.holds = queue.holds.saturating_sub(1);
        self.admit_released(&mut queue)
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
        let mut queue = lock(&self.queue);
        let queued = last_for(&queue.queued, channel).copied();
        let point = cursor.max(queued)?;
        match queue.held_channels.iter_mut().find(|(c, _)| c == channel) {
            Some(entry) => entry.1 += 1,
            None => queue.held_channels.push((channel.clone(), 1)),
        }
        Some(point)
    }

    /// Ends one [`Connection::hold_channel`] on `channel`: once none is left, its held live
    /// events are queued after the replay. Returns how many were duplicates.
    pub fn release_channel(&self, channel: &str) -> usize {
        let mut queue = lock(&self.queue);
        if let Some(index) = queue
            .held_channels
            .iter()
            .position(|(c, _)| &**c == channel)
        {
            queue.held_channels[index].1 -= 1;
            if queue.held_channels[index].1 == 0 {
                queue.held_channels.swap_remove(index);
            }
        }
        self.admit_released(&mut queue)
    }

    /// Queues what no hold covers any more, and writes or wakes the stream (for its replay
    /// too).
    fn admit_released(&self, queue: &mut Queue) -> usize {
        let duplicates = queue.admit_released();
        self.kick(queue);
        duplicates
    }

    /// Drops everything queued, queues `last` as the final frame and ends the stream after
    /// it. Returns false if the stream was already closing.
    pub fn close_with(&self, last: Bytes) -> bool {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return false;
        }
        queue.closed = true;
        queue.held = Vec::new();
        queue.holds = 0;
        queue.held_channels.clear();
        queue.frames.clear();
        queue.frames.shrink_to_fit();
        queue.frames.push_back(Item::plain(last));
        self.kick(&mut queue);
        true
    }

    /// Ends the stream after what is already queued (a graceful close: nothing is dropped).
    pub fn finish_with(&self, last: Bytes) -> bool {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return false;
        }
        queue.closed = true;
        queue.holds = 0;
        queue.held_channels.clear();
        for item in std::mem::take(&mut queue.held) {
            queue.admit(item);
        }
        queue.frames.push_back(Item::plain(last));
        self.kick(&mut queue);
        true
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.queue).closed
    }

    /// Frames waiting to be written.
    pub fn queued(&self) -> usize {
        lock(&self.queue).frames.len()
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
            self.become_multi();
        }
        true
    }

    /// From now on the position lives in the session: the log starts with the last event
    /// written, so a client whose last id is that event resumes exactly.
    fn become_multi(&self) {
        let mut position = lock(&self.position);
        if position.multi {
            return;
        }
        position.multi = true;
        position.dirty = true;
        if position.seq > 0
            && let [(channel, id)] = position.cursors.as_slice()
        {
            let entry = (position.seq, channel.clone(), *id);
            position.log.push_back(entry);
        }
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
        let mut position = lock(&self.position);
        if last_for(&position.cursors, channel).is_none() {
            position.cursors.push((Arc::from(channel), id));
            // A one-channel stream's session already has it (`since`).
            position.dirty |= position.multi;
        }
    }

    /// Numbers a written event and moves the position; writes its SSE `id:` line into
    /// `line` and returns its length.
    fn record(&self, tagged: &Tagged, line: &mut [u8; id_line::MAX]) -> usize {
        let mut position = lock(&self.position);
        position.seq += 1;
        let seq = position.seq;
        set_for(&mut position.cursors, &tagged.channel, tagged.id);
        if !position.multi {
            return id_line::write(&self.id, seq, Some(tagged.id), line);
        }
        if position.log.len() == LOG_LEN {
            position.log.pop_front();
        }
        position
            .log
            .push_back((seq, tagged.channel.clone(), tagged.id));
        position.dirty = true;
        id_line::write(&self.id, seq, None, line)
    }

    fn poll_frame(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut queue = lock(&self.queue);
        if let Some(body) = queue.pending_body.take() {
            return Poll::Ready(Some(body));
        }
        if let Some(item) = queue.frames.pop_front() {
            return Poll::Ready(Some(match item.history {
                Some(tagged) => {
                    queue.pending_body = Some(item.body);
                    let mut line = [0u8; id_line::MAX];
                    let length = self.record(&tagged, &mut line);
                    Bytes::copy_from_slice(&line[..length])
                }
                None => item.body,
            }));
        }
        if queue.closed {
            return Poll::Ready(None);
        }
        match &queue.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => queue.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
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
mod tests {
    use super::*;
    use futures::StreamExt;

    fn connection() -> Arc<Connection> {
        Arc::new(Connection::new(Uuid::new_v4(), 0, CancellationToken::new()))
    }

    fn plain(text: &'static str) -> Item {
        Item::plain(Bytes::from_static(text.as_bytes()))
    }

    fn tagged(channel: &Arc<str>, ms: u64, text: &'static str) -> Item {
        Item {
            body: Bytes::from_static(text.as_bytes()),
            history: Some(Tagged {
                channel: channel.clone(),
                id: StreamId { ms, seq: 0 },
            }),
            channel: Some(channel.clone()),
            coalescable: false,
        }
    }

    fn progress(channel: &Arc<str>, ms: u64, text: &'static str) -> Item {
        Item {
            coalescable: true,
            ..tagged(channel, ms, text)
        }
    }

    async fn next(stream: &mut ConnectionStream) -> Option<Bytes> {
        stream
            .next()
            .await
            .map(|r| r.unwrap_or_else(|never| match never {}))
    }

    #[tokio::test]
    async fn delivers_in_order_then_ends_after_close() {
        let conn = connection();
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        assert_eq!(conn.push(plain("a"), 4), Push::Queued);
        assert_eq!(conn.push(plain("b"), 4), Push::Queued);
        assert_eq!(next(&mut stream).await.as_deref(), Some(&b"a"[..]));
        assert_eq!(next(&mut stream).await.as_deref(), Some(&b"b"[..]));
        assert!(conn.close_with(Bytes::from_static(b"bye")));
        assert_eq!(conn.push(plain("late"), 4), Push::Closed);
        assert_eq!(next(&mut stream).await.as_deref(), Some(&b"bye"[..]));
        assert_eq!(next(&mut stream).await, None);
    }

    /// A direct stream over loopback: the connection writes to `server`'s end.
    async fn direct() -> (Arc<Connection>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let conn = connection();
        conn.attach_wire(server, b"", false);
        (conn, client)
    }

    #[tokio::test]
    async fn a_direct_stream_writes_at_once_and_queues_behind_a_full_socket() {
        use tokio::io::AsyncReadExt;
        let (conn, mut client) = direct().await;
        let job: Arc<str> = Arc::from("job:1");
        assert_eq!(conn.push(tagged(&job, 5, "first\n"), 4), Push::Queued);
        assert_eq!(conn.queued(), 0, "written, not queued");
        assert_eq!(conn.push(tagged(&job, 5, "again\n"), 4), Push::Duplicate);
        let mut received = vec![0u8; 256];
        let n = client.read(&mut received).await.unwrap();
        let expected = format!("id: {}:1:5-0\nfirst\n", conn.id());
        assert_eq!(String::from_utf8_lossy(&received[..n]), expected);

        // Fill the socket: what it refuses waits, and what follows queues behind it, in order.
        let big = Bytes::from(vec![b'x'; 256 * 1024]);
        let mut pushed = 0;
        while conn.queued() == 0 {
            assert_eq!(conn.push(Item::plain(big.clone()), 1_000), Push::Queued);
            pushed += big.len();
        }
        assert_eq!(conn.push(plain("tail"), 1_000), Push::Queued);
        let queued = conn.queued();
        assert!(queued >= 2, "{queued} frames wait behind the full socket");
        let waiting = conn.clone();
        let writer = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| waiting.poll_wire(cx)).await;
        });
        let mut rest = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        while rest.len() < pushed + 4 {
            let n = client.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the stream ended early");
            rest.extend_from_slice(&buffer[..n]);
        }
        assert!(rest[..pushed].iter().all(|b| *b == b'x'));
        assert_eq!(&rest[pushed..], b"tail");
        writer.abort();
    }

    #[test]
    fn a_position_found_by_name_takes_the_shared_name() {
        let mut list: Cursors = [(Arc::from("job:a"), StreamId::default())]
            .into_iter()
            .collect();
        let shared: Arc<str> = Arc::from("job:a");
        let id = StreamId { ms: 5, seq: 1 };
        set_for(&mut list, &shared, id);
        assert_eq!(list.len(), 1);
        assert!(
            Arc::ptr_eq(&list[0].0, &shared),
            "the entry holds the shared name"
        );
        assert_eq!(list[0].1, id);
        set_for(&mut list, &Arc::from("job:b"), id);
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn bounded_and_close_discards_backlog() {
        let conn = connection();
        for _ in 0..3 {
            assert_eq!(conn.push(plain("x"), 3), Push::Queued);
        }
        assert_eq!(conn.push(plain("x"), 3), Push::Full);
        assert!(conn.close_with(Bytes::from_static(b"bye")));
        assert_eq!(conn.queued(), 1);
        assert!(!conn.close_with(Bytes::from_static(b"again")));
    }

    #[tokio::test]
    async fn numbered_events_carry_ids_and_move_the_position() {
        let conn = connection();
        let job: Arc<str> = Arc::from("job:1");
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        assert!(conn.add_channel("job:1"));
        conn.push(tagged(&job, 5, "e5"), 8);
        conn.push(plain("heartbeat"), 8);
        let id_line = next(&mut stream).await.unwrap();
        // One channel: the id names the event in its history, and nothing needs flushing.
        assert_eq!(id_line, Bytes::from(format!("id: {}:1:5-0\n", conn.id())));
        assert_eq!(next(&mut stream).await.as_deref(), Some(&b"e5"[..]));
        assert_eq!(next(&mut stream).await.as_deref(), Some(&b"heartbeat"[..]));
        assert!(conn.position_if_changed(false).is_none());
        let position = conn.position_if_changed(true).unwrap();
        assert_eq!(position.seq, 1);
        assert_eq!(
            position.cursors.as_slice(),
            [(job.clone(), StreamId { ms: 5, seq: 0 })]
        );
        assert!(position.log.is_empty());
    }

    #[tokio::test]
    async fn a_second_channel_moves_the_position_to_the_session_for_good() {
        let conn = connection();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("job:a"), Arc::from("job:b"));
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        conn.add_channel("job:a");
        conn.push(tagged(&a, 5, "a5"), 8);
        read_events(&mut stream, 1).await;
        assert!(!conn.is_multi());
        conn.add_channel("job:b");
        assert!(conn.is_multi());
        // The log starts with the last event written, and the position is to be flushed.
        let position = conn.position_if_changed(false).unwrap();
        assert_eq!(position.log, [(1, a.clone(), StreamId { ms: 5, seq: 0 })]);
        conn.push(tagged(&b, 6, "b6"), 8);
        let id_line = next(&mut stream).await.unwrap();
        assert_eq!(id_line, Bytes::from(format!("id: {}:2\n", conn.id())));
        next(&mut stream).await.unwrap();
        let position = conn.position_if_changed(false).unwrap();
        assert_eq!(position.log.len(), 2);
        // Removing a channel does not bring one-channel ids back.
        conn.remove_channel("job:b");
        conn.push(tagged(&a, 7, "a7"), 8);
        let id_line = next(&mut stream).await.unwrap();
        assert_eq!(id_line, Bytes::from(format!("id: {}:3\n", conn.id())));
    }

    #[tokio::test]
    async fn held_live_events_follow_the_replay_without_duplicates() {
        let conn = connection();
        let job: Arc<str> = Arc::from("job:1");
        conn.hold();
        // Live events arrive while the replay is being read.
        conn.push(tagged(&job, 3, "e3"), 8);
        conn.push(tagged(&job, 4, "e4"), 8);
        conn.push_replay(tagged(&job, 2, "e2"));
        conn.push_replay(tagged(&job, 3, "e3"));
        assert_eq!(conn.release(), 1, "e3 came twice");
        assert_eq!(conn.push(tagged(&job, 4, "e4 again"), 8), Push::Duplicate);
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        let mut bodies = Vec::new();
        for _ in 0..6 {
            bodies.push(next(&mut stream).await.unwrap());
        }
        let events: Vec<&[u8]> = bodies.iter().skip(1).step_by(2).map(|b| &b[..]).collect();
        assert_eq!(events, [&b"e2"[..], b"e3", b"e4"]);
    }

    #[tokio::test]
    async fn a_live_event_that_overtakes_a_catch_up_waits_for_the_replay() {
        let conn = connection();
        let (job, other): (Arc<str>, Arc<str>) = (Arc::from("job:1"), Arc::from("job:2"));
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        conn.add_channel("job:1");
        conn.add_channel("job:2");
        conn.push(tagged(&job, 2, "e2"), 8);
        read_events(&mut stream, 1).await;
        // The subscription is lost; the catch-up starts from the last event written.
        assert_eq!(conn.hold_channel(&job), Some(StreamId { ms: 2, seq: 0 }));
        assert_eq!(
            conn.hold_channel(&other),
            None,
            "no position: nothing to hold"
        );
        // Back: e3 and e4 were published while away (history only); e5 arrives live before
        // the history is read, and waits. Other channels flow meanwhile.
        assert_eq!(conn.push(tagged(&job, 5, "e5"), 8), Push::Queued);
        assert_eq!(conn.push(tagged(&other, 6, "o6"), 8), Push::Queued);
        assert_eq!(read_events(&mut stream, 1).await, [&b"o6"[..]]);
        for (ms, body) in [(3, "e3"), (4, "e4"), (5, "e5")] {
            assert_eq!(conn.push_replay(tagged(&job, ms, body)), Push::Queued);
        }
        assert_eq!(conn.release_channel(&job), 1, "e5 came twice");
        assert_eq!(
            read_events(&mut stream, 3).await,
            [&b"e3"[..], b"e4", b"e5"],
            "nothing lost, in order, once"
        );
    }

    #[test]
    fn channel_holds_nest() {
        let conn = connection();
        let job: Arc<str> = Arc::from("job:1");
        conn.add_channel("job:1");
        conn.push(tagged(&job, 1, "e1"), 8);
        // Two catch-ups overlap (two reconnect events); the first to finish releases
        // nothing the second still needs held.
        assert!(conn.hold_channel(&job).is_some());
        assert!(conn.hold_channel(&job).is_some());
        conn.push(tagged(&job, 3, "e3"), 8);
        conn.release_channel(&job);
        assert_eq!(conn.queued(), 1, "still held");
        assert_eq!(conn.push_replay(tagged(&job, 2, "e2")), Push::Queued);
        conn.release_channel(&job);
        assert_eq!(conn.queued(), 3);
        // A resume's hold and a catch-up's overlap the same way.
        conn.hold();
        assert!(conn.hold_channel(&job).is_some());
        conn.push(tagged(&job, 4, "e4"), 8);
        conn.release_channel(&job);
        assert_eq!(conn.queued(), 3, "the resume still holds");
        conn.release();
        assert_eq!(conn.queued(), 4);
    }

    /// Reads `n` numbered events; returns their bodies.
    async fn read_events(stream: &mut ConnectionStream, n: usize) -> Vec<Bytes> {
        let mut bodies = Vec::new();
        for _ in 0..n {
            let _id_line = next(stream).await.unwrap();
            bodies.push(next(stream).await.unwrap());
        }
        bodies
    }

    #[tokio::test]
    async fn past_high_water_the_latest_progress_replaces_its_job_in_place() {
        let conn = connection();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("job:a"), Arc::from("job:b"));
        conn.add_channel("job:a");
        conn.add_channel("job:b");
        // Capacity 8: coalescing starts at 6 queued.
        for item in [
            progress(&a, 1, "a1"),
            progress(&b, 2, "b2"),
            progress(&a, 3, "a3"),
            tagged(&b, 4, "b4-done"),
            progress(&a, 5, "a5"),
        ] {
            assert_eq!(conn.push(item, 8), Push::Queued);
        }
        assert_eq!(conn.push(plain("heartbeat"), 8), Push::Queued);
        assert_eq!(conn.push(progress(&a, 6, "a6"), 8), Push::Coalesced(1));
        assert_eq!(conn.push(progress(&a, 7, "a7"), 8), Push::Coalesced(1));
        assert_eq!(conn.push(progress(&a, 7, "a7 again"), 8), Push::Duplicate);
        // b's newest queued event is terminal: nothing overtakes it.
        assert_eq!(conn.push(progress(&b, 8, "b8"), 8), Push::Queued);
        assert_eq!(conn.push(tagged(&a, 9, "a9-done"), 8), Push::Queued);
        assert_eq!(conn.queued(), 8);

        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        // a7 sits where a5 was queued, before the heartbeat.
        let mut bodies = read_events(&mut stream, 5).await;
        bodies.push(next(&mut stream).await.unwrap());
        bodies.extend(read_events(&mut stream, 2).await);
        let bodies: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
        assert_eq!(
            bodies,
            [
                &b"a1"[..],
                b"b2",
                b"a3",
                b"b4-done",
                b"a7",
                b"heartbeat",
                b"b8",
                b"a9-done"
            ]
        );
        let position = conn.position_if_changed(true).unwrap();
        let logged: Vec<u64> = position.log.iter().map(|(_, _, id)| id.ms).collect();
        assert_eq!(
            logged,
            [1, 2, 3, 4, 7, 8, 9],
            "superseded a5, a6 never logged"
        );
    }

    #[test]
    fn a_full_queue_drops_superseded_updates_before_it_is_full() {
        let conn = connection();
        let a: Arc<str> = Arc::from("job:a");
        // Capacity 4: coalescing in place starts at 3 queued.
        assert_eq!(conn.push(progress(&a, 1, "a1"), 4), Push::Queued);
        assert_eq!(conn.push(progress(&a, 2, "a2"), 4), Push::Queued);
        assert_eq!(conn.push(plain("x"), 4), Push::Queued);
        assert_eq!(conn.push(plain("y"), 4), Push::Queued);
        assert_eq!(conn.push(plain("z"), 4), Push::Coalesced(1), "a1 made room");
        assert_eq!(conn.push(plain("w"), 4), Push::Full, "nothing left to drop");
        assert_eq!(conn.queued(), 4);
    }

    #[tokio::test]
    async fn a_resume_after_coalescing_replays_the_unreceived_terminal_event() {
        let conn = connection();
        let a: Arc<str> = Arc::from("job:a");
        conn.add_channel("job:a");
        for (ms, body) in [(1, "a1"), (2, "a2"), (3, "a3"), (4, "a4")] {
            conn.push(progress(&a, ms, body), 4);
        }
        conn.push(tagged(&a, 5, "a5-done"), 4);
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        let mut last_id = Bytes::new();
        for _ in 0..3 {
            last_id = next(&mut stream).await.unwrap();
            let body = next(&mut stream).await.unwrap();
            assert_ne!(&body[..], b"a3", "a4 replaced a3");
        }
        // The client got events 1 to 3 (a1, a2, a4); the terminal a5 was written but lost.
        let text = std::str::from_utf8(&last_id).unwrap();
        let point = crate::last_event_id::parse(text.trim_start_matches("id: ")).unwrap();
        assert_eq!(point.seen, 3);
        let session = crate::session::Session {
            owner: "pod".into(),
            channels: ["job:a".to_owned()].into(),
            closed: true,
            ..Default::default()
        };
        let points = crate::session::resume_points(&session, point.seen, point.event);
        assert_eq!(
            points,
            [(
                "job:a".to_owned(),
                crate::session::From::After(StreamId { ms: 4, seq: 0 })
            )]
        );
    }

    #[tokio::test]
    async fn wakes_a_waiting_reader() {
        let conn = connection();
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        let reader = tokio::spawn(async move { next(&mut stream).await });
        tokio::task::yield_now().await;
        conn.push(plain("late"), 4);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("reader woken")
            .expect("reader task");
        assert_eq!(got.as_deref(), Some(&b"late"[..]));
    }

    #[test]
    fn drop_runs_cleanup_once() {
        let conn = connection();
        let flag = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = flag.clone();
        drop(ConnectionStream::new(conn, move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        assert_eq!(flag.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn channels_are_a_set() {
        let conn = connection();
        assert!(conn.add_channel("job:1"));
        assert!(!conn.add_channel("job:1"));
        assert_eq!(conn.channel_count(), 1);
        assert!(conn.remove_channel("job:1"));
        assert!(!conn.remove_channel("job:1"));
    }
}
