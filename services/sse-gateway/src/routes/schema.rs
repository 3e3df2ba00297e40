//! Shapes of the request and response bodies, for the OpenAPI document (see [`super::openapi`]).
//! The handlers build these bodies; the schemathesis run in CI checks that every answer
//! matches its shape here.

#![allow(dead_code)] // Read by the OpenAPI derive only.

use serde_json::Value;
use utoipa::ToSchema;

/// The kinds of channel.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    Job,
    Queue,
    Worker,
}

/// Every error: a stable code and a message (422 also names each invalid field).
#[derive(ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (see docs/api.md).
    pub code: String,
    pub message: String,
    pub fields: Option<Vec<FieldProblem>>,
}

#[derive(ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// A custom event: a name (1–64 of `A-Z a-z 0-9 _ . : -`, not a built-in one) and any JSON.
#[derive(ToSchema)]
#[schema(as = CustomEvent)]
pub struct CustomEventBody {
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$", example = "announcement")]
    pub event: String,
    pub data: Option<Value>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub accepted: bool,
    /// Gateway pods that received it.
    pub pods: u64,
    pub connection_id: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionResult {
    pub success: bool,
    pub connection_id: String,
    /// `job:{id}`, `queue:{name}` or `worker:{id}`.
    pub channel: String,
    /// False when it was already so.
    pub changed: bool,
    /// The pod holding the stream.
    pub pod: String,
    /// The stream is held by another pod; the change was forwarded to it.
    pub forwarded: Option<bool>,
    /// Whether the owner pod was reached (else the change applies when the stream resumes).
    pub delivered: Option<bool>,
}

/// One event to publish on a channel.
#[derive(ToSchema)]
pub struct BatchEvent {
    #[schema(example = "job:123")]
    pub channel: String,
    pub data: Value,
}

#[derive(ToSchema)]
pub struct PublishBatch {
    /// 1 to 100 events, published in order; none if any is invalid.
    pub events: Vec<BatchEvent>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub channel: String,
    /// Position in the channel's history (a Redis stream id).
    pub event_id: String,
    pub pods: Option<u64>,
}

#[derive(ToSchema)]
pub struct PublishedBatch {
    pub published: Vec<Published>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobData {
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,256}$")]
    pub resume_id: String,
    pub candidate_id: Option<String>,
    /// With `AUTH_MODE=jwt` it must be the token's organisation (or be left out).
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,256}$")]
    pub organisation_id: Option<String>,
    /// `http` or `https`; fetched by the worker with SSRF protection.
    #[schema(example = "https://example.com/resume.pdf")]
    pub file_url: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub required_skills: Option<Vec<String>>,
    pub job_description: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobOptionsBody {
    /// A caller-chosen id makes the add idempotent.
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,256}$")]
    pub job_id: Option<String>,
    #[schema(minimum = 1, maximum = 20)]
    pub attempts: Option<u32>,
    /// First retry delay in ms, or `{"type":"exponential","delay":ms}`.
    pub backoff: Option<Value>,
    #[schema(minimum = 0)]
    pub delay: Option<u64>,
    /// Order inside the job's organisation: 0 (the default, first) to 1000 (last); lower runs
    /// sooner, as in BullMQ. Organisations share the workers whatever their priorities.
    #[schema(minimum = 0, maximum = 1000)]
    pub priority: Option<u32>,
}

/// The original `queue/add` body.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddJob {
    #[schema(example = "resume-analysis")]
    pub queue_name: String,
    #[schema(example = "analyze-resume")]
    pub job_name: String,
    pub data: JobData,
    pub opts: Option<JobOptionsBody>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAdded {
    pub job_id: String,
    pub queue_name: String,
    pub status: String,
    /// True when a job with this id existed already (nothing was enqueued).
    pub duplicate: bool,
}

/// `multipart/form-data` of `POST /resumes`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResumeUpload {
    /// PDF, DOCX, text or Markdown.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
    pub resume_id: Option<String>,
    pub candidate_id: Option<String>,
    pub organisation_id: Option<String>,
    /// Comma-separated.
    pub required_skills: Option<String>,
    pub job_description: Option<String>,
    pub queue_name: Option<String>,
    pub job_id: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub queue_name: String,
    pub name: String,
    /// `waiting`, `delayed`, `active`, `completed`, `failed` or `cancelled`.
    pub state: String,
    pub stage: Option<String>,
    pub progress: u8,
    pub attempts: u32,
    pub max_attempts: u32,
    pub data: Value,
    pub result: Option<Value>,
    pub error: Option<String>,
    /// Machine-readable kind of `error` (`document_too_large`, `parse_timeout`, `corrupt`, …).
    pub error_code: Option<String>,
    /// Times the job was taken over from a worker that stopped while running it.
    pub reclaims: Option<u32>,
    pub organisation_id: Option<String>,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    pub updated_at: Option<u64>,
    pub delay_until: Option<u64>,
    pub worker: Option<String>,
}

/// `GET /api/v1/jobs/{jobId}/result`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    pub job_id: String,
    /// Always `completed`.
    pub status: String,
    /// The whole analysis: `document`, `profile`, `analysis`, `stages`.
    pub result: Value,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    pub queue_name: String,
    pub timestamp: u64,
    pub waiting: u64,
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub delayed: u64,
    pub cancelled: u64,
    /// Workers take no new jobs while paused.
    pub paused: bool,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    pub worker_id: String,
    pub timestamp: u64,
    /// `active`, `idle` or `paused`.
    pub status: String,
    pub current_job: Option<String>,
    pub concurrency: u32,
    pub active_jobs: Option<u32>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workers {
    pub total_workers: u64,
    pub workers: Vec<Worker>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodCounts {
    pub pod: String,
    pub total_connections: u64,
    pub total_job_subscriptions: u64,
    pub total_queue_subscriptions: u64,
    pub total_worker_subscriptions: u64,
    pub draining: bool,
    pub timestamp: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub connection_id: String,
    pub connected_at: u64,
    pub jobs: Vec<String>,
    pub queues: Vec<String>,
    pub workers: Vec<String>,
    pub queued_events: u64,
}

/// Cluster totals (the original fields), per pod, and this pod's streams.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub total_connections: u64,
    pub total_job_subscriptions: u64,
    pub total_queue_subscriptions: u64,
    pub total_worker_subscriptions: u64,
    pub pod: String,
    pub pods: Vec<PodCounts>,
    pub connections: Vec<ConnectionInfo>,
}

#[derive(ToSchema)]
pub struct ChannelInfo {
    pub channel: String,
    pub kind: String,
    pub subscribers: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Channels {
    pub pod: String,
    pub total_channels: u64,
    pub channels: Vec<ChannelInfo>,
    pub redis_subscriptions: Vec<String>,
}

/// A job after cancel or retry.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobChanged {
    pub job_id: String,
    pub queue_name: String,
    /// The job's state now: `cancelled`, `waiting`, or `active` while its worker stops it.
    pub status: String,
    /// True while a running job's worker has yet to stop it.
    pub cancel_requested: bool,
}

/// A queue's pause state.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuePaused {
    pub queue_name: String,
    pub paused: bool,
}

/// `GET /api/v1/jobs`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobList {
    pub queue_name: String,
    pub jobs: Vec<Job>,
    /// Pass as `cursor` for the next page; null after the last.
    pub next_cursor: Option<String>,
}

/// One dead letter: a job that failed its last attempt.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub job_id: String,
    pub name: String,
    pub error: String,
    /// Machine-readable kind of `error`.
    pub code: String,
    pub attempts: u32,
    /// Milliseconds since the epoch.
    pub failed_at: u64,
    pub organisation_id: Option<String>,
}

/// `GET /api/v1/queues/{queueName}/dead`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetters {
    pub queue_name: String,
    pub jobs: Vec<DeadLetter>,
    /// Pass as `cursor` for the next page; null after the last.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/queues/{queueName}/dead/retry`: either `jobIds` or `"all": true`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadRetry {
    /// 1 to 1000 job ids.
    pub job_ids: Option<Vec<String>>,
    /// Retry every dead letter (up to 1000 per request; call again for the rest).
    pub all: Option<bool>,
}

/// A skipped job of a dead-letter retry.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadSkipped {
    pub job_id: String,
    pub reason: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadRetried {
    pub queue_name: String,
    pub retried: Vec<String>,
    pub skipped: Vec<DeadSkipped>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadDeleted {
    pub queue_name: String,
    pub job_id: String,
    pub deleted: bool,
}
