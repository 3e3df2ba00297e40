//! The publish API of the original design (`publishJobUpdate`, `publishQueueUpdate`,
//! `publishWorkerStatus`), plus broadcasts and custom events for the gateway's own channels.
//!
//! Job, queue and worker events are written to the channel's history and published with
//! their `eventId` in one atomic script, so clients that reconnect get what they missed.

use std::sync::LazyLock;

use fred::prelude::{Client, PubsubInterface};
use fred::types::Value;
use fred::types::scripts::Script;
use serde::Serialize;

use crate::channel::{BROADCAST_CHANNEL, CONNECTION_EVENTS_CHANNEL, Channel, InvalidName};
use crate::events::{CustomEvent, JobUpdate, ProgressEvent, QueueUpdate, WorkerStatus};
use crate::history::{self, StreamId};

static PUBLISH: LazyLock<Script> = LazyLock::new(|| Script::from_lua(history::PUBLISH_SCRIPT));

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    #[error("encoding the event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("publishing to Redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
}

/// A published event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// Its position in the channel's history.
    pub event_id: StreamId,
    /// Redis subscribers (gateway pods) that received it live.
    pub receivers: u64,
}

/// How much history each channel keeps.
#[derive(Clone, Copy, Debug)]
pub struct HistoryLimits {
    pub max_len: u64,
    pub ttl_secs: u64,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            max_len: history::DEFAULT_MAXLEN,
            ttl_secs: history::DEFAULT_TTL_SECS,
        }
    }
}

/// Publishes contract events on their channels. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    client: Client,
    limits: HistoryLimits,
    sharded: bool,
}

impl Publisher {
    pub fn new(client: Client) -> Self {
        Self::with_limits(client, HistoryLimits::default())
    }

    pub fn with_limits(client: Client, limits: HistoryLimits) -> Self {
        Self {
            client,
            limits,
            sharded: false,
        }
    }

    /// Publishes job, queue and worker events with `SPUBLISH` (sharded pub/sub, for Redis
    /// Cluster) instead of `PUBLISH`. Gateways must subscribe the same way.
    pub fn sharded(mut self, sharded: bool) -> Self {
        self.sharded = sharded;
        self
    }

    /// Publishes on `job:{jobId}`; returns how many Redis subscribers received it.
    pub async fn publish_job_update(&self, update: &JobUpdate) -> Result<u64, PublishError> {
        let channel = Channel::job(&update.job_id)?;
        let payload = serde_json::to_string(&ProgressEvent::JobUpdate(update.clone()))?;
        Ok(self.publish_event(&channel, &payload).await?.receivers)
    }

    /// Publishes on `queue:{queueName}`.
    pub async fn publish_queue_update(&self, update: &QueueUpdate) -> Result<u64, PublishError> {
        let channel = Channel::queue(&update.queue_name)?;
        let payload = serde_json::to_string(&ProgressEvent::QueueUpdate(update.clone()))?;
        Ok(self.publish_event(&channel, &payload).await?.receivers)
    }

    /// Publishes on `worker:{workerId}`.
    pub async fn publish_worker_status(&self, status: &WorkerStatus) -> Result<u64, PublishError> {
        let channel = Channel::worker(&status.worker_id)?;
        let payload = serde_json::to_string(&ProgressEvent::WorkerStatus(status.clone()))?;
        Ok(self.publish_event(&channel, &payload).await?.receivers)
    }

    /// Loads the history script into Redis ahead of the first publish (on every primary of a
    /// cluster). Optional: a publish loads it when Redis does not have it.
    pub async fn load_script(&self) -> Result<(), fred::error::Error> {
        PUBLISH.load(&self.client).await
    }

    /// Appends `payload` (a JSON object) to the channel's history and publishes it tagged
    /// with its `eventId`.
    pub async fn publish_event(
        &self,
        channel: &Channel,
        payload: &str,
    ) -> Result<Published, PublishError> {
        let name = channel.redis_name();
        let reply: Value = PUBLISH
            .evalsha_with_reload(
                &self.client,
                vec![history::history_key(&name)],
                vec![
                    name,
                    payload.to_owned(),
                    self.limits.max_len.to_string(),
                    self.limits.ttl_secs.to_string(),
                    if self.sharded { "sharded" } else { "classic" }.to_owned(),
                ],
            )
            .await?;
        match reply {
            Value::Array(items) if items.len() == 2 => Ok(Published {
                event_id: items[0]
                    .as_string()
                    .and_then(|id| StreamId::parse(&id))
                    .ok_or_else(|| PublishError::Reply(format!("{:?}", items[0])))?,
                receivers: items[1].as_u64().unwrap_or(0),
            }),
            other => Err(PublishError::Reply(format!("{other:?}"))),
        }
    }

    /// Sends `event` to every stream on every gateway pod (live only). Always classic
    /// pub/sub, which reaches every node of a cluster.
    pub async fn broadcast(&self, event: &CustomEvent) -> Result<u64, PublishError> {
        self.publish_json(BROADCAST_CHANNEL, event).await
    }

    /// Sends `event` to the stream `event.connection_id`, wherever it is held (live only).
    pub async fn send_to_connection(&self, event: &CustomEvent) -> Result<u64, PublishError> {
        self.publish_json(CONNECTION_EVENTS_CHANNEL, event).await
    }

    async fn publish_json<T: Serialize>(
        &self,
        channel: &str,
        event: &T,
    ) -> Result<u64, PublishError> {
        let payload = serde_json::to_string(event)?;
        Ok(self.client.publish(channel, payload).await?)
    }
}
