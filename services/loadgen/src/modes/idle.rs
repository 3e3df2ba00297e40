//! Idle streams: the server's (and its Redis') memory per open stream that receives nothing
//! but heartbeats: (after − before) / C of `VmRSS` (and of `Pss`, fair for multi-process
//! servers such as nginx), read from `/proc`.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Failures, Harness, Shared, open_many, watch};
use crate::procfs::{Delta, Usage};
use crate::tracking::Tracker;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Params {
    pub clients: usize,
    pub channels: usize,
    /// How long the streams are held before memory is read again.
    pub hold_secs: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub params: Params,
    pub streams_open: usize,
    pub open_failures: Failures,
    pub seconds_to_open: f64,
    pub ended_early: u64,
    pub server_before: Usage,
    pub server: Delta,
    pub redis: Delta,
    pub server_rss_per_stream_kib: f64,
    pub server_pss_per_stream_kib: f64,
    pub redis_rss_per_stream_kib: f64,
}

pub async fn run(harness: &Harness, params: Params) -> anyhow::Result<Report> {
    anyhow::ensure!(params.channels >= 1, "--channels must be at least 1");
    let server_before = harness.server_usage();
    let redis_before = harness.redis_usage();
    let started = std::time::Instant::now();
    let (opened, open_failures) = open_many(
        harness,
        params.clients,
        harness.connect_concurrency,
        3,
        Duration::from_millis(500),
        |i| harness.channel(i % params.channels),
        |_| None,
    )
    .await;
    let seconds_to_open = started.elapsed().as_secs_f64();
    let shared = Arc::new(Shared::default());
    let stop = CancellationToken::new();
    let mut readers = JoinSet::new();
    let mut streams_open = 0;
    for opened in opened.into_iter().flatten() {
        streams_open += 1;
        readers.spawn(watch(
            opened.stream,
            Tracker::new(0),
            0,
            shared.clone(),
            stop.clone(),
            false,
        ));
    }
    tokio::time::sleep(Duration::from_secs_f64(params.hold_secs)).await;
    let server = harness.server_usage().since(&server_before);
    let redis = harness.redis_usage().since(&redis_before);
    stop.cancel();
    let mut ended_early = 0;
    while let Some(joined) = readers.join_next().await {
        ended_early += u64::from(joined.is_ok_and(|w| w.ended_early));
    }
    let per_stream = |kib: i64| kib as f64 / streams_open.max(1) as f64;
    Ok(Report {
        streams_open,
        open_failures,
        seconds_to_open,
        ended_early,
        server_before,
        server_rss_per_stream_kib: per_stream(server.rss_kib),
        server_pss_per_stream_kib: per_stream(server.pss_kib),
        redis_rss_per_stream_kib: per_stream(redis.rss_kib),
        server,
        redis,
        params,
    })
}

impl Report {
    pub fn human(&self) -> Vec<String> {
        vec![
            format!(
                "idle: {} streams open ({} failed) over {} channels in {:.1} s, held {:.0} s ({} ended early)",
                self.streams_open,
                self.open_failures.total,
                self.params.channels,
                self.seconds_to_open,
                self.params.hold_secs,
                self.ended_early
            ),
            format!(
                "  server RSS {} KiB before, +{} KiB: {:.2} KiB per stream (PSS {:.2} KiB); CPU {:.2} s",
                self.server_before.rss_kib,
                self.server.rss_kib,
                self.server_rss_per_stream_kib,
                self.server_pss_per_stream_kib,
                self.server.cpu_seconds
            ),
            format!(
                "  redis RSS +{} KiB: {:.2} KiB per stream; CPU {:.2} s",
                self.redis.rss_kib, self.redis_rss_per_stream_kib, self.redis.cpu_seconds
            ),
        ]
    }
}
