//! The job record (a Redis hash), its states and the options of `add`.

use std::collections::HashMap;
use std::time::Duration;

use progress_contract::events::{JobStatus, JobUpdate, Stage};
use serde::Serialize;
use serde_json::Value;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Waiting,
    Delayed,
    Active,
    Completed,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "waiting" => JobState::Waiting,
            "delayed" => JobState::Delayed,
            "active" => JobState::Active,
            "completed" => JobState::Completed,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Delayed => "delayed",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// The largest [`JobOptions::priority`]: jobs with it run last within their organisation.
pub const MAX_PRIORITY: u32 = 1000;

/// Options of `add`, with the original design's defaults.
#[derive(Clone, Debug)]
pub struct JobOptions {
    /// Caller-chosen id; adding an existing id returns that job and enqueues nothing.
    pub job_id: Option<String>,
    /// Total attempts including the first (default 3).
    pub attempts: u32,
    /// First retry delay; doubles with each attempt (default 1 s).
    pub backoff: Duration,
    /// Delay before the first attempt (default none).
    pub delay: Duration,
    /// 0 (default, runs first) ..= [`MAX_PRIORITY`] (runs last); larger values are treated as
    /// [`MAX_PRIORITY`]. Orders jobs inside one organisation only: organisations take turns
    /// whatever their jobs' priorities.
    pub priority: u32,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            job_id: None,
            attempts: 3,
            backoff: Duration::from_secs(1),
            delay: Duration::ZERO,
            priority: 0,
        }
    }
}

/// What to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub name: String,
    pub data: Value,
    pub organisation_id: Option<String>,
    /// W3C trace context of the request that added the job.
    pub traceparent: Option<String>,
}

/// Result of `add`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddOutcome {
    pub job_id: String,
    pub state: JobState,
    /// False when a job with this id already existed (nothing was enqueued).
    pub created: bool,
}

/// A job as stored.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub job_id: String,
    pub queue_name: String,
    pub name: String,
    pub state: JobState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub progress: u8,
    pub attempts: u32,
    pub max_attempts: u32,
    #[serde(skip)]
    pub backoff_ms: u64,
    pub data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The bounded summary the completed event carried (what a snapshot shows).
    #[serde(skip)]
    pub summary: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Machine-readable kind of `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Times the job was taken over from a worker that stopped while running it.
    #[serde(skip_serializing_if = "is_zero")]
    pub reclaims: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
    #[serde(skip)]
    pub traceparent: Option<String>,
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_until: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// A cancel was requested while the job ran; its worker stops it.
    #[serde(skip_serializing_if = "is_false")]
    pub cancel_requested: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl JobRecord {
    /// Builds a record from `HGETALL`; `None` when the hash is empty or damaged.
    pub fn from_hash(queue: &str, mut hash: HashMap<String, String>) -> Option<Self> {
        let number = |hash: &HashMap<String, String>, key: &str| -> Option<u64> {
            hash.get(key).and_then(|v| v.parse().ok())
        };
        let json = |text: Option<String>| -> Option<Value> {
            text.and_then(|t| serde_json::from_str(&t).ok())
        };
        Some(Self {
            state: JobState::parse(hash.get("status")?)?,
            job_id: hash.remove("id")?,
            queue_name: queue.to_owned(),
            name: hash.remove("name").unwrap_or_default(),
            stage: hash.remove("stage"),
            progress: number(&hash, "progress").map_or(0, |p| p.min(100) as u8),
            attempts: number(&hash, "attempts").unwrap_or(0) as u32,
            max_attempts: number(&hash, "maxAttempts").unwrap_or(1) as u32,
            backoff_ms: number(&hash, "backoffMs").unwrap_or(1000),
            created_at: number(&hash, "createdAt").unwrap_or(0),
            started_at: number(&hash, "startedAt"),
            finished_at: number(&hash, "finishedAt"),
            updated_at: number(&hash, "updatedAt"),
            delay_until: number(&hash, "delayUntil"),
            data: json(hash.remove("data")).unwrap_or(Value::Null),
            result: json(hash.remove("result")),
            summary: json(hash.remove("summary")),
            error: hash.remove("error"),
            error_code: hash.remove("errorCode"),
            reclaims: number(&hash, "reclaims").unwrap_or(0) as u32,
            organisation_id: hash.remove("organisationId"),
            traceparent: hash.remove("traceparent"),
            worker: hash.remove("worker"),
            cancel_requested: hash.get("cancelRequested").is_some_and(|v| v == "1"),
            priority: number(&hash, "priority").unwrap_or(0) as u32,
        })
    }

    /// The job's current state as one `job_update`: what a subscriber is sent when the job's
    /// history no longer reaches its start. It carries `"snapshot": true`, the result when
    /// completed and the error when failed.
    pub fn snapshot_update(&self) -> JobUpdate {
        let (status, message) = match self.state {
            JobState::Waiting => (JobStatus::Waiting, "Queued for analysis"),
            JobState::Delayed => (JobStatus::Retrying, "Waiting for another attempt"),
            JobState::Active => (JobStatus::InProgress, "Being analysed"),
            JobState::Completed => (JobStatus::Completed, "Analysis completed"),
            JobState::Failed => (JobStatus::Failed, "Analysis failed"),
            JobState::Cancelled => (JobStatus::Cancelled, "Analysis cancelled"),
        };
        let mut update = JobUpdate::new(&self.job_id, status, self.progress).message(message);
        update.timestamp = self
            .finished_at
            .or(self.updated_at)
            .or(self.started_at)
            .unwrap_or(self.created_at);
        update.stage = self.stage.as_deref().and_then(Stage::parse);
        let text = |key: &str| {
            self.data
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        update.resume_id = text("resumeId");
        update.candidate_id = text("candidateId");
        if self.state == JobState::Completed {
            // The same shape as the completed event: its summary, and where the full result
            // is (a record written before summaries were kept has only the full result).
            update.result = self.summary.clone().or_else(|| self.result.clone());
            update.result_url = Some(progress_contract::summary::result_path(&self.job_id));
        }
        if matches!(self.state, JobState::Failed | JobState::Delayed) {
            update.error = self.error.clone();
        }
        if self.attempts > 0 {
            update.attempt = Some(self.attempts);
        }
        update.snapshot = true;
        update
    }

    /// Delay before retry number `attempt + 1`: backoff × 2^(attempt − 1), capped at 1 h.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let factor = 1u64 << attempt.saturating_sub(1).min(20);
        Duration::from_millis(self.backoff_ms.saturating_mul(factor).min(3_600_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut hash = HashMap::new();
        for (k, v) in [("id", "j"), ("status", "active"), ("backoffMs", "1000")] {
            hash.insert(k.to_owned(), v.to_owned());
        }
        let job = JobRecord::from_hash("q", hash).unwrap();
        assert_eq!(job.retry_delay(1), Duration::from_secs(1));
        assert_eq!(job.retry_delay(2), Duration::from_secs(2));
        assert_eq!(job.retry_delay(3), Duration::from_secs(4));
        assert_eq!(job.retry_delay(40), Duration::from_secs(3600));
    }

    fn record(fields: &[(&str, &str)]) -> JobRecord {
        let hash = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        JobRecord::from_hash("q", hash).unwrap()
    }

    #[test]
    fn a_completed_job_snapshots_with_its_result() {
        let job = record(&[
            ("id", "j1"),
            ("status", "completed"),
            ("progress", "100"),
            ("stage", "storing"),
            ("data", r#"{"resumeId":"r1","candidateId":"c1"}"#),
            ("result", r#"{"score":87}"#),
            ("error", "an earlier attempt failed"),
            ("createdAt", "10"),
            ("finishedAt", "40"),
            ("attempts", "2"),
        ]);
        let update = job.snapshot_update();
        assert_eq!(update.status, JobStatus::Completed);
        assert_eq!(update.progress, 100);
        assert_eq!(update.stage, Some(Stage::Storing));
        assert_eq!(update.timestamp, 40);
        assert_eq!(update.resume_id.as_deref(), Some("r1"));
        assert_eq!(update.candidate_id.as_deref(), Some("c1"));
        assert_eq!(update.result, Some(serde_json::json!({"score": 87})));
        assert_eq!(update.result_url.as_deref(), Some("/api/v1/jobs/j1/result"));
        assert_eq!(
            update.error, None,
            "a completed job's old error is not shown"
        );
        assert_eq!(update.attempt, Some(2));
        assert!(update.snapshot);
    }

    #[test]
    fn a_completed_job_with_a_summary_snapshots_the_summary() {
        let job = record(&[
            ("id", "j2"),
            ("status", "completed"),
            (
                "result",
                r#"{"profile":{"skills":["a","b"]},"analysis":{}}"#,
            ),
            ("summary", r#"{"summary":true,"score":70}"#),
        ]);
        let update = job.snapshot_update();
        assert_eq!(
            update.result,
            Some(serde_json::json!({"summary": true, "score": 70})),
            "as the completed event"
        );
    }

    #[test]
    fn a_failed_or_running_job_snapshots_its_error_or_stage() {
        let failed = record(&[("id", "j"), ("status", "failed"), ("error", "unreadable")]);
        let update = failed.snapshot_update();
        assert_eq!(update.status, JobStatus::Failed);
        assert_eq!(update.error.as_deref(), Some("unreadable"));
        assert_eq!(update.result, None);
        let active = record(&[
            ("id", "j"),
            ("status", "active"),
            ("stage", "parsing"),
            ("progress", "30"),
            ("updatedAt", "7"),
        ]);
        let update = active.snapshot_update();
        assert_eq!(update.status, JobStatus::InProgress);
        assert_eq!(
            (update.stage, update.progress, update.timestamp),
            (Some(Stage::Parsing), 30, 7)
        );
    }

    #[test]
    fn empty_hash_is_no_job() {
        assert!(JobRecord::from_hash("q", HashMap::new()).is_none());
    }
}
