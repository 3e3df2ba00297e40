//! Jobs: `POST /api/v1/queue/add` (the original body), `POST /api/v1/resumes` (multipart
//! upload), `GET /api/v1/jobs/{jobId}`, `GET /api/v1/jobs/{jobId}/result` and
//! `GET /api/v1/queues/{queueName}`; changing jobs and queues in [`control`], dead letters in
//! [`dead`], listings in [`listing`].

mod body;
pub mod control;
pub mod dead;
pub mod listing;
mod paging;
mod upload;
pub mod validate;

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use job_queue::{AddOutcome, CountsReporter, JobOptions, JobRecord, JobState, NewJob, Queue};
use progress_contract::channel::is_valid_name;
use progress_contract::events::{JobStatus, JobUpdate};
use progress_contract::jobs::{ResumeJobData, default_job_id};
use progress_contract::time::now_millis;
use serde_json::{Value, json};

use super::AppState;
use crate::access;
use crate::auth::Principal;
use crate::error::ApiError;

pub use crate::queues::Queues;
pub use upload::{__path_upload, resume_id_too_long, upload};

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
    request_body = validate::AddJob,
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
