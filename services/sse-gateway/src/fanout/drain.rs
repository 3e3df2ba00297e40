//! Draining a stream's outbox: straight into its [`Sink`] when the transport gave it one (a
//! frame queued while nothing waits is written at once by whoever queued it), or frame by
//! frame to a body polled by hyper. Either way each event with history is numbered by
//! [`Position::record`](super::position::Position::record) as it leaves the outbox.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::connection::{Connection, lock};
use super::id_line;
use super::outbox::{Item, Outbox, Push};
use super::position::Tagged;
use super::sink::{Flushed, MAX_BATCH, Sink};

impl Connection {
    /// A direct stream with nothing queued or waiting: `item` goes to the sink at once,
    /// without passing through the queue.
    pub(super) fn write_now(&self, outbox: &mut Outbox, item: Item) -> Push {
        if outbox.is_duplicate(&item) {
            return Push::Duplicate;
        }
        outbox.note(&item);
        let Some(sink) = outbox.sink.as_deref_mut() else {
            // Not a direct stream after all: its task writes it.
            outbox.frames.push_back(item);
            outbox.wake();
            return Push::Queued;
        };
        match self.write_one(&item, sink, false) {
            Ok(Flushed::Idle) => {}
            // The task waits for the sink, or ends the stream.
            Ok(Flushed::Blocked | Flushed::Ended) | Err(_) => outbox.wake(),
        }
        Push::Queued
    }

    /// Something was queued: written at once on a direct stream, else its task is woken.
    pub(super) fn kick(&self, outbox: &mut Outbox) {
        if outbox.sink.is_none() {
            return outbox.wake();
        }
        match self.flush_sink(outbox) {
            Ok(Flushed::Idle) => {}
            // The task waits for the sink, or ends the stream.
            Ok(Flushed::Blocked | Flushed::Ended) | Err(_) => outbox.wake(),
        }
    }

    /// Starts writing this stream straight to `sink`: every queued frame now, then each frame
    /// as it is queued. From now on the stream's task polls [`Connection::poll_sink`].
    pub fn attach_sink(&self, sink: Box<dyn Sink>) {
        let mut outbox = lock(&self.outbox);
        outbox.sink = Some(sink);
        self.kick(&mut outbox);
    }

    /// Gives the sink back (the stream's task ends): the connection no longer keeps it open.
    pub fn detach_sink(&self) -> Option<Box<dyn Sink>> {
        lock(&self.outbox).sink.take()
    }

    /// Writes the sink's backlog, then the queued frames in batches, then the body's end once
    /// the stream is closed and drained, until done or the sink is full.
    fn flush_sink(&self, outbox: &mut Outbox) -> std::io::Result<Flushed> {
        let Outbox {
            frames,
            sink,
            closed,
            ..
        } = outbox;
        let Some(sink) = sink.as_deref_mut() else {
            return Ok(Flushed::Idle);
        };
        // The response head leaves with the first frames when there are some.
        if !sink.write_backlog(!frames.is_empty() || *closed)? {
            return Ok(Flushed::Blocked);
        }
        loop {
            if sink.is_finished() {
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
                self.write_one(&item, sink, last)?
            } else {
                self.write_batch(frames, sink, last)?
            };
            match written {
                Flushed::Idle => {}
                other => return Ok(other),
            }
        }
    }

    /// Numbers a written event; its `id:` line goes into `line`, and its length is returned.
    fn number(&self, tagged: &Tagged, line: &mut [u8; id_line::MAX]) -> usize {
        lock(&self.position).record(&self.id(), tagged, line)
    }

    /// Numbers one frame and writes it as one chunk (then the body's end when `last`).
    fn write_one(&self, item: &Item, sink: &mut dyn Sink, last: bool) -> std::io::Result<Flushed> {
        let mut id = [0u8; id_line::MAX];
        let length = match &item.history {
            Some(tagged) => self.number(tagged, &mut id),
            None => 0,
        };
        sink.write_chunk(&[&id[..length], &item.body[..]], last)
    }

    /// Takes up to [`MAX_BATCH`] frames off the queue, numbers them, and writes them as one
    /// chunk.
    fn write_batch(
        &self,
        frames: &mut VecDeque<Item>,
        sink: &mut dyn Sink,
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
                id_lengths[n] = self.number(tagged, &mut ids[n]);
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
        sink.write_chunk(parts[..count].as_flattened(), last)
    }

    /// The task of a direct stream: ready when the stream has ended (`Ok`) or the client is
    /// gone (`Err`); otherwise waits to be woken by a frame the sink refused, by a close, or
    /// by the sink.
    pub fn poll_sink(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut outbox = lock(&self.outbox);
        loop {
            match self.flush_sink(&mut outbox)? {
                Flushed::Ended => return Poll::Ready(Ok(())),
                Flushed::Blocked => {
                    let Some(sink) = &outbox.sink else {
                        return Poll::Ready(Ok(()));
                    };
                    match sink.poll_writable(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Flushed::Idle => {
                    outbox.park(cx.waker());
                    let Some(sink) = &outbox.sink else {
                        return Poll::Ready(Ok(()));
                    };
                    return match sink.poll_client_left(cx) {
                        Poll::Ready(()) => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }

    /// The next piece of a body polled by hyper: an event's `id:` line, then its body.
    pub(super) fn poll_frame(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut outbox = lock(&self.outbox);
        if let Some(body) = outbox.pending_body.take() {
            return Poll::Ready(Some(body));
        }
        if let Some(item) = outbox.frames.pop_front() {
            return Poll::Ready(Some(match item.history {
                Some(tagged) => {
                    outbox.pending_body = Some(item.body);
                    let mut line = [0u8; id_line::MAX];
                    let length = self.number(&tagged, &mut line);
                    Bytes::copy_from_slice(&line[..length])
                }
                None => item.body,
            }));
        }
        if outbox.closed {
            return Poll::Ready(None);
        }
        outbox.park(cx.waker());
        Poll::Pending
    }
}
