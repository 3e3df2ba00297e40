//! This worker's `worker_status`: published on `worker:{id}` when it changes and every
//! heartbeat, and kept in the live-worker registry with a TTL.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use job_queue::WorkerRegistry;
use progress_contract::Publisher;
use progress_contract::events::{WorkerState, WorkerStatus};
use progress_contract::time::now_millis;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct State {
    running: BTreeSet<String>,
    paused: bool,
}

/// Tracks what this worker is doing.
pub struct Presence {
    worker_id: String,
    concurrency: u32,
    state: Mutex<State>,
    changed: Notify,
    publisher: Publisher,
    registry: WorkerRegistry,
    heartbeat: Duration,
}

impl Presence {
    pub fn new(
        worker_id: String,
        concurrency: u32,
        publisher: Publisher,
        registry: WorkerRegistry,
        heartbeat: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            worker_id,
            concurrency,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            publisher,
            registry,
            heartbeat,
        })
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    fn with_state(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_one();
    }

    pub fn started(&self, job_id: &str) {
        self.with_state(|s| {
            s.running.insert(job_id.to_owned());
        });
    }

    pub fn finished(&self, job_id: &str) {
        self.with_state(|s| {
            s.running.remove(job_id);
        });
    }

    pub fn pause(&self) {
        self.with_state(|s| s.paused = true);
    }

    pub fn status(&self) -> WorkerStatus {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let status = if state.paused {
            WorkerState::Paused
        } else if state.running.is_empty() {
            WorkerState::Idle
        } else {
            WorkerState::Active
        };
        WorkerStatus {
            worker_id: self.worker_id.clone(),
            timestamp: now_millis(),
            status,
            current_job: state.running.iter().next().cloned(),
            concurrency: self.concurrency,
            active_jobs: Some(state.running.len() as u32),
        }
    }

    async fn publish(&self) {
        let status = self.status();
        if let Err(error) = self.publisher.publish_worker_status(&status).await {
            tracing::warn!(%error, "publishing worker_status failed");
        }
        if status.status == WorkerState::Paused {
            return;
        }
        if let Err(error) = self.registry.heartbeat(&status, self.heartbeat * 3).await {
            tracing::warn!(%error, "refreshing the worker registry failed");
        }
    }

    /// Publishes on every change and every heartbeat until `shutdown`; then publishes
    /// `paused` and leaves the registry.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            self.publish().await;
            tokio::select! {
                () = self.changed.notified() => {},
                () = tokio::time::sleep(self.heartbeat) => {},
                () = shutdown.cancelled() => break,
            }
        }
        self.pause();
        self.publish().await;
        if let Err(error) = self.registry.remove(&self.worker_id).await {
            tracing::warn!(%error, "leaving the worker registry failed");
        }
    }
}
