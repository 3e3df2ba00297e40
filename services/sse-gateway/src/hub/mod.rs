//! The in-process fan-out hub: which local streams want which channel, the one Redis
//! subscription per channel that serves them all, and the streams' sessions in Redis.
//!
//! - `subscriptions`: refcounted Redis SUBSCRIBE/UNSUBSCRIBE.
//! - `dispatch`: a Redis message → one shared frame → every local subscriber's queue.
//! - `control`: requests from other pods for streams held here.
//! - `expiry`: streams that end when their token expires.
//! - `stats`: the `/sse/stats` and `/sse/channels` views.

mod catch_up;
mod control;
mod dispatch;
mod expiry;
pub mod heartbeat;
mod open;
pub mod replay;
mod stats;
mod subscriptions;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, OnceLock, RwLock, RwLockWriteGuard};
use std::time::Duration;

use bytes::Bytes;
use fred::clients::SubscriberClient;
use fred::prelude::Client;
use progress_contract::events::{Closing, StreamEvent};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use crate::fanout::connection::{self, Connection, ConnectionStream, Item, Push};
use crate::fanout::table::Table;
pub use catch_up::CatchUp;
pub use control::ControlOp;
pub use stats::{ChannelStat, ConnectionStat, Stats};

use crate::frame;
use crate::metrics as m;
use crate::resume::first_delivery::FirstDelivery;
use crate::resume::history::HistoryReader;
use crate::resume::session::SessionStore;

/// Tunables of the hub.
#[derive(Clone, Debug)]
pub struct HubSettings {
    /// Frames queued per stream before it counts as a slow consumer (intermediate job
    /// updates coalesce from three quarters of it).
    pub capacity: usize,
    pub max_event_bytes: usize,
    pub slow_client_grace: Duration,
    pub retry: Duration,
    /// Job, queue and worker channels use sharded pub/sub (`SSUBSCRIBE`).
    pub sharded: bool,
    /// Every key is on one Redis node (not a Cluster): a new stream's first deliveries and
    /// session are one command (see [`crate::resume::opening`]).
    pub one_node: bool,
}

/// Errors a caller branches on.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("no open stream has this connection id on this gateway")]
    UnknownConnection,
    #[error("the stream is closing")]
    Closing,
    #[error("Redis did not accept the subscription: {0}")]
    Redis(#[from] fred::error::Error),
    /// The session store (or the history a resume reads) did not answer.
    #[error("the session store did not answer: {0}")]
    SessionStore(fred::error::Error),
}

/// Shared by every request handler and the Redis listener.
///
/// Lock order: the table's locks first (`connections` → `routes` → `multi_channel`, see
/// [`Table`]), then a stream's own (`channels` → `position`, `outbox` → `position`, see
/// [`Connection`]); `redis_channels` (async) may be held while the table is read, never the
/// other way round; `evicted` is taken alone.
pub struct Hub {
    settings: HubSettings,
    /// Local streams and the channels each wants.
    table: Table,
    /// Channels subscribed on Redis. The async lock serialises SUBSCRIBE/UNSUBSCRIBE.
    redis_channels: tokio::sync::Mutex<BTreeSet<String>>,
    subscriber: SubscriberClient,
    /// Command client (control messages).
    client: Client,
    sessions: SessionStore,
    history: HistoryReader,
    /// What new subscriptions are sent before their live events.
    first: FirstDelivery,
    /// Session writes in flight (drain waits for them).
    flushes: TaskTracker,
    /// Streams closed as slow consumers: counted when evicted, not again when they end.
    evicted: RwLock<HashSet<Uuid>>,
    /// Delivery counters and latency histograms per kind of progress event, taken from the
    /// metrics recorder at the first event.
    delivery_series: OnceLock<[m::DeliverySeries; 3]>,
    /// Stream counts, taken from the metrics recorder at the first stream.
    stream_series: OnceLock<m::StreamSeries>,
}

impl From<HubError> for crate::error::ApiError {
    fn from(error: HubError) -> Self {
        match error {
            HubError::UnknownConnection => crate::error::ApiError::not_found(
                "connection_not_found",
                "no open stream has this connection id; open GET /api/v1/sse/connect first",
            ),
            HubError::Closing => crate::error::ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "connection_closing",
                "the stream is closing; reconnect and subscribe again",
            ),
            HubError::Redis(error) => crate::error::ApiError::unavailable(
                "redis_unavailable",
                format!("the subscription could not be made: {error}"),
                1,
            ),
            HubError::SessionStore(error) => {
                crate::error::ApiError::redis("the session store is", error)
            }
        }
    }
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    pub fn new(
        settings: HubSettings,
        subscriber: SubscriberClient,
        client: Client,
        sessions: SessionStore,
        history: HistoryReader,
        first: FirstDelivery,
    ) -> Arc<Self> {
        Arc::new(Self {
            settings,
            table: Table::default(),
            redis_channels: tokio::sync::Mutex::new(BTreeSet::new()),
            subscriber,
            client,
            sessions,
            history,
            first,
            flushes: TaskTracker::new(),
            evicted: RwLock::new(HashSet::new()),
            delivery_series: OnceLock::new(),
            stream_series: OnceLock::new(),
        })
    }

    fn stream_series(&self) -> &m::StreamSeries {
        self.stream_series
            .get_or_init(m::StreamSeries::from_recorder)
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// This pod's control channel: other pods send it requests for streams held here.
    pub fn control_channel(&self) -> String {
        control::channel_of(self.sessions.pod())
    }

    /// Registers a new stream and returns its body. Dropping the body unregisters it and
    /// writes its final position to its session.
    pub fn open(self: &Arc<Self>, connection: Arc<Connection>) -> ConnectionStream {
        self.table.insert(&connection);
        let series = self.stream_series();
        series.open.increment(1.0);
        series.opened.increment(1);
        let hub = Arc::downgrade(self);
        ConnectionStream::new(connection, move |conn| {
            if let Some(hub) = hub.upgrade() {
                hub.close(conn);
            }
        })
    }

    pub fn connection(&self, id: &Uuid) -> Option<Arc<Connection>> {
        self.table.get(id)
    }

    pub fn connection_count(&self) -> usize {
        self.table.len()
    }

    pub fn connections(&self) -> Vec<Arc<Connection>> {
        self.table.all()
    }

    /// Queues a gateway event on one stream.
    pub fn send(&self, connection: &Connection, event: &StreamEvent) -> Push {
        self.enqueue(connection, Item::plain(frame::stream_event(event)))
    }

    /// Ends every open stream with a `closing` event; returns how many were open.
    pub fn close_all(&self, reason: &str, message: &str) -> usize {
        let last = closing_frame(reason, message, self.settings.retry);
        let connections = self.connections();
        for connection in &connections {
            connection.finish_with(last.clone());
        }
        connections.len()
    }

    /// Closes a stream whose queue is full: its backlog is dropped, it gets a final
    /// `closing` event, and its socket is cut if it does not read that within the grace time.
    fn evict_slow(&self, connection: &Connection) {
        let last = closing_frame(
            "slow_consumer",
            "the client did not read events fast enough; reconnect to continue",
            self.settings.retry,
        );
        if connection.close_with(last) {
            metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => "slow_consumer").increment(1);
            write(&self.evicted).insert(connection.id());
            tracing::warn!(connection.id = %connection.id(), "closing a slow consumer");
            let socket = self.connection(&connection.id());
            let grace = self.settings.slow_client_grace;
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                if let Some(connection) = socket {
                    connection.cut_socket();
                }
            });
        }
    }

    /// Unregisters `connection` without writing its session (another stream continues it).
    /// Returns whether it was registered.
    pub fn detach(self: &Arc<Self>, connection: &Arc<Connection>) -> bool {
        let Some(emptied) = self.table.remove(connection) else {
            return false;
        };
        self.stream_series().open.decrement(1.0);
        if !emptied.is_empty() {
            let hub = self.clone();
            tokio::spawn(async move {
                for channel in emptied {
                    hub.reconcile(&channel).await;
                }
            });
        }
        true
    }

    /// A stream's body was dropped: unregister it and, where its session needs it, write its
    /// final position.
    fn close(self: Arc<Self>, connection: &Arc<Connection>) {
        let evicted = write(&self.evicted).remove(&connection.id());
        if !self.detach(connection) {
            return;
        }
        let by_server = connection.is_closed();
        if !evicted {
            let series = self.stream_series();
            let closed = match by_server {
                true => &series.closed_by_server,
                false => &series.closed_by_client,
            };
            closed.increment(1);
        }
        if !final_write_needed(connection.is_multi(), by_server) {
            return;
        }
        let Some(position) = connection.position_if_changed(true) else {
            return;
        };
        let id = connection.id();
        let sessions = self.sessions.clone();
        self.flushes.spawn(async move {
            if let Err(error) = sessions.flush(&id, &position, true).await {
                tracing::warn!(%error, connection.id = %id, "writing the final position failed");
            }
        });
    }

    /// Writes the positions that changed since the last flush; returns how many.
    pub async fn flush_positions(&self) -> usize {
        let mut written = 0;
        for connection in self.table.multi_channel() {
            if let Some(position) = connection.position_if_changed(false) {
                match self
                    .sessions
                    .flush(&connection.id(), &position, false)
                    .await
                {
                    Ok(_) => written += 1,
                    Err(error) => tracing::debug!(%error, "flushing a position failed"),
                }
            }
        }
        written
    }

    /// Waits until every final position is written.
    pub async fn wait_for_flushes(&self) {
        self.flushes.close();
        self.flushes.wait().await;
        self.flushes.reopen();
    }
}

/// Whether a closing stream writes its final position (and `closedAt`) to its session.
///
/// A stream that has only ever had one channel carries its exact position in its SSE ids
/// (see `fanout/position.rs`): when its client leaves, as every client does in a reconnect
/// storm, nothing is written, and the session keeps the expiry it had while open (at least
/// `RESUME_WINDOW`, at most twice that). A stream that has had several channels needs its
/// position written; a stream the gateway ends (drain, rotation, token expiry) is marked
/// closed, so the pod its client resumes on does not tell this one to stop it.
fn final_write_needed(multi: bool, closed_by_server: bool) -> bool {
    multi || closed_by_server
}

/// A hold on one channel's live events for one stream (see
/// [`Connection::hold_new_channel`]), released when dropped.
pub(crate) struct ChannelHold {
    connection: Arc<Connection>,
    channel: Arc<str>,
}

impl ChannelHold {
    pub(crate) fn new(connection: &Arc<Connection>, channel: Arc<str>) -> Self {
        connection.hold_new_channel(&channel);
        Self {
            connection: connection.clone(),
            channel,
        }
    }
}

impl Drop for ChannelHold {
    fn drop(&mut self) {
        self.connection.release_channel(&self.channel);
    }
}

/// A `closing` frame.
pub fn closing_frame(reason: &str, message: &str, retry: Duration) -> Bytes {
    frame::stream_event(&StreamEvent::Closing(Closing {
        reason: reason.to_owned(),
        message: message.to_owned(),
        retry_after_ms: duration_millis(retry),
    }))
}

pub(crate) fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
