//! resume-worker: takes résumé-analysis jobs from the Redis queue, analyses each résumé and
//! publishes progress at every stage.
//!
//! - [`config`]: environment variables.
//! - [`app`]: build (connect) and run (take jobs, drain, stop).
//! - [`runner`]: the job loop, concurrency, keep-alive, outcomes.
//! - [`pipeline`]: the stages of one analysis.
//! - [`cancel`]: noticing that a running job was cancelled.
//! - [`source`]: the résumé's bytes, from an upload or a URL.
//! - [`sandbox`]: parsing in a child process under memory, CPU, time and output limits.
//! - [`summary`]: the bounded summary a `completed` event carries.
//! - [`progress`]: `job_update` events and recorded progress.
//! - [`presence`]: `worker_status` and the live-worker registry.
//! - [`failure`]: retryable versus permanent failures.
//! - [`today`]: the current month for open-ended date ranges.
//! - [`metrics`]: metric names.

pub mod app;
pub mod cancel;
pub mod config;
pub mod failure;
pub mod metrics;
pub mod pipeline;
pub mod presence;
pub mod progress;
pub mod runner;
pub mod sandbox;
pub mod source;
pub mod summary;
pub mod today;

pub use app::Application;
pub use config::WorkerConfig;
