//! The runs, and what they share: opening many streams with bounded concurrency, watching
//! streams for sequenced events, publishing at a rate.
//!
//! - [`idle`]: memory per idle stream.
//! - [`fanout`]: publish-to-client latency, deliveries per second and per CPU-second.
//! - [`connect`]: connection rate and a reconnect storm with `Last-Event-ID`.
//! - [`subscribe`]: the cost of new subscriptions, with and without their first delivery.
//! - [`drain`]: streams moving off a draining gateway onto the others, events flowing.

pub mod connect;
pub mod drain;
pub mod fanout;
pub mod idle;
pub mod subscribe;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::client::{OpenError, SseStream};
use crate::histogram::Histogram;
use crate::payload;
use crate::procfs::Usage;
use crate::publish::Publisher;
use crate::sources::Sources;
use crate::target::Routes;
use crate::tracking::Tracker;

/// Everything a run needs to reach and observe its target.
pub struct Harness {
    pub routes: Routes,
    pub sources: Arc<Sources>,
    /// The server's processes (the gateway, or nginx's master and workers).
    pub server_pids: Vec<u32>,
    /// The Redis behind the server.
    pub redis_pids: Vec<u32>,
    /// Where the gateway's events are published (its Redis).
    pub redis_url: String,
    /// Unique per run, so channels never meet an earlier run's history.
    pub run_id: String,
    pub connect_concurrency: usize,
    /// Publishing connections to Nchan.
    pub nchan_publishers: usize,
}

impl Harness {
    /// The name of channel `k` (a job id).
    pub fn channel(&self, k: usize) -> String {
        format!("bench-{}-{k}", self.run_id)
    }

    pub fn server_usage(&self) -> Usage {
        Usage::of(&self.server_pids)
    }

    pub fn redis_usage(&self) -> Usage {
        Usage::of(&self.redis_pids)
    }

    pub async fn publisher(&self) -> anyhow::Result<Publisher> {
        match self.routes.kind {
            crate::target::Kind::Gateway => Publisher::gateway(&self.redis_url).await,
            crate::target::Kind::Nchan => Ok(Publisher::nchan(&self.routes, self.nchan_publishers)),
        }
    }
}

/// A stream that opened, and how long it took (with retries).
pub struct Opened {
    pub stream: SseStream,
    pub took: Duration,
    pub attempts: u32,
}

/// Failures while opening, by kind.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Failures {
    pub total: u64,
    pub by_kind: std::collections::BTreeMap<String, u64>,
}

impl Failures {
    pub fn add(&mut self, error: &OpenError) {
        self.total += 1;
        *self.by_kind.entry(error.label()).or_default() += 1;
    }
}

/// Opens stream `i` of `count` on `channel_of(i)`, at most `concurrency` at a time; a
/// failed open is tried again after `retry_after` up to `attempts` times in all (as
/// EventSource retries). Streams are returned in order; `None` for those that never opened.
pub async fn open_many(
    harness: &Harness,
    count: usize,
    concurrency: usize,
    attempts: u32,
    retry_after: Duration,
    channel_of: impl Fn(usize) -> String,
    last_id_of: impl Fn(usize) -> Option<String>,
) -> (Vec<Option<Opened>>, Failures) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let sources = harness.sources.clone();
        let server = harness.routes.server.clone();
        let path = harness.routes.stream_path(&channel_of(i));
        let last_id = last_id_of(i);
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let (opened, errors) = open_with_retries(
                &sources,
                &server,
                &path,
                last_id.as_deref(),
                attempts,
                retry_after,
            )
            .await;
            (i, opened, errors)
        });
    }
    let mut opened: Vec<Option<Opened>> = (0..count).map(|_| None).collect();
    let mut failures = Failures::default();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, stream, errors)) = joined else {
            continue;
        };
        for error in &errors {
            failures.add(error);
        }
        if first_error.is_none() {
            first_error = errors.into_iter().next();
        }
        opened[i] = stream;
    }
    if let Some(error) = first_error {
        warn(&format!("first failure while opening streams: {error}"));
    }
    (opened, failures)
}

/// Opens one stream, trying again after `retry_after` up to `attempts` times in all.
pub async fn open_with_retries(
    sources: &Sources,
    server: &crate::target::Endpoint,
    path: &str,
    last_id: Option<&str>,
    attempts: u32,
    retry_after: Duration,
) -> (Option<Opened>, Vec<OpenError>) {
    let started = Instant::now();
    let mut errors = Vec::new();
    for attempt in 1..=attempts.max(1) {
        match SseStream::open(sources, server, path, last_id).await {
            Ok(stream) => {
                let opened = Opened {
                    stream,
                    took: started.elapsed(),
                    attempts: attempt,
                };
                return (Some(opened), errors);
            }
            Err(error) => {
                errors.push(error);
                if attempt < attempts {
                    tokio::time::sleep(retry_after).await;
                }
            }
        }
    }
    (None, errors)
}

/// Failures are part of the report; the first one is also shown as it happened.
fn warn(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "loadgen: {message}");
}

/// Counters every watched stream updates.
#[derive(Default)]
pub struct Shared {
    /// Measured events received (sequence ≥ 1).
    pub delivered: AtomicU64,
    /// Streams that have received their goal event.
    pub reached: AtomicU64,
    /// Time of the latest measured delivery (µs since the epoch).
    pub last_delivery: AtomicU64,
    pub latency: Mutex<Histogram>,
}

impl Shared {
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn reached(&self) -> u64 {
        self.reached.load(Ordering::Relaxed)
    }
}

/// What a watched stream saw, returned when it stops.
pub struct Watched {
    pub tracker: Tracker,
    pub last_id: String,
    /// When the goal event arrived.
    pub reached_at: Option<Instant>,
    /// The server ended the stream (or it failed) before `stop`.
    pub ended_early: bool,
    /// The reconnection time the server last asked for (`retry:`).
    pub retry: Option<Duration>,
    /// The stream, still open, when asked to keep it.
    pub stream: Option<SseStream>,
}

/// Reads `stream` until `stop`: every event with a sequence number ≥ 1 is counted in
/// `tracker` and its latency (now − its publish time) recorded; `goal` is the sequence number
/// whose first arrival counts the stream as `reached` (0: the warm-up event).
pub async fn watch(
    mut stream: SseStream,
    mut tracker: Tracker,
    goal: u64,
    shared: Arc<Shared>,
    stop: CancellationToken,
    keep: bool,
) -> Watched {
    let mut reached_at = None;
    let mut ended_early = false;
    loop {
        let filled = tokio::select! {
            () = stop.cancelled() => break,
            filled = stream.fill() => filled,
        };
        if !matches!(filled, Ok(true)) {
            ended_early = true;
            break;
        }
        let mut on_event = |event: crate::sse::Event<'_>| {
            let Some(marks) = payload::marks(event.data) else {
                return;
            };
            if marks.seq >= 1 {
                let now = payload::now_micros();
                if let Ok(mut latency) = shared.latency.lock() {
                    latency.record(now.saturating_sub(marks.ts_micros));
                }
                tracker.record(marks.seq);
                shared.delivered.fetch_add(1, Ordering::Relaxed);
                shared.last_delivery.fetch_max(now, Ordering::Relaxed);
            }
            if marks.seq == goal && reached_at.is_none() {
                reached_at = Some(Instant::now());
                shared.reached.fetch_add(1, Ordering::Relaxed);
            }
        };
        if !matches!(stream.drain(&mut on_event), Ok(true)) {
            ended_early = true;
            break;
        }
    }
    let last_id = stream.last_id();
    Watched {
        tracker,
        last_id,
        reached_at,
        ended_early,
        retry: stream.retry(),
        stream: keep.then_some(stream),
    }
}

/// Waits until `done()` or until nothing has changed in `progress()` for `quiet`, at most
/// `limit`. Returns whether `done()` became true.
pub async fn wait_until(
    done: impl Fn() -> bool,
    progress: impl Fn() -> u64,
    quiet: Duration,
    limit: Duration,
) -> bool {
    let started = Instant::now();
    let mut last = progress();
    let mut last_change = Instant::now();
    loop {
        if done() {
            return true;
        }
        if started.elapsed() > limit || last_change.elapsed() > quiet {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = progress();
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
}

/// Result of publishing a batch.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Published {
    pub sent: u64,
    pub failed: u64,
    pub seconds: f64,
    pub first_error: Option<String>,
}

/// Publishes `count` events, event `n` at `start + n / rate` (`rate` 0: as fast as
/// `in_flight` allows), with at most `in_flight` publishes outstanding. `event(n)` gives its
/// channel and sequence number; the payload (with the publish time) is built at send time.
pub async fn publish_paced(
    publisher: &Publisher,
    count: u64,
    rate: f64,
    in_flight: usize,
    size: usize,
    event: impl Fn(u64) -> (String, u64),
) -> Published {
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for n in 0..count {
        if rate > 0.0 {
            let due = started + Duration::from_secs_f64(n as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (channel, seq) = event(n);
        let publisher = publisher.clone();
        let failed = failed.clone();
        let first_error = first_error.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let body = payload::event(&channel, seq, payload::now_micros(), size);
            if let Err(error) = publisher.publish(&channel, body).await {
                failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = first_error.lock() {
                    first.get_or_insert_with(|| format!("{error:#}"));
                }
            }
        });
        // Reap finished tasks as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let failed = failed.load(Ordering::Relaxed);
    let first_error = first_error.lock().ok().and_then(|f| f.clone());
    Published {
        sent: count - failed,
        failed,
        seconds: started.elapsed().as_secs_f64(),
        first_error,
    }
}

/// How many of `events` (spread round robin over `channels`) channel `k` gets.
pub fn events_on_channel(events: u64, channels: u64, k: u64) -> u64 {
    events / channels + u64::from(k < events % channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_share_of_each_channel() {
        let shares: Vec<u64> = (0..4).map(|k| events_on_channel(10, 4, k)).collect();
        assert_eq!(shares, [3, 3, 2, 2]);
        assert_eq!(shares.iter().sum::<u64>(), 10);
    }
}
