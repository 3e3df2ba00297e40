//! Cancelling a job from outside its worker (the gateway's cancel endpoint).

use std::collections::HashMap;

use fred::types::Value;
use progress_contract::time::now_millis;

use crate::error::QueueError;
use crate::job::JobRecord;
use crate::queue::Queue;
use crate::scripts;

/// What a cancel did.
#[derive(Clone, Debug)]
pub enum CancelOutcome {
    /// It was waiting or delayed: now cancelled (the caller publishes the final
    /// `job_update`, status cancelled).
    Cancelled(JobRecord),
    AlreadyCancelled(JobRecord),
    /// It is running: `cancelRequested` is set; its worker stops it and publishes the final
    /// event. Repeating gives `Requested` again.
    Requested(JobRecord),
    /// Completed or failed: nothing changed.
    Finished(JobRecord),
    NotFound,
}

impl Queue {
    /// Cancels a job; see [`CancelOutcome`]. A job cancelled here expires after the workers'
    /// `JOB_TTL` as they last recorded it in the queue's settings (24 h if none ever did).
    pub async fn cancel(&self, job_id: &str) -> Result<CancelOutcome, QueueError> {
        let reply: Value = self
            .run_job_script(&scripts::CANCEL, job_id, vec![now_millis().to_string()])
            .await?;
        let (verdict, hash) = verdict_and_hash(reply)?;
        if verdict == "missing" {
            return Ok(CancelOutcome::NotFound);
        }
        let Some(job) = JobRecord::from_hash(self.name(), hash) else {
            return Ok(CancelOutcome::NotFound);
        };
        Ok(match verdict.as_str() {
            "cancelled" => CancelOutcome::Cancelled(job),
            "already" => CancelOutcome::AlreadyCancelled(job),
            "requested" => CancelOutcome::Requested(job),
            _ => CancelOutcome::Finished(job),
        })
    }
}

/// A script's `{verdict, HGETALL of the job}` reply.
pub(crate) fn verdict_and_hash(
    reply: Value,
) -> Result<(String, HashMap<String, String>), QueueError> {
    let Value::Array(mut items) = reply else {
        return Err(QueueError::Reply(format!("script returned {reply:?}")));
    };
    if items.len() != 2 {
        return Err(QueueError::Reply(format!("script returned {items:?}")));
    }
    let fields = items.pop().unwrap_or(Value::Null);
    let verdict = items.pop().and_then(|v| v.as_string()).unwrap_or_default();
    let mut hash = HashMap::new();
    match fields {
        Value::Array(flat) => {
            for pair in flat.chunks(2) {
                if let [key, value] = pair
                    && let (Some(key), Some(value)) = (key.as_string(), value.as_string())
                {
                    hash.insert(key, value);
                }
            }
        }
        Value::Map(map) => {
            for (key, value) in map.inner() {
                if let Some(value) = value.as_string() {
                    hash.insert(key.into_string().unwrap_or_default(), value);
                }
            }
        }
        _ => {}
    }
    Ok((verdict, hash))
}
