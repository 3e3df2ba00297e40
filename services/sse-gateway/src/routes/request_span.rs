//! One span per HTTP request, named by method and route template, continuing the caller's
//! trace when the request carries a W3C `traceparent` header. For a stream the span ends when
//! the response starts, not when the stream closes.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::field::Empty;
use tracing::{Instrument, Span};

pub async fn trace(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = span_for(&request, &route);
    let response = next.run(request).instrument(span.clone()).await;
    finish(&span, &response);
    response
}

/// The span of `request` to `route`, continuing the caller's trace.
pub fn span_for(request: &Request, route: &str) -> Span {
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    let incoming = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .filter(|value| service_runtime::telemetry::is_traceparent(value));
    service_runtime::telemetry::continue_trace(&span, incoming);
    span
}

/// Records the status `response` answers with.
pub fn finish(span: &Span, response: &Response) {
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}
