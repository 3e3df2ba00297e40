//! Refcounted Redis subscriptions: exactly one SUBSCRIBE per channel per process, however
//! many local streams want it, and UNSUBSCRIBE when the last one leaves.
//!
//! The local route table is the source of truth; [`Hub::reconcile`] makes Redis match it for
//! one channel, under one async lock, so concurrent subscribe/unsubscribe cannot interleave
//! their Redis commands. After a reconnect, [`Hub::resubscribe_all`] re-sends the whole set.
//!
//! With sharded pub/sub, job, queue and worker channels are subscribed with `SSUBSCRIBE` on
//! the shard owning their slot; the broadcast, connection-event and per-pod control channels
//! stay classic so they reach every pod whatever node it listens on.

use std::collections::BTreeMap;
use std::sync::Arc;

use fred::prelude::PubsubInterface;
use progress_contract::Channel;
use progress_contract::channel::{BROADCAST_CHANNEL, CONNECTION_EVENTS_CHANNEL};
use progress_contract::events::{StreamEvent, SubscriptionChange};
use uuid::Uuid;

use super::{Connection, Hub, HubError, read, write};
use crate::metrics as m;

/// Channels every pod always listens to (plus its own control channel).
pub const SYSTEM_CHANNELS: [&str; 2] = [BROADCAST_CHANNEL, CONNECTION_EVENTS_CHANNEL];

impl Hub {
    /// Subscribes stream `id` to `channel`; the stream gets `subscribed`.
    /// Returns false when it was already subscribed (the event is still sent).
    pub async fn subscribe(
        self: &Arc<Self>,
        id: &Uuid,
        channel: &Channel,
    ) -> Result<bool, HubError> {
        let connection = self.connection(id).ok_or(HubError::UnknownConnection)?;
        if connection.is_closed() {
            return Err(HubError::Closing);
        }
        let name = channel.redis_name();
        let added = self.subscribe_quietly(&connection, &name).await?;
        if added {
            // Persist it so a reconnect to any pod keeps it; remember where history stands
            // now so a reconnect replays what comes after.
            // With no history yet, every event the channel gets is after this point, so a
            // resume or catch-up replays all of it.
            let start = self
                .sessions
                .add_channel(id, &name, connection.is_multi())
                .await?;
            connection.start_cursor(&name, start);
        }
        self.send(
            &connection,
            &StreamEvent::Subscribed(SubscriptionChange::for_channel(channel)),
        );
        Ok(added)
    }

    /// Subscribes a local stream without telling it (resume, and the first step of
    /// `subscribe`). Returns false when it was already subscribed.
    pub async fn subscribe_quietly(
        &self,
        connection: &Arc<Connection>,
        name: &str,
    ) -> Result<bool, HubError> {
        let id = connection.id();
        let added = connection.add_channel(name);
        self.note_multi_channel(connection);
        write(&self.routes)
            .entry(Arc::from(name))
            .or_default()
            .insert(id, connection.clone());
        if let Err(error) = self.ensure_subscribed(name).await {
            if added {
                connection.remove_channel(name);
                self.remove_route(name, &id);
            }
            return Err(error);
        }
        Ok(added)
    }

    /// Unsubscribes stream `id` from `channel`; the stream gets `unsubscribed`.
    /// Returns false when it was not subscribed.
    pub async fn unsubscribe(
        self: &Arc<Self>,
        id: &Uuid,
        channel: &Channel,
    ) -> Result<bool, HubError> {
        let connection = self.connection(id).ok_or(HubError::UnknownConnection)?;
        let name = channel.redis_name();
        let removed = connection.remove_channel(&name);
        if removed {
            self.sessions.remove_channel(id, &name).await?;
            if self.remove_route(&name, id) {
                self.reconcile(&name).await;
            }
        }
        self.send(
            &connection,
            &StreamEvent::Unsubscribed(SubscriptionChange::for_channel(channel)),
        );
        Ok(removed)
    }

    /// Subscribes the system channels; called once at start-up.
    pub async fn subscribe_system_channels(&self) -> Result<(), fred::error::Error> {
        let mut redis = self.redis_channels.lock().await;
        let mut channels: Vec<String> = SYSTEM_CHANNELS.iter().map(|c| (*c).to_owned()).collect();
        channels.push(self.control_channel());
        self.redis_subscribe(&channels).await?;
        redis.extend(channels);
        metrics::gauge!(m::REDIS_SUBSCRIPTIONS).set(redis.len() as f64);
        Ok(())
    }

    /// Re-sends SUBSCRIBE for every channel a local stream wants (after a reconnect the
    /// server has forgotten them all). `restored` is called with each group of channels as
    /// soon as Redis confirmed it, so their catch-up need not wait for the other shards.
    pub async fn resubscribe_all(
        &self,
        mut restored: impl FnMut(&[String]),
    ) -> Result<usize, fred::error::Error> {
        let mut redis = self.redis_channels.lock().await;
        let mut wanted: Vec<String> = read(&self.routes).keys().map(|k| k.to_string()).collect();
        wanted.extend(SYSTEM_CHANNELS.iter().map(|c| (*c).to_owned()));
        wanted.push(self.control_channel());
        for batch in wanted.chunks(512) {
            self.redis_subscribe_reporting(batch, &mut restored).await?;
        }
        redis.clear();
        redis.extend(wanted);
        metrics::gauge!(m::REDIS_SUBSCRIPTIONS).set(redis.len() as f64);
        Ok(redis.len())
    }

    /// Makes Redis match the route table for `channel`. Failures are logged; the next
    /// reconnect or reconcile repairs them.
    pub(super) async fn reconcile(&self, channel: &str) {
        let mut redis = self.redis_channels.lock().await;
        let wanted = read(&self.routes).contains_key(channel);
        let subscribed = redis.contains(channel);
        if wanted && !subscribed {
            match self.redis_subscribe(&[channel.to_owned()]).await {
                Ok(()) => {
                    redis.insert(channel.to_owned());
                }
                Err(error) => tracing::warn!(%error, channel, "SUBSCRIBE failed"),
            }
        } else if !wanted && subscribed {
            match self.redis_unsubscribe(channel).await {
                Ok(()) => {
                    redis.remove(channel);
                }
                Err(error) => tracing::warn!(%error, channel, "UNSUBSCRIBE failed"),
            }
        }
        metrics::gauge!(m::REDIS_SUBSCRIPTIONS).set(redis.len() as f64);
    }

    async fn ensure_subscribed(&self, channel: &str) -> Result<(), HubError> {
        let mut redis = self.redis_channels.lock().await;
        if !redis.contains(channel) {
            self.redis_subscribe(&[channel.to_owned()]).await?;
            redis.insert(channel.to_owned());
            metrics::gauge!(m::REDIS_SUBSCRIPTIONS).set(redis.len() as f64);
        }
        Ok(())
    }

    /// Whether `channel` is subscribed with sharded pub/sub.
    fn is_sharded(&self, channel: &str) -> bool {
        self.settings.sharded
            && !SYSTEM_CHANNELS.contains(&channel)
            && !channel.starts_with("sse:pod:")
    }

    async fn redis_subscribe(&self, channels: &[String]) -> Result<(), fred::error::Error> {
        self.redis_subscribe_reporting(channels, &mut |_| {}).await
    }

    /// Subscribes `channels`, calling `subscribed` with each group Redis confirmed.
    async fn redis_subscribe_reporting(
        &self,
        channels: &[String],
        subscribed: &mut impl FnMut(&[String]),
    ) -> Result<(), fred::error::Error> {
        let (sharded, classic): (Vec<String>, Vec<String>) =
            channels.iter().cloned().partition(|c| self.is_sharded(c));
        if !classic.is_empty() {
            self.subscriber.subscribe(classic.clone()).await?;
            subscribed(&classic);
        }
        // One SSUBSCRIBE names channels of one slot only.
        let mut by_slot: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for channel in sharded {
            by_slot
                .entry(fred::util::redis_keyslot(channel.as_bytes()))
                .or_default()
                .push(channel);
        }
        for group in by_slot.into_values() {
            self.subscriber.ssubscribe(group.clone()).await?;
            subscribed(&group);
        }
        Ok(())
    }

    async fn redis_unsubscribe(&self, channel: &str) -> Result<(), fred::error::Error> {
        if self.is_sharded(channel) {
            self.subscriber.sunsubscribe(channel).await
        } else {
            self.subscriber.unsubscribe(channel).await
        }
    }

    /// Removes one route; true when the channel has no local subscriber left.
    fn remove_route(&self, channel: &str, id: &Uuid) -> bool {
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

    /// Channels subscribed on Redis right now (system channels included).
    pub async fn redis_channels(&self) -> Vec<String> {
        self.redis_channels.lock().await.iter().cloned().collect()
    }
}
