//! An at-least-once job queue on Redis Streams, shared by the gateway (which adds jobs) and
//! the worker (which runs them).
//!
//! - [`keys`]: key names, all carrying the `{queue}` hash tag so every script runs on one
//!   Redis Cluster slot.
//! - [`job`]: the job record kept in a hash, options and states.
//! - [`queue`]: adding (idempotent by job id), reading jobs and counts, uploaded files.
//! - [`consumer`]: a worker's side: read, claim, keep alive, fail/retry,
//!   reclaim from stopped workers, promote due retries.
//! - [`finish`]: a running job ends with its result or cancelled, exactly one way.
//! - [`cancel`]: cancelling a job from outside its worker.
//! - [`dead`]: dead letters: reading them, running a failed or cancelled job again.
//! - [`listing`]: jobs newest first, by state and organisation, with an opaque cursor.
//! - [`counts`]: per-queue counts and the coalescing `queue_update` reporter.
//! - [`schedule`]: organisations take turns; pausing and resuming the queue.
//! - [`registry`]: live workers and their last status, with a TTL.
//! - [`scripts`]: the Lua scripts that make each state change atomic.
//! - [`reply`]: parsing stream replies.

pub mod cancel;
pub mod consumer;
pub mod counts;
pub mod dead;
pub mod error;
pub mod finish;
pub mod job;
pub mod keys;
pub mod listing;
pub mod queue;
pub mod registry;
mod reply;
pub mod schedule;
mod scripts;

pub use cancel::CancelOutcome;
pub use consumer::{Claimed, Consumer, ConsumerOptions, Delivery, FailOutcome};
pub use counts::{CountsReporter, QueueCounts};
pub use dead::{DeadLetter, DeadPage, RetryOutcome};
pub use error::QueueError;
pub use finish::Finish;
pub use job::{AddOutcome, JobOptions, JobRecord, JobState, MAX_PRIORITY, NewJob};
pub use listing::{JobPage, ListFilter};
pub use queue::{Queue, StoreOutcome};
pub use registry::WorkerRegistry;

/// The consumer group every worker of a queue joins.
pub const GROUP: &str = "workers";
