//! How a running job ends on its worker: with a result, or cancelled. When a cancel is
//! requested while the job runs, whichever script runs first decides the one outcome.

use fred::prelude::HashesInterface;
use progress_contract::time::now_millis;
use serde_json::Value as Json;

use crate::GROUP;
use crate::consumer::{Claimed, Consumer};
use crate::error::QueueError;
use crate::scripts;

/// What became of a result handed to [`Consumer::finish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// Stored; the job is completed.
    Completed,
    /// The job had already finished (it ran twice): the first outcome stays.
    Duplicate,
    /// A cancel came first: the job ended cancelled and the result was not stored.
    Cancelled,
}

impl Consumer {
    /// Records the settings other clients' scripts use: how long finished jobs are kept
    /// (the gateway's cancel expires a cancelled job after it) and the cap of running jobs
    /// per organisation (feeding skips organisations at it).
    pub(crate) async fn record_settings(&self) -> Result<(), QueueError> {
        let keys = self.queue().keys();
        let options = self.options();
        let _: () = self
            .queue()
            .client()
            .hset(
                keys.meta(),
                ("jobTtl", options.job_ttl.as_secs().max(1).to_string()),
            )
            .await?;
        match options.organisation_concurrency {
            Some(cap) => {
                let _: () = self
                    .queue()
                    .client()
                    .hset(keys.meta(), ("organisationCap", cap.to_string()))
                    .await?;
            }
            None => {
                let _: i64 = self
                    .queue()
                    .client()
                    .hdel(keys.meta(), "organisationCap")
                    .await?;
            }
        }
        Ok(())
    }

    /// Stores the result. Returns false when the job had already finished (it ran twice, or
    /// it was cancelled first): the first outcome stays.
    pub async fn complete(&self, claimed: &Claimed, result: &Json) -> Result<bool, QueueError> {
        Ok(self.finish(claimed, result, None).await? == Finish::Completed)
    }

    /// As [`Consumer::complete`], also keeping `summary`, the bounded part of the result that
    /// the completed event carried: what a late subscriber's snapshot shows.
    pub async fn complete_with_summary(
        &self,
        claimed: &Claimed,
        result: &Json,
        summary: Option<&Json>,
    ) -> Result<bool, QueueError> {
        Ok(self.finish(claimed, result, summary).await? == Finish::Completed)
    }

    /// Stores the result unless a cancel was requested first: exactly one outcome, decided by
    /// whichever script runs first.
    pub async fn finish(
        &self,
        claimed: &Claimed,
        result: &Json,
        summary: Option<&Json>,
    ) -> Result<Finish, QueueError> {
        let keys = self.queue().keys();
        let job_id = &claimed.job.job_id;
        let stored: i64 = scripts::COMPLETE
            .evalsha_with_reload(
                self.queue().client(),
                vec![
                    keys.job(job_id),
                    keys.stream(),
                    keys.counts(),
                    keys.delayed(),
                ],
                vec![
                    GROUP.to_owned(),
                    claimed.entry_id.clone(),
                    now_millis().to_string(),
                    serde_json::to_string(result)?,
                    self.options().job_ttl.as_secs().max(1).to_string(),
                    job_id.clone(),
                    summary.map_or_else(String::new, Json::to_string),
                    keys.prefix(),
                ],
            )
            .await?;
        Ok(match stored {
            1 => Finish::Completed,
            2 => Finish::Cancelled,
            _ => Finish::Duplicate,
        })
    }

    /// Whether a cancel was requested for this running job (one HGET).
    pub async fn cancel_requested(&self, claimed: &Claimed) -> Result<bool, QueueError> {
        let value: Option<String> = self
            .queue()
            .client()
            .hget(
                self.queue().keys().job(&claimed.job.job_id),
                "cancelRequested",
            )
            .await?;
        Ok(value.as_deref() == Some("1"))
    }

    /// Ends a running job as cancelled (active → cancelled, counts moved, entry acknowledged).
    /// Returns false if it had already finished another way.
    pub async fn cancel_running(&self, claimed: &Claimed) -> Result<bool, QueueError> {
        let keys = self.queue().keys();
        let job_id = &claimed.job.job_id;
        let ended: i64 = scripts::CANCEL_RUNNING
            .evalsha_with_reload(
                self.queue().client(),
                vec![keys.job(job_id)],
                vec![
                    keys.prefix(),
                    GROUP.to_owned(),
                    claimed.entry_id.clone(),
                    now_millis().to_string(),
                    self.options().job_ttl.as_secs().max(1).to_string(),
                    job_id.clone(),
                ],
            )
            .await?;
        Ok(ended == 1)
    }
}
