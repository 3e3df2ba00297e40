//! `GET /api/v1/sse/connect` on the transport's lean path, without the router: every
//! layer [`super::router`] puts around it, as a plain call, in the same order (the request's
//! span, its metrics, the header limit, `REQUEST_TIMEOUT`, authentication), then
//! [`super::stream::connect`]. Through the router, each layer is a service of its own with a
//! boxed future, and routing strips the `/api/v1` prefix: for a request that only opens a
//! stream, that was more of the gateway's CPU than the stream's own work.

use std::sync::OnceLock;
use std::time::Instant;

use axum::http::StatusCode;

use axum::extract::{FromRef, Query, Request, State};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::{AppState, observe, request_span, stream, timed_out};
use crate::auth::layer::Gate;
use crate::error::ApiError;
use crate::limits::client::PeerAddr;
use crate::transport::SocketHandle;

/// The route template the request is counted and traced under, as through the router.
pub(super) const ROUTE: &str = "/api/v1/sse/connect";

/// Serves a stream request (the transport sends only `GET /api/v1/sse/connect` here).
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let span = request_span::span_for(&request, ROUTE);
    let method = observe::method_label(request.method());
    let started = Instant::now();
    let response = checked(state, request).instrument(span.clone()).await;
    match (method, response.status()) {
        ("GET", StatusCode::OK) => opened_series().record(started),
        _ => observe::count(ROUTE.to_owned(), method, started, &response),
    }
    request_span::finish(&span, &response);
    response
}

/// The request series of a stream opened (`GET`, 200), looked up once, as
/// [`observe::count`] names them: every stream counts there.
struct OpenedSeries {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

impl OpenedSeries {
    fn record(&self, started: Instant) {
        self.requests.increment(1);
        self.duration.record(started.elapsed().as_secs_f64());
    }
}

fn opened_series() -> &'static OpenedSeries {
    static SERIES: OnceLock<OpenedSeries> = OnceLock::new();
    SERIES.get_or_init(|| {
        let (requests, duration) = observe::series(ROUTE.to_owned(), "GET", "200".to_owned());
        OpenedSeries { requests, duration }
    })
}

async fn checked(state: AppState, request: Request) -> Response {
    if let Err(error) = crate::limits::headers::check(&state.limits, &request) {
        return error.into_response();
    }
    let limit = state.settings.request_timeout;
    match tokio::time::timeout(limit, connect(state, request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => error.into_response(),
        Err(_) => timed_out(limit).into_response(),
    }
}

async fn connect(state: AppState, request: Request) -> Result<Response, ApiError> {
    let principal = Gate::from_ref(&state).admit(&request)?;
    let query = Query::try_from_uri(request.uri());
    let socket = request
        .extensions()
        .get::<SocketHandle>()
        .cloned()
        .map(axum::Extension);
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .copied()
        .map(axum::Extension);
    let (parts, _) = request.into_parts();
    stream::connect(State(state), principal, parts.headers, query, socket, peer).await
}

#[cfg(test)]
mod tests {
    /// The size of the future `f` returns.
    fn future_size<A, B, R>(_: fn(A, B) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    #[test]
    fn a_stream_requests_future_stays_small() {
        // Built for every stream request and moved into its box; the ways of opening it are
        // boxed apart (see `stream::boxed`).
        let size = future_size(super::serve as fn(_, _) -> _);
        assert!(size <= 4096, "a stream request's future is {size} bytes");
    }
}
