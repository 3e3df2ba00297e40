//! Event payloads. Every event is one JSON object with a `type` field naming it; the SSE
//! event name is that same word. Field names and values follow the original design's
//! "Event Formats" exactly; fields it did not have are optional additions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channel::{Channel, ChannelKind};
use crate::time::now_millis;

/// Events published by workers on `job:`, `queue:` and `worker:` channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    JobUpdate(JobUpdate),
    QueueUpdate(QueueUpdate),
    WorkerStatus(WorkerStatus),
}

/// The `traceparent` a published event carries, found without parsing the whole event (the
/// gateway's hot path). `None` when absent or not a plain 55-character value.
pub fn embedded_traceparent(payload: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"traceparent\":\"";
    let start = payload.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let value = payload.get(start..start + 55)?;
    if payload.get(start + 55) != Some(&b'"')
        || !value.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-')
    {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// Lifecycle of a job as seen by the browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted and queued (an addition to the original four).
    Waiting,
    Started,
    InProgress,
    /// Failed this attempt; will run again after a backoff (an addition).
    Retrying,
    Completed,
    Failed,
    /// Stopped at a user's or operator's request (an addition); final like completed and failed.
    Cancelled,
}

impl JobStatus {
    /// Completed, failed and cancelled are final: never coalesced, never followed by more
    /// progress.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "waiting",
            JobStatus::Started => "started",
            JobStatus::InProgress => "in_progress",
            JobStatus::Retrying => "retrying",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

/// Analysis stages, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Initializing,
    Fetching,
    Parsing,
    Extracting,
    Analyzing,
    Storing,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Initializing,
        Stage::Fetching,
        Stage::Parsing,
        Stage::Extracting,
        Stage::Analyzing,
        Stage::Storing,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Initializing => "initializing",
            Stage::Fetching => "fetching",
            Stage::Parsing => "parsing",
            Stage::Extracting => "extracting",
            Stage::Analyzing => "analyzing",
            Stage::Storing => "storing",
        }
    }
}

/// `job_update`: progress of one job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobUpdate {
    pub job_id: String,
    pub timestamp: u64,
    pub status: JobStatus,
    /// 0–100.
    pub progress: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_id: Option<String>,
    /// Present when completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Present when failed (or retrying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Machine-readable kind of `error` (an addition), one of [`crate::failure_codes`] or a
    /// document reader's code: `corrupt`, `encrypted`, `no_text`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Where the full result is, when completed (an addition): `result` then carries a
    /// bounded [`crate::summary::ResultSummary`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
    /// 1-based attempt number (an addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// W3C trace context of the work that produced this update (an addition): the gateway's
    /// delivery span continues this trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// True on the one update a subscriber gets in place of a history that no longer reaches
    /// the job's start: the job's current state, read from its record (an addition).
    #[serde(default, skip_serializing_if = "is_false")]
    pub snapshot: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl JobUpdate {
    pub fn new(job_id: impl Into<String>, status: JobStatus, progress: u8) -> Self {
        Self {
            job_id: job_id.into(),
            timestamp: now_millis(),
            status,
            progress: progress.min(100),
            stage: None,
            message: None,
            resume_id: None,
            candidate_id: None,
            result: None,
            error: None,
            error_code: None,
            result_url: None,
            attempt: None,
            traceparent: None,
            snapshot: false,
        }
    }

    pub fn stage(mut self, stage: Stage) -> Self {
        self.stage = Some(stage);
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// `queue_update`: counts of one queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueUpdate {
    pub queue_name: String,
    pub timestamp: u64,
    pub waiting: u64,
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub delayed: u64,
    /// Jobs cancelled since the queue was created (an addition, left out while 0 so the
    /// original design's event is unchanged).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cancelled: u64,
    /// Workers take no new jobs from a paused queue (an addition, left out while false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// Worker activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    Active,
    Idle,
    Paused,
}

/// `worker_status`: one worker's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    pub worker_id: String,
    pub timestamp: u64,
    pub status: WorkerState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_job: Option<String>,
    pub concurrency: u32,
    /// Jobs running now (an addition; `currentJob` names one of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_jobs: Option<u32>,
}

/// Events the gateway itself writes to a stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    Connected(Connected),
    Subscribed(SubscriptionChange),
    Unsubscribed(SubscriptionChange),
    Heartbeat(Heartbeat),
    Closing(Closing),
    Resync(Resync),
}

impl StreamEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Connected(_) => "connected",
            StreamEvent::Subscribed(_) => "subscribed",
            StreamEvent::Unsubscribed(_) => "unsubscribed",
            StreamEvent::Heartbeat(_) => "heartbeat",
            StreamEvent::Closing(_) => "closing",
            StreamEvent::Resync(_) => "resync",
        }
    }
}

/// `connected`: the first event of every stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    pub connection_id: String,
    pub timestamp: u64,
    /// Milliseconds between heartbeats.
    pub heartbeat_interval: u64,
    /// Channels the stream is subscribed to (`?jobs=…&queues=…&workers=…`, or the resumed
    /// session's).
    #[serde(default)]
    pub channels: Vec<String>,
    /// True when this stream continues an earlier one (same `connectionId`, missed events
    /// replayed).
    #[serde(default)]
    pub resumed: bool,
}

/// `resync`: events of these channels were missed and are no longer in history; the app
/// should refetch their state (e.g. `GET /api/v1/jobs/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resync {
    pub channels: Vec<String>,
    pub timestamp: u64,
}

/// `subscribed` / `unsubscribed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionChange {
    /// `job`, `queue` or `worker`.
    pub kind: String,
    /// The Redis channel, e.g. `job:123`.
    pub channel: String,
    pub timestamp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
}

impl SubscriptionChange {
    pub fn for_channel(channel: &Channel) -> Self {
        let id = Some(channel.id().to_owned());
        let (job_id, queue_name, worker_id) = match channel.kind() {
            ChannelKind::Job => (id, None, None),
            ChannelKind::Queue => (None, id, None),
            ChannelKind::Worker => (None, None, id),
        };
        Self {
            kind: channel.kind().as_str().to_owned(),
            channel: channel.redis_name(),
            timestamp: now_millis(),
            job_id,
            queue_name,
            worker_id,
        }
    }
}

/// `heartbeat`: keeps proxies from closing an idle stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub timestamp: u64,
}

/// `closing`: the server is ending the stream; the client should reconnect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Closing {
    /// `shutdown` or `slow_consumer`.
    pub reason: String,
    pub message: String,
    /// Suggested delay before reconnecting, in milliseconds.
    pub retry_after_ms: u64,
}

/// A broadcast or a custom event for one connection, as carried on the gateway's own
/// channels (`sse:broadcast`, `sse:events`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomEvent {
    /// SSE event name.
    pub event: String,
    /// Event data: any JSON value.
    pub data: Value,
    /// Target connection; absent for broadcasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
}

/// Names a custom event may not take: they would impersonate the gateway's own events or
/// collide with EventSource's built-in `error`, `open` and `message`.
pub const RESERVED_EVENT_NAMES: &[&str] = &[
    "connected",
    "resync",
    "subscribed",
    "unsubscribed",
    "heartbeat",
    "closing",
    "job_update",
    "queue_update",
    "worker_status",
    "error",
    "open",
    "message",
];

/// True when `name` is a usable custom event name: 1–64 of `[A-Za-z0-9_.:-]`, not reserved.
pub fn is_valid_custom_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
        && !RESERVED_EVENT_NAMES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_update_has_the_original_fields() {
        let mut update = JobUpdate::new("resume-123-1699267200000", JobStatus::InProgress, 50)
            .stage(Stage::Parsing)
            .message("Parsing resume content");
        update.timestamp = 1_699_267_200_000;
        update.resume_id = Some("resume-123".into());
        update.candidate_id = Some("candidate-456".into());
        let value = serde_json::to_value(ProgressEvent::JobUpdate(update)).unwrap();
        assert_eq!(
            value,
            json!({
                "type": "job_update",
                "jobId": "resume-123-1699267200000",
                "timestamp": 1_699_267_200_000u64,
                "status": "in_progress",
                "progress": 50,
                "stage": "parsing",
                "message": "Parsing resume content",
                "resumeId": "resume-123",
                "candidateId": "candidate-456"
            })
        );
    }

    #[test]
    fn queue_and_worker_events_round_trip() {
        let queue = json!({"type":"queue_update","queueName":"resume-analysis","timestamp":1,
            "waiting":5,"active":2,"completed":100,"failed":3,"delayed":1});
        let parsed: ProgressEvent = serde_json::from_value(queue.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), queue);

        let worker = json!({"type":"worker_status","workerId":"worker-1","timestamp":1,
            "status":"active","currentJob":"job-123","concurrency":5});
        let parsed: ProgressEvent = serde_json::from_value(worker.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), worker);
    }

    #[test]
    fn subscription_change_names_the_target() {
        let change = SubscriptionChange::for_channel(&Channel::queue("q1").unwrap());
        let value = serde_json::to_value(StreamEvent::Subscribed(change)).unwrap();
        assert_eq!(value["type"], "subscribed");
        assert_eq!(value["kind"], "queue");
        assert_eq!(value["channel"], "queue:q1");
        assert_eq!(value["queueName"], "q1");
        assert!(value.get("jobId").is_none());
    }

    #[test]
    fn custom_event_names() {
        assert!(is_valid_custom_event_name("announcement"));
        assert!(is_valid_custom_event_name("billing.updated"));
        assert!(!is_valid_custom_event_name("job_update"));
        assert!(!is_valid_custom_event_name("error"));
        assert!(!is_valid_custom_event_name("two words"));
        assert!(!is_valid_custom_event_name("line\nbreak"));
        assert!(!is_valid_custom_event_name(""));
    }

    #[test]
    fn terminal_statuses() {
        assert!(JobStatus::Completed.is_terminal());
        assert!(JobStatus::Failed.is_terminal());
        assert!(JobStatus::Cancelled.is_terminal());
        assert!(!JobStatus::InProgress.is_terminal());
    }

    #[test]
    fn the_traceparent_of_an_event_is_found_without_parsing_it() {
        let mut update = JobUpdate::new("job-1", JobStatus::InProgress, 40);
        let json = serde_json::to_string(&ProgressEvent::JobUpdate(update.clone())).unwrap();
        assert_eq!(embedded_traceparent(json.as_bytes()), None);
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        update.traceparent = Some(traceparent.into());
        let json = serde_json::to_string(&ProgressEvent::JobUpdate(update)).unwrap();
        assert_eq!(embedded_traceparent(json.as_bytes()), Some(traceparent));
        assert_eq!(embedded_traceparent(br#"{"traceparent":"00-short"}"#), None);
        assert_eq!(
            embedded_traceparent(
                br#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n"}"#
            ),
            None
        );
    }
}
