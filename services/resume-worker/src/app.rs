//! Building and running the worker: `build` connects, `run_until_stopped` takes jobs until
//! the shutdown token is cancelled, then drains.

use std::sync::Arc;

use anyhow::Context;
use fred::prelude::{Client, ClientLike};
use job_queue::{Consumer, ConsumerOptions, CountsReporter, Queue, WorkerRegistry};
use progress_contract::Publisher;
use safe_fetch::{FetchPolicy, SafeFetcher};
use service_runtime::admin::{self, Check, Readiness};
use service_runtime::redis::{Pubsub, RedisOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::metrics as m;
use crate::pipeline::Pipeline;
use crate::presence::Presence;
use crate::runner::Runner;
use crate::sandbox::{ParseLimits, Sandbox};

/// A built worker, connected, not yet taking jobs.
pub struct Application {
    config: WorkerConfig,
    admin_listener: TcpListener,
    runner: Arc<Runner>,
    client: Client,
    background: CancellationToken,
}

struct QueueReadiness {
    consumer: Consumer,
}

impl Readiness for QueueReadiness {
    fn checks(&self) -> Vec<Check> {
        let ok = self.consumer.is_connected();
        vec![Check {
            name: "redis",
            ok,
            detail: (!ok).then(|| "not connected to Redis; reconnecting".to_owned()),
        }]
    }
}

impl Application {
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Self> {
        config.validate()?;
        m::describe();
        let mut redis = RedisOptions::new(&config.redis.redis_url);
        // Blocking reads wait up to 2 s; leave room above that.
        redis.command_timeout = config
            .redis
            .redis_command_timeout
            .max(std::time::Duration::from_secs(4));
        let pubsub = Pubsub::resolve(config.redis.pubsub_mode, redis.deployment()?);
        let client = redis.connect_client().await?;
        let reader = redis.connect_client().await?;
        let watched = vec![client.clone(), reader.clone()];
        redis.announce("resume-worker", pubsub)?;

        let worker_id = config.worker_id();
        let queue = Queue::new(client.clone(), &config.queue_name);
        let consumer = Consumer::new(
            queue.clone(),
            reader,
            ConsumerOptions {
                consumer: worker_id.clone(),
                visibility_timeout: config.visibility_timeout,
                job_ttl: config.job_ttl,
                max_reclaims: config.max_reclaims,
                organisation_concurrency: config.organisation_cap(),
            },
        )
        .await
        .context("joining the queue's consumer group")?;
        let publisher = Publisher::new(client.clone()).sharded(pubsub.sharded);
        let fetcher = SafeFetcher::new(FetchPolicy {
            allow_hosts: config.allow_hosts(),
            host_allowlist_only: !config.only_hosts().is_empty(),
            only_hosts: config.only_hosts(),
            max_bytes: config.fetch_max_bytes,
            timeout: config.fetch_timeout,
            max_redirects: config.fetch_max_redirects,
            ..FetchPolicy::default()
        })
        .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        let background = CancellationToken::new();
        service_runtime::sentinel::watch(&config.redis.redis_url, watched, background.clone());
        let reporter = CountsReporter::spawn(
            queue.clone(),
            publisher.clone(),
            config.queue_update_interval,
            background.clone(),
        );
        let presence = Presence::new(
            worker_id,
            config.concurrency,
            publisher.clone(),
            WorkerRegistry::new(client.clone()),
            config.heartbeat,
        );
        let runner = Arc::new(Runner {
            consumer,
            pipeline: Pipeline {
                queue,
                publisher,
                fetcher,
                sandbox: Sandbox::new(
                    config.parse_program()?,
                    ParseLimits {
                        max_memory: config.parse_max_memory,
                        timeout: config.parse_timeout,
                        max_output: config.parse_max_output,
                    },
                    config
                        .parse_idle_children
                        .unwrap_or(config.concurrency as usize),
                ),
                stage_gate: Default::default(),
            },
            reporter,
            presence,
            concurrency: config.concurrency as usize,
            cancel_check_interval: config.cancel_check_interval,
        });
        let admin_listener = TcpListener::bind(config.admin_addr)
            .await
            .with_context(|| format!("binding ADMIN_ADDR {}", config.admin_addr))?;
        Ok(Self {
            config,
            admin_listener,
            runner,
            client,
            background,
        })
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(0)
    }

    pub fn worker_id(&self) -> &str {
        self.runner.presence.worker_id()
    }

    /// The job runner, for driving jobs one at a time in tests.
    pub fn runner(&self) -> Arc<Runner> {
        self.runner.clone()
    }

    /// Takes jobs until `shutdown`; then finishes running jobs within
    /// `WORKER_SHUTDOWN_TIMEOUT`, publishes `paused` and returns.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            config,
            admin_listener,
            runner,
            client,
            background,
        } = self;
        let readiness = Arc::new(QueueReadiness {
            consumer: runner.consumer.clone(),
        });
        let admin = admin::start(
            admin_listener,
            readiness,
            "resume-worker",
            env!("CARGO_PKG_VERSION"),
            vec![Arc::new(m::QueueDepth::new(runner.pipeline.queue.clone()))],
            background.clone(),
        );
        let presence_stop = CancellationToken::new();
        let presence = tokio::spawn(runner.presence.clone().run(presence_stop.clone()));
        tracing::info!(
            worker.id = runner.presence.worker_id(),
            queue = %config.queue_name,
            concurrency = config.concurrency,
            "resume-worker taking jobs"
        );
        runner.clone().run(shutdown, config.shutdown_timeout).await;
        presence_stop.cancel();
        let _ = presence.await;
        background.cancel();
        let _ = admin.await;
        let _ = client.quit().await;
        tracing::info!("resume-worker stopped");
        Ok(())
    }
}
