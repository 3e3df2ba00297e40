//! Worker configuration, from environment variables only (each also a `--flag`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use service_runtime::config::{LogFormat, RedisArgs, parse_duration};

/// resume-worker: analyses résumés from the job queue.
#[derive(Clone, Debug, Parser)]
#[command(name = "resume-worker", version, about)]
pub struct WorkerConfig {
    #[command(flatten)]
    pub redis: RedisArgs,

    /// Admin server: /livez, /readyz, /metrics.
    #[arg(long, env = "ADMIN_ADDR", default_value = "0.0.0.0:9001")]
    pub admin_addr: SocketAddr,

    /// Queue to take jobs from.
    #[arg(long, env = "QUEUE_NAME", default_value = "resume-analysis")]
    pub queue_name: String,

    /// Jobs run at the same time by this process.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u32,

    /// This worker's id (defaults to POD_NAME, else host name plus a random suffix).
    #[arg(long, env = "WORKER_ID", default_value = "")]
    pub worker_id: String,

    /// Interval of `worker_status` heartbeats; the registry entry lives three times as long.
    #[arg(long, env = "WORKER_HEARTBEAT", default_value = "10s", value_parser = parse_duration)]
    pub heartbeat: Duration,

    /// After SIGTERM, how long in-flight jobs get to finish before the process exits
    /// (unfinished ones are taken over by other workers).
    #[arg(long, env = "WORKER_SHUTDOWN_TIMEOUT", default_value = "25s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// A job whose worker shows no life for this long is taken over by another worker.
    #[arg(long, env = "VISIBILITY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub visibility_timeout: Duration,

    /// How long finished jobs (state and result) are kept.
    #[arg(long, env = "JOB_TTL", default_value = "24h", value_parser = parse_duration)]
    pub job_ttl: Duration,

    /// Minimum interval between `queue_update` events.
    #[arg(long, env = "QUEUE_UPDATE_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub queue_update_interval: Duration,

    /// Time limit for downloading a résumé from its `fileUrl`.
    #[arg(long, env = "FETCH_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub fetch_timeout: Duration,

    /// Largest résumé downloaded from a `fileUrl`.
    #[arg(long, env = "FETCH_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub fetch_max_bytes: u64,

    /// Redirects followed when downloading.
    #[arg(long, env = "FETCH_MAX_REDIRECTS", default_value_t = 3)]
    pub fetch_max_redirects: usize,

    /// Comma-separated hosts allowed even on loopback/private addresses (tests, internal
    /// file servers). Empty: only public addresses are fetched.
    #[arg(long, env = "FETCH_ALLOW_HOSTS", default_value = "")]
    pub fetch_allow_hosts: String,

    /// Comma-separated hosts that are the only ones fetched at all (empty: any public host).
    #[arg(long, env = "FETCH_ONLY_HOSTS", default_value = "")]
    pub fetch_only_hosts: String,

    /// Time limit for parsing one document: wall time (the parse process is killed) and
    /// CPU time (the same, rounded up to whole seconds).
    #[arg(long, env = "PARSE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub parse_timeout: Duration,

    /// Address space of the process that parses one document, in bytes (`RLIMIT_AS`).
    #[arg(long, env = "PARSE_MAX_MEMORY", default_value_t = 512 * 1024 * 1024)]
    pub parse_max_memory: u64,

    /// Most text taken from one document, in bytes; a larger one fails as
    /// `document_too_large`.
    #[arg(long, env = "PARSE_MAX_OUTPUT", default_value_t = 2 * 1024 * 1024)]
    pub parse_max_output: u64,

    /// Reading processes kept warm between documents (each reads up to 500 documents, then
    /// is replaced). Unset: WORKER_CONCURRENCY. 0: a fresh process for every document.
    #[arg(long, env = "PARSE_IDLE_CHILDREN")]
    pub parse_idle_children: Option<usize>,

    /// Program started to parse each document (it must be a resume-worker or another
    /// binary that serves parse requests). Empty: this process's own binary.
    #[arg(long, env = "PARSE_PROGRAM", default_value = "")]
    pub parse_program: String,

    /// Times a job may be taken over from a worker that stopped while running it; one more
    /// and it fails as `worker_lost` (dead-lettered). Takeovers do not use up attempts.
    #[arg(long, env = "MAX_RECLAIMS", default_value_t = 2)]
    pub max_reclaims: u32,

    /// Jobs of one organisation running at the same time across all workers of the queue
    /// (0: no cap). Every worker of a queue should use the same value.
    #[arg(long, env = "ORGANISATION_CONCURRENCY", default_value_t = 0)]
    pub organisation_concurrency: u32,

    /// How often a running job checks whether it was cancelled while it reads a document or
    /// fetches a file (it also checks at every stage boundary).
    #[arg(long, env = "CANCEL_CHECK_INTERVAL", default_value = "150ms", value_parser = parse_duration)]
    pub cancel_check_interval: Duration,

    /// This pod's name (Kubernetes sets it from metadata.name).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,

    /// `json` (one object per line) or `pretty`.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl WorkerConfig {
    /// Defaults for everything, admin on an ephemeral loopback port (tests, embedding).
    pub fn local(redis_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["resume-worker"]);
        config.redis.redis_url = redis_url.into();
        config.admin_addr = ([127, 0, 0, 1], 0).into();
        config
    }

    pub fn worker_id(&self) -> String {
        if !self.worker_id.is_empty() {
            return self.worker_id.clone();
        }
        let base = [
            self.pod_name.clone(),
            std::env::var("HOSTNAME").unwrap_or_default(),
        ]
        .into_iter()
        .find(|s| !s.is_empty());
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        match base {
            Some(base) if !self.pod_name.is_empty() => base,
            Some(base) => format!("{base}-{suffix}"),
            None => format!("worker-{suffix}"),
        }
    }

    /// The per-organisation cap for the queue, `None` when there is none.
    pub fn organisation_cap(&self) -> Option<u32> {
        (self.organisation_concurrency > 0).then_some(self.organisation_concurrency)
    }

    pub fn allow_hosts(&self) -> Vec<String> {
        list(&self.fetch_allow_hosts)
    }

    pub fn only_hosts(&self) -> Vec<String> {
        list(&self.fetch_only_hosts)
    }

    /// The program that parses documents.
    pub fn parse_program(&self) -> anyhow::Result<std::path::PathBuf> {
        if !self.parse_program.is_empty() {
            return Ok(self.parse_program.clone().into());
        }
        std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("finding this program to parse documents with: {e}"))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=256).contains(&self.concurrency),
            "WORKER_CONCURRENCY must be from 1 to 256"
        );
        anyhow::ensure!(
            progress_contract::channel::is_valid_name(&self.queue_name),
            "QUEUE_NAME must use only A-Z a-z 0-9 . _ : -"
        );
        anyhow::ensure!(
            self.visibility_timeout >= std::time::Duration::from_millis(300),
            "VISIBILITY_TIMEOUT must be at least 300ms"
        );
        anyhow::ensure!(
            self.parse_max_memory >= 64 * 1024 * 1024,
            "PARSE_MAX_MEMORY must be at least 64 MiB (67108864)"
        );
        anyhow::ensure!(
            self.parse_max_output >= 4096,
            "PARSE_MAX_OUTPUT must be at least 4096"
        );
        anyhow::ensure!(
            self.parse_timeout >= std::time::Duration::from_millis(100),
            "PARSE_TIMEOUT must be at least 100ms"
        );
        anyhow::ensure!(
            (Duration::from_millis(10)..=Duration::from_secs(10))
                .contains(&self.cancel_check_interval),
            "CANCEL_CHECK_INTERVAL must be from 10ms to 10s"
        );
        anyhow::ensure!(
            !self.heartbeat.is_zero(),
            "WORKER_HEARTBEAT must be greater than zero"
        );
        Ok(())
    }
}
