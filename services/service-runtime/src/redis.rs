//! Building fred clients the same way in every service: a reconnect policy that never gives
//! up, a bounded command timeout, and TCP keepalive so a dead peer is noticed.

use std::time::Duration;

use anyhow::Context;
use fred::clients::SubscriberClient;
use fred::prelude::{Builder, Client, ClientLike, Config, ReconnectPolicy};
use fred::types::config::{ServerConfig, TcpConfig};

use crate::config::PubsubMode;

/// How Redis is deployed, from the URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deployment {
    /// One server (`redis://`, `rediss://`).
    Standalone,
    /// Redis Cluster (`redis-cluster://`).
    Cluster,
    /// A primary found through Sentinel (`redis-sentinel://`).
    Sentinel,
}

impl Deployment {
    pub fn as_str(self) -> &'static str {
        match self {
            Deployment::Standalone => "standalone",
            Deployment::Cluster => "cluster",
            Deployment::Sentinel => "sentinel",
        }
    }
}

/// Pub/sub as used by every service: sharded for job, queue and worker channels, or classic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pubsub {
    pub sharded: bool,
}

impl Pubsub {
    /// Resolves `PUBSUB_MODE` against the deployment (`auto`: sharded on a cluster only).
    pub fn resolve(mode: PubsubMode, deployment: Deployment) -> Self {
        let sharded = match mode {
            PubsubMode::Sharded => true,
            PubsubMode::Classic => false,
            PubsubMode::Auto => deployment == Deployment::Cluster,
        };
        Self { sharded }
    }

    pub fn as_str(self) -> &'static str {
        if self.sharded { "sharded" } else { "classic" }
    }
}

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

    /// The deployment the URL names (fails on a URL that does not parse).
    pub fn deployment(&self) -> anyhow::Result<Deployment> {
        let config = Config::from_url(&self.url)
            .with_context(|| format!("invalid REDIS_URL `{}`", redact(&self.url)))?;
        Ok(match config.server {
            ServerConfig::Clustered { .. } => Deployment::Cluster,
            ServerConfig::Sentinel { .. } => Deployment::Sentinel,
            _ => Deployment::Standalone,
        })
    }

    /// Logs and exports (`redis_info{deployment, pubsub}`) how this process uses Redis.
    pub fn announce(&self, service: &str, pubsub: Pubsub) -> anyhow::Result<Deployment> {
        let deployment = self.deployment()?;
        tracing::info!(
            service,
            redis = %redact(&self.url),
            deployment = deployment.as_str(),
            pubsub = pubsub.as_str(),
            "Redis deployment"
        );
        metrics::describe_gauge!(
            "redis_info",
            "Always 1; labels say how this process uses Redis (deployment, pubsub)."
        );
        metrics::gauge!("redis_info", "deployment" => deployment.as_str(), "pubsub" => pubsub.as_str())
            .set(1.0);
        Ok(deployment)
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
    use super::*;

    #[test]
    fn the_deployment_follows_the_scheme_and_auto_shards_only_clusters() {
        let of = |url: &str| RedisOptions::new(url).deployment().unwrap();
        assert_eq!(of("redis://127.0.0.1:6379"), Deployment::Standalone);
        assert_eq!(of("rediss://h:6380/0"), Deployment::Standalone);
        assert_eq!(
            of("redis-cluster://h1:7000?node=h2:7001&node=h3:7002"),
            Deployment::Cluster
        );
        assert_eq!(
            of("redis-sentinel://h:26379/0?sentinelServiceName=mymaster&node=h2:26380"),
            Deployment::Sentinel
        );
        assert!(RedisOptions::new("not a url").deployment().is_err());
        let auto = |d| Pubsub::resolve(PubsubMode::Auto, d).sharded;
        assert!(auto(Deployment::Cluster));
        assert!(!auto(Deployment::Standalone));
        assert!(!auto(Deployment::Sentinel));
        assert!(Pubsub::resolve(PubsubMode::Sharded, Deployment::Standalone).sharded);
        assert!(!Pubsub::resolve(PubsubMode::Classic, Deployment::Cluster).sharded);
    }

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
