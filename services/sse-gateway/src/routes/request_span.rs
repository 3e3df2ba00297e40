//! One span per HTTP request, named by method and route template, continuing the caller's
//! trace when the request carries a W3C `traceparent` header. For a stream the span ends when
//! the response starts, not when the stream closes, and it is made only when spans are
//! exported: nothing hands a stream's open on to another service, so without a collector its
//! span would be work for every open (a tenth of an open's CPU in the gateway's own code)
//! that nobody reads.

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

/// The span of `request` to `route`, continuing the caller's trace; none for a stream's open
/// when spans are not exported (see the module's comment).
pub fn span_for(request: &Request, route: &str) -> Span {
    if route == super::stream_direct::ROUTE && !service_runtime::telemetry::spans_exported() {
        return Span::none();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Request {
        Request::builder()
            .uri(path)
            .body(axum::body::Body::empty())
            .expect("a valid request")
    }

    #[test]
    fn a_streams_open_has_no_span_while_spans_are_not_exported() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            assert!(!service_runtime::telemetry::spans_exported());
            let stream = span_for(&request("/api/v1/sse/connect"), "/api/v1/sse/connect");
            assert!(stream.is_none(), "a stream's open is not traced");
            let add = span_for(&request("/api/v1/queue/add"), "/api/v1/queue/add");
            assert!(
                !add.is_disabled(),
                "other requests keep their span (for logs and the traceparent handed on)"
            );
        });
    }
}
