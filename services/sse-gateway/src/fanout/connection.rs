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

use super::{coalesce, id_line};
use crate::transport::wire::{self, Flushed, MAX_BATCH, Wire};

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

    /// One more hold on `channel`'s live events.
    fn hold_channel(&mut self, channel: &Arc<str>) {
        match self.held_channels.iter_mut().find(|(c, _)| c == channel) {
            Some(entry) => entry.1 += 1,
            None => self.held_channels.push((channel.clone(), 1)),
        }
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
        queue.hold_channel(channel);
        Some(point)
    }

    /// Holds `channel`'s live events back until [`Connection::release_channel`], whatever the
    /// stream's position: taken before a new subscription reaches Redis, so its first delivery
    /// (history, snapshot or state) is queued ahead of every live event.
    pub fn hold_new_channel(&self, channel: &Arc<str>) {
        lock(&self.queue).hold_channel(channel);
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
#[path = "connection_tests.rs"]
mod tests;
