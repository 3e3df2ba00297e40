//! The publish API of the original design (`publishJobUpdate`, `publishQueueUpdate`,
//! `publishWorkerStatus`), plus broadcasts and custom events for the gateway's own channels.

use fred::prelude::{Client, PubsubInterface};
use serde::Serialize;

use crate::channel::{BROADCAST_CHANNEL, CONNECTION_EVENTS_CHANNEL, Channel, InvalidName};
use crate::events::{CustomEvent, JobUpdate, ProgressEvent, QueueUpdate, WorkerStatus};

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    #[error("encoding the event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("publishing to Redis: {0}")]
    Redis(#[from] fred::error::Error),
}

/// Publishes contract events on their channels. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    client: Client,
}

impl Publisher {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Publishes on `job:{jobId}`; returns how many Redis subscribers received it.
    pub async fn publish_job_update(&self, update: &JobUpdate) -> Result<u64, PublishError> {
        let channel = Channel::job(&update.job_id)?;
        self.publish_json(
            &channel.redis_name(),
            &ProgressEvent::JobUpdate(update.clone()),
        )
        .await
    }

    /// Publishes on `queue:{queueName}`.
    pub async fn publish_queue_update(&self, update: &QueueUpdate) -> Result<u64, PublishError> {
        let channel = Channel::queue(&update.queue_name)?;
        self.publish_json(
            &channel.redis_name(),
            &ProgressEvent::QueueUpdate(update.clone()),
        )
        .await
    }

    /// Publishes on `worker:{workerId}`.
    pub async fn publish_worker_status(&self, status: &WorkerStatus) -> Result<u64, PublishError> {
        let channel = Channel::worker(&status.worker_id)?;
        self.publish_json(
            &channel.redis_name(),
            &ProgressEvent::WorkerStatus(status.clone()),
        )
        .await
    }

    /// Sends `event` to every stream on every gateway pod.
    pub async fn broadcast(&self, event: &CustomEvent) -> Result<u64, PublishError> {
        self.publish_json(BROADCAST_CHANNEL, event).await
    }

    /// Sends `event` to the stream `event.connection_id`, wherever it is held.
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
