//! The whole stack for end-to-end tests: a real redis-server, a real gateway, workers, and a
//! file server.

use std::time::Duration;

use resume_worker::{Application as Worker, WorkerConfig};
use serde_json::{Value, json};
use sse_gateway::{Application as Gateway, GatewayConfig};
use test_support::{RedisServer, SseClient, SseEvent};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::files::FileServer;

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Stack {
    pub redis: RedisServer,
    pub base: String,
    pub http: reqwest::Client,
    pub files: FileServer,
    _gateway_stop: tokio_util::sync::DropGuard,
}

pub struct RunningWorker {
    pub id: String,
    pub stop: CancellationToken,
    pub handle: JoinHandle<anyhow::Result<()>>,
}

pub async fn stack() -> Stack {
    let redis = RedisServer::start();
    let mut config = GatewayConfig::local(redis.url());
    config.queue_update_interval = Duration::from_millis(100);
    let gateway = Gateway::build(config).await.expect("gateway builds");
    let base = format!("http://127.0.0.1:{}", gateway.port());
    let stop = CancellationToken::new();
    tokio::spawn(gateway.run_until_stopped(stop.clone()));
    Stack {
        redis,
        base,
        http: reqwest::Client::new(),
        files: FileServer::start([127, 0, 0, 1]).await,
        _gateway_stop: stop.drop_guard(),
    }
}

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Worker settings for tests: see [`test_worker_config`].
    pub fn worker_config(&self) -> WorkerConfig {
        test_worker_config(&self.redis.url())
    }

    pub async fn start_worker(&self, config: WorkerConfig) -> RunningWorker {
        let worker = Worker::build(config).await.expect("worker builds");
        let id = worker.worker_id().to_owned();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(worker.run_until_stopped(stop.clone()));
        RunningWorker { id, stop, handle }
    }

    /// Opens a stream subscribed to `job:{job_id}` (before the job exists).
    pub async fn watch(&self, job_id: &str) -> SseClient {
        let mut client =
            SseClient::connect(&self.url(&format!("/api/v1/sse/connect?jobs={job_id}")))
                .await
                .expect("stream opens");
        client
            .next_named("subscribed", WAIT)
            .await
            .expect("subscribed");
        client
    }

    /// `POST /api/v1/queue/add` with the original body.
    pub async fn add(
        &self,
        job_id: &str,
        file_url: &str,
        extra: Value,
        opts: Value,
    ) -> (u16, Value) {
        let mut data = json!({
            "resumeId": format!("r-{job_id}"),
            "candidateId": "cand-1",
            "organisationId": "org-1",
            "fileUrl": file_url,
        });
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        let mut opts = opts;
        opts["jobId"] = json!(job_id);
        let body = json!({"queueName": "resume-analysis", "jobName": "analyze-resume", "data": data, "opts": opts});
        let response = self
            .http
            .post(self.url("/api/v1/queue/add"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// The JSON body of `GET path`.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Posts a résumé upload form; returns the response.
    pub async fn upload(&self, form: reqwest::multipart::Form) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/resumes"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn job(&self, job_id: &str) -> Value {
        self.get_json(&format!("/api/v1/jobs/{job_id}")).await
    }

    /// The full result a `completed` event points to with `resultUrl`.
    pub async fn full_result(&self, completed: &Value) -> Value {
        let path = completed["resultUrl"].as_str().expect("resultUrl");
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "completed");
        body["result"].clone()
    }

    /// Polls the job until its state is `state`.
    pub async fn wait_state(&self, job_id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let job = self.job(job_id).await;
            if job["state"] == state {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job_id} never reached {state}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn counts(&self) -> Value {
        self.get_json("/api/v1/queues/resume-analysis").await
    }
}

/// Reads `job_update` events until a terminal one.
pub async fn until_finished(client: &mut SseClient) -> Vec<Value> {
    let mut updates = Vec::new();
    loop {
        let event: SseEvent = client
            .next_named("job_update", WAIT)
            .await
            .expect("job_update");
        let data = event.json();
        let status = data["status"].as_str().unwrap_or_default().to_owned();
        updates.push(data);
        if status == "completed" || status == "failed" {
            return updates;
        }
    }
}

/// The stages seen, in order, without repeats.
pub fn stages(updates: &[Value]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for update in updates {
        let stage = update["stage"].as_str();
        if let Some(stage) = stage.filter(|s| seen.last().map(String::as_str) != Some(*s)) {
            seen.push(stage.to_owned());
        }
    }
    seen
}

/// Worker settings for tests: loopback file server allowed, fast timers.
pub fn test_worker_config(redis_url: &str) -> WorkerConfig {
    let mut config = WorkerConfig::local(redis_url.to_owned());
    config.fetch_allow_hosts = "127.0.0.1".into();
    // The test binary cannot parse documents: the worker binary can.
    config.parse_program = crate::common::service_binary("resume-worker")
        .to_string_lossy()
        .into_owned();
    config.visibility_timeout = Duration::from_secs(1);
    config.heartbeat = Duration::from_millis(200);
    config.queue_update_interval = Duration::from_millis(100);
    config.shutdown_timeout = Duration::from_secs(10);
    config
}
