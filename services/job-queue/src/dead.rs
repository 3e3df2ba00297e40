//! Dead letters (jobs that failed their last attempt): reading them newest first, running a
//! failed or cancelled job again, deleting one.

use fred::prelude::StreamsInterface;
use fred::types::Value;
use progress_contract::time::now_millis;
use serde::Serialize;

use crate::cancel::verdict_and_hash;
use crate::error::QueueError;
use crate::job::JobRecord;
use crate::queue::Queue;
use crate::scripts;

/// One dead-lettered job, as its dead-letter entry recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub job_id: String,
    pub name: String,
    pub error: String,
    pub code: String,
    pub attempts: u32,
    /// When it was dead-lettered (ms since the epoch).
    pub failed_at: u64,
    pub organisation_id: Option<String>,
}

/// One page of dead letters, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadPage {
    pub jobs: Vec<DeadLetter>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a retry did.
#[derive(Clone, Debug)]
pub enum RetryOutcome {
    /// Waiting again, attempts reset.
    Requeued(JobRecord),
    /// Not failed nor cancelled: nothing changed.
    NotRetryable(JobRecord),
    /// Its uploaded file is gone (deleted when the job failed for good, or expired): it could
    /// only fail again, so nothing changed. Upload the file again as a new job.
    FileGone(JobRecord),
    NotFound,
}

/// A cursor is a dead-letter entry id, `<ms>-<seq>`.
fn parse_cursor(cursor: &str) -> Result<&str, QueueError> {
    let (ms, seq) = cursor.split_once('-').ok_or(QueueError::BadCursor)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if digits(ms) && digits(seq) {
        Ok(cursor)
    } else {
        Err(QueueError::BadCursor)
    }
}

fn dead_letter(entry: &Value) -> Option<(String, DeadLetter)> {
    let Value::Array(parts) = entry else {
        return None;
    };
    let id = parts.first()?.as_string()?;
    let mut fields = std::collections::HashMap::new();
    if let Some(Value::Array(flat)) = parts.get(1) {
        for pair in flat.chunks(2) {
            if let [key, value] = pair
                && let (Some(key), Some(value)) = (key.as_string(), value.as_string())
            {
                fields.insert(key, value);
            }
        }
    }
    let text = |key: &str| fields.get(key).cloned().unwrap_or_default();
    let failed_at = id.split('-').next().and_then(|ms| ms.parse().ok());
    Some((
        id.clone(),
        DeadLetter {
            job_id: fields.get("jobId")?.clone(),
            name: text("name"),
            error: text("error"),
            code: text("code"),
            attempts: text("attempts").parse().unwrap_or(0),
            failed_at: failed_at.unwrap_or(0),
            organisation_id: fields
                .get("organisationId")
                .filter(|o| !o.is_empty())
                .cloned(),
        },
    ))
}

impl Queue {
    /// Newest first, at most `limit`. `cursor` is the `next_cursor` of the previous page;
    /// `Err(QueueError::BadCursor)` for one that is not.
    pub async fn dead_letters(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<DeadPage, QueueError> {
        let end = match cursor {
            Some(cursor) => parse_cursor(cursor)?.to_owned(),
            None => "+".to_owned(),
        };
        let limit = limit.max(1);
        let reply: Value = self
            .client()
            .xrevrange(self.keys().dead(), end, "-", Some(limit as u64 + 1))
            .await?;
        let mut entries: Vec<(String, DeadLetter)> = match &reply {
            Value::Array(items) => items.iter().filter_map(dead_letter).collect(),
            _ => Vec::new(),
        };
        let next_cursor = if entries.len() > limit {
            entries.pop().map(|(id, _)| id)
        } else {
            None
        };
        Ok(DeadPage {
            jobs: entries.into_iter().map(|(_, letter)| letter).collect(),
            next_cursor,
        })
    }

    /// A failed (dead-lettered) or cancelled job runs again: attempts and reclaims reset,
    /// removed from the dead letters, waiting again under its organisation, TTL removed.
    pub async fn retry(&self, job_id: &str) -> Result<RetryOutcome, QueueError> {
        let extra = vec![now_millis().to_string(), self.keys().file(job_id)];
        let reply: Value = self.run_job_script(&scripts::RETRY, job_id, extra).await?;
        let (verdict, hash) = verdict_and_hash(reply)?;
        let Some(job) = JobRecord::from_hash(self.name(), hash) else {
            return Ok(RetryOutcome::NotFound);
        };
        Ok(match verdict.as_str() {
            "requeued" => RetryOutcome::Requeued(job),
            "file_gone" => RetryOutcome::FileGone(job),
            _ => RetryOutcome::NotRetryable(job),
        })
    }

    /// Removes a dead-lettered job: its entry, its record and its uploaded file. false when it
    /// is not a dead letter.
    pub async fn delete_dead(&self, job_id: &str) -> Result<bool, QueueError> {
        let deleted: i64 = self
            .run_job_script(
                &scripts::DELETE_DEAD,
                job_id,
                vec![self.keys().file(job_id)],
            )
            .await?;
        Ok(deleted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entry_ids_are_cursors() {
        assert!(parse_cursor("1700000000000-0").is_ok());
        for bad in [
            "",
            "-",
            "abc",
            "1-",
            "-1",
            "1-2-3",
            "1.5-0",
            "+",
            "12345678901234567890123-0",
        ] {
            assert!(
                matches!(parse_cursor(bad), Err(QueueError::BadCursor)),
                "{bad}"
            );
        }
    }
}
