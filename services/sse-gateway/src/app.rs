//! Building and running the gateway: `build` connects and binds (port 0 allowed), `run`
//! serves until the shutdown token is cancelled.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fred::clients::SubscriberClient;
use fred::prelude::{Client, ClientLike};
use job_queue::{CountsReporter, Queue, WorkerRegistry};
use progress_contract::Publisher;
use service_runtime::admin::{self, Check, Readiness};
use service_runtime::redis::{RedisOptions, redact};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::GatewayConfig;
use crate::hub::{Hub, HubSettings};
use crate::routes::{self, ApiSettings, AppState, Queues};
use crate::{metrics as m, redis_listener, server};

/// A built gateway, bound and connected, not yet serving.
pub struct Application {
    config: GatewayConfig,
    listener: TcpListener,
    admin_listener: TcpListener,
    hub: Arc<Hub>,
    publisher_client: Client,
    state: AppState,
    background: CancellationToken,
}

struct RedisReadiness {
    subscriber: SubscriberClient,
    publisher: Client,
}

impl Readiness for RedisReadiness {
    fn checks(&self) -> Vec<Check> {
        let check = |name, ok: bool| Check {
            name,
            ok,
            detail: (!ok).then(|| "not connected to Redis; reconnecting".to_owned()),
        };
        vec![
            check("redis_subscriber", self.subscriber.is_connected()),
            check("redis_publisher", self.publisher.is_connected()),
        ]
    }
}

impl Application {
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        config.validate()?;
        m::describe();
        let mut redis = RedisOptions::new(&config.redis.redis_url);
        redis.command_timeout = config.redis.redis_command_timeout;
        let publisher_client = redis.connect_client().await?;
        let subscriber = redis.connect_subscriber().await?;
        tracing::info!(redis = %redact(&config.redis.redis_url), "connected to Redis");

        let hub = Hub::new(
            HubSettings {
                capacity: config.client_buffer_events,
                max_event_bytes: config.max_event_bytes,
                slow_client_grace: config.slow_client_grace,
                retry: config.sse_retry,
            },
            subscriber,
        );
        hub.subscribe_system_channels()
            .await
            .context("subscribing the gateway's broadcast channels")?;

        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP_ADDR {}", config.http_addr))?;
        let admin_listener = TcpListener::bind(config.admin_addr)
            .await
            .with_context(|| format!("binding ADMIN_ADDR {}", config.admin_addr))?;
        let background = CancellationToken::new();
        let publisher = Publisher::new(publisher_client.clone());
        let mut queues = std::collections::BTreeMap::new();
        for name in config.queue_names()? {
            let queue = Queue::new(publisher_client.clone(), &name);
            let reporter = CountsReporter::spawn(
                queue.clone(),
                publisher.clone(),
                config.queue_update_interval,
                background.clone(),
            );
            queues.insert(name, (queue, reporter));
        }
        let state = AppState {
            queues: Arc::new(Queues {
                registry: WorkerRegistry::new(publisher_client.clone()),
                queues,
                upload_max_bytes: config.upload_max_bytes,
                upload_ttl: config.upload_ttl,
            }),
            hub: hub.clone(),
            publisher,
            settings: Arc::new(ApiSettings {
                pod: config.pod_name(),
                heartbeat_interval: config.heartbeat_interval,
                retry: config.sse_retry,
                admin_token: config.admin_token.clone().filter(|t| !t.is_empty()),
                cors_allowed_origins: config.cors_allowed_origins.clone(),
                max_body_bytes: config.max_body_bytes,
                request_timeout: config.request_timeout,
            }),
        };
        Ok(Self {
            config,
            listener,
            admin_listener,
            hub,
            publisher_client,
            state,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(0)
    }

    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Serves until `shutdown` is cancelled, then ends every stream and exits within
    /// `SHUTDOWN_TIMEOUT`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            config,
            listener,
            admin_listener,
            hub,
            publisher_client,
            state,
            background,
        } = self;
        let metrics_handle = service_runtime::metrics::install();
        service_runtime::metrics::record_build_info("sse-gateway", env!("CARGO_PKG_VERSION"));
        let readiness = Arc::new(RedisReadiness {
            subscriber: hub.subscriber().clone(),
            publisher: publisher_client.clone(),
        });
        let admin = tokio::spawn(admin::serve(
            admin_listener,
            admin::router(readiness, metrics_handle.clone()),
            background.clone(),
        ));
        tokio::spawn(service_runtime::metrics::run_upkeep(
            metrics_handle,
            background.clone(),
        ));
        tokio::spawn(redis_listener::run_messages(
            hub.clone(),
            background.clone(),
        ));
        tokio::spawn(redis_listener::run_resubscribe(
            hub.clone(),
            background.clone(),
        ));
        tokio::spawn(heartbeats(
            hub.clone(),
            config.heartbeat_interval,
            background.clone(),
        ));

        let cut_all = CancellationToken::new();
        let http = tokio::spawn(server::serve(
            listener,
            routes::router(state),
            shutdown.clone(),
            cut_all.clone(),
        ));
        tracing::info!(http = %config.http_addr, admin = %config.admin_addr, "sse-gateway serving");

        shutdown.cancelled().await;
        let closed = hub.close_all(
            "shutdown",
            "the server is restarting; reconnect to continue",
        );
        tracing::info!(streams = closed, "shutting down: streams closed");
        let deadline = tokio::time::sleep(config.shutdown_timeout);
        tokio::pin!(deadline);
        tokio::pin!(http);
        tokio::select! {
            _ = &mut http => {},
            () = &mut deadline => {
                tracing::warn!("connections still open at SHUTDOWN_TIMEOUT; cutting them");
                cut_all.cancel();
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut http).await;
            }
        }
        background.cancel();
        let _ = admin.await;
        let _ = hub.subscriber().quit().await;
        let _ = publisher_client.quit().await;
        tracing::info!("sse-gateway stopped");
        Ok(())
    }
}

async fn heartbeats(hub: Arc<Hub>, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => hub.heartbeat(),
        }
    }
}
