//! Middleware on every `/api/v1` route (the OpenAPI document excepted): authenticates the
//! request, rate-limits POSTs per subject, and attaches the [`Principal`](super::Principal) for the handlers.
//! With `AUTH_MODE=none` it attaches the anonymous principal and checks nothing.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{Auth, Principal};
use crate::error::ApiError;
use crate::limits::Limits;

/// What the middleware needs: who the caller is, and the POST rate per subject.
#[derive(Clone)]
pub struct Gate {
    pub auth: Arc<Auth>,
    pub limits: Arc<Limits>,
}

pub async fn authenticate(State(state): State<Gate>, mut request: Request, next: Next) -> Response {
    match state.admit(&request) {
        Ok(principal) => request.extensions_mut().insert(principal),
        Err(error) => return error.into_response(),
    };
    next.run(request).await
}

impl Gate {
    /// Authenticates `request` and rate-limits it if it is a POST: who the caller is.
    pub fn admit(&self, request: &Request) -> Result<Principal, ApiError> {
        let principal =
            self.auth
                .authenticate(request.method(), request.headers(), request.uri().query())?;
        if request.method() == Method::POST
            && let Some(subject) = principal.subject.as_deref()
            && let Err(wait) = self.limits.rate.check(subject, Instant::now())
        {
            crate::limits::count_rejection("rate_limited");
            return Err(ApiError::too_many(
                "rate_limited",
                "too many requests; slow down and retry after the time in Retry-After",
                wait.as_secs_f64().ceil().max(1.0) as u64,
            ));
        }
        Ok(principal)
    }
}
