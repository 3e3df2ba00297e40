//! The one shape of the `POST /api/v1/queue/add` body: what the OpenAPI document describes and
//! what validation (`validate.rs`) fills before it becomes the job's payload and options.

use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, ToSchema)]
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

#[derive(Debug, ToSchema)]
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
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddJob {
    #[schema(example = "resume-analysis")]
    pub queue_name: String,
    #[schema(example = "analyze-resume")]
    pub job_name: String,
    pub data: JobData,
    pub opts: Option<JobOptionsBody>,
}
