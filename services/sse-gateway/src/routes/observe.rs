//! Request count and latency by route template (never by raw path, which would carry ids).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics as m;

pub async fn record(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    count(route, method, started, &response);
    response
}

/// Counts a request to `route` answered by `response`, started at `started`.
pub fn count(route: String, method: &'static str, started: Instant, response: &Response) {
    let status = response.status().as_u16().to_string();
    let (requests, duration) = series(route, method, status);
    requests.increment(1);
    duration.record(started.elapsed().as_secs_f64());
}

/// The request counter and the duration histogram of `route`, `method` and `status`.
pub fn series(
    route: String,
    method: &'static str,
    status: String,
) -> (metrics::Counter, metrics::Histogram) {
    (
        metrics::counter!(m::HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.clone()),
        metrics::histogram!(m::HTTP_DURATION, "route" => route, "status" => status),
    )
}

/// The method as a label; any other method a client makes up counts as `other`, so requests
/// cannot create series at will.
pub fn method_label(method: &Method) -> &'static str {
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        .into_iter()
        .find(|known| method.as_str() == *known)
        .unwrap_or("other")
}
