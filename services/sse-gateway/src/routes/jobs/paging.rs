//! Query parameters of the paged listings (jobs, dead letters).

use job_queue::QueueError;
use serde::Deserialize;

use crate::error::ApiError;

/// Page size when none is asked for, and the largest one allowed.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;

#[derive(Debug, Deserialize)]
pub struct Page {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

impl Page {
    /// The page size asked for: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when absent.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit.as_deref() {
            None => Ok(DEFAULT_PAGE),
            Some(text) => match text.parse::<usize>() {
                Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
                _ => Err(ApiError::bad_request(
                    "invalid_limit",
                    format!("limit must be an integer from 1 to {MAX_PAGE}"),
                )),
            },
        }
    }
}

/// A cursor the store did not make is the caller's mistake; anything else is the store's.
pub fn bad_cursor(error: QueueError, what: &str) -> ApiError {
    match error {
        QueueError::BadCursor => ApiError::bad_request(
            "invalid_cursor",
            "cursor must be the nextCursor of an earlier page of this listing",
        ),
        other => ApiError::redis(what, other),
    }
}
