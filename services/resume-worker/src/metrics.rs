//! Metric names of the worker, in one place, with their descriptions, and the queue-depth
//! source read at scrape time. docs/operations.md lists them; the dashboards and alerts in
//! charts/resume-progress query them.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

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
pub const WAITING_BY_ORGANISATION: &str = "worker_waiting_jobs_by_organisation";

/// Organisations with a series of their own in `WAITING_BY_ORGANISATION`; the rest are
/// `other`.
const TOP_ORGANISATIONS: usize = 10;
const OTHER: &str = "other";

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
    describe_gauge!(
        WAITING_BY_ORGANISATION,
        "Waiting jobs of the 10 organisations with the most, and of all others together (organisation=\"other\"), read from Redis at scrape time."
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
/// `cancelled` (since the queue was created) and `dead` (entries of the dead-letter stream);
/// and the waiting jobs of the organisations with the most.
pub struct QueueDepth {
    queue: Queue,
    /// Organisations with a series now: one that leaves the top is set to 0 once.
    reported: Mutex<BTreeSet<String>>,
}

/// The top organisations' waiting jobs and `other` for the rest of `waiting`.
fn with_other(waiting: u64, top: Vec<(String, u64)>) -> Vec<(String, u64)> {
    let listed: u64 = top.iter().map(|(_, n)| n).sum();
    let mut series: Vec<(String, u64)> = Vec::with_capacity(top.len() + 1);
    let mut other = waiting.saturating_sub(listed);
    for (organisation, n) in top {
        // An organisation literally named like the bucket is counted in it.
        if organisation == OTHER {
            other += n;
        } else {
            series.push((organisation, n));
        }
    }
    series.push((OTHER.to_owned(), other));
    series
}

impl QueueDepth {
    pub fn new(queue: Queue) -> Self {
        Self {
            queue,
            reported: Mutex::new(BTreeSet::new()),
        }
    }

    async fn refresh_organisations(&self, waiting: u64) {
        let name = self.queue.name().to_owned();
        let top = match self.queue.waiting_by_organisation(TOP_ORGANISATIONS).await {
            Ok(top) => top,
            Err(error) => {
                tracing::debug!(%error, queue = %name, "reading waiting jobs by organisation failed");
                return;
            }
        };
        let series = with_other(waiting, top);
        let now: BTreeSet<String> = series.iter().map(|(org, _)| org.clone()).collect();
        let gone: Vec<String> = {
            let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
            let gone = reported.difference(&now).cloned().collect();
            *reported = now;
            gone
        };
        for organisation in gone {
            metrics::gauge!(WAITING_BY_ORGANISATION, "queue" => name.clone(), "organisation" => organisation)
                .set(0.0);
        }
        for (organisation, n) in series {
            metrics::gauge!(WAITING_BY_ORGANISATION, "queue" => name.clone(), "organisation" => organisation)
                .set(n as f64);
        }
    }

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
                self.refresh_organisations(counts.waiting).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_holds_the_waiting_jobs_outside_the_top() {
        let top = vec![("org-a".to_owned(), 50), ("org-b".to_owned(), 20)];
        assert_eq!(
            with_other(100, top),
            [
                ("org-a".to_owned(), 50),
                ("org-b".to_owned(), 20),
                ("other".to_owned(), 30)
            ]
        );
        // Counts read at slightly different moments never make `other` negative.
        assert_eq!(
            with_other(10, vec![("org-a".to_owned(), 12)]),
            [("org-a".to_owned(), 12), ("other".to_owned(), 0)]
        );
        assert_eq!(with_other(0, Vec::new()), [("other".to_owned(), 0)]);
        assert_eq!(
            with_other(5, vec![("other".to_owned(), 3)]),
            [("other".to_owned(), 5)]
        );
    }
}
