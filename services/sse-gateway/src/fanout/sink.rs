//! Where a stream's outbox is drained to: the small interface the transport implements (see
//! [`crate::transport::wire`]), so the fan-out core writes frames without knowing sockets.
//!
//! A sink that is ready takes a frame at once from whoever queues it (the Redis listener, for
//! a fan-out): the direct-write fast path, no task woken and no queue round trip. A sink that
//! is full keeps what it refused and the stream's task waits on [`Sink::poll_writable`].

use std::io;
use std::task::{Context, Poll};

/// Frames handed to a sink in one write at most.
pub const MAX_BATCH: usize = 32;

/// What a write to a sink ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flushed {
    /// Everything handed over is written.
    Idle,
    /// The sink is full; the rest waits in its backlog or in the outbox.
    Blocked,
    /// The body's end is written: the stream is over.
    Ended,
}

/// The write side of one stream's connection.
pub trait Sink: Send {
    /// Nothing is waiting to be written and the body goes on: a frame can be written now.
    fn is_ready(&self) -> bool;

    /// The end of the body is written (or waiting to be).
    fn is_finished(&self) -> bool;

    /// Writes what a full sink refused earlier; true once nothing is left. With `more` (a
    /// chunk is written next) a response head not sent yet may wait for that chunk.
    fn write_backlog(&mut self, more: bool) -> io::Result<bool>;

    /// Writes `parts` as one unit (then the body's end when `last`), after a response head
    /// not sent yet; what does not fit is kept for [`Sink::write_backlog`]. Called with
    /// nothing else left in the backlog.
    fn write_chunk(&mut self, parts: &[&[u8]], last: bool) -> io::Result<Flushed>;

    /// Ready once the sink can take more.
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ready once the client has gone.
    fn poll_client_left(&self, cx: &mut Context<'_>) -> Poll<()>;

    /// The body is over and written: ends the connection's write side.
    fn end(self: Box<Self>);
}
