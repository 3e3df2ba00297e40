//! Queue counts (kept by the scripts in one hash, so reading them is one HGETALL) and the
//! reporter that publishes them as `queue_update`, at most once per interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fred::prelude::HashesInterface;
use progress_contract::Publisher;
use progress_contract::events::QueueUpdate;
use progress_contract::time::now_millis;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::QueueError;
use crate::queue::Queue;

/// Jobs per state; `completed`, `failed` and `cancelled` count since the queue was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub waiting: u64,
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub delayed: u64,
    pub cancelled: u64,
    /// The queue is paused: no job starts until it is resumed.
    pub paused: bool,
}

impl QueueCounts {
    /// The counts of queue `queue_name` as of now, as a `queue_update`.
    pub fn update(&self, queue_name: &str) -> QueueUpdate {
        QueueUpdate {
            queue_name: queue_name.to_owned(),
            timestamp: now_millis(),
            waiting: self.waiting,
            active: self.active,
            completed: self.completed,
            failed: self.failed,
            delayed: self.delayed,
            cancelled: self.cancelled,
            paused: self.paused,
        }
    }
}

impl Queue {
    pub async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let hash: HashMap<String, i64> = self.client().hgetall(self.keys().counts()).await?;
        let paused: Option<String> = self.client().hget(self.keys().meta(), "paused").await?;
        let get = |key: &str| hash.get(key).copied().unwrap_or(0).max(0) as u64;
        Ok(QueueCounts {
            waiting: get("waiting"),
            active: get("active"),
            completed: get("completed"),
            failed: get("failed"),
            delayed: get("delayed"),
            cancelled: get("cancelled"),
            paused: paused.as_deref() == Some("1"),
        })
    }
}

/// Publishes `queue_update` after state changes, coalesced to one per `interval`.
#[derive(Clone)]
pub struct CountsReporter {
    changed: Arc<Notify>,
}

impl CountsReporter {
    /// Starts the reporting task for `queue`; it stops with `shutdown`, publishing once more.
    pub fn spawn(
        queue: Queue,
        publisher: Publisher,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let changed = Arc::new(Notify::new());
        let reporter = Self {
            changed: changed.clone(),
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = changed.notified() => {},
                    () = shutdown.cancelled() => {
                        publish(&queue, &publisher).await;
                        return;
                    }
                }
                publish(&queue, &publisher).await;
                // Changes during this pause are folded into the next publication.
                tokio::select! {
                    () = tokio::time::sleep(interval) => {},
                    () = shutdown.cancelled() => {},
                }
            }
        });
        reporter
    }

    /// Signals that counts changed.
    pub fn changed(&self) {
        self.changed.notify_one();
    }
}

async fn publish(queue: &Queue, publisher: &Publisher) {
    let counts = match queue.counts().await {
        Ok(counts) => counts,
        Err(error) => {
            tracing::warn!(%error, queue = queue.name(), "reading queue counts failed");
            return;
        }
    };
    let update = counts.update(queue.name());
    if let Err(error) = publisher.publish_queue_update(&update).await {
        tracing::warn!(%error, queue = queue.name(), "publishing queue_update failed");
    }
}
