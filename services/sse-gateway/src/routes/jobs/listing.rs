//! `GET /api/v1/jobs`: the jobs of a queue, newest first, for dashboards.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use job_queue::{JobState, ListFilter};
use progress_contract::channel::is_valid_name;
use serde::Deserialize;
use serde_json::{Value, json};

use super::paging::{Page, bad_cursor};
use crate::auth::Principal;
use crate::auth::principal::organisation_mismatch;
use crate::error::ApiError;
use crate::routes::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    queue: Option<String>,
    state: Option<String>,
    organisation_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// The organisation whose jobs the caller sees: any (or all) with the monitor role or
/// `AUTH_MODE=none`, otherwise only the token's own.
fn organisation(principal: &Principal, asked: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(asked) = &asked
        && !is_valid_name(asked)
    {
        return Err(ApiError::bad_request(
            "invalid_name",
            "organisationId must be 1 to 256 characters from A-Z a-z 0-9 . _ : -",
        ));
    }
    if principal.monitor {
        return Ok(asked);
    }
    let own = principal.require_organisation()?;
    match asked {
        Some(other) if other != own => Err(organisation_mismatch(
            "organisationId differs from the token's organisation",
        )),
        _ => Ok(Some(own.to_owned())),
    }
}

fn state_filter(text: Option<&str>) -> Result<Option<JobState>, ApiError> {
    text.map(|text| {
        JobState::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_state",
                "state must be one of waiting, delayed, active, completed, failed, cancelled",
            )
        })
    })
    .transpose()
}

/// `GET /api/v1/jobs?queue=&state=&organisationId=&cursor=&limit=`.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    params(
        ("queue" = Option<String>, Query, description = "A queue of `QUEUES` (default: the first)"),
        ("state" = Option<String>, Query, description = "`waiting`, `delayed`, `active`, `completed`, `failed` or `cancelled`"),
        ("organisationId" = Option<String>, Query, description = "Only this organisation's jobs (with `AUTH_MODE=jwt`, the token's own unless it has the monitor role)"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size (default 50)"),
    ),
    responses((status = 200, description = "One page of jobs; `nextCursor` is null after the last (a page may be short before the end: a state filter looks at a bounded number of jobs per request)", body = crate::routes::schema::JobList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let page = Page {
        cursor: query.cursor,
        limit: query.limit,
    };
    let limit = page.limit()?;
    let filter = ListFilter {
        state: state_filter(query.state.as_deref())?,
        organisation_id: organisation(&principal, query.organisation_id)?,
    };
    let queue = match query.queue.as_deref() {
        Some(name) => state.queues.get(name)?,
        None => state.queues.default_queue()?,
    };
    let found = queue
        .0
        .list(&filter, page.cursor.as_deref(), limit)
        .await
        .map_err(|e| bad_cursor(e, "the job store is"))?;
    Ok(Json(json!({
        "queueName": queue.0.name(),
        "jobs": found.jobs,
        "nextCursor": found.next_cursor,
    })))
}
