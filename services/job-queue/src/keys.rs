//! Key names. Every key of a queue shares the hash tag `{queue}`, so multi-key scripts stay on
//! one slot of a Redis Cluster.

/// The keys of one queue.
#[derive(Clone, Debug)]
pub struct Keys {
    tag: String,
}

impl Keys {
    pub fn new(queue: &str) -> Self {
        Self {
            tag: format!("rq:{{{queue}}}"),
        }
    }

    /// Stream of job ids waiting to run (consumer group `workers`).
    pub fn stream(&self) -> String {
        format!("{}:stream", self.tag)
    }

    /// Sorted set of job ids waiting for a retry, scored by due time.
    pub fn delayed(&self) -> String {
        format!("{}:delayed", self.tag)
    }

    /// Dead-letter stream: jobs that failed their last attempt.
    pub fn dead(&self) -> String {
        format!("{}:dead", self.tag)
    }

    /// Hash of counters: waiting, active, completed, failed, delayed.
    pub fn counts(&self) -> String {
        format!("{}:counts", self.tag)
    }

    /// Prefix of job hashes; the job id follows.
    pub fn job_prefix(&self) -> String {
        format!("{}:job:", self.tag)
    }

    pub fn job(&self, job_id: &str) -> String {
        format!("{}:job:{job_id}", self.tag)
    }

    /// An uploaded file, kept until the job has used it (or its TTL passes).
    pub fn file(&self, job_id: &str) -> String {
        format!("{}:file:{job_id}", self.tag)
    }

    /// Prefix of uploaded files; the job id follows.
    pub fn file_prefix(&self) -> String {
        format!("{}:file:", self.tag)
    }

    /// Sorted set of every job id of the queue, scored by creation (see `listing`).
    pub fn index(&self) -> String {
        format!("{}:index", self.tag)
    }

    /// Sorted set of an organisation's job ids, scored like [`Keys::index`], so listing one
    /// organisation never reads another's jobs.
    pub fn organisation_index(&self, organisation: &str) -> String {
        format!("{}:index:org:{organisation}", self.tag)
    }

    /// Hash of an organisation's uploads waiting for analysis: job id → bytes.
    pub fn uploads(&self, organisation: &str) -> String {
        format!("{}:uploads:{organisation}", self.tag)
    }

    /// What every key of the queue starts with: scripts derive the keys of the schedule
    /// (organisations' waiting jobs, the ring, the fed set) from it.
    pub fn prefix(&self) -> String {
        format!("{}:", self.tag)
    }

    /// Hash of the queue's settings and state: `paused`, `jobTtl` and `organisationCap` (as
    /// the workers last set them) and `seq` (the insertion sequence of waiting jobs).
    pub fn meta(&self) -> String {
        format!("{}:meta", self.tag)
    }

    /// Sorted set of an organisation's waiting jobs not yet fed to the stream, scored by
    /// priority then insertion.
    pub fn waiting(&self, organisation: &str) -> String {
        format!("{}:wait:{organisation}", self.tag)
    }

    /// List of the organisations that have jobs in their waiting set, in feeding turn.
    pub fn ring(&self) -> String {
        format!("{}:ring", self.tag)
    }

    /// Set of the job ids fed to the stream and not yet claimed (the feed window).
    pub fn fed(&self) -> String {
        format!("{}:fed", self.tag)
    }

    /// Hash organisation → jobs fed or running (what the per-organisation cap limits).
    pub fn running(&self) -> String {
        format!("{}:running", self.tag)
    }

    /// Sorted set organisation → waiting jobs (fed or not).
    pub fn organisations(&self) -> String {
        format!("{}:orgs", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn all_keys_share_the_hash_tag() {
        let keys = Keys::new("resume-analysis");
        for key in [
            keys.stream(),
            keys.delayed(),
            keys.dead(),
            keys.counts(),
            keys.meta(),
            keys.waiting("org-1"),
            keys.ring(),
            keys.fed(),
            keys.running(),
            keys.organisations(),
            keys.job("j1"),
            keys.file("j1"),
            keys.uploads("org-1"),
            keys.index(),
            keys.organisation_index("org-1"),
        ] {
            assert!(key.starts_with("rq:{resume-analysis}:"), "{key}");
        }
    }
}
