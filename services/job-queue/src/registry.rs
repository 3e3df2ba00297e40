//! Live workers: each worker refreshes its entry (its last `worker_status`) with a TTL, so a
//! worker that dies disappears by itself. A sorted set by last-seen time lists them cheaply.

use fred::prelude::{Client, KeysInterface, SortedSetsInterface};
use fred::types::Expiration;
use progress_contract::events::WorkerStatus;
use progress_contract::time::now_millis;
use std::time::Duration;

use crate::error::QueueError;

const INDEX: &str = "rq:workers";

fn entry(worker_id: &str) -> String {
    format!("rq:worker:{worker_id}")
}

/// Reads and writes the registry.
#[derive(Clone)]
pub struct WorkerRegistry {
    client: Client,
}

impl WorkerRegistry {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Records `status` for `ttl`.
    pub async fn heartbeat(&self, status: &WorkerStatus, ttl: Duration) -> Result<(), QueueError> {
        let seconds = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let _: () = self
            .client
            .set(
                entry(&status.worker_id),
                serde_json::to_string(status)?,
                Some(Expiration::EX(seconds)),
                None,
                false,
            )
            .await?;
        let _: i64 = self
            .client
            .zadd(
                INDEX,
                None,
                None,
                false,
                false,
                (now_millis() as f64, status.worker_id.as_str()),
            )
            .await?;
        Ok(())
    }

    /// Removes a worker that stops cleanly.
    pub async fn remove(&self, worker_id: &str) -> Result<(), QueueError> {
        let _: i64 = self.client.del(entry(worker_id)).await?;
        let _: i64 = self.client.zrem(INDEX, worker_id).await?;
        Ok(())
    }

    /// The last status of worker `worker_id`, while its entry lives (`None` once it has
    /// stopped or missed its heartbeats).
    pub async fn status(&self, worker_id: &str) -> Result<Option<WorkerStatus>, QueueError> {
        let json: Option<String> = self.client.get(entry(worker_id)).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Workers seen within `ttl`, with their last status. Older index entries are pruned.
    pub async fn list(&self, ttl: Duration) -> Result<Vec<WorkerStatus>, QueueError> {
        let cutoff = now_millis().saturating_sub(ttl.as_millis() as u64) as f64;
        let _: i64 = self
            .client
            .zremrangebyscore(INDEX, f64::NEG_INFINITY, cutoff)
            .await?;
        let ids: Vec<String> = self
            .client
            .zrange(INDEX, 0, -1, None, false, None, false)
            .await?;
        let mut workers = Vec::with_capacity(ids.len());
        for id in ids {
            let json: Option<String> = self.client.get(entry(&id)).await?;
            if let Some(status) = json.and_then(|j| serde_json::from_str(&j).ok()) {
                workers.push(status);
            }
        }
        Ok(workers)
    }
}
