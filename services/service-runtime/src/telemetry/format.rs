//! Log line formats. Both add the OpenTelemetry `trace_id` and `span_id` of the span an
//! event happened in, so a log line leads to its trace and back.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt;
use tracing::dispatcher::WeakDispatch;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// One JSON object per line: the event's fields flattened, the current span, and the ids.
pub fn json_layer<S>(ids: TraceIds) -> impl tracing_subscriber::Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(JsonWithIds {
            inner: tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
            ids,
        })
}

/// `time LEVEL span{fields}: target: message fields trace_id=… span_id=…`.
pub fn pretty_layer<S>(ids: TraceIds) -> impl tracing_subscriber::Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(DefaultFields::new())
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .event_format(Pretty { ids })
}

/// Finds the OpenTelemetry ids of a span. Formatting runs inside the dispatcher, where the
/// current dispatcher cannot be asked for, so it is bound once the subscriber is installed.
#[derive(Clone, Default)]
pub struct TraceIds(Arc<OnceLock<WeakDispatch>>);

impl TraceIds {
    /// Binds the current default dispatcher (call right after installing the subscriber).
    pub fn bind_current(&self) {
        let _ = self.0.set(tracing::dispatcher::get_default(
            tracing::Dispatch::downgrade,
        ));
    }

    /// The ids of the span the event belongs to, as lowercase hex.
    fn of<S, N>(&self, ctx: &FmtContext<'_, S, N>) -> Option<(String, String)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'w> FormatFields<'w> + 'static,
    {
        let span = ctx.parent_span()?;
        let dispatch = self.0.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
        let otel_span = context.span();
        let ids = otel_span.span_context();
        ids.is_valid()
            .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
    }
}

struct JsonWithIds {
    inner: Format<Json>,
    ids: TraceIds,
}

impl<S, N> FormatEvent<S, N> for JsonWithIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = self.ids.of(ctx) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            None => writer.write_str(&line),
        }
    }
}

struct Pretty {
    ids: TraceIds,
}

impl<S, N> FormatEvent<S, N> for Pretty
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        let paint = |code: &'static str| if ansi { code } else { "" };
        let reset = paint("\x1b[0m");
        let dim = paint("\x1b[2m");
        write!(writer, "{dim}")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "{reset} ")?;
        let level = *event.metadata().level();
        let colour = match level {
            Level::ERROR => paint("\x1b[31m"),
            Level::WARN => paint("\x1b[33m"),
            Level::INFO => paint("\x1b[32m"),
            Level::DEBUG => paint("\x1b[34m"),
            Level::TRACE => paint("\x1b[35m"),
        };
        write!(writer, "{colour}{level:>5}{reset} ")?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_str(": ")?;
            }
        }
        write!(writer, "{dim}{}:{reset} ", event.metadata().target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        if let Some((trace_id, span_id)) = self.ids.of(ctx) {
            write!(writer, " {dim}trace_id={trace_id} span_id={span_id}{reset}")?;
        }
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn capture(json: bool, body: impl FnOnce()) -> String {
        let lines = Lines::default();
        let provider = SdkTracerProvider::builder().build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "test");
        let writer = lines.clone();
        let make = move || writer.clone();
        let registry =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        let ids = TraceIds::default();
        let run = || {
            ids.bind_current();
            body();
        };
        if json {
            let subscriber = registry.with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonWithIds {
                        inner: tracing_subscriber::fmt::format()
                            .json()
                            .flatten_event(true)
                            .with_current_span(true)
                            .with_span_list(false),
                        ids: ids.clone(),
                    })
                    .with_writer(make),
            );
            tracing::subscriber::with_default(subscriber, run);
        } else {
            let subscriber = registry.with(
                tracing_subscriber::fmt::layer()
                    .event_format(Pretty { ids: ids.clone() })
                    .with_ansi(false)
                    .with_writer(make),
            );
            tracing::subscriber::with_default(subscriber, run);
        }
        lines.text()
    }

    fn log_in_and_out_of_a_span() {
        tracing::info!(outside = 1, "before");
        let span = tracing::info_span!("job", job.id = "j-1");
        span.in_scope(|| tracing::info!(stage = "parsing", "inside"));
    }

    #[test]
    fn json_lines_carry_the_span_ids_inside_a_span_only() {
        let text = capture(true, log_in_and_out_of_a_span);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "before");
        assert!(lines[0].get("trace_id").is_none());
        assert_eq!(lines[1]["message"], "inside");
        assert_eq!(lines[1]["stage"], "parsing");
        assert_eq!(lines[1]["span"]["job.id"], "j-1");
        let trace_id = lines[1]["trace_id"].as_str().unwrap();
        let span_id = lines[1]["span_id"].as_str().unwrap();
        assert_eq!(trace_id.len(), 32);
        assert_eq!(span_id.len(), 16);
        assert!(trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn pretty_lines_carry_the_span_ids_inside_a_span_only() {
        let text = capture(false, log_in_and_out_of_a_span);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("INFO") && lines[0].contains("before outside=1"));
        assert!(!lines[0].contains("trace_id="));
        assert!(lines[1].contains("job{job.id=\"j-1\"}: "), "{}", lines[1]);
        assert!(
            lines[1].contains("inside stage=\"parsing\""),
            "{}",
            lines[1]
        );
        let trace = lines[1].split("trace_id=").nth(1).unwrap();
        assert_eq!(trace.split(' ').next().unwrap().len(), 32);
        assert!(lines[1].contains(" span_id="));
    }
}
