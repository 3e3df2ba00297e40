//! One trace per job, seen by a real OTLP receiver: the gateway and worker binaries export
//! to an OTLP/HTTP endpoint served by this test, which decodes what arrives with the
//! OpenTelemetry protobuf types. The upload request (continuing the caller's `traceparent`),
//! the worker's job span, one span per stage and the gateway's delivery spans must share the
//! caller's trace id and form one tree. A collector that is down must cost nothing.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use test_support::{RedisServer, SseClient, free_port};

const WAIT: Duration = Duration::from_secs(30);
const TRACE_ID: &str = "7d1c5b3e9f2a4c6b8e0d1f3a5c7e9b2d";
const CALLER_SPAN: &str = "a1b2c3d4e5f60718";

/// One span as received.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Received>>>);

impl Collector {
    fn in_trace(&self, trace_id: &str) -> Vec<Received> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Whether a span named `name` arrived from `service`, in any trace.
    fn has(&self, service: &str, name: &str) -> bool {
        let spans = self.0.lock().unwrap();
        spans.iter().any(|s| s.service == service && s.name == name)
    }
}

impl Collector {
    /// Records the spans of one OTLP export request.
    fn record(&self, body: &[u8]) {
        let request = ExportTraceServiceRequest::decode(body).expect("a valid OTLP export");
        let mut spans = self.0.lock().unwrap();
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    AnyValue::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        service: service.clone(),
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent: hex(&span.parent_span_id),
                    });
                }
            }
        }
    }
}

/// OTLP/HTTP: `POST /v1/traces` with a protobuf body; the answer is an empty response message.
async fn receive_http(State(collector): State<Collector>, body: Bytes) -> Vec<u8> {
    collector.record(&body);
    Vec::new()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the collector listens, per protocol.
#[derive(Clone, Copy)]
enum Protocol {
    Http,
    Grpc,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http/protobuf",
            Protocol::Grpc => "grpc",
        }
    }
}

async fn start_collector(protocol: Protocol) -> (Collector, u16) {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    match protocol {
        Protocol::Http => {
            let app = Router::new()
                .route("/v1/traces", post(receive_http))
                .with_state(collector.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        Protocol::Grpc => {
            tokio::spawn(grpc::serve(listener, collector.clone()));
        }
    }
    (collector, port)
}

/// OTLP/gRPC, by hand: HTTP/2 with prior knowledge, one length-prefixed protobuf message
/// each way, and `grpc-status: 0` in the trailers.
mod grpc {
    use std::convert::Infallible;

    use axum::body::Bytes;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::{Frame, Incoming};
    use hyper::{Request, Response};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    use super::Collector;

    type Reply =
        StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

    pub async fn serve(listener: tokio::net::TcpListener, collector: Collector) {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let collector = collector.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let collector = collector.clone();
                    async move { Ok::<_, Infallible>(export(request, &collector).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    }

    async fn export(request: Request<Incoming>, collector: &Collector) -> Response<Reply> {
        assert_eq!(
            request.uri().path(),
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        let body = request.into_body().collect().await.unwrap().to_bytes();
        // 1 byte "compressed" flag, 4 bytes big-endian length, then the message.
        assert_eq!(body[0], 0, "uncompressed");
        let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        collector.record(&body[5..5 + length]);
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames = vec![
            Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
            Ok(Frame::trailers(trailers)),
        ];
        Response::builder()
            .header("content-type", "application/grpc")
            .body(StreamBody::new(futures::stream::iter(frames)))
            .unwrap()
    }
}

/// A gateway and a worker process exporting to `endpoint`.
struct Stack {
    _redis: RedisServer,
    http: u16,
    processes: Vec<Child>,
}

impl Stack {
    async fn start(endpoint: &str, protocol: Protocol) -> Self {
        let redis = RedisServer::start();
        let http = free_port();
        let admin = free_port();
        let gateway_binary = env!("CARGO_BIN_EXE_sse-gateway");
        let worker_binary = std::path::Path::new(gateway_binary).with_file_name("resume-worker");
        assert!(
            worker_binary.exists(),
            "build the worker first: cargo build --workspace"
        );
        let otel = |command: &mut Command| {
            command
                .env("REDIS_URL", redis.url())
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.name())
                .env("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
                .env("OTEL_BSP_SCHEDULE_DELAY", "100")
                .env("OTEL_TRACES_SAMPLER", "parentbased_always_on")
                .env("LOG_FORMAT", "json")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        };
        let mut gateway = Command::new(gateway_binary);
        otel(&mut gateway);
        gateway
            .env("HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("DRAIN_DELAY", "0s")
            .env("DRAIN_WINDOW", "200ms");
        let mut worker = Command::new(&worker_binary);
        otel(&mut worker);
        worker
            .env("ADMIN_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("WORKER_ID", "trace-worker")
            .env("WORKER_SHUTDOWN_TIMEOUT", "5s");
        let processes = vec![gateway.spawn().unwrap(), worker.spawn().unwrap()];
        wait_ready(admin).await;
        Self {
            _redis: redis,
            http,
            processes,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    /// Opens a stream on the job, uploads a text résumé for it with the caller's trace
    /// context, and reads the stream to `completed`.
    async fn run_job(&self, job_id: &str, traceparent: &str) -> Vec<serde_json::Value> {
        let mut stream =
            SseClient::connect(&self.url(&format!("/api/v1/sse/connect?jobs={job_id}")))
                .await
                .unwrap();
        stream.next_named("subscribed", WAIT).await.unwrap();
        let form = reqwest::multipart::Form::new()
            .text("resumeId", format!("r-{job_id}"))
            .text("jobId", job_id.to_owned())
            .text("requiredSkills", "Rust,Kubernetes")
            .part(
                "file",
                reqwest::multipart::Part::bytes(
                    b"Ada Lovelace\nada@example.com\nSkills: Rust, Kubernetes, PostgreSQL\n"
                        .to_vec(),
                )
                .file_name("resume.txt")
                .mime_str("text/plain")
                .unwrap(),
            );
        let response = reqwest::Client::new()
            .post(self.url("/api/v1/resumes"))
            .header("traceparent", traceparent)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "upload accepted");
        let mut updates = Vec::new();
        loop {
            let event = stream.next_named("job_update", WAIT).await.unwrap();
            let update = event.json();
            let status = update["status"].as_str().unwrap().to_owned();
            updates.push(update);
            if status == "completed" || status == "failed" {
                return updates;
            }
        }
    }

    /// SIGTERM to every process; each must exit by itself, cleanly, within `limit`.
    fn stop(mut self, limit: Duration) {
        for child in &self.processes {
            Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
        }
        let deadline = Instant::now() + limit;
        for child in &mut self.processes {
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "exit status {status}");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "a process did not exit after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.processes.clear();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn wait_ready(admin: u16) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if http
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_upload_through_every_stage_to_delivery_over_http() {
    one_trace(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_upload_through_every_stage_to_delivery_over_grpc() {
    one_trace(Protocol::Grpc).await;
}

async fn one_trace(protocol: Protocol) {
    let (collector, port) = start_collector(protocol).await;
    let stack = Stack::start(&format!("http://127.0.0.1:{port}"), protocol).await;
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let updates = stack.run_job("traced-job-1", &traceparent).await;
    assert_eq!(updates.last().unwrap()["status"], "completed");
    // Progress events carry the trace on to whoever reads them.
    assert!(
        updates.iter().all(|u| u["traceparent"]
            .as_str()
            .is_some_and(|t| t.contains(TRACE_ID))),
        "{updates:?}"
    );

    // Spans arrive in batches; wait until the whole tree is in.
    let deadline = Instant::now() + WAIT;
    let spans = loop {
        let spans = collector.in_trace(TRACE_ID);
        let named = |name: &str| spans.iter().filter(|s| s.name == name).count();
        let complete = named("POST /api/v1/resumes") == 1
            && named("analyze-resume") == 1
            && named("stage storing") == 1
            && named("deliver job_update") >= 8
            && collector.has("sse-gateway", "GET /api/v1/sse/connect");
        if complete || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let by_name =
        |name: &str| -> Vec<&Received> { spans.iter().filter(|s| s.name == name).collect() };
    let summary: Vec<_> = spans
        .iter()
        .map(|s| format!("{}:{}", s.service, s.name))
        .collect();

    // With a collector, a stream's open is traced too (its own trace: the client sent no
    // `traceparent`).
    assert!(
        collector.has("sse-gateway", "GET /api/v1/sse/connect"),
        "the stream's open span was exported"
    );

    // The request span continues the caller's span.
    let request = by_name("POST /api/v1/resumes");
    assert_eq!(request.len(), 1, "{summary:?}");
    let request = request[0];
    assert_eq!(request.service, "sse-gateway");
    assert_eq!(request.parent, CALLER_SPAN);

    // The worker's job span is a child of the request span, and each stage a child of it.
    let job = by_name("analyze-resume");
    assert_eq!(job.len(), 1, "{summary:?}");
    let job = job[0];
    assert_eq!(job.service, "resume-worker");
    assert_eq!(job.parent, request.span_id);
    for stage in [
        "initializing",
        "fetching",
        "parsing",
        "extracting",
        "analyzing",
        "storing",
    ] {
        let spans = by_name(&format!("stage {stage}"));
        assert_eq!(spans.len(), 1, "stage {stage}: {summary:?}");
        assert_eq!(spans[0].service, "resume-worker");
        assert_eq!(spans[0].parent, job.span_id, "stage {stage}");
    }

    // Every job_update delivered to the stream was delivered inside a span of this trace,
    // parented by the span that published it: the request (queued), a stage, or the job.
    let deliveries = by_name("deliver job_update");
    assert!(deliveries.len() >= updates.len(), "{summary:?}");
    let ids: HashMap<&str, &str> = spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.name.as_str()))
        .collect();
    for delivery in &deliveries {
        assert_eq!(delivery.service, "sse-gateway");
        let parent = ids.get(delivery.parent.as_str()).copied();
        assert!(
            matches!(parent, Some(name) if name == "POST /api/v1/resumes" || name == "analyze-resume" || name.starts_with("stage ")),
            "delivery parented by {parent:?}"
        );
    }

    stack.stop(Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_nothing() {
    // Nothing listens on this port: every export fails.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let stack = Stack::start(&dead, Protocol::Http).await;
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    for n in 0..3 {
        let updates = stack
            .run_job(&format!("untraced-job-{n}"), &traceparent)
            .await;
        assert_eq!(updates.last().unwrap()["status"], "completed");
    }
    // Buffered spans cannot be flushed; shutdown still finishes promptly and cleanly.
    stack.stop(Duration::from_secs(15));
}
