//! The process-wide Prometheus recorder. Installed once; every later call returns the same
//! handle, so several applications built in one test process share it.
//!
//! A scrape renders, in order: the values a service reads at scrape time (its [`Collect`]
//! sources, such as a queue's depth in Redis), the recorder's metrics, and the standard
//! `process_*` metrics (see [`crate::process`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Buckets for latencies measured in seconds, from 0.5 ms to 30 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets for durations of work measured in seconds, from 10 ms to 10 min. Used by every
/// `worker_*` histogram: a job or stage fetches and parses documents, which takes far longer
/// than serving a request.
pub const WORK_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Installs the recorder (first call) and returns the handle that renders `/metrics`.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                // Prefix matchers are tried before suffix matchers.
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Prefix("worker_".into()), WORK_BUCKETS)
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

/// Periodically drains histogram buffers so rendering stays cheap.
pub async fn run_upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

/// How long one [`Collect`] source may take before a scrape goes on without it.
pub const COLLECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A source of values that are read rather than counted (a queue's depth in Redis), refreshed
/// right before each scrape renders.
pub trait Collect: Send + Sync + 'static {
    fn collect(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The `/metrics` body: refreshes `sources` (each bounded by [`COLLECT_TIMEOUT`]; one that
/// times out keeps its previous values), then renders the recorder and the process metrics.
pub async fn render(handle: &PrometheusHandle, sources: &[Arc<dyn Collect>]) -> String {
    for source in sources {
        if tokio::time::timeout(COLLECT_TIMEOUT, source.collect())
            .await
            .is_err()
        {
            tracing::warn!("a metrics source did not answer in time; its values are stale");
        }
    }
    let mut text = handle.render();
    crate::process::render(&mut text);
    text
}

/// Records the `build_info` gauge that dashboards join on.
pub fn record_build_info(service: &'static str, version: &'static str) {
    metrics::describe_gauge!(
        "build_info",
        "Always 1; labels name the service and its version."
    );
    metrics::gauge!("build_info", "service" => service, "version" => version).set(1.0);
}
