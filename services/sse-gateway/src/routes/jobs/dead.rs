//! Dead letters of a queue: `GET /api/v1/queues/{queueName}/dead` (monitor role),
//! `POST /api/v1/queues/{queueName}/dead/retry` and
//! `DELETE /api/v1/queues/{queueName}/dead/{jobId}` (publish role).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use job_queue::RetryOutcome;
use progress_contract::channel::is_valid_name;
use serde::Deserialize;
use serde_json::{Value, json};

use super::control::requeue;
use super::paging::{Page, bad_cursor};
use crate::auth::Principal;
use crate::error::{ApiError, FieldError};
use crate::routes::AppState;

/// Most job ids one retry request may name, and most dead letters `{"all": true}` retries
/// in one request (call again for the rest).
pub const MAX_RETRY_BATCH: usize = 1000;

/// `GET /api/v1/queues/{queueName}/dead`: newest first.
#[utoipa::path(get, path = "/api/v1/queues/{queueName}/dead", tag = "monitoring",
    params(
        ("queueName" = String, Path, description = "A queue of `QUEUES`"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size (default 50)"),
    ),
    responses((status = 200, description = "One page of dead letters", body = crate::routes::schema::DeadLetters)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require_monitor()?;
    let Path(name) = path?;
    let Query(page) = query?;
    let limit = page.limit()?;
    let queue = state.queues.get(&name)?;
    let found = queue
        .0
        .dead_letters(page.cursor.as_deref(), limit)
        .await
        .map_err(|e| bad_cursor(e, "the job store is"))?;
    Ok(Json(json!({
        "queueName": name,
        "jobs": found.jobs,
        "nextCursor": found.next_cursor,
    })))
}

/// The body of a dead-letter retry: some jobs, or all of them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBody {
    job_ids: Option<Vec<String>>,
    #[serde(default)]
    all: bool,
}

fn retry_targets(body: &RetryBody) -> Result<Option<&[String]>, ApiError> {
    match (&body.job_ids, body.all) {
        (Some(_), true) | (None, false) => Err(ApiError::invalid_fields(vec![FieldError::new(
            "jobIds",
            "give either jobIds (a list of job ids) or \"all\": true",
        )])),
        (None, true) => Ok(None),
        (Some(ids), false) => {
            let mut errors = Vec::new();
            if ids.is_empty() || ids.len() > MAX_RETRY_BATCH {
                errors.push(FieldError::new(
                    "jobIds",
                    format!("must name 1 to {MAX_RETRY_BATCH} jobs"),
                ));
            }
            for (index, id) in ids.iter().enumerate().take(MAX_RETRY_BATCH) {
                if !is_valid_name(id) {
                    errors.push(FieldError::new(
                        format!("jobIds[{index}]"),
                        "must be 1 to 256 characters from A-Z a-z 0-9 . _ : -",
                    ));
                }
            }
            if errors.is_empty() {
                Ok(Some(ids))
            } else {
                Err(ApiError::invalid_fields(errors))
            }
        }
    }
}

/// `POST /api/v1/queues/{queueName}/dead/retry`: `{"jobIds": [...]}` or `{"all": true}`.
#[utoipa::path(post, path = "/api/v1/queues/{queueName}/dead/retry", tag = "jobs",
    params(("queueName" = String, Path, description = "A queue of `QUEUES`")),
    request_body = crate::routes::schema::DeadRetry,
    responses((status = 200, description = "What was queued again and what was skipped (not a dead letter of this queue)", body = crate::routes::schema::DeadRetried)))]
pub async fn retry(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<RetryBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require_publish()?;
    let Path(name) = path?;
    let Json(body) = body?;
    let targets = retry_targets(&body)?;
    let queue = state.queues.get(&name)?;
    let ids: Vec<String> = match targets {
        Some(ids) => ids.to_vec(),
        None => queue
            .0
            .dead_letters(None, MAX_RETRY_BATCH)
            .await
            .map_err(|e| ApiError::redis("the job store is", e))?
            .jobs
            .into_iter()
            .map(|dead| dead.job_id)
            .collect(),
    };
    let mut retried = Vec::new();
    let mut skipped = Vec::new();
    for job_id in ids {
        let job = queue
            .0
            .get(&job_id)
            .await
            .map_err(|e| ApiError::redis("the job store is", e))?;
        let outcome = match &job {
            Some(job) if job.state == job_queue::JobState::Failed => {
                requeue(&state, queue, job).await?
            }
            Some(job) => RetryOutcome::NotRetryable(job.clone()),
            None => RetryOutcome::NotFound,
        };
        match outcome {
            RetryOutcome::Requeued(_) => retried.push(job_id),
            RetryOutcome::NotRetryable(job) => skipped.push(json!({
                "jobId": job_id,
                "reason": format!("job is {}, not a dead letter", job.state.as_str()),
            })),
            RetryOutcome::FileGone(_) => skipped.push(json!({
                "jobId": job_id,
                "reason": "its uploaded file is no longer kept; upload it again as a new job",
            })),
            RetryOutcome::NotFound => skipped.push(json!({
                "jobId": job_id,
                "reason": "no such job in this queue",
            })),
        }
    }
    Ok(Json(json!({
        "queueName": name,
        "retried": retried,
        "skipped": skipped,
    })))
}

/// `DELETE /api/v1/queues/{queueName}/dead/{jobId}`: the dead letter and its job record.
#[utoipa::path(delete, path = "/api/v1/queues/{queueName}/dead/{jobId}", tag = "jobs",
    params(
        ("queueName" = String, Path, description = "A queue of `QUEUES`"),
        ("jobId" = String, Path, pattern = "^[A-Za-z0-9._:-]{1,256}$", description = "1–256 of `A-Z a-z 0-9 . _ : -`"),
    ),
    responses(
        (status = 200, description = "Deleted", body = crate::routes::schema::DeadDeleted),
        (status = 404, description = "Not a dead letter of this queue (`dead_letter_not_found`)"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require_publish()?;
    let Path((name, job_id)) = path?;
    let queue = state.queues.get(&name)?;
    if !is_valid_name(&job_id) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "jobId must be 1 to 256 characters from A-Z a-z 0-9 . _ : -",
        ));
    }
    let deleted = queue
        .0
        .delete_dead(&job_id)
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    if !deleted {
        return Err(ApiError::not_found(
            "dead_letter_not_found",
            format!("job {job_id:?} is not a dead letter of queue {name:?}"),
        ));
    }
    queue.1.changed();
    Ok(Json(
        json!({ "queueName": name, "jobId": job_id, "deleted": true }),
    ))
}
