//! `MAX_HEADER_BYTES`: requests whose headers are larger in total get 431 with a JSON error.
//! (hyper refuses far larger ones itself before they reach the router.)

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Limits;
use crate::error::ApiError;

/// Bytes of the header names and values, as sent.
pub fn header_bytes(request: &Request) -> usize {
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

pub async fn limit(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    if let Err(error) = check(&limits, &request) {
        return error.into_response();
    }
    next.run(request).await
}

/// 431 when `request`'s headers are larger than `MAX_HEADER_BYTES`.
pub fn check(limits: &Limits, request: &Request) -> Result<(), ApiError> {
    let max = limits.max_header_bytes;
    if header_bytes(request) > max {
        super::count_rejection("headers_too_large");
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request's headers exceed {max} bytes"),
        ));
    }
    Ok(())
}
