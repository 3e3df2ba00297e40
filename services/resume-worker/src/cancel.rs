//! Noticing that a running job was cancelled: a cheap look at the job (one `HGET`) at every
//! stage boundary, and every `CANCEL_CHECK_INTERVAL` while a stage waits on something slow
//! (a download, a document being read).

use std::time::Duration;

use job_queue::{Claimed, Consumer};

/// Watches one running job for a cancel request.
pub struct CancelWatch<'a> {
    pub consumer: &'a Consumer,
    pub claimed: &'a Claimed,
    pub every: Duration,
}

impl CancelWatch<'_> {
    /// Whether a cancel was requested. A failed look counts as no: the next one, or the
    /// queue's own check when the result is stored, decides.
    pub async fn requested(&self) -> bool {
        match self.consumer.cancel_requested(self.claimed).await {
            Ok(requested) => requested,
            Err(error) => {
                tracing::debug!(%error, job.id = %self.claimed.job.job_id, "checking for a cancel failed");
                false
            }
        }
    }

    /// Completes once a cancel is requested.
    pub async fn requested_later(&self) {
        loop {
            tokio::time::sleep(self.every).await;
            if self.requested().await {
                return;
            }
        }
    }

    /// Runs `work` unless the job is cancelled first (`None`; `work` is dropped).
    pub async fn unless_cancelled<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            done = work => Some(done),
            () = self.requested_later() => None,
        }
    }
}
