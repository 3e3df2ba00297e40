//! The tracer provider, from the standard `OTEL_*` variables.
//!
//! Read here: `OTEL_TRACES_EXPORTER` (`otlp` or `none`), `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`
//! and `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (`grpc` or `http/protobuf`). Read by the SDK
//! and the exporter themselves: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_[TRACES_]{TIMEOUT,HEADERS}`.

use std::fmt;

use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Where spans are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportSettings {
    /// No endpoint configured (or `OTEL_TRACES_EXPORTER=none`): spans are not exported.
    Off,
    Grpc {
        endpoint: String,
    },
    HttpProtobuf {
        endpoint: String,
    },
}

impl fmt::Display for ExportSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportSettings::Off => f.write_str("not exported (no OTLP endpoint set)"),
            ExportSettings::Grpc { endpoint } => write!(f, "OTLP gRPC to {endpoint}"),
            ExportSettings::HttpProtobuf { endpoint } => {
                write!(f, "OTLP http/protobuf to {endpoint}")
            }
        }
    }
}

impl ExportSettings {
    /// Decides from the environment (`lookup` is `std::env::var` outside tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let pick = |specific: &str, general: &str| {
            lookup(specific)
                .filter(|v| !v.trim().is_empty())
                .or_else(|| lookup(general).filter(|v| !v.trim().is_empty()))
                .map(|v| v.trim().to_owned())
        };
        if let Some(exporter) = lookup("OTEL_TRACES_EXPORTER") {
            match exporter.trim() {
                "none" => return Ok(ExportSettings::Off),
                "otlp" | "" => {}
                other => {
                    return Err(format!(
                        "OTEL_TRACES_EXPORTER={other} is not supported (use otlp or none); traces are not exported"
                    ));
                }
            }
        }
        let Some(endpoint) = pick(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ) else {
            return Ok(ExportSettings::Off);
        };
        let protocol = pick(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        );
        match protocol.as_deref() {
            None | Some("http/protobuf") => Ok(ExportSettings::HttpProtobuf { endpoint }),
            Some("grpc") => Ok(ExportSettings::Grpc { endpoint }),
            Some(other) => Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported (use grpc or http/protobuf); traces are not exported"
            )),
        }
    }
}

/// Builds the provider; the third value is a configuration problem to log once logging is up.
pub fn provider(service: &'static str) -> (SdkTracerProvider, ExportSettings, Option<String>) {
    let builder = SdkTracerProvider::builder().with_resource(resource(service));
    let (settings, problem) = match ExportSettings::from_lookup(|key| std::env::var(key).ok()) {
        Ok(settings) => (settings, None),
        Err(problem) => (ExportSettings::Off, Some(problem)),
    };
    let exporter = match &settings {
        ExportSettings::Off => None,
        // The endpoint, timeout and headers variables are read by the exporter itself.
        ExportSettings::Grpc { .. } => Some(SpanExporter::builder().with_tonic().build()),
        ExportSettings::HttpProtobuf { .. } => Some(
            SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build(),
        ),
    };
    match exporter {
        None => (builder.build(), settings, problem),
        Some(Ok(exporter)) => (
            builder.with_batch_exporter(exporter).build(),
            settings,
            problem,
        ),
        Some(Err(error)) => (
            builder.build(),
            ExportSettings::Off,
            Some(format!(
                "the OTLP exporter could not be built ({error}); traces are not exported"
            )),
        ),
    }
}

/// `service.name` defaults to the binary's name unless the standard variables set it.
fn resource(service: &'static str) -> Resource {
    let named_by_env = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let builder = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    if named_by_env {
        builder.build()
    } else {
        builder.with_service_name(service).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<ExportSettings, String> {
        ExportSettings::from_lookup(|key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert_eq!(settings(&[]), Ok(ExportSettings::Off));
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]),
            Ok(ExportSettings::Off)
        );
        assert_eq!(
            settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_TRACES_EXPORTER", "none")
            ]),
            Ok(ExportSettings::Off)
        );
    }

    #[test]
    fn protocol_and_endpoint_follow_the_standard_variables() {
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]),
            Ok(ExportSettings::HttpProtobuf {
                endpoint: "http://c:4318".into()
            })
        );
        assert_eq!(
            settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ]),
            Ok(ExportSettings::Grpc {
                endpoint: "http://t:4317".into()
            })
        );
        assert!(
            settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
            ])
            .is_err()
        );
        assert!(settings(&[("OTEL_TRACES_EXPORTER", "zipkin")]).is_err());
    }
}
