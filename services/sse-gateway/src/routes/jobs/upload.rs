//! `POST /api/v1/resumes`: a résumé uploaded as a file, stored for the worker and queued.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use job_queue::{AddOutcome, JobOptions, StoreOutcome};
use progress_contract::channel::is_valid_name;
use progress_contract::jobs::{ResumeJobData, default_job_id};
use progress_contract::time::now_millis;
use serde_json::Value;

use super::{AppState, NO_ORGANISATION, added, enqueue, validate};
use crate::access;
use crate::auth::Principal;
use crate::error::{ApiError, FieldError};

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
