//! Tasks that connect the Redis subscriber to the hub: the message loop, and the reconnect
//! loop that re-subscribes every channel after the connection comes back.

use std::collections::HashMap;
use std::sync::Arc;

use fred::clients::SubscriberClient;
use fred::prelude::{Client, ClientLike, ClusterInterface, EventInterface};
use fred::types::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::hub::{CatchUp, Hub};
use crate::metrics as m;

/// Forwards every pub/sub message to the hub until `shutdown`.
pub async fn run_messages(
    hub: Arc<Hub>,
    subscriber: SubscriberClient,
    shutdown: CancellationToken,
) {
    let mut messages = subscriber.message_rx();
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = messages.recv() => received,
        };
        match received {
            Ok(message) => match &message.value {
                Value::String(text) => dispatch(&hub, &message.channel, text.as_bytes()),
                Value::Bytes(bytes) => dispatch(&hub, &message.channel, bytes),
                other => {
                    metrics::counter!(m::EVENTS_DROPPED, "reason" => "malformed").increment(1);
                    tracing::warn!(channel = %message.channel, kind = ?other.kind(), "non-text pub/sub message dropped");
                }
            },
            Err(RecvError::Lagged(missed)) => {
                metrics::counter!(m::EVENTS_DROPPED, "reason" => "lagged").increment(missed);
                tracing::error!(
                    missed,
                    "the pub/sub reader fell behind; replaying from history"
                );
                // Held before the next message is dispatched: the messages still buffered
                // are newer than those lost, and must follow their replay, not precede it.
                let pending = hub.begin_catch_up();
                tokio::spawn(catch_up(
                    hub.clone(),
                    pending,
                    "the pub/sub reader fell behind",
                ));
            }
            Err(RecvError::Closed) => {
                tracing::error!("the Redis subscriber's message channel closed");
                return;
            }
        }
    }
}

/// Hands one message to the hub (which reads it once, see
/// [`progress_contract::incoming::Incoming`]).
fn dispatch(hub: &Arc<Hub>, channel: &str, payload: &[u8]) {
    hub.dispatch(channel, payload);
}

/// Re-subscribes all channels on every (re)connection of the subscriber, and on every change
/// of a cluster's topology (a failover or a slot migration moves sharded channels), then
/// replays from history what streams missed meanwhile.
///
/// Streams' live events are held from *before* the subscriptions are restored until their
/// replay is queued (see [`Hub::begin_catch_up`]): an event published just before a channel's
/// subscription was back is only in history, and one published just after arrives live, maybe
/// before the history is read; held, it follows the replay instead of hiding the first.
pub async fn run_resubscribe(
    hub: Arc<Hub>,
    subscriber: SubscriberClient,
    client: Client,
    shutdown: CancellationToken,
) {
    let mut reconnects = subscriber.reconnect_rx();
    let mut cluster_changes = subscriber.cluster_change_rx();
    let mut cluster_open = true;
    // A slot migration moves sharded channels without a reconnect and without MOVED on the
    // subscriber's connections: watch the slot map itself.
    let watch_slots = hub.settings().sharded && subscriber.is_clustered();
    let mut slot_check = tokio::time::interval(std::time::Duration::from_secs(2));
    let mut slot_map = None;
    loop {
        let cause = tokio::select! {
            () = shutdown.cancelled() => return,
            _ = slot_check.tick(), if watch_slots => {
                let Some(current) = slot_map_fingerprint(&client).await else {
                    continue;
                };
                match slot_map.replace(current) {
                    Some(previous) if previous != current => {
                        if let Err(error) = subscriber.sync_cluster().await {
                            tracing::warn!(%error, "refreshing the subscriber's slot map failed");
                        }
                        "the cluster's slot map changed".to_owned()
                    }
                    _ => continue,
                }
            },
            event = reconnects.recv() => match event {
                Ok(server) => format!("reconnected to {server}"),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            change = cluster_changes.recv(), if cluster_open => match change {
                Ok(changes) => format!("cluster topology changed: {changes:?}"),
                Err(RecvError::Lagged(_)) => "cluster topology changed".to_owned(),
                Err(RecvError::Closed) => {
                    cluster_open = false;
                    continue;
                }
            },
        };
        metrics::counter!(m::REDIS_RECONNECTS).increment(1);
        let mut pending: HashMap<Arc<str>, Vec<CatchUp>> = HashMap::new();
        for entry in hub.begin_catch_up() {
            pending
                .entry(entry.channel.clone())
                .or_default()
                .push(entry);
        }
        // While a cluster fails over, a shard may refuse for a few seconds: keep trying. Each
        // group of channels is caught up as soon as Redis confirmed it, not once every shard
        // has answered.
        let mut delay = std::time::Duration::from_millis(100);
        loop {
            let restored = |channels: &[String]| {
                let ready: Vec<CatchUp> = channels
                    .iter()
                    .filter_map(|channel| pending.remove(channel.as_str()))
                    .flatten()
                    .collect();
                if !ready.is_empty() {
                    tokio::spawn(catch_up(hub.clone(), ready, "reconnect"));
                }
            };
            match hub.resubscribe_all(restored).await {
                Ok(count) => {
                    tracing::info!(cause, channels = count, "Redis subscriptions restored");
                    // Channels that lost their last stream meanwhile: nothing to wait for.
                    pending.clear();
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, cause, retry_in = ?delay, "re-subscribing failed");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                }
            }
        }
    }
}

/// A hash of `CLUSTER SLOTS` (which primary serves which slots); `None` when unreadable.
async fn slot_map_fingerprint(client: &fred::prelude::Client) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let command =
        fred::types::CustomCommand::new_static("CLUSTER", fred::types::ClusterHash::Random, false);
    let reply: Value = client.custom(command, vec!["SLOTS"]).await.ok()?;
    let Value::Array(ranges) = reply else {
        return None;
    };
    // Each range: start, end, then the primary [host, port, id] and its replicas.
    let mut owners: Vec<(i64, i64, String)> = ranges
        .iter()
        .filter_map(|range| match range {
            Value::Array(parts) if parts.len() >= 3 => Some((
                parts[0].as_i64()?,
                parts[1].as_i64()?,
                format!("{:?}", parts[2]),
            )),
            _ => None,
        })
        .collect();
    owners.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    owners.hash(&mut hasher);
    Some(hasher.finish())
}

/// Replays from history what streams missed while the subscriber was away or behind: events
/// a publisher wrote to history and published just before this pod's subscriptions were back.
/// `pending` was taken (and its channels held) before the subscriptions were restored; reads
/// that fail while Redis is still coming back are retried over the next seconds, after which
/// the streams left get `resync`.
async fn catch_up(hub: Arc<Hub>, mut pending: Vec<CatchUp>, cause: &'static str) {
    for delay in [0, 250, 1000, 3000, 6000] {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        let replayed = hub.catch_up_from(&mut pending).await;
        if replayed > 0 {
            tracing::info!(cause, replayed, "missed events replayed from history");
        }
        if pending.is_empty() {
            return;
        }
    }
    tracing::warn!(
        cause,
        streams = pending.len(),
        "catch-up gave up on some channels; their streams get resync"
    );
    hub.abandon_catch_up(pending);
}
