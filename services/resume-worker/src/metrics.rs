//! Metric names of the worker, in one place, with their descriptions, and the queue-depth
//! source read at scrape time. docs/operations.md lists them; the dashboards and alerts in
//! charts/resume-progress query them.

use std::future::Future;
use std::pin::Pin;

use fred::prelude::StreamsInterface;
use job_queue::Queue;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use service_runtime::metrics::Collect;

pub const JOBS: &str = "worker_jobs_total";
pub const JOB_DURATION: &str = "worker_job_duration_seconds";
pub const STAGE_DURATION: &str = "worker_stage_duration_seconds";
pub const IN_FLIGHT: &str = "worker_jobs_in_flight";
pub const RETRIES: &str = "worker_retries_total";
pub const RECLAIMS: &str = "worker_reclaims_total";
pub const PARSE_FAILURES: &str = "worker_parse_failures_total";
pub const QUEUE_DEPTH: &str = "worker_queue_depth";
pub const PARSE_CHILD_DURATION: &str = "worker_parse_child_duration_seconds";

/// `JOBS`' `outcome` values.
const OUTCOMES: &[&str] = &[
    "completed",
    "retrying",
    "failed",
    "duplicate",
    "ignored",
    "cancelled",
];

/// Registers descriptions so `/metrics` explains every series, and creates the series whose
/// label values are known in advance at zero, so that rates and ratios over them exist
/// before the first failure, retry or reclaim.
pub fn describe() {
    // Descriptions go to the recorder installed at the time: install it first.
    service_runtime::metrics::install();
    describe_counter!(JOBS, "Job attempts finished by this worker, by outcome.");
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "Time from claim to outcome of one attempt."
    );
    describe_histogram!(
        STAGE_DURATION,
        Unit::Seconds,
        "Time spent in each analysis stage."
    );
    describe_gauge!(IN_FLIGHT, "Jobs running now.");
    describe_counter!(RETRIES, "Attempts that failed and were scheduled again.");
    describe_counter!(RECLAIMS, "Jobs taken over from a worker that stopped.");
    describe_counter!(PARSE_FAILURES, "Documents that could not be read, by kind.");
    describe_histogram!(
        PARSE_CHILD_DURATION,
        Unit::Seconds,
        "Life of one document-reading child process, from start to answer or kill."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Jobs of the queue per state, read from Redis at scrape time (every worker of a queue reports the same values)."
    );

    metrics::gauge!(IN_FLIGHT).increment(0.0);
    metrics::counter!(RETRIES).increment(0);
    metrics::counter!(RECLAIMS).increment(0);
    for outcome in OUTCOMES {
        metrics::counter!(JOBS, "outcome" => *outcome).increment(0);
    }
}

/// Reads the depth of one queue per state when `/metrics` is scraped: `waiting`, `active`,
/// `delayed` (waiting for a retry), `failed` (failed for good; kept until the job's TTL),
/// `cancelled` (since the queue was created) and `dead` (entries of the dead-letter stream).
pub struct QueueDepth {
    pub queue: Queue,
}

impl QueueDepth {
    async fn refresh(&self) {
        let name = self.queue.name().to_owned();
        let dead = self.queue.client().xlen::<u64, _>(self.queue.keys().dead());
        let (counts, dead) = tokio::join!(self.queue.counts(), dead);
        match (counts, dead) {
            (Ok(counts), Ok(dead)) => {
                for (state, value) in [
                    ("waiting", counts.waiting),
                    ("active", counts.active),
                    ("delayed", counts.delayed),
                    ("failed", counts.failed),
                    ("cancelled", counts.cancelled),
                    ("dead", dead),
                ] {
                    metrics::gauge!(QUEUE_DEPTH, "queue" => name.clone(), "state" => state)
                        .set(value as f64);
                }
            }
            (Err(error), _) => {
                tracing::debug!(%error, queue = %name, "reading queue counts failed")
            }
            (_, Err(error)) => {
                tracing::debug!(%error, queue = %name, "reading the dead-letter length failed")
            }
        }
    }
}

impl Collect for QueueDepth {
    fn collect(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.refresh())
    }
}
