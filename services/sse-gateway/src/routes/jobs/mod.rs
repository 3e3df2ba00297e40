//! Jobs: `POST /api/v1/queue/add` (the original body), `POST /api/v1/resumes` (multipart
//! upload), `GET /api/v1/jobs/{jobId}`, `GET /api/v1/jobs/{jobId}/result` and
//! `GET /api/v1/queues/{queueName}`; changing jobs and queues in [`control`], dead letters in
//! [`dead`], listings in [`listing`].

pub mod control;
pub mod dead;
pub mod listing;
mod paging;
pub mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use job_queue::{
    AddOutcome, CountsReporter, JobOptions, JobRecord, JobState, NewJob, Queue, StoreOutcome,
    WorkerRegistry,
};
use progress_contract::channel::is_valid_name;
use progress_contract::events::{JobStatus, JobUpdate};
use progress_contract::jobs::{ResumeJobData, default_job_id};
use progress_contract::time::now_millis;
use serde_json::{Value, json};

use super::AppState;
use crate::access;
use crate::auth::Principal;
use crate::error::{ApiError, FieldError};

/// The queues this gateway accepts jobs for.
pub struct Queues {
    pub registry: WorkerRegistry,
    pub queues: BTreeMap<String, (Queue, CountsReporter)>,
    pub upload_max_bytes: usize,
    /// Per organisation, bytes of uploads waiting for analysis.
    pub upload_max_pending_bytes: u64,
    pub upload_ttl: Duration,
}

/// The usage bucket of uploads without an organisation.
const NO_ORGANISATION: &str = "-";

impl Queues {
    fn get(&self, name: &str) -> Result<&(Queue, CountsReporter), ApiError> {
        self.queues.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.queues.keys().map(String::as_str).collect();
            ApiError::not_found(
                "queue_not_found",
                format!(
                    "no queue named {name:?}; known queues: {}",
                    known.join(", ")
                ),
            )
        })
    }

    fn default_queue(&self) -> Result<&(Queue, CountsReporter), ApiError> {
        self.queues
            .values()
            .next()
            .ok_or_else(|| ApiError::not_found("queue_not_found", "no queue is configured"))
    }
}

async fn enqueue(
    state: &AppState,
    queue: &(Queue, CountsReporter),
    job_id: &str,
    job_name: String,
    data: &ResumeJobData,
    options: &JobOptions,
) -> Result<AddOutcome, ApiError> {
    let job = NewJob {
        name: job_name,
        data: serde_json::to_value(data)
            .map_err(|e| ApiError::unprocessable("invalid_fields", e.to_string()))?,
        organisation_id: data.organisation_id.clone(),
        // The request's span (a child of any incoming `traceparent`): the worker's job span
        // continues it.
        traceparent: service_runtime::telemetry::current_traceparent(),
    };
    // The `waiting` update goes out before the job is enqueued: a worker may start the job at
    // once, and the job's story (its history, what a late subscriber is sent) must begin with
    // it. An existing job gets none (adding it again changes nothing).
    let exists = queue
        .0
        .exists(job_id)
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    if !exists {
        let mut update =
            JobUpdate::new(job_id, JobStatus::Waiting, 0).message("Queued for analysis");
        update.resume_id = Some(data.resume_id.clone());
        update.candidate_id = data.candidate_id.clone();
        update.traceparent = job.traceparent.clone();
        if let Err(error) = state.publisher.publish_job_update(&update).await {
            tracing::warn!(%error, job.id = job_id, "publishing the queued event failed");
        }
    }
    let outcome = queue
        .0
        .add(job_id, &job, options)
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    if outcome.created {
        queue.1.changed();
    }
    Ok(outcome)
}

fn added(outcome: &AddOutcome, queue: &str) -> (StatusCode, Json<Value>) {
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(json!({
            "jobId": outcome.job_id,
            "queueName": queue,
            "status": outcome.state.as_str(),
            "duplicate": !outcome.created,
        })),
    )
}

/// `POST /api/v1/queue/add`.
#[utoipa::path(post, path = "/api/v1/queue/add", tag = "jobs",
    request_body = crate::routes::schema::AddJob,
    responses(
        (status = 201, description = "Queued", body = crate::routes::schema::JobAdded),
        (status = 200, description = "A job with this `opts.jobId` exists; nothing queued", body = crate::routes::schema::JobAdded),
    ))]
pub async fn add(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let mut request = validate::add_request(&body).map_err(ApiError::invalid_fields)?;
    request.data.organisation_id =
        principal.organisation_for_new_job(request.data.organisation_id.as_deref())?;
    let queue = state.queues.get(&request.queue_name)?;
    let job_id = request
        .options
        .job_id
        .clone()
        .unwrap_or_else(|| default_job_id(&request.data.resume_id, now_millis()));
    access::authorise_job_add(&state, &principal, &job_id).await?;
    let outcome = enqueue(
        &state,
        queue,
        &job_id,
        request.job_name,
        &request.data,
        &request.options,
    )
    .await?;
    Ok(added(&outcome, &request.queue_name))
}

/// `POST /api/v1/resumes`: multipart with a `file` part and optional `resumeId`,
/// `candidateId`, `organisationId`, `requiredSkills` (comma-separated), `jobDescription`,
/// `queueName`, `jobId`.
#[utoipa::path(post, path = "/api/v1/resumes", tag = "jobs",
    request_body(content = crate::routes::schema::ResumeUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored and queued", body = crate::routes::schema::JobAdded),
        (status = 200, description = "A job with this `jobId` exists; nothing queued", body = crate::routes::schema::JobAdded),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut multipart =
        multipart.map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
    let mut file: Option<(Vec<u8>, Option<String>, Option<String>)> = None;
    let mut text = BTreeMap::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().map(str::to_owned);
            let mime = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(multipart_error)?;
            if bytes.len() > state.queues.upload_max_bytes {
                return Err(too_large(state.queues.upload_max_bytes));
            }
            file = Some((bytes.to_vec(), file_name, mime));
        } else {
            let value = field.text().await.map_err(multipart_error)?;
            text.insert(name, value);
        }
    }
    let mut errors = Vec::new();
    let Some((bytes, file_name, mime_type)) = file else {
        return Err(ApiError::invalid_fields(vec![FieldError::new(
            "file",
            "is required",
        )]));
    };
    if bytes.is_empty() {
        errors.push(FieldError::new("file", "is empty"));
    }
    let mut name_field = |key: &str| -> Option<String> {
        let value = text
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())?;
        if is_valid_name(&value) {
            Some(value)
        } else {
            errors.push(FieldError::new(key, "must use only A-Z a-z 0-9 . _ : -"));
            None
        }
    };
    let resume_id = name_field("resumeId");
    let organisation_id = name_field("organisationId");
    let job_id = name_field("jobId");
    let queue_name = name_field("queueName");
    if resume_id
        .as_ref()
        .is_some_and(|id| id.len() > progress_contract::jobs::MAX_RESUME_ID_LEN)
    {
        errors.push(FieldError::new("resumeId", resume_id_too_long()));
    }
    let candidate_id = text.get("candidateId").cloned().filter(|v| !v.is_empty());
    // Copied into every event of the job: the same bounds as the JSON body's fields.
    for (field, value, max) in [
        (
            "candidateId",
            candidate_id.as_deref(),
            validate::MAX_CANDIDATE_ID,
        ),
        (
            "file.filename",
            file_name.as_deref(),
            validate::MAX_FILE_NAME,
        ),
        (
            "file.contentType",
            mime_type.as_deref(),
            validate::MAX_MIME_TYPE,
        ),
    ] {
        if value.is_some_and(|v| v.chars().count() > max) {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    }
    let job_description = text
        .get("jobDescription")
        .cloned()
        .filter(|v| !v.trim().is_empty());
    if job_description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 20_000)
    {
        errors.push(FieldError::new(
            "jobDescription",
            "must be at most 20000 characters",
        ));
    }
    let required_skills: Vec<String> = text
        .get("requiredSkills")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if required_skills.len() > 100 || required_skills.iter().any(|s| s.len() > 64) {
        errors.push(FieldError::new(
            "requiredSkills",
            "at most 100 skills of up to 64 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let organisation_id = principal.organisation_for_new_job(organisation_id.as_deref())?;
    let queue = match &queue_name {
        Some(name) => state.queues.get(name)?,
        None => state.queues.default_queue()?,
    };
    let resume_id = resume_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let job_id = job_id.unwrap_or_else(|| default_job_id(&resume_id, now_millis()));
    access::authorise_job_add(&state, &principal, &job_id).await?;
    let data = ResumeJobData {
        resume_id,
        candidate_id,
        organisation_id,
        file_url: None,
        file_name,
        mime_type,
        required_skills,
        job_description,
        uploaded: true,
    };
    // A job with this id exists already: adding it again changes nothing, its file included
    // (the queued job must not be analysed with another document than the one it was given).
    let existing = queue
        .0
        .get(&job_id)
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    if let Some(job) = existing {
        let outcome = AddOutcome {
            job_id,
            state: job.state,
            created: false,
        };
        return Ok(added(&outcome, queue.0.name()));
    }
    // The file is stored before the job exists, so a worker never sees a job without its file.
    let cap = state.queues.upload_max_pending_bytes;
    if bytes.len() as u64 > cap {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload_quota_exceeded",
            format!(
                "the upload is larger than the organisation's limit of {cap} bytes waiting for analysis"
            ),
        ));
    }
    let bucket = data.organisation_id.as_deref().unwrap_or(NO_ORGANISATION);
    let stored = queue
        .0
        .store_file_within(bucket, &job_id, bytes, state.queues.upload_ttl, cap)
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    if let StoreOutcome::OverQuota { pending } = stored {
        return Err(ApiError::too_many(
            "upload_quota_exceeded",
            format!(
                "the organisation has {pending} bytes of uploads waiting for analysis; the limit is {cap} bytes; retry once some have been analysed"
            ),
            30,
        ));
    }
    let outcome = enqueue(
        &state,
        queue,
        &job_id,
        "analyze-resume".into(),
        &data,
        &JobOptions::default(),
    )
    .await?;
    Ok(added(&outcome, queue.0.name()))
}

/// What a too long `resumeId` is told.
pub fn resume_id_too_long() -> String {
    format!(
        "must be at most {} characters (the default job id, resume-<resumeId>-<time>, is at most 256)",
        progress_contract::jobs::MAX_RESUME_ID_LEN
    )
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("the upload exceeds the limit of {limit} bytes"),
    )
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    let status = error.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "file_too_large", error.body_text())
    } else {
        ApiError::new(status, "invalid_multipart", error.body_text())
    }
}

/// The job `job_id` and the queue holding it, whoever asks.
async fn locate_job<'a>(
    state: &'a AppState,
    job_id: &str,
) -> Result<(&'a (Queue, CountsReporter), JobRecord), ApiError> {
    if !is_valid_name(job_id) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "jobId must be 1 to 256 characters from A-Z a-z 0-9 . _ : -",
        ));
    }
    for queue in state.queues.queues.values() {
        if let Some(job) = queue
            .0
            .get(job_id)
            .await
            .map_err(|e| ApiError::redis("the job store is", e))?
        {
            return Ok((queue, job));
        }
    }
    Err(ApiError::not_found(
        "job_not_found",
        format!("no job {job_id:?} (unknown, or expired after its retention)"),
    ))
}

/// The job `job_id` of any configured queue, if the caller may see it.
async fn find_job(
    state: &AppState,
    principal: &Principal,
    job_id: &str,
) -> Result<JobRecord, ApiError> {
    let (_, job) = locate_job(state, job_id).await?;
    principal.check_job_owner(job.organisation_id.as_deref())?;
    Ok(job)
}

/// `GET /api/v1/jobs/{jobId}`.
#[utoipa::path(get, path = "/api/v1/jobs/{jobId}", tag = "jobs",
    params(("jobId" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`")),
    responses((status = 200, description = "The job", body = crate::routes::schema::Job)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(job_id) = path?;
    let job = find_job(&state, &principal, &job_id).await?;
    Ok(Json(json!(job)))
}

/// `GET /api/v1/jobs/{jobId}/result`: the full result of a completed job (its `completed`
/// event carries a bounded summary and this path as `resultUrl`).
#[utoipa::path(get, path = "/api/v1/jobs/{jobId}/result", tag = "jobs",
    params(("jobId" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`")),
    responses(
        (status = 200, description = "The full result", body = crate::routes::schema::JobResult),
        (status = 409, description = "The job has not completed (`result_not_ready`, or `job_failed` with its error)"),
    ))]
pub async fn result(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(job_id) = path?;
    let job = find_job(&state, &principal, &job_id).await?;
    match (job.state, job.result) {
        (JobState::Completed, Some(result)) => Ok(Json(json!({
            "jobId": job.job_id,
            "status": "completed",
            "result": result,
        }))),
        (JobState::Failed, _) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "job_failed",
            format!(
                "job {job_id:?} failed ({}): {}",
                job.error_code.as_deref().unwrap_or("error"),
                job.error.as_deref().unwrap_or("no detail")
            ),
        )),
        (other, _) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "result_not_ready",
            format!(
                "job {job_id:?} is {}; its result exists once it has completed",
                other.as_str()
            ),
        )),
    }
}

/// `GET /api/v1/queues/{queueName}`: counts by state.
#[utoipa::path(get, path = "/api/v1/queues/{queueName}", tag = "monitoring",
    params(("queueName" = String, Path, description = "A queue of `QUEUES`")),
    responses((status = 200, description = "Counts", body = crate::routes::schema::QueueCounts)))]
pub async fn counts(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require_monitor()?;
    let Path(name) = path?;
    let (queue, _) = state.queues.get(&name)?;
    let counts = queue
        .counts()
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    Ok(Json(json!({
        "queueName": name,
        "timestamp": now_millis(),
        "waiting": counts.waiting,
        "active": counts.active,
        "completed": counts.completed,
        "failed": counts.failed,
        "delayed": counts.delayed,
        "cancelled": counts.cancelled,
        "paused": counts.paused,
    })))
}

/// `GET /api/v1/workers`: live workers and their last `worker_status`.
#[utoipa::path(get, path = "/api/v1/workers", tag = "monitoring",
    responses((status = 200, description = "Live workers", body = crate::routes::schema::Workers)))]
pub async fn workers(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require_monitor()?;
    // Entries live three heartbeats; the index is pruned at a generous bound.
    let workers = state
        .queues
        .registry
        .list(Duration::from_secs(300))
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    Ok(Json(
        json!({ "totalWorkers": workers.len(), "workers": workers }),
    ))
}
