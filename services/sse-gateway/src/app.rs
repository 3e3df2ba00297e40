//! Building and running the gateway: `build` connects and binds (port 0 allowed), `run`
//! serves until the shutdown token is cancelled, then drains.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use fred::clients::SubscriberClient;
use fred::prelude::{Client, ClientLike};
use job_queue::{CountsReporter, Queue, WorkerRegistry};
use progress_contract::Publisher;
use progress_contract::publisher::HistoryLimits;
use service_runtime::admin::{self, Check, Readiness};
use service_runtime::redis::{Deployment, Pubsub, RedisOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::GatewayConfig;
use crate::hub::{Hub, HubSettings};
use crate::queues::Queues;
use crate::resume::first_delivery::FirstDelivery;
use crate::resume::history::HistoryReader;
use crate::resume::session::SessionStore;
use crate::resume::{opening, resuming};
use crate::routes;
use crate::script_pipe::ScriptPipe;
use crate::state::{ApiSettings, AppState};
use crate::{cluster, drain, metrics as m, redis_listener, transport};

/// A built gateway, bound and connected, not yet serving.
pub struct Application {
    config: GatewayConfig,
    listener: TcpListener,
    admin_listener: TcpListener,
    hub: Arc<Hub>,
    /// The hub's Redis subscriber, read by the listener tasks.
    subscriber: SubscriberClient,
    /// Sessions, kept alive by the upkeep task.
    sessions: SessionStore,
    client: Client,
    state: AppState,
    background: CancellationToken,
}

struct GatewayReadiness {
    subscriber: SubscriberClient,
    publisher: Client,
    draining: Arc<AtomicBool>,
}

impl Readiness for GatewayReadiness {
    fn checks(&self) -> Vec<Check> {
        let redis = |name, ok: bool| Check {
            name,
            ok,
            detail: (!ok).then(|| "not connected to Redis; reconnecting".to_owned()),
        };
        let draining = self.draining.load(Ordering::SeqCst);
        vec![
            redis("redis_subscriber", self.subscriber.is_connected()),
            redis("redis_publisher", self.publisher.is_connected()),
            Check {
                name: "accepting_streams",
                ok: !draining,
                detail: draining.then(|| "draining for shutdown".to_owned()),
            },
        ]
    }
}

impl Application {
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let auth = Arc::new(
            crate::auth::Auth::from_args(&config.auth)?
                .with_cookie_origins(&config.cors_allowed_origins),
        );
        m::describe();
        transport::describe();
        crate::limits::describe();
        let mut redis = RedisOptions::new(&config.redis.redis_url);
        redis.command_timeout = config.redis.redis_command_timeout;
        let pubsub = Pubsub::resolve(config.redis.pubsub_mode, redis.deployment()?);
        let client = redis.connect_client().await?;
        let subscriber = redis.connect_subscriber().await?;
        let watched = vec![client.clone(), subscriber.to_client()];
        redis.announce("sse-gateway", pubsub)?;

        let pod = config.pod_name();
        let queue_list: Vec<Queue> = config
            .queue_names()?
            .iter()
            .map(|name| Queue::new(client.clone(), name))
            .collect();
        let pipe =
            ScriptPipe::start(&config.redis.redis_url, config.redis.redis_command_timeout).await;
        let sessions =
            SessionStore::new(client.clone(), &pod, config.resume_window).with_pipe(pipe);
        let history = HistoryReader::new(client.clone());
        let hub = Hub::new(
            HubSettings {
                capacity: config.client_buffer_events,
                max_event_bytes: config.max_event_bytes,
                slow_client_grace: config.slow_client_grace,
                retry: config.sse_retry,
                sharded: pubsub.sharded,
                one_node: redis.deployment()? != Deployment::Cluster,
            },
            subscriber.clone(),
            client.clone(),
            sessions.clone(),
            history.clone(),
            FirstDelivery::new(
                HistoryReader::new(client.clone()),
                queue_list.clone(),
                WorkerRegistry::new(client.clone()),
                config.max_event_bytes,
            ),
        );
        hub.subscribe_system_channels()
            .await
            .context("subscribing the gateway's broadcast and control channels")?;

        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP_ADDR {}", config.http_addr))?;
        let admin_listener = TcpListener::bind(config.admin_addr)
            .await
            .with_context(|| format!("binding ADMIN_ADDR {}", config.admin_addr))?;
        let background = CancellationToken::new();
        service_runtime::sentinel::watch(&config.redis.redis_url, watched, background.clone());
        let publisher = Publisher::with_limits(
            client.clone(),
            HistoryLimits {
                max_len: config.history_maxlen,
                ttl_secs: config.history_ttl.as_secs().max(1),
            },
        )
        .sharded(pubsub.sharded);
        // Loaded now: otherwise each of a burst of first calls (a reconnect storm's closing
        // streams) meets NOSCRIPT and loads the script again. Failing here is not fatal.
        let scripts = [
            ("publish", publisher.load_script().await),
            ("session", sessions.load_scripts().await),
            ("history", history.load_scripts().await),
            ("opening", opening::load_script(&client).await),
            ("resuming", resuming::load_script(&client).await),
        ];
        for (script, loaded) in scripts {
            if let Err(error) = loaded {
                tracing::warn!(%error, script, "loading a Lua script failed; it is loaded on first use");
            }
        }
        let mut queues = std::collections::BTreeMap::new();
        for queue in queue_list {
            let name = queue.name().to_owned();
            let reporter = CountsReporter::spawn(
                queue.clone(),
                publisher.clone(),
                config.queue_update_interval,
                background.clone(),
            );
            queues.insert(name, (queue, reporter));
        }
        let state = AppState::new(crate::state::Shared {
            queues: Arc::new(Queues {
                registry: WorkerRegistry::new(client.clone()),
                queues,
                upload_max_bytes: config.upload_max_bytes,
                upload_max_pending_bytes: config.upload_max_pending_bytes,
                upload_ttl: config.upload_ttl,
            }),
            hub: hub.clone(),
            sessions: sessions.clone(),
            publisher,
            client: client.clone(),
            draining: Arc::new(AtomicBool::new(false)),
            auth,
            limits: Arc::new(crate::limits::Limits::new(&config.limits)),
            settings: Arc::new(ApiSettings {
                pod,
                heartbeat_interval: config.heartbeat_interval,
                retry: config.sse_retry,
                admin_token: config.admin_token.clone().filter(|t| !t.is_empty()),
                cors_allowed_origins: config.cors_allowed_origins.clone(),
                max_body_bytes: config.max_body_bytes,
                request_timeout: config.request_timeout,
                close_expired_streams: config.auth.jwt_close_expired_streams,
            }),
        });
        Ok(Self {
            config,
            listener,
            admin_listener,
            hub,
            subscriber,
            sessions,
            client,
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

    pub fn pod(&self) -> &str {
        &self.state.settings.pod
    }

    /// Serves until `shutdown` is cancelled, then drains (see [`crate::drain`]) and returns
    /// within `SHUTDOWN_TIMEOUT`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            config,
            listener,
            admin_listener,
            hub,
            subscriber,
            sessions,
            client,
            state,
            background,
        } = self;
        let readiness = Arc::new(GatewayReadiness {
            subscriber: subscriber.clone(),
            publisher: client.clone(),
            draining: state.draining.clone(),
        });
        let admin = admin::start(
            admin_listener,
            readiness,
            "sse-gateway",
            env!("CARGO_PKG_VERSION"),
            Vec::new(),
            background.clone(),
        );
        tokio::spawn(redis_listener::run_messages(
            hub.clone(),
            subscriber.clone(),
            background.clone(),
        ));
        tokio::spawn(redis_listener::run_resubscribe(
            hub.clone(),
            subscriber.clone(),
            client.clone(),
            background.clone(),
        ));
        tokio::spawn(crate::hub::heartbeat::run(
            hub.clone(),
            config.heartbeat_interval,
            background.clone(),
        ));
        tokio::spawn(upkeep(
            state.clone(),
            sessions,
            config.clone(),
            background.clone(),
        ));

        let stop_accepting = CancellationToken::new();
        let cut_all = CancellationToken::new();
        let admission = transport::Admission::new(transport::SocketLimits {
            header_read_timeout: config.limits.header_read_timeout,
            max_pending: config.limits.max_pending_connections,
        });
        let http = tokio::spawn(transport::serve(
            listener,
            routes::router(state.clone()),
            routes::stream_service(state.clone()),
            admission,
            stop_accepting.clone(),
            cut_all.clone(),
        ));
        tracing::info!(http = %config.http_addr, admin = %config.admin_addr, pod = %state.settings.pod, "sse-gateway serving");

        shutdown.cancelled().await;
        let deadline = tokio::time::Instant::now() + config.shutdown_timeout;
        state.draining.store(true, Ordering::SeqCst);
        metrics::gauge!(m::DRAINING).set(1.0);
        tracing::info!(
            streams = hub.connection_count(),
            "draining: not ready any more"
        );
        tokio::time::sleep(config.drain_delay).await;
        drain::drain(&hub, config.drain_window, config.sse_retry).await;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !drain::wait_for_streams(&hub, left.saturating_sub(Duration::from_millis(500))).await {
            tracing::warn!(
                streams = hub.connection_count(),
                "streams still open at the deadline; cutting them"
            );
            cut_all.cancel();
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), hub.wait_for_flushes()).await;
        stop_accepting.cancel();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::pin!(http);
        if tokio::time::timeout(left, &mut http).await.is_err() {
            cut_all.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), &mut http).await;
        }
        let _ = cluster::remove(&client, &state.settings.pod).await;
        background.cancel();
        let _ = admin.await;
        let _ = subscriber.quit().await;
        let _ = client.quit().await;
        tracing::info!("sse-gateway stopped");
        Ok(())
    }
}

/// Periodic work: write changed positions, keep sessions alive, report counts, and close
/// streams past `MAX_CONNECTION_AGE`.
async fn upkeep(
    state: AppState,
    sessions: SessionStore,
    config: GatewayConfig,
    shutdown: CancellationToken,
) {
    let hub = state.hub.clone();
    let mut flush = tokio::time::interval(config.cursor_flush_interval);
    let mut report = tokio::time::interval(Duration::from_secs(5));
    let mut refresh = tokio::time::interval((config.resume_window / 4).max(Duration::from_secs(1)));
    for tick in [&mut flush, &mut report, &mut refresh] {
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = flush.tick() => {
                hub.flush_positions().await;
                if !config.max_connection_age.is_zero() {
                    drain::close_old(&hub, config.max_connection_age, config.sse_retry, progress_contract::time::now_millis());
                }
            }
            _ = report.tick() => {
                let counts = routes::stats::local_counts(&state);
                if let Err(error) = cluster::report(&state.client, &counts).await {
                    tracing::debug!(%error, "reporting pod counts failed");
                }
            }
            _ = refresh.tick() => {
                let ids: Vec<_> = hub.connections().iter().map(|c| c.id()).collect();
                if let Err(error) = sessions.refresh(&ids).await {
                    tracing::debug!(%error, "refreshing sessions failed");
                }
            }
        }
    }
}
