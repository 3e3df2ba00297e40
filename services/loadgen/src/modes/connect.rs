//! Connections: how fast C streams open, then the cost of a reconnect storm. Every stream
//! gets one event (so it has a `Last-Event-ID`), all C streams are dropped at once, one more
//! event is published on every channel while they are away, and all C reconnect at once with
//! `Last-Event-ID` (a failed attempt is tried again after a second, as EventSource would).
//! A stream has resumed when the event it missed arrives.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use tokio::sync::Semaphore;

use super::{
    Failures, Harness, Shared, open_many, open_with_retries, publish_paced, wait_until, watch,
};
use crate::histogram::Histogram;
use crate::procfs::Delta;
use crate::tracking::Tracker;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Params {
    pub clients: usize,
    pub channels: usize,
    /// Streams reconnecting at the same time in the storm (all of them by default).
    pub storm_concurrency: usize,
    pub size: usize,
    pub timeout_secs: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Phase {
    pub streams: usize,
    pub failed: Failures,
    /// Retried opens that succeeded later.
    pub retries: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub server: Delta,
    pub redis: Delta,
    /// (server + Redis) CPU milliseconds per stream opened.
    pub cpu_ms_per_stream: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub params: Params,
    pub connect: Phase,
    /// Streams that got their first event (and so an id to resume from).
    pub primed: u64,
    pub storm: Phase,
    /// Resumed streams that never received the event published while they were away.
    pub lost: u64,
    pub duplicated: u64,
    /// Streams back only after the run stopped waiting (no stream had made progress for the
    /// stall window). Each is still watched for `LATE_GRACE`, and counted as lost if the
    /// missed event does not come; they are not in the storm's timings.
    pub late: u64,
}

/// How long a stream back after the run stopped waiting is still watched for the missed event.
const LATE_GRACE: Duration = Duration::from_secs(10);

/// How one stream's reconnect ended.
enum Reconnect {
    /// Every attempt failed.
    Failed,
    /// Back only after the run stopped waiting; watched for `LATE_GRACE` more.
    Late(crate::modes::Watched),
    Watched(u32, crate::modes::Watched),
}

/// Figures of one phase from what it measured.
fn phase(
    streams: usize,
    failed: Failures,
    retries: u64,
    seconds: f64,
    times: &Histogram,
    (server, redis): (Delta, Delta),
) -> Phase {
    let cpu = server.cpu_seconds + redis.cpu_seconds;
    Phase {
        streams,
        failed,
        retries,
        seconds,
        per_second: streams as f64 / seconds.max(1e-3),
        p50_ms: times.quantile(0.5) as f64 / 1000.0,
        p99_ms: times.quantile(0.99) as f64 / 1000.0,
        max_ms: times.max() as f64 / 1000.0,
        server,
        redis,
        cpu_ms_per_stream: cpu * 1000.0 / streams.max(1) as f64,
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

pub async fn run(harness: &Harness, params: Params) -> anyhow::Result<Report> {
    anyhow::ensure!(params.channels >= 1, "--channels must be at least 1");
    let channels: Vec<String> = (0..params.channels).map(|k| harness.channel(k)).collect();
    let channel_of = |i: usize| channels[i % channels.len()].clone();
    let publisher = harness.publisher().await?;
    let timeout = Duration::from_secs_f64(params.timeout_secs);

    // Opening C streams.
    let server_before = harness.server_usage();
    let redis_before = harness.redis_usage();
    let started = Instant::now();
    let (opened, failed) = open_many(
        harness,
        params.clients,
        harness.connect_concurrency,
        3,
        Duration::from_secs(1),
        channel_of,
        |_| None,
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let usage = (
        harness.server_usage().since(&server_before),
        harness.redis_usage().since(&redis_before),
    );
    let mut times = Histogram::default();
    let mut retries = 0;
    for opened in opened.iter().flatten() {
        times.record(micros(opened.took));
        retries += u64::from(opened.attempts - 1);
    }
    let streams = opened.iter().flatten().count();
    let connect = phase(streams, failed, retries, seconds, &times, usage);

    // One event each, so every stream has an id to resume from.
    let shared = Arc::new(Shared::default());
    let stop = CancellationToken::new();
    let mut readers = JoinSet::new();
    for (i, opened) in opened.into_iter().enumerate() {
        let Some(opened) = opened else { continue };
        let watched = watch(
            opened.stream,
            Tracker::new(2),
            1,
            shared.clone(),
            stop.clone(),
            false,
        );
        readers.spawn(async move { (i, watched.await) });
    }
    let open = connect.streams as u64;
    // Let subscriptions settle (Nchan subscribes to Redis after answering).
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish_paced(
        &publisher,
        channels.len() as u64,
        0.0,
        64,
        params.size,
        |n| (channels[n as usize].clone(), 1),
    )
    .await;
    wait_until(
        || shared.reached() >= open,
        || shared.reached(),
        Duration::from_secs(5),
        timeout,
    )
    .await;
    let primed = shared.reached();

    // The storm: every stream dropped at once, one event missed, every stream back at once.
    let server_before = harness.server_usage();
    let redis_before = harness.redis_usage();
    stop.cancel();
    let mut previous: Vec<Option<(Tracker, String)>> = (0..params.clients).map(|_| None).collect();
    while let Some(joined) = readers.join_next().await {
        if let Ok((i, watched)) = joined
            && watched.reached_at.is_some()
            && !watched.last_id.is_empty()
        {
            previous[i] = Some((watched.tracker, watched.last_id));
        }
    }
    publish_paced(
        &publisher,
        channels.len() as u64,
        0.0,
        64,
        params.size,
        |n| (channels[n as usize].clone(), 2),
    )
    .await;
    let storm_started = Instant::now();
    // Each stream is watched as soon as it is back, so its time to the missed event is its own.
    let shared = Arc::new(Shared::default());
    let stop = CancellationToken::new();
    let permits = Arc::new(Semaphore::new(params.storm_concurrency.max(1)));
    let mut readers = JoinSet::new();
    for (i, previous) in previous.into_iter().enumerate() {
        let Some((tracker, last_id)) = previous else {
            continue;
        };
        let sources = harness.sources.clone();
        let server = harness.routes.server.clone();
        let path = harness.routes.stream_path(&channel_of(i));
        let (shared, stop, permits) = (shared.clone(), stop.clone(), permits.clone());
        readers.spawn(async move {
            let permit = permits.acquire_owned().await;
            let (opened, errors) = open_with_retries(
                &sources,
                &server,
                &path,
                Some(&last_id),
                10,
                Duration::from_secs(1),
            )
            .await;
            drop(permit);
            let outcome = match opened {
                Some(opened) if stop.is_cancelled() => {
                    let grace = CancellationToken::new();
                    let timer = tokio::spawn({
                        let grace = grace.clone();
                        async move {
                            tokio::time::sleep(LATE_GRACE).await;
                            grace.cancel();
                        }
                    });
                    let watched = watch(opened.stream, tracker, 2, shared, grace, false).await;
                    timer.abort();
                    Reconnect::Late(watched)
                }
                Some(opened) => {
                    let watched = watch(opened.stream, tracker, 2, shared, stop, false).await;
                    Reconnect::Watched(opened.attempts, watched)
                }
                None => Reconnect::Failed,
            };
            (outcome, errors)
        });
    }
    let resuming = readers.len() as u64;
    wait_until(
        || shared.reached() >= resuming,
        || shared.reached(),
        Duration::from_secs(5),
        timeout,
    )
    .await;
    let seconds = storm_started.elapsed().as_secs_f64();
    let server = harness.server_usage().since(&server_before);
    let redis = harness.redis_usage().since(&redis_before);
    stop.cancel();
    let mut times = Histogram::default();
    let mut last_resumed = Duration::ZERO;
    let mut failed = Failures::default();
    let (mut streams, mut lost, mut duplicated, mut retries, mut late) = (0, 0, 0, 0, 0);
    while let Some(joined) = readers.join_next().await {
        let Ok((watched, errors)) = joined else {
            continue;
        };
        for error in &errors {
            failed.add(error);
        }
        let (attempts, watched) = match watched {
            Reconnect::Watched(attempts, watched) => (attempts, watched),
            Reconnect::Late(watched) => {
                late += 1;
                lost += u64::from(!watched.tracker.has(2));
                duplicated += watched.tracker.duplicated;
                continue;
            }
            Reconnect::Failed => {
                lost += 1;
                continue;
            }
        };
        streams += 1;
        retries += u64::from(attempts - 1);
        lost += u64::from(!watched.tracker.has(2));
        duplicated += watched.tracker.duplicated;
        if let Some(at) = watched.reached_at {
            let took = at.duration_since(storm_started);
            last_resumed = last_resumed.max(took);
            times.record(micros(took));
        }
    }
    let seconds = if last_resumed.is_zero() {
        seconds
    } else {
        last_resumed.as_secs_f64()
    };
    let storm = phase(streams, failed, retries, seconds, &times, (server, redis));
    Ok(Report {
        params,
        connect,
        primed,
        storm,
        lost,
        duplicated,
        late,
    })
}

impl Report {
    pub fn human(&self) -> Vec<String> {
        let c = &self.connect;
        let s = &self.storm;
        vec![
            format!(
                "connect: {} streams opened ({} failed attempts) in {:.2} s = {:.0}/s; time to open p50 {:.1} ms p99 {:.1} ms; CPU server {:.2} s redis {:.2} s = {:.3} ms per stream",
                c.streams,
                c.failed.total,
                c.seconds,
                c.per_second,
                c.p50_ms,
                c.p99_ms,
                c.server.cpu_seconds,
                c.redis.cpu_seconds,
                c.cpu_ms_per_stream
            ),
            format!(
                "storm: {} of {} primed streams resumed with Last-Event-ID in {:.2} s ({} failed attempts, retried); time to the missed event p50 {:.0} ms p99 {:.0} ms max {:.0} ms",
                s.streams, self.primed, s.seconds, s.failed.total, s.p50_ms, s.p99_ms, s.max_ms
            ),
            format!(
                "  missed event lost {}  duplicated {}; {} back only after the run stopped waiting (watched {} s more); CPU server {:.2} s redis {:.2} s = {:.3} ms per reconnect",
                self.lost,
                self.duplicated,
                self.late,
                LATE_GRACE.as_secs(),
                s.server.cpu_seconds,
                s.redis.cpu_seconds,
                s.cpu_ms_per_stream
            ),
        ]
    }
}
