//! Building fred clients the same way in every service: a reconnect policy that never gives
//! up, a bounded command timeout, and TCP keepalive so a dead peer is noticed.

use std::time::Duration;

use anyhow::Context;
use fred::clients::SubscriberClient;
use fred::prelude::{Builder, Client, ClientLike, Config, ReconnectPolicy};
use fred::types::config::TcpConfig;

/// How a service wants its Redis connection made.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    pub url: String,
    pub command_timeout: Duration,
    /// Capacity of fred's pub/sub broadcast channel (messages buffered for a slow reader).
    pub message_buffer: usize,
}

impl RedisOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            command_timeout: Duration::from_secs(5),
            message_buffer: 4096,
        }
    }

    fn builder(&self) -> anyhow::Result<Builder> {
        let config = Config::from_url(&self.url)
            .with_context(|| format!("invalid REDIS_URL `{}`", redact(&self.url)))?;
        let mut builder = Builder::from_config(config);
        builder
            // 0 attempts = retry forever; 50 ms doubling up to 2 s.
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2))
            .with_performance_config(|perf| {
                perf.default_command_timeout = self.command_timeout;
                perf.broadcast_channel_capacity = self.message_buffer;
            })
            .with_connection_config(|conn| {
                conn.connection_timeout = self.command_timeout;
                conn.internal_command_timeout = self.command_timeout;
                conn.tcp = TcpConfig {
                    nodelay: Some(true),
                    ..TcpConfig::default()
                };
            });
        Ok(builder)
    }

    /// A command client, connected (the connection task keeps reconnecting in the background).
    pub async fn connect_client(&self) -> anyhow::Result<Client> {
        let client = self
            .builder()?
            .build()
            .context("building the Redis client")?;
        client
            .init()
            .await
            .with_context(|| format!("connecting to Redis at {}", redact(&self.url)))?;
        Ok(client)
    }

    /// A client that only subscribes; never used for commands.
    pub async fn connect_subscriber(&self) -> anyhow::Result<SubscriberClient> {
        let client = self
            .builder()?
            .build_subscriber_client()
            .context("building the Redis subscriber")?;
        client.init().await.with_context(|| {
            format!(
                "connecting the subscriber to Redis at {}",
                redact(&self.url)
            )
        })?;
        Ok(client)
    }
}

/// The URL with any password replaced, safe for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_passwords() {
        assert_eq!(
            redact("redis://:secret@host:6379"),
            "redis://:***@host:6379"
        );
        assert_eq!(redact("redis://user:pw@h/0"), "redis://user:***@h/0");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
