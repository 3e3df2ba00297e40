//! Who may use which channel and job (`AUTH_MODE=jwt`; with `none` everything is allowed).
//!
//! - Queue and worker channels need the monitor role.
//! - A job belongs to the organisation in its hash (`organisationId`). Subscribing to a job
//!   that does not exist yet is allowed (clients subscribe before they submit, so they miss
//!   nothing), and *claims* the job id for the caller's organisation: `sse:job-org:{jobId}`,
//!   set once with `SET NX`. Adding a job takes the same claim, so an id claimed or owned by
//!   one organisation can be neither added nor watched by another.

use std::time::Duration;

use fred::prelude::{HashesInterface, KeysInterface};
use fred::types::{Expiration, SetOptions};
use progress_contract::{Channel, ChannelKind};

use crate::auth::Principal;
use crate::auth::principal::organisation_mismatch;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a claim on a job id that has no job yet is kept.
const CLAIM_TTL: Duration = Duration::from_secs(24 * 3600);

fn claim_key(job_id: &str) -> String {
    crate::keys::job_claim(job_id)
}

/// What is known about a job's owner.
#[derive(Debug, PartialEq, Eq)]
pub enum JobOwner {
    /// No such job.
    Unknown,
    /// The job exists; its organisation, if it has one.
    Job(Option<String>),
}

/// The organisation of job `job_id`, looked up in every configured queue.
pub async fn job_owner(state: &AppState, job_id: &str) -> Result<JobOwner, ApiError> {
    for (queue, _) in state.queues.queues.values() {
        let (id, organisation): (Option<String>, Option<String>) = state
            .client
            .hmget(queue.keys().job(job_id), vec!["id", "organisationId"])
            .await
            .map_err(|e| ApiError::redis("the job store is", e))?;
        if id.is_some() {
            return Ok(JobOwner::Job(organisation));
        }
    }
    Ok(JobOwner::Unknown)
}

/// Claims `job_id` for `organisation`; Err when another organisation holds the claim.
async fn claim(state: &AppState, job_id: &str, organisation: &str) -> Result<(), ApiError> {
    let seconds = i64::try_from(CLAIM_TTL.as_secs()).unwrap_or(i64::MAX);
    let previous: Option<String> = state
        .client
        .set(
            claim_key(job_id),
            organisation,
            Some(Expiration::EX(seconds)),
            Some(SetOptions::NX),
            true,
        )
        .await
        .map_err(|e| ApiError::redis("the job store is", e))?;
    match previous {
        Some(owner) if owner != organisation => Err(organisation_mismatch(
            "this job id is claimed by another organisation",
        )),
        _ => Ok(()),
    }
}

/// May `principal` watch (subscribe to, replay) job `job_id`? Claims it when it does not
/// exist yet.
pub async fn authorise_job_watch(
    state: &AppState,
    principal: &Principal,
    job_id: &str,
) -> Result<(), ApiError> {
    if principal.is_anonymous() {
        return Ok(());
    }
    let organisation = principal.require_organisation()?;
    if let JobOwner::Job(owner) = job_owner(state, job_id).await? {
        return principal.check_job_owner(owner.as_deref());
    }
    claim(state, job_id, organisation).await?;
    // The job may have been added between the two reads: its hash has the last word.
    match job_owner(state, job_id).await? {
        JobOwner::Job(owner) => principal.check_job_owner(owner.as_deref()),
        JobOwner::Unknown => Ok(()),
    }
}

/// May `principal` add a job with id `job_id` for `organisation` (already checked against
/// the token)? Claims the id first, so a watcher of another organisation cannot slip in.
pub async fn authorise_job_add(
    state: &AppState,
    principal: &Principal,
    job_id: &str,
) -> Result<(), ApiError> {
    if principal.is_anonymous() {
        return Ok(());
    }
    let organisation = principal.require_organisation()?;
    claim(state, job_id, organisation)
        .await
        .map_err(|_| taken())?;
    match job_owner(state, job_id).await? {
        JobOwner::Job(owner) if owner.as_deref() != Some(organisation) => Err(taken()),
        _ => Ok(()),
    }
}

fn taken() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "job_id_taken",
        "this job id is used by another organisation; choose another opts.jobId",
    )
}

/// May `principal` subscribe to `channel`?
pub async fn authorise_channel(
    state: &AppState,
    principal: &Principal,
    channel: &Channel,
) -> Result<(), ApiError> {
    if principal.is_anonymous() {
        return Ok(());
    }
    match channel.kind() {
        // Boxed: its Redis lookups are kilobytes of future, which every stream's open
        // (anonymous ones included) would otherwise carry and move.
        ChannelKind::Job => Box::pin(authorise_job_watch(state, principal, channel.id())).await,
        ChannelKind::Queue | ChannelKind::Worker => principal.require_monitor(),
    }
}
