//! A client that behaves like EventSource: it reconnects after the server's `retry:` delay
//! with `Last-Event-ID`, and records every event it receives. It subscribes once, through
//! the given base URL (so the POST may land on any pod).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What one client saw.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub connection_id: Option<String>,
    /// `seq` of every `job_update`, in arrival order.
    pub seqs: Vec<u64>,
    pub subscribed: bool,
    /// Streams that ended and were reconnected.
    pub reconnects: usize,
    /// When each ended stream's reconnect started (for reconnect-rate curves); retries after
    /// a refused attempt are not counted again.
    pub reconnect_times: Vec<Instant>,
    pub resyncs: usize,
    pub refused: usize,
    /// The base URL of the current stream.
    pub connected_to: Option<String>,
    /// When each stream was established.
    pub connected_at: Vec<Instant>,
}

pub struct ResumingClient {
    pub record: Arc<Mutex<Record>>,
    task: JoinHandle<()>,
}

impl ResumingClient {
    /// Connects to `base` and subscribes to `job:{job}` through `base`.
    pub fn spawn(base: String, job: String, stop: CancellationToken) -> Self {
        Self::spawn_over(vec![base], job, stop)
    }

    /// Like [`ResumingClient::spawn`], trying `bases` in turn (client-side balancing): the
    /// first connection goes to `bases[0]`, each reconnect to the next one.
    pub fn spawn_over(bases: Vec<String>, job: String, stop: CancellationToken) -> Self {
        let record = Arc::new(Mutex::new(Record::default()));
        let shared = record.clone();
        let task = tokio::spawn(async move {
            // No idle pool: a client holds its stream's socket only (thousands of clients
            // share one process's file-descriptor limit).
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("http client");
            let mut last_event_id = String::new();
            let mut retry = Duration::from_millis(300);
            let mut stream_ended = false;
            let mut turn = 0usize;
            while !stop.is_cancelled() {
                let base = bases[turn % bases.len()].clone();
                turn += 1;
                if stream_ended {
                    let mut r = shared.lock().expect("lock");
                    r.reconnects += 1;
                    r.reconnect_times.push(Instant::now());
                }
                stream_ended = false;
                let mut request = http.get(format!("{base}/api/v1/sse/connect"));
                if !last_event_id.is_empty() {
                    request = request.header("last-event-id", last_event_id.clone());
                }
                let response = tokio::select! {
                    () = stop.cancelled() => return,
                    r = request.send() => r,
                };
                let response = match response {
                    Ok(r) if r.status().is_success() => r,
                    _ => {
                        shared.lock().expect("lock").refused += 1;
                        tokio::time::sleep(Duration::from_millis(150)).await;
                        continue;
                    }
                };
                shared.lock().expect("lock").connected_to = Some(base.clone());
                shared
                    .lock()
                    .expect("lock")
                    .connected_at
                    .push(Instant::now());
                let mut events = response.bytes_stream().eventsource();
                loop {
                    let next = tokio::select! {
                        () = stop.cancelled() => return,
                        next = events.next() => next,
                    };
                    let Some(Ok(event)) = next else { break };
                    if let Some(r) = event.retry {
                        retry = r;
                    }
                    if !event.id.is_empty() {
                        last_event_id = event.id.clone();
                    }
                    let data: serde_json::Value =
                        serde_json::from_str(&event.data).unwrap_or_default();
                    match event.event.as_str() {
                        "connected" => {
                            let id = data["connectionId"].as_str().unwrap_or_default().to_owned();
                            let needs_subscribe = !shared.lock().expect("lock").subscribed;
                            shared.lock().expect("lock").connection_id = Some(id.clone());
                            if needs_subscribe {
                                let url = format!("{base}/api/v1/sse/{id}/subscribe/job/{job}");
                                let _ = http.post(url).send().await;
                            }
                        }
                        "subscribed" => shared.lock().expect("lock").subscribed = true,
                        "resync" => shared.lock().expect("lock").resyncs += 1,
                        "job_update" => {
                            if let Some(seq) = data["seq"].as_u64() {
                                shared.lock().expect("lock").seqs.push(seq);
                            }
                        }
                        _ => {}
                    }
                }
                stream_ended = true;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(retry) => {},
                }
            }
        });
        Self { record, task }
    }

    pub fn snapshot(&self) -> Record {
        self.record.lock().expect("lock").clone()
    }
}

impl Drop for ResumingClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}
