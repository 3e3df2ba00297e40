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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use bytes::Bytes;
use fred::clients::SubscriberClient;
use fred::prelude::Client;
use progress_contract::events::{Closing, StreamEvent};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use crate::fanout::connection::{self, Connection, ConnectionStream, Item, Push};
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

/// Each channel's name is kept once, as the `Arc<str>` every event of the channel shares: the
/// streams' per-channel lists then compare names by pointer.
type Routes = HashMap<Arc<str>, HashMap<Uuid, Arc<Connection>>>;

/// Shared by every request handler and the Redis listener.
///
/// Lock order: `connections` before `routes` and before `multi_channel`, never the reverse;
/// a stream is routed only while `connections` holds it (see `Hub::subscribe_quietly`).
pub struct Hub {
    settings: HubSettings,
    connections: RwLock<HashMap<Uuid, Arc<Connection>>>,
    routes: RwLock<Routes>,
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
    /// Streams that have had several channels: the only ones whose positions live in their
    /// sessions, so the only ones a position flush visits (not every open stream).
    multi_channel: RwLock<HashSet<Uuid>>,
    /// Delivery counters and latency histograms per kind of progress event, taken from the
    /// metrics recorder at the first event.
    delivery_series: OnceLock<[m::DeliverySeries; 3]>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
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
            connections: RwLock::new(HashMap::new()),
            routes: RwLock::new(HashMap::new()),
            redis_channels: tokio::sync::Mutex::new(BTreeSet::new()),
            subscriber,
            client,
            sessions,
            history,
            first,
            flushes: TaskTracker::new(),
            evicted: RwLock::new(HashSet::new()),
            multi_channel: RwLock::new(HashSet::new()),
            delivery_series: OnceLock::new(),
        })
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    pub fn subscriber(&self) -> &SubscriberClient {
        &self.subscriber
    }

    /// The command client (also used to read the cluster's slot map).
    pub fn commands(&self) -> &Client {
        &self.client
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    pub fn history(&self) -> &HistoryReader {
        &self.history
    }

    /// This pod's control channel: other pods send it requests for streams held here.
    pub fn control_channel(&self) -> String {
        control::channel_of(self.sessions.pod())
    }

    /// Registers a new stream and returns its body. Dropping the body unregisters it and
    /// writes its final position to its session.
    pub fn open(self: &Arc<Self>, connection: Arc<Connection>) -> ConnectionStream {
        write(&self.connections).insert(connection.id(), connection.clone());
        self.note_multi_channel(&connection);
        metrics::gauge!(m::CONNECTIONS_OPEN).increment(1.0);
        metrics::counter!(m::CONNECTIONS_OPENED).increment(1);
        let hub = Arc::downgrade(self);
        ConnectionStream::new(connection, move |conn| {
            if let Some(hub) = hub.upgrade() {
                hub.close(conn);
            }
        })
    }

    pub fn connection(&self, id: &Uuid) -> Option<Arc<Connection>> {
        read(&self.connections).get(id).cloned()
    }

    pub fn connection_count(&self) -> usize {
        read(&self.connections).len()
    }

    pub fn connections(&self) -> Vec<Arc<Connection>> {
        read(&self.connections).values().cloned().collect()
    }

    /// Remembers `connection` for position flushes once it has had several channels, while
    /// it is registered: the registry's lock is held (as [`Hub::detach`] holds it to forget
    /// the stream), so a stream closing meanwhile leaves nothing behind.
    pub(crate) fn note_multi_channel(&self, connection: &Arc<Connection>) {
        if !connection.is_multi() {
            return;
        }
        let connections = read(&self.connections);
        if connections
            .get(&connection.id())
            .is_some_and(|current| Arc::ptr_eq(current, connection))
        {
            write(&self.multi_channel).insert(connection.id());
        }
    }

    /// The open streams that have had several channels.
    fn multi_channel_connections(&self) -> Vec<Arc<Connection>> {
        let ids: Vec<Uuid> = read(&self.multi_channel).iter().copied().collect();
        let connections = read(&self.connections);
        ids.iter()
            .filter_map(|id| connections.get(id).cloned())
            .collect()
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
        let removed = {
            let mut connections = write(&self.connections);
            match connections.get(&connection.id()) {
                Some(current) if Arc::ptr_eq(current, connection) => {
                    connections.remove(&connection.id());
                    write(&self.multi_channel).remove(&connection.id());
                    true
                }
                _ => false,
            }
        };
        if !removed {
            return false;
        }
        metrics::gauge!(m::CONNECTIONS_OPEN).decrement(1.0);
        let mut emptied = Vec::new();
        {
            let mut routes = write(&self.routes);
            for channel in connection.take_channels() {
                if let Some(subscribers) = routes.get_mut(channel.as_str()) {
                    let ours = subscribers
                        .get(&connection.id())
                        .is_some_and(|c| Arc::ptr_eq(c, connection));
                    if ours {
                        subscribers.remove(&connection.id());
                    }
                    if subscribers.is_empty() {
                        routes.remove(channel.as_str());
                        emptied.push(channel);
                    }
                }
            }
        }
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

    /// A stream's body was dropped: unregister it and write its final position.
    fn close(self: Arc<Self>, connection: &Arc<Connection>) {
        let evicted = write(&self.evicted).remove(&connection.id());
        if !self.detach(connection) {
            return;
        }
        if !evicted {
            let reason = if connection.is_closed() {
                "server"
            } else {
                "client"
            };
            metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => reason).increment(1);
        }
        let position = connection.position_if_changed(true);
        let id = connection.id();
        let sessions = self.sessions.clone();
        self.flushes.spawn(async move {
            let Some(position) = position else { return };
            if let Err(error) = sessions.flush(&id, &position, true).await {
                tracing::warn!(%error, connection.id = %id, "writing the final position failed");
            }
        });
    }

    /// Writes the positions that changed since the last flush; returns how many.
    pub async fn flush_positions(&self) -> usize {
        let mut written = 0;
        for connection in self.multi_channel_connections() {
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
