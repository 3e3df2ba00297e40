//! The admin server: liveness, readiness and Prometheus metrics, on its own port so that
//! probes and scrapes never compete with public traffic and are never exposed by the Service
//! that routes browsers.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Collect;

/// One named readiness check and its current state.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Answers "can this process take traffic now?".
pub trait Readiness: Send + Sync + 'static {
    fn checks(&self) -> Vec<Check>;
}

#[derive(Clone)]
struct AdminState {
    readiness: Arc<dyn Readiness>,
    metrics: PrometheusHandle,
    sources: Arc<[Arc<dyn Collect>]>,
}

/// Builds the admin router. `sources` are refreshed before every scrape.
pub fn router(
    readiness: Arc<dyn Readiness>,
    metrics: PrometheusHandle,
    sources: Vec<Arc<dyn Collect>>,
) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(AdminState {
            readiness,
            metrics,
            sources: sources.into(),
        })
}

/// Serves the admin router until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn livez() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let checks = state.readiness.checks();
    let ready = checks.iter().all(|check| check.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": checks,
    });
    (status, axum::Json(body)).into_response()
}

async fn render_metrics(State(state): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&state.metrics, &state.sources).await,
    )
        .into_response()
}

/// Installs the metrics recorder, records `build_info`, and serves the admin router and the
/// metrics upkeep until `shutdown`. Both services start their admin side this way; `sources`
/// are values the service reads at scrape time.
pub fn start(
    listener: TcpListener,
    readiness: Arc<dyn Readiness>,
    service: &'static str,
    version: &'static str,
    sources: Vec<Arc<dyn Collect>>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let handle = crate::metrics::install();
    crate::metrics::record_build_info(service, version);
    tokio::spawn(crate::metrics::run_upkeep(handle.clone(), shutdown.clone()));
    tokio::spawn(serve(
        listener,
        router(readiness, handle, sources),
        shutdown,
    ))
}
