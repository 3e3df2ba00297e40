//! The in-process fan-out hub: which local streams want which channel, and the one Redis
//! subscription per channel that serves them all.
//!
//! - [`connection`]: one stream's bounded queue and body.
//! - `subscriptions` (this module's `impl`s): refcounted Redis SUBSCRIBE/UNSUBSCRIBE.
//! - `dispatch`: a Redis message → one shared frame → every local subscriber's queue.
//! - `stats`: the `/sse/stats` and `/sse/channels` views.

pub mod connection;
mod dispatch;
mod stats;
mod subscriptions;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use bytes::Bytes;
use fred::clients::SubscriberClient;
use progress_contract::events::{Closing, Heartbeat, StreamEvent};
use progress_contract::time::now_millis;
use uuid::Uuid;

pub use connection::{Connection, ConnectionStream, Push};
pub use stats::{ChannelStat, ConnectionStat, Stats};

use crate::frame;
use crate::metrics as m;

/// Tunables of the hub.
#[derive(Clone, Debug)]
pub struct HubSettings {
    /// Frames queued per stream before it counts as a slow consumer.
    pub capacity: usize,
    pub max_event_bytes: usize,
    pub slow_client_grace: Duration,
    pub retry: Duration,
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
}

type Routes = HashMap<String, HashMap<Uuid, Arc<Connection>>>;

/// Shared by every request handler and the Redis listener.
pub struct Hub {
    settings: HubSettings,
    connections: RwLock<HashMap<Uuid, Arc<Connection>>>,
    routes: RwLock<Routes>,
    /// Channels subscribed on Redis. The async lock serialises SUBSCRIBE/UNSUBSCRIBE.
    redis_channels: tokio::sync::Mutex<BTreeSet<String>>,
    subscriber: SubscriberClient,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    pub fn new(settings: HubSettings, subscriber: SubscriberClient) -> Arc<Self> {
        Arc::new(Self {
            settings,
            connections: RwLock::new(HashMap::new()),
            routes: RwLock::new(HashMap::new()),
            redis_channels: tokio::sync::Mutex::new(BTreeSet::new()),
            subscriber,
        })
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    pub fn subscriber(&self) -> &SubscriberClient {
        &self.subscriber
    }

    /// Registers a new stream and returns its body. Dropping the body unregisters it.
    pub fn open(self: &Arc<Self>, connection: Arc<Connection>) -> ConnectionStream {
        write(&self.connections).insert(connection.id(), connection.clone());
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

    /// Queues a gateway event on one stream.
    pub fn send(&self, connection: &Connection, event: &StreamEvent) -> Push {
        let push = connection.push(frame::stream_event(event), self.settings.capacity);
        if push == Push::Full {
            self.evict_slow(connection);
        }
        push
    }

    /// Queues one `heartbeat` frame, shared by every open stream.
    pub fn heartbeat(&self) {
        let frame = frame::stream_event(&StreamEvent::Heartbeat(Heartbeat {
            timestamp: now_millis(),
        }));
        let connections: Vec<_> = read(&self.connections).values().cloned().collect();
        for connection in connections {
            if connection.push(frame.clone(), self.settings.capacity) == Push::Full {
                self.evict_slow(&connection);
            }
        }
    }

    /// Ends every open stream with a `closing` event; returns how many were open.
    pub fn close_all(&self, reason: &str, message: &str) -> usize {
        let last = frame::stream_event(&StreamEvent::Closing(Closing {
            reason: reason.to_owned(),
            message: message.to_owned(),
            retry_after_ms: duration_millis(self.settings.retry),
        }));
        let connections: Vec<_> = read(&self.connections).values().cloned().collect();
        for connection in &connections {
            connection.close_with(last.clone());
        }
        connections.len()
    }

    /// Closes a stream whose queue is full: its backlog is dropped, it gets a final
    /// `closing` event, and its socket is cut if it does not read that within the grace time.
    fn evict_slow(&self, connection: &Connection) {
        let last = frame::stream_event(&StreamEvent::Closing(Closing {
            reason: "slow_consumer".into(),
            message: "the client did not read events fast enough; reconnect to continue".into(),
            retry_after_ms: duration_millis(self.settings.retry),
        }));
        if connection.close_with(last) {
            metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => "slow_consumer").increment(1);
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

    /// Unregisters a stream whose body was dropped, releasing its channels.
    fn close(self: Arc<Self>, connection: &Connection) {
        let removed = write(&self.connections).remove(&connection.id()).is_some();
        if !removed {
            return;
        }
        metrics::gauge!(m::CONNECTIONS_OPEN).decrement(1.0);
        let reason = if connection.is_closed() {
            "server"
        } else {
            "client"
        };
        metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => reason).increment(1);
        let mut emptied = Vec::new();
        {
            let mut routes = write(&self.routes);
            for channel in connection.take_channels() {
                if let Some(subscribers) = routes.get_mut(&channel) {
                    subscribers.remove(&connection.id());
                    if subscribers.is_empty() {
                        routes.remove(&channel);
                        emptied.push(channel);
                    }
                }
            }
        }
        if !emptied.is_empty() {
            tokio::spawn(async move {
                for channel in emptied {
                    self.reconcile(&channel).await;
                }
            });
        }
    }
}

pub(crate) fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A closing frame for callers outside the hub (e.g. shutdown).
pub fn closing_frame(reason: &str, message: &str, retry: Duration) -> Bytes {
    frame::stream_event(&StreamEvent::Closing(Closing {
        reason: reason.to_owned(),
        message: message.to_owned(),
        retry_after_ms: duration_millis(retry),
    }))
}
