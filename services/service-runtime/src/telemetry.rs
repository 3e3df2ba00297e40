//! Logs and traces.
//!
//! - Logs: `RUST_LOG` filters, `LOG_FORMAT` picks JSON or pretty lines; every line written
//!   inside a span carries that span's `trace_id` and `span_id`.
//! - Traces: OpenTelemetry, configured by the standard `OTEL_*` variables. Spans go to an
//!   OTLP collector only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set;
//!   without one, spans still get ids (for logs and for the `traceparent` handed on to the
//!   next service) but are not exported. A collector that is down costs dropped spans, never
//!   a failed request.
//! - Context: W3C `traceparent` strings, carried with jobs and with published events.

mod format;
mod otel;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

pub use otel::ExportSettings;

/// The installed tracer provider; flush it with [`Telemetry::shutdown`] before exiting.
#[must_use = "call shutdown() before the process exits, or buffered spans are lost"]
pub struct Telemetry {
    provider: SdkTracerProvider,
    export: ExportSettings,
}

impl Telemetry {
    /// Where spans go (for the start-up log line and tests).
    pub fn export(&self) -> &ExportSettings {
        &self.export
    }

    /// Exports what is buffered, waiting at most `timeout` (a collector that is down must
    /// not hold up the exit). Runs off the async threads.
    pub async fn shutdown(self, timeout: Duration) {
        let provider = self.provider;
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(timeout)).await;
        if let Ok(Err(error)) = flushed {
            tracing::debug!(%error, "flushing traces at shutdown failed");
        }
    }
}

/// Whether spans leave the process (set by [`init`]).
static EXPORTED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported to a collector. Spans that matter only as a trace (not as the
/// context of a log line or of a `traceparent` handed on) can be skipped when they are not.
pub fn spans_exported() -> bool {
    EXPORTED.load(Ordering::Relaxed)
}

/// Installs the global subscriber (logs + traces) and the W3C propagator. Call once, inside
/// the tokio runtime, before anything logs; `service` names the process in traces unless
/// `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` says otherwise.
pub fn init(service: &'static str, format: LogFormat, default_filter: &str) -> Telemetry {
    let (provider, export, problem) = otel::provider(service);
    EXPORTED.store(export != ExportSettings::Off, Ordering::Relaxed);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, service);
    // `RUST_LOG` filters log lines only: traces keep the product's spans whatever the log level.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let log_level = filter.max_level_hint();
    let registry = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // No `busy_ns`/`idle_ns` per span: they cost a clock read and a lock on every
            // poll of every traced future, and say nothing a span's duration does not.
            .with_tracked_inactivity(false)
            // Nor an OpenTelemetry context made current on every poll of every traced future:
            // a span's parent is found from the tracing span tree, and what is handed on
            // (`traceparent_of`) is read from the span itself.
            .with_context_activation(false)
            .with_filter(filter_fn(traced)),
    );
    let ids = format::TraceIds::default();
    let result = match format {
        LogFormat::Json => registry
            .with(format::json_layer(ids.clone()).with_filter(filter))
            .try_init(),
        LogFormat::Pretty => registry
            .with(format::pretty_layer(ids.clone()).with_filter(filter))
            .try_init(),
    };
    match result {
        Ok(()) => {
            ids.bind_current();
            cap_library_logs(log_level);
        }
        Err(_) => tracing::debug!("logging was already initialised"),
    }
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
    tracing::info!(traces = %export, "telemetry ready");
    Telemetry { provider, export }
}

/// Libraries that log through the `log` crate (the Redis client logs every frame it reads)
/// have their records dropped at the call site when `RUST_LOG` wants none of that level.
/// Without this the cap is the trace layer's, which has no level (it picks the product's
/// own spans by name), so every such record was built and then filtered out.
fn cap_library_logs(level: Option<tracing::level_filters::LevelFilter>) {
    use tracing::level_filters::LevelFilter;
    let Some(level) = level else { return };
    log::set_max_level(match level {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
}

/// What becomes part of a trace: the product's own spans (info and above), and warnings and
/// errors logged inside them (as span events). Library internals stay out.
fn traced(metadata: &tracing::Metadata<'_>) -> bool {
    const PRODUCT: [&str; 6] = [
        "sse_gateway",
        "resume_worker",
        "job_queue",
        "progress_contract",
        "service_runtime",
        "safe_fetch",
    ];
    let ours = PRODUCT.iter().any(|krate| {
        metadata
            .target()
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    let level = *metadata.level();
    ours && if metadata.is_span() {
        level <= tracing::Level::INFO
    } else {
        level <= tracing::Level::WARN
    }
}

/// Installs logging only (tools and tests that export no traces).
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let ids = format::TraceIds::default();
    let result = match format {
        LogFormat::Json => registry.with(format::json_layer(ids)).try_init(),
        LogFormat::Pretty => registry.with(format::pretty_layer(ids)).try_init(),
    };
    if result.is_err() {
        tracing::debug!("logging was already initialised");
    }
}

/// The `traceparent` of the current span, to hand on with a job or an event; `None` outside
/// any sampled span.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The `traceparent` of `span`.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.traceparent
}

/// Makes `span` a child of the remote context in `traceparent` (from a request header, a
/// job or an event). An absent or malformed value leaves `span` a root.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = Carrier {
        traceparent: Some(traceparent.to_owned()),
    };
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        // Fails only when the span is disabled or already started; then it stays a root.
        let _ = span.set_parent(context);
    }
}

/// A one-field text map: `traceparent` is all the W3C propagator needs (no `tracestate`
/// is carried across the queue).
#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
}

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.traceparent = Some(value);
        }
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent")
            .then_some(self.traceparent.as_deref())
            .flatten()
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// Whether `value` has the shape of a W3C `traceparent` (version 00).
pub fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 4
        && parts[0] == "00"
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3].len() == 2
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        && parts[1].bytes().any(|b| b != b'0')
        && parts[2].bytes().any(|b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_shape() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent("00-4bf92f3577b34da6-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("garbage"));
    }

    #[test]
    fn a_span_continues_a_remote_trace_and_hands_it_on() {
        let provider = SdkTracerProvider::builder().build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "test");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::with_default(subscriber, || {
            let remote = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            let span = tracing::info_span!("child");
            continue_trace(&span, Some(remote));
            let handed_on = span.in_scope(current_traceparent).unwrap();
            assert!(is_traceparent(&handed_on));
            assert!(handed_on.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
            assert!(!handed_on.contains("00f067aa0ba902b7"), "a new span id");

            let root = tracing::info_span!("root");
            continue_trace(&root, Some("not a traceparent"));
            let own = traceparent_of(&root).unwrap();
            assert!(!own.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
        });
    }
}
