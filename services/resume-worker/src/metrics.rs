//! Metric names of the worker, in one place, with their descriptions.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

pub const JOBS: &str = "worker_jobs_total";
pub const JOB_DURATION: &str = "worker_job_duration_work_seconds";
pub const STAGE_DURATION: &str = "worker_stage_duration_work_seconds";
pub const IN_FLIGHT: &str = "worker_jobs_in_flight";
pub const RETRIES: &str = "worker_retries_total";
pub const RECLAIMS: &str = "worker_reclaims_total";
pub const PARSE_FAILURES: &str = "worker_parse_failures_total";

pub fn describe() {
    describe_counter!(JOBS, "Jobs finished by this worker, by outcome.");
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
}
