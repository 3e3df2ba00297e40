//! Subscribe: the cost of a new subscription with and without its first delivery (the
//! gateway only). J jobs get E events each in their history; S streams open with no channel;
//! then N subscribe requests (`POST /api/v1/sse/{id}/subscribe/job/{job}`, each a job its
//! stream does not have yet) go out at R per second over P keep-alive connections. A
//! subscription is done when its stream holds the job's E events (replay, the default) or
//! its `subscribed` event (`--live-only`: `?replay=false`).
//!
//! Reported: the POST's response time and the time until done (p50, p99), and the gateway's
//! and Redis' CPU per subscribe, measured from the first POST until the last is done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Harness, Shared, wait_until};
use crate::client::SseStream;
use crate::histogram::Histogram;
use crate::payload;
use crate::procfs::Delta;
use crate::sse::Event;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Params {
    pub streams: usize,
    pub subscribes: usize,
    pub events_per_job: u64,
    pub rate: f64,
    pub connections: usize,
    pub live_only: bool,
    pub size: usize,
    pub timeout_secs: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub params: Params,
    pub seconds: f64,
    pub done: u64,
    pub failed: u64,
    pub post_p50_ms: f64,
    pub post_p99_ms: f64,
    pub done_p50_ms: f64,
    pub done_p99_ms: f64,
    pub server: Delta,
    pub redis: Delta,
    /// (gateway + Redis) CPU milliseconds per subscribe.
    pub cpu_ms_per_subscribe: f64,
}

impl Report {
    pub fn human(&self) -> Vec<String> {
        let mode = if self.params.live_only {
            "live only"
        } else {
            "with replay"
        };
        vec![
            format!(
                "subscribe ({mode}, {} events per job): {} of {} done in {:.2} s ({} failed) at {:.0}/s",
                self.params.events_per_job,
                self.done,
                self.params.subscribes,
                self.seconds,
                self.failed,
                self.params.rate
            ),
            format!(
                "  POST p50 {:.2} ms p99 {:.2} ms; until done p50 {:.2} ms p99 {:.2} ms",
                self.post_p50_ms, self.post_p99_ms, self.done_p50_ms, self.done_p99_ms
            ),
            format!(
                "  CPU gateway {:.2} s redis {:.2} s = {:.3} ms per subscribe",
                self.server.cpu_seconds, self.redis.cpu_seconds, self.cpu_ms_per_subscribe
            ),
        ]
    }
}

/// Subscriptions in flight: job → (when its POST went out, events seen).
type Pending = Arc<Mutex<HashMap<String, (Instant, u64)>>>;

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The value of string field `name` in a JSON object, without parsing it all.
fn field<'a>(data: &'a [u8], name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = data.windows(key.len()).position(|w| w == key.as_bytes())? + key.len();
    let end = data[start..].iter().position(|b| *b == b'"')? + start;
    std::str::from_utf8(&data[start..end]).ok()
}

pub async fn run(harness: &Harness, params: Params) -> anyhow::Result<Report> {
    anyhow::ensure!(
        harness.routes.kind == crate::target::Kind::Gateway,
        "the subscribe run measures the gateway only"
    );
    anyhow::ensure!(params.streams >= 1 && params.subscribes >= 1);
    anyhow::ensure!(
        params.subscribes.div_ceil(params.streams) <= 128,
        "at most 128 subscriptions per stream (MAX_SUBSCRIPTIONS_PER_STREAM): add --streams"
    );
    let jobs: Vec<String> = (0..params.subscribes).map(|j| harness.channel(j)).collect();
    seed_histories(harness, &jobs, params.events_per_job, params.size).await?;

    let pending: Pending = Arc::default();
    let shared = Arc::new(Shared::default());
    let done_times = Arc::new(Mutex::new(Histogram::default()));
    let goal = if params.live_only {
        0
    } else {
        params.events_per_job
    };
    let mut ids = Vec::with_capacity(params.streams);
    let mut readers = JoinSet::new();
    for _ in 0..params.streams {
        let path = format!("{}/api/v1/sse/connect", harness.routes.server.path);
        let mut stream =
            SseStream::open(&harness.sources, &harness.routes.server, &path, None).await?;
        ids.push(connection_id(&mut stream).await?);
        let (pending, shared, done_times) = (pending.clone(), shared.clone(), done_times.clone());
        readers.spawn(async move {
            let mut on_event = |event: Event<'_>| {
                let counted = match event.name {
                    b"subscribed" if goal == 0 => true,
                    b"job_update" if goal > 0 => true,
                    _ => false,
                };
                let Some(job) = counted.then(|| field(event.data, "jobId")).flatten() else {
                    return;
                };
                let mut pending = lock(&pending);
                let Some(entry) = pending.get_mut(job) else {
                    return;
                };
                entry.1 += 1;
                if entry.1 >= goal.max(1) {
                    lock(&done_times).record(micros(entry.0.elapsed()));
                    pending.remove(job);
                    shared.reached.fetch_add(1, Ordering::Relaxed);
                }
            };
            while stream.fill().await.unwrap_or(false) {
                if !stream.drain(&mut on_event).unwrap_or(false) {
                    return;
                }
            }
        });
    }

    let server_before = harness.server_usage();
    let redis_before = harness.redis_usage();
    let started = Instant::now();
    let failed = Arc::new(AtomicU64::new(0));
    let post_times = Arc::new(Mutex::new(Histogram::default()));
    let (send, receive) = mpsc::channel::<String>(params.connections * 4);
    let receive = Arc::new(tokio::sync::Mutex::new(receive));
    let mut posters = JoinSet::new();
    for _ in 0..params.connections.max(1) {
        let receive = receive.clone();
        let (pending, failed, post_times) = (pending.clone(), failed.clone(), post_times.clone());
        let server = harness.routes.server.clone();
        let query = if params.live_only {
            "?replay=false"
        } else {
            ""
        };
        posters.spawn(async move {
            let mut connection: Option<TcpStream> = None;
            loop {
                let next = receive.lock().await.recv().await;
                let Some(path) = next else { return };
                let job = path.rsplit('/').next().unwrap_or_default().to_owned();
                let sent = Instant::now();
                lock(&pending).insert(job.clone(), (sent, 0));
                let path = format!("{path}{query}");
                match crate::publish::post(&mut connection, &server, &path, b"").await {
                    Ok(()) => lock(&post_times).record(micros(sent.elapsed())),
                    Err(_) => {
                        connection = None;
                        lock(&pending).remove(&job);
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    let interval = Duration::from_secs_f64(1.0 / params.rate.max(1.0));
    for (i, job) in jobs.iter().enumerate() {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let path = format!(
            "{}/api/v1/sse/{}/subscribe/job/{job}",
            harness.routes.server.path,
            ids[i % ids.len()]
        );
        send.send(path).await?;
    }
    drop(send);
    while posters.join_next().await.is_some() {}
    let expected = params.subscribes as u64 - failed.load(Ordering::Relaxed);
    let timeout = Duration::from_secs_f64(params.timeout_secs);
    wait_until(
        || shared.reached() >= expected,
        || shared.reached(),
        Duration::from_secs(5),
        timeout,
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let server = harness.server_usage().since(&server_before);
    let redis = harness.redis_usage().since(&redis_before);
    readers.abort_all();
    let done = shared.reached();
    let (post, until) = (lock(&post_times), lock(&done_times));
    let ms = |h: &Histogram, q: f64| h.quantile(q) as f64 / 1000.0;
    Ok(Report {
        seconds,
        done,
        failed: failed.load(Ordering::Relaxed),
        post_p50_ms: ms(&post, 0.5),
        post_p99_ms: ms(&post, 0.99),
        done_p50_ms: ms(&until, 0.5),
        done_p99_ms: ms(&until, 0.99),
        cpu_ms_per_subscribe: (server.cpu_seconds + redis.cpu_seconds) * 1000.0
            / done.max(1) as f64,
        server,
        redis,
        params,
    })
}

/// Gives every job `events` events in its history, 32 publishes at a time.
async fn seed_histories(
    harness: &Harness,
    jobs: &[String],
    events: u64,
    size: usize,
) -> anyhow::Result<()> {
    let publisher = harness.publisher().await?;
    let mut tasks = JoinSet::new();
    for part in jobs.chunks(jobs.len().div_ceil(32).max(1)) {
        let (publisher, part) = (publisher.clone(), part.to_vec());
        tasks.spawn(async move {
            for job in part {
                for seq in 1..=events {
                    let event = payload::event(&job, seq, payload::now_micros(), size);
                    publisher.publish(&job, event).await?;
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

/// Reads the stream's `connected` event and returns its connection id.
async fn connection_id(stream: &mut SseStream) -> anyhow::Result<String> {
    let mut id = None;
    while id.is_none() {
        anyhow::ensure!(stream.fill().await?, "the stream closed before `connected`");
        stream.drain(&mut |event: Event<'_>| {
            if event.name == b"connected" {
                id = field(event.data, "connectionId").map(str::to_owned);
            }
        })?;
    }
    id.ok_or_else(|| anyhow::anyhow!("no connection id"))
}
