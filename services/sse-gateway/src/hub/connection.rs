//! One SSE stream: a bounded queue of ready-made frames and the body stream that drains it.
//!
//! Kept small on purpose: an idle connection is this struct, an empty `VecDeque` and a
//! waker. Frames are shared `Bytes`, so an event fanned out to many streams is one
//! allocation.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::Stream;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Outcome of queueing a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// The queue was full: the frame was not queued.
    Full,
    /// The stream is closing: the frame was not queued.
    Closed,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    waker: Option<Waker>,
    closed: bool,
}

/// The server side of one SSE stream.
pub struct Connection {
    id: Uuid,
    connected_at: u64,
    queue: Mutex<Queue>,
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

impl Connection {
    pub fn new(id: Uuid, connected_at: u64, socket: CancellationToken) -> Self {
        Self {
            id,
            connected_at,
            queue: Mutex::new(Queue::default()),
            channels: Mutex::new(Vec::new()),
            socket,
        }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn connected_at(&self) -> u64 {
        self.connected_at
    }

    /// Queues `frame` unless `capacity` frames are already waiting.
    pub fn push(&self, frame: Bytes, capacity: usize) -> Push {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Push::Closed;
        }
        if queue.frames.len() >= capacity {
            return Push::Full;
        }
        queue.frames.push_back(frame);
        if let Some(waker) = queue.waker.take() {
            waker.wake();
        }
        Push::Queued
    }

    /// Drops everything queued, queues `last` as the final frame and ends the stream after
    /// it. Returns false if the stream was already closing.
    pub fn close_with(&self, last: Bytes) -> bool {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return false;
        }
        queue.closed = true;
        queue.frames.clear();
        queue.frames.shrink_to_fit();
        queue.frames.push_back(last);
        if let Some(waker) = queue.waker.take() {
            waker.wake();
        }
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

    /// Records a channel; false if it was already there.
    pub fn add_channel(&self, channel: &str) -> bool {
        let mut channels = lock(&self.channels);
        if channels.iter().any(|c| c == channel) {
            return false;
        }
        channels.push(channel.to_owned());
        true
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

    pub fn channel_count(&self) -> usize {
        lock(&self.channels).len()
    }

    pub fn take_channels(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.channels))
    }

    fn poll_frame(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut queue = lock(&self.queue);
        if let Some(frame) = queue.frames.pop_front() {
            return Poll::Ready(Some(frame));
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

type OnDrop = Box<dyn FnOnce(&Connection) + Send + Sync>;

/// The response body of a stream. Dropping it (client gone, or stream ended) runs `on_drop`,
/// which removes the connection from the hub.
pub struct ConnectionStream {
    connection: Arc<Connection>,
    on_drop: Option<OnDrop>,
}

impl ConnectionStream {
    pub fn new(
        connection: Arc<Connection>,
        on_drop: impl FnOnce(&Connection) + Send + Sync + 'static,
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

    #[tokio::test]
    async fn delivers_in_order_then_ends_after_close() {
        let conn = connection();
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        assert_eq!(conn.push(Bytes::from_static(b"a"), 4), Push::Queued);
        assert_eq!(conn.push(Bytes::from_static(b"b"), 4), Push::Queued);
        assert_eq!(stream.next().await, Some(Ok(Bytes::from_static(b"a"))));
        assert_eq!(stream.next().await, Some(Ok(Bytes::from_static(b"b"))));
        assert!(conn.close_with(Bytes::from_static(b"bye")));
        assert_eq!(conn.push(Bytes::from_static(b"late"), 4), Push::Closed);
        assert_eq!(stream.next().await, Some(Ok(Bytes::from_static(b"bye"))));
        assert_eq!(stream.next().await, None);
    }

    #[test]
    fn bounded_and_close_discards_backlog() {
        let conn = connection();
        for _ in 0..3 {
            assert_eq!(conn.push(Bytes::from_static(b"x"), 3), Push::Queued);
        }
        assert_eq!(conn.push(Bytes::from_static(b"x"), 3), Push::Full);
        assert!(conn.close_with(Bytes::from_static(b"bye")));
        assert_eq!(conn.queued(), 1);
        assert!(!conn.close_with(Bytes::from_static(b"again")));
    }

    #[tokio::test]
    async fn wakes_a_waiting_reader() {
        let conn = connection();
        let mut stream = ConnectionStream::new(conn.clone(), |_| {});
        let reader = tokio::spawn(async move { stream.next().await });
        tokio::task::yield_now().await;
        conn.push(Bytes::from_static(b"late"), 4);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("reader woken")
            .expect("reader task");
        assert_eq!(got, Some(Ok(Bytes::from_static(b"late"))));
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
