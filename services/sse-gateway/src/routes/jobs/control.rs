//! Changing a job or a queue: `DELETE /api/v1/jobs/{jobId}` (cancel),
//! `POST /api/v1/jobs/{jobId}/retry`, `POST /api/v1/queues/{queueName}/pause|resume`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use job_queue::{CancelOutcome, CountsReporter, JobRecord, JobState, Queue, RetryOutcome};
use progress_contract::events::{JobStatus, JobUpdate};
use serde_json::{Value, json};

use super::locate_job;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::AppState;

/// The job's organisation may change its jobs; the publish role may change any job.
fn check_may_change(principal: &Principal, job: &JobRecord) -> Result<(), ApiError> {
    if principal.publish {
        return Ok(());
    }
    principal.check_job_owner(job.organisation_id.as_deref())
}

/// The final event of a job the gateway itself ended (it was waiting or delayed: no worker
/// holds it). A running job's final event comes from its worker.
pub(super) async fn publish_cancelled(state: &AppState, job: &JobRecord) {
    let mut update = job.snapshot_update();
    update.snapshot = false;
    update.status = JobStatus::Cancelled;
    update.message = Some("Analysis cancelled".into());
    update.timestamp = progress_contract::time::now_millis();
    if let Err(error) = state.publisher.publish_job_update(&update).await {
        tracing::warn!(%error, job.id = %job.job_id, "publishing the cancelled event failed");
    }
}

/// The `waiting` event of a job that runs again. It goes out before the job is queued again,
/// as for a new job, so the job's story never shows its worker starting before it.
pub(super) async fn publish_requeued(state: &AppState, job: &JobRecord) {
    let mut update =
        JobUpdate::new(&job.job_id, JobStatus::Waiting, 0).message("Queued for analysis again");
    let text = |key: &str| job.data.get(key).and_then(Value::as_str).map(str::to_owned);
    update.resume_id = text("resumeId");
    update.candidate_id = text("candidateId");
    if let Err(error) = state.publisher.publish_job_update(&update).await {
        tracing::warn!(%error, job.id = %job.job_id, "publishing the requeued event failed");
    }
}

fn job_finished(job: &JobRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "job_finished",
        format!(
            "job {:?} has {}; only waiting, delayed and active jobs can be cancelled",
            job.job_id,
            job.state.as_str()
        ),
    )
}

fn gone(job_id: &str) -> ApiError {
    ApiError::not_found(
        "job_not_found",
        format!("no job {job_id:?} (unknown, or expired after its retention)"),
    )
}

/// `DELETE /api/v1/jobs/{jobId}`: cancel.
#[utoipa::path(delete, path = "/api/v1/jobs/{jobId}", tag = "jobs",
    params(("jobId" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`")),
    responses(
        (status = 200, description = "Cancelled (it was waiting or delayed, or was cancelled already)", body = crate::routes::schema::JobChanged),
        (status = 202, description = "Running: its worker stops it at the next stage boundary (at once while parsing) and sends the final `cancelled` update", body = crate::routes::schema::JobChanged),
        (status = 409, description = "The job has completed or failed (`job_finished`)"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Path(job_id) = path?;
    let (queue, job) = locate_job(&state, &job_id).await?;
    check_may_change(&principal, &job)?;
    let outcome = queue
        .0
        .cancel(&job_id)
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    let changed = |job: &JobRecord, cancel_requested: bool| {
        json!({
            "jobId": job.job_id,
            "queueName": job.queue_name,
            "status": job.state.as_str(),
            "cancelRequested": cancel_requested,
        })
    };
    match outcome {
        CancelOutcome::Cancelled(job) => {
            publish_cancelled(&state, &job).await;
            queue.1.changed();
            Ok((StatusCode::OK, Json(changed(&job, false))))
        }
        CancelOutcome::AlreadyCancelled(job) => Ok((StatusCode::OK, Json(changed(&job, false)))),
        CancelOutcome::Requested(job) => Ok((StatusCode::ACCEPTED, Json(changed(&job, true)))),
        CancelOutcome::Finished(job) => Err(job_finished(&job)),
        CancelOutcome::NotFound => Err(gone(&job_id)),
    }
}

/// Runs a failed or cancelled job again; what `retry` and the dead-letter retry share.
pub(super) async fn requeue(
    state: &AppState,
    queue: &(Queue, CountsReporter),
    job: &JobRecord,
) -> Result<RetryOutcome, ApiError> {
    if matches!(job.state, JobState::Failed | JobState::Cancelled) {
        publish_requeued(state, job).await;
    }
    let outcome = queue
        .0
        .retry(&job.job_id)
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    if matches!(outcome, RetryOutcome::Requeued(_)) {
        queue.1.changed();
    }
    Ok(outcome)
}

pub(super) fn not_retryable(job: &JobRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "job_not_retryable",
        format!(
            "job {:?} is {}; only failed and cancelled jobs can be retried",
            job.job_id,
            job.state.as_str()
        ),
    )
}

pub(super) fn upload_gone(job: &JobRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "upload_gone",
        format!(
            "job {:?} analysed an uploaded file that is no longer kept (files are deleted when a job fails for good); upload it again as a new job",
            job.job_id
        ),
    )
}

/// `POST /api/v1/jobs/{jobId}/retry`.
#[utoipa::path(post, path = "/api/v1/jobs/{jobId}/retry", tag = "jobs",
    params(("jobId" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`")),
    responses(
        (status = 200, description = "Waiting again, with its attempts reset", body = crate::routes::schema::JobChanged),
        (status = 409, description = "The job is not failed or cancelled (`job_not_retryable`), or its uploaded file is gone (`upload_gone`)"),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(job_id) = path?;
    let (queue, job) = locate_job(&state, &job_id).await?;
    check_may_change(&principal, &job)?;
    match requeue(&state, queue, &job).await? {
        RetryOutcome::Requeued(job) => Ok(Json(json!({
            "jobId": job.job_id,
            "queueName": job.queue_name,
            "status": job.state.as_str(),
            "cancelRequested": false,
        }))),
        RetryOutcome::NotRetryable(job) => Err(not_retryable(&job)),
        RetryOutcome::FileGone(job) => Err(upload_gone(&job)),
        RetryOutcome::NotFound => Err(gone(&job_id)),
    }
}

async fn set_paused(
    state: &AppState,
    principal: &Principal,
    name: &str,
    paused: bool,
) -> Result<Json<Value>, ApiError> {
    principal.require_publish()?;
    let queue = state.queues.get(name)?;
    let result = if paused {
        queue.0.pause().await
    } else {
        queue.0.resume().await
    };
    result.map_err(|e| ApiError::redis("the job store is", e))?;
    queue.1.changed();
    Ok(Json(json!({ "queueName": name, "paused": paused })))
}

/// `POST /api/v1/queues/{queueName}/pause`: workers take no new jobs; running ones finish.
#[utoipa::path(post, path = "/api/v1/queues/{queueName}/pause", tag = "jobs",
    params(("queueName" = String, Path, description = "A queue of `QUEUES`")),
    responses((status = 200, description = "Paused (idempotent)", body = crate::routes::schema::QueuePaused)))]
pub async fn pause(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = path?;
    set_paused(&state, &principal, &name, true).await
}

/// `POST /api/v1/queues/{queueName}/resume`.
#[utoipa::path(post, path = "/api/v1/queues/{queueName}/resume", tag = "jobs",
    params(("queueName" = String, Path, description = "A queue of `QUEUES`")),
    responses((status = 200, description = "Taking jobs again (idempotent)", body = crate::routes::schema::QueuePaused)))]
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = path?;
    set_paused(&state, &principal, &name, false).await
}
