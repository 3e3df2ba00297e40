//! The public HTTP API under `/api/v1`.
//!
//! - `stream`: `GET /sse/connect`, the SSE stream.
//! - `resume`: the same with `Last-Event-ID`: the session continued, what was missed replayed.
//! - `subscriptions`: subscribe/unsubscribe for jobs, queues and workers.
//! - [`stats`]: `GET /sse/stats` and `GET /sse/channels`.
//! - `publish`: broadcasts and custom events for one connection.
//! - `demo`: the demo page at `/`.
//! - [`jobs`]: job submission (JSON and upload), job state, queue counts.
//! - `observe`: request metrics middleware.
//! - `request_span`: request tracing middleware.
//! - [`openapi`]: the OpenAPI document; `schema`: the body shapes it describes.

mod demo;
pub mod jobs;
mod observe;
pub mod openapi;
mod publish;
mod request_span;
mod resume;
mod schema;
pub mod stats;
mod stream;
mod stream_direct;
mod subscriptions;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::routing::{delete, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;

pub use crate::queues::Queues;
pub use crate::state::{ApiSettings, AppState};
pub use crate::transport::SocketHandle;

/// The whole public router.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let upload_limit = state.queues.upload_max_bytes + 64 * 1024;
    let api = Router::new()
        .route("/sse/connect", get(stream::connect))
        .route("/sse/stats", get(stats::stats))
        .route("/sse/channels", get(stats::channels))
        .route("/sse/broadcast", post(publish::broadcast))
        .route(
            "/sse/{connection_id}/events",
            post(publish::send_to_connection),
        )
        .route(
            "/sse/{connection_id}/subscribe/{kind}/{id}",
            post(subscriptions::subscribe),
        )
        .route(
            "/sse/{connection_id}/unsubscribe/{kind}/{id}",
            post(subscriptions::unsubscribe),
        )
        .route("/publish", post(publish::publish_batch))
        .route("/publish/{kind}/{id}", post(publish::publish_one))
        .route("/queue/add", post(jobs::add))
        .route(
            "/resumes",
            post(jobs::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/jobs", get(jobs::listing::list))
        .route(
            "/jobs/{job_id}",
            get(jobs::get).delete(jobs::control::cancel),
        )
        .route("/jobs/{job_id}/result", get(jobs::result))
        .route("/jobs/{job_id}/retry", post(jobs::control::retry))
        .route("/queues/{queue_name}", get(jobs::counts))
        .route("/queues/{queue_name}/pause", post(jobs::control::pause))
        .route("/queues/{queue_name}/resume", post(jobs::control::resume))
        .route("/queues/{queue_name}/dead", get(jobs::dead::list))
        .route("/queues/{queue_name}/dead/retry", post(jobs::dead::retry))
        .route(
            "/queues/{queue_name}/dead/{job_id}",
            delete(jobs::dead::delete),
        )
        .route("/workers", get(jobs::workers))
        .route_layer(axum::middleware::from_fn_with_state(
            crate::auth::layer::Gate::from_ref(&state),
            crate::auth::layer::authenticate,
        ));
    Router::new()
        .route("/", get(demo::page))
        .route("/api/v1/openapi.json", get(openapi::document))
        .nest("/api/v1", api)
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            settings.request_timeout,
            time_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.limits.clone(),
            crate::limits::headers::limit,
        ))
        .layer(axum::middleware::from_fn(observe::record))
        .layer(axum::middleware::from_fn(request_span::trace))
        .layer(cors(&settings.cors_allowed_origins))
        .with_state(state)
}

/// What a connection that opens with `GET /api/v1/sse/connect` is served by (the
/// transport's lean path, see `transport/stream_http1.rs`): the same steps as through
/// [`router`], behind the same CORS layer, without a service per layer
/// ([`stream_direct::serve`]) and without routing: the transport sends only that route here.
/// The CORS service is shared, and copied for each request inside the request's own future,
/// so a stream's task never holds it.
pub fn stream_service(state: AppState) -> crate::transport::StreamService {
    use tower::{Layer, ServiceExt};
    let cors = cors(&state.settings.cors_allowed_origins);
    let service = cors.layer(tower::service_fn(move |request| {
        let state = state.clone();
        async move {
            let response = stream_direct::serve(axum::extract::State(state), request).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    }));
    std::sync::Arc::new(move |request| {
        let service = service.clone();
        Box::pin(async move {
            let response = service.oneshot(request).await;
            response.unwrap_or_else(|never| match never {})
        })
    })
}

/// `REQUEST_TIMEOUT` until the response starts (a stream's body is not cut), then 408 with
/// the usual JSON error.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(timed_out(limit)),
    }
}

fn timed_out(limit: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!("the request took longer than {limit:?}"),
    )
}

fn cors(origins: &str) -> CorsLayer {
    let any = origins.trim() == "*";
    let allow_origin = if any {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("last-event-id"),
        ])
        .max_age(Duration::from_secs(600))
        // Named origins may send cookies (a token in a cookie, EventSource `withCredentials`).
        .allow_credentials(!any)
}
