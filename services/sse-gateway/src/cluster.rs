//! Cluster-wide counts: every pod writes its own counts to one Redis hash every few seconds;
//! any pod can sum the fresh entries.

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::{Client, HashesInterface};
use progress_contract::time::now_millis;
use serde::{Deserialize, Serialize};

const KEY: &str = crate::keys::PODS;

/// One pod's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCounts {
    pub pod: String,
    pub total_connections: usize,
    pub total_job_subscriptions: usize,
    pub total_queue_subscriptions: usize,
    pub total_worker_subscriptions: usize,
    pub draining: bool,
    pub timestamp: u64,
}

pub async fn report(client: &Client, counts: &PodCounts) -> Result<(), fred::error::Error> {
    let json = serde_json::to_string(counts).unwrap_or_default();
    let _: () = client.hset(KEY, [(counts.pod.as_str(), json)]).await?;
    Ok(())
}

pub async fn remove(client: &Client, pod: &str) -> Result<(), fred::error::Error> {
    let _: i64 = client.hdel(KEY, pod).await?;
    Ok(())
}

/// Counts of every pod that reported within `fresh`; older entries are removed.
pub async fn read(client: &Client, fresh: Duration) -> Result<Vec<PodCounts>, fred::error::Error> {
    let all: HashMap<String, String> = client.hgetall(KEY).await?;
    let cutoff = now_millis().saturating_sub(fresh.as_millis() as u64);
    let mut pods = Vec::new();
    for (pod, json) in all {
        match serde_json::from_str::<PodCounts>(&json) {
            Ok(counts) if counts.timestamp >= cutoff => pods.push(counts),
            _ => {
                let _: i64 = client.hdel(KEY, pod).await?;
            }
        }
    }
    pods.sort_by(|a, b| a.pod.cmp(&b.pod));
    Ok(pods)
}
