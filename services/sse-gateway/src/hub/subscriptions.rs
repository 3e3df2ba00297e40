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
use progress_contract::history::StreamId;
use uuid::Uuid;

use super::replay::Backlog;
use super::{ChannelHold, Connection, Hub, HubError};
use crate::metrics as m;
use crate::resume::first_delivery::Plan;
use crate::resume::opening::{self, NewStream};

/// A stream being opened: its session is written together with its first channels.
#[derive(Clone, Copy, Debug)]
pub struct Opening<'a> {
    /// The token subject the stream belongs to (see [`crate::resume::session::Session`]).
    pub subject: Option<&'a str>,
}

/// Channels every pod always listens to (plus its own control channel).
pub const SYSTEM_CHANNELS: [&str; 2] = [BROADCAST_CHANNEL, CONNECTION_EVENTS_CHANNEL];

impl Hub {
    /// Subscribes stream `id` to `channel` (see [`Hub::subscribe_channels`]); the stream
    /// gets `subscribed`. Returns false when it was already subscribed (the event is still
    /// sent).
    pub async fn subscribe(
        self: &Arc<Self>,
        id: &Uuid,
        channel: &Channel,
        replay: bool,
    ) -> Result<bool, HubError> {
        let connection = self.connection(id).ok_or(HubError::UnknownConnection)?;
        let added = self
            .subscribe_channels(
                &connection,
                std::slice::from_ref(channel),
                replay,
                true,
                None,
            )
            .await?;
        Ok(added > 0)
    }

    /// Subscribes a local stream to `channels`. Each channel it did not have gets its first
    /// delivery (see [`crate::resume::first_delivery`]; nothing with `replay` false), then its live
    /// events, without a gap or a duplicate at the seam: the channel's live events are held
    /// from before its Redis subscription until the first delivery is queued, and those the
    /// history already had are skipped. With `announce` the stream gets `subscribed` for
    /// every channel, ahead of the first deliveries. With `opening` the stream is new: its
    /// session is written with the channels, in the same command. Returns how many channels
    /// were new; on failure the new ones are undone, so the request can simply be sent again.
    pub async fn subscribe_channels(
        self: &Arc<Self>,
        connection: &Arc<Connection>,
        channels: &[Channel],
        replay: bool,
        announce: bool,
        opening: Option<Opening<'_>>,
    ) -> Result<usize, HubError> {
        if connection.is_closed() {
            return Err(HubError::Closing);
        }
        let present = connection.channels();
        let mut fresh: Vec<&Channel> = Vec::new();
        for channel in channels {
            if !present.contains(&channel.redis_name()) && !fresh.contains(&channel) {
                fresh.push(channel);
            }
        }
        // Dropped on every way out of this function: a dropped hold queues what it held.
        let mut holds = Vec::with_capacity(fresh.len());
        let mut added = Vec::with_capacity(fresh.len());
        for channel in fresh {
            let name: Arc<str> = Arc::from(channel.redis_name());
            holds.push(ChannelHold::new(connection, name.clone()));
            match self.subscribe_quietly(connection, &name).await {
                Ok(true) => added.push(channel.clone()),
                // A concurrent request added it and delivers its start.
                Ok(false) => {}
                Err(error) => {
                    self.undo_subscriptions(connection, &added).await;
                    return Err(error);
                }
            }
        }
        let plans = match self
            .prepare_first_deliveries(connection, &added, replay, opening)
            .await
        {
            Ok(plans) => plans,
            Err(error) => {
                self.undo_subscriptions(connection, &added).await;
                return Err(error.into());
            }
        };
        if announce {
            for channel in channels {
                self.send(
                    connection,
                    &StreamEvent::Subscribed(SubscriptionChange::for_channel(channel)),
                );
            }
        }
        for plan in plans {
            self.deliver_first(connection, plan);
        }
        drop(holds);
        Ok(added.len())
    }

    /// Reads the first deliveries of `channels` and records them in the stream's session
    /// (where each resumes until a position is flushed), in two round trips in all; a new
    /// stream's session is created by that same write, and on one Redis node a new stream's
    /// whole step is one command.
    async fn prepare_first_deliveries(
        &self,
        connection: &Connection,
        channels: &[Channel],
        replay: bool,
        opening: Option<Opening<'_>>,
    ) -> Result<Vec<Plan>, fred::error::Error> {
        if channels.is_empty() && opening.is_none() {
            return Ok(Vec::new());
        }
        let id = connection.id();
        let multi = connection.is_multi();
        if let Some(opening) = opening
            && self.settings.one_node
            && opening::fits(channels, replay)
        {
            let stream = NewStream {
                id,
                subject: opening.subject,
                multi,
                channels,
                replay,
            };
            return self.first.open_stream(&self.sessions, &stream).await;
        }
        // Boxed: through the Redis client, this way's futures are kilobytes that the way above
        // (a stream's open on one Redis node) would otherwise carry too.
        Box::pin(self.first_deliveries_in_two_steps(id, multi, channels, replay, opening)).await
    }

    /// [`Hub::prepare_first_deliveries`] on a cluster, or for channels added to a stream: the
    /// first deliveries read, then the session written while they are completed.
    async fn first_deliveries_in_two_steps(
        &self,
        id: Uuid,
        multi: bool,
        channels: &[Channel],
        replay: bool,
        opening: Option<Opening<'_>>,
    ) -> Result<Vec<Plan>, fred::error::Error> {
        let mut plans = self.first.read(channels, replay).await?;
        let since: Vec<(String, StreamId)> = plans.iter().map(|p| (p.name(), p.since)).collect();
        let write = async {
            match opening {
                Some(opening) => {
                    self.sessions
                        .open(&id, &since, opening.subject, multi)
                        .await
                }
                None => self.sessions.add_channels(&id, &since, multi).await,
            }
        };
        let (written, completed) = tokio::join!(write, self.first.complete(&mut plans));
        written?;
        completed?;
        Ok(plans)
    }

    /// Queues one channel's first delivery ahead of its held live events.
    fn deliver_first(&self, connection: &Connection, plan: Plan) {
        let name = self.channel_name(&plan.name());
        connection.start_cursor(&name, plan.since);
        let (kind, source) = (plan.channel.kind(), plan.source);
        let backlog = Backlog {
            channel: name,
            events: plan.events,
            state: plan.state,
            gap: plan.resync,
        };
        self.deliver_backlogs(connection, vec![backlog]);
        metrics::counter!(m::FIRST_DELIVERIES, "kind" => kind.as_str(),
            "source" => source.as_str())
        .increment(1);
    }

    /// Takes back subscriptions made by a [`Hub::subscribe_channels`] that failed.
    async fn undo_subscriptions(&self, connection: &Connection, channels: &[Channel]) {
        for channel in channels {
            let name = channel.redis_name();
            connection.remove_channel(&name);
            if self.remove_route(&name, &connection.id()) {
                self.reconcile(&name).await;
            }
        }
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
        self.table.note_multi_channel(connection);
        if !self.table.route(connection, name) {
            if added {
                connection.remove_channel(name);
            }
            return Err(HubError::Closing);
        }
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
        let mut wanted: Vec<String> = self.table.channels();
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
        let wanted = self.table.is_routed(channel);
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
        // Checked under the lock: if the route went away while this waited (its stream
        // closed, and the reconcile that followed found nothing to undo), subscribing now
        // would leave a Redis subscription that nothing ever releases.
        let wanted = self.table.is_routed(channel);
        if wanted && !redis.contains(channel) {
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
            && !crate::keys::is_control_channel(channel)
    }

    /// Boxed, as [`Hub::redis_unsubscribe`]: the Redis client's futures are kilobytes, and a
    /// stream's open, which subscribes only a channel new to this pod, would otherwise carry
    /// and move that room every time.
    async fn redis_subscribe(&self, channels: &[String]) -> Result<(), fred::error::Error> {
        Box::pin(self.redis_subscribe_reporting(channels, &mut |_| {})).await
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
            Box::pin(self.subscriber.sunsubscribe(channel)).await
        } else {
            Box::pin(self.subscriber.unsubscribe(channel)).await
        }
    }

    /// Removes one route; true when the channel has no local subscriber left.
    fn remove_route(&self, channel: &str, id: &Uuid) -> bool {
        self.table.unroute(channel, id)
    }

    /// Channels subscribed on Redis right now (system channels included).
    pub async fn redis_channels(&self) -> Vec<String> {
        self.redis_channels.lock().await.iter().cloned().collect()
    }
}
