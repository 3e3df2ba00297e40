//! What the job-control tests share: a redis-server, a file server, the queue itself (to add
//! and cancel jobs as the gateway does), a job's event history, and a stage gate that holds
//! chosen jobs at a chosen stage until the test lets them go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{Client, StreamsInterface};
use job_queue::{Consumer, ConsumerOptions, JobOptions, JobRecord, NewJob, Queue};
use progress_contract::events::Stage;
use progress_contract::history::history_key;
use resume_worker::WorkerConfig;
use resume_worker::pipeline::StageGate;
use serde_json::{Value, json};
use service_runtime::redis::RedisOptions;
use test_support::RedisServer;
use tokio::sync::{Semaphore, mpsc};

use crate::files::FileServer;
use crate::helpers::{RunningWorker, WAIT};

pub const RESUME: &str = "Jane Doe\njane@example.com\nSkills: Rust, Redis, Kubernetes\n\
Experience\nSenior Engineer, Acme (2019 - 2024)\n";

pub struct Control {
    pub redis: RedisServer,
    pub files: FileServer,
    pub queue: Queue,
    client: Client,
}

pub async fn control() -> Control {
    control_on("resume-analysis").await
}

/// On a queue of its own name: for a test that reads the process-wide metrics.
pub async fn control_on(queue: &str) -> Control {
    let redis = RedisServer::start();
    let client = RedisOptions::new(redis.url())
        .connect_client()
        .await
        .unwrap();
    let files = FileServer::start([127, 0, 0, 1]).await;
    files.put("resume.txt", RESUME.as_bytes().to_vec(), "text/plain");
    Control {
        queue: Queue::new(client.clone(), queue),
        client,
        files,
        redis,
    }
}

impl Control {
    /// Worker settings for tests, checking for cancels often.
    pub fn worker_config(&self) -> WorkerConfig {
        let mut config = crate::helpers::test_worker_config(&self.redis.url());
        config.visibility_timeout = Duration::from_secs(2);
        config.cancel_check_interval = Duration::from_millis(50);
        config.queue_name = self.queue.name().to_owned();
        config
    }

    pub async fn start_worker(
        &self,
        config: WorkerConfig,
        gate: Option<StageGate>,
    ) -> RunningWorker {
        self.start_worker_with_admin(config, gate).await.0
    }

    /// Also returns the worker's admin port (`/metrics`).
    pub async fn start_worker_with_admin(
        &self,
        config: WorkerConfig,
        gate: Option<StageGate>,
    ) -> (RunningWorker, u16) {
        let worker = resume_worker::Application::build(config)
            .await
            .expect("worker builds");
        let admin = worker.admin_port();
        if let Some(gate) = gate {
            let _ = worker.runner().pipeline.stage_gate.set(gate);
        }
        let id = worker.worker_id().to_owned();
        let stop = tokio_util::sync::CancellationToken::new();
        let handle = tokio::spawn(worker.run_until_stopped(stop.clone()));
        (RunningWorker { id, stop, handle }, admin)
    }

    /// Adds a job as the gateway does, reading `path` from the file server.
    pub async fn add(&self, job_id: &str, organisation: &str, path: &str, options: JobOptions) {
        let job = NewJob {
            name: "analyze-resume".into(),
            data: json!({
                "resumeId": format!("r-{job_id}"),
                "candidateId": "cand-1",
                "organisationId": organisation,
                "fileUrl": self.files.url(path),
            }),
            organisation_id: Some(organisation.to_owned()),
            traceparent: None,
        };
        let added = self.queue.add(job_id, &job, &options).await.unwrap();
        assert!(added.created, "{job_id} is new");
    }

    /// A consumer of the queue that is not a worker: it claims jobs and then does nothing,
    /// like a worker that stopped.
    pub async fn bare_consumer(&self, name: &str) -> Consumer {
        let reader = RedisOptions::new(self.redis.url())
            .connect_client()
            .await
            .unwrap();
        Consumer::new(
            self.queue.clone(),
            reader,
            ConsumerOptions {
                consumer: name.into(),
                visibility_timeout: Duration::from_secs(1),
                job_ttl: Duration::from_secs(3600),
                max_reclaims: 2,
                organisation_concurrency: None,
            },
        )
        .await
        .unwrap()
    }

    /// Adds a job whose file was uploaded (kept in Redis), as the gateway's upload does.
    pub async fn add_upload(&self, job_id: &str, organisation: &str, bytes: &[u8]) {
        self.queue
            .store_file(job_id, bytes.to_vec(), Duration::from_secs(600))
            .await
            .unwrap();
        let job = NewJob {
            name: "analyze-resume".into(),
            data: json!({
                "resumeId": format!("r-{job_id}"),
                "organisationId": organisation,
                "fileName": "resume.txt",
                "mimeType": "text/plain",
                "uploaded": true,
            }),
            organisation_id: Some(organisation.to_owned()),
            traceparent: None,
        };
        let options = JobOptions {
            attempts: 1,
            ..JobOptions::default()
        };
        assert!(
            self.queue
                .add(job_id, &job, &options)
                .await
                .unwrap()
                .created
        );
    }

    pub async fn job(&self, job_id: &str) -> JobRecord {
        self.queue
            .get(job_id)
            .await
            .unwrap()
            .expect("the job exists")
    }

    /// Polls the job until its state is `state` (as JSON: "cancelled", "completed", …).
    pub async fn wait_state(&self, job_id: &str, state: &str) -> JobRecord {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let job = self.job(job_id).await;
            if job.state.as_str() == state {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job_id} never reached {state}: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every `job_update` published for the job, in order.
    pub async fn history(&self, job_id: &str) -> Vec<Value> {
        let entries: Vec<(String, HashMap<String, String>)> = self
            .client
            .xrange(history_key(&format!("job:{job_id}")), "-", "+", None)
            .await
            .unwrap();
        entries
            .into_iter()
            .filter_map(|(_, fields)| serde_json::from_str(fields.get("e")?).ok())
            .collect()
    }
}

/// The statuses of a job's events, in order.
pub fn statuses(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .map(|e| e["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts the history ends with exactly one `cancelled` event and has no other terminal
/// event; returns the stages announced before it.
pub fn assert_ends_cancelled(job_id: &str, history: &[Value]) -> Vec<String> {
    let statuses = statuses(history);
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("cancelled"),
        "{job_id}: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| *s == "cancelled").count(),
        1,
        "{job_id}: {statuses:?}"
    );
    assert!(
        !statuses.iter().any(|s| s == "completed" || s == "failed"),
        "{job_id}: {statuses:?}"
    );
    history[..history.len() - 1]
        .iter()
        .filter_map(|e| e["stage"].as_str().map(str::to_owned))
        .collect()
}

/// Holds the jobs named in `holds` (job id → stage) when they begin that stage: the test is
/// told (job id) and the job waits until it is released.
#[derive(Clone)]
pub struct Gate {
    holds: Arc<HashMap<String, (Stage, Arc<Semaphore>)>>,
    entered: Arc<Mutex<mpsc::UnboundedSender<String>>>,
}

impl Gate {
    pub fn new(holds: &[(&str, Stage)]) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let holds = holds
            .iter()
            .map(|(j, s)| ((*j).to_owned(), (*s, Arc::new(Semaphore::new(0)))))
            .collect();
        let gate = Self {
            holds: Arc::new(holds),
            entered: Arc::new(Mutex::new(tx)),
        };
        (gate, rx)
    }

    /// Lets the job go on (now, or when it reaches its stage).
    pub fn release(&self, job_id: &str) {
        if let Some((_, open)) = self.holds.get(job_id) {
            open.add_permits(1);
        }
    }

    pub fn release_all(&self) {
        for (_, open) in self.holds.values() {
            open.add_permits(1);
        }
    }

    pub fn stage_gate(&self) -> StageGate {
        let gate = self.clone();
        Arc::new(move |job_id: String, stage: Stage| {
            let gate = gate.clone();
            Box::pin(async move {
                let Some((held_at, open)) = gate.holds.get(&job_id) else {
                    return;
                };
                if *held_at != stage {
                    return;
                }
                let _ = gate.entered.lock().unwrap().send(job_id);
                if let Ok(permit) = open.acquire().await {
                    permit.forget();
                }
            })
        })
    }
}

/// Waits for the next job the gate holds.
pub async fn next_held(entered: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(WAIT, entered.recv())
        .await
        .expect("a job reaches its stage")
        .expect("the gate lives")
}

pub async fn stop(worker: RunningWorker) {
    worker.stop.cancel();
    let _ = tokio::time::timeout(WAIT, worker.handle).await;
}
