//! Limits that keep one client, or one pod, from taking more than its share. All are per
//! pod: with N pods the cluster-wide figures are N times larger (the load balancer spreads a
//! subject's streams and requests).
//!
//! - [`streams`]: open streams per pod (`MAX_CONNECTIONS`) and per subject.
//! - [`rate`]: a token bucket per key: POST requests per subject, streams opened per subject
//!   and per client address.
//! - [`client`]: the client address behind `TRUSTED_PROXIES`.
//! - [`turns`]: streams being opened or resumed at once (a fixed number; the others wait).
//!
//! Body, upload, event and time limits are enforced where the data is read (`MAX_BODY_BYTES`,
//! `UPLOAD_MAX_BYTES`, `MAX_EVENT_BYTES`, `REQUEST_TIMEOUT`); headers by the middleware in
//! [`crate::routes`].

pub mod client;
pub mod headers;
pub mod rate;
pub mod streams;
pub mod turns;

use clap::Args;

pub use rate::RateLimiter;
pub use streams::{StreamLimits, StreamPermit};

/// Limit settings.
#[derive(Clone, Debug, Args)]
pub struct LimitArgs {
    /// Streams one pod holds at most; then 503 with Retry-After (0 = no limit).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 50_000)]
    pub max_connections: usize,

    /// Streams one subject holds on one pod at most, then 429 (`AUTH_MODE=jwt`; 0 = no limit).
    #[arg(long, env = "MAX_STREAMS_PER_SUBJECT", default_value_t = 16)]
    pub max_streams_per_subject: usize,

    /// Channels one stream may be subscribed to, then 429 (also the limit of `?jobs=` & co).
    #[arg(long, env = "MAX_SUBSCRIPTIONS_PER_STREAM", default_value_t = 128)]
    pub max_subscriptions_per_stream: usize,

    /// POST requests per second and subject, sustained (`AUTH_MODE=jwt`; 0 = no limit).
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = 20.0)]
    pub rate_limit_per_second: f64,

    /// POST requests a subject may make in a burst above the sustained rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 60)]
    pub rate_limit_burst: u32,

    /// Streams a subject may open per second, sustained (`AUTH_MODE=jwt`; 0 = no limit);
    /// then 429 with Retry-After.
    #[arg(long, env = "CONNECT_RATE_PER_SUBJECT", default_value_t = 10.0)]
    pub connect_rate_per_subject: f64,

    /// Streams a subject may open at once above that rate.
    #[arg(long, env = "CONNECT_BURST_PER_SUBJECT", default_value_t = 50)]
    pub connect_burst_per_subject: u32,

    /// Streams one client address may open per second, sustained (0 = no limit); then 429.
    /// Clients behind one NAT share it: size the burst for a reconnect of all of them.
    #[arg(long, env = "CONNECT_RATE_PER_ADDRESS", default_value_t = 100.0)]
    pub connect_rate_per_address: f64,

    /// Streams one client address may open at once above that rate.
    #[arg(long, env = "CONNECT_BURST_PER_ADDRESS", default_value_t = 1000)]
    pub connect_burst_per_address: u32,

    /// Comma-separated proxy addresses or networks (`10.0.0.0/8`) whose `X-Forwarded-For`
    /// names the client; empty: the TCP peer is the client.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Time a client has to send a complete request head, from the moment its connection is
    /// accepted (and, on a keep-alive connection, from the end of its previous response);
    /// then the socket is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10s", value_parser = service_runtime::config::parse_duration)]
    pub header_read_timeout: std::time::Duration,

    /// Connections one pod holds that have not sent their first request head yet; further
    /// ones are closed at once (streams count against `MAX_CONNECTIONS` instead).
    #[arg(long, env = "MAX_PENDING_CONNECTIONS", default_value_t = 16_384)]
    pub max_pending_connections: usize,

    /// Largest total size of a request's headers (name and value bytes), then 431.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
}

impl LimitArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=4096).contains(&self.max_subscriptions_per_stream),
            "MAX_SUBSCRIPTIONS_PER_STREAM must be from 1 to 4096"
        );
        anyhow::ensure!(
            self.rate_limit_per_second.is_finite() && self.rate_limit_per_second >= 0.0,
            "RATE_LIMIT_PER_SECOND must be a number >= 0"
        );
        anyhow::ensure!(
            self.rate_limit_per_second == 0.0 || self.rate_limit_burst >= 1,
            "RATE_LIMIT_BURST must be at least 1"
        );
        anyhow::ensure!(
            self.max_header_bytes >= 1024,
            "MAX_HEADER_BYTES must be at least 1024"
        );
        anyhow::ensure!(
            !self.header_read_timeout.is_zero(),
            "HEADER_READ_TIMEOUT must be more than 0"
        );
        for (name, rate, burst) in [
            (
                "CONNECT_RATE_PER_SUBJECT",
                self.connect_rate_per_subject,
                self.connect_burst_per_subject,
            ),
            (
                "CONNECT_RATE_PER_ADDRESS",
                self.connect_rate_per_address,
                self.connect_burst_per_address,
            ),
        ] {
            anyhow::ensure!(
                rate.is_finite() && rate >= 0.0,
                "{name} must be a number >= 0"
            );
            anyhow::ensure!(
                rate == 0.0 || burst >= 1,
                "{name}'s burst must be at least 1"
            );
        }
        client::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?;
        anyhow::ensure!(
            self.max_pending_connections >= 1,
            "MAX_PENDING_CONNECTIONS must be at least 1"
        );
        Ok(())
    }
}

/// The limits in force, shared by the handlers.
pub struct Limits {
    pub streams: StreamLimits,
    pub rate: RateLimiter,
    /// Streams opened per subject, and per client address.
    pub connects_by_subject: RateLimiter,
    pub connects_by_address: RateLimiter,
    pub trusted_proxies: client::TrustedProxies,
    pub max_subscriptions_per_stream: usize,
    pub max_header_bytes: usize,
    /// Streams being opened or resumed at once.
    pub opening: turns::Turns,
}

impl Limits {
    pub fn new(args: &LimitArgs) -> Self {
        Self {
            streams: StreamLimits::new(args.max_connections, args.max_streams_per_subject),
            rate: RateLimiter::new(args.rate_limit_per_second, args.rate_limit_burst),
            connects_by_subject: RateLimiter::new(
                args.connect_rate_per_subject,
                args.connect_burst_per_subject,
            ),
            connects_by_address: RateLimiter::new(
                args.connect_rate_per_address,
                args.connect_burst_per_address,
            ),
            // Checked by `LimitArgs::validate` before the gateway starts.
            trusted_proxies: client::TrustedProxies::parse(&args.trusted_proxies)
                .unwrap_or_default(),
            max_subscriptions_per_stream: args.max_subscriptions_per_stream,
            max_header_bytes: args.max_header_bytes,
            opening: turns::Turns::new(turns::OPENING_AT_ONCE),
        }
    }

    /// May a stream be opened now by `subject` (when authenticated) from `client`? Each key
    /// spends its own allowance; the refusal says how long to wait.
    pub fn check_connect(
        &self,
        subject: Option<&str>,
        client: Option<std::net::IpAddr>,
    ) -> Result<(), crate::error::ApiError> {
        let now = std::time::Instant::now();
        let refused = client
            .and_then(|client| {
                self.connects_by_address
                    .check(&client.to_string(), now)
                    .err()
            })
            .or_else(|| {
                subject.and_then(|subject| self.connects_by_subject.check(subject, now).err())
            });
        match refused {
            None => Ok(()),
            Some(wait) => {
                count_rejection("connect_rate_limited");
                Err(crate::error::ApiError::too_many(
                    "connect_rate_limited",
                    "too many streams opened; reconnect after the time in Retry-After",
                    wait.as_secs_f64().ceil().max(1.0) as u64,
                ))
            }
        }
    }
}

/// Requests refused by a limit, by reason.
pub const REJECTIONS: &str = "sse_limit_rejections_total";

/// Counts one refused request.
pub fn count_rejection(reason: &'static str) {
    metrics::counter!(REJECTIONS, "reason" => reason).increment(1);
}

/// Describes the limit metrics.
pub fn describe() {
    metrics::describe_counter!(
        REJECTIONS,
        "Requests refused by a limit, by reason (too_many_connections, too_many_streams, too_many_subscriptions, rate_limited, connect_rate_limited, headers_too_large)."
    );
}
