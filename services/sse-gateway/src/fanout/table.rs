//! The routes table, without I/O: which local streams are open, and which of them want each
//! channel. The hub keeps Redis subscriptions matching it (see `hub/subscriptions.rs`).
//!
//! Lock order: `connections` before `routes` and before `multi_channel`, never the reverse.
//! A stream is routed only while `connections` holds it (see [`Table::route`]), and
//! [`Table::remove`] takes its routes away after forgetting it: a stream closing while it is
//! being subscribed leaves no route behind.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use super::Connection;

/// Each channel's name is kept once, as the `Arc<str>` every event of the channel shares: the
/// streams' per-channel lists then compare names by pointer.
pub type Routes = HashMap<Arc<str>, HashMap<Uuid, Arc<Connection>>>;

/// The open streams by id.
pub type Streams = HashMap<Uuid, Arc<Connection>>;

/// Local streams and their channels.
#[derive(Default)]
pub struct Table {
    connections: RwLock<Streams>,
    routes: RwLock<Routes>,
    /// Streams that have had several channels: the only ones whose positions live in their
    /// sessions, so the only ones a position flush visits (not every open stream).
    multi_channel: RwLock<HashSet<Uuid>>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn is_current(streams: &Streams, connection: &Arc<Connection>) -> bool {
    streams
        .get(&connection.id())
        .is_some_and(|current| Arc::ptr_eq(current, connection))
}

impl Table {
    /// Registers a stream (replacing one with the same id).
    pub fn insert(&self, connection: &Arc<Connection>) {
        write(&self.connections).insert(connection.id(), connection.clone());
        self.note_multi_channel(connection);
    }

    pub fn get(&self, id: &Uuid) -> Option<Arc<Connection>> {
        read(&self.connections).get(id).cloned()
    }

    pub fn len(&self) -> usize {
        read(&self.connections).len()
    }

    pub fn is_empty(&self) -> bool {
        read(&self.connections).is_empty()
    }

    pub fn all(&self) -> Vec<Arc<Connection>> {
        read(&self.connections).values().cloned().collect()
    }

    /// Calls `f` with the open streams, under the registry's read lock.
    pub fn with_streams<R>(&self, f: impl FnOnce(&Streams) -> R) -> R {
        f(&read(&self.connections))
    }

    /// Calls `f` with the routes, under their read lock.
    pub fn with_routes<R>(&self, f: impl FnOnce(&Routes) -> R) -> R {
        f(&read(&self.routes))
    }

    /// Remembers `connection` for position flushes once it has had several channels, while
    /// it is registered: the registry's lock is held (as [`Table::remove`] holds it to forget
    /// the stream), so a stream closing meanwhile leaves nothing behind.
    pub fn note_multi_channel(&self, connection: &Arc<Connection>) {
        if !connection.is_multi() {
            return;
        }
        let connections = read(&self.connections);
        if is_current(&connections, connection) {
            write(&self.multi_channel).insert(connection.id());
        }
    }

    /// The open streams that have had several channels.
    pub fn multi_channel(&self) -> Vec<Arc<Connection>> {
        let ids: Vec<Uuid> = read(&self.multi_channel).iter().copied().collect();
        let connections = read(&self.connections);
        ids.iter()
            .filter_map(|id| connections.get(id).cloned())
            .collect()
    }

    /// Forgets `connection` and its routes. `None` when it was not registered (already gone,
    /// or replaced); otherwise the channels no local stream wants any more.
    pub fn remove(&self, connection: &Arc<Connection>) -> Option<Vec<String>> {
        {
            let mut connections = write(&self.connections);
            if !is_current(&connections, connection) {
                return None;
            }
            connections.remove(&connection.id());
            write(&self.multi_channel).remove(&connection.id());
        }
        let mut emptied = Vec::new();
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
        Some(emptied)
    }

    /// Routes `channel`'s events to `connection`, only while it is registered (under the
    /// registry's lock, then the routes'): a stream removed before this took its routes away
    /// already, and one removed after it takes this route too. False when not registered.
    pub fn route(&self, connection: &Arc<Connection>, channel: &str) -> bool {
        let connections = read(&self.connections);
        if !is_current(&connections, connection) {
            return false;
        }
        write(&self.routes)
            .entry(Arc::from(channel))
            .or_default()
            .insert(connection.id(), connection.clone());
        true
    }

    /// Removes one route; true when the channel has no local subscriber left.
    pub fn unroute(&self, channel: &str, id: &Uuid) -> bool {
        let mut routes = write(&self.routes);
        let Some(subscribers) = routes.get_mut(channel) else {
            return false;
        };
        subscribers.remove(id);
        if subscribers.is_empty() {
            routes.remove(channel);
            true
        } else {
            false
        }
    }

    /// The channel's shared name and its subscribers, if any stream here wants it.
    pub fn subscribers(&self, channel: &str) -> Option<(Arc<str>, Vec<Arc<Connection>>)> {
        read(&self.routes)
            .get_key_value(channel)
            .map(|(name, subscribers)| (name.clone(), subscribers.values().cloned().collect()))
    }

    /// `channel`'s name as its events share it; a new one when no stream here wants it.
    pub fn channel_name(&self, channel: &str) -> Arc<str> {
        read(&self.routes)
            .get_key_value(channel)
            .map_or_else(|| Arc::from(channel), |(name, _)| name.clone())
    }

    /// Whether some stream here wants `channel`.
    pub fn is_routed(&self, channel: &str) -> bool {
        read(&self.routes).contains_key(channel)
    }

    /// Every channel some stream here wants.
    pub fn channels(&self) -> Vec<String> {
        read(&self.routes).keys().map(|k| k.to_string()).collect()
    }
}
