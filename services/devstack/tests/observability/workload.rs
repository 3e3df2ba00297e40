//! Traffic that makes every series of the dashboards exist: jobs that complete, fail to
//! parse, retry until dead-lettered, and are taken over from a killed worker; open streams,
//! subscriptions, a resumed and an expired stream; and the error paths of the gateway
//! (malformed and oversize events, invalid requests).

use std::time::Duration;

use serde_json::{Value, json};
use test_support::{RedisServer, SseClient};

use crate::WAIT;
use crate::services::FileServer;

pub const QUEUE: &str = "resume-analysis";

/// The gateway's public API.
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/v1/queue/add` for a file at `file_url`.
    pub async fn add_url(&self, job_id: &str, file_url: &str, opts: Value) -> u16 {
        let mut opts = opts;
        opts["jobId"] = json!(job_id);
        let body = json!({
            "queueName": QUEUE,
            "jobName": "analyze-resume",
            "data": {"resumeId": format!("r-{job_id}"), "candidateId": "c-1",
                     "organisationId": "o-1", "fileUrl": file_url},
            "opts": opts,
        });
        self.post_json("/api/v1/queue/add", &body).await.0
    }

    /// `POST /api/v1/resumes` with `bytes` as the file.
    pub async fn upload(&self, job_id: &str, bytes: Vec<u8>, file_name: &str, mime: &str) -> u16 {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(file_name.to_owned())
                    .mime_str(mime)
                    .unwrap(),
            )
            .text("jobId", job_id.to_owned());
        self.http
            .post(self.url("/api/v1/resumes"))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn get_status(&self, path: &str) -> u16 {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Waits until the job is `completed` or `failed`; returns that state.
    pub async fn wait_finished(&self, job_id: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let job: Value = self
                .http
                .get(self.url(&format!("/api/v1/jobs/{job_id}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or_default();
            if let Some(state @ ("completed" | "failed")) = job["state"].as_str() {
                return state.to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job_id} did not finish: {job}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stream(&self, query: &str, headers: &[(&str, &str)]) -> SseClient {
        SseClient::connect_with(&self.url(&format!("/api/v1/sse/connect{query}")), headers)
            .await
            .unwrap()
    }
}

/// The connection id from a stream's `connected` event.
async fn connection_id(stream: &mut SseClient) -> String {
    let connected = stream.next_named("connected", WAIT).await.unwrap();
    connected.json()["connectionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The jobs [`run`] adds, with the state each must end in.
pub const JOBS: &[(&str, &str)] = &[
    ("ok-1", "completed"),
    ("ok-2", "completed"),
    ("ok-3", "completed"),
    ("corrupt", "failed"),
    ("dead", "failed"),
];

/// Runs the traffic; returns the streams that must stay open while Prometheus scrapes.
pub async fn run(
    api: &Api,
    redis: &RedisServer,
    files: &FileServer,
    resume: &str,
) -> Vec<SseClient> {
    let jobs: Vec<&str> = JOBS.iter().map(|(id, _)| *id).collect();
    // A stream watching every job, the queue and the worker.
    let mut watcher = api
        .stream(
            &format!(
                "?jobs={},reclaimed&queues={QUEUE}&workers=resume-worker-0",
                jobs.join(",")
            ),
            &[],
        )
        .await;
    connection_id(&mut watcher).await;

    // A stream that subscribes and unsubscribes later, once with a bad connection id.
    let mut subscriber = api.stream("", &[]).await;
    let id = connection_id(&mut subscriber).await;
    let subscribe = format!("/api/v1/sse/{id}/subscribe/job/ok-1");
    assert_eq!(api.post_json(&subscribe, &json!({})).await.0, 200);
    let invalid = api
        .post_json("/api/v1/sse/not-a-uuid/subscribe/job/ok-1", &json!({}))
        .await;
    assert_eq!(invalid.0, 400, "{invalid:?}");
    let unsubscribe = format!("/api/v1/sse/{id}/unsubscribe/job/ok-1");
    assert_eq!(api.post_json(&unsubscribe, &json!({})).await.0, 200);

    // Jobs: three complete, one cannot be parsed, one is retried then dead-lettered.
    for id in ["ok-1", "ok-2", "ok-3"] {
        let status = api
            .upload(id, resume.as_bytes().to_vec(), "cv.txt", "text/plain")
            .await;
        assert_eq!(status, 201, "upload {id}");
    }
    let corrupt = resume_analysis::fixtures::corrupt_pdf();
    assert_eq!(
        api.upload("corrupt", corrupt, "cv.pdf", "application/pdf")
            .await,
        201
    );
    let dead = files.url("/unavailable.pdf");
    let opts = json!({"attempts": 2, "backoff": 100});
    assert_eq!(api.add_url("dead", &dead, opts).await, 201);

    // Events the gateway must drop: not JSON, and larger than MAX_EVENT_BYTES (64 KiB).
    redis.cli(&["PUBLISH", "job:ok-1", "not json"]);
    let oversize = format!("{{\"pad\":\"{}\"}}", "x".repeat(70_000));
    redis.cli(&["PUBLISH", "job:ok-1", &oversize]);

    // Invalid requests.
    assert_eq!(api.post_json("/api/v1/queue/add", &json!({})).await.0, 422);
    assert_eq!(api.get_status("/api/v1/jobs/no-such-job").await, 404);
    assert_eq!(api.get_status("/api/v1/no-such-route").await, 404);

    let resumed = resume_a_stream(api).await;

    for (id, expected) in JOBS.iter().chain(&[("reclaimed", "completed")]) {
        assert_eq!(&api.wait_finished(id).await, expected, "job {id}");
    }
    vec![watcher, subscriber, resumed]
}

/// A stream that reads one event, goes away, and comes back with `Last-Event-ID`: the two
/// events published meanwhile are replayed. A `Last-Event-ID` of an unknown session counts
/// as expired.
async fn resume_a_stream(api: &Api) -> SseClient {
    let publish = |n: u32| async move {
        let event = json!({"type": "job_update", "jobId": "replayed", "progress": n});
        let (status, body) = api.post_json("/api/v1/publish/job/replayed", &event).await;
        assert_eq!(status, 201, "{body}");
    };
    let mut first = api.stream("?jobs=replayed", &[]).await;
    connection_id(&mut first).await;
    publish(1).await;
    let seen = first.next_named("job_update", WAIT).await.unwrap();
    drop(first);
    // The gateway writes the stream's position when it notices the client left.
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish(2).await;
    publish(3).await;
    let mut again = api.stream("", &[("last-event-id", &seen.id)]).await;
    let connected = again.next_named("connected", WAIT).await.unwrap();
    assert_eq!(connected.json()["resumed"], true, "{}", connected.data);
    for n in [2, 3] {
        let replayed = again.next_named("job_update", WAIT).await.unwrap();
        assert_eq!(replayed.json()["progress"], n);
    }
    let unknown = format!("{}:7", uuid_like());
    let mut expired = api.stream("", &[("last-event-id", &unknown)]).await;
    connection_id(&mut expired).await;
    again
}

/// A syntactically valid connection id no session has.
fn uuid_like() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}
