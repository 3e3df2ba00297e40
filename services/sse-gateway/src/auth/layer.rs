//! Middleware on every `/api/v1` route (the OpenAPI document excepted): authenticates the
//! request, rate-limits POSTs per subject, and attaches the [`Principal`](super::Principal) for the handlers.
//! With `AUTH_MODE=none` it attaches the anonymous principal and checks nothing.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::limits::Limits;

/// What the middleware needs: who the caller is, and the POST rate per subject.
#[derive(Clone)]
pub struct Gate {
    pub auth: Arc<Auth>,
    pub limits: Arc<Limits>,
}

pub async fn authenticate(State(state): State<Gate>, mut request: Request, next: Next) -> Response {
    let principal =
        match state
            .auth
            .authenticate(request.method(), request.headers(), request.uri().query())
        {
            Ok(principal) => principal,
            Err(error) => return error.into_response(),
        };
    if request.method() == Method::POST
        && let Some(subject) = principal.subject.as_deref()
        && let Err(wait) = state.limits.rate.check(subject, Instant::now())
    {
        crate::limits::count_rejection("rate_limited");
        return ApiError::too_many(
            "rate_limited",
            "too many requests; slow down and retry after the time in Retry-After",
            wait.as_secs_f64().ceil().max(1.0) as u64,
        )
        .into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}
