//! A drain seen from the clients (gateway only): C streams spread round robin over several
//! gateways, sequenced events published on their channels at a steady rate, and each stream
//! behaving as EventSource does: when the server ends it, it waits the `retry:` the server
//! sent and reconnects with `Last-Event-ID`, to the next gateway in its list. Something else
//! (bench/drain_storm.sh) sends SIGTERM to one gateway while this runs; this reports when every
//! stream came back (Unix milliseconds, for the per-second curve), and what was lost or
//! duplicated. Several processes can share one run: each has its own channels.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Harness, Shared, events_on_channel, publish_paced, wait_until, watch};
use crate::client::SseStream;
use crate::payload;
use crate::target::Endpoint;
use crate::tracking::{Totals, Tracker};

/// EventSource's usual reconnection time when the server has not sent `retry:`.
const DEFAULT_RETRY: Duration = Duration::from_secs(3);
/// A reconnect whose response head has not come by then is tried again elsewhere.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, serde::Serialize)]
pub struct Params {
    pub clients: usize,
    pub channels: usize,
    /// Events published in all, spread round robin over the channels.
    pub events: u64,
    /// Events per second.
    pub rate: f64,
    pub size: usize,
    /// Seconds to wait, once publishing has ended, for every stream to have every event.
    pub timeout_secs: f64,
    /// Written (empty) once every stream is open, before publishing starts.
    pub ready_file: Option<String>,
    /// Milliseconds between the ready file and the first event.
    pub lead_ms: u64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub params: Params,
    pub gateways: Vec<String>,
    pub streams: usize,
    /// Streams whose first open never succeeded.
    pub never_opened: usize,
    /// Opens refused or failed, first opens and reconnects alike (each retried).
    pub failed_attempts: u64,
    /// Every reconnect that succeeded, in Unix milliseconds.
    pub reconnected_at_ms: Vec<u64>,
    /// Streams that reconnected at least once.
    pub streams_moved: usize,
    /// Streams that did not have every event of their channel at the end.
    pub streams_incomplete: usize,
    pub totals: Totals,
    pub published: super::Published,
    pub seconds: f64,
}

/// What one stream saw over all its connections.
struct Followed {
    tracker: Tracker,
    /// The last sequence number of its channel.
    goal: u64,
    opened: bool,
    failed_attempts: u64,
    reconnected_at_ms: Vec<u64>,
}

pub async fn run(
    harness: &Harness,
    gateways: Vec<Endpoint>,
    params: Params,
) -> anyhow::Result<Report> {
    anyhow::ensure!(params.channels >= 1, "--channels must be at least 1");
    anyhow::ensure!(!gateways.is_empty(), "at least one gateway");
    let started = std::time::Instant::now();
    let channels: Vec<String> = (0..params.channels).map(|k| harness.channel(k)).collect();
    let publisher = harness.publisher().await?;
    let gateways = Arc::new(gateways);
    let shared = Arc::new(Shared::default());
    let stop = CancellationToken::new();
    let first_opens = Arc::new(Semaphore::new(harness.connect_concurrency.max(1)));
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let mut streams = JoinSet::new();
    for i in 0..params.clients {
        let k = i % params.channels;
        let goal = events_on_channel(params.events, params.channels as u64, k as u64);
        let path = harness.routes.stream_path(&channels[k]);
        let follower = Follower {
            sources: harness.sources.clone(),
            gateways: gateways.clone(),
            first: i % gateways.len(),
            step: 1 + (i / gateways.len()) % (gateways.len() - 1).max(1),
            path,
            goal,
            shared: shared.clone(),
            stop: stop.clone(),
        };
        let (first_opens, opened_tx) = (first_opens.clone(), opened_tx.clone());
        streams.spawn(async move { follower.follow(first_opens, opened_tx).await });
    }
    drop(opened_tx);
    let mut never_opened = 0;
    for _ in 0..params.clients {
        match opened_rx.recv().await {
            Some(true) => {}
            Some(false) | None => never_opened += 1,
        }
    }
    // Let the subscriptions settle, then tell whoever drains a gateway that all are open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(path) = &params.ready_file {
        std::fs::write(path, b"")?;
    }
    tokio::time::sleep(Duration::from_millis(params.lead_ms)).await;
    let channel_count = params.channels as u64;
    let published = publish_paced(
        &publisher,
        params.events,
        params.rate,
        64,
        params.size,
        |n| {
            (
                channels[(n % channel_count) as usize].clone(),
                n / channel_count + 1,
            )
        },
    )
    .await;
    let expecting = (params.clients - never_opened) as u64;
    wait_until(
        || shared.reached() >= expecting,
        || shared.reached(),
        Duration::from_secs_f64(params.timeout_secs),
        Duration::from_secs_f64(params.timeout_secs),
    )
    .await;
    stop.cancel();
    let mut report = Report {
        gateways: gateways.iter().map(|g| g.addr.to_string()).collect(),
        streams: params.clients,
        never_opened,
        failed_attempts: 0,
        reconnected_at_ms: Vec::new(),
        streams_moved: 0,
        streams_incomplete: 0,
        totals: Totals::default(),
        published,
        seconds: 0.0,
        params,
    };
    while let Some(joined) = streams.join_next().await {
        let Ok(followed) = joined else { continue };
        report.failed_attempts += followed.failed_attempts;
        report.streams_moved += usize::from(!followed.reconnected_at_ms.is_empty());
        report
            .reconnected_at_ms
            .extend_from_slice(&followed.reconnected_at_ms);
        if followed.opened {
            report.totals.add(&followed.tracker, followed.goal);
            report.streams_incomplete += usize::from(followed.tracker.lost(followed.goal) > 0);
        }
    }
    report.reconnected_at_ms.sort_unstable();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One stream's client: its gateways in turn, its channel, and what it has seen.
struct Follower {
    sources: Arc<crate::sources::Sources>,
    gateways: Arc<Vec<Endpoint>>,
    first: usize,
    /// How far along the list a reconnect goes: the streams of one gateway spread evenly over
    /// the others, as a balancer would send them.
    step: usize,
    path: String,
    goal: u64,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Follower {
    async fn follow(
        self,
        first_opens: Arc<Semaphore>,
        opened: tokio::sync::mpsc::UnboundedSender<bool>,
    ) -> Followed {
        let mut followed = Followed {
            tracker: Tracker::new(self.goal + 1),
            goal: self.goal,
            opened: false,
            failed_attempts: 0,
            reconnected_at_ms: Vec::new(),
        };
        let mut turn = self.first;
        let mut last_id: Option<String> = None;
        let mut retry = DEFAULT_RETRY;
        // The first open: bounded concurrency, a few attempts, reported to the run.
        let permit = first_opens.acquire_owned().await;
        let mut stream = None;
        for _ in 0..3 {
            match SseStream::open(&self.sources, &self.gateways[turn], &self.path, None).await {
                Ok(opened) => {
                    stream = Some(opened);
                    break;
                }
                Err(_) => {
                    followed.failed_attempts += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        drop(permit);
        let _ = opened.send(stream.is_some());
        followed.opened = stream.is_some();
        while let Some(current) = stream.take() {
            let watched = watch(
                current,
                followed.tracker,
                self.goal,
                self.shared.clone(),
                self.stop.clone(),
                false,
            )
            .await;
            followed.tracker = watched.tracker;
            if !watched.last_id.is_empty() {
                last_id = Some(watched.last_id);
            }
            retry = watched.retry.unwrap_or(retry);
            if !watched.ended_early || self.stop.is_cancelled() {
                break;
            }
            // As EventSource: wait the server's `retry:`, then reconnect (here to the next
            // gateway, as a balancer would send it) until a stream opens or the run stops.
            while stream.is_none() && !self.stop.is_cancelled() {
                tokio::select! {
                    () = self.stop.cancelled() => break,
                    () = tokio::time::sleep(retry) => {}
                }
                turn = (turn + self.step) % self.gateways.len();
                let open = SseStream::open(
                    &self.sources,
                    &self.gateways[turn],
                    &self.path,
                    last_id.as_deref(),
                );
                // A gateway that does not answer (its accept queue full) counts as a failure.
                match tokio::time::timeout(OPEN_TIMEOUT, open)
                    .await
                    .unwrap_or(Err(crate::client::OpenError::Io(
                        std::io::ErrorKind::TimedOut.into(),
                    ))) {
                    Ok(opened) => {
                        followed
                            .reconnected_at_ms
                            .push(payload::now_micros() / 1000);
                        stream = Some(opened);
                    }
                    Err(_) => followed.failed_attempts += 1,
                }
            }
        }
        followed
    }
}

impl Report {
    pub fn human(&self) -> Vec<String> {
        let t = &self.totals;
        vec![
            format!(
                "{} streams over {} gateways ({} never opened, {} failed attempts, retried); {} moved, {} reconnects",
                self.streams,
                self.gateways.len(),
                self.never_opened,
                self.failed_attempts,
                self.streams_moved,
                self.reconnected_at_ms.len()
            ),
            format!(
                "events: {} published ({} failed), {} expected, {} received, lost {}, duplicated {}, reordered {}; {} streams incomplete",
                self.published.sent,
                self.published.failed,
                t.expected,
                t.received,
                t.lost,
                t.duplicated,
                t.reordered,
                self.streams_incomplete
            ),
        ]
    }
}
