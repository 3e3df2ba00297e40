//! The queues this gateway accepts jobs for, with their counts reporters and upload limits
//! (the job routes in `routes/jobs/` read and change them).

use std::collections::BTreeMap;
use std::time::Duration;

use job_queue::{CountsReporter, Queue, WorkerRegistry};

/// The queues this gateway accepts jobs for.
pub struct Queues {
    pub registry: WorkerRegistry,
    pub queues: BTreeMap<String, (Queue, CountsReporter)>,
    pub upload_max_bytes: usize,
    /// Per organisation, bytes of uploads waiting for analysis.
    pub upload_max_pending_bytes: u64,
    pub upload_ttl: Duration,
}
