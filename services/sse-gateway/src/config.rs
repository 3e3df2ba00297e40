//! Gateway configuration, from environment variables only (each also a `--flag`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use service_runtime::config::{LogFormat, RedisArgs, parse_duration};

/// sse-gateway: the HTTP API and Server-Sent-Events streams.
#[derive(Clone, Debug, Parser)]
#[command(name = "sse-gateway", version, about)]
pub struct GatewayConfig {
    #[command(flatten)]
    pub redis: RedisArgs,

    #[command(flatten)]
    pub auth: crate::auth::AuthArgs,

    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,

    /// Public HTTP API and SSE streams.
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8000")]
    pub http_addr: SocketAddr,

    /// Admin server: /livez, /readyz, /metrics.
    #[arg(long, env = "ADMIN_ADDR", default_value = "0.0.0.0:9000")]
    pub admin_addr: SocketAddr,

    /// Interval between `heartbeat` events on every stream.
    #[arg(long, env = "HEARTBEAT_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,

    /// Reconnect delay suggested to EventSource with the SSE `retry:` field.
    #[arg(long, env = "SSE_RETRY", default_value = "3s", value_parser = parse_duration)]
    pub sse_retry: Duration,

    /// Comma-separated origins allowed by CORS, or `*` (narrow this in production).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "*")]
    pub cors_allowed_origins: String,

    /// Largest event payload forwarded to clients; larger messages are dropped and counted.
    #[arg(long, env = "MAX_EVENT_BYTES", default_value_t = 65_536)]
    pub max_event_bytes: usize,

    /// Events buffered per stream before the client counts as too slow and is closed; from
    /// three quarters of it, intermediate job updates coalesce (latest progress wins).
    #[arg(long, env = "CLIENT_BUFFER_EVENTS", default_value_t = 256)]
    pub client_buffer_events: usize,

    /// How long a closed slow client gets to read its final event before its socket is cut.
    #[arg(long, env = "SLOW_CLIENT_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub slow_client_grace: Duration,

    /// Bearer token required by the broadcast and custom-event endpoints (unset: open).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Largest accepted JSON request body.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 65_536)]
    pub max_body_bytes: usize,

    /// Comma-separated queues that accept jobs (the first is the upload default).
    #[arg(long, env = "QUEUES", default_value = "resume-analysis")]
    pub queues: String,

    /// Largest résumé accepted by `POST /api/v1/resumes`.
    #[arg(long, env = "UPLOAD_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub upload_max_bytes: usize,

    /// Bytes of uploads one organisation may have waiting for analysis at once (files are
    /// deleted when analysed or failed for good); past it `POST /api/v1/resumes` answers 429.
    #[arg(long, env = "UPLOAD_MAX_PENDING_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub upload_max_pending_bytes: u64,

    /// How long an uploaded file waits in Redis for its job.
    #[arg(long, env = "UPLOAD_TTL", default_value = "24h", value_parser = parse_duration)]
    pub upload_ttl: Duration,

    /// Minimum interval between `queue_update` events per queue.
    #[arg(long, env = "QUEUE_UPDATE_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub queue_update_interval: Duration,

    /// Time limit for every non-stream request.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// After SIGTERM, the time limit of the whole drain; what is still open is then cut.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// After SIGTERM, how long streams keep flowing (not ready) before closing starts, while
    /// load balancers stop sending new connections.
    #[arg(long, env = "DRAIN_DELAY", default_value = "5s", value_parser = parse_duration)]
    pub drain_delay: Duration,

    /// Streams are closed in batches spread over this window, so reconnects are spread too.
    #[arg(long, env = "DRAIN_WINDOW", default_value = "20s", value_parser = parse_duration)]
    pub drain_window: Duration,

    /// Close streams older than this (jittered ±10%) so load rebalances after scale-out; 0 = never.
    #[arg(long, env = "MAX_CONNECTION_AGE", default_value = "0", value_parser = parse_duration)]
    pub max_connection_age: Duration,

    /// How long a closed stream's session (subscriptions, position) is kept for a resume.
    #[arg(long, env = "RESUME_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub resume_window: Duration,

    /// Events kept per channel for replay.
    #[arg(long, env = "HISTORY_MAXLEN", default_value_t = 1000)]
    pub history_maxlen: u64,

    /// How long a channel's history is kept after its last event.
    #[arg(long, env = "HISTORY_TTL", default_value = "1h", value_parser = parse_duration)]
    pub history_ttl: Duration,

    /// How often stream positions are written to their sessions (a crash may replay at most
    /// this much again).
    #[arg(long, env = "CURSOR_FLUSH_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub cursor_flush_interval: Duration,

    /// This pod's name, reported in stats and events (Kubernetes sets it from metadata.name).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,

    /// `json` (one object per line) or `pretty`.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
}

impl GatewayConfig {
    /// Defaults for everything, listening on ephemeral loopback ports (tests, embedding).
    pub fn local(redis_url: impl Into<String>) -> Self {
        let mut config = Self::parse_from(["sse-gateway"]);
        config.redis.redis_url = redis_url.into();
        config.http_addr = ([127, 0, 0, 1], 0).into();
        config.admin_addr = ([127, 0, 0, 1], 0).into();
        config.pod_name = format!(
            "gateway-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        config.drain_delay = Duration::ZERO;
        config.drain_window = Duration::from_millis(300);
        config.shutdown_timeout = Duration::from_secs(5);
        config.cursor_flush_interval = Duration::from_millis(200);
        config
    }

    /// The configured pod name, or the host name, or a random one.
    pub fn pod_name(&self) -> String {
        if !self.pod_name.is_empty() {
            return self.pod_name.clone();
        }
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| {
                format!(
                    "gateway-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                )
            })
    }

    /// The configured queue names, validated.
    pub fn queue_names(&self) -> anyhow::Result<Vec<String>> {
        let names: Vec<String> = self
            .queues
            .split(',')
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned)
            .collect();
        anyhow::ensure!(!names.is_empty(), "QUEUES must name at least one queue");
        for name in &names {
            anyhow::ensure!(
                progress_contract::channel::is_valid_name(name),
                "QUEUES: {name:?} is not a valid queue name (A-Z a-z 0-9 . _ : -)"
            );
        }
        Ok(names)
    }

    /// Checks relations between values that clap cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.heartbeat_interval.is_zero(),
            "HEARTBEAT_INTERVAL must be greater than zero"
        );
        anyhow::ensure!(
            self.client_buffer_events >= 8,
            "CLIENT_BUFFER_EVENTS must be at least 8"
        );
        anyhow::ensure!(
            self.max_event_bytes >= 256,
            "MAX_EVENT_BYTES must be at least 256"
        );
        anyhow::ensure!(
            self.shutdown_timeout > self.drain_delay + self.drain_window,
            "SHUTDOWN_TIMEOUT ({:?}) must be longer than DRAIN_DELAY + DRAIN_WINDOW ({:?})",
            self.shutdown_timeout,
            self.drain_delay + self.drain_window
        );
        anyhow::ensure!(
            self.history_maxlen >= 1,
            "HISTORY_MAXLEN must be at least 1"
        );
        anyhow::ensure!(
            !self.cursor_flush_interval.is_zero(),
            "CURSOR_FLUSH_INTERVAL must be greater than zero"
        );
        anyhow::ensure!(
            self.resume_window >= Duration::from_secs(1),
            "RESUME_WINDOW must be at least 1s"
        );
        self.queue_names()?;
        self.limits.validate()?;
        Ok(())
    }
}
