//! Fan-out: C streams over K job channels (subscribed at connect), E sequenced, timestamped
//! events published at R per second. Measures publish-to-client latency, deliveries per
//! second, lost / duplicated / reordered events, and the CPU the server and its Redis spent
//! per million deliveries.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{
    Failures, Harness, Published, Shared, events_on_channel, open_many, publish_paced, wait_until,
    watch,
};
use crate::procfs::Delta;
use crate::tracking::{Totals, Tracker};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Params {
    pub clients: usize,
    pub channels: usize,
    pub events: u64,
    /// Events per second (0: as fast as possible).
    pub rate: f64,
    /// Event size in bytes (the published JSON).
    pub size: usize,
    pub publish_in_flight: usize,
    /// Give up waiting for deliveries after this long without any.
    pub settle_secs: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub params: Params,
    pub streams_open: usize,
    pub open_failures: Failures,
    /// Streams that never received a warm-up event (not subscribed end to end).
    pub not_ready: u64,
    /// Streams the server ended during the run.
    pub ended_early: u64,
    pub published: Published,
    pub totals: Totals,
    pub latency: Latency,
    /// From the first publish to the last delivery.
    pub seconds: f64,
    pub deliveries_per_second: f64,
    pub server: Delta,
    pub redis: Delta,
    pub server_cpu_per_million: f64,
    pub redis_cpu_per_million: f64,
    /// Deliveries per CPU-second of the server and Redis together.
    pub deliveries_per_cpu_second: f64,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub async fn run(harness: &Harness, params: Params) -> anyhow::Result<Report> {
    anyhow::ensure!(params.channels >= 1, "--channels must be at least 1");
    let channels: Vec<String> = (0..params.channels).map(|k| harness.channel(k)).collect();
    let publisher = harness.publisher().await?;
    let (opened, open_failures) = open_many(
        harness,
        params.clients,
        harness.connect_concurrency,
        3,
        Duration::from_millis(500),
        |i| channels[i % channels.len()].clone(),
        |_| None,
    )
    .await;

    let shared = Arc::new(Shared::default());
    let stop = CancellationToken::new();
    let mut readers = JoinSet::new();
    let mut streams_open = 0;
    let mut expected_total = 0;
    for (i, opened) in opened.into_iter().enumerate() {
        let Some(opened) = opened else { continue };
        streams_open += 1;
        let k = (i % channels.len()) as u64;
        let expected = events_on_channel(params.events, channels.len() as u64, k);
        expected_total += expected;
        let watched = watch(
            opened.stream,
            Tracker::new(expected),
            0,
            shared.clone(),
            stop.clone(),
            false,
        );
        readers.spawn(async move { (expected, watched.await) });
    }

    // Warm-up: one event per channel until every stream has seen one, so the measurement
    // starts with every subscription live end to end.
    for _round in 0..10 {
        publish_paced(
            &publisher,
            channels.len() as u64,
            0.0,
            params.publish_in_flight,
            params.size,
            |n| (channels[n as usize].clone(), 0),
        )
        .await;
        let all = streams_open as u64;
        if wait_until(
            || shared.reached() >= all,
            || shared.reached(),
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .await
        {
            break;
        }
    }
    let not_ready = streams_open as u64 - shared.reached().min(streams_open as u64);

    let server_before = harness.server_usage();
    let redis_before = harness.redis_usage();
    let started_micros = crate::payload::now_micros();
    let published = publish_paced(
        &publisher,
        params.events,
        params.rate,
        params.publish_in_flight,
        params.size,
        |n| {
            let k = (n % channels.len() as u64) as usize;
            (channels[k].clone(), n / channels.len() as u64 + 1)
        },
    )
    .await;
    // Events whose publish failed are expected too: they show as lost, and as failed.
    wait_until(
        || shared.delivered() >= expected_total,
        || shared.delivered(),
        Duration::from_secs_f64(params.settle_secs),
        Duration::from_secs(600),
    )
    .await;
    let server = harness.server_usage().since(&server_before);
    let redis = harness.redis_usage().since(&redis_before);
    stop.cancel();

    let mut totals = Totals::default();
    let mut ended_early = 0;
    while let Some(joined) = readers.join_next().await {
        let Ok((expected, watched)) = joined else {
            continue;
        };
        totals.add(&watched.tracker, expected);
        ended_early += u64::from(watched.ended_early);
    }
    let histogram = shared.latency.lock().map(|h| h.clone()).unwrap_or_default();
    let last = shared
        .last_delivery
        .load(std::sync::atomic::Ordering::Relaxed);
    let seconds = (last.saturating_sub(started_micros) as f64 / 1e6).max(1e-3);
    let delivered = totals.received;
    let per_million = |cpu: f64| {
        if delivered == 0 {
            0.0
        } else {
            cpu / delivered as f64 * 1e6
        }
    };
    let cpu = server.cpu_seconds + redis.cpu_seconds;
    Ok(Report {
        streams_open,
        open_failures,
        not_ready,
        ended_early,
        published,
        totals,
        latency: Latency {
            p50_ms: ms(histogram.quantile(0.50)),
            p90_ms: ms(histogram.quantile(0.90)),
            p99_ms: ms(histogram.quantile(0.99)),
            max_ms: ms(histogram.max()),
            mean_ms: histogram.mean() / 1000.0,
        },
        seconds,
        deliveries_per_second: delivered as f64 / seconds,
        server_cpu_per_million: per_million(server.cpu_seconds),
        redis_cpu_per_million: per_million(redis.cpu_seconds),
        deliveries_per_cpu_second: if cpu > 0.0 {
            delivered as f64 / cpu
        } else {
            0.0
        },
        server,
        redis,
        params,
    })
}

impl Report {
    pub fn human(&self) -> Vec<String> {
        let p = &self.params;
        let t = &self.totals;
        let l = &self.latency;
        vec![
            format!(
                "fanout: {} streams open ({} failed to open, {} not ready) over {} channels; {} events of {} B at {}/s",
                self.streams_open,
                self.open_failures.total,
                self.not_ready,
                p.channels,
                p.events,
                p.size,
                p.rate
            ),
            format!(
                "  published {} ({} failed) in {:.1} s; delivered {} of {} expected in {:.1} s = {:.0}/s",
                self.published.sent,
                self.published.failed,
                self.published.seconds,
                t.received,
                t.expected,
                self.seconds,
                self.deliveries_per_second
            ),
            format!(
                "  lost {}  duplicated {}  reordered {}  streams ended early {}",
                t.lost, t.duplicated, t.reordered, self.ended_early
            ),
            format!(
                "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
            ),
            format!(
                "  CPU s: server {:.2}  redis {:.2}  per M deliveries: server {:.2}  redis {:.2}  deliveries per CPU-second {:.0}",
                self.server.cpu_seconds,
                self.redis.cpu_seconds,
                self.server_cpu_per_million,
                self.redis_cpu_per_million,
                self.deliveries_per_cpu_second
            ),
        ]
    }
}
